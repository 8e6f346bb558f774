#include "reminders/scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "calendar/flags.hpp"
#include "config/escalation.hpp"

namespace dutyd {
namespace {

using notify::Outcome;

constexpr const char* kPlannedUntil = "reminders.planned_until";
constexpr std::size_t kClaimBatch = 1024;  // rows claimed per channel at a time (no rate limit)
// Each batch costs an fsync'd commit (5-10 ms on a busy disk), on the store writer; results
// that come while one is written go together in the next.
constexpr std::size_t kFlushBatch = 1024;        // results written at once ...
constexpr int kFlushDelayMs = 20;                // ... or this long after the first of them
constexpr std::int64_t kIdleWakeMs = 60'000;     // wake at least this often (planning, new rows)
constexpr std::size_t kTransfersPerWorker = 16;  // HTTP transfers a worker keeps going at once

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool rate_limited(ChannelKind k) {
  return k == ChannelKind::wecom || k == ChannelKind::dingtalk || k == ChannelKind::feishu;
}

std::string relation_text(const std::string& name) {
  try {
    return std::string(relation_zh(parse_relation(name)));
  } catch (const std::invalid_argument&) {
    return name;
  }
}

std::string domain_of(const std::string& address) {
  const auto at = address.find('@');
  return at == std::string::npos ? "dutyd.invalid" : address.substr(at + 1);
}

// The alert row's note: what failed, for whom and what was done instead.
struct AlertNote {
  std::string channel, recipient, fallback, problem;
};
std::string pack(const AlertNote& n) {
  return n.channel + '\t' + n.recipient + '\t' + n.fallback + '\t' + n.problem;
}
AlertNote unpack(const std::string& s) {
  AlertNote n;
  std::string* fields[] = {&n.channel, &n.recipient, &n.fallback, &n.problem};
  std::size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    const auto tab = i < 3 ? s.find('\t', start) : std::string::npos;
    *fields[i] = s.substr(start, tab == std::string::npos ? std::string::npos : tab - start);
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return n;
}

// What a flag's notice says, names from the configuration being served (ids of people and
// organisations it no longer has).
notify::FlagFacts flag_facts(const Config& c, const FlagRecord& flag, const std::string& name,
                             const std::string& relation) {
  notify::FlagFacts f;
  f.name = name;
  f.relation = relation;
  f.org = flag_org_name(c, flag.org);
  f.citation = flag.citation;
  f.title = flag.title;
  if (const Obligation* ob = c.find_obligation(flag.obligation)) f.quote = ob->quote;
  f.due = format_day(flag.due);
  f.days_late = flag.days_late;
  f.art27 = citation(27, flag.art27);
  f.art27_clause = flag.art27_clause;
  f.scope = flag.scope == "collective" ? "集体责任" : "个人责任";
  f.responsible = flag_responsible_text(c, flag);
  f.team = flag_team_text(c, flag);
  f.severity = std::string(flag_severity_zh(flag.severity));
  f.severity_reason = flag.severity_reason;
  f.measures = flag.suggested_measures;
  f.flag_id = flag.id;
  return f;
}

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
      writer_store_(std::make_unique<Store>(store.path())) {
  for (unsigned i = 0; i < std::max(1u, options_.workers); ++i)
    multis_.push_back(std::make_unique<notify::CurlMulti>());
  for (unsigned i = 0; i < std::max(1u, options_.workers); ++i)
    workers_.emplace_back([this, i] { worker_loop(i); });
  writer_ = std::thread([this] { writer_loop(); });
}

Scheduler::~Scheduler() {
  cancel_ = true;
  if (planning_thread_.joinable()) planning_thread_.join();
  {
    std::lock_guard lock(mutex_);
    pool_stop_ = true;
  }
  cv_.notify_all();
  for (const auto& m : multis_) m->wakeup();
  for (std::thread& t : workers_) t.join();
  // Writes still queued are made (their answers are not handled: the loop has ended).
  {
    std::lock_guard lock(writer_mutex_);
    writer_stop_ = true;
  }
  writer_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void Scheduler::submit(bool urgent, WriteTask task) {
  ++writes_pending_;
  if (!write_work_) write_work_.emplace(net::make_work_guard(io_));
  {
    std::lock_guard lock(writer_mutex_);
    // Claims go before queued result batches: the workers wait for the first, nobody for the
    // second (their order does not matter: a claim takes only queued rows, a result changes
    // only the rows it names).
    if (urgent)
      writes_.push_front(std::move(task));
    else
      writes_.push_back(std::move(task));
  }
  writer_cv_.notify_one();
}

// Claimed rows that will not be sent now (stop, a channel gone or unavailable) are no longer
// claimed: on the store writer, whose connection holds the claims.
void Scheduler::release(std::vector<std::int64_t> ids) {
  submit(/*urgent=*/false, [this, ids = std::move(ids)](Store& db) -> std::function<void()> {
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

void Scheduler::writer_loop() {
  for (;;) {
    WriteTask task;
    {
      std::unique_lock lock(writer_mutex_);
      writer_cv_.wait(lock, [&] { return writer_stop_ || !writes_.empty(); });
      if (writes_.empty()) return;  // stopping and nothing left
      task = std::move(writes_.front());
      writes_.pop_front();
    }
    std::function<void()> then;
    try {
      then = task(*writer_store_);
    } catch (const std::exception& e) {
      then = [this, what = std::string(e.what())] { log_(3, "reminders: store writer: " + what); };
    }
    net::post(io_, [this, then = std::move(then)] {
      try {
        if (then) then();
      } catch (const std::exception& e) {
        log_(3, std::string("reminders: ") + e.what());
      }
      if (--writes_pending_ == 0) write_work_.reset();
    });
  }
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

// Runs on the planning thread: everything it reads is immutable (snapshot, reminder data) or
// its own (planner, store connection).
std::vector<OutboxEntry> Scheduler::plan_entries(const Snapshot& snapshot,
                                                 const notify::ReminderPlanner& planner,
                                                 notify::PlanReach reach, std::int32_t utc_offset,
                                                 const PlanRange& range,
                                                 const std::atomic<bool>& cancel) {
  const Config& c = snapshot.config();
  const Expander& ex = snapshot.expander();
  const Day first = local_day(range.from, utc_offset) - reach.after;
  const Day last = local_day(range.until, utc_offset) + reach.before;
  notify::ReminderPlan plan;
  std::vector<const Occurrence*> subjects;
  snapshot.for_each_occurrence([&](const Occurrence& o, const Expansion&) {
    if (o.due < first || o.due > last || cancel.load(std::memory_order_relaxed)) return;
    const notify::ReminderSubject s{o.obligation,  o.org,          o.person,
                                    o.member >= 0, o.window_start, o.due};
    planner.plan(s, static_cast<std::uint32_t>(subjects.size()), range.from, range.until, plan);
    subjects.push_back(&o);
  });
  std::vector<OutboxEntry> entries;
  entries.reserve(plan.deliveries.size());
  for (const notify::PlannedDelivery& d : plan.deliveries) {
    const Occurrence& o = *subjects[d.occurrence];
    const Obligation& ob = c.obligations[static_cast<std::size_t>(o.obligation)];
    OutboxEntry e;
    e.occurrence = ex.uid(o);
    e.step = d.step;
    e.person = c.persons[static_cast<std::size_t>(d.person)].id;
    e.channel = c.channels[static_cast<std::size_t>(d.channel)].id;
    e.org = c.orgs[static_cast<std::size_t>(o.org)].id;
    e.relation = std::string(relation_name(d.relation));
    e.send_at = d.send_at;
    e.subject = citation(ob.article, ob.item) + " " + ex.title(o) + " 截止" + format_day(o.due);
    entries.push_back(std::move(e));
  }
  return entries;
}

// Planning a province's day takes seconds (about 150,000 rows on a -7d day), so it runs on its
// own thread with its own store connection; the loop goes on serving and sending meanwhile.
void Scheduler::launch_plan(std::vector<PlanRange> ranges, std::int64_t new_planned_until,
                            bool initial) {
  if (joinable_planner()) planning_thread_.join();
  planning_ = true;
  plan_work_.emplace(net::make_work_guard(io_));
  planning_thread_ = std::thread([this, ranges = std::move(ranges), new_planned_until, initial,
                                  snapshot = snapshot_, data = data_, reach = reach_,
                                  offset = utc_offset_, path = store_.path(), now = clock_.now()] {
    auto result = std::make_shared<PlanResult>();
    result->new_planned_until = new_planned_until;
    result->initial = initial;
    try {
      const Config& c = snapshot->config();
      const notify::ReminderPlanner planner(
          c, notify::ScheduleContext{data->calendar, c.reminders.quiet, offset});
      Store store(path);
      for (const PlanRange& r : ranges) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<OutboxEntry> entries =
            plan_entries(*snapshot, planner, reach, offset, r, cancel_);
        if (r.only)
          std::erase_if(entries,
                        [&](const OutboxEntry& e) { return !r.only->count(e.occurrence); });
        if (cancel_) break;
        const Store::Enqueued e = entries.empty()
                                      ? Store::Enqueued{}
                                      : store.enqueue_deliveries(entries, now, r.catch_up);
        result->added += e.added;
        char took[32];
        std::snprintf(took, sizeof took, "%.2f",
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        result->lines.push_back(
            "reminders planned " + iso_utc(r.from) + " to " + iso_utc(r.until) + ": " +
            std::to_string(entries.size()) + " planned, " + std::to_string(e.added) + " new" +
            (e.superseded ? ", " + std::to_string(e.superseded) + " superseded" : std::string()) +
            " in " + took + " s");
      }
      // Rows missed while stopped: only the latest step per recipient and channel goes out.
      if (initial && !cancel_)
        if (const std::size_t n = store.coalesce_due_deliveries(now))
          result->lines.push_back("reminders: " + std::to_string(n) +
                                  " missed earlier step(s) superseded by a later one");
    } catch (const std::exception& e) {
      result->error = e.what();
    }
    net::post(io_, [this, result] { on_planned(*result); });
  });
}

void Scheduler::on_planned(const PlanResult& r) {
  planning_thread_.join();
  planning_ = false;
  plan_work_.reset();
  if (stopping_) return;
  for (const std::string& line : r.lines) log_(6, line);
  if (!r.error.empty()) {
    // The database is busy or full: keep what was planned before and try again in a minute.
    log_(3, "reminders: planning failed: " + r.error + "; trying again in 60 s");
    plan_retry_at_ = clock_.now() + 60;
    if (r.initial) ready_ = true;  // rows already in the outbox still go out
    arm(now_ms() + 60'000);
    return;
  }
  counters_.planned += r.added;
  if (r.new_planned_until > planned_until_) {
    planned_until_ = r.new_planned_until;
    store_.set_meta(kPlannedUntil, std::to_string(planned_until_));
  }
  if (r.initial) {
    ready_ = true;
    log_(6, "reminders: planned through " + iso_utc(planned_until_) + "; sending");
  }
  std::vector<PlanRange> next;
  if (!catch_up_wanted_.empty()) {
    next.push_back(
        {catch_up_from_, clock_.now(), true,
         std::make_shared<const std::unordered_set<std::string>>(std::move(catch_up_wanted_))});
    catch_up_wanted_.clear();
  }
  if (replan_wanted_) {
    replan_wanted_ = false;
    if (planned_until_ > clock_.now()) next.push_back({clock_.now(), planned_until_, false});
  }
  if (!next.empty()) launch_plan(std::move(next), 0, false);
  tick();
}

void Scheduler::catch_up(const std::vector<std::string>& occurrences, std::int64_t from) {
  if (occurrences.empty() || stopping_) return;
  catch_up_from_ = catch_up_wanted_.empty() ? from : std::min(catch_up_from_, from);
  catch_up_wanted_.insert(occurrences.begin(), occurrences.end());
  // Before start() the start's own plan covers them; while a plan runs, on_planned() follows up.
  if (!started_ || planning_) return;
  const std::int64_t now = clock_.now();
  launch_plan(
      {{std::min(catch_up_from_, now), now, true,
        std::make_shared<const std::unordered_set<std::string>>(std::move(catch_up_wanted_))}},
      0, false);
  catch_up_wanted_.clear();
}

// Rows are written through the end of the next local day, and again each time less than half
// a day is left.
void Scheduler::plan_ahead() {
  const std::int64_t now = clock_.now();
  if (planning_ || now < plan_retry_at_ || planned_until_ - now > 12 * 3600) return;
  const std::int64_t until = notify::to_unix({local_day(now, utc_offset_) + 2, 0}, utc_offset_);
  launch_plan({{std::max(planned_until_, now), until, false}}, until, false);
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
  submit(/*urgent=*/true, [this, channel, now, want](Store& db) -> std::function<void()> {
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
  });
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

namespace {
// Who an envelope goes to: the person's mailbox and, on a chat channel, the mention.
void address(Envelope& env, const Person& p) {
  env.to = {p.name, p.email};
  if (!env.channel->channel.chat()) return;
  notify::Mention who;
  who.name = p.name;
  who.wecom_userid = p.wecom;
  who.mobile = p.mobile;
  who.dingtalk_userid = p.dingtalk;
  who.feishu_open_id = p.feishu;
  if (!who.wecom_userid.empty() || !who.mobile.empty() || !who.dingtalk_userid.empty() ||
      !who.feishu_open_id.empty())
    env.mentions.push_back(std::move(who));
}
}  // namespace

std::optional<Scheduler::Job> Scheduler::prepare(DeliveryRecord& row) {
  const Config& c = snapshot_->config();
  auto cancel = [&](const std::string& why) -> std::optional<Job> {
    add_result({row, {Outcome::permanent, std::nullopt, "cancel:" + why}, now_ms()});
    return std::nullopt;
  };
  const auto ch = channels_.find(row.channel);
  if (ch == channels_.end()) return cancel("channel " + row.channel + " is no longer configured");
  Job job;
  job.data = data_;
  job.snapshot = snapshot_;
  job.utc_offset = utc_offset_;
  job.now = clock_.now();
  Envelope& env = job.envelope;
  env.id = row.id;
  env.channel = ch->second;
  env.message_id = notify::make_message_id(
      "dutyd." + std::to_string(row.id) + "." + std::to_string(row.attempts),
      domain_of(ch->second->channel.from));

  if (row.purpose != "alert" && row.purpose != "flag") {
    job.row = std::move(row);
    job.undescribed = true;
    // Reminders and fallbacks: the check against the current configuration and the facts are
    // made on a worker (describe(), with the worker's own planner of this snapshot), so that the
    // event loop's share per message stays small. A robot's row is checked here, before it
    // takes a rate-limit slot.
    if (!rate_limited(ch->second->channel.kind)) return job;
    job.undescribed = false;
    if (auto why = describe(job, *planner_)) {
      row = std::move(job.row);
      return cancel(*why);
    }
    return job;
  }

  const auto occ = snapshot_->find(row.occurrence);
  if (row.purpose == "alert") {
    const AlertNote note = unpack(row.note);
    notify::AlertFacts f;
    f.channel = note.channel;
    if (const auto fc = channels_.find(note.channel); fc != channels_.end())
      f.kind = to_string(fc->second->channel.kind);
    f.problem = note.problem;
    f.recipient = note.recipient;
    f.fallback = note.fallback;
    if (occ) {
      const Occurrence& o = **occ;
      f.org = c.orgs[static_cast<std::size_t>(o.org)].name;
      f.title = snapshot_->expander().title(o);
      f.due = format_day(o.due);
    }
    const notify::RenderedMessage m = notify::render_alert(data_->templates, f);
    env.subject = m.subject, env.body = m.body, env.chat = m.chat;
    env.to = {"dutyd 管理员",
              row.person.rfind("admin:", 0) == 0 ? row.person.substr(6) : std::string()};
    job.row = std::move(row);
    return job;
  }

  // A flag's notice: told whatever became of the occurrence since (a flag outlives a late
  // completion and a change of configuration), unless people dismissed the flag meanwhile.
  const auto pi = c.person_index.find(row.person);
  if (pi == c.person_index.end())
    return cancel("person " + row.person + " is no longer in the configuration");
  const Person& p = c.persons[static_cast<std::size_t>(pi->second)];
  const auto flag = store_.flag_of(row.occurrence);
  if (!flag) return cancel("the flag no longer exists");
  if (flag->status == "dismissed")
    return cancel("the flag was dismissed (撤销): " + flag->dismiss_reason);
  const notify::RenderedMessage m = notify::render_flag(
      data_->templates, flag_facts(c, *flag, p.name, relation_text(row.relation)));
  env.subject = m.subject, env.body = m.body, env.chat = m.chat;
  address(env, p);
  job.row = std::move(row);
  return job;
}

// A reminder or fallback as the job's configuration plans it (posts, ladders, channels,
// holidays): its facts and addressee, or why it is no longer wanted. Reads only the job's
// immutable snapshot and data and the caller's planner, so it runs on a worker.
std::optional<std::string> Scheduler::describe(Job& job, const notify::ReminderPlanner& planner) {
  const Snapshot& snapshot = *job.snapshot;
  const Config& c = snapshot.config();
  const DeliveryRecord& row = job.row;
  const Day today = local_day(job.now, job.utc_offset);
  const auto pi = c.person_index.find(row.person);
  if (pi == c.person_index.end())
    return "person " + row.person + " is no longer in the configuration";
  const Person& p = c.persons[static_cast<std::size_t>(pi->second)];
  const auto occ = snapshot.find(row.occurrence);
  if (!occ) return std::string("the occurrence is no longer in the configuration");
  const Occurrence& o = **occ;
  // A reminder no longer planned is cancelled; the others its step tells are "who else was told".
  notify::ReminderPlan check;
  const notify::ReminderSubject s{o.obligation,  o.org,          o.person,
                                  o.member >= 0, o.window_start, o.due};
  planner.plan(s, 0, row.send_at, row.send_at + 1, check);
  if (row.purpose == "reminder") {
    const bool planned =
        std::any_of(check.deliveries.begin(), check.deliveries.end(), [&](const auto& d) {
          return d.step == row.step &&
                 c.persons[static_cast<std::size_t>(d.person)].id == row.person &&
                 c.channels[static_cast<std::size_t>(d.channel)].id == row.channel;
        });
    if (!planned) return std::string("no longer planned by the configuration");
  }
  const Obligation& ob = c.obligations[static_cast<std::size_t>(o.obligation)];
  notify::ReminderFacts f;
  f.name = p.name;
  f.relation = relation_text(row.relation);
  f.responsible = o.person >= 0 ? c.persons[static_cast<std::size_t>(o.person)].name : "（空缺）";
  f.org = c.orgs[static_cast<std::size_t>(o.org)].name;
  f.citation = citation(ob.article, ob.item);
  f.title = snapshot.expander().title(o);
  f.quote = ob.quote;
  f.due = format_day(o.due);
  if (o.window_start != o.due) f.window_start = format_day(o.window_start);
  f.days_left = static_cast<int>(o.due - today);
  std::vector<std::int32_t> seen{pi->second};
  for (const notify::PlannedDelivery& d : check.deliveries) {
    if (d.step != row.step || std::find(seen.begin(), seen.end(), d.person) != seen.end()) continue;
    seen.push_back(d.person);
    f.others.push_back(c.persons[static_cast<std::size_t>(d.person)].name + "（" +
                       std::string(relation_zh(d.relation)) + "）");
  }
  f.step = row.step + 1;
  f.overdue = o.due < today;
  f.via_vacancy = o.person < 0 && (row.relation == "responsible" || row.relation == "principal");
  address(job.envelope, p);
  // Rendering and the link's HMAC follow in render().
  job.render = Render{std::move(f), c.daemon.public_url, row.occurrence, row.person,
                      job.now + std::int64_t{c.daemon.link_ttl_days} * 86400};
  return std::nullopt;
}

void Scheduler::render(Job& job) const {
  if (!job.render) return;
  Render& r = *job.render;
  r.facts.link = completion_link(r.public_url, link_key_, r.uid, r.person, r.link_expiry);
  // Only what the channel sends: e-mail the body, robots, webhooks and the log the chat text.
  const bool email = job.envelope.channel->channel.kind == ChannelKind::email;
  const notify::RenderedMessage m = notify::render_reminder(
      job.data->templates, r.facts, email ? notify::Parts::email : notify::Parts::chat);
  job.envelope.subject = m.subject, job.envelope.body = m.body, job.envelope.chat = m.chat;
  job.envelope.link = r.facts.link;
}

// Each worker keeps up to kTransfersPerWorker HTTP transfers going at once on its own CurlMulti and
// posts the results of each wake-up together: one poll answers many requests, and one hand-off
// each way serves a batch instead of a message (a burst is otherwise bound by thread wake-ups,
// not transfers). E-mail goes blocking, one message at a time (one SMTP session per channel).
void Scheduler::worker_loop(unsigned index) {
  ChannelSender sender(options_.transfer);
  notify::CurlMulti& multi = *multis_[index];
  struct Active {
    Job job;
    std::unique_ptr<notify::HttpTransfer> transfer;
  };
  std::map<CURL*, Active> active;
  // Signatures, timestamps and Date headers use the real clock: receivers check them against
  // theirs, also when the daemon runs "as if" at another time (--now).
  auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  // The worker's own planner for the re-check (the planner caches schedules: not shared),
  // made again when a job comes from another snapshot.
  std::unique_ptr<notify::ReminderPlanner> planner;
  std::shared_ptr<const Snapshot> planner_snapshot;
  std::shared_ptr<const ReminderData> planner_data;
  std::int32_t planner_offset = 0;
  for (;;) {
    std::vector<Job> batch;
    {
      std::unique_lock lock(mutex_);
      if (active.empty()) {
        cv_.wait(lock, [&] { return pool_stop_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping and nothing left
      }
      while (!jobs_.empty() && active.size() + batch.size() < kTransfersPerWorker) {
        batch.push_back(std::move(jobs_.front()));
        jobs_.pop_front();
      }
    }
    std::vector<Result> results;
    for (Job& job : batch) {
      if (job.undescribed) {
        job.undescribed = false;
        if (!planner || job.snapshot != planner_snapshot || job.data != planner_data ||
            job.utc_offset != planner_offset) {
          const Config& c = job.snapshot->config();
          planner = std::make_unique<notify::ReminderPlanner>(
              c, notify::ScheduleContext{job.data->calendar, c.reminders.quiet, job.utc_offset});
          planner_snapshot = job.snapshot, planner_data = job.data, planner_offset = job.utc_offset;
        }
        std::optional<std::string> why;
        try {
          why = describe(job, *planner);
        } catch (const std::exception& e) {
          why = std::string("cannot be described: ") + e.what();
        }
        if (why) {
          results.push_back(
              {std::move(job.row), {Outcome::permanent, std::nullopt, "cancel:" + *why}, now_ms()});
          continue;
        }
      }
      render(job);
      // E-mail, and robots (their rate-limit slot was taken just now: sent at once, in order).
      if (!ChannelSender::is_http(job.envelope) ||
          rate_limited(job.envelope.channel->channel.kind)) {
        results.push_back({std::move(job.row), sender.send(job.envelope, wall_ms()), now_ms()});
        continue;
      }
      notify::Verdict failed;
      std::unique_ptr<notify::HttpTransfer> t = sender.start(job.envelope, wall_ms(), failed);
      if (t) {
        try {
          multi.add(*t);
        } catch (const std::exception& e) {
          failed = {Outcome::permanent, std::nullopt, e.what()};
          t.reset();
        }
      }
      if (!t) {
        results.push_back({std::move(job.row), failed, now_ms()});
        continue;
      }
      CURL* handle = t->easy().get();
      active.emplace(handle, Active{std::move(job), std::move(t)});
    }
    if (!active.empty()) {
      // Waits for answers only when this batch brought nothing to post.
      for (const auto& [handle, code] : multi.run(results.empty() ? 1000 : 0)) {
        const auto it = active.find(handle);
        if (it == active.end()) continue;
        Active& a = it->second;
        const notify::Verdict v =
            sender.finish(a.job.envelope, std::move(a.transfer), code, wall_ms());
        results.push_back({std::move(a.job.row), v, now_ms()});
        active.erase(it);
      }
    }
    if (results.empty()) continue;
    net::post(io_, [this, results = std::move(results)]() mutable {
      in_flight_ -= results.size();
      for (Result& r : results) add_result(std::move(r));
      if (!stopping_) pump();  // keep the workers busy from the rows in hand, without the database
      if (stopping_ && in_flight_ == 0) work_.reset();
    });
  }
}

// Results are written when kFlushBatch have gathered or kFlushDelayMs after the first, whichever
// is sooner, or when the batch being written is done.
void Scheduler::add_result(Result r) {
  results_.push_back(std::move(r));
  if (recording_) return;  // written when the batch on the store writer is done (on_recorded())
  if (results_.size() >= kFlushBatch) {
    if (!flush_posted_) {
      flush_posted_ = true;
      net::post(io_, [this] { flush_results(); });
    }
  } else if (!flush_armed_ && !flush_posted_) {
    flush_armed_ = true;
    flush_timer_.expires_after(std::chrono::milliseconds(kFlushDelayMs));
    flush_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled by flush_results(), which cleared flush_armed_
      flush_armed_ = false;
      if (!flush_posted_) flush_results();
    });
  }
}

// Outcomes are written in one transaction per batch, on the store writer: a commit per message
// would cap sending at the disk's fsync rate. One batch at a time; results that come meanwhile
// are written together when it is done (on_recorded()).
void Scheduler::flush_results() {
  flush_posted_ = false;
  if (flush_armed_) {
    flush_armed_ = false;
    flush_timer_.cancel();
  }
  if (results_.empty() || recording_) return;
  auto rec = std::make_shared<Recording>();
  rec->batch.swap(results_);
  const std::int64_t now = clock_.now();
  rec->now = now;
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(-1.0, 1.0);
  for (std::size_t i = 0; i < rec->batch.size(); ++i) {
    const Result& r = rec->batch[i];
    DeliveryOutcome o;
    o.id = r.row.id;
    const std::string& detail = r.verdict.detail;
    if (r.verdict.outcome == Outcome::permanent && detail.rfind("cancel:", 0) == 0) {
      o.result = DeliveryOutcome::cancelled;
      o.error = detail.substr(7);
    } else if (r.verdict.outcome == Outcome::ok) {
      o.result = DeliveryOutcome::sent;
      o.at = r.finished_ms / 1000;
    } else if (r.verdict.outcome == Outcome::transient &&
               now - r.row.send_at < options_.give_up_after_seconds) {
      o.result = DeliveryOutcome::retry;
      o.error = detail;
      const int attempt = r.row.attempts + 1;
      std::int64_t wait_ms = notify::backoff_ms(attempt, jitter(rng));
      if (r.verdict.retry_after_seconds) {
        wait_ms = std::max(wait_ms, *r.verdict.retry_after_seconds * 1000);
        // The robot asked everyone to wait (429, busy, DingTalk's 10-minute block).
        if (const auto ch = channels_.find(r.row.channel);
            ch != channels_.end() && rate_limited(ch->second->channel.kind))
          limits_.of(r.row.channel, wire_kind(ch->second->channel.kind))
              .block_until(steady_ms() + *r.verdict.retry_after_seconds * 1000);
      }
      o.next_attempt_at = now + (wait_ms + 999) / 1000;
    } else {
      o.result = DeliveryOutcome::failed;
      o.error =
          r.verdict.outcome == Outcome::transient
              ? "gave up after " + std::to_string(r.row.attempts + 1) + " attempt(s): " + detail
              : detail;
      rec->permanent.push_back(i);
    }
    rec->outcomes.push_back(std::move(o));
  }
  recording_ = true;
  submit(/*urgent=*/false, [this, rec](Store& db) -> std::function<void()> {
    try {
      rec->applied = db.record_outcomes(rec->outcomes, rec->now);
    } catch (const std::exception& e) {
      rec->error = e.what();
    }
    return [this, rec] { on_recorded(*rec); };
  });
}

// On the loop, once a batch is durable: counters, log lines, fallbacks and alerts.
void Scheduler::on_recorded(Recording& rec) {
  recording_ = false;
  if (!rec.error.empty()) {
    // Rows stay claimed: the next start sends them again (a duplicate rather than a loss).
    log_(3, "reminders: cannot record delivery results: " + rec.error);
    if (!results_.empty()) flush_results();
    return;
  }
  const std::vector<DeliveryOutcome>& outcomes = rec.outcomes;
  const std::vector<bool>& applied = rec.applied;
  std::size_t sent_here = 0;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const DeliveryOutcome& o = outcomes[i];
    const DeliveryRecord& row = rec.batch[i].row;
    // Built only for the lines written: a burst's sent rows are counted, not named.
    auto what = [&] {
      return "delivery #" + std::to_string(row.id) + " (" + row.purpose + ", step " +
             std::to_string(row.step + 1) + ", " + row.channel + " → " + row.person + ")";
    };
    switch (o.result) {
      case DeliveryOutcome::sent:
        ++counters_.sent;
        ++sent_here;
        if (!applied[i]) log_(6, "sent " + what() + "; it had been cancelled meanwhile");
        break;
      case DeliveryOutcome::retry:
        ++counters_.retried;
        log_(4, what() + " failed for now (" + redact_error(o.error) + "); retrying at " +
                    iso_utc(o.next_attempt_at));
        break;
      case DeliveryOutcome::failed:
        ++counters_.failed;
        log_(3, what() + " failed permanently: " + redact_error(o.error));
        break;
      case DeliveryOutcome::cancelled:
        if (applied[i]) ++counters_.cancelled;
        log_(6, what() + " cancelled: " + o.error);
        break;
    }
  }
  // One line per batch, not per message: a burst of 100,000 would otherwise be as many lines.
  if (sent_here)
    log_(6, "reminders: sent " + std::to_string(sent_here) + " (" + std::to_string(counters_.sent) +
                " since start)");
  for (const std::size_t i : rec.permanent)
    if (applied[i]) {
      try {
        after_permanent_failure(rec.batch[i].row, redact_error(outcomes[i].error));
      } catch (const std::exception& e) {
        log_(3, std::string("reminders: cannot queue the fallback or alert: ") + e.what());
      }
    }
  // Results that came while this batch was written go next, together.
  if (!results_.empty()) flush_results();
  if (stopping_) return;
  try {
    pump();  // claims the next batch of channels running low
    schedule_wake();
  } catch (const std::exception& e) {
    log_(3, std::string("reminders: ") + e.what() + "; trying again in 5 s");
    arm(now_ms() + 5000);
  }
}

// A chat message that cannot be delivered goes to the person by e-mail instead, and the
// administrators hear of it once per channel and day (not once per message).
void Scheduler::after_permanent_failure(const DeliveryRecord& row, const std::string& problem) {
  if (row.purpose == "alert") return;  // the administrators' own channel fails: the log says it
  const Config& c = snapshot_->config();
  const std::int64_t now = clock_.now();
  std::vector<OutboxEntry> entries;
  std::string fallback = "无";
  const auto pi = c.person_index.find(row.person);
  const Person* person =
      pi == c.person_index.end() ? nullptr : &c.persons[static_cast<std::size_t>(pi->second)];
  const std::string recipient =
      (person ? person->name : row.person) + "（" + relation_text(row.relation) + "）";
  if (row.purpose == "reminder" && row.channel != email_channel_) {
    if (email_channel_.empty()) {
      fallback = "无（没有可用的电子邮件渠道）";
    } else if (!person || person->email.empty()) {
      fallback = "无（该人员未登记电子邮箱）";
    } else {
      OutboxEntry e;
      e.occurrence = row.occurrence, e.step = row.step, e.person = row.person,
      e.channel = email_channel_;
      e.org = row.org, e.relation = row.relation, e.send_at = now, e.subject = row.subject;
      e.purpose = "fallback";
      e.note = row.channel + ": " + problem;
      entries.push_back(std::move(e));
      fallback = "已改为发送电子邮件至 " + person->email;
    }
  }
  // The alert, once per failing channel and local day.
  const std::int32_t alert = c.reminders.alert_channel;
  if (alert >= 0) {
    const Channel& ach = c.channels[static_cast<std::size_t>(alert)];
    const std::string key = "alert:" + row.channel + ":" + format_day(local_day(now, utc_offset_));
    const std::string note = pack({row.channel, recipient, fallback, problem});
    auto add = [&](const std::string& to) {
      // One alert per channel, day and administrator (a restart may repeat it once).
      if (!alerted_.insert(key + "\t" + to).second) return;
      OutboxEntry e;
      e.occurrence = row.occurrence, e.step = row.step, e.person = to, e.channel = ach.id;
      e.org = row.org, e.relation = key, e.send_at = now, e.subject = "发送失败：" + row.channel;
      e.purpose = "alert";
      e.note = note;
      entries.push_back(std::move(e));
    };
    if (ach.kind == ChannelKind::email)
      for (const std::string& a : c.reminders.alert_emails) add("admin:" + a);
    else
      add("admin");
  } else {
    log_(3, "no [reminders] alert_channel: nobody is alerted that " + row.channel + " failed for " +
                recipient);
  }
  if (entries.empty()) return;
  store_.enqueue_deliveries(entries, now);
}

}  // namespace dutyd
