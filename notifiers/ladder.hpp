// Escalation ladders: who is told, through which channels, how long before or after a due date.
// The arithmetic here only turns a ladder and an occurrence's dates into send times; whether a
// step still applies (completion stops the ladder) is the scheduler's decision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/date.hpp"
#include "config/escalation.hpp"
#include "notifiers/workdays.hpp"

namespace dutyd::notify {

// The configured form (offsets, anchors, relations, steps, overdue policy, the default ladder)
// is config/escalation.hpp, so that the config loader can validate [[ladder]] tables.
using dutyd::Anchor;
using dutyd::default_ladder;
using dutyd::EscalationStep;
using dutyd::format_step_offset;
using dutyd::Ladder;
using dutyd::OffsetUnit;
using dutyd::OverduePolicy;
using dutyd::parse_anchor;
using dutyd::parse_overdue_policy;
using dutyd::parse_relation;
using dutyd::parse_step_offset;
using dutyd::Relation;
using dutyd::relation_name;
using dutyd::StepOffset;

struct StepSchedule {
  std::size_t step = 0;      // index into Ladder::steps
  Day nominal_day = 0;       // anchor + offset
  bool overdue = false;      // nominal_day > due
  bool deferred = false;     // moved out of a non-working day or quiet hours
  std::int64_t send_at = 0;  // unix seconds
};

struct ScheduleContext {
  const WorkdayCalendar& calendar;
  QuietHours quiet;
  std::int32_t utc_offset_seconds = 8 * 3600;  // Asia/Shanghai has no daylight saving
};

// Each step's send time, in the ladder's step order. Pre-due steps (nominal day on or before
// the due date) that fall on a non-working day or in quiet hours move to the next working
// morning; overdue steps follow `ladder.overdue`.
std::vector<StepSchedule> schedule_steps(const Ladder& ladder, Day due, Day window_start,
                                         const ScheduleContext& ctx);

}  // namespace dutyd::notify
