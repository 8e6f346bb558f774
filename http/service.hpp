// The daemon's state and request handling, owned by the event-loop thread: the current
// snapshot, what the store knows (tokens, completions), feed caches and metrics.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/clock.hpp"
#include "base/net.hpp"
#include "base/worker.hpp"
#include "calendar/ical_feed.hpp"
#include "calendar/snapshot.hpp"
#include "http/feed_cache.hpp"
#include "store/store.hpp"

namespace dutyd {

struct ReportStore;  // calendar/report.hpp

class Service {
 public:
  Service(Store& store, Clock clock, std::string link_key);
  ~Service();  // waits for the reports being made
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Installs a new snapshot: re-derives the store's occurrence sets (retiring what vanished,
  // auditing reassignments) and swaps it in. `reason` goes to the audit log.
  void install(std::shared_ptr<const Snapshot> snapshot, const std::string& reason);
  const Snapshot& snapshot() const { return *snapshot_; }
  std::shared_ptr<const Snapshot> snapshot_ptr() const { return snapshot_; }
  void reload_failed() { ++reloads_failed_, last_reload_ok_ = false; }
  void reload_succeeded() { ++reloads_ok_, last_reload_ok_ = true; }

  Response handle(const Request& req);
  // On the loop, before handle(): takes GET /api/v1/reports, whose answer can take seconds for a
  // province (checked here, made on the report worker, answered through `respond`) so that the
  // loop goes on serving meanwhile; false for every other request.
  bool defer(const Request& req, std::function<void(Response)>& respond);
  // Any thread (the HTTP server's I/O threads).
  void count_response(unsigned code) {
    std::lock_guard lock(responses_mutex_);
    ++responses_by_code_[code];
  }
  // Any thread: a cached feed's answer, or nullopt when handle() must run.
  std::optional<Response> serve_cached(const Request& req) { return fast_feeds_.serve(req); }
  // More Prometheus text for /metrics (the reminder scheduler's counters); event loop only.
  void set_extra_metrics(std::function<std::string()> f) { extra_metrics_ = std::move(f); }
  Day today() const;
  // Called on the loop after the API added or withdrew an event: the owner re-derives.
  void on_events_changed(std::function<void()> f) { events_changed_ = std::move(f); }
  std::int64_t now() const { return clock_.now(); }

 private:
  Response feed(const Request& req, const std::string& token);
  Response completion_page(const Request& req);
  Response api_completions(const Request& req);
  Response api_occurrences(const Request& req);
  Response api_deliveries(const Request& req);
  Response api_flags(const Request& req);
  Response api_reports(const Request& req);  // made here, on the loop (handle())
  // A report request, checked on the loop: what the report thread needs to make its answer.
  struct ReportJob {
    std::shared_ptr<const Snapshot> snapshot;
    std::shared_ptr<const ReportStore> known;
    Request head;  // the request's version and keep-alive, for the answer
    int year = 0;
    Day as_of = 0;
    std::int32_t root = -1;
    std::string format, year_text, org;
  };
  std::variant<Response, ReportJob> check_report(const Request& req);  // all but `known`
  void read_known(ReportJob& job);
  static Response make_report(const ReportJob& job);  // any thread
  Response api_flag_step(const Request& req, const std::string& rest);
  Response api_event_add(const Request& req);
  Response api_events(const Request& req);
  Response api_event_withdraw(const Request& req, const std::string& rest);
  std::variant<TokenRecord, Response> admin(const Request& req);
  Response metrics(const Request& req);

  // The read-only dashboard under /dashboard/ (http/dashboard.cpp).
  Response dashboard(const Request& req, const std::string& path);
  Response dashboard_page(const Request& req, const std::string& path);  // GET's answer to HEAD too
  Response dashboard_login(const Request& req);
  Response dashboard_org(const Request& req, const TokenRecord& who);
  Response dashboard_occurrence(const Request& req, const TokenRecord& who);
  // The token a dashboard request carries in its cookie, when it may use the dashboard: an API
  // token of an administrator or of an organisation still in the configuration.
  std::optional<TokenRecord> dashboard_token(const std::string& secret) const;
  std::optional<Day> done_on(const Occurrence& o) const;  // the day min_count was reached

  void refresh();  // picks up what other processes (the CLI) committed
  const std::vector<CompletionNote>* notes_for(const Occurrence& o) const;
  std::optional<TokenRecord> bearer(const Request& req);
  Status status(const Occurrence& o) const;
  Store::Recorded record(const Occurrence& o, CompletionInput in);

  Store& store_;
  Clock clock_;
  std::string link_key_;
  std::int32_t utc_offset_ = 8 * 3600;
  std::shared_ptr<const Snapshot> snapshot_;
  std::unordered_map<std::string, std::string> stored_digests_;  // org -> digest in the store

  std::int64_t data_version_ = -1;
  std::int64_t last_completion_id_ = 0;
  std::uint64_t generation_ = 0;  // bumps with every change a feed could show
  std::unordered_map<std::string, std::vector<CompletionNote>> notes_;  // by uid
  // Tokens by the SHA-256 of their secret, reloaded whenever the database changes: feed
  // requests need no query of their own.
  std::unordered_map<std::string, TokenRecord> tokens_by_hash_;
  std::optional<TokenRecord> find_token(const std::string& secret) const;
  std::map<std::string, std::uint64_t> completions_by_channel_;
  // Open flags (第二十九条: until 实施 or 撤销), reloaded when a flag transition is added; an
  // organisation's feed shows those of its direct subordinates (下一级党组织).
  std::int64_t last_flag_transition_ = -1;
  std::vector<FlagRecord> open_flags_;
  std::vector<SubordinateFlag> subordinate_flags(std::int32_t org) const;

  struct CachedFeed {
    std::uint64_t generation = 0;
    Day today = 0;
    const Snapshot* snapshot = nullptr;
    std::shared_ptr<const std::string> body;
    std::string etag, last_modified_text;
    std::int64_t last_modified = 0;
  };
  std::unordered_map<std::int64_t, CachedFeed> feed_cache_;  // by token id

  FeedCache fast_feeds_;  // what the I/O threads may serve
  FileStamp wal_stamp_;   // the WAL when the store was last read
  Day published_day_ = 0;
  void publish_reset(FileStamp stamp, Day day);
  std::uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
  bool last_reload_ok_ = true;
  mutable std::mutex responses_mutex_;
  std::map<unsigned, std::uint64_t> responses_by_code_;
  std::function<std::string()> extra_metrics_;
  std::function<void()> events_changed_;

  // The report worker (made at the first deferred report): one report at a time, a few
  // waiting; more are refused with 503 and Retry-After.
  static constexpr std::size_t kReportsWaiting = 4;
  int report_delay_ms_ = 0;  // DUTYD_REPORT_DELAY_MS: tests make a report take this long
  std::unique_ptr<Worker> reports_;
};

}  // namespace dutyd
