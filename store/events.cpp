// Events recorded at run time; withdrawing one cancels its occurrence's queued reminders.
#include <SQLiteCpp/VariadicBind.h>

#include "store/store.hpp"

namespace dutyd {

namespace {

constexpr const char* kEventColumns =
    "id, occurrence, obligation, org, person, kind, date, note, created_at, created_by, "
    "withdrawn_at, withdrawn_by, withdraw_reason";

EventRecord read_event(SQLite::Statement& q) {
  EventRecord e;
  e.id = q.getColumn(0).getInt64();
  e.occurrence = q.getColumn(1).getString();
  e.obligation = q.getColumn(2).getString();
  e.org = q.getColumn(3).getString();
  e.person = q.getColumn(4).getString();
  e.kind = q.getColumn(5).getString();
  e.date = parse_day(q.getColumn(6).getString()).value_or(0);
  e.note = q.getColumn(7).getString();
  e.created_at = q.getColumn(8).getString();
  e.created_by = q.getColumn(9).getString();
  if (!q.getColumn(10).isNull()) e.withdrawn_at = q.getColumn(10).getString();
  e.withdrawn_by = q.getColumn(11).getString();
  e.withdraw_reason = q.getColumn(12).getString();
  return e;
}

}  // namespace

EventRecord Store::add_event(const EventInput& in, const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement dup(db_, "SELECT id FROM events WHERE occurrence = ? AND withdrawn_at IS NULL");
  dup.bind(1, in.occurrence);
  if (dup.executeStep())
    throw EventError(EventError::conflict,
                     "duplicate event: event " + std::to_string(dup.getColumn(0).getInt64()) +
                         " already triggers " + in.occurrence +
                         " — see `dutyd event list`; withdraw that one first if it was wrong");
  SQLite::Statement ins(db_,
                        "INSERT INTO events(occurrence, obligation, org, person, kind, date, note, "
                        "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  SQLite::bind(ins, in.occurrence, in.obligation, in.org, in.person, in.kind, format_day(in.date),
               in.note, now, in.created_by);
  ins.exec();
  const std::int64_t id = db_.getLastInsertRowid();
  append_audit(in.created_by, "event.add", "event:" + std::to_string(id),
               "occurrence=" + in.occurrence + " obligation=" + in.obligation + " org=" + in.org +
                   (in.person.empty() ? "" : " person=" + in.person) +
                   " date=" + format_day(in.date) + (in.kind.empty() ? "" : " kind=" + in.kind),
               now);
  tx.commit();
  return *event(id);
}

EventRecord Store::withdraw_event(std::int64_t id, const std::string& actor,
                                  const std::string& reason, const std::string& now) {
  if (reason.find_first_not_of(" \t\n") == std::string::npos)
    throw EventError(EventError::invalid,
                     "withdrawing an event needs a reason, e.g. \"录入错误：日期应为……\"");
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  const auto e = event(id);
  if (!e)
    throw EventError(EventError::not_found,
                     "no event " + std::to_string(id) + " — see `dutyd event list`");
  if (e->withdrawn_at)
    throw EventError(EventError::conflict, "event " + std::to_string(id) +
                                               " was already withdrawn at " + *e->withdrawn_at +
                                               " by " + e->withdrawn_by);
  SQLite::Statement up(
      db_,
      "UPDATE events SET withdrawn_at = ?, withdrawn_by = ?, withdraw_reason = ? WHERE id = ?");
  SQLite::bind(up, now, actor, reason, id);
  up.exec();
  append_audit(actor, "event.withdraw", "event:" + std::to_string(id),
               "occurrence=" + e->occurrence + " reason=" + reason, now);
  // The occurrence is gone: its reminders must not go out.
  cancel_deliveries_in_tx(e->occurrence, actor, "event=" + std::to_string(id) + " withdrawn", now);
  tx.commit();
  return *event(id);
}

std::optional<EventRecord> Store::event(std::int64_t id) {
  SQLite::Statement q(db_, std::string("SELECT ") + kEventColumns + " FROM events WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return read_event(q);
}

std::vector<EventRecord> Store::events(bool include_withdrawn) {
  SQLite::Statement q(db_, std::string("SELECT ") + kEventColumns + " FROM events" +
                               (include_withdrawn ? "" : " WHERE withdrawn_at IS NULL") +
                               " ORDER BY id");
  std::vector<EventRecord> out;
  while (q.executeStep()) out.push_back(read_event(q));
  return out;
}

std::string Store::events_revision() {
  SQLite::Statement q(db_,
                      "SELECT COUNT(*), COALESCE(MAX(id), 0), COUNT(withdrawn_at) FROM events");
  q.executeStep();
  return std::to_string(q.getColumn(0).getInt64()) + ":" +
         std::to_string(q.getColumn(1).getInt64()) + ":" +
         std::to_string(q.getColumn(2).getInt64());
}

}  // namespace dutyd
