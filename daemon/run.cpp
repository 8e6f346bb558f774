#include "daemon/run.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <cstdlib>
#include <iostream>
#include <thread>
#include <unordered_set>

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

struct Loaded {
  std::shared_ptr<const Config> base;  // the configuration files' model, without stored events
  std::shared_ptr<const Snapshot> snapshot;
  std::shared_ptr<const ReminderData> reminders;
  std::vector<std::string> errors;
  std::vector<std::string> skipped_events;
  double parse_seconds = 0, derive_seconds = 0;
  std::size_t files_parsed = 0, files_reused = 0;
};

using SteadyClock = std::chrono::steady_clock;
double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}
std::string fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// Reads and validates the whole configuration (or, with `base`, takes the one already read), merges
// the stored events in and derives the snapshot. Runs on a worker thread; touches no shared state.
Loaded load(const RunOptions& opt, Day today, LoadCache& cache, const Snapshot* previous,
            const std::vector<EventRecord>& events, std::shared_ptr<const Config> base,
            std::shared_ptr<const ReminderData> reminders_in) {
  Loaded out;
  if (base) {  // only the stored events changed
    out.base = std::move(base);
    out.reminders = std::move(reminders_in);
    const auto t0 = SteadyClock::now();
    out.snapshot = std::make_shared<const Snapshot>(
        with_stored_events(out.base, events, &out.skipped_events), today, previous);
    out.derive_seconds = seconds_since(t0);
    return out;
  }
  auto t0 = SteadyClock::now();
  LoadResult r = load_config(opt.config_path, {opt.catalogue_path}, &cache);
  out.parse_seconds = seconds_since(t0);
  out.files_parsed = r.files_parsed;
  out.files_reused = r.files_reused;
  for (const auto& d : r.diagnostics.items())
    if (d.severity == Severity::error) out.errors.push_back(format(d));
  if (!r.ok()) return out;
  Diagnostics diags;
  auto reminders = std::make_shared<ReminderData>(load_reminder_data(*r.config, diags));
  for (const auto& d : diags.items())
    if (d.severity == Severity::error) out.errors.push_back(format(d));
  if (diags.error_count()) return out;
  out.reminders = std::move(reminders);
  out.base = r.config;
  t0 = SteadyClock::now();
  out.snapshot = std::make_shared<const Snapshot>(
      with_stored_events(out.base, events, &out.skipped_events), today, previous);
  out.derive_seconds = seconds_since(t0);
  malloc_trim(0);  // the TOML documents are gone: give their memory back
  return out;
}

}  // namespace

std::string database_path(const std::string& configured, const std::string& override_path) {
  if (!override_path.empty()) return override_path;
  if (!configured.empty()) return configured;
  if (const char* dir = std::getenv("STATE_DIRECTORY"); dir && *dir) {
    std::string d = dir;
    if (const auto colon = d.find(':'); colon != std::string::npos) d = d.substr(0, colon);
    return d + "/dutyd.db";
  }
  return "/var/lib/dutyd/dutyd.db";
}

int run_daemon(const RunOptions& opt) {
  const auto started = SteadyClock::now();
  const Clock clock{opt.clock_offset};
  // The first load decides the time zone used for "today".
  // Unchanged files are not parsed again on a reload. Used by one load at a time: the first
  // here, then each reload's worker thread (a reload starts only after the previous ended).
  LoadCache load_cache;
  LoadResult first = load_config(opt.config_path, {opt.catalogue_path}, &load_cache);
  if (!first.ok()) {
    for (const auto& d : first.diagnostics.items())
      if (d.severity == Severity::error) log(3, format(d));
    log(3, "configuration invalid; not starting — run `dutyd check-config -c " + opt.config_path +
               "`");
    return 2;
  }
  Diagnostics reminder_diags;
  auto reminder_data =
      std::make_shared<const ReminderData>(load_reminder_data(*first.config, reminder_diags));
  for (const auto& d : reminder_diags.items())
    log(d.severity == Severity::error ? 3 : 4, format(d));
  if (reminder_diags.error_count()) {
    log(3, "holiday or template files invalid; not starting — run `dutyd check-config -c " +
               opt.config_path + "`");
    return 2;
  }
  const double parse_seconds = seconds_since(started);
  const std::int32_t offset = utc_offset_of(first.config->timezone, clock.now());

  const std::string db_path = database_path(first.config->daemon.database, opt.database);
  std::unique_ptr<Store> store;
  try {
    store = std::make_unique<Store>(db_path);
  } catch (const StoreError& e) {
    log(3, e.what());
    return 1;
  }
  // Events recorded at run time join the configuration's [[event]]s (calendar/events.hpp).
  std::string events_seen = store->events_revision();
  // The occurrences of the stored events installed last: one that is new gets a catch-up plan.
  std::unordered_set<std::string> event_occurrences;
  for (const EventRecord& e : store->events()) event_occurrences.insert(e.occurrence);
  std::shared_ptr<const Config> base_config = first.config;
  auto step = SteadyClock::now();
  std::vector<std::string> skipped;
  auto snapshot = std::make_shared<const Snapshot>(
      with_stored_events(base_config, store->events(), &skipped), local_day(clock.now(), offset));
  for (const auto& line : skipped) log(4, line);
  const double derive_seconds = seconds_since(step);
  first = {};
  malloc_trim(0);
  const std::string key = load_link_key(snapshot->config(), *store, iso_utc(clock.now()));
  Service service(*store, clock, key);
  step = SteadyClock::now();
  service.install(snapshot, "config.load");
  net::io_context io{1};
  Scheduler scheduler(io, *store, clock, key, log);
  scheduler.install(snapshot, reminder_data);
  Flagger flagger(io, *store, clock, log);
  flagger.install(snapshot, reminder_data);
  flagger.on_raised([&] { scheduler.wake(); });  // their notices go out now
  service.set_extra_metrics([&] { return scheduler.metrics(); });
  log(6, "loaded: parsed in " + fixed(parse_seconds) + " s, derived in " + fixed(derive_seconds) +
             " s, stored in " + fixed(seconds_since(step)) + " s");
  snapshot.reset();
  malloc_trim(0);  // the occurrence-set texts written to the store are gone

  HttpServer server(io, [&](const Request& req) { return service.handle(req); });
  server.set_observer([&](unsigned code) { service.count_response(code); });
  // Connections live on I/O threads, one per core (at most four), which answer feeds already
  // rendered by themselves; everything else is handled here, on the loop that owns the state.
  server.set_io_threads(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  server.set_fast_handler([&](const Request& req) { return service.serve_cached(req); });
  // Reports are made on a thread of their own: a province's takes seconds.
  server.set_deferring_handler(
      [&](const Request& req, Responder& respond) { return service.defer(req, respond); });
  try {
    if (const int fd = sd::listen_fd(); fd >= 0) {
      server.adopt(fd);
    } else {
      server.listen(opt.listen.empty() ? service.snapshot().config().daemon.listen : opt.listen);
    }
  } catch (const std::exception& e) {
    log(3, e.what());
    return 1;
  }
  server.start();

  net::steady_timer watchdog(io);
  net::steady_timer daily(io);
  // Signals are registered before READY=1: SIGHUP's default action would kill the process.
  net::signal_set signals(io, SIGHUP, SIGTERM, SIGINT);
  bool stopping = false;
  bool reloading = false;
  // Reloads and re-derivations run here, one at a time.
  Worker reload_worker(&io, [](const std::string& what) { log(3, "reload: " + what); });
  std::function<void()> wait_signal;
  // Whether the stored events changed, or a SIGHUP came, while a derivation for changed events
  // was running: derive again (or reload) after it.
  bool events_pending = false, reparse_pending = false, reparsing = false;
  std::function<void()> events_changed;
  // A reload (`reparse`: the configuration files are read again, on SIGHUP) or a re-derivation
  // for changed stored events, on a worker thread; the result is installed on the loop.
  std::function<void(bool)> start_derive = [&](bool reparse) {
    reloading = true;
    reparsing = reparse;
    const Day today = service.today();
    events_seen = store->events_revision();  // before reading them: a later change is seen again
    auto events = std::make_shared<std::vector<EventRecord>>(store->events());
    const auto t_start = SteadyClock::now();
    // The snapshot being served lends the blocks of unchanged organisations.
    reload_worker.post([&, today, reparse, events, t_start, previous = service.snapshot_ptr(),
                        base = reparse ? nullptr : base_config,
                        reminders = reminder_data]() mutable -> Worker::Answer {
      auto loaded = std::make_shared<Loaded>(load(opt, today, load_cache, previous.get(), *events,
                                                  std::move(base), std::move(reminders)));
      previous.reset();
      return [&, loaded, reparse, t_start, events] {
        reloading = false;
        if (stopping) return;
        for (const auto& line : loaded->skipped_events) log(4, line);
        if (!loaded->snapshot) {
          for (const auto& e : loaded->errors) log(3, "reload failed: " + e);
          log(3, "reload failed; still serving the previous configuration");
          service.reload_failed();
          sd::notify("READY=1\nSTATUS=reload failed; serving the previous configuration");
        } else {
          try {
            const auto t0 = SteadyClock::now();
            service.install(loaded->snapshot, reparse ? "config.reload" : "events.change");
            scheduler.install(loaded->snapshot, loaded->reminders);
            flagger.install(loaded->snapshot, loaded->reminders);
            base_config = loaded->base;
            reminder_data = loaded->reminders;
            std::unordered_set<std::string> now_live;
            std::vector<std::string> added;
            Day earliest = service.today();
            for (const EventRecord& e : *events) {
              now_live.insert(e.occurrence);
              if (!event_occurrences.count(e.occurrence))
                added.push_back(e.occurrence), earliest = std::min(earliest, e.date);
            }
            event_occurrences = std::move(now_live);
            // Steps of a new event's duty that fell between the event and now are caught up.
            scheduler.catch_up(added, notify::to_unix({earliest, 0}, offset));
            if (reparse) service.reload_succeeded();
            loaded->snapshot.reset();
            malloc_trim(0);  // the previous snapshot and the diff texts are gone
            if (reparse) {
              log(6, "reloaded: parsed in " + fixed(loaded->parse_seconds) + " s (" +
                         std::to_string(loaded->files_parsed) + " changed file(s) parsed, " +
                         std::to_string(loaded->files_reused) + " unchanged), derived in " +
                         fixed(loaded->derive_seconds) + " s, stored in " +
                         fixed(seconds_since(t0)) + " s");
              sd::notify("READY=1\nSTATUS=serving (reloaded)");
            } else {
              log(6, "events changed: derived in " + fixed(loaded->derive_seconds) +
                         " s, stored in " + fixed(seconds_since(t0)) + " s, " +
                         fixed(seconds_since(t_start)) + " s after the change was seen");
            }
          } catch (const std::exception& e) {
            log(3, std::string(reparse ? "reload" : "re-derivation for changed events") +
                       " failed while storing: " + e.what());
            if (reparse) {
              service.reload_failed();
              sd::notify("READY=1\nSTATUS=reload failed; serving the previous configuration");
            }
          }
        }
        if (reparse_pending) {
          reparse_pending = false, events_pending = false;
          sd::notify("RELOADING=1\nSTATUS=reloading configuration");
          log(6, "reloading " + opt.config_path);
          start_derive(true);  // reads the events again too
        } else if (events_pending) {
          events_pending = false;
          events_changed();
        }
      };
    });
  };
  events_changed = [&] {
    if (stopping) return;
    if (reloading) {
      events_pending = true;
    } else if (store->events_revision() != events_seen) {
      log(6, "events recorded at run time changed; deriving again");
      start_derive(false);
    }
  };
  service.on_events_changed([&] { events_changed(); });
  // The CLI commits to the same database: one stat() of the WAL a second, and a query only
  // when it changed.
  net::steady_timer events_poll(io);
  FileStamp events_stamp = FileStamp::of(db_path + "-wal");
  std::function<void()> poll_events;
  poll_events = [&] {
    events_poll.expires_after(std::chrono::seconds(1));
    events_poll.async_wait([&](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      const FileStamp now_stamp = FileStamp::of(db_path + "-wal");
      if (!(now_stamp == events_stamp)) {
        events_stamp = now_stamp;
        try {
          events_changed();
        } catch (const std::exception& e) {
          log(3, std::string("cannot read the stored events: ") + e.what());
        }
      }
      poll_events();
    });
  };
  poll_events();
  wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        if (reloading && !reparsing && !stopping) {
          reparse_pending = true;  // after the derivation for changed events
          log(6, "SIGHUP: reloading after the running derivation for changed events");
        } else if (reloading || stopping) {
          log(4, "reload already in progress; SIGHUP ignored");
        } else {
          sd::notify("RELOADING=1\nSTATUS=reloading configuration");
          log(6, "reloading " + opt.config_path);
          start_derive(true);
        }
      } else {
        stopping = true;
        log(6, "stopping");
        sd::notify("STOPPING=1\nSTATUS=stopping");
        server.stop();
        scheduler.stop();
        flagger.stop();
        signals.cancel();
        watchdog.cancel();
        daily.cancel();
        events_poll.cancel();
        return;
      }
      wait_signal();
    });
  };
  wait_signal();

  // Watchdog pings come from the loop thread, so a stuck loop is noticed.
  std::function<void()> ping;
  if (auto interval = sd::watchdog_ping_interval()) {
    ping = [&, interval] {
      sd::notify("WATCHDOG=1");
      watchdog.expires_after(*interval);
      watchdog.async_wait([&](const boost::system::error_code& ec) {
        if (!ec && !stopping) ping();
      });
    };
    ping();
  }
  // Re-derive at the turn of the year so the horizon moves (and "today" changes feeds daily,
  // which the feed cache keys on). One timer per day: no periodic scans.
  std::function<void()> arm_daily;
  arm_daily = [&] {
    const std::int64_t now = clock.now();
    const std::int64_t next_midnight = (std::int64_t{service.today()} + 1) * 86400 - offset + 5;
    daily.expires_after(std::chrono::seconds(std::max<std::int64_t>(1, next_midnight - now)));
    daily.async_wait([&](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      if (civil(service.today()).year != service.snapshot().horizon_year()) {
        log(6, "new year: moving the horizon");
        ::kill(::getpid(), SIGHUP);
      }
      arm_daily();
    });
  };
  arm_daily();

  const auto ep = server.endpoint();
  log(6, "dutyd listening on " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
             ", database " + db_path + "; ready " + fixed(seconds_since(started)) +
             " s after start");
  sd::notify("READY=1\nSTATUS=serving " + std::to_string(service.snapshot().occurrence_count()) +
             " occurrences");
  scheduler.start();
  flagger.start();
  io.run();
  log(6, "stopped");
  return 0;
}

}  // namespace dutyd
