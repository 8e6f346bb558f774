#include "notifiers/reminder_data.hpp"

namespace dutyd {

ReminderData load_reminder_data(const Config& config, Diagnostics& diags) {
  ReminderData data;
  // The shipped holiday data, then the administrators' files ([reminders] holidays) over it.
  data.calendar = notify::load_holiday_dir(notify::default_holiday_dir(), diags);
  for (const std::string& f : config.reminders.holiday_files)
    for (const notify::HolidayYear& y : notify::load_holiday_file(f, diags)) data.calendar.add(y);
  data.templates = config.reminders.templates_file.empty()
                       ? notify::default_templates()
                       : notify::load_templates(config.reminders.templates_file, diags);
  return data;
}

std::vector<int> years_without_holidays(const notify::WorkdayCalendar& calendar, int first,
                                        int last) {
  std::vector<int> years;
  for (int y = first; y <= last; ++y)
    if (!calendar.covers(y)) years.push_back(y);
  return years;
}

}  // namespace dutyd
