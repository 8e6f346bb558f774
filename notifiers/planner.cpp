#include "notifiers/planner.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <tuple>

namespace dutyd::notify {

namespace {
std::size_t idx(std::int32_t i) {
  return static_cast<std::size_t>(i);
}
bool is_committee(const Org& o) {
  return o.kind == OrgKind::party_committee || o.kind == OrgKind::working_committee;
}
}  // namespace

ReminderPlanner::ReminderPlanner(const Config& config, const ScheduleContext& ctx)
    : config_(config), ctx_(ctx) {
  const std::size_t n = config.orgs.size();
  principal_posts_.resize(n), posts_.resize(n), in_charge_posts_.resize(n), listed_by_.resize(n);
  organization_department_.assign(n, -1);
  for (std::size_t i = 0; i < config.posts.size(); ++i) {
    const Post& p = config.posts[i];
    const auto pi = static_cast<std::int32_t>(i);
    posts_[idx(p.org)].push_back(pi);
    if (p.role == Role::principal)
      principal_posts_[idx(p.org)].push_back(pi);
    else
      for (std::int32_t unit : p.in_charge_of) in_charge_posts_[idx(unit)].push_back(pi);
  }
  for (auto& v : principal_posts_)
    std::sort(v.begin(), v.end(), [&](std::int32_t a, std::int32_t b) {
      return config.posts[idx(a)].from < config.posts[idx(b)].from;
    });
  for (std::size_t i = 0; i < n; ++i) {
    const Org& o = config.orgs[i];
    if (o.kind == OrgKind::department && o.subtype == "organization" && o.parent >= 0 &&
        organization_department_[idx(o.parent)] < 0)
      organization_department_[idx(o.parent)] = static_cast<std::int32_t>(i);
  }
  for (std::size_t c = 0; c < config.channels.size(); ++c) {
    const Channel& ch = config.channels[c];
    const auto ci = static_cast<std::int32_t>(c);
    if (!ch.chat()) {
      if (email_channel_ < 0) email_channel_ = ci;
      continue;
    }
    if (ch.all_orgs) all_org_channels_.push_back(ci);
    for (std::int32_t o : ch.orgs) listed_by_[idx(o)].push_back(ci);
  }
}

std::int32_t ReminderPlanner::principal_on(std::int32_t org, Day day) const {
  if (org < 0) return -1;
  for (std::int32_t p : principal_posts_[idx(org)])
    if (config_.posts[idx(p)].covers(day)) return config_.posts[idx(p)].person;
  return -1;
}

std::int32_t ReminderPlanner::committee_of(std::int32_t org) const {
  // Bounded walk: the loader breaks parent cycles, the bound only guards against surprises.
  for (std::size_t guard = 0; org >= 0 && guard <= config_.orgs.size(); ++guard) {
    if (is_committee(config_.orgs[idx(org)])) return org;
    org = config_.orgs[idx(org)].parent;
  }
  return -1;
}

std::int32_t ReminderPlanner::organization_department(std::int32_t org) const {
  const std::int32_t c = committee_of(org);
  return c < 0 ? -1 : organization_department_[idx(c)];
}

std::int32_t ReminderPlanner::discipline_organ(std::int32_t org) const {
  const Org& o = config_.orgs[idx(org)];
  if (o.kind == OrgKind::discipline_inspection) {
    // A discipline organ answers to the next higher one (上级纪委), not to itself.
    const std::int32_t c = committee_of(org);
    const std::int32_t up = c < 0 ? -1 : committee_of(config_.orgs[idx(c)].parent);
    return up < 0 ? -1 : config_.orgs[idx(up)].discipline_organ;
  }
  if (o.discipline_organ >= 0) return o.discipline_organ;
  const std::int32_t c = committee_of(org);
  return c < 0 ? -1 : config_.orgs[idx(c)].discipline_organ;
}

std::vector<std::int32_t> ReminderPlanner::chat_channels(std::int32_t org) const {
  std::vector<std::int32_t> out;
  for (std::int32_t o = org, guard = 0;
       o >= 0 && guard <= static_cast<std::int32_t>(config_.orgs.size());
       o = config_.orgs[idx(o)].parent, ++guard) {
    if (!listed_by_[idx(o)].empty()) {
      out = listed_by_[idx(o)];
      break;
    }
  }
  out.insert(out.end(), all_org_channels_.begin(), all_org_channels_.end());
  return out;
}

std::int32_t ReminderPlanner::ladder_of(const ReminderSubject& s) const {
  return config_.ladder_for(config_.obligations[idx(s.obligation)], config_.orgs[idx(s.org)]);
}

std::vector<ReminderPlanner::Reached> ReminderPlanner::resolve(Relation r, const ReminderSubject& s,
                                                               Day day, std::string* why) const {
  const Org& org = config_.orgs[idx(s.org)];
  auto one = [](std::int32_t person, bool vacancy = false) {
    return std::vector<Reached>{{person, vacancy}};
  };
  auto nobody = [&](std::string text) {
    if (why) *why = std::move(text);
    return std::vector<Reached>{};
  };
  // A vacant principal post goes straight up: to the parent organisation's principal.
  auto principal_or_up = [&](std::int32_t o, bool vacancy) -> std::vector<Reached> {
    if (const std::int32_t p = principal_on(o, day); p >= 0) return one(p, vacancy);
    const std::int32_t parent = config_.orgs[idx(o)].parent;
    if (const std::int32_t p = principal_on(parent, day); p >= 0) return one(p, true);
    return nobody(config_.orgs[idx(o)].name + "主要负责人空缺，且无上级党组织主要负责人可报");
  };
  switch (r) {
    case Relation::responsible: {
      if (s.person < 0) return principal_or_up(s.org, true);
      if (!s.member_duty && day <= s.due) {
        // Before the due date, a successor not yet in post cannot act: the principal in post
        // that day is told instead (responsibility itself stays with the holder on the due date).
        const bool in_post =
            std::any_of(posts_[idx(s.org)].begin(), posts_[idx(s.org)].end(), [&](std::int32_t p) {
              return config_.posts[idx(p)].person == s.person && config_.posts[idx(p)].covers(day);
            });
        if (!in_post)
          if (const std::int32_t p = principal_on(s.org, day); p >= 0) return one(p);
      }
      return one(s.person);
    }
    case Relation::principal:
      return principal_or_up(s.org, false);
    case Relation::in_charge: {
      std::vector<Reached> out;
      for (std::int32_t p : in_charge_posts_[idx(s.org)])
        if (config_.posts[idx(p)].covers(day)) out.push_back({config_.posts[idx(p)].person, false});
      // A committee's own team has no 分管 member above it: nobody, silently.
      if (out.empty() && !is_committee(org))
        return nobody(org.name + "无分管领导（没有成员的 in_charge_of 列出它）");
      return out;
    }
    case Relation::organization_department: {
      const std::int32_t d = organization_department(s.org);
      if (d < 0) return nobody(org.name + "所属党委没有组织部门（department = \"organization\"）");
      if (const std::int32_t p = principal_on(d, day); p >= 0) return one(p);
      return nobody(config_.orgs[idx(d)].name + "主要负责人空缺");
    }
    case Relation::discipline_organ: {
      const std::int32_t d = discipline_organ(s.org);
      if (d < 0) return nobody(org.name + "没有同级纪检监察机关（discipline_organ）");
      if (const std::int32_t p = principal_on(d, day); p >= 0) return one(p);
      return nobody(config_.orgs[idx(d)].name + "主要负责人空缺");
    }
    case Relation::higher_principal: {
      if (org.parent < 0) return nobody(org.name + "没有上级党组织");
      if (const std::int32_t p = principal_on(org.parent, day); p >= 0) return one(p);
      return nobody(config_.orgs[idx(org.parent)].name + "主要负责人空缺");
    }
  }
  return {};
}

void ReminderPlanner::channels_for(const std::string& via, std::int32_t org,
                                   std::vector<std::int32_t>& out) const {
  auto add = [&](std::int32_t c) {
    if (c >= 0 && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  };
  if (via == "email") return add(email_channel_);
  if (auto it = config_.channel_index.find(via); it != config_.channel_index.end())
    return add(it->second);
  for (std::int32_t c : chat_channels(org))
    if (via == "chat" || via == to_string(config_.channels[idx(c)].kind)) add(c);
}

const std::vector<StepSchedule>& ReminderPlanner::schedule(std::int32_t ladder, Day due,
                                                           Day window_start) const {
  const std::uint64_t key = (std::uint64_t(std::uint32_t(ladder)) << 48) ^
                            (std::uint64_t(std::uint32_t(due)) << 24) ^ std::uint32_t(window_start);
  auto it = schedules_.find(key);
  if (it == schedules_.end())
    it = schedules_
             .emplace(key, schedule_steps(config_.ladders[idx(ladder)], due, window_start, ctx_))
             .first;
  return it->second;
}

void ReminderPlanner::plan(const ReminderSubject& s, std::uint32_t occurrence, std::int64_t from,
                           std::int64_t until, ReminderPlan& out) const {
  const std::int32_t ladder = ladder_of(s);
  if (ladder < 0) return;
  const Ladder& l = config_.ladders[idx(ladder)];
  std::vector<std::int32_t> channels;
  std::vector<std::pair<std::int32_t, std::int32_t>> sent;  // (person, channel) in this step
  for (const StepSchedule& sch : schedule(ladder, s.due, s.window_start)) {
    if (sch.send_at < from || sch.send_at >= until) continue;
    const EscalationStep& step = l.steps[sch.step];
    const Day day = to_local(sch.send_at, ctx_.utc_offset_seconds).day;
    const auto step_no = static_cast<std::uint16_t>(sch.step);
    channels.clear();
    for (const std::string& v : step.via) channels_for(v, s.org, channels);
    sent.clear();
    for (Relation rel : step.notify) {
      std::string why;
      const auto reached = resolve(rel, s, day, &why);
      if (reached.empty())
        out.notes.push_back({sch.send_at, occurrence, step_no, rel, -1, -1, why});
      for (const Reached& who : reached) {
        const Person& person = config_.persons[idx(who.person)];
        for (std::int32_t c : channels) {
          if (std::find(sent.begin(), sent.end(), std::pair{who.person, c}) != sent.end()) continue;
          sent.emplace_back(who.person, c);
          if (config_.channels[idx(c)].kind == ChannelKind::email && person.email.empty()) {
            out.notes.push_back({sch.send_at, occurrence, step_no, rel, who.person, c,
                                 person.name + "没有登记电子邮箱，未发送邮件"});
            continue;
          }
          PlannedDelivery d;
          d.send_at = sch.send_at, d.occurrence = occurrence, d.step = step_no, d.relation = rel;
          d.via_vacancy = who.via_vacancy, d.overdue = sch.overdue, d.deferred = sch.deferred;
          d.person = who.person, d.channel = c, d.ladder = ladder;
          out.deliveries.push_back(d);
        }
      }
    }
    if (channels.empty())
      out.notes.push_back(
          {sch.send_at, occurrence, step_no, step.notify.empty() ? Relation{} : step.notify.front(),
           -1, -1,
           "没有可用的渠道（via 所列渠道未配置或不覆盖" + config_.orgs[idx(s.org)].name + "）"});
  }
}

PlanReach plan_reach(const Config& c) {
  constexpr int kSlack = 16;  // a working-day step across 春节, or a step deferred over it
  PlanReach r;
  for (const Ladder& l : c.ladders)
    for (const EscalationStep& s : l.steps) {
      const int days =
          (s.at.unit == OffsetUnit::working_days ? 2 : 1) * std::abs(s.at.amount) + kSlack;
      if (s.from == Anchor::window_start) {
        r.before =
            std::max(r.before, 370 + (s.at.amount < 0 ? days : 0));  // windows last up to a year
        r.after = std::max(r.after, kSlack);
      } else if (s.at.amount < 0) {
        r.before = std::max(r.before, days);
        r.after = std::max(r.after, kSlack);
      } else {
        r.after = std::max(r.after, days);
        r.before = std::max(r.before, kSlack);
      }
    }
  return r;
}

std::string mention_for(const Person& p, ChannelKind kind) {
  switch (kind) {
    case ChannelKind::wecom:
      return !p.wecom.empty() ? p.wecom : p.mobile;
    case ChannelKind::dingtalk:
      return !p.mobile.empty() ? p.mobile : p.dingtalk;
    case ChannelKind::feishu:
      return p.feishu;
    default:
      return {};
  }
}

CatchUp coalesce_catch_up(std::vector<PlannedDelivery> pending, std::int64_t now) {
  CatchUp out;
  // Per (occurrence, person, channel): the position in send_now of its latest missed step.
  std::map<std::tuple<std::uint32_t, std::int32_t, std::int32_t>, std::size_t> latest;
  auto later_than = [](const PlannedDelivery& a, const PlannedDelivery& b) {
    return std::tie(a.send_at, a.step) > std::tie(b.send_at, b.step);
  };
  for (PlannedDelivery& d : pending) {
    if (d.send_at > now) {
      out.later.push_back(d);
      continue;
    }
    auto [it, fresh] =
        latest.emplace(std::tuple{d.occurrence, d.person, d.channel}, out.send_now.size());
    if (fresh) {
      out.send_now.push_back(d);
    } else if (later_than(d, out.send_now[it->second])) {
      out.superseded.push_back(out.send_now[it->second]);
      out.send_now[it->second] = d;
    } else {
      out.superseded.push_back(d);
    }
  }
  return out;
}

}  // namespace dutyd::notify
