// The embedded store (SQLite through SQLiteCpp, WAL mode): tokens, completions with evidence,
// occurrence sets, retired occurrences, the reminder outbox (deliveries) and the hash-chained
// audit log. The daemon and the CLI open the same file; every state change is one transaction
// that also appends its audit row (outbox bookkeeping of single rows excepted).
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/date.hpp"

namespace dutyd {

struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CompletionInput {
  std::string uid;
  Day done_on = 0;
  std::string document_number;  // 报告文号
  std::string minutes_ref;      // 会议纪要
  std::string evidence_text;    // other evidence, free text
  std::string note;
  std::string recorded_by;      // person id, "admin:<token id>" or "cli:<user>"
  std::string channel;          // form | api | cli
};

struct Completion : CompletionInput {
  std::int64_t id = 0;
  std::string recorded_at;  // UTC, ISO 8601
  bool late = false;
};

struct TokenRecord {
  std::int64_t id = 0;
  std::string kind;          // feed | api
  std::string subject_kind;  // person | org | admin
  std::string subject;       // person or org id; empty for admin
  std::string created_at;
  std::optional<std::string> revoked_at;
  std::string note;
};

// The durable outbox: one row per (occurrence, step, recipient, channel), written before the
// message is sent. Times are unix seconds.
struct OutboxEntry {
  std::string occurrence;  // UID
  int step = 0;            // index into the ladder's steps
  std::string person;      // recipient person id
  std::string channel;     // channel id
  std::string org;         // the occurrence's organisation
  std::string relation;    // relation name (responsible, principal, ...)
  std::int64_t send_at = 0;  // planned send time
  std::string subject;     // the message's subject or summary
  // "reminder" (a ladder step), "fallback" (the e-mail sent because a chat robot failed
  // permanently) or "alert" (to the administrators; person is "admin" or "admin:ADDRESS").
  std::string purpose = "reminder";
  std::string note;        // fallback and alert: what failed (redacted)
};

// What became of a claimed row; applied in batches (record_outcomes).
struct DeliveryOutcome {
  enum Result : std::uint8_t { sent, retry, failed, cancelled };
  std::int64_t id = 0;
  Result result = sent;
  std::int64_t at = 0;               // sent: when
  std::int64_t next_attempt_at = 0;  // retry: when
  std::string error;                 // retry, failed: the error; cancelled: the reason
};

// queued -> sending -> sent | failed (permanent) | queued again (transient, later
// next_attempt_at); queued or sending -> cancelled (completion) | superseded (catch-up).
struct DeliveryRecord : OutboxEntry {
  std::int64_t id = 0;
  std::string status;
  int attempts = 0;  // failed attempts
  std::int64_t next_attempt_at = 0;
  std::string last_error;  // redacted: credentials in URLs or key=value pairs never kept
  std::optional<std::int64_t> sent_at;
  std::int64_t created_at = 0;
};

struct DeliveryFilter {
  std::string occurrence;             // empty: every occurrence
  std::string status;                 // empty: every status
  std::string org;                    // the occurrence's organisation; empty: every one
  std::string person;                 // the recipient; empty: everyone
  std::optional<std::int64_t> from, to;  // planned send time in [from, to]
  std::size_t limit = 0;              // 0: no limit
};

struct AuditCheck {
  std::int64_t rows = 0;
  std::optional<std::int64_t> first_broken;  // id of the first row whose hash does not match
  std::string problem;
};

class Store {
 public:
  static constexpr int kSchemaVersion = 3;  // 2: the deliveries outbox; 3: its purpose and note

  // Opens or creates the database and migrates it. Throws StoreError, with what to do, when the
  // file is not a dutyd database or was written by a newer dutyd (nothing is changed then).
  explicit Store(const std::string& path);

  // Tokens: the secret is returned once and only its SHA-256 is stored.
  std::pair<TokenRecord, std::string> issue_token(const std::string& kind,
                                                  const std::string& subject_kind,
                                                  const std::string& subject,
                                                  const std::string& note, const std::string& now);
  std::optional<TokenRecord> find_token(const std::string& secret);
  bool revoke_token(std::int64_t id, const std::string& actor, const std::string& now);
  std::vector<TokenRecord> tokens();
  std::vector<std::pair<std::string, TokenRecord>> tokens_with_hashes();  // (SHA-256, record)

  // Idempotent: the same completion (uid, date, evidence, note) twice is recorded once. In the
  // same transaction every queued or sending delivery of the occurrence is cancelled (audited
  // as delivery.cancel): a completion stops its ladder.
  struct Recorded {
    Completion completion;
    bool created = false;
  };
  Recorded record_completion(const CompletionInput& in, bool late, const std::string& now);
  std::vector<Completion> completions_after(std::int64_t id);

  // Outbox. Enqueue is idempotent (a row already there, whatever its status, is left alone) and
  // skips occurrences that have a completion. With catch_up, queued rows of earlier steps of
  // the same (occurrence, recipient, channel) become superseded: one message with the latest
  // step after downtime, not a burst.
  struct Enqueued {
    std::size_t added = 0, superseded = 0;
  };
  Enqueued enqueue_deliveries(const std::vector<OutboxEntry>& entries, std::int64_t now,
                              bool catch_up = false);
  // Marks up to `limit` queued rows with next_attempt_at <= now as sending (committed before
  // anything is sent) and returns them, earliest first.
  // With a channel id, only that channel's rows.
  std::vector<DeliveryRecord> claim_due_deliveries(std::int64_t now, std::size_t limit,
                                                   const std::string& channel = "");
  // Queued rows due at `now`, counted per channel.
  std::vector<std::pair<std::string, std::size_t>> due_by_channel(std::int64_t now);
  // The earliest next_attempt_at of a queued row outside `except_channels`.
  std::optional<std::int64_t> next_due(const std::vector<std::string>& except_channels);
  // Claimed rows not sent (the daemon is stopping) go back to queued, attempts unchanged.
  void release_deliveries(const std::vector<std::int64_t>& ids);
  // Outcomes of claimed rows in one transaction; per outcome whether it applied (false: the row
  // was no longer sending, e.g. cancelled by a completion while in flight). Cancellations are
  // audited as delivery.cancel with their reason.
  std::vector<bool> record_outcomes(const std::vector<DeliveryOutcome>& outcomes, std::int64_t now);
  // Catch-up after downtime: of the queued reminder rows due at `now`, only the latest step per
  // (occurrence, recipient, channel) stays; the others become superseded. Returns how many.
  std::size_t coalesce_due_deliveries(std::int64_t now);
  // Who a step of an occurrence tells: (person id, relation) of its reminder rows.
  std::vector<std::pair<std::string, std::string>> recipients_of(const std::string& occurrence, int step);
  // Small daemon state (e.g. how far reminders are planned).
  std::optional<std::string> meta(const std::string& key);
  void set_meta(const std::string& key, const std::string& value);
  // Rows left in `sending` by a crash go back to `queued`, so they are sent again: at most the
  // messages in flight are duplicated, none is lost. Only `dutyd run` calls this, once at
  // start before it sends (never the CLI: the constructor runs in every command, also while the
  // daemon is sending). Returns the number of rows requeued.
  std::size_t requeue_interrupted_deliveries(std::int64_t now);
  // Outcomes of a claimed row; false when the row is not `sending` (cancelled by a completion
  // while in flight: it stays cancelled, although the message may have left).
  bool mark_delivery_sent(std::int64_t id, std::int64_t now);
  bool mark_delivery_retry(std::int64_t id, const std::string& error, std::int64_t next_attempt_at);
  bool mark_delivery_failed(std::int64_t id, const std::string& error);
  // Cancels every queued or sending row of an occurrence; returns how many.
  std::size_t cancel_deliveries(const std::string& occurrence, const std::string& actor,
                                const std::string& now);
  // The rows a filter selects, earliest planned first; count_deliveries() counts them all,
  // whatever the filter's limit.
  std::vector<DeliveryRecord> deliveries(const DeliveryFilter& filter);
  std::size_t count_deliveries(const DeliveryFilter& filter);

  // The key for completion links: kept in the database, created once.
  std::string link_key(const std::string& now);

  // Occurrence sets: per organisation, a digest and a compact body of its occurrences.
  std::vector<std::pair<std::string, std::string>> occurrence_digests();
  std::optional<std::string> occurrence_body(const std::string& org);
  struct OccurrenceSetChange {
    std::string org, digest, packed_body;  // empty digest: the org is gone; body from pack_body()
  };
  // Deflates an occurrence-set body for apply_derivation (callers pack on their own threads).
  static std::string pack_body(const std::string& body);
  struct RetiredOccurrence {
    std::string uid, org, obligation, person, window_start, due;
  };
  struct AuditEntry {
    std::string actor, action, subject, detail;
  };
  // Applies a re-derivation in one transaction: new sets, retirements and their audit rows.
  void apply_derivation(const std::vector<OccurrenceSetChange>& sets,
                        const std::vector<RetiredOccurrence>& retired,
                        const std::vector<AuditEntry>& audit, const std::string& now);
  std::vector<RetiredOccurrence> retired();

  void audit(const std::string& actor, const std::string& action, const std::string& subject,
             const std::string& detail, const std::string& now);
  AuditCheck verify_audit();

  // Changes whenever another connection (e.g. the CLI) commits.
  std::int64_t data_version();
  // The database file; its write-ahead log is path() + "-wal". Every commit in WAL mode writes
  // to the log, so its size and time stamp (see FileStamp) tell a busy daemon when to ask
  // data_version() at all.
  const std::string& path() const { return path_; }
  SQLite::Database& db() { return db_; }

 private:
  void migrate();
  std::size_t cancel_deliveries_in_tx(const std::string& occurrence, const std::string& actor,
                                      const std::string& detail, const std::string& now);
  void append_audit(const std::string& actor, const std::string& action, const std::string& subject,
                    const std::string& detail, const std::string& now);
  SQLite::Database db_;
  std::string path_;
  std::unique_ptr<SQLite::Statement> data_version_query_;  // prepared once: asked per request
};

// "2026-11-27T09:30:00Z"
std::string iso_utc(std::int64_t unix_seconds);

// A delivery error as kept in the outbox: at most 500 bytes (cut on a character boundary), the
// values of key=, token=, sign=, secret=, password= ... and the userinfo of URLs replaced by ***.
std::string redact_error(const std::string& error);

// The statuses a delivery row can have.
bool is_delivery_status(const std::string& s);

}  // namespace dutyd
