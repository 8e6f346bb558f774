#include "config/escalation.hpp"

#include <array>
#include <stdexcept>

namespace dutyd {

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

std::string_view relation_zh(Relation r) {
  switch (r) {
    case Relation::responsible:
      return "责任人";
    case Relation::principal:
      return "主要负责人";
    case Relation::in_charge:
      return "分管领导";
    case Relation::organization_department:
      return "组织部门";
    case Relation::discipline_organ:
      return "同级纪检监察机关";
    case Relation::higher_principal:
      return "上级党组织主要负责人";
  }
  return "?";
}

std::vector<std::string_view> relation_names() {
  std::vector<std::string_view> v;
  for (const auto& [name, r] : kRelations) v.push_back(name);
  return v;
}

std::string_view overdue_policy_name(OverduePolicy p) {
  switch (p) {
    case OverduePolicy::quiet_hours_only:
      return "quiet-hours-only";
    case OverduePolicy::working_hours:
      return "working-hours";
    case OverduePolicy::immediately:
      return "immediately";
  }
  return "?";
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

std::int32_t parse_time_of_day(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return -1;
  for (std::size_t i : {0u, 1u, 3u, 4u})
    if (s[i] < '0' || s[i] > '9') return -1;
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return -1;
  return h * 3600 + m * 60;
}

bool QuietHours::contains(std::int32_t s) const {
  if (start == end) return false;
  if (start < end) return s >= start && s < end;
  return s >= start || s < end;
}

QuietHours parse_quiet_hours(std::string_view text) {
  auto fail = [&](const std::string& what) -> QuietHours {
    throw std::invalid_argument(
        "quiet hours \"" + std::string(text) + "\": " + what + std::string(kDash) +
        "write them as HH:MM-HH:MM on a 24-hour clock, e.g. \"20:00-08:00\"");
  };
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return fail("no '-' between start and end");
  const std::int32_t a = parse_time_of_day(text.substr(0, dash));
  const std::int32_t b = parse_time_of_day(text.substr(dash + 1));
  if (a < 0) return fail("the start is not a time of day");
  if (b < 0) return fail("the end is not a time of day");
  return QuietHours{a, b};
}

}  // namespace dutyd
