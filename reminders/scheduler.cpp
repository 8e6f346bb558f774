#include "reminders/scheduler.hpp"

#include <algorithm>
#include <chrono>

#include "reminders/scheduler_internal.hpp"

namespace dutyd {

using namespace scheduling;

namespace {

constexpr std::size_t kClaimBatch = 1024;     // rows claimed per channel at a time (no rate limit)
constexpr std::int64_t kIdleWakeMs = 60'000;  // wake at least this often (planning, new rows)

}  // namespace

Scheduler::Scheduler(net::io_context& io, Store& store, Clock clock, std::string link_key,
                     LogFn log, SchedulerOptions options)
    : io_(io),
      store_(store),
      clock_(clock),
      link_key_(std::move(link_key)),
      log_(std::move(log)),
      options_(std::move(options)),
      timer_(io),
      flush_timer_(io),
      writer_(io, store.path(),
              [this](const std::string& what) { log_(3, "reminders: store writer: " + what); }),
      planner_writer_(io, store.path(), [this](const std::string& what) {
        log_(3, "reminders: planning: " + what);
      }) {
  for (unsigned i = 0; i < std::max(1u, options_.workers); ++i)
    multis_.push_back(std::make_unique<notify::CurlMulti>());
  for (unsigned i = 0; i < std::max(1u, options_.workers); ++i)
    workers_.emplace_back([this, i] { worker_loop(i); });
}

// The store writers drain as members: a plan being computed stops early (cancel_), writes still
// queued are made (their answers are not handled: the loop has ended).
Scheduler::~Scheduler() {
  cancel_ = true;
  {
    std::lock_guard lock(mutex_);
    pool_stop_ = true;
  }
  cv_.notify_all();
  for (const auto& m : multis_) m->wakeup();
  for (std::thread& t : workers_) t.join();
}

// Claimed rows that will not be sent now (stop, a channel gone or unavailable) are no longer
// claimed: on the store writer, whose connection holds the claims.
void Scheduler::release(std::vector<std::int64_t> ids) {
  writer_.post([this, ids = std::move(ids)](Store& db) -> Worker::Answer {
    try {
      db.release_deliveries(ids);
      return {};
    } catch (const std::exception& e) {
      // They stay claimed: the next start queues them again.
      return [this, what = std::string(e.what())] {
        log_(3, "reminders: cannot release claimed rows: " + what);
      };
    }
  });
}

std::int64_t Scheduler::now_ms() const {
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return wall.count() + clock_.offset_seconds * 1000;
}

void Scheduler::install(std::shared_ptr<const Snapshot> snapshot,
                        std::shared_ptr<const ReminderData> data) {
  snapshot_ = std::move(snapshot);
  data_ = std::move(data);
  const Config& c = snapshot_->config();
  utc_offset_ = utc_offset_of(c.timezone, clock_.now());
  planner_ = std::make_unique<notify::ReminderPlanner>(
      c, notify::ScheduleContext{data_->calendar, c.reminders.quiet, utc_offset_});
  reach_ = notify::plan_reach(c);
  channels_ = load_channels(c);
  unavailable_.clear();
  email_channel_.clear();
  for (const auto& [id, ch] : channels_) {
    if (!ch->available()) {
      unavailable_.push_back(id);
      log_(4,
           "channel " + id + " cannot send: " + ch->problem + "; its reminders wait in the outbox");
    } else if (ch->channel.kind == ChannelKind::email && email_channel_.empty()) {
      email_channel_ = id;
    }
  }
  // Claimed rows of a channel that is gone or now unavailable go back to the queue.
  for (auto it = pending_.begin(); it != pending_.end();) {
    const auto ch = channels_.find(it->first);
    if (ch != channels_.end() && ch->second->available()) {
      ++it;
      continue;
    }
    std::vector<std::int64_t> ids;
    for (const DeliveryRecord& r : it->second) ids.push_back(r.id);
    release(std::move(ids));
    it = pending_.erase(it);
  }
  if (!started_) return;
  // The period already planned, again with the new configuration: new recipients and steps get
  // their rows; rows the configuration no longer plans are cancelled when they come due.
  if (planning_) {
    replan_wanted_ = true;
  } else if (planned_until_ > clock_.now()) {
    launch_plan({{clock_.now(), planned_until_, false}}, 0, false);
  }
  tick();
}

void Scheduler::start() {
  started_ = true;
  const std::int64_t now = clock_.now();
  if (const std::size_t n = store_.requeue_interrupted_deliveries(now))
    log_(4, std::to_string(n) + " reminder(s) interrupted by the last stop will be sent again");
  const std::int64_t until = notify::to_unix({local_day(now, utc_offset_) + 2, 0}, utc_offset_);
  std::vector<PlanRange> ranges;
  const auto stored = store_.meta(kPlannedUntil);
  if (!stored) {
    // A first start sends nothing for steps that were due before it: a new deployment must not
    // flood officials with a year of overdue escalations.
    log_(6, "reminders: first start; planning from now on");
    ranges.push_back({now, until, false});
  } else {
    const std::int64_t planned = std::stoll(*stored);
    if (planned < now) {
      log_(6, "reminders: catching up since " + iso_utc(planned));
      ranges.push_back({planned, now, true});
    }
    if (until > std::max(planned, now)) ranges.push_back({std::max(planned, now), until, false});
  }
  planned_until_ = stored ? std::stoll(*stored) : now;
  // Nothing is sent before this first plan has been written and the missed steps coalesced.
  launch_plan(std::move(ranges), until, true);
}

std::string Scheduler::metrics() {
  std::string m =
      "# HELP dutyd_deliveries_total Reminder deliveries since start, by result.\n"
      "# TYPE dutyd_deliveries_total counter\n";
  const std::pair<const char*, std::uint64_t> results[] = {{"sent", counters_.sent},
                                                           {"retried", counters_.retried},
                                                           {"failed", counters_.failed},
                                                           {"cancelled", counters_.cancelled}};
  for (const auto& [name, n] : results)
    m += "dutyd_deliveries_total{result=\"" + std::string(name) + "\"} " + std::to_string(n) + "\n";
  m += "# HELP dutyd_deliveries_planned_total Outbox rows written by planning since start.\n"
       "# TYPE dutyd_deliveries_planned_total counter\ndutyd_deliveries_planned_total " +
       std::to_string(counters_.planned) + "\n";
  std::size_t due = 0;
  try {
    for (const auto& [channel, n] : store_.due_by_channel(clock_.now())) due += n;
  } catch (const std::exception&) {
  }
  m += "# HELP dutyd_deliveries_due Queued rows whose time has come (waiting for a worker, a "
       "rate-limit slot or a credential).\n"
       "# TYPE dutyd_deliveries_due gauge\ndutyd_deliveries_due " +
       std::to_string(due) + "\n";
  m += "# HELP dutyd_channels_unavailable Channels that cannot send (a credential is missing).\n"
       "# TYPE dutyd_channels_unavailable gauge\ndutyd_channels_unavailable " +
       std::to_string(unavailable_.size()) + "\n";
  return m;
}

void Scheduler::stop() {
  stopping_ = true;
  cancel_ = true;  // a plan being computed stops early; what it wrote stays
  timer_.cancel();
  std::vector<std::int64_t> ids;
  for (auto& [id, rows] : pending_)
    for (const DeliveryRecord& r : rows) ids.push_back(r.id);
  pending_.clear();
  {
    std::lock_guard lock(mutex_);
    for (const Job& j : jobs_) ids.push_back(j.row.id);
    in_flight_ -= jobs_.size();
    jobs_.clear();
  }
  if (!ids.empty()) release(std::move(ids));
  flush_results();  // what was sent is recorded now, not sent again after the restart
  if (in_flight_ == 0) work_.reset();
}

void Scheduler::tick() {
  if (!started_ || stopping_) return;
  if (!ready_) return;  // the first plan is still being written
  try {
    plan_ahead();
    claim();
    pump();
    schedule_wake();
  } catch (const std::exception& e) {
    // The store is busy or full: try again shortly rather than lose the loop.
    log_(3, std::string("reminders: ") + e.what() + "; trying again in 5 s");
    arm(now_ms() + 5000);
  }
}

// The claim is a committed transaction on the store writer (durable before anything is sent);
// its rows join the channel's queue in on_claimed(). One claim per channel at a time.
void Scheduler::claim_channel(const std::string& channel, std::int64_t now) {
  if (claiming_.count(channel)) return;
  const auto held = pending_.find(channel);
  const std::size_t have = held == pending_.end() ? 0 : held->second.size();
  const auto ch = channels_.find(channel);
  std::size_t want = 0;
  if (ch != channels_.end() && rate_limited(ch->second->channel.kind)) {
    // A robot holds at most its next minute's worth (claimed rows are in flight), topped up
    // when half of it is gone.
    constexpr std::size_t kRobotClaim = 20;
    if (have >= kRobotClaim / 2) return;
    want = kRobotClaim - have;
  } else {
    // Other channels claim the next batch while a whole one is still in hand: the claim's commit
    // (an fsync) must never leave the workers idle.
    if (have >= kClaimBatch) return;
    want = kClaimBatch;
  }
  claiming_.insert(channel);
  // Claims go before queued result batches (urgent): the workers wait for the first, nobody for
  // the second (their order does not matter: a claim takes only queued rows, a result changes
  // only the rows it names).
  writer_.post(
      [this, channel, now, want](Store& db) -> Worker::Answer {
        try {
          auto rows = std::make_shared<std::vector<DeliveryRecord>>(
              db.claim_due_deliveries(now, want, channel));
          return [this, channel, want, rows] { on_claimed(channel, want, std::move(*rows)); };
        } catch (const std::exception& e) {
          return [this, channel, what = std::string(e.what())] {
            // The store is busy: the rows stay queued; tick() claims them again.
            claiming_.erase(channel);
            more_due_.erase(channel);
            log_(3, "reminders: cannot claim due rows: " + what + "; trying again in 5 s");
            arm(now_ms() + 5000);
          };
        }
      },
      /*urgent=*/true);
}

void Scheduler::on_claimed(const std::string& channel, std::size_t wanted,
                           std::vector<DeliveryRecord> rows) {
  claiming_.erase(channel);
  const auto ch = channels_.find(channel);
  if (stopping_ || ch == channels_.end() || !ch->second->available()) {
    // Stopped, or the channel went away meanwhile (install()): the rows go back to the queue.
    more_due_.erase(channel);
    if (rows.empty()) return;
    std::vector<std::int64_t> ids;
    for (const DeliveryRecord& r : rows) ids.push_back(r.id);
    release(std::move(ids));
    return;
  }
  // A full batch: there may be more, claimed when this one runs low (without counting again).
  if (rows.size() == wanted)
    more_due_.insert(channel);
  else
    more_due_.erase(channel);
  if (!rows.empty()) {
    auto& queue = pending_[channel];
    for (DeliveryRecord& r : rows) queue.push_back(std::move(r));
  }
  try {
    pump();
    schedule_wake();
  } catch (const std::exception& e) {
    log_(3, std::string("reminders: ") + e.what() + "; trying again in 5 s");
    arm(now_ms() + 5000);
  }
}

// Which channels have due rows: one grouped count, on timer ticks only; while a burst drains,
// flush_results() refills the channels that had a full batch.
void Scheduler::claim() {
  const std::int64_t now = clock_.now();
  for (const auto& [channel, count] : store_.due_by_channel(now)) {
    const auto ch = channels_.find(channel);
    if (ch != channels_.end() && !ch->second->available()) continue;
    claim_channel(channel, now);
  }
}

// Channels whose last claim was a full batch get the next one as soon as their rows in hand run
// low, not only when results are written: the workers never wait for the flush timer.
void Scheduler::refill() {
  if (more_due_.empty()) return;
  try {
    const std::int64_t now = clock_.now();
    for (const std::string& channel : std::vector<std::string>(more_due_.begin(), more_due_.end()))
      claim_channel(channel, now);
  } catch (const std::exception& e) {
    // The store is busy: the rows stay queued; tick() claims them again.
    log_(3, std::string("reminders: cannot claim due rows: ") + e.what() + "; trying again in 5 s");
    more_due_.clear();
    arm(now_ms() + 5000);
  }
}

void Scheduler::pump() {
  // Handed to the workers and not yet answered. Claimed rows are in flight in the store either
  // way; a crash re-sends only those actually transmitted and not yet recorded.
  // Twice what the workers can have going: the next jobs wait for them in the queue.
  const std::size_t max_in_flight = 2 * kTransfersPerWorker * workers_.size();
  refill();
  limit_wake_ = 0;
  std::size_t handed = 0;
  std::vector<Result> done_here;  // written to the log: no worker needed
  for (auto& [channel, queue] : pending_) {
    if (queue.empty()) continue;
    const auto ch = channels_.find(channel);
    while (!queue.empty() && in_flight_ < max_in_flight) {
      notify::SlidingWindowLimiter* limiter = nullptr;
      const std::int64_t t = steady_ms();
      if (ch != channels_.end() && rate_limited(ch->second->channel.kind)) {
        limiter = &limits_.of(channel, wire_kind(ch->second->channel.kind));
        if (const std::int64_t slot = limiter->next_slot(t); slot > t) {
          const std::int64_t at = now_ms() + (slot - t);
          limit_wake_ = limit_wake_ ? std::min(limit_wake_, at) : at;
          break;
        }
      }
      DeliveryRecord row = std::move(queue.front());
      queue.pop_front();
      std::optional<Job> job = prepare(row);
      if (!job) continue;  // cancelled inside prepare: no slot used
      if (limiter) limiter->try_acquire(t);
      if (job->envelope.channel->channel.kind == ChannelKind::log) {
        if (job->undescribed) {
          job->undescribed = false;
          if (auto why = describe(*job, *planner_)) {
            add_result({std::move(job->row),
                        {Outcome::permanent, std::nullopt, "cancel:" + *why},
                        now_ms()});
            continue;
          }
        }
        render(*job);
        std::string text = job->envelope.chat;  // one log line: journald splits at newlines
        std::replace(text.begin(), text.end(), '\n', ' ');
        log_(6, "提醒[" + channel + "] 致 " + job->envelope.to.name + "：" + job->envelope.subject +
                    " — " + text);
        done_here.push_back(
            {std::move(job->row), {Outcome::ok, std::nullopt, "written to the log"}, now_ms()});
        continue;
      }
      ++in_flight_;
      if (!work_) work_.emplace(net::make_work_guard(io_));
      {
        std::lock_guard lock(mutex_);
        // A robot's message goes out right after its slot: ahead of the queue.
        if (limiter)
          jobs_.push_front(std::move(*job));
        else
          jobs_.push_back(std::move(*job));
      }
      ++handed;
    }
  }
  if (handed) {
    cv_.notify_all();
    for (const auto& m : multis_) m->wakeup();  // a worker waiting for answers takes them too
  }
  std::erase_if(pending_, [](const auto& p) { return p.second.empty(); });
  for (Result& r : done_here) add_result(std::move(r));
}

// The timer: the next rate-limit slot, else (nothing in hand) the next due row; at least once a
// minute for planning.
void Scheduler::schedule_wake() {
  std::int64_t wake = now_ms() + kIdleWakeMs;
  if (limit_wake_) wake = std::min(wake, limit_wake_);
  if (in_flight_ == 0 && pending_.empty() && claiming_.empty()) {
    if (const auto next = store_.next_due(unavailable_))
      wake = std::min(wake, std::max(*next * 1000, now_ms() + 50));
  }
  arm(wake);
}

void Scheduler::arm(std::int64_t wake_ms) {
  if (stopping_) return;
  const std::int64_t delay = std::max<std::int64_t>(0, wake_ms - now_ms());
  timer_.expires_after(std::chrono::milliseconds(delay));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

}  // namespace dutyd
