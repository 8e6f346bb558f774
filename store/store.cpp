#include "store/store.hpp"

#include <SQLiteCpp/VariadicBind.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <tuple>
#include <unordered_map>

#include "base/crypto.hpp"
#include "calendar/accountability.hpp"

namespace dutyd {
namespace {

// Each entry migrates from version index to index + 1. Never edit a shipped step; add one.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tokens(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('feed', 'api')),
  subject_kind TEXT NOT NULL CHECK (subject_kind IN ('person', 'org', 'admin')),
  subject TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT,
  note TEXT NOT NULL DEFAULT '');
CREATE TABLE completions(
  id INTEGER PRIMARY KEY,
  uid TEXT NOT NULL,
  done_on TEXT NOT NULL,
  document_number TEXT NOT NULL DEFAULT '',
  minutes_ref TEXT NOT NULL DEFAULT '',
  evidence_text TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '',
  recorded_at TEXT NOT NULL,
  recorded_by TEXT NOT NULL,
  channel TEXT NOT NULL,
  late INTEGER NOT NULL,
  UNIQUE (uid, done_on, document_number, minutes_ref, evidence_text, note));
CREATE INDEX completions_by_uid ON completions(uid);
CREATE TABLE occurrence_sets(
  org TEXT PRIMARY KEY,
  digest TEXT NOT NULL,
  body BLOB NOT NULL,
  updated_at TEXT NOT NULL);
CREATE TABLE retired(
  uid TEXT PRIMARY KEY,
  org TEXT NOT NULL,
  obligation TEXT NOT NULL,
  person TEXT NOT NULL,
  window_start TEXT NOT NULL,
  due TEXT NOT NULL,
  retired_at TEXT NOT NULL);
CREATE TABLE audit(
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
)sql",
    // 2: the durable outbox. The UNIQUE index also serves "the rows of an occurrence".
    R"sql(
CREATE TABLE deliveries(
  id INTEGER PRIMARY KEY,
  occurrence TEXT NOT NULL,
  step INTEGER NOT NULL,
  person TEXT NOT NULL,
  channel TEXT NOT NULL,
  org TEXT NOT NULL,
  relation TEXT NOT NULL,
  send_at INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled', 'superseded')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  sent_at INTEGER,
  created_at INTEGER NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  UNIQUE (occurrence, step, person, channel));
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'queued';
CREATE INDEX deliveries_by_time ON deliveries(send_at);
)sql",
    // 3: what a row is for (a reminder, its e-mail fallback, an administrators' alert) and,
    // for fallbacks and alerts, what went wrong.
    R"sql(
ALTER TABLE deliveries ADD COLUMN purpose TEXT NOT NULL DEFAULT 'reminder';
ALTER TABLE deliveries ADD COLUMN note TEXT NOT NULL DEFAULT '';
)sql",
    // 4: non-compliance flags (one per missed occurrence) and every step of their workflow.
    // Lists (in_charge: person ids; suggested_measures; impact: "what<TAB>until") are kept as
    // text, one entry per line.
    R"sql(
CREATE TABLE flags(
  id INTEGER PRIMARY KEY,
  occurrence TEXT NOT NULL UNIQUE,
  org TEXT NOT NULL,
  obligation TEXT NOT NULL,
  citation TEXT NOT NULL,
  title TEXT NOT NULL,
  art27 INTEGER NOT NULL,
  art27_clause TEXT NOT NULL,
  window_start TEXT NOT NULL,
  due TEXT NOT NULL,
  raised_on TEXT NOT NULL,
  days_late INTEGER NOT NULL,
  scope TEXT NOT NULL CHECK (scope IN ('individual', 'collective')),
  responsible TEXT NOT NULL,
  incumbent TEXT NOT NULL,
  responsible_moved_on INTEGER NOT NULL,
  team_org TEXT NOT NULL,
  principal TEXT NOT NULL,
  in_charge TEXT NOT NULL,
  severity TEXT NOT NULL CHECK (severity IN ('light', 'serious', 'grave')),
  severity_reason TEXT NOT NULL,
  suggested_measures TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'raised'
    CHECK (status IN ('raised', 'submitted', 'investigating', 'decided', 'implemented', 'dismissed')),
  measure TEXT NOT NULL DEFAULT '',
  decided_on TEXT,
  impact TEXT NOT NULL DEFAULT '',
  impact_until TEXT,
  dismiss_reason TEXT NOT NULL DEFAULT '',
  raised_at TEXT NOT NULL,
  updated_at TEXT NOT NULL);
CREATE INDEX flags_by_org ON flags(org, status);
CREATE INDEX flags_by_duty ON flags(obligation, org, due);
CREATE TABLE flag_transitions(
  id INTEGER PRIMARY KEY,
  flag INTEGER NOT NULL REFERENCES flags(id),
  from_status TEXT NOT NULL,
  to_status TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL,
  reason TEXT NOT NULL);
CREATE INDEX flag_transitions_by_flag ON flag_transitions(flag);
)sql",
    // 5: events recorded at run time (`dutyd event add`, POST /api/v1/events). `occurrence` is
    // the UID of the occurrence the event triggers; at most one live (not withdrawn) event per
    // occurrence. A withdrawn row stays, with who withdrew it and why.
    R"sql(
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  occurrence TEXT NOT NULL,
  obligation TEXT NOT NULL,
  org TEXT NOT NULL,
  person TEXT NOT NULL,
  kind TEXT NOT NULL,
  date TEXT NOT NULL,
  note TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  withdrawn_at TEXT,
  withdrawn_by TEXT NOT NULL DEFAULT '',
  withdraw_reason TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX events_live ON events(occurrence) WHERE withdrawn_at IS NULL;
)sql",
    // 6: the claim journal. Rows claimed for sending are recorded as one row here (their ids, a
    // JSON array), committed before the first of them is sent, instead of a status change of
    // every row: the wide rows are written once per delivery (its result), not twice. A claimed
    // row that is still `queued` and listed here is in flight (shown as `sending`); a start
    // after a crash queues them again (Store::requeue_interrupted_deliveries). Rows from before
    // this version may still be `sending` themselves; the same start queues them again.
    R"sql(
CREATE TABLE delivery_claims(id INTEGER PRIMARY KEY, at INTEGER NOT NULL, ids TEXT NOT NULL);
)sql",
};
constexpr int kMigrationCount = sizeof kMigrations / sizeof kMigrations[0];
static_assert(kMigrationCount == Store::kSchemaVersion);

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

const std::string kGenesis(64, '0');

// Occurrence-set bodies are repetitive text (a province: ~200 MB): stored deflated, which cuts
// the first start's write volume about tenfold. Format: "z1", 8-byte length, zlib stream.
std::string deflate_body(const std::string& body) {
  uLongf bound = compressBound(static_cast<uLong>(body.size()));
  std::string out(10 + bound, '\0');
  out[0] = 'z', out[1] = '1';
  const std::uint64_t n = body.size();
  std::memcpy(out.data() + 2, &n, 8);
  if (compress2(reinterpret_cast<Bytef*>(out.data() + 10), &bound,
                reinterpret_cast<const Bytef*>(body.data()), static_cast<uLong>(body.size()),
                1) != Z_OK)
    throw StoreError("cannot compress an occurrence set");
  out.resize(10 + bound);
  // Give back the room compressBound() asked for (about the size of the text): a first start
  // holds every organisation's packed set at once, and the slack was 170 MiB of its peak.
  out.shrink_to_fit();
  return out;
}

std::string inflate_body(const std::string& stored) {
  if (stored.size() < 10 || stored[0] != 'z' || stored[1] != '1') return stored;
  std::uint64_t n = 0;
  std::memcpy(&n, stored.data() + 2, 8);
  std::string out(n, '\0');
  uLongf len = static_cast<uLongf>(n);
  if (uncompress(reinterpret_cast<Bytef*>(out.data()), &len,
                 reinterpret_cast<const Bytef*>(stored.data() + 10),
                 static_cast<uLong>(stored.size() - 10)) != Z_OK ||
      len != n)
    throw StoreError("an occurrence set in the database is damaged — restore a backup");
  return out;
}

std::string row_hash(const std::string& prev, std::int64_t id, const std::string& at,
                     const std::string& actor, const std::string& action,
                     const std::string& subject, const std::string& detail) {
  // Fields separated by a byte that cannot occur in UTF-8 text.
  const std::string sep(1, '\x1f');
  return sha256_hex(prev + sep + std::to_string(id) + sep + at + sep + actor + sep + action + sep +
                    subject + sep + detail);
}

SQLite::Database open(const std::string& path) {
  try {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.setBusyTimeout(10000);
    return db;
  } catch (const SQLite::Exception& e) {
    throw StoreError("cannot open database " + path + ": " + e.what() +
                     " — check that the folder exists and is writable by dutyd");
  }
}

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

TokenRecord read_token(SQLite::Statement& q) {
  TokenRecord t;
  t.id = q.getColumn(0).getInt64();
  t.kind = q.getColumn(1).getString();
  t.subject_kind = q.getColumn(2).getString();
  t.subject = q.getColumn(3).getString();
  t.created_at = q.getColumn(4).getString();
  if (!q.getColumn(5).isNull()) t.revoked_at = q.getColumn(5).getString();
  t.note = q.getColumn(6).getString();
  return t;
}

constexpr const char* kTokenColumns =
    "id, kind, subject_kind, subject, created_at, revoked_at, note";

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

std::string iso_utc(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

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

Store::Store(const std::string& path) : db_(open(path)), path_(path) {
  try {
    migrate();
  } catch (const SQLite::Exception& e) {
    throw StoreError(
        "database " + path + " cannot be used: " + e.what() +
        " — is it a dutyd database? Point [daemon] database elsewhere or restore a backup");
  }
}

void Store::migrate() {
  const int version = db_.execAndGet("PRAGMA user_version").getInt();
  if (version > kSchemaVersion)
    throw StoreError("database " + path_ + " has schema version " + std::to_string(version) +
                     ", newer than this dutyd understands (" + std::to_string(kSchemaVersion) +
                     ") — run the newer dutyd or restore a backup; the database was not changed");
  db_.exec("PRAGMA journal_mode=WAL");
  db_.exec("PRAGMA synchronous=FULL");  // an acknowledged completion survives a power cut
  db_.exec("PRAGMA foreign_keys=ON");
  // Up to 16 MiB of pages per connection (SQLite's default is 2 MiB): a province's outbox and
  // occurrence rows are read again and again during a burst of reminders.
  db_.exec("PRAGMA cache_size=-16384");
  for (int v = version; v < kSchemaVersion; ++v) {
    SQLite::Transaction tx(db_);
    db_.exec(kMigrations[v]);
    db_.exec("PRAGMA user_version=" + std::to_string(v + 1));
    tx.commit();
  }
}

void Store::append_audit(const std::string& actor, const std::string& action,
                         const std::string& subject, const std::string& detail,
                         const std::string& now) {
  SQLite::Statement last(db_, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1");
  std::int64_t id = 1;
  std::string prev = kGenesis;
  if (last.executeStep()) {
    id = last.getColumn(0).getInt64() + 1;
    prev = last.getColumn(1).getString();
  }
  SQLite::Statement ins(
      db_,
      "INSERT INTO audit(id, at, actor, action, subject, detail, prev_hash, hash) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  ins.bind(1, id);
  ins.bind(2, now);
  ins.bind(3, actor);
  ins.bind(4, action);
  ins.bind(5, subject);
  ins.bind(6, detail);
  ins.bind(7, prev);
  ins.bind(8, row_hash(prev, id, now, actor, action, subject, detail));
  ins.exec();
}

void Store::audit(const std::string& actor, const std::string& action, const std::string& subject,
                  const std::string& detail, const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  append_audit(actor, action, subject, detail, now);
  tx.commit();
}

AuditCheck Store::verify_audit() {
  AuditCheck check;
  SQLite::Statement q(
      db_, "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY id");
  std::string prev = kGenesis;
  std::int64_t expected_id = 1;
  while (q.executeStep()) {
    const std::int64_t id = q.getColumn(0).getInt64();
    ++check.rows;
    auto broken = [&](std::string why) {
      check.first_broken = id;
      check.problem = std::move(why);
    };
    if (id != expected_id) {
      broken("row " + std::to_string(expected_id) + " is missing");
      check.first_broken = expected_id;
      return check;
    }
    if (q.getColumn(6).getString() != prev) {
      broken("prev_hash does not match the hash of the row before");
      return check;
    }
    const std::string h = row_hash(prev, id, q.getColumn(1).getString(), q.getColumn(2).getString(),
                                   q.getColumn(3).getString(), q.getColumn(4).getString(),
                                   q.getColumn(5).getString());
    if (h != q.getColumn(7).getString()) {
      broken("the row's content does not match its hash (changed after it was written)");
      return check;
    }
    prev = h;
    ++expected_id;
  }
  return check;
}

std::pair<TokenRecord, std::string> Store::issue_token(const std::string& kind,
                                                       const std::string& subject_kind,
                                                       const std::string& subject,
                                                       const std::string& note,
                                                       const std::string& now) {
  // 160 random bits; feed tokens go into URLs, API tokens into Authorization headers.
  const std::string secret = (kind == "feed" ? "f" : "dutyd_") + base32(random_bytes(20));
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement ins(db_,
                        "INSERT INTO tokens(kind, subject_kind, subject, hash, created_at, note) "
                        "VALUES (?, ?, ?, ?, ?, ?)");
  ins.bind(1, kind);
  ins.bind(2, subject_kind);
  ins.bind(3, subject);
  ins.bind(4, sha256_hex(secret));
  ins.bind(5, now);
  ins.bind(6, note);
  ins.exec();
  TokenRecord t{db_.getLastInsertRowid(), kind, subject_kind, subject, now, std::nullopt, note};
  append_audit("cli", "token.issue", "token:" + std::to_string(t.id),
               kind + " " + subject_kind + (subject.empty() ? "" : " " + subject), now);
  tx.commit();
  return {t, secret};
}

std::optional<TokenRecord> Store::find_token(const std::string& secret) {
  SQLite::Statement q(db_, std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE hash = ?");
  q.bind(1, sha256_hex(secret));
  if (!q.executeStep()) return std::nullopt;
  return read_token(q);
}

bool Store::revoke_token(std::int64_t id, const std::string& actor, const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement up(db_, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
  up.bind(1, now);
  up.bind(2, id);
  if (up.exec() == 0) return false;
  append_audit(actor, "token.revoke", "token:" + std::to_string(id), "", now);
  tx.commit();
  return true;
}

std::vector<TokenRecord> Store::tokens() {
  std::vector<TokenRecord> out;
  SQLite::Statement q(db_, std::string("SELECT ") + kTokenColumns + " FROM tokens ORDER BY id");
  while (q.executeStep()) out.push_back(read_token(q));
  return out;
}

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

// Prepared on first use and kept with the connection (SQLite prepares it again by itself after a
// schema change). Handed out reset and without bindings: a use cut short by an exception leaves
// nothing behind for the next one.
SQLite::Statement& Store::statement(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end())
    it = statements_
             .emplace(std::string(sql), std::make_unique<SQLite::Statement>(db_, std::string(sql)))
             .first;
  SQLite::Statement& q = *it->second;
  q.reset();
  q.clearBindings();
  return q;
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

std::optional<std::string> Store::meta(const std::string& key) {
  SQLite::Statement q(db_, "SELECT value FROM meta WHERE key = ?");
  q.bind(1, key);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

void Store::set_meta(const std::string& key, const std::string& value) {
  SQLite::Statement q(db_,
                      "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                      "value = excluded.value");
  SQLite::bind(q, key, value);
  q.exec();
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

std::string Store::link_key(const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement q(db_, "SELECT value FROM meta WHERE key = 'link_key'");
  if (q.executeStep()) return q.getColumn(0).getString();
  const std::string key = base32(random_bytes(32));
  SQLite::Statement ins(db_, "INSERT INTO meta(key, value) VALUES ('link_key', ?)");
  ins.bind(1, key);
  ins.exec();
  append_audit("dutyd", "link_key.create", "meta:link_key", "", now);
  tx.commit();
  return key;
}

std::vector<std::pair<std::string, std::string>> Store::occurrence_digests() {
  std::vector<std::pair<std::string, std::string>> out;
  SQLite::Statement q(db_, "SELECT org, digest FROM occurrence_sets");
  while (q.executeStep()) out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString());
  return out;
}

std::optional<std::string> Store::occurrence_body(const std::string& org) {
  SQLite::Statement q(db_, "SELECT body FROM occurrence_sets WHERE org = ?");
  q.bind(1, org);
  if (!q.executeStep()) return std::nullopt;
  const SQLite::Column c = q.getColumn(0);
  return inflate_body(
      std::string(static_cast<const char*>(c.getBlob()), static_cast<std::size_t>(c.getBytes())));
}

void Store::apply_derivation(const std::vector<OccurrenceSetChange>& sets,
                             const std::vector<RetiredOccurrence>& retired_list,
                             const std::vector<AuditEntry>& audit_entries, const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement put(
      db_,
      "INSERT INTO occurrence_sets(org, digest, body, updated_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT(org) DO UPDATE SET digest = excluded.digest, body = excluded.body, "
      "updated_at = excluded.updated_at");
  SQLite::Statement del(db_, "DELETE FROM occurrence_sets WHERE org = ?");
  for (const auto& s : sets) {
    if (s.digest.empty()) {
      del.bind(1, s.org);
      del.exec();
      del.reset();
      continue;
    }
    put.bind(1, s.org);
    put.bind(2, s.digest);
    put.bind(3, s.packed_body.data(), static_cast<int>(s.packed_body.size()));
    put.bind(4, now);
    put.exec();
    put.reset();
  }
  SQLite::Statement ret(
      db_,
      "INSERT OR REPLACE INTO retired(uid, org, obligation, person, window_start, due, "
      "retired_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  for (const auto& r : retired_list) {
    ret.bind(1, r.uid);
    ret.bind(2, r.org);
    ret.bind(3, r.obligation);
    ret.bind(4, r.person);
    ret.bind(5, r.window_start);
    ret.bind(6, r.due);
    ret.bind(7, now);
    ret.exec();
    ret.reset();
  }
  for (const auto& a : audit_entries) append_audit(a.actor, a.action, a.subject, a.detail, now);
  tx.commit();
}

std::string Store::pack_body(const std::string& body) {
  return deflate_body(body);
}

std::vector<Store::RetiredOccurrence> Store::retired() {
  std::vector<RetiredOccurrence> out;
  SQLite::Statement q(
      db_, "SELECT uid, org, obligation, person, window_start, due FROM retired ORDER BY due, uid");
  while (q.executeStep())
    out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(),
                   q.getColumn(2).getString(), q.getColumn(3).getString(),
                   q.getColumn(4).getString(), q.getColumn(5).getString()});
  return out;
}

std::int64_t Store::data_version() {
  if (!data_version_query_)
    data_version_query_ = std::make_unique<SQLite::Statement>(db_, "PRAGMA data_version");
  data_version_query_->executeStep();
  const std::int64_t v = data_version_query_->getColumn(0).getInt64();
  // Reset at once: a stepped statement holds a read transaction whose stale snapshot would
  // make this connection's next write fail with "database is locked".
  data_version_query_->reset();
  return v;
}

std::vector<std::pair<std::string, TokenRecord>> Store::tokens_with_hashes() {
  std::vector<std::pair<std::string, TokenRecord>> out;
  SQLite::Statement q(db_, std::string("SELECT ") + kTokenColumns + ", hash FROM tokens");
  while (q.executeStep()) out.emplace_back(q.getColumn(7).getString(), read_token(q));
  return out;
}

// ---- flags -------------------------------------------------------------------------------------

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

std::unordered_map<std::string, std::vector<Day>> Store::completion_days() {
  std::unordered_map<std::string, std::vector<Day>> out;
  SQLite::Statement q(db_, "SELECT uid, done_on FROM completions ORDER BY uid, done_on");
  while (q.executeStep())
    if (const auto d = parse_day(q.getColumn(1).getString()))
      out[q.getColumn(0).getString()].push_back(*d);
  return out;
}

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
