// The scheduler's planning: each snapshot's ladders written into the outbox ahead of time, on
// a thread of its own with its own store connection.
#include <chrono>
#include <cstdio>

#include "reminders/scheduler.hpp"
#include "reminders/scheduler_internal.hpp"

namespace dutyd {

using namespace scheduling;

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
// own store writer; the loop goes on serving and sending meanwhile.
void Scheduler::launch_plan(std::vector<PlanRange> ranges, std::int64_t new_planned_until,
                            bool initial) {
  planning_ = true;
  planner_writer_.post([this, ranges = std::move(ranges), new_planned_until, initial,
                        snapshot = snapshot_, data = data_, reach = reach_, offset = utc_offset_,
                        now = clock_.now()](Store& store) -> Worker::Answer {
    auto result = std::make_shared<PlanResult>();
    result->new_planned_until = new_planned_until;
    result->initial = initial;
    try {
      const Config& c = snapshot->config();
      const notify::ReminderPlanner planner(
          c, notify::ScheduleContext{data->calendar, c.reminders.quiet, offset});
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
    return [this, result] { on_planned(*result); };
  });
}

void Scheduler::on_planned(const PlanResult& r) {
  planning_ = false;
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

}  // namespace dutyd
