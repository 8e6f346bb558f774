#include "calendar/expand.hpp"

#include <algorithm>

#include "config/rrule.hpp"

namespace dutyd {

Expander::Expander(const Config& config)
    : config_(config),
      principal_posts_(config.orgs.size()),
      member_posts_(config.orgs.size()),
      subordinates_(config.orgs.size()),
      person_orgs_(config.persons.size()),
      org_events_(config.orgs.size()) {
  for (std::size_t i = 0; i < config.posts.size(); ++i) {
    const Post& p = config.posts[i];
    const auto idx = static_cast<std::int32_t>(i);
    auto& list = p.role == Role::principal ? principal_posts_ : member_posts_;
    list[static_cast<std::size_t>(p.org)].push_back(idx);
    auto& orgs = person_orgs_[static_cast<std::size_t>(p.person)];
    if (std::find(orgs.begin(), orgs.end(), p.org) == orgs.end()) orgs.push_back(p.org);
  }
  for (std::size_t i = 0; i < config.events.size(); ++i) {
    const Event& ev = config.events[i];
    org_events_[static_cast<std::size_t>(ev.org)].push_back(static_cast<std::int32_t>(i));
    if (ev.person < 0) continue;
    // A member's event duty is the named person's even without a post in that organisation.
    auto& orgs = person_orgs_[static_cast<std::size_t>(ev.person)];
    if (std::find(orgs.begin(), orgs.end(), ev.org) == orgs.end()) orgs.push_back(ev.org);
  }
  for (auto& list : principal_posts_)
    std::sort(list.begin(), list.end(), [&](std::int32_t a, std::int32_t b) {
      return config.posts[static_cast<std::size_t>(a)].from <
             config.posts[static_cast<std::size_t>(b)].from;
    });
  for (std::size_t i = 0; i < config.orgs.size(); ++i) {
    const Org& org = config.orgs[i];
    if (org.parent < 0) continue;
    const Org& parent = config.orgs[static_cast<std::size_t>(org.parent)];
    const bool own_body = org.kind == OrgKind::standing_committee ||
                          org.kind == OrgKind::leading_group ||
                          parent.discipline_organ == static_cast<std::int32_t>(i);
    if (!own_body)
      subordinates_[static_cast<std::size_t>(org.parent)].push_back(static_cast<std::int32_t>(i));
  }
}

std::int32_t Expander::principal_post(std::int32_t org, Day d) const {
  const auto& list = principal_posts_[static_cast<std::size_t>(org)];
  // Last post starting on or before d; posts of one role never overlap (validated).
  auto it = std::upper_bound(list.begin(), list.end(), d, [&](Day day, std::int32_t p) {
    return day < config_.posts[static_cast<std::size_t>(p)].from;
  });
  if (it == list.begin()) return -1;
  const std::int32_t p = *std::prev(it);
  return config_.posts[static_cast<std::size_t>(p)].covers(d) ? p : -1;
}

std::vector<Expander::DueWindow> Expander::due_windows(const Obligation& o, Day from,
                                                       Day to) const {
  // Start a year early so that the first due date in range knows its predecessor.
  const Civil c = civil(from);
  const std::vector<Day> dates = rrule_dates(o.rrule, make_day(c.year - 1, 1, 1), to);
  std::vector<DueWindow> out;
  for (std::size_t i = 0; i < dates.size(); ++i) {
    const Day due = dates[i];
    if (due < from) continue;
    Day start;
    if (o.window_start) {
      const Civil dc = civil(due);
      start = make_day(dc.year, o.window_start->month, o.window_start->day);
      if (start > due) start = make_day(dc.year - 1, o.window_start->month, o.window_start->day);
    } else if (i > 0) {
      start = dates[i - 1] + 1;
    } else {
      start = make_day(civil(due).year, 1, 1);
    }
    out.push_back({due, start});
  }
  return out;
}

Expander::DueWindows Expander::due_windows(Day from, Day to) const {
  DueWindows out(config_.obligations.size());
  for (std::size_t oi = 0; oi < config_.obligations.size(); ++oi) {
    const Obligation& ob = config_.obligations[oi];
    if (!ob.disabled && !ob.event_triggered()) out[oi] = due_windows(ob, from, to);
  }
  return out;
}

void Expander::expand_obligation(std::int32_t oi, const std::vector<DueWindow>& dues,
                                 std::int32_t org, const ExpandFilter& filter,
                                 Expansion& out) const {
  const Obligation& ob = config_.obligations[static_cast<std::size_t>(oi)];
  const auto& posts = config_.posts;
  auto post_at = [&](std::int32_t p) -> const Post& { return posts[static_cast<std::size_t>(p)]; };

  if (ob.actor == Actor::member) {
    for (std::int32_t pi : member_posts_[static_cast<std::size_t>(org)]) {
      const Post& mp = post_at(pi);
      if (filter.person >= 0 && mp.person != filter.person) continue;
      for (const DueWindow& dw : dues) {
        if (!mp.covers(dw.due)) continue;
        Occurrence base;
        base.obligation = oi;
        base.org = org;
        base.person = base.member = mp.person;
        base.window_start = dw.window_start;
        base.due = dw.due;
        if (ob.counterparts != Counterparts::leaders_of_units_in_charge) {
          out.occurrences.push_back(base);
          continue;
        }
        // One talk per leader of each unit the member is in charge of, each person once.
        std::vector<std::int32_t> seen;
        auto talk = [&](std::int32_t person) {
          if (person == mp.person || std::find(seen.begin(), seen.end(), person) != seen.end())
            return;
          seen.push_back(person);
          Occurrence o = base;
          o.counterpart_person = person;
          out.occurrences.push_back(o);
        };
        for (std::int32_t unit : mp.in_charge_of) {
          if (std::int32_t pp = principal_post(unit, dw.due); pp >= 0) talk(post_at(pp).person);
          for (std::int32_t up : member_posts_[static_cast<std::size_t>(unit)])
            if (post_at(up).covers(dw.due)) talk(post_at(up).person);
        }
      }
    }
    return;
  }

  // Team, organisation and principal duties: attributed to the principal on the due date.
  const auto& principals = principal_posts_[static_cast<std::size_t>(org)];
  for (const DueWindow& dw : dues) {
    const std::int32_t holder_post = principal_post(org, dw.due);
    const std::int32_t holder = holder_post >= 0 ? post_at(holder_post).person : -1;
    const auto pred_at = static_cast<std::uint32_t>(out.predecessor_pool.size());
    std::uint32_t pred_count = 0;
    bool filter_hit = filter.person < 0 || holder == filter.person;
    for (std::int32_t pp : principals) {
      const Post& p = post_at(pp);
      if (p.from > dw.due) break;
      if (p.until < dw.window_start || p.person == holder) continue;
      // Held the post during the window but not on the due date: predecessor.
      out.predecessor_pool.push_back(p.person);
      ++pred_count;
      filter_hit = filter_hit || p.person == filter.person;
    }
    if (!filter_hit) {
      out.predecessor_pool.resize(pred_at);
      continue;
    }
    Occurrence base;
    base.obligation = oi;
    base.org = org;
    base.person = holder;
    base.window_start = dw.window_start;
    base.due = dw.due;
    base.predecessors_at = pred_at;
    base.predecessors_count = pred_count;
    switch (ob.counterparts) {
      case Counterparts::none:
      case Counterparts::leaders_of_units_in_charge:  // only meaningful for members
        out.occurrences.push_back(base);
        break;
      case Counterparts::subordinate_orgs:
        for (std::int32_t sub : subordinates_[static_cast<std::size_t>(org)]) {
          Occurrence o = base;
          o.counterpart_org = sub;
          out.occurrences.push_back(o);
        }
        break;
      case Counterparts::team_and_subordinate_principals: {
        std::vector<std::int32_t> seen;
        auto talk = [&](std::int32_t person, std::int32_t where) {
          if (person == holder || std::find(seen.begin(), seen.end(), person) != seen.end()) return;
          seen.push_back(person);
          Occurrence o = base;
          o.counterpart_person = person;
          o.counterpart_org = where;
          out.occurrences.push_back(o);
        };
        for (std::int32_t mp : member_posts_[static_cast<std::size_t>(org)])
          if (post_at(mp).covers(dw.due)) talk(post_at(mp).person, org);
        for (std::int32_t sub : subordinates_[static_cast<std::size_t>(org)])
          if (std::int32_t sp = principal_post(sub, dw.due); sp >= 0) talk(post_at(sp).person, sub);
        break;
      }
    }
  }
}

void Expander::expand_event(std::int32_t ei, Day from, Day to, const ExpandFilter& filter,
                            Expansion& out) const {
  const Event& ev = config_.events[static_cast<std::size_t>(ei)];
  const Obligation& ob = config_.obligations[static_cast<std::size_t>(ev.obligation)];
  if (ob.disabled) return;
  const Day due = ev.date + ob.deadline_days;
  if (due < from || due > to) return;
  if (filter.org >= 0 && ev.org != filter.org) return;
  Occurrence o;
  o.obligation = ev.obligation;
  o.org = ev.org;
  o.event = ei;
  o.window_start = ev.date;
  o.due = due;
  if (ob.actor == Actor::member) {
    o.person = o.member = ev.person;
  } else {
    const std::int32_t pp = principal_post(ev.org, due);
    o.person = pp >= 0 ? config_.posts[static_cast<std::size_t>(pp)].person : -1;
  }
  if (filter.person >= 0 && o.person != filter.person) return;
  out.occurrences.push_back(o);
}

Expansion Expander::expand(Day from, Day to, const ExpandFilter& filter) const {
  Expansion out;
  // Which organisations to visit.
  std::vector<std::int32_t> orgs;
  if (filter.org >= 0) {
    orgs.push_back(filter.org);
  } else if (filter.person >= 0) {
    orgs = person_orgs_[static_cast<std::size_t>(filter.person)];
  } else {
    orgs.resize(config_.orgs.size());
    for (std::size_t i = 0; i < orgs.size(); ++i) orgs[i] = static_cast<std::int32_t>(i);
  }
  const DueWindows dues = due_windows(from, to);
  for (std::size_t oi = 0; oi < config_.obligations.size(); ++oi) {
    if (dues[oi].empty()) continue;
    const Obligation& ob = config_.obligations[oi];
    for (std::int32_t org : orgs)
      if (ob.applies(config_.orgs[static_cast<std::size_t>(org)]))
        expand_obligation(static_cast<std::int32_t>(oi), dues[oi], org, filter, out);
  }
  for (std::size_t ei = 0; ei < config_.events.size(); ++ei)
    expand_event(static_cast<std::int32_t>(ei), from, to, filter, out);
  std::sort(out.occurrences.begin(), out.occurrences.end(), occurrence_order);
  return out;
}

void Expander::expand_org(std::int32_t org, const DueWindows& dues, Day from, Day to,
                          Expansion& out) const {
  const std::size_t first = out.occurrences.size();
  const Org& o = config_.orgs[static_cast<std::size_t>(org)];
  for (std::size_t oi = 0; oi < config_.obligations.size(); ++oi)
    if (!dues[oi].empty() && config_.obligations[oi].applies(o))
      expand_obligation(static_cast<std::int32_t>(oi), dues[oi], org, {}, out);
  for (std::int32_t ei : org_events_[static_cast<std::size_t>(org)])
    expand_event(ei, from, to, {}, out);
  std::sort(out.occurrences.begin() + static_cast<std::ptrdiff_t>(first), out.occurrences.end(),
            occurrence_order);
}

namespace {

// `v` in decimal with at least `width` digits; returns the end. (UIDs are hashed for every
// occurrence of a province at each start: snprintf showed in the profile.)
char* put_number(char* out, unsigned v, int width = 1) {
  char digits[10];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n < width) digits[n++] = '0';
  while (n > 0) *out++ = digits[--n];
  return out;
}

}  // namespace

std::size_t Expander::period_label(const Occurrence& o, char* buf) const {
  const Obligation& ob = config_.obligations[static_cast<std::size_t>(o.obligation)];
  char* end = buf;
  if (o.event >= 0) {  // 2026-05-10
    const Civil e = civil(config_.events[static_cast<std::size_t>(o.event)].date);
    end = put_number(end, static_cast<unsigned>(e.year), 4);
    *end++ = '-';
    end = put_number(end, e.month, 2);
    *end++ = '-';
    end = put_number(end, e.day, 2);
    return static_cast<std::size_t>(end - buf);
  }
  const Civil c = civil(o.due);
  end = put_number(end, static_cast<unsigned>(c.year));
  switch (ob.period) {
    case Period::half_year:  // 2027H1
      *end++ = 'H';
      *end++ = c.month <= 6 ? '1' : '2';
      break;
    case Period::quarter:  // 2027Q3
      *end++ = 'Q';
      *end++ = static_cast<char>('1' + (c.month - 1) / 3);
      break;
    case Period::year:  // 2027
      break;
  }
  return static_cast<std::size_t>(end - buf);
}

std::string Expander::period_label(const Occurrence& o) const {
  char buf[16];
  return std::string(buf, period_label(o, buf));
}

std::string Expander::uid(const Occurrence& o) const {
  std::string out;
  out.reserve(64);
  write_uid(o, [&](std::string_view piece) { out += piece; });
  return out;
}

std::string Expander::title(const Occurrence& o) const {
  const Obligation& ob = config_.obligations[static_cast<std::size_t>(o.obligation)];
  std::string out = ob.title;
  if (o.counterpart_person >= 0)
    out += "：" + config_.persons[static_cast<std::size_t>(o.counterpart_person)].name;
  else if (o.counterpart_org >= 0)
    out += "：" + config_.orgs[static_cast<std::size_t>(o.counterpart_org)].name;
  const Civil c = civil(o.due);
  std::string period;
  if (o.event >= 0) {
    const Civil e = civil(config_.events[static_cast<std::size_t>(o.event)].date);
    period = "事件：" + std::to_string(e.year) + "年" + std::to_string(e.month) + "月" +
             std::to_string(e.day) + "日";
  } else {
    switch (ob.period) {
      case Period::year:
        period = std::to_string(c.year) + "年度";
        break;
      case Period::half_year:
        period = std::to_string(c.year) + (c.month <= 6 ? "年上半年" : "年下半年");
        break;
      case Period::quarter:
        period = std::to_string(c.year) + "年第" +
                 chinese_number(static_cast<int>((c.month - 1) / 3 + 1)) + "季度";
        break;
    }
  }
  return out + "（" + period + "）";
}

}  // namespace dutyd
