// Raises the non-compliance flags of `dutyd run` (第二十七条): at start, after every reload and
// once a day just after local midnight, every occurrence of the snapshot still open past its due
// date plus its grace period (calendar/accountability.hpp flag_due) becomes a flag in the store,
// attributed (第二十六条), graded, with the Article 28 measures its grade suggests, and the
// discipline inspection organ and the organisation department are told through the outbox
// (purpose "flag"; the scheduler sends those rows like reminders).
//
// Like the scheduler's planning, a pass runs on a store writer of its own (store/writer.hpp: a
// thread with its own connection; a province's horizon holds millions of occurrences); the
// event loop only starts passes and logs what they did.
//
// A first start flags no history: only occurrences due on or after the day this database first
// raised flags (meta key `flags.since`) are flagged.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/net.hpp"
#include "calendar/snapshot.hpp"
#include "notifiers/reminder_data.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace dutyd {

class Flagger {
 public:
  using LogFn = std::function<void(int priority, const std::string& message)>;

  Flagger(net::io_context& io, Store& store, Clock clock, LogFn log);
  ~Flagger();
  Flagger(const Flagger&) = delete;
  Flagger& operator=(const Flagger&) = delete;

  // A new snapshot (start or reload); once started, a pass over it follows.
  void install(std::shared_ptr<const Snapshot> snapshot, std::shared_ptr<const ReminderData> data);
  // Once, after the first install: records `flags.since` on a first start, runs the first pass
  // and arms the daily one.
  void start();
  // No new passes; a pass in progress stops early (what it raised stays).
  void stop();
  // Called on the loop after a pass raised flags (their notices wait in the outbox).
  void on_raised(std::function<void()> f) { on_raised_ = std::move(f); }

  struct Pass {
    Day today = 0;
    std::size_t raised = 0;
    std::vector<std::string> lines;  // one per flag raised, for the log
  };
  // One pass: every occurrence of `snapshot` due on or after `since` that flag_due() on `today`
  // and has no flag yet is raised in `store`, earliest due first within each organisation (so
  // that a flag raised in the pass counts for the grade of the next one). `now` (unix seconds)
  // stamps the flags and their notices. Stops early when `cancel` turns true.
  static Pass raise_due_flags(const Snapshot& snapshot, const ReminderData& data, Store& store,
                              Day today, Day since, std::int64_t now, std::int32_t utc_offset,
                              const std::atomic<bool>& cancel);

 private:
  void launch();
  void on_pass(const Pass& pass, const std::string& error);
  void arm_daily();

  net::io_context& io_;
  Store& store_;
  Clock clock_;
  LogFn log_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::shared_ptr<const ReminderData> data_;
  std::function<void()> on_raised_;
  Day since_ = 0;
  bool started_ = false, stopping_ = false, running_ = false, again_ = false;
  std::atomic<bool> cancel_{false};
  net::steady_timer daily_;
  StoreWriter writer_;  // the passes, on a connection of their own
};

}  // namespace dutyd
