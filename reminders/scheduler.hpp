// The reminder scheduler of `dutyd run`: plans each snapshot's ladders into the durable outbox,
// claims the rows that are due, sends them on a small worker pool (libcurl) within each robot's
// rate limit, and posts the results back to the event loop. The claims and the result writes
// (fsync'd commits) run on a store-writer thread with its own connection, so neither the loop
// nor the senders wait for the disk; their answers come back to the loop.
//
// Durability (see daemon/README.md, "Reminders"):
// - rows are written (queued) before anything is sent and claimed in a committed transaction
//   (one row of the claim journal per claim, see Store::claim_due_deliveries) before the first
//   byte leaves, so a crash re-sends at most what was in flight;
// - at start, rows a crash left claimed are queued again, the time since the last run is
//   planned as catch-up and, per (occurrence, recipient, channel), only the latest missed step
//   is sent;
// - a completion cancels its queued rows in its own transaction (Store::record_completion), and
//   every row is checked against the current configuration just before it is sent.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/clock.hpp"
#include "base/net.hpp"
#include "calendar/snapshot.hpp"
#include "notifiers/planner.hpp"
#include "notifiers/rate_limiter.hpp"
#include "notifiers/reminder_data.hpp"
#include "reminders/channels.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace dutyd {

struct SchedulerOptions {
  unsigned workers = 4;
  // How far ahead rows are written: through the end of the next local day.
  // Transient failures are retried (exponential backoff, jitter) until this long after the
  // planned send time, then the row fails and the administrators are alerted.
  std::int64_t give_up_after_seconds = 24 * 3600;
  notify::TransferOptions transfer;
};

class Scheduler {
 public:
  using LogFn = std::function<void(int priority, const std::string& message)>;

  Scheduler(net::io_context& io, Store& store, Clock clock, std::string link_key, LogFn log,
            SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // A new snapshot (start or reload) and its reminder data: channels and credentials are read
  // again, the planner rebuilt and the rows of the planned period written again (idempotent).
  void install(std::shared_ptr<const Snapshot> snapshot, std::shared_ptr<const ReminderData> data);
  // Occurrences that appeared while running (events recorded at run time, see calendar/events.hpp),
  // after the install of the snapshot that has them: their steps from `from` until now are
  // planned as a catch-up (per recipient and channel only the latest missed step goes out), as
  // at a start after downtime; later steps are planned like any other.
  void catch_up(const std::vector<std::string>& occurrences, std::int64_t from);
  // Once, after the first install: requeues interrupted rows, plans the catch-up and starts.
  void start();
  // No new sends; claimed rows not yet handed to a worker are released; transfers in flight
  // finish and are recorded before the event loop runs out of work.
  void stop();
  // New rows were written by someone else (the flagger): look at the outbox now rather than at
  // the next wake-up.
  void wake() { tick(); }

  struct Counters {
    std::uint64_t sent = 0, retried = 0, failed = 0, cancelled = 0, planned = 0;
  };
  const Counters& counters() const { return counters_; }
  // Prometheus text: deliveries by result since start, rows waiting, channels that cannot send.
  std::string metrics();

 private:
  // What a worker renders: the facts of a reminder and its completion link's parts.
  struct Render {
    notify::ReminderFacts facts;
    std::string public_url, uid, person;
    std::int64_t link_expiry = 0;
  };
  struct Job {
    DeliveryRecord row;
    Envelope envelope;
    std::optional<Render> render;  // empty: the envelope is rendered already (alerts)
    std::shared_ptr<const ReminderData> data;
    std::shared_ptr<const Snapshot> snapshot;  // the configuration it was claimed under
    std::int32_t utc_offset = 0;
    std::int64_t now = 0;      // when it was handed out (days left, link expiry)
    bool undescribed = false;  // describe() has yet to run (on the worker)
  };
  struct Result {
    DeliveryRecord row;
    notify::Verdict verdict;
    std::int64_t finished_ms = 0;
  };

  struct PlanRange {
    std::int64_t from = 0, until = 0;
    bool catch_up = false;
    // Only these occurrences' rows (null: every occurrence's).
    std::shared_ptr<const std::unordered_set<std::string>> only;
  };
  struct PlanResult {
    std::vector<std::string> lines;  // for the log, written by the loop
    std::string error;
    std::size_t added = 0;
    std::int64_t new_planned_until = 0;
    bool initial = false;
  };
  static std::vector<OutboxEntry> plan_entries(const Snapshot& snapshot,
                                               const notify::ReminderPlanner& planner,
                                               notify::PlanReach reach, std::int32_t utc_offset,
                                               const PlanRange& range,
                                               const std::atomic<bool>& cancel);
  void launch_plan(std::vector<PlanRange> ranges, std::int64_t new_planned_until, bool initial);
  void on_planned(const PlanResult& r);
  void plan_ahead();
  void tick();
  void claim();
  void claim_channel(const std::string& channel, std::int64_t now);
  void refill();
  void pump();
  void schedule_wake();
  void arm(std::int64_t wake_ms);
  // A claimed row made ready to send, or nullopt with the row cancelled (no longer planned).
  std::optional<Job> prepare(DeliveryRecord& row);
  static std::optional<std::string> describe(Job& job, const notify::ReminderPlanner& planner);
  void render(Job& job) const;  // on a worker: the templates and the link's HMAC
  void add_result(Result r);
  void flush_results();
  // A batch of results handed to the store writer, and what became of it there.
  struct Recording {
    std::vector<Result> batch;
    std::vector<DeliveryOutcome> outcomes;
    std::vector<std::size_t> permanent;  // indices into batch
    std::vector<bool> applied;
    std::string error;  // the write failed: the rows stay claimed (sent again after a restart)
    std::int64_t now = 0;
  };
  void on_recorded(Recording& r);
  void on_claimed(const std::string& channel, std::size_t wanted, std::vector<DeliveryRecord> rows);
  void release(std::vector<std::int64_t> ids);
  void after_permanent_failure(const DeliveryRecord& row, const std::string& problem);
  void worker_loop(unsigned index);
  std::int64_t now_ms() const;

  net::io_context& io_;
  Store& store_;
  Clock clock_;
  std::string link_key_;
  LogFn log_;
  SchedulerOptions options_;

  std::shared_ptr<const Snapshot> snapshot_;
  std::shared_ptr<const ReminderData> data_;
  std::unique_ptr<notify::ReminderPlanner> planner_;
  std::int32_t utc_offset_ = 8 * 3600;
  std::map<std::string, std::shared_ptr<const ChannelRuntime>> channels_;
  std::vector<std::string> unavailable_;  // channel ids without credentials
  std::string email_channel_;             // for fallbacks; empty when none can send
  notify::PlanReach reach_;

  bool started_ = false, stopping_ = false;
  bool ready_ = false;  // the first plan (catch-up, coalescing) is written
  bool planning_ = false, replan_wanted_ = false;
  std::unordered_set<std::string>
      catch_up_wanted_;  // see catch_up(); planned after the plan running
  std::int64_t catch_up_from_ = 0;
  std::int64_t plan_retry_at_ = 0;
  std::atomic<bool> cancel_{false};
  std::int64_t planned_until_ = 0;
  std::map<std::string, std::deque<DeliveryRecord>> pending_;  // claimed, by channel
  notify::RobotRateLimits limits_;
  std::size_t in_flight_ = 0;
  std::vector<Result> results_;
  bool flush_posted_ = false, flush_armed_ = false;
  bool recording_ = false;          // a batch of results is on the store writer
  std::set<std::string> claiming_;  // channels with a claim on the store writer
  std::set<std::string> more_due_;  // channels whose last claim was a full batch
  std::int64_t limit_wake_ = 0;     // the next rate-limit slot pump() waits for (0: none)
  net::steady_timer timer_;
  net::steady_timer flush_timer_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  Counters counters_;
  std::set<std::string> alerted_;  // "alert:CHANNEL:DAY\tRECIPIENT" already queued

  // The worker pool: jobs in, results posted to io_.
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool pool_stop_ = false;
  std::vector<std::unique_ptr<notify::CurlMulti>> multis_;  // one per worker
  std::vector<std::thread> workers_;

  // The store writers, each with its own connection, their tasks in order: claims and results
  // (writer_), planning (planner_writer_, whose plans take seconds).
  StoreWriter writer_;
  StoreWriter planner_writer_;
};

}  // namespace dutyd
