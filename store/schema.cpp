// The store's schema: one migration step per version (Store::kSchemaVersion), applied in order
// when a database is opened. Never edit a shipped step; add one.
#include <string>

#include "store/store.hpp"

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

}  // namespace

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

}  // namespace dutyd
