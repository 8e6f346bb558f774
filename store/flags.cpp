// Non-compliance flags and their 第二十九条 workflow (flags, flag_transitions).
#include <SQLiteCpp/VariadicBind.h>

#include <algorithm>

#include "base/clock.hpp"
#include "calendar/accountability.hpp"
#include "store/store.hpp"

namespace dutyd {

namespace {

// A flag is open until its measure is carried out (实施) or it is dismissed (撤销).
constexpr const char* kOpenFlagStatuses = "('raised', 'submitted', 'investigating', 'decided')";

constexpr const char* kFlagColumns =
    "id, occurrence, org, obligation, citation, title, art27, art27_clause, window_start, due, "
    "raised_on, days_late, scope, responsible, incumbent, responsible_moved_on, team_org, "
    "principal, "
    "in_charge, severity, severity_reason, suggested_measures, status, measure, decided_on, "
    "impact, "
    "dismiss_reason, raised_at, updated_at";

std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : "\n") + s;
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const std::size_t nl = s.find('\n', start);
    out.push_back(s.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

Day day_column(SQLite::Statement& q, int column) {
  return parse_day(q.getColumn(column).getString()).value_or(0);
}

FlagRecord read_flag(SQLite::Statement& q) {
  FlagRecord f;
  f.id = q.getColumn(0).getInt64();
  f.occurrence = q.getColumn(1).getString();
  f.org = q.getColumn(2).getString();
  f.obligation = q.getColumn(3).getString();
  f.citation = q.getColumn(4).getString();
  f.title = q.getColumn(5).getString();
  f.art27 = q.getColumn(6).getInt();
  f.art27_clause = q.getColumn(7).getString();
  f.window_start = day_column(q, 8);
  f.due = day_column(q, 9);
  f.raised_on = day_column(q, 10);
  f.days_late = q.getColumn(11).getInt();
  f.scope = q.getColumn(12).getString();
  f.responsible = q.getColumn(13).getString();
  f.incumbent = q.getColumn(14).getString();
  f.responsible_moved_on = q.getColumn(15).getInt() != 0;
  f.team_org = q.getColumn(16).getString();
  f.principal = q.getColumn(17).getString();
  f.in_charge = split_lines(q.getColumn(18).getString());
  f.severity = q.getColumn(19).getString();
  f.severity_reason = q.getColumn(20).getString();
  f.suggested_measures = split_lines(q.getColumn(21).getString());
  f.status = q.getColumn(22).getString();
  f.measure = q.getColumn(23).getString();
  if (!q.getColumn(24).isNull()) f.decided_on = day_column(q, 24);
  for (const std::string& line : split_lines(q.getColumn(25).getString())) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    f.impacts.push_back({line.substr(0, tab), parse_day(line.substr(tab + 1)).value_or(0)});
  }
  f.dismiss_reason = q.getColumn(26).getString();
  f.raised_at = q.getColumn(27).getString();
  f.updated_at = q.getColumn(28).getString();
  return f;
}

// "提出 (raised)"
std::string status_text(FlagStatus s) {
  return std::string(flag_status_zh(s)) + " (" + std::string(flag_status_name(s)) + ")";
}

// What the workflow allows from a state, for error messages.
std::string allowed_from(FlagStatus s) {
  std::string out;
  if (const auto next = next_status(s)) out = "advance to " + status_text(*next);
  if (can_dismiss(s)) out += std::string(out.empty() ? "" : " or ") + "dismiss with a reason";
  return out.empty() ? "nothing (the workflow has ended)" : out;
}

}  // namespace

Store::RaisedFlag Store::raise_flag(const FlagInput& in, const std::string& reason,
                                    const std::vector<OutboxEntry>& notices, std::int64_t now) {
  const std::string at = iso_utc(now);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement ins(
      db_,
      "INSERT OR IGNORE INTO flags(occurrence, org, obligation, citation, title, art27, "
      "art27_clause, window_start, due, raised_on, days_late, scope, responsible, incumbent, "
      "responsible_moved_on, team_org, principal, in_charge, severity, severity_reason, "
      "suggested_measures, raised_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  SQLite::bind(ins, in.occurrence, in.org, in.obligation, in.citation, in.title, in.art27,
               in.art27_clause, format_day(in.window_start), format_day(in.due),
               format_day(in.raised_on), in.days_late, in.scope, in.responsible, in.incumbent,
               in.responsible_moved_on ? 1 : 0, in.team_org, in.principal, join_lines(in.in_charge),
               in.severity, in.severity_reason, join_lines(in.suggested_measures), at, at);
  const bool created = ins.exec() == 1;
  if (created) {
    const std::int64_t id = db_.getLastInsertRowid();
    SQLite::Statement tr(
        db_,
        "INSERT INTO flag_transitions(flag, from_status, to_status, actor, at, reason) "
        "VALUES (?, '', 'raised', 'dutyd', ?, ?)");
    SQLite::bind(tr, id, at, reason);
    tr.exec();
    append_audit("dutyd", "flag.raise", "flag:" + std::to_string(id),
                 "occurrence=" + in.occurrence + " severity=" + in.severity + " scope=" + in.scope +
                     " responsible=" + (in.responsible.empty() ? "-" : in.responsible) +
                     " reason=" + reason,
                 at);
  }
  // In the same transaction: a flag is never durable without the rows that tell of it.
  if (created && !notices.empty()) enqueue_in_tx(notices, now, false);
  std::optional<FlagRecord> f;
  {
    SQLite::Statement q(db_,
                        std::string("SELECT ") + kFlagColumns + " FROM flags WHERE occurrence = ?");
    q.bind(1, in.occurrence);
    if (!q.executeStep()) throw StoreError("flag vanished while being raised");
    f = read_flag(q);
  }
  tx.commit();
  return {std::move(*f), created};
}

std::optional<FlagRecord> Store::flag(std::int64_t id) {
  SQLite::Statement q(db_, std::string("SELECT ") + kFlagColumns + " FROM flags WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return read_flag(q);
}

std::optional<FlagRecord> Store::flag_of(const std::string& occurrence) {
  SQLite::Statement q(db_,
                      std::string("SELECT ") + kFlagColumns + " FROM flags WHERE occurrence = ?");
  q.bind(1, occurrence);
  if (!q.executeStep()) return std::nullopt;
  return read_flag(q);
}

std::vector<FlagRecord> Store::flags(const FlagFilter& f) {
  std::string sql = std::string("SELECT ") + kFlagColumns + " FROM flags WHERE 1";
  if (!f.org.empty()) sql += " AND org = :org";
  if (!f.status.empty()) sql += " AND status = :status";
  if (!f.occurrence.empty()) sql += " AND occurrence = :occurrence";
  if (f.open_only) sql += std::string(" AND status IN ") + kOpenFlagStatuses;
  SQLite::Statement q(db_, sql + " ORDER BY due, id");
  if (!f.org.empty()) q.bind(":org", f.org);
  if (!f.status.empty()) q.bind(":status", f.status);
  if (!f.occurrence.empty()) q.bind(":occurrence", f.occurrence);
  std::vector<FlagRecord> out;
  while (q.executeStep()) out.push_back(read_flag(q));
  return out;
}

std::vector<FlagTransition> Store::flag_transitions(std::int64_t flag) {
  SQLite::Statement q(
      db_,
      "SELECT id, flag, from_status, to_status, actor, at, reason FROM flag_transitions "
      "WHERE flag = ? ORDER BY id");
  q.bind(1, flag);
  std::vector<FlagTransition> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getString(),
                   q.getColumn(3).getString(), q.getColumn(4).getString(),
                   q.getColumn(5).getString(), q.getColumn(6).getString()});
  return out;
}

namespace {

// The flag's current state inside a write transaction; throws when there is none.
FlagStatus current_status(SQLite::Database& db, std::int64_t id) {
  SQLite::Statement q(db, "SELECT status FROM flags WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep())
    throw FlagError(FlagError::not_found,
                    "no flag " + std::to_string(id) + " — see `dutyd flags` for the ids");
  const auto s = parse_flag_status(q.getColumn(0).getString());
  if (!s) throw StoreError("flag " + std::to_string(id) + " has an unknown status in the database");
  return *s;
}

}  // namespace

FlagRecord Store::advance_flag(std::int64_t id, const std::string& actor, const std::string& reason,
                               const std::string& measure_text, std::optional<Day> decided_on,
                               const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  const FlagStatus from = current_status(db_, id);
  const auto to = next_status(from);
  if (!to)
    throw FlagError(FlagError::conflict,
                    "flag " + std::to_string(id) + " is " + status_text(from) +
                        ": it cannot be advanced — allowed from there: " + allowed_from(from));
  std::string detail =
      "from=" + std::string(flag_status_name(from)) + " to=" + std::string(flag_status_name(*to));
  if (*to == FlagStatus::decided) {
    std::string names;
    for (const auto n : measure_names()) names += (names.empty() ? "" : ", ") + std::string(n);
    if (measure_text.empty() || !decided_on)
      throw FlagError(FlagError::invalid,
                      "a decision (决定) records the measure and the day it was decided — give "
                      "the measure (one of: " +
                          names + ") and the decision date");
    const auto m = parse_measure(measure_text);
    if (!m)
      throw FlagError(FlagError::invalid,
                      "unknown measure '" + measure_text + "' — use one of: " + names);
    std::string impact, until;
    for (const Impact& i : impact_of(*m, *decided_on)) {
      impact += (impact.empty() ? "" : "\n") + i.what + "\t" + format_day(i.until);
      until = std::max(until, format_day(i.until));
    }
    SQLite::Statement up(db_,
                         "UPDATE flags SET status = ?, measure = ?, decided_on = ?, impact = ?, "
                         "impact_until = NULLIF(?, ''), updated_at = ? WHERE id = ?");
    SQLite::bind(up, std::string(flag_status_name(*to)), std::string(measure_name(*m)),
                 format_day(*decided_on), impact, until, now, id);
    up.exec();
    detail += " measure=" + std::string(measure_name(*m)) +
              " decided_on=" + format_day(*decided_on) +
              (until.empty() ? "" : " impact_until=" + until);
  } else {
    if (!measure_text.empty() || decided_on)
      throw FlagError(FlagError::invalid,
                      "a measure and its decision date are recorded when the flag moves to " +
                          status_text(FlagStatus::decided) + "; flag " + std::to_string(id) +
                          " now moves to " + status_text(*to) + " — leave them out");
    SQLite::Statement up(db_, "UPDATE flags SET status = ?, updated_at = ? WHERE id = ?");
    SQLite::bind(up, std::string(flag_status_name(*to)), now, id);
    up.exec();
  }
  SQLite::Statement tr(
      db_,
      "INSERT INTO flag_transitions(flag, from_status, to_status, actor, at, reason) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  SQLite::bind(tr, id, std::string(flag_status_name(from)), std::string(flag_status_name(*to)),
               actor, now, reason);
  tr.exec();
  append_audit(actor, "flag.advance", "flag:" + std::to_string(id), detail + " reason=" + reason,
               now);
  tx.commit();
  return *flag(id);
}

FlagRecord Store::dismiss_flag(std::int64_t id, const std::string& actor, const std::string& reason,
                               const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  const FlagStatus from = current_status(db_, id);
  if (!can_dismiss(from))
    throw FlagError(FlagError::conflict,
                    "flag " + std::to_string(id) + " is " + status_text(from) +
                        ": it cannot be dismissed — allowed from there: " + allowed_from(from));
  if (reason.find_first_not_of(" \t\n") == std::string::npos)
    throw FlagError(FlagError::invalid,
                    "dismissing (撤销) a flag needs a reason, e.g. the accepted 情况说明 or why "
                    "the late completion is justified");
  SQLite::Statement up(
      db_,
      "UPDATE flags SET status = 'dismissed', dismiss_reason = ?, updated_at = ? WHERE id = ?");
  SQLite::bind(up, reason, now, id);
  up.exec();
  SQLite::Statement tr(
      db_,
      "INSERT INTO flag_transitions(flag, from_status, to_status, actor, at, reason) "
      "VALUES (?, ?, 'dismissed', ?, ?, ?)");
  SQLite::bind(tr, id, std::string(flag_status_name(from)), actor, now, reason);
  tr.exec();
  append_audit(actor, "flag.dismiss", "flag:" + std::to_string(id),
               "from=" + std::string(flag_status_name(from)) + " reason=" + reason, now);
  tx.commit();
  return *flag(id);
}

int Store::count_flags(const std::string& obligation, const std::string& org, Day after,
                       Day before) {
  SQLite::Statement q(
      db_,
      "SELECT count(*) FROM flags WHERE obligation = ? AND org = ? AND due > ? AND due < ? "
      "AND status != 'dismissed'");
  SQLite::bind(q, obligation, org, format_day(after), format_day(before));
  q.executeStep();
  return q.getColumn(0).getInt();
}

int Store::open_flags(const std::string& org) {
  SQLite::Statement q(db_, std::string("SELECT count(*) FROM flags WHERE org = ? AND status IN ") +
                               kOpenFlagStatuses);
  q.bind(1, org);
  q.executeStep();
  return q.getColumn(0).getInt();
}

std::int64_t Store::last_flag_transition() {
  SQLite::Statement q(db_, "SELECT coalesce(max(id), 0) FROM flag_transitions");
  q.executeStep();
  return q.getColumn(0).getInt64();
}

std::unordered_set<std::string> Store::flagged_occurrences() {
  std::unordered_set<std::string> out;
  SQLite::Statement q(db_, "SELECT occurrence FROM flags");
  while (q.executeStep()) out.insert(q.getColumn(0).getString());
  return out;
}

}  // namespace dutyd
