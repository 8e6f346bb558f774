// The reminder outbox (deliveries) and its claim journal (delivery_claims): rows are written
// before anything is sent, claimed in a committed transaction, and answered in batches.
#include <SQLiteCpp/VariadicBind.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <unordered_map>

#include "base/clock.hpp"
#include "store/store.hpp"

namespace dutyd {

namespace {

constexpr const char* kDeliveryColumns =
    "id, occurrence, step, person, channel, org, relation, send_at, subject, status, attempts, "
    "next_attempt_at, last_error, sent_at, created_at, purpose, note";

// The ids of the claim journal's rows: claimed and not yet answered.
#define DUTYD_CLAIMED_IDS "(SELECT value FROM delivery_claims, json_each(delivery_claims.ids))"
// A row's status as readers see it: a queued row listed in the claim journal is being sent.
#define DUTYD_SHOWN_STATUS \
  "(CASE WHEN status = 'queued' AND id IN " DUTYD_CLAIMED_IDS " THEN 'sending' ELSE status END)"
constexpr const char* kShownDeliveryColumns =
    "id, occurrence, step, person, channel, org, relation, send_at, subject, " DUTYD_SHOWN_STATUS
    ", attempts, "
    "next_attempt_at, last_error, sent_at, created_at, purpose, note";

// Ids as a JSON array, for json_each(): the claim journal's rows and bulk updates by id.
std::string json_ids(const std::vector<std::int64_t>& ids) {
  std::string out = "[";
  for (const std::int64_t id : ids) {
    if (out.size() > 1) out += ',';
    out += std::to_string(id);
  }
  out += ']';
  return out;
}

DeliveryRecord read_delivery(SQLite::Statement& q) {
  DeliveryRecord d;
  d.id = q.getColumn(0).getInt64();
  d.occurrence = q.getColumn(1).getString();
  d.step = q.getColumn(2).getInt();
  d.person = q.getColumn(3).getString();
  d.channel = q.getColumn(4).getString();
  d.org = q.getColumn(5).getString();
  d.relation = q.getColumn(6).getString();
  d.send_at = q.getColumn(7).getInt64();
  d.subject = q.getColumn(8).getString();
  d.status = q.getColumn(9).getString();
  d.attempts = q.getColumn(10).getInt();
  d.next_attempt_at = q.getColumn(11).getInt64();
  d.last_error = q.getColumn(12).getString();
  if (!q.getColumn(13).isNull()) d.sent_at = q.getColumn(13).getInt64();
  d.created_at = q.getColumn(14).getInt64();
  d.purpose = q.getColumn(15).getString();
  d.note = q.getColumn(16).getString();
  return d;
}

}  // namespace

bool is_delivery_status(const std::string& s) {
  return s == "queued" || s == "sending" || s == "sent" || s == "failed" || s == "cancelled" ||
         s == "superseded";
}

namespace {

std::string cut_utf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
    --cut;  // a character boundary
  s.resize(cut);
  return s;
}

}  // namespace

std::string redact_error(const std::string& error) {
  std::string s = cut_utf8(error, 4096);  // bounds the work; the rest is cut below anyway
  auto lower = [](std::string t) {
    for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return t;
  };
  auto value_end = [&](std::size_t from) {
    return std::min(s.size(), s.find_first_of("&\"' \t\r\n,;)}", from));
  };
  // Values of credential-like parameters (webhook keys, DingTalk sign, access tokens).
  for (const char* marker : {"key=", "token=", "sign=", "secret=", "password=", "bearer "}) {
    const std::string m = marker;
    for (std::size_t at = lower(s).find(m); at != std::string::npos;
         at = lower(s).find(m, at + 1)) {
      const std::size_t begin = at + m.size(), end = value_end(begin);
      if (end > begin) s.replace(begin, end - begin, "***");
    }
  }
  // user:password@ in URLs.
  for (std::size_t at = s.find("://"); at != std::string::npos; at = s.find("://", at + 3)) {
    const std::size_t begin = at + 3, end = value_end(begin);
    const std::size_t userinfo = s.find('@', begin);
    if (userinfo != std::string::npos && userinfo < end && s.find('/', begin) > userinfo)
      s.replace(begin, userinfo - begin, "***");
  }
  return cut_utf8(std::move(s), 500);
}

std::size_t Store::cancel_deliveries_in_tx(const std::string& occurrence, const std::string& actor,
                                           const std::string& detail, const std::string& now) {
  SQLite::Statement up(
      db_,
      "UPDATE deliveries SET status = 'cancelled' "
      "WHERE occurrence = ? AND status IN ('queued', 'sending') AND purpose != 'flag'");
  up.bind(1, occurrence);
  const auto n = static_cast<std::size_t>(up.exec());
  if (n > 0)
    append_audit(actor, "delivery.cancel", occurrence,
                 "count=" + std::to_string(n) + (detail.empty() ? "" : " " + detail), now);
  return n;
}

std::size_t Store::cancel_deliveries(const std::string& occurrence, const std::string& actor,
                                     const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  const std::size_t n = cancel_deliveries_in_tx(occurrence, actor, "", now);
  tx.commit();
  return n;
}

Store::Enqueued Store::enqueue_deliveries(const std::vector<OutboxEntry>& entries, std::int64_t now,
                                          bool catch_up) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  const Enqueued result = enqueue_in_tx(entries, now, catch_up);
  tx.commit();
  return result;
}

Store::Enqueued Store::enqueue_in_tx(const std::vector<OutboxEntry>& entries, std::int64_t now,
                                     bool catch_up) {
  Enqueued result;
  // A completion recorded since the caller planned (e.g. by the CLI) wins over the plan; a
  // flag's notice goes out whatever: a late completion does not withdraw the flag.
  SQLite::Statement ins(
      db_,
      "INSERT OR IGNORE INTO deliveries(occurrence, step, person, channel, org, relation, "
      "send_at, subject, next_attempt_at, created_at, purpose, note) "
      "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7, ?9, ?10, ?11 "
      "WHERE ?10 = 'flag' OR NOT EXISTS (SELECT 1 FROM completions WHERE uid = ?1)");
  SQLite::Statement supersede(
      db_,
      "UPDATE deliveries SET status = 'superseded' WHERE occurrence = ? AND person = ? "
      "AND channel = ? AND step < ? AND status = 'queued' AND purpose != 'flag' "
      "AND id NOT IN " DUTYD_CLAIMED_IDS);
  for (const OutboxEntry& e : entries) {
    SQLite::bind(ins, e.occurrence, e.step, e.person, e.channel, e.org, e.relation, e.send_at,
                 e.subject, now, e.purpose, e.note);
    const int added = ins.exec();
    ins.reset();
    result.added += static_cast<std::size_t>(added);
    if (!catch_up || added == 0) continue;
    SQLite::bind(supersede, e.occurrence, e.person, e.channel, e.step);
    result.superseded += static_cast<std::size_t>(supersede.exec());
    supersede.reset();
  }
  return result;
}

// A claim reads the due rows in order from the due index, from where the last claim of the same
// channel stopped (its cursor), skips rows of open claims (in flight), and records the ids it
// took as one row of the claim journal, committed before anything is sent. Per row, that is one
// index step and a read: the status change of every claimed row it replaces rewrote each wide
// row and its index entry, the biggest cost of the outbox after the result itself.
std::vector<DeliveryRecord> Store::claim_due_deliveries(std::int64_t now, std::size_t limit,
                                                        const std::string& channel) {
  std::vector<DeliveryRecord> out;
  if (limit == 0) return out;
  Cursor& cursor = cursors_[channel];
  // From the start again when none of this channel's claims is open (nothing can be skipped
  // twice), and at least once a minute: a row queued behind the cursor (due earlier than the
  // last claimed one) waits at most that long. Rows in flight are skipped either way.
  const bool in_flight = std::any_of(claimed_.begin(), claimed_.end(),
                                     [&](const auto& c) { return c.second.channel == channel; });
  if (!in_flight || now - cursor.since >= 60) {
    cursor.at = std::numeric_limits<std::int64_t>::min(), cursor.id = 0;
    cursor.since = now;
  }
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  {
    static const std::string sql =
        std::string("SELECT ") + kDeliveryColumns +
        " FROM deliveries WHERE status = 'queued' AND next_attempt_at <= ?1 "
        "AND (?3 = '' OR channel = ?3) AND (next_attempt_at, id) > (?4, ?5) "
        "ORDER BY next_attempt_at, id LIMIT ?2";
    SQLite::Statement& q = statement(sql);
    SQLite::bind(q, now, static_cast<std::int64_t>(limit + claimed_.size()), channel, cursor.at,
                 cursor.id);
    while (out.size() < limit && q.executeStep()) {
      if (claimed_.count(q.getColumn(0).getInt64())) continue;  // in flight
      out.push_back(read_delivery(q));
      out.back().status = "sending";
    }
    q.reset();
  }
  if (out.empty()) return out;  // nothing written: the transaction rolls back
  std::vector<std::int64_t> ids;
  for (const DeliveryRecord& d : out) ids.push_back(d.id);
  SQLite::Statement& journal = statement("INSERT INTO delivery_claims(at, ids) VALUES (?1, ?2)");
  SQLite::bind(journal, now, json_ids(ids));
  journal.exec();
  journal.reset();
  const std::int64_t claim = db_.getLastInsertRowid();
  tx.commit();  // durable before the first byte is sent
  for (const std::int64_t id : ids) claimed_.emplace(id, Claimed{claim, channel});
  claims_[claim].insert(ids.begin(), ids.end());
  cursor.at = out.back().next_attempt_at, cursor.id = out.back().id;
  return out;
}

// The claim journal after some of its ids were answered or released: a claim with nothing left
// open is deleted, the others list only what is still open. In the caller's transaction; the
// bookkeeping in memory is changed by settle_claims() once it is committed.
void Store::journal_settled(const std::vector<std::int64_t>& ids) {
  const std::unordered_set<std::int64_t> gone(ids.begin(), ids.end());
  std::map<std::int64_t, std::size_t> settled;  // claim -> ids of it settled here
  for (const std::int64_t id : gone)
    if (const auto it = claimed_.find(id); it != claimed_.end()) ++settled[it->second.claim];
  for (const auto& [claim, n] : settled) {
    const std::unordered_set<std::int64_t>& open = claims_.at(claim);
    if (n >= open.size()) {
      SQLite::Statement& del = statement("DELETE FROM delivery_claims WHERE id = ?1");
      SQLite::bind(del, claim);
      del.exec();
      del.reset();
      continue;
    }
    std::vector<std::int64_t> left;
    for (const std::int64_t id : open)
      if (!gone.count(id)) left.push_back(id);
    SQLite::Statement& up = statement("UPDATE delivery_claims SET ids = ?2 WHERE id = ?1");
    SQLite::bind(up, claim, json_ids(left));
    up.exec();
    up.reset();
  }
}

void Store::settle_claims(const std::vector<std::int64_t>& ids) {
  for (const std::int64_t id : ids) {
    const auto it = claimed_.find(id);
    if (it == claimed_.end()) continue;
    if (const auto c = claims_.find(it->second.claim); c != claims_.end()) {
      c->second.erase(id);
      if (c->second.empty()) claims_.erase(c);
    }
    claimed_.erase(it);
  }
}

std::vector<std::pair<std::string, std::size_t>> Store::due_by_channel(std::int64_t now) {
  std::vector<std::pair<std::string, std::size_t>> out;
  SQLite::Statement q(
      db_,
      "SELECT channel, COUNT(*) FROM deliveries WHERE status = 'queued' AND next_attempt_at <= ? "
      "AND id NOT IN " DUTYD_CLAIMED_IDS " GROUP BY channel");
  q.bind(1, now);
  while (q.executeStep())
    out.emplace_back(q.getColumn(0).getString(),
                     static_cast<std::size_t>(q.getColumn(1).getInt64()));
  return out;
}

std::optional<std::int64_t> Store::next_due(const std::vector<std::string>& except_channels) {
  std::string sql =
      "SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'queued' AND id NOT "
      "IN " DUTYD_CLAIMED_IDS;
  if (!except_channels.empty()) {
    sql += " AND channel NOT IN (";
    for (std::size_t i = 0; i < except_channels.size(); ++i) sql += i ? ",?" : "?";
    sql += ")";
  }
  SQLite::Statement q(db_, sql);
  for (std::size_t i = 0; i < except_channels.size(); ++i)
    q.bind(static_cast<int>(i + 1), except_channels[i]);
  if (!q.executeStep() || q.getColumn(0).isNull()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

void Store::release_deliveries(const std::vector<std::int64_t>& ids) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  // Rows of a database from before the claim journal were `sending` themselves.
  SQLite::Statement& up =
      statement("UPDATE deliveries SET status = 'queued' WHERE id = ? AND status = 'sending'");
  for (const std::int64_t id : ids) {
    up.bind(1, id);
    up.exec();
    up.reset();
  }
  journal_settled(ids);
  tx.commit();
  settle_claims(ids);
}

std::vector<bool> Store::record_outcomes(const std::vector<DeliveryOutcome>& outcomes,
                                         std::int64_t now) {
  std::vector<bool> applied(outcomes.size(), false);
  // Only rows of open claims are answered here (a second answer, or one for a row released
  // meanwhile, applies to nothing); they are `queued` while in flight, unless a completion
  // cancelled them meanwhile.
  std::vector<bool> open(outcomes.size(), false);
  std::vector<std::int64_t> settled;
  for (std::size_t i = 0; i < outcomes.size(); ++i)
    if (claimed_.count(outcomes[i].id)) open[i] = true, settled.push_back(outcomes[i].id);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  // Sent rows, the bulk of a burst, go in one statement per second they were sent in (ids as a
  // JSON array): per row, a statement's bind, step and reset cost as much as the update itself.
  {
    std::map<std::int64_t, std::vector<std::size_t>> by_second;
    for (std::size_t i = 0; i < outcomes.size(); ++i)
      if (open[i] && outcomes[i].result == DeliveryOutcome::sent)
        by_second[outcomes[i].at].push_back(i);
    SQLite::Statement& sent = statement(
        "UPDATE deliveries SET status = 'sent', sent_at = ?1 WHERE id IN (SELECT value FROM "
        "json_each(?2)) "
        "AND status = 'queued' RETURNING id");
    std::unordered_map<std::int64_t, std::size_t> index;
    std::vector<std::int64_t> ids;
    for (const auto& [at, rows] : by_second) {
      ids.clear();
      index.clear();
      for (const std::size_t i : rows) {
        ids.push_back(outcomes[i].id);
        index.emplace(outcomes[i].id, i);
      }
      SQLite::bind(sent, at, json_ids(ids));
      while (sent.executeStep())
        if (const auto it = index.find(sent.getColumn(0).getInt64()); it != index.end())
          applied[it->second] = true;
      sent.reset();
    }
  }
  SQLite::Statement& retry = statement(
      "UPDATE deliveries SET status = 'queued', attempts = attempts + 1, next_attempt_at = ?, "
      "last_error = ? WHERE id = ? AND status = 'queued'");
  SQLite::Statement& failed = statement(
      "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = "
      "? AND status = 'queued'");
  SQLite::Statement& cancel = statement(
      "UPDATE deliveries SET status = 'cancelled', last_error = ? WHERE id = ? AND status IN "
      "('queued', 'sending') "
      "RETURNING occurrence");
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const DeliveryOutcome& o = outcomes[i];
    if (!open[i]) continue;
    bool ok = false;
    switch (o.result) {
      case DeliveryOutcome::sent:
        continue;  // above
      case DeliveryOutcome::retry:
        SQLite::bind(retry, o.next_attempt_at, redact_error(o.error), o.id);
        ok = retry.exec() == 1;
        retry.reset();
        break;
      case DeliveryOutcome::failed:
        SQLite::bind(failed, redact_error(o.error), o.id);
        ok = failed.exec() == 1;
        failed.reset();
        break;
      case DeliveryOutcome::cancelled:
        SQLite::bind(cancel, redact_error(o.error), o.id);
        if (cancel.executeStep()) {
          ok = true;
          const std::string occurrence = cancel.getColumn(0).getString();
          cancel.reset();
          append_audit("dutyd", "delivery.cancel", occurrence,
                       "delivery=" + std::to_string(o.id) + " reason=" + o.error, iso_utc(now));
        } else {
          cancel.reset();
        }
        break;
    }
    applied[i] = ok;
  }
  journal_settled(settled);
  tx.commit();
  settle_claims(settled);
  return applied;
}

std::size_t Store::coalesce_due_deliveries(std::int64_t now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement up(
      db_,
      "UPDATE deliveries SET status = 'superseded' WHERE status = 'queued' AND purpose = "
      "'reminder' "
      "AND send_at <= ?1 AND id NOT IN " DUTYD_CLAIMED_IDS
      " AND EXISTS (SELECT 1 FROM deliveries AS later WHERE "
      "later.occurrence = deliveries.occurrence AND later.person = deliveries.person AND "
      "later.channel = deliveries.channel AND later.step > deliveries.step AND "
      "later.status = 'queued' AND later.purpose = 'reminder' AND later.send_at <= ?1)");
  up.bind(1, now);
  const auto n = static_cast<std::size_t>(up.exec());
  if (n > 0)
    append_audit("dutyd", "delivery.coalesce", "deliveries", "superseded=" + std::to_string(n),
                 iso_utc(now));
  tx.commit();
  return n;
}

std::size_t Store::requeue_interrupted_deliveries(std::int64_t now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  // Claimed and not answered: queued rows the journal lists (and rows `sending` themselves, from
  // a database before the journal). They are queued already: forgetting the claims is enough.
  auto n = static_cast<std::size_t>(
      db_.execAndGet(
             "SELECT count(*) FROM deliveries WHERE status = 'queued' AND id IN " DUTYD_CLAIMED_IDS)
          .getInt64());
  db_.exec("DELETE FROM delivery_claims");
  n += static_cast<std::size_t>(
      db_.exec("UPDATE deliveries SET status = 'queued' WHERE status = 'sending'"));
  if (n > 0)
    append_audit("dutyd", "delivery.requeue", "deliveries", "count=" + std::to_string(n),
                 iso_utc(now));
  tx.commit();
  claimed_.clear();
  claims_.clear();
  cursors_.clear();
  return n;
}

bool Store::mark_delivery_sent(std::int64_t id, std::int64_t now) {
  DeliveryOutcome o;
  o.id = id, o.result = DeliveryOutcome::sent, o.at = now;
  return record_outcomes({o}, now)[0];
}

bool Store::mark_delivery_retry(std::int64_t id, const std::string& error,
                                std::int64_t next_attempt_at) {
  DeliveryOutcome o;
  o.id = id, o.result = DeliveryOutcome::retry, o.error = error,
  o.next_attempt_at = next_attempt_at;
  return record_outcomes({o}, next_attempt_at)[0];
}

bool Store::mark_delivery_failed(std::int64_t id, const std::string& error) {
  DeliveryOutcome o;
  o.id = id, o.result = DeliveryOutcome::failed, o.error = error;
  return record_outcomes({o}, 0)[0];
}

namespace {

// " AND ..." for every condition of `f` (limit aside), with named parameters bind_filter() fills.
std::string filter_sql(const DeliveryFilter& f) {
  std::string sql;
  if (!f.occurrence.empty()) sql += " AND occurrence = :occurrence";
  if (!f.status.empty()) sql += " AND " DUTYD_SHOWN_STATUS " = :status";
  if (!f.org.empty()) sql += " AND org = :org";
  if (!f.person.empty()) sql += " AND person = :person";
  if (f.from) sql += " AND send_at >= :from";
  if (f.to) sql += " AND send_at <= :to";
  return sql;
}

void bind_filter(SQLite::Statement& q, const DeliveryFilter& f) {
  if (!f.occurrence.empty()) q.bind(":occurrence", f.occurrence);
  if (!f.status.empty()) q.bind(":status", f.status);
  if (!f.org.empty()) q.bind(":org", f.org);
  if (!f.person.empty()) q.bind(":person", f.person);
  if (f.from) q.bind(":from", *f.from);
  if (f.to) q.bind(":to", *f.to);
}

}  // namespace

std::vector<DeliveryRecord> Store::deliveries(const DeliveryFilter& f) {
  std::string sql = std::string("SELECT ") + kShownDeliveryColumns + " FROM deliveries WHERE 1" +
                    filter_sql(f) + " ORDER BY send_at, id";
  if (f.limit) sql += " LIMIT :limit";
  SQLite::Statement q(db_, sql);
  bind_filter(q, f);
  if (f.limit) q.bind(":limit", static_cast<std::int64_t>(f.limit));
  std::vector<DeliveryRecord> out;
  while (q.executeStep()) out.push_back(read_delivery(q));
  return out;
}

std::size_t Store::count_deliveries(const DeliveryFilter& f) {
  SQLite::Statement q(db_, "SELECT count(*) FROM deliveries WHERE 1" + filter_sql(f));
  bind_filter(q, f);
  q.executeStep();
  return static_cast<std::size_t>(q.getColumn(0).getInt64());
}

}  // namespace dutyd
