#include "daemon/daemon.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <unordered_set>
#include <utility>

#include "base/worker.hpp"
#include "calendar/events.hpp"
#include "daemon/systemd_notify.hpp"
#include "http/server.hpp"
#include "http/service.hpp"
#include "notifiers/reminder_data.hpp"
#include "reminders/flagger.hpp"
#include "reminders/scheduler.hpp"

namespace dutyd {
namespace {

void log(int priority, const std::string& message) {
  std::cerr << "<" << priority << ">" << message << "\n" << std::flush;
}

using SteadyClock = std::chrono::steady_clock;
double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}
std::string fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

struct Daemon::Loaded {
  std::shared_ptr<const Config> base;  // the configuration files' model, without stored events
  std::shared_ptr<const Snapshot> snapshot;
  std::shared_ptr<const ReminderData> reminders;
  std::vector<std::string> errors;
  std::vector<std::string> skipped_events;
  double parse_seconds = 0, derive_seconds = 0;
  std::size_t files_parsed = 0, files_reused = 0;
  std::vector<EventRecord> events;  // the stored events it merged in
  SteadyClock::time_point asked;    // when the reload or derivation began
};

// Reads and validates the whole configuration (or, with `base`, takes the one already read), merges
// the stored events in and derives the snapshot. Runs on the reload worker; touches no shared
// state.
void Daemon::load(Loaded& out, const RunOptions& opt, Day today, LoadCache& cache,
                  const Snapshot* previous, std::shared_ptr<const Config> base,
                  std::shared_ptr<const ReminderData> reminders_in) {
  const std::vector<EventRecord>& events = out.events;
  if (base) {  // only the stored events changed
    out.base = std::move(base);
    out.reminders = std::move(reminders_in);
    const auto t0 = SteadyClock::now();
    out.snapshot = std::make_shared<const Snapshot>(
        with_stored_events(out.base, events, &out.skipped_events), today, previous);
    out.derive_seconds = seconds_since(t0);
    return;
  }
  auto t0 = SteadyClock::now();
  LoadResult r = load_config(opt.config_path, {opt.catalogue_path}, &cache);
  out.parse_seconds = seconds_since(t0);
  out.files_parsed = r.files_parsed;
  out.files_reused = r.files_reused;
  for (const auto& d : r.diagnostics.items())
    if (d.severity == Severity::error) out.errors.push_back(format(d));
  if (!r.ok()) return;
  Diagnostics diags;
  auto reminders = std::make_shared<ReminderData>(load_reminder_data(*r.config, diags));
  for (const auto& d : diags.items())
    if (d.severity == Severity::error) out.errors.push_back(format(d));
  if (diags.error_count()) return;
  out.reminders = std::move(reminders);
  out.base = r.config;
  t0 = SteadyClock::now();
  out.snapshot = std::make_shared<const Snapshot>(
      with_stored_events(out.base, events, &out.skipped_events), today, previous);
  out.derive_seconds = seconds_since(t0);
  malloc_trim(0);  // the TOML documents are gone: give their memory back
}

int run_daemon(const RunOptions& options) {
  Daemon daemon(options);
  if (const int code = daemon.start()) return code;
  return daemon.run();
}

Daemon::Daemon(RunOptions options)
    : options_(std::move(options)),
      clock_{options_.clock_offset},
      reload_worker_(&io_, [](const std::string& what) { log(3, "reload: " + what); }) {}

// Members go in reverse: the reload worker first (a load still running finishes), the loop last.
Daemon::~Daemon() = default;

int Daemon::start() {
  const auto started = SteadyClock::now();
  const RunOptions& opt = options_;
  // The first load decides the time zone used for "today".
  LoadResult first = load_config(opt.config_path, {opt.catalogue_path}, &load_cache_);
  if (!first.ok()) {
    for (const auto& d : first.diagnostics.items())
      if (d.severity == Severity::error) log(3, format(d));
    log(3, "configuration invalid; not starting — run `dutyd check-config -c " + opt.config_path +
               "`");
    return 2;
  }
  Diagnostics reminder_diags;
  reminder_data_ =
      std::make_shared<const ReminderData>(load_reminder_data(*first.config, reminder_diags));
  for (const auto& d : reminder_diags.items())
    log(d.severity == Severity::error ? 3 : 4, format(d));
  if (reminder_diags.error_count()) {
    log(3, "holiday or template files invalid; not starting — run `dutyd check-config -c " +
               opt.config_path + "`");
    return 2;
  }
  const double parse_seconds = seconds_since(started);
  utc_offset_ = utc_offset_of(first.config->timezone, clock_.now());

  db_path_ = database_path(first.config->daemon.database, opt.database);
  try {
    store_ = std::make_unique<Store>(db_path_);
  } catch (const StoreError& e) {
    log(3, e.what());
    return 1;
  }
  events_seen_ = store_->events_revision();
  for (const EventRecord& e : store_->events()) event_occurrences_.insert(e.occurrence);
  base_config_ = first.config;
  auto step = SteadyClock::now();
  std::vector<std::string> skipped;
  auto snapshot =
      std::make_shared<const Snapshot>(with_stored_events(base_config_, store_->events(), &skipped),
                                       local_day(clock_.now(), utc_offset_));
  for (const auto& line : skipped) log(4, line);
  const double derive_seconds = seconds_since(step);
  first = {};
  malloc_trim(0);
  const std::string key = load_link_key(snapshot->config(), *store_, iso_utc(clock_.now()));
  service_ = std::make_unique<Service>(*store_, clock_, key);
  step = SteadyClock::now();
  service_->install(snapshot, "config.load");
  scheduler_ = std::make_unique<Scheduler>(io_, *store_, clock_, key, log);
  scheduler_->install(snapshot, reminder_data_);
  flagger_ = std::make_unique<Flagger>(io_, *store_, clock_, log);
  flagger_->install(snapshot, reminder_data_);
  flagger_->on_raised([this] { scheduler_->wake(); });  // their notices go out now
  service_->set_extra_metrics([this] { return scheduler_->metrics(); });
  log(6, "loaded: parsed in " + fixed(parse_seconds) + " s, derived in " + fixed(derive_seconds) +
             " s, stored in " + fixed(seconds_since(step)) + " s");
  snapshot.reset();
  malloc_trim(0);  // the occurrence-set texts written to the store are gone

  server_ = std::make_unique<HttpServer>(
      io_, [this](const Request& req) { return service_->handle(req); });
  server_->set_observer([this](unsigned code) { service_->count_response(code); });
  // Connections live on I/O threads, one per core (at most four), which answer feeds already
  // rendered by themselves; everything else is handled here, on the loop that owns the state.
  server_->set_io_threads(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  server_->set_fast_handler([this](const Request& req) { return service_->serve_cached(req); });
  // Reports are made on a worker of their own: a province's takes seconds.
  server_->set_deferring_handler(
      [this](const Request& req, Responder& respond) { return service_->defer(req, respond); });
  try {
    if (const int fd = sd::listen_fd(); fd >= 0) {
      server_->adopt(fd);
    } else {
      server_->listen(opt.listen.empty() ? service_->snapshot().config().daemon.listen
                                         : opt.listen);
    }
  } catch (const std::exception& e) {
    log(3, e.what());
    return 1;
  }
  server_->start();
  signals_.emplace(io_, SIGHUP, SIGTERM, SIGINT);

  service_->on_events_changed([this] { on_events_changed(); });
  // The CLI commits to the same database: one stat() of the WAL a second, and a query only
  // when it changed.
  events_stamp_ = FileStamp::of(db_path_ + "-wal");
  poll_events();
  wait_signal();
  ping_watchdog();
  arm_daily();

  const auto ep = server_->endpoint();
  log(6, "dutyd listening on " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
             ", database " + db_path_ + "; ready " + fixed(seconds_since(started)) +
             " s after start");
  sd::notify("READY=1\nSTATUS=serving " + std::to_string(service_->snapshot().occurrence_count()) +
             " occurrences");
  scheduler_->start();
  flagger_->start();
  return 0;
}

int Daemon::run() {
  io_.run();
  log(6, "stopped");
  return 0;
}

// ---- the lifecycle -----------------------------------------------------------------------------

void Daemon::on_reload_asked(const std::string& why) {
  switch (state_) {
    case State::deriving:
      queued_ = Queued::reload;  // after the derivation for changed events
      log(6, why + ": reloading after the running derivation for changed events");
      return;
    case State::reloading:
    case State::stopping:
      log(4, "reload already in progress; " + why + " ignored");
      return;
    case State::serving:
      sd::notify("RELOADING=1\nSTATUS=reloading configuration");
      log(6, "reloading " + options_.config_path);
      begin(State::reloading);
      return;
  }
}

void Daemon::on_events_changed() {
  switch (state_) {
    case State::stopping:
      return;
    case State::deriving:
    case State::reloading:
      if (queued_ == Queued::nothing) queued_ = Queued::derivation;
      return;
    case State::serving:
      if (store_->events_revision() != events_seen_) {
        log(6, "events recorded at run time changed; deriving again");
        begin(State::deriving);
      }
      return;
  }
}

void Daemon::on_stop_asked() {
  state_ = State::stopping;
  queued_ = Queued::nothing;
  log(6, "stopping");
  sd::notify("STOPPING=1\nSTATUS=stopping");
  server_->stop();
  scheduler_->stop();
  flagger_->stop();
  signals_->cancel();
  watchdog_.cancel();
  daily_.cancel();
  events_poll_.cancel();
}

// A reload (the configuration files are read again) or a re-derivation for changed stored
// events, on the reload worker; the result is installed on the loop (on_loaded).
void Daemon::begin(State next) {
  const bool reparse = next == State::reloading;
  auto loaded = std::make_shared<Loaded>();
  loaded->asked = SteadyClock::now();
  const Day today = service_->today();
  const std::string revision = store_->events_revision();  // may throw: the state stays
  loaded->events = store_->events();
  events_seen_ = revision;  // read before the events: a later change is seen again
  state_ = next;
  // The snapshot being served lends the blocks of unchanged organisations.
  reload_worker_.post([this, loaded, today, next, previous = service_->snapshot_ptr(),
                       base = reparse ? nullptr : base_config_,
                       reminders = reminder_data_]() mutable -> Worker::Answer {
    load(*loaded, options_, today, load_cache_, previous.get(), std::move(base),
         std::move(reminders));
    previous.reset();
    return [this, loaded, next] { on_loaded(*loaded, next); };
  });
}

void Daemon::on_loaded(Loaded& loaded, State was) {
  if (state_ == State::stopping) return;
  state_ = State::serving;
  const bool reparse = was == State::reloading;
  for (const auto& line : loaded.skipped_events) log(4, line);
  if (!loaded.snapshot) {
    for (const auto& e : loaded.errors) log(3, "reload failed: " + e);
    log(3, "reload failed; still serving the previous configuration");
    service_->reload_failed();
    sd::notify("READY=1\nSTATUS=reload failed; serving the previous configuration");
  } else {
    install(loaded, reparse);
  }
  switch (std::exchange(queued_, Queued::nothing)) {
    case Queued::nothing:
      return;
    case Queued::reload:
      sd::notify("RELOADING=1\nSTATUS=reloading configuration");
      log(6, "reloading " + options_.config_path);
      begin(State::reloading);  // reads the events again too
      return;
    case Queued::derivation:
      on_events_changed();
      return;
  }
}

void Daemon::install(Loaded& loaded, bool reparse) {
  try {
    const auto t0 = SteadyClock::now();
    service_->install(loaded.snapshot, reparse ? "config.reload" : "events.change");
    scheduler_->install(loaded.snapshot, loaded.reminders);
    flagger_->install(loaded.snapshot, loaded.reminders);
    base_config_ = loaded.base;
    reminder_data_ = loaded.reminders;
    std::unordered_set<std::string> now_live;
    std::vector<std::string> added;
    Day earliest = service_->today();
    for (const EventRecord& e : loaded.events) {
      now_live.insert(e.occurrence);
      if (!event_occurrences_.count(e.occurrence))
        added.push_back(e.occurrence), earliest = std::min(earliest, e.date);
    }
    event_occurrences_ = std::move(now_live);
    // Steps of a new event's duty that fell between the event and now are caught up.
    scheduler_->catch_up(added, notify::to_unix({earliest, 0}, utc_offset_));
    if (reparse) service_->reload_succeeded();
    loaded.snapshot.reset();
    malloc_trim(0);  // the previous snapshot and the diff texts are gone
    if (reparse) {
      log(6, "reloaded: parsed in " + fixed(loaded.parse_seconds) + " s (" +
                 std::to_string(loaded.files_parsed) + " changed file(s) parsed, " +
                 std::to_string(loaded.files_reused) + " unchanged), derived in " +
                 fixed(loaded.derive_seconds) + " s, stored in " + fixed(seconds_since(t0)) + " s");
      sd::notify("READY=1\nSTATUS=serving (reloaded)");
    } else {
      log(6, "events changed: derived in " + fixed(loaded.derive_seconds) + " s, stored in " +
                 fixed(seconds_since(t0)) + " s, " + fixed(seconds_since(loaded.asked)) +
                 " s after the change was seen");
    }
  } catch (const std::exception& e) {
    log(3, std::string(reparse ? "reload" : "re-derivation for changed events") +
               " failed while storing: " + e.what());
    if (reparse) {
      service_->reload_failed();
      sd::notify("READY=1\nSTATUS=reload failed; serving the previous configuration");
    }
  }
}

// ---- what drives it ----------------------------------------------------------------------------

void Daemon::wait_signal() {
  signals_->async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo != SIGHUP) {
      on_stop_asked();
      return;
    }
    on_reload_asked("SIGHUP");
    wait_signal();
  });
}

void Daemon::poll_events() {
  events_poll_.expires_after(std::chrono::seconds(1));
  events_poll_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || state_ == State::stopping) return;
    const FileStamp now_stamp = FileStamp::of(db_path_ + "-wal");
    if (!(now_stamp == events_stamp_)) {
      events_stamp_ = now_stamp;
      try {
        on_events_changed();
      } catch (const std::exception& e) {
        log(3, std::string("cannot read the stored events: ") + e.what());
      }
    }
    poll_events();
  });
}

// Watchdog pings come from the loop thread, so a stuck loop is noticed.
void Daemon::ping_watchdog() {
  const auto interval = sd::watchdog_ping_interval();
  if (!interval) return;
  sd::notify("WATCHDOG=1");
  watchdog_.expires_after(*interval);
  watchdog_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && state_ != State::stopping) ping_watchdog();
  });
}

// Re-derive at the turn of the year so the horizon moves (and "today" changes feeds daily,
// which the feed cache keys on). One timer per day: no periodic scans.
void Daemon::arm_daily() {
  const std::int64_t now = clock_.now();
  const std::int64_t next_midnight =
      (std::int64_t{service_->today()} + 1) * 86400 - utc_offset_ + 5;
  daily_.expires_after(std::chrono::seconds(std::max<std::int64_t>(1, next_midnight - now)));
  daily_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || state_ == State::stopping) return;
    if (civil(service_->today()).year != service_->snapshot().horizon_year()) {
      log(6, "new year: moving the horizon");
      on_reload_asked("the new year");
    }
    arm_daily();
  });
}

}  // namespace dutyd
