// The embedded store (SQLite through SQLiteCpp, WAL mode): tokens, completions with evidence,
// occurrence sets, retired occurrences, the reminder outbox (deliveries), non-compliance flags
// with their workflow and the hash-chained audit log. The daemon and the CLI open the same file;
// every state change is one transaction that also appends its audit row (outbox bookkeeping of
// single rows excepted).
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/date.hpp"
#include "calendar/records.hpp"

namespace dutyd {

struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
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
  std::string occurrence;    // UID
  int step = 0;              // index into the ladder's steps
  std::string person;        // recipient person id
  std::string channel;       // channel id
  std::string org;           // the occurrence's organisation
  std::string relation;      // relation name (responsible, principal, ...)
  std::int64_t send_at = 0;  // planned send time
  std::string subject;       // the message's subject or summary
  // "reminder" (a ladder step), "fallback" (the e-mail sent because a chat robot failed
  // permanently), "alert" (to the administrators; person is "admin" or "admin:ADDRESS") or
  // "flag" (a non-compliance flag told to the discipline organ and the organisation department;
  // step -1, occurrence the flagged one).
  std::string purpose = "reminder";
  std::string note;  // fallback and alert: what failed (redacted)
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
  std::string occurrence;                // empty: every occurrence
  std::string status;                    // empty: every status
  std::string org;                       // the occurrence's organisation; empty: every one
  std::string person;                    // the recipient; empty: everyone
  std::optional<std::int64_t> from, to;  // planned send time in [from, to]
  std::size_t limit = 0;                 // 0: no limit
};

struct FlagFilter {
  std::string org;         // empty: every organisation
  std::string status;      // empty: every status
  std::string occurrence;  // empty: every occurrence
  bool open_only = false;  // only flags still open: raised, submitted, investigating, decided
};

struct AuditCheck {
  std::int64_t rows = 0;
  std::optional<std::int64_t> first_broken;  // id of the first row whose hash does not match
  std::string problem;
};

class Store {
 public:
  // 2: the deliveries outbox; 3: its purpose and note; 4: flags and their transitions;
  // 5: events recorded at run time
  static constexpr int kSchemaVersion = 6;

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
  // as delivery.cancel): a completion stops its ladder. A flag's notices stay.
  struct Recorded {
    Completion completion;
    bool created = false;
  };
  Recorded record_completion(const CompletionInput& in, bool late, const std::string& now);
  std::vector<Completion> completions_after(std::int64_t id);
  // The completions recorded for one occurrence, in the order they were recorded.
  std::vector<Completion> completions_of(const std::string& uid);

  // Outbox. Enqueue is idempotent (a row already there, whatever its status, is left alone) and
  // skips occurrences that have a completion. With catch_up, queued rows of earlier steps of
  // the same (occurrence, recipient, channel) become superseded: one message with the latest
  // step after downtime, not a burst.
  struct Enqueued {
    std::size_t added = 0, superseded = 0;
  };
  Enqueued enqueue_deliveries(const std::vector<OutboxEntry>& entries, std::int64_t now,
                              bool catch_up = false);
  // Claims up to `limit` queued rows with next_attempt_at <= now that no open claim holds and
  // returns them, earliest first, as `sending`: their ids are one row of the claim journal,
  // committed before anything is sent. With a channel id, only that channel's rows. Claims and
  // their answers (record_outcomes, release_deliveries) go through the same Store: it keeps
  // the open claims in memory too.
  std::vector<DeliveryRecord> claim_due_deliveries(std::int64_t now, std::size_t limit,
                                                   const std::string& channel = "");
  // Queued rows due at `now` and not in flight, counted per channel.
  std::vector<std::pair<std::string, std::size_t>> due_by_channel(std::int64_t now);
  // The earliest next_attempt_at of a queued row not in flight outside `except_channels`.
  std::optional<std::int64_t> next_due(const std::vector<std::string>& except_channels);
  // Claimed rows not sent (the daemon is stopping) are no longer claimed, attempts unchanged.
  void release_deliveries(const std::vector<std::int64_t>& ids);
  // Outcomes of claimed rows in one transaction; per outcome whether it applied (false: the row
  // was not in an open claim, or was cancelled by a completion while in flight). Cancellations are
  // audited as delivery.cancel with their reason.
  std::vector<bool> record_outcomes(const std::vector<DeliveryOutcome>& outcomes, std::int64_t now);
  // Catch-up after downtime: of the queued reminder rows due at `now`, only the latest step per
  // (occurrence, recipient, channel) stays; the others become superseded. Returns how many.
  std::size_t coalesce_due_deliveries(std::int64_t now);
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
  // Cancels every queued or sending row of an occurrence (a flag's notices aside); returns how
  // many.
  std::size_t cancel_deliveries(const std::string& occurrence, const std::string& actor,
                                const std::string& now);
  // The rows a filter selects, earliest planned first; count_deliveries() counts them all,
  // whatever the filter's limit.
  std::vector<DeliveryRecord> deliveries(const DeliveryFilter& filter);
  std::size_t count_deliveries(const DeliveryFilter& filter);

  // Flags. raise_flag is idempotent per occurrence (a second raise returns the first flag,
  // created = false). A new flag, its first transition ("" -> raised, with `reason`), its audit
  // row (flag.raise) and the outbox rows that tell of it (`notices`) are one transaction.
  struct RaisedFlag {
    FlagRecord flag;
    bool created = false;
  };
  RaisedFlag raise_flag(const FlagInput& in, const std::string& reason,
                        const std::vector<OutboxEntry>& notices, std::int64_t now);
  std::optional<FlagRecord> flag(std::int64_t id);
  std::optional<FlagRecord> flag_of(const std::string& occurrence);
  // Earliest due first.
  std::vector<FlagRecord> flags(const FlagFilter& filter);
  std::vector<FlagTransition> flag_transitions(std::int64_t flag);
  // 第二十九条: to the next state (提出 -> 报批 -> 调查 -> 决定 -> 实施). To 决定, `measure` (a
  // measure's name or its Chinese) and `decided_on` are required, and the measure's impact
  // periods are computed from them. One transaction with its transition and audit row
  // (flag.advance, with the reason). Throws FlagError.
  FlagRecord advance_flag(std::int64_t id, const std::string& actor, const std::string& reason,
                          const std::string& measure, std::optional<Day> decided_on,
                          const std::string& now);
  // 撤销 with a reason (required), from any state before 实施; audited as flag.dismiss.
  FlagRecord dismiss_flag(std::int64_t id, const std::string& actor, const std::string& reason,
                          const std::string& now);
  // For grading a new flag: flags (dismissed ones aside) of an obligation at an organisation
  // due strictly between `after` and `before`; and the organisation's open flags (提出 to 决定).
  int count_flags(const std::string& obligation, const std::string& org, Day after, Day before);
  int open_flags(const std::string& org);
  // The id of the last flag transition (0 when none): it changes with every raise and every step,
  // so a reader can tell cheaply whether the flags changed.
  std::int64_t last_flag_transition();
  // The occurrences that have a flag, whatever its state.
  std::unordered_set<std::string> flagged_occurrences();
  // Per occurrence UID, the dates its completions were done on, earliest first.
  std::unordered_map<std::string, std::vector<Day>> completion_days();

  // Run-time events. add_event and withdraw_event are one transaction each with their audit
  // row (event.add, event.withdraw); withdrawing also cancels the occurrence's queued and
  // sending reminders (a flag's notices stay). Both throw EventError.
  EventRecord add_event(const EventInput& in, const std::string& now);
  EventRecord withdraw_event(std::int64_t id, const std::string& actor, const std::string& reason,
                             const std::string& now);
  std::optional<EventRecord> event(std::int64_t id);
  // In the order they were added; withdrawn ones only when asked for.
  std::vector<EventRecord> events(bool include_withdrawn = false);
  // Changes whenever an event is added or withdrawn (cheap: the daemon asks after every commit
  // it did not make).
  std::string events_revision();

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
  Enqueued enqueue_in_tx(const std::vector<OutboxEntry>& entries, std::int64_t now, bool catch_up);
  std::size_t cancel_deliveries_in_tx(const std::string& occurrence, const std::string& actor,
                                      const std::string& detail, const std::string& now);
  void append_audit(const std::string& actor, const std::string& action, const std::string& subject,
                    const std::string& detail, const std::string& now);
  SQLite::Database db_;
  std::string path_;
  std::unique_ptr<SQLite::Statement> data_version_query_;  // prepared once: asked per request
  // Statements of the reminder hot path (claims, outcomes), prepared once per connection; see
  // statement().
  std::map<std::string, std::unique_ptr<SQLite::Statement>, std::less<>> statements_;
  SQLite::Statement& statement(std::string_view sql);
  void journal_settled(const std::vector<std::int64_t>& ids);
  void settle_claims(const std::vector<std::int64_t>& ids);
  // Open claims of this connection (see claim_due_deliveries): which claim holds each row in
  // flight, the rows each claim still holds, and per channel where the next claim reads on.
  struct Claimed {
    std::int64_t claim = 0;
    std::string channel;
  };
  struct Cursor {
    std::int64_t at = 0, id = 0;  // (next_attempt_at, id) of the last row claimed
    std::int64_t since = 0;       // when the cursor last started from the beginning
  };
  std::unordered_map<std::int64_t, Claimed> claimed_;
  std::map<std::int64_t, std::unordered_set<std::int64_t>> claims_;  // claim -> its rows still open
  std::map<std::string, Cursor> cursors_;
};

// A delivery error as kept in the outbox: at most 500 bytes (cut on a character boundary), the
// values of key=, token=, sign=, secret=, password= ... and the userinfo of URLs replaced by ***.
std::string redact_error(const std::string& error);

// The statuses a delivery row can have.
bool is_delivery_status(const std::string& s);

}  // namespace dutyd
