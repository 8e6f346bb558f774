// Accountability for missed duties (第二十六条 to 第二十九条), as pure rules: when a missed
// occurrence becomes a non-compliance flag, to whom it is attributed, how severe it is, which
// Article 28 measures that grade suggests, how long a decided measure has effect, and the
// workflow of 第二十九条. No clock, no store: callers pass "today" and what the store knows.
//
// Suggestions are for people to decide (the organisation department and the discipline
// inspection organ); nothing here decides a measure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "calendar/expand.hpp"
#include "config/model.hpp"

namespace dutyd {

// When a flag is raised: the occurrence is still open `grace_days` calendar days after its due
// date (the first day it may be raised is due + grace_days + 1). An occurrence completed on or
// before that day never gets a flag (a late completion inside the grace period is only "late").
bool flag_due(const Occurrence& o, std::optional<Day> done_on, Day today, int grace_days);

// How an occurrence stands on `today`, for reports and the dashboard (one rule for both):
//   upcoming  open and not yet past its due date;
//   overdue   open, past the due date but still inside the grace period;
//   missed    open after the grace period (what flag_due flags);
//   on_time   completed on or before the due date;
//   late      completed after the due date (inside or after the grace period).
// A completion dated after `today` (a --now in the past) does not count yet.
enum class OccurrenceState : std::uint8_t { upcoming, overdue, missed, on_time, late };
OccurrenceState occurrence_state(Day due, std::optional<Day> done_on, Day today, int grace_days);
std::string_view occurrence_state_name(
    OccurrenceState s);  // upcoming, overdue, missed, on_time, late
std::string_view occurrence_state_zh(
    OccurrenceState s);  // 未到期, 已逾期, 未履行, 按时完成, 逾期完成
// The day a duty counts as done: that of the completion reaching `min_count` (duties done
// "不少于两次" need two records), given the days of its completions earliest first; nullopt
// while fewer were recorded.
std::optional<Day> done_day(const std::vector<Day>& completion_days, int min_count);

// 第二十六条: 集体责任 (a leadership team's duty) or 个人责任.
enum class FlagScope : std::uint8_t { individual, collective };

struct Attribution {
  FlagScope scope = FlagScope::individual;
  // The person the duty was attributed to on the due date (前任 when they have moved on since:
  // "责任追究不受职务变化和任职期限的限制"); -1 when the post was vacant.
  std::int32_t responsible = -1;
  // Who holds that post today (现任), -1 when vacant; equal to `responsible` when unchanged.
  std::int32_t incumbent = -1;
  bool responsible_moved_on = false;  // responsible >= 0 and no longer holds the post today
  // Collective flags (第二十八条第（五）项): the team's organisation, its principal leader on the
  // due date and the team members in charge of it on the due date (分管).
  std::int32_t team_org = -1;
  std::int32_t principal = -1;
  std::vector<std::int32_t> in_charge;
};

// Attributes an occurrence of `config` (Actor::team -> collective; principal, member and org
// duties -> individual). `today` decides the incumbent.
Attribution attribute(const Config& config, const Occurrence& o, Day today);

// 情节较轻 / 情节较重 / 情节严重.
enum class FlagSeverity : std::uint8_t { light = 1, serious = 2, grave = 3 };
std::string_view severity_zh(FlagSeverity s);    // 较轻, 较重, 严重
std::string_view severity_name(FlagSeverity s);  // light, serious, grave
std::optional<FlagSeverity> parse_severity(std::string_view name_or_zh);

struct SeverityInput {
  int days_late = 0;  // today - due (> 0)
  int repeated_misses =
      0;  // flags for the same obligation and organisation in the previous periods looked at
  int org_open_misses = 0;  // other open flags of the same organisation
};

// The thresholds; the shipped defaults are documented in calendar/README.md.
struct SeverityRules {
  int serious_days = 30;    // this late or later: at least 较重
  int grave_days = 90;      // this late or later: 严重
  int serious_repeats = 1;  // this many earlier misses of the same duty: one grade up
  int serious_open = 3;     // this many other open flags in the organisation: one grade up
};

struct SeverityGrade {
  FlagSeverity grade = FlagSeverity::light;
  std::string reason;  // Chinese: 逾期45天；近两个周期内同一事项已被标记1次
};
SeverityGrade grade(const SeverityInput& in, const SeverityRules& rules = {});

// 第二十八条第（一）（二）项: what the grade suggests. Team: 责令作出书面检查 / 通报批评 /
// 调整处理. Individual: 批评教育、诫勉谈话、责令作出书面检查 / 通报批评 /
// 党纪政纪处分，或者调整职务、 责令辞职、免职和降职等组织处理.
std::vector<std::string> suggested_measures(FlagScope scope, FlagSeverity s);

// Measures a decision can record, for impact periods (第二十八条第（四）项).
enum class Measure : std::uint8_t {
  written_self_criticism,  // 书面检查
  criticism_education,     // 批评教育
  admonishment,            // 诫勉谈话: 6 months no promotion; no excellence rating that year
  circulated_criticism,    // 通报批评
  team_adjustment,         // 调整处理 (team)
  disciplinary,            // 党纪政纪处分
  position_adjustment,     // 调整职务
  ordered_resignation,  // 责令辞职: 1 year without a post; 2 years not above the former level
  dismissal,            // 免职: same as 责令辞职
  demotion,             // 降职: 2 years without promotion
};
std::string_view measure_zh(Measure m);
std::string_view measure_name(Measure m);  // admonishment, dismissal, ...
std::optional<Measure> parse_measure(std::string_view name_or_zh);
std::vector<std::string_view> measure_names();

struct Impact {
  std::string what;  // Chinese: 不得提拔或者重用, 不安排职务, 不得担任高于原任职务层次的职务,
                     // 取消当年年度考核评优评先资格
  Day until = 0;     // last day it applies (inclusive)
};
// The effects of a measure decided on `decided_on`; empty for measures without an impact period.
std::vector<Impact> impact_of(Measure m, Day decided_on);

// 第二十九条: 提出 -> 报批 -> 调查 -> 决定 -> 实施, or 撤销 (with a reason) from any state
// before 实施.
enum class FlagStatus : std::uint8_t {
  raised,
  submitted,
  investigating,
  decided,
  implemented,
  dismissed
};
std::string_view flag_status_zh(FlagStatus s);  // 提出, 报批, 调查, 决定, 实施, 撤销
std::string_view flag_status_name(
    FlagStatus s);  // raised, submitted, investigating, decided, implemented, dismissed
std::optional<FlagStatus> parse_flag_status(std::string_view name_or_zh);
// The next state of `advance`, or nullopt from decided's successor on (implemented, dismissed).
std::optional<FlagStatus> next_status(FlagStatus s);
bool can_dismiss(FlagStatus s);  // not after 实施, not twice

}  // namespace dutyd
