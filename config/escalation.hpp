// Escalation ladders as configured: step offsets such as "-30d" / "+1wd", what they count from,
// the relations told and the channels used, the overdue policy, and the shipped default ladder.
// Lives in config/ because the loader validates [[ladder]] tables with these parsers; the
// arithmetic that turns a ladder into send times is notifiers/ladder.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dutyd {

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
// 责任人, 主要负责人, 分管领导, 组织部门, 同级纪检监察机关, 上级党组织主要负责人
std::string_view relation_zh(Relation r);
// Every relation name, for "did you mean" and help texts.
std::vector<std::string_view> relation_names();

struct EscalationStep {
  StepOffset at;
  Anchor from = Anchor::due;
  std::vector<Relation> notify;
  std::vector<std::string> via;  // "email", "chat", a channel kind ("wecom", ...) or a channel id
  // `flag = true`: an occurrence still open on this step's day is flagged that day (第二十七条),
  // when that comes before the end of its grace period. Only on steps after the due date.
  bool raise_flag = false;
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
std::string_view overdue_policy_name(OverduePolicy p);

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

// Hours in which nothing is sent, local time, [start, end); wraps over midnight when
// start > end; start == end means no quiet hours. Default 20:00-08:00.
struct QuietHours {
  std::int32_t start = 20 * 3600;
  std::int32_t end = 8 * 3600;
  bool contains(std::int32_t second_of_day) const;
};

// "20:00-08:00" (24-hour clock, minutes required); throws std::invalid_argument with a message
// saying what is wrong and the expected form.
QuietHours parse_quiet_hours(std::string_view text);

// "HH:MM" on a 24-hour clock as seconds since midnight; -1 when malformed.
std::int32_t parse_time_of_day(std::string_view text);

}  // namespace dutyd
