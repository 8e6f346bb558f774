// The scheduler's sending: a claimed row checked against the configuration being served and
// rendered (prepare, describe, render), then sent by a worker (worker_loop).
#include <algorithm>
#include <chrono>

#include "calendar/flags.hpp"
#include "notifiers/links.hpp"
#include "reminders/scheduler.hpp"
#include "reminders/scheduler_internal.hpp"

namespace dutyd {

using namespace scheduling;

namespace {

std::string domain_of(const std::string& address) {
  const auto at = address.find('@');
  return at == std::string::npos ? "dutyd.invalid" : address.substr(at + 1);
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

}  // namespace dutyd
