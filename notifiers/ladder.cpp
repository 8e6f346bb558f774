#include "notifiers/ladder.hpp"

#include <array>
#include <limits>
#include <stdexcept>

namespace dutyd::notify {

namespace {
constexpr std::string_view kDash = " — ";
constexpr int kMaxOffset = 3660;  // ten years of days: anything larger is a typo

const std::array<std::pair<std::string_view, Relation>, 6> kRelations{{
    {"responsible", Relation::responsible},
    {"principal", Relation::principal},
    {"in-charge", Relation::in_charge},
    {"organization-department", Relation::organization_department},
    {"discipline-organ", Relation::discipline_organ},
    {"higher-principal", Relation::higher_principal},
}};
}  // namespace

StepOffset parse_step_offset(std::string_view text) {
  auto fail = [&](const std::string& what) -> StepOffset {
    throw std::invalid_argument("offset \"" + std::string(text) + "\": " + what +
                                std::string(kDash) +
                                "write a sign, a whole number and a unit: \"-30d\" (calendar "
                                "days) or \"+1wd\" (working days)");
  };
  std::string_view s = text;
  int sign = 0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  std::size_t digits = 0;
  long value = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') {
    value = value * 10 + (s[digits] - '0');
    if (value > kMaxOffset) return fail("more than " + std::to_string(kMaxOffset) + " days");
    ++digits;
  }
  if (digits == 0) return fail(text.empty() ? "empty" : "no number");
  const std::string_view unit = s.substr(digits);
  StepOffset o;
  if (unit == "d")
    o.unit = OffsetUnit::calendar_days;
  else if (unit == "wd")
    o.unit = OffsetUnit::working_days;
  else if (unit.empty())
    return fail("no unit");
  else
    return fail("unknown unit \"" + std::string(unit) + "\"");
  if (sign == 0 && value != 0) return fail("no sign (before or after?)");
  o.amount = static_cast<int>(sign < 0 ? -value : value);
  return o;
}

std::string format_step_offset(const StepOffset& o) {
  std::string s = o.amount < 0 ? "-" : (o.amount > 0 ? "+" : "");
  s += std::to_string(o.amount < 0 ? -o.amount : o.amount);
  s += o.unit == OffsetUnit::calendar_days ? "d" : "wd";
  return s;
}

Anchor parse_anchor(std::string_view text) {
  if (text == "due") return Anchor::due;
  if (text == "window-start") return Anchor::window_start;
  throw std::invalid_argument("step anchor \"" + std::string(text) + "\" is unknown" +
                              std::string(kDash) + "use \"due\" or \"window-start\"");
}

Relation parse_relation(std::string_view text) {
  for (const auto& [name, r] : kRelations)
    if (name == text) return r;
  std::string list;
  for (const auto& [name, r] : kRelations) list += (list.empty() ? "" : ", ") + std::string(name);
  throw std::invalid_argument("recipient \"" + std::string(text) + "\" is not a relation" +
                              std::string(kDash) + "use one of: " + list);
}

std::string_view relation_name(Relation r) {
  for (const auto& [name, rel] : kRelations)
    if (rel == r) return name;
  return "?";
}

OverduePolicy parse_overdue_policy(std::string_view text) {
  if (text == "quiet-hours-only") return OverduePolicy::quiet_hours_only;
  if (text == "working-hours") return OverduePolicy::working_hours;
  if (text == "immediately") return OverduePolicy::immediately;
  throw std::invalid_argument("overdue policy \"" + std::string(text) + "\" is unknown" +
                              std::string(kDash) +
                              "use \"quiet-hours-only\", \"working-hours\" or \"immediately\"");
}

Ladder default_ladder() {
  using R = Relation;
  auto step = [](std::string_view at, std::vector<Relation> who, std::vector<std::string> via) {
    return EscalationStep{parse_step_offset(at), Anchor::due, std::move(who), std::move(via)};
  };
  Ladder l;
  l.id = "default";
  l.steps = {
      step("-30d", {R::responsible}, {"email"}),
      step("-7d", {R::responsible}, {"email", "chat"}),
      step("-1wd", {R::responsible, R::principal}, {"chat"}),
      step("+1wd", {R::responsible, R::principal, R::in_charge}, {"email", "chat"}),
      step("+5wd", {R::discipline_organ, R::organization_department}, {"email", "chat"}),
  };
  return l;
}

std::vector<StepSchedule> schedule_steps(const Ladder& ladder, Day due, Day window_start,
                                         const ScheduleContext& ctx) {
  std::vector<StepSchedule> out;
  out.reserve(ladder.steps.size());
  for (std::size_t i = 0; i < ladder.steps.size(); ++i) {
    const EscalationStep& s = ladder.steps[i];
    const Day anchor = s.from == Anchor::due ? due : window_start;
    StepSchedule r;
    r.step = i;
    r.nominal_day = s.at.unit == OffsetUnit::calendar_days
                        ? anchor + s.at.amount
                        : ctx.calendar.add_working_days(anchor, s.at.amount);
    r.overdue = r.nominal_day > due;
    const LocalTime nominal{r.nominal_day, ladder.send_at_second};
    LocalTime at = nominal;
    if (!r.overdue || ladder.overdue == OverduePolicy::working_hours)
      at = next_working_time(ctx.calendar, nominal, ctx.quiet);
    else if (ladder.overdue == OverduePolicy::quiet_hours_only)
      at = next_unquiet_time(nominal, ctx.quiet);
    r.deferred = !(at == nominal);
    r.send_at = to_unix(at, ctx.utc_offset_seconds);
    out.push_back(r);
  }
  return out;
}

}  // namespace dutyd::notify
