// Working-day calendar: Chinese public holidays and 调休 make-up working days as data (the State
// Council's yearly notice), loaded from TOML (notifiers/holidays/*.toml) or an iCalendar (.ics)
// export; working-day arithmetic and quiet hours on local civil time. Pure logic apart from the
// file loaders; "now" is always a parameter.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/date.hpp"
#include "config/diagnostics.hpp"
#include "config/escalation.hpp"

namespace dutyd::notify {

struct NamedDay {
  Day day = 0;
  std::string name;  // the holiday it belongs to, e.g. "春节"
};

// One year's arrangement, as one notice states it.
struct HolidayYear {
  int year = 0;
  // false: the notice for this year is not published (or not confirmed); the year has no data
  // and falls back to Monday-Friday.
  bool published = true;
  std::string title;     // 国务院办公厅关于2026年部分节假日安排的通知
  std::string document;  // 国办发明电〔2025〕7号
  std::optional<Day> issued;
  std::string url;
  std::string file;                 // where it was read from
  std::vector<NamedDay> days_off;   // every day of every holiday period (weekends inside included)
  std::vector<NamedDay> work_days;  // 调休上班: weekend days that are working days
};

class WorkdayCalendar {
 public:
  // Adds a year; a year added again replaces the earlier data (administrators' files are loaded
  // after the shipped ones and win).
  void add(const HolidayYear& year);
  // Whether `year` has published data; otherwise it is treated as plain Monday-Friday.
  bool covers(int year) const;
  const HolidayYear* year_data(int year) const;
  std::vector<int> years() const;

  // Monday-Friday unless a holiday; Saturday/Sunday only when a make-up working day.
  bool is_working_day(Day d) const;
  // The n-th working day after `d` (n > 0) or before it (n < 0); `d` itself never counts.
  // n == 0 returns `d` unchanged.
  Day add_working_days(Day d, int n) const;
  // `d` when it is a working day, else the next working day after it.
  Day next_working_day_on_or_after(Day d) const;

 private:
  std::map<int, HolidayYear> years_;
  std::map<Day, std::string> off_;
  std::set<Day> work_;
};

// Local civil time: a day and the seconds since its midnight (0..86399).
struct LocalTime {
  Day day = 0;
  std::int32_t second = 0;
  friend bool operator==(const LocalTime&, const LocalTime&) = default;
};

// QuietHours and parse_quiet_hours() are in config/escalation.hpp (the loader reads them).
using dutyd::parse_quiet_hours;
using dutyd::QuietHours;

LocalTime to_local(std::int64_t unix_seconds, std::int32_t utc_offset_seconds);
std::int64_t to_unix(LocalTime t, std::int32_t utc_offset_seconds);

// A working day outside quiet hours.
bool is_working_time(const WorkdayCalendar& cal, LocalTime t, const QuietHours& quiet);
// The next working morning: `t` itself when it is working time, otherwise the first later
// moment that is (on a working day, the end of its quiet hours: 08:00 by default).
LocalTime next_working_time(const WorkdayCalendar& cal, LocalTime t, const QuietHours& quiet);
// Not on a working day's constraint: `t`, or the end of the quiet hours it falls in.
LocalTime next_unquiet_time(LocalTime t, const QuietHours& quiet);

// ---- loading --------------------------------------------------------------------------------
// Parsers report every problem as FILE:LINE:COL into `diags` and never throw on bad input;
// they return the years that were read without error.

// TOML, one year per file (format: notifiers/holidays/README.md).
std::vector<HolidayYear> parse_holiday_toml(std::string_view text, const std::string& path,
                                            Diagnostics& diags);
// iCalendar: all-day VEVENTs (DTSTART;VALUE=DATE, exclusive DTEND optional). An event is a make-up
// working day when its CATEGORIES or SUMMARY contains "班" (上班, 补班, 调休上班) or CATEGORIES
// has WORKDAY; every other event is a day off. Years are those of the dates found.
std::vector<HolidayYear> parse_holiday_ics(std::string_view text, const std::string& path,
                                           Diagnostics& diags);
// Reads one file, by extension (.toml or .ics).
std::vector<HolidayYear> load_holiday_file(const std::string& path, Diagnostics& diags);
// Every *.toml and *.ics in `dir` in name order, added to a calendar.
WorkdayCalendar load_holiday_dir(const std::string& dir, Diagnostics& diags);
// Where the shipped data lives: $DUTYD_HOLIDAYS, else the installed share/dutyd/holidays,
// else the source tree's notifiers/holidays.
std::string default_holiday_dir();

}  // namespace dutyd::notify
