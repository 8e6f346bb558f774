// `dutyd run` as an object: the event loop and everything it owns (the store, the HTTP service
// and server, the scheduler, the flagger), and the lifecycle of the configuration it serves.
//
// The lifecycle is an explicit state machine, driven on the loop:
//
//   serving  --SIGHUP, a new year-->                 reloading  (files read again, derived)
//   serving  --the stored events changed-->          deriving   (derived again)
//   reloading, deriving  --done-->                   serving, then what was asked meanwhile
//   deriving  --SIGHUP-->                            reload asked for after it
//   reloading  --SIGHUP-->                           ignored (the reload reads the files anyway)
//   reloading, deriving  --the events changed-->     derivation asked for after it
//   any  --SIGTERM, SIGINT-->                        stopping   (the loop drains and returns)
//
// Loading and deriving run on the reload worker (base/worker.hpp); their result is installed
// on the loop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/clock.hpp"
#include "base/net.hpp"
#include "base/worker.hpp"
#include "calendar/snapshot.hpp"
#include "config/loader.hpp"
#include "daemon/run.hpp"
#include "http/feed_cache.hpp"
#include "http/server.hpp"
#include "http/service.hpp"
#include "notifiers/reminder_data.hpp"
#include "reminders/flagger.hpp"
#include "reminders/scheduler.hpp"
#include "store/store.hpp"

namespace dutyd {

// `dutyd run`: starts a Daemon and runs it; returns the process exit code.
int run_daemon(const RunOptions& options);

class Daemon {
 public:
  explicit Daemon(RunOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Loads the configuration, opens the store, derives and binds: 0 when ready to run, else the
  // exit code (the reason is logged).
  int start();
  // Serves until SIGTERM or SIGINT; returns the exit code.
  int run();

 private:
  enum class State : std::uint8_t { serving, deriving, reloading, stopping };
  // What was asked for while deriving or reloading, done when that ends.
  enum class Queued : std::uint8_t { nothing, derivation, reload };
  struct Loaded;  // what a reload or derivation produced
  static void load(Loaded& out, const RunOptions& options, Day today, LoadCache& cache,
                   const Snapshot* previous, std::shared_ptr<const Config> base,
                   std::shared_ptr<const ReminderData> reminders);

  // Transitions, on the loop.
  void on_reload_asked(const std::string& why);  // SIGHUP, the new year
  void on_events_changed();                      // the API, or the CLI's commits
  void on_stop_asked();
  void begin(State next);  // reloading or deriving: the work goes to the reload worker
  void on_loaded(Loaded& loaded, State was);
  void install(Loaded& loaded, bool reparse);

  void wait_signal();
  void poll_events();
  void ping_watchdog();
  void arm_daily();

  const RunOptions options_;
  const Clock clock_;
  State state_ = State::serving;
  Queued queued_ = Queued::nothing;

  // Unchanged files are not parsed again on a reload; used by one load at a time (the first,
  // then the reload worker's).
  LoadCache load_cache_;
  std::shared_ptr<const Config> base_config_;  // the files' model, without stored events
  std::shared_ptr<const ReminderData> reminder_data_;
  std::int32_t utc_offset_ = 0;  // of the first configuration: decides "today"
  std::string db_path_;
  // Events recorded at run time join the configuration's [[event]]s (calendar/events.hpp):
  // the revision last read, and the occurrences of the stored events installed last (one that is
  // new gets a catch-up plan).
  std::string events_seen_;
  std::unordered_set<std::string> event_occurrences_;
  FileStamp events_stamp_;

  // Declared in the order they are needed; destroyed in reverse (the loop last).
  net::io_context io_{1};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Flagger> flagger_;
  std::unique_ptr<HttpServer> server_;
  net::steady_timer watchdog_{io_};
  net::steady_timer daily_{io_};
  net::steady_timer events_poll_{io_};
  // Registered once the server listens, before READY=1: SIGHUP's default action would kill the
  // process.
  std::optional<net::signal_set> signals_;
  Worker reload_worker_;
};

}  // namespace dutyd
