#include "calendar/accountability.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

namespace dutyd {

namespace {

std::size_t idx(std::int32_t i) {
  return static_cast<std::size_t>(i);
}

// The person holding `org`'s principal post on `day`, or -1. Principal posts of one
// organisation never overlap (the loader refuses it), so the first covering post is the one.
std::int32_t principal_on(const Config& config, std::int32_t org, Day day) {
  for (const Post& p : config.posts)
    if (p.org == org && p.role == Role::principal && p.covers(day)) return p.person;
  return -1;
}

// As notifiers' in-charge relation: holders on `day` of member posts whose in_charge_of lists
// `org`, in configuration order; a person holding two such posts is named once.
std::vector<std::int32_t> in_charge_on(const Config& config, std::int32_t org, Day day) {
  std::vector<std::int32_t> out;
  for (const Post& p : config.posts) {
    if (p.role == Role::principal || !p.covers(day)) continue;
    if (std::find(p.in_charge_of.begin(), p.in_charge_of.end(), org) == p.in_charge_of.end())
      continue;
    if (std::find(out.begin(), out.end(), p.person) == out.end()) out.push_back(p.person);
  }
  return out;
}

bool holds_member_post(const Config& config, std::int32_t person, std::int32_t org, Day day) {
  return std::any_of(config.posts.begin(), config.posts.end(), [&](const Post& p) {
    return p.person == person && p.org == org && p.role == Role::member && p.covers(day);
  });
}

// `n` months after `d`: the same day of the month, or the month's last day when it is shorter
// (08-31 + 6 months = 02-28, or 02-29 in a leap year).
Day add_months(Day d, int n) {
  const Civil c = civil(d);
  const int months = c.year * 12 + static_cast<int>(c.month) - 1 + n;
  const int year = months / 12;
  const auto month = static_cast<unsigned>(months % 12 + 1);
  unsigned day = c.day;
  while (!is_valid_date(year, month, day)) --day;
  return make_day(year, month, day);
}

// Enumerations with an English name and a Chinese one, looked up either way.
template <typename E>
struct Named {
  E value;
  std::string_view name;
  std::string_view zh;
};

template <typename E, std::size_t N>
const Named<E>& entry(const std::array<Named<E>, N>& table, E value) {
  for (const auto& e : table)
    if (e.value == value) return e;
  return table.front();  // unreachable: every enumerator is in its table
}

template <typename E, std::size_t N>
std::optional<E> parse(const std::array<Named<E>, N>& table, std::string_view text) {
  for (const auto& e : table)
    if (e.name == text || e.zh == text) return e.value;
  return std::nullopt;
}

constexpr std::array<Named<FlagSeverity>, 3> kSeverities{{
    {FlagSeverity::light, "light", "较轻"},
    {FlagSeverity::serious, "serious", "较重"},
    {FlagSeverity::grave, "grave", "严重"},
}};

constexpr std::array<Named<Measure>, 10> kMeasures{{
    {Measure::written_self_criticism, "written_self_criticism", "书面检查"},
    {Measure::criticism_education, "criticism_education", "批评教育"},
    {Measure::admonishment, "admonishment", "诫勉谈话"},
    {Measure::circulated_criticism, "circulated_criticism", "通报批评"},
    {Measure::team_adjustment, "team_adjustment", "调整处理"},
    {Measure::disciplinary, "disciplinary", "党纪政纪处分"},
    {Measure::position_adjustment, "position_adjustment", "调整职务"},
    {Measure::ordered_resignation, "ordered_resignation", "责令辞职"},
    {Measure::dismissal, "dismissal", "免职"},
    {Measure::demotion, "demotion", "降职"},
}};

constexpr std::array<Named<FlagStatus>, 6> kStatuses{{
    {FlagStatus::raised, "raised", "提出"},
    {FlagStatus::submitted, "submitted", "报批"},
    {FlagStatus::investigating, "investigating", "调查"},
    {FlagStatus::decided, "decided", "决定"},
    {FlagStatus::implemented, "implemented", "实施"},
    {FlagStatus::dismissed, "dismissed", "撤销"},
}};

// 第二十八条第（一）项 (领导班子) and 第（二）项 (领导干部), by grade.
constexpr char kWrittenSelfCriticism[] = "责令作出书面检查";
constexpr char kCirculatedCriticism[] = "通报批评";

}  // namespace

bool flag_due(const Occurrence& o, std::optional<Day> done_on, Day today, int grace_days) {
  // The last day of grace; 64-bit so that a due date near the end of time cannot wrap.
  const std::int64_t last_grace = std::int64_t{o.due} + std::max(grace_days, 0);
  if (today <= last_grace) return false;
  // Only a completion by the last day of grace prevents the flag; one after it (even one the
  // store already knows of for a later day) leaves the lateness to answer for.
  return !(done_on && *done_on <= last_grace);
}

OccurrenceState occurrence_state(Day due, std::optional<Day> done_on, Day today, int grace_days) {
  if (done_on && *done_on <= today)
    return *done_on <= due ? OccurrenceState::on_time : OccurrenceState::late;
  if (today <= due) return OccurrenceState::upcoming;
  const std::int64_t last_grace = std::int64_t{due} + std::max(grace_days, 0);
  return today <= last_grace ? OccurrenceState::overdue : OccurrenceState::missed;
}

std::optional<Day> done_day(const std::vector<Day>& completion_days, int min_count) {
  const std::size_t n = static_cast<std::size_t>(std::max(min_count, 1));
  if (completion_days.size() < n) return std::nullopt;
  return completion_days[n - 1];
}

std::string_view occurrence_state_name(OccurrenceState s) {
  switch (s) {
    case OccurrenceState::upcoming:
      return "upcoming";
    case OccurrenceState::overdue:
      return "overdue";
    case OccurrenceState::missed:
      return "missed";
    case OccurrenceState::on_time:
      return "on_time";
    case OccurrenceState::late:
      return "late";
  }
  return "upcoming";
}

std::string_view occurrence_state_zh(OccurrenceState s) {
  switch (s) {
    case OccurrenceState::upcoming:
      return "未到期";
    case OccurrenceState::overdue:
      return "已逾期";
    case OccurrenceState::missed:
      return "未履行";
    case OccurrenceState::on_time:
      return "按时完成";
    case OccurrenceState::late:
      return "逾期完成";
  }
  return "未到期";
}

Attribution attribute(const Config& config, const Occurrence& o, Day today) {
  Attribution a;
  a.responsible = o.person;
  if (o.member >= 0) {
    a.incumbent = holds_member_post(config, o.member, o.org, today) ? o.member : -1;
  } else {
    a.incumbent = principal_on(config, o.org, today);
  }
  a.responsible_moved_on = a.responsible >= 0 && a.incumbent != a.responsible;
  if (config.obligations[idx(o.obligation)].actor == Actor::team) {
    a.scope = FlagScope::collective;
    a.team_org = o.org;
    a.principal = principal_on(config, o.org, o.due);
    a.in_charge = in_charge_on(config, o.org, o.due);
  }
  return a;
}

std::string_view severity_zh(FlagSeverity s) {
  return entry(kSeverities, s).zh;
}
std::string_view severity_name(FlagSeverity s) {
  return entry(kSeverities, s).name;
}
std::optional<FlagSeverity> parse_severity(std::string_view name_or_zh) {
  return parse(kSeverities, name_or_zh);
}

SeverityGrade grade(const SeverityInput& in, const SeverityRules& rules) {
  int g = in.days_late >= rules.grave_days ? 3 : in.days_late >= rules.serious_days ? 2 : 1;
  std::string reason = "逾期" + std::to_string(in.days_late) + "天";
  // A bump needs at least one actual earlier miss or open flag, whatever the threshold says.
  if (in.repeated_misses > 0 && in.repeated_misses >= rules.serious_repeats) {
    ++g;
    reason += "；此前同一事项已被标记" + std::to_string(in.repeated_misses) + "次";
  }
  if (in.org_open_misses > 0 && in.org_open_misses >= rules.serious_open) {
    ++g;
    reason += "；本组织另有" + std::to_string(in.org_open_misses) + "项未办结标记";
  }
  return {static_cast<FlagSeverity>(std::min(g, 3)), std::move(reason)};
}

std::vector<std::string> suggested_measures(FlagScope scope, FlagSeverity s) {
  if (scope == FlagScope::collective) {
    switch (s) {
      case FlagSeverity::light:
        return {kWrittenSelfCriticism};
      case FlagSeverity::serious:
        return {kCirculatedCriticism};
      case FlagSeverity::grave:
        return {"调整处理"};
    }
  } else {
    switch (s) {
      case FlagSeverity::light:
        return {"批评教育", "诫勉谈话", kWrittenSelfCriticism};
      case FlagSeverity::serious:
        return {kCirculatedCriticism};
      case FlagSeverity::grave:
        return {"党纪政纪处分", "调整职务、责令辞职、免职和降职等组织处理"};
    }
  }
  return {};
}

std::string_view measure_zh(Measure m) {
  return entry(kMeasures, m).zh;
}
std::string_view measure_name(Measure m) {
  return entry(kMeasures, m).name;
}

std::optional<Measure> parse_measure(std::string_view name_or_zh) {
  // The suggestion's own wording names the same measure.
  if (name_or_zh == kWrittenSelfCriticism) return Measure::written_self_criticism;
  return parse(kMeasures, name_or_zh);
}

std::vector<std::string_view> measure_names() {
  std::vector<std::string_view> out;
  for (const auto& e : kMeasures) out.push_back(e.name);
  return out;
}

std::vector<Impact> impact_of(Measure m, Day decided_on) {
  // Periods are counted as 民法典 第二百零一条、第二百零二条 count them: the day of the decision
  // does not count, and the period ends on the same day of the month N months later (the
  // month's last day when it has no such day).
  auto within_months = [&](int n) { return add_months(decided_on, n); };
  switch (m) {
    case Measure::admonishment:
      return {{"不得提拔或者重用", within_months(6)},
              {"取消当年年度考核评优评先资格", make_day(civil(decided_on).year, 12, 31)}};
    case Measure::ordered_resignation:
    case Measure::dismissal:
      return {{"不安排职务", within_months(12)},
              {"不得担任高于原任职务层次的职务", within_months(24)}};
    case Measure::demotion:
      return {{"不得提升职务", within_months(24)}};
    default:
      return {};
  }
}

std::string_view flag_status_zh(FlagStatus s) {
  return entry(kStatuses, s).zh;
}
std::string_view flag_status_name(FlagStatus s) {
  return entry(kStatuses, s).name;
}
std::optional<FlagStatus> parse_flag_status(std::string_view name_or_zh) {
  return parse(kStatuses, name_or_zh);
}

std::optional<FlagStatus> next_status(FlagStatus s) {
  switch (s) {
    case FlagStatus::raised:
      return FlagStatus::submitted;
    case FlagStatus::submitted:
      return FlagStatus::investigating;
    case FlagStatus::investigating:
      return FlagStatus::decided;
    case FlagStatus::decided:
      return FlagStatus::implemented;
    case FlagStatus::implemented:
    case FlagStatus::dismissed:
      return std::nullopt;
  }
  return std::nullopt;
}

// Exactly the states that can still advance: 撤销 is refused after 实施 and after 撤销.
bool can_dismiss(FlagStatus s) {
  return next_status(s).has_value();
}

}  // namespace dutyd
