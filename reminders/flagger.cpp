#include "reminders/flagger.hpp"

#include <algorithm>
#include <chrono>

#include "calendar/accountability.hpp"
#include "calendar/flags.hpp"
#include "notifiers/planner.hpp"

namespace dutyd {
namespace {

constexpr const char* kSince = "flags.since";
constexpr int kRetrySeconds = 60;

// The shipped thresholds of [accountability] are the rules' own defaults.
static_assert(AccountabilitySettings{}.serious_days == SeverityRules{}.serious_days);
static_assert(AccountabilitySettings{}.grave_days == SeverityRules{}.grave_days);
static_assert(AccountabilitySettings{}.serious_repeats == SeverityRules{}.serious_repeats);
static_assert(AccountabilitySettings{}.serious_open == SeverityRules{}.serious_open);

std::size_t idx(std::int32_t i) {
  return static_cast<std::size_t>(i);
}

// The length of an obligation's period in days, for "the previous periods" (event duties: years).
int period_days(const Obligation& ob) {
  if (ob.event_triggered()) return 365;
  switch (ob.period) {
    case Period::year:
      return 365;
    case Period::half_year:
      return 182;
    case Period::quarter:
      return 91;
  }
  return 365;
}

struct Context {
  const Config& config;
  const Expander& expander;
  const notify::ReminderPlanner& planner;
  Store& store;
  Day today;
  std::int64_t now;
  std::int32_t email_channel;
};

FlagInput describe_miss(const Context& ctx, const Occurrence& o, std::string uid) {
  const Config& c = ctx.config;
  const Obligation& ob = c.obligations[idx(o.obligation)];
  const Org& org = c.orgs[idx(o.org)];
  auto person = [&](std::int32_t p) { return p >= 0 ? c.persons[idx(p)].id : std::string(); };
  const Attribution at = attribute(c, o, ctx.today);
  FlagInput in;
  in.occurrence = std::move(uid);
  in.org = org.id;
  in.obligation = ob.id;
  in.citation = citation(ob.article, ob.item);
  in.title = ctx.expander.title(o);
  in.art27 = ob.art27;
  in.art27_clause = std::string(article27_clause(ob.art27));
  in.window_start = o.window_start;
  in.due = o.due;
  in.raised_on = ctx.today;
  in.days_late = ctx.today - o.due;
  in.scope = at.scope == FlagScope::collective ? "collective" : "individual";
  in.responsible = person(at.responsible);
  in.incumbent = person(at.incumbent);
  in.responsible_moved_on = at.responsible_moved_on;
  if (at.team_org >= 0) in.team_org = c.orgs[idx(at.team_org)].id;
  in.principal = person(at.principal);
  for (const std::int32_t p : at.in_charge) in.in_charge.push_back(person(p));
  // Grading: earlier misses of the same duty at the organisation within the periods looked
  // back at (half a period of slack: a due date may move by a few days from year to year), and
  // the organisation's open flags, including those raised earlier in this pass.
  const AccountabilitySettings& a = c.accountability;
  const int len = period_days(ob);
  const int repeated = a.look_back_periods == 0
                           ? 0
                           : ctx.store.count_flags(
                                 ob.id, org.id, o.due - a.look_back_periods * len - len / 2, o.due);
  const SeverityGrade g =
      grade({in.days_late, repeated, ctx.store.open_flags(org.id)},
            SeverityRules{a.serious_days, a.grave_days, a.serious_repeats, a.serious_open});
  in.severity = std::string(severity_name(g.grade));
  in.severity_reason = g.reason;
  in.suggested_measures = suggested_measures(at.scope, g.grade);
  return in;
}

// The outbox rows telling the discipline inspection organ and the organisation department of
// the occurrence's organisation: e-mail to each person reached who has an address, and the chat
// channels carrying that organ's messages. `notes` gets who could not be reached, and why.
std::vector<OutboxEntry> notices(const Context& ctx, const Occurrence& o, const FlagInput& flag,
                                 std::vector<std::string>& notes) {
  const Config& c = ctx.config;
  const notify::ReminderSubject subject{o.obligation,  o.org,          o.person,
                                        o.member >= 0, o.window_start, o.due};
  std::vector<OutboxEntry> out;
  for (const Relation r : {Relation::discipline_organ, Relation::organization_department}) {
    std::string why;
    const auto reached = ctx.planner.resolve(r, subject, ctx.today, &why);
    if (reached.empty()) {
      notes.push_back("flag for " + flag.occurrence + ": nobody to tell as " +
                      std::string(relation_name(r)) + ": " + why);
      continue;
    }
    const std::int32_t organ = r == Relation::discipline_organ
                                   ? ctx.planner.discipline_organ(o.org)
                                   : ctx.planner.organization_department(o.org);
    std::vector<std::int32_t> channels;
    if (ctx.email_channel >= 0) channels.push_back(ctx.email_channel);
    if (organ >= 0)
      for (const std::int32_t ch : ctx.planner.chat_channels(organ)) channels.push_back(ch);
    for (const auto& who : reached) {
      const Person& p = c.persons[idx(who.person)];
      for (const std::int32_t ch : channels) {
        if (ch == ctx.email_channel && p.email.empty()) {
          notes.push_back("flag for " + flag.occurrence + ": " + p.id + " has no e-mail address");
          continue;
        }
        OutboxEntry e;
        e.occurrence = flag.occurrence;
        e.step = -1;
        e.person = p.id;
        e.channel = c.channels[idx(ch)].id;
        e.org = flag.org;
        e.relation = std::string(relation_name(r));
        e.send_at = ctx.now;
        e.subject = "【问责提示】" + flag.citation + " " + flag.title;
        e.purpose = "flag";
        out.push_back(std::move(e));
      }
    }
  }
  return out;
}

}  // namespace

Flagger::Flagger(net::io_context& io, Store& store, Clock clock, LogFn log)
    : io_(io),
      store_(store),
      clock_(clock),
      log_(std::move(log)),
      daily_(io),
      writer_(io, store.path(),
              [this](const std::string& what) { log_(3, "flags: pass failed: " + what); }) {}

// The writer drains as a member: a pass in progress stops early (cancel_).
Flagger::~Flagger() {
  cancel_ = true;
}

void Flagger::install(std::shared_ptr<const Snapshot> snapshot,
                      std::shared_ptr<const ReminderData> data) {
  snapshot_ = std::move(snapshot);
  data_ = std::move(data);
  // A reload may change grace periods, obligations or posts: look again.
  if (started_ && !stopping_) launch();
}

void Flagger::start() {
  started_ = true;
  const std::int64_t now = clock_.now();
  const Day today = local_day(now, utc_offset_of(snapshot_->config().timezone, now));
  std::optional<Day> since;
  if (const auto stored = store_.meta(kSince)) since = parse_day(*stored);
  if (!since) {
    // A first start flags nothing that was due before it: a new deployment does not turn years
    // of history nobody recorded into flags.
    store_.set_meta(kSince, format_day(today));
    since = today;
    log_(6, "flags: first start; only occurrences due on or after " + format_day(today) +
                " are flagged");
  }
  since_ = *since;
  launch();
  arm_daily();
}

void Flagger::stop() {
  stopping_ = true;
  cancel_ = true;  // a pass in progress stops early; what it raised stays
  daily_.cancel();
}

void Flagger::launch() {
  if (running_) {
    again_ = true;
    return;
  }
  running_ = true;
  const std::int64_t now = clock_.now();
  const std::int32_t offset = utc_offset_of(snapshot_->config().timezone, now);
  writer_.post([this, snapshot = snapshot_, data = data_, since = since_, now,
                offset](Store& store) -> Worker::Answer {
    auto pass = std::make_shared<Pass>();
    std::string error;
    try {
      *pass = raise_due_flags(*snapshot, *data, store, local_day(now, offset), since, now, offset,
                              cancel_);
    } catch (const std::exception& e) {
      error = e.what();
    }
    return [this, pass, error = std::move(error)] { on_pass(*pass, error); };
  });
}

void Flagger::on_pass(const Pass& pass, const std::string& error) {
  running_ = false;
  if (stopping_) return;
  for (const std::string& line : pass.lines) log_(6, line);
  if (!error.empty()) {
    // The database is busy or full: what was raised stays; the rest follows in a minute.
    log_(3, "flags: pass failed: " + error + "; trying again in " + std::to_string(kRetrySeconds) +
                " s");
    daily_.expires_after(std::chrono::seconds(kRetrySeconds));
    daily_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stopping_) {
        launch();
        arm_daily();
      }
    });
    return;
  }
  // One line per pass, also when it raised nothing: the log says the day was looked at.
  log_(pass.raised > 0 ? 5 : 6, "flags: pass over " + format_day(pass.today) +
                                    " done: " + std::to_string(pass.raised) + " raised" +
                                    (pass.raised > 0 ? "; their notices are in the outbox" : ""));
  if (pass.raised > 0 && on_raised_) on_raised_();
  if (again_) {
    again_ = false;
    launch();
  }
}

// Once a day, just after local midnight: the day an occurrence's grace period ends.
void Flagger::arm_daily() {
  const std::int64_t now = clock_.now();
  const std::int32_t offset = utc_offset_of(snapshot_->config().timezone, now);
  const std::int64_t next_midnight =
      (std::int64_t{local_day(now, offset)} + 1) * 86400 - offset + 5;
  daily_.expires_after(std::chrono::seconds(std::max<std::int64_t>(1, next_midnight - now)));
  daily_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    launch();
    arm_daily();
  });
}

Flagger::Pass Flagger::raise_due_flags(const Snapshot& snapshot, const ReminderData& data,
                                       Store& store, Day today, Day since, std::int64_t now,
                                       std::int32_t utc_offset, const std::atomic<bool>& cancel) {
  const Config& c = snapshot.config();
  const notify::ReminderPlanner planner(
      c, notify::ScheduleContext{data.calendar, c.reminders.quiet, utc_offset});
  const auto email = std::find_if(c.channels.begin(), c.channels.end(),
                                  [](const Channel& ch) { return !ch.chat(); });
  const Context ctx{
      c,
      snapshot.expander(),
      planner,
      store,
      today,
      now,
      email == c.channels.end() ? -1 : static_cast<std::int32_t>(email - c.channels.begin())};
  // Ladders with a step that raises the flag on its day (flag = true).
  std::vector<char> ladder_raises(c.ladders.size(), 0);
  for (std::size_t i = 0; i < c.ladders.size(); ++i)
    for (const EscalationStep& st : c.ladders[i].steps) ladder_raises[i] |= st.raise_flag ? 1 : 0;
  const notify::ScheduleContext schedule{data.calendar, c.reminders.quiet, utc_offset};
  const auto completions = store.completion_days();
  const auto flagged = store.flagged_occurrences();
  Pass pass;
  pass.today = today;
  // Organisation by organisation, earliest due first within each.
  snapshot.for_each_occurrence([&](const Occurrence& o, const Expansion&) {
    if (o.due < since || cancel.load(std::memory_order_relaxed)) return;
    const Obligation& ob = c.obligations[idx(o.obligation)];
    int grace = c.grace_days(ob);
    // A ladder step with flag = true that comes before the end of grace shortens it: the flag is
    // raised on the step's day (working-day offsets count the holiday data, as the reminders do).
    std::string by_step;  // 督办第N步（+5wd，2026-07-07）
    if (const std::int32_t l = c.ladder_for(ob, c.orgs[idx(o.org)]);
        l >= 0 && ladder_raises[idx(l)]) {
      const Ladder& ladder = c.ladders[idx(l)];
      for (const notify::StepSchedule& t :
           notify::schedule_steps(ladder, o.due, o.window_start, schedule))
        if (ladder.steps[t.step].raise_flag && t.nominal_day - o.due - 1 < grace) {
          grace = t.nominal_day - o.due - 1;
          by_step = "督办第" + std::to_string(t.step + 1) + "步（" +
                    format_step_offset(ladder.steps[t.step].at) + "，" + format_day(t.nominal_day) +
                    "）";
        }
    }
    if (!flag_due(o, std::nullopt, today, grace)) return;  // still within its grace period
    std::string uid = snapshot.expander().uid(o);
    if (flagged.count(uid)) return;
    // Done on the day of the completion that reached the minimum count.
    std::optional<Day> done_on;
    if (const auto it = completions.find(uid); it != completions.end())
      done_on = done_day(it->second, ob.min_count);
    if (!flag_due(o, done_on, today, grace)) return;
    const FlagInput in = describe_miss(ctx, o, std::move(uid));
    const std::string when = !by_step.empty() ? "，到" + by_step
                                              : "，宽限期" + std::to_string(grace) + "天届满（" +
                                                    format_day(o.due + grace) + "）";
    std::string reason = "截止" + format_day(o.due) + when +
                         (done_on ? "后才完成（" + format_day(*done_on) + "）" : "仍未完成");
    std::vector<std::string> notes;
    const std::vector<OutboxEntry> told = notices(ctx, o, in, notes);
    const Store::RaisedFlag r = store.raise_flag(in, reason, told, now);
    if (!r.created) return;
    ++pass.raised;
    std::vector<std::string> people;
    for (const OutboxEntry& e : told)
      if (std::find(people.begin(), people.end(), e.person) == people.end())
        people.push_back(e.person);
    std::string to;
    for (const std::string& p : people) to += (to.empty() ? "" : ", ") + p;
    pass.lines.push_back("flag #" + std::to_string(r.flag.id) + " raised: " + in.occurrence + " (" +
                         in.severity + ", " + std::to_string(in.days_late) + " days late, " +
                         in.scope + ", responsible " +
                         (in.responsible.empty() ? "vacant" : in.responsible) +
                         (in.responsible_moved_on ? " (moved on)" : "") +
                         "); told: " + (to.empty() ? "nobody" : to));
    for (std::string& n : notes) pass.lines.push_back(std::move(n));
  });
  return pass;
}

}  // namespace dutyd
