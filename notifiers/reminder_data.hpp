// The data reminders need besides the Config: the working-day calendar (the shipped holiday
// files, then [reminders] holidays over them) and the message templates (the shipped texts, then
// [reminders] templates over them). Shared by `dutyd run`, `dutyd simulate` and
// `dutyd check-config`, so that what check-config accepts is what the daemon uses.
#pragma once

#include <string>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/model.hpp"
#include "notifiers/templates.hpp"
#include "notifiers/workdays.hpp"

namespace dutyd {

struct ReminderData {
  notify::WorkdayCalendar calendar;
  notify::Templates templates;
};

// Errors (unreadable or malformed holiday or template files) go to `diags` with FILE:LINE:COL;
// the caller refuses to start or reload when diags has errors.
ReminderData load_reminder_data(const Config& config, Diagnostics& diags);

// Years in [first, last] without published holiday data, for warnings ("working days that year
// are Monday-Friday").
std::vector<int> years_without_holidays(const notify::WorkdayCalendar& calendar, int first,
                                        int last);

}  // namespace dutyd
