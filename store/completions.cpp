// Completions with their evidence; recording one cancels the occurrence's queued reminders in
// the same transaction.
#include "store/store.hpp"

namespace dutyd {

namespace {

Completion read_completion(SQLite::Statement& q) {
  Completion c;
  c.id = q.getColumn(0).getInt64();
  c.uid = q.getColumn(1).getString();
  c.done_on = parse_day(q.getColumn(2).getString()).value_or(0);
  c.document_number = q.getColumn(3).getString();
  c.minutes_ref = q.getColumn(4).getString();
  c.evidence_text = q.getColumn(5).getString();
  c.note = q.getColumn(6).getString();
  c.recorded_at = q.getColumn(7).getString();
  c.recorded_by = q.getColumn(8).getString();
  c.channel = q.getColumn(9).getString();
  c.late = q.getColumn(10).getInt() != 0;
  return c;
}

constexpr const char* kCompletionColumns =
    "id, uid, done_on, document_number, minutes_ref, evidence_text, note, recorded_at, "
    "recorded_by, channel, late";

}  // namespace

Store::Recorded Store::record_completion(const CompletionInput& in, bool late,
                                         const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement ins(
      db_,
      "INSERT OR IGNORE INTO completions(uid, done_on, document_number, minutes_ref, "
      "evidence_text, note, recorded_at, recorded_by, channel, late) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ins.bind(1, in.uid);
  ins.bind(2, format_day(in.done_on));
  ins.bind(3, in.document_number);
  ins.bind(4, in.minutes_ref);
  ins.bind(5, in.evidence_text);
  ins.bind(6, in.note);
  ins.bind(7, now);
  ins.bind(8, in.recorded_by);
  ins.bind(9, in.channel);
  ins.bind(10, late ? 1 : 0);
  const bool created = ins.exec() == 1;
  SQLite::Statement q(db_,
                      std::string("SELECT ") + kCompletionColumns +
                          " FROM completions WHERE uid = ? AND done_on = ? AND document_number = ? "
                          "AND minutes_ref = ? AND evidence_text = ? AND note = ?");
  q.bind(1, in.uid);
  q.bind(2, format_day(in.done_on));
  q.bind(3, in.document_number);
  q.bind(4, in.minutes_ref);
  q.bind(5, in.evidence_text);
  q.bind(6, in.note);
  if (!q.executeStep()) throw StoreError("completion vanished while being recorded");
  Recorded r{read_completion(q), created};
  if (created)
    append_audit(in.recorded_by, "completion.record", in.uid,
                 "done_on=" + format_day(in.done_on) + " channel=" + in.channel +
                     (late ? " late" : "") + " completion=" + std::to_string(r.completion.id),
                 now);
  cancel_deliveries_in_tx(in.uid, in.recorded_by, "completion=" + std::to_string(r.completion.id),
                          now);
  tx.commit();
  return r;
}

std::vector<Completion> Store::completions_after(std::int64_t id) {
  std::vector<Completion> out;
  SQLite::Statement q(db_, std::string("SELECT ") + kCompletionColumns +
                               " FROM completions WHERE id > ? ORDER BY id");
  q.bind(1, id);
  while (q.executeStep()) out.push_back(read_completion(q));
  return out;
}

std::vector<Completion> Store::completions_of(const std::string& uid) {
  std::vector<Completion> out;
  SQLite::Statement q(db_, std::string("SELECT ") + kCompletionColumns +
                               " FROM completions WHERE uid = ? ORDER BY id");
  q.bind(1, uid);
  while (q.executeStep()) out.push_back(read_completion(q));
  return out;
}

std::unordered_map<std::string, std::vector<Day>> Store::completion_days() {
  std::unordered_map<std::string, std::vector<Day>> out;
  SQLite::Statement q(db_, "SELECT uid, done_on FROM completions ORDER BY uid, done_on");
  while (q.executeStep())
    if (const auto d = parse_day(q.getColumn(1).getString()))
      out[q.getColumn(0).getString()].push_back(*d);
  return out;
}

}  // namespace dutyd
