// Escalation ladders: who is told, through which channels, how long before or after a due date.
// The arithmetic here only turns a ladder and an occurrence's dates into send times; whether a
// step still applies (completion stops the ladder) is the scheduler's decision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/date.hpp"
#include "notifiers/workdays.hpp"

namespace dutyd::notify {

enum class OffsetUnit : std::uint8_t { calendar_days, working_days };

// "-30d", "+1wd", "0d": signed count and unit.
struct StepOffset {
  int amount = 0;
  OffsetUnit unit = OffsetUnit::calendar_days;
  friend bool operator==(const StepOffset&, const StepOffset&) = default;
};

// Parses an offset; throws std::invalid_argument whose message says what is wrong and shows the
// accepted form (the config loader adds FILE:LINE:COL).
StepOffset parse_step_offset(std::string_view text);
std::string format_step_offset(const StepOffset& o);

// What an offset counts from: the due date (default) or the opening of the occurrence's window
// (window duties such as the first-quarter inspection).
enum class Anchor : std::uint8_t { due, window_start };
Anchor parse_anchor(std::string_view text);  // "due" | "window-start"; throws std::invalid_argument

// Recipients are relations to the occurrence, not names.
enum class Relation : std::uint8_t {
  responsible,              // "responsible": the person the occurrence is attributed to
  principal,                // "principal": the organisation's principal leader
  in_charge,                // "in-charge": the team member in charge of the organisation (分管)
  organization_department,  // "organization-department": the same-level 组织部
  discipline_organ,         // "discipline-organ": the same-level discipline inspection organ
  higher_principal,         // "higher-principal": the higher-level organisation's principal
};
Relation parse_relation(std::string_view text);  // throws std::invalid_argument
std::string_view relation_name(Relation r);

struct EscalationStep {
  StepOffset at;
  Anchor from = Anchor::due;
  std::vector<Relation> notify;
  std::vector<std::string> via;  // channel kinds or ids: "email", "chat", "dl-wecom", ...
};

// When an overdue step (its day is after the due date) lands outside working time.
enum class OverduePolicy : std::uint8_t {
  // Default: respect quiet hours but not holidays: a missed duty escalates while it is fresh
  // (no one is woken at night, but a 9-day Spring Festival does not hold an escalation back).
  quiet_hours_only,
  working_hours,  // like pre-due steps: wait for the next working morning
  immediately,    // at the step's nominal time, whatever the day and hour
};
OverduePolicy parse_overdue_policy(std::string_view text);  // "quiet-hours-only" | ...

struct Ladder {
  std::string id;
  std::vector<EscalationStep> steps;
  OverduePolicy overdue = OverduePolicy::quiet_hours_only;
  // Local time of day at which a step's day begins to send (before any deferral).
  std::int32_t send_at_second = 9 * 3600;
};

// The default ladder: -30d e-mail, -7d e-mail+chat, -1wd chat to responsible and
// principal, +1wd also in-charge, +5wd discipline organ and organisation department.
Ladder default_ladder();

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
