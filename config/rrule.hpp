// Recurrence rules of the catalogue, evaluated with libical. The due dates of a rule do not
// depend on who owes the duty, so callers expand each rule once and share the dates.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/date.hpp"

namespace dutyd {

// nullopt when `rule` is a usable due-date rule; otherwise what is wrong with it.
std::optional<std::string> rrule_problem(const std::string& rule);
// The rule's dates in [from, to], ascending. The rule must have passed rrule_problem.
std::vector<Day> rrule_dates(const std::string& rule, Day from, Day to);

}  // namespace dutyd
