// Calendar dates as day numbers. All duties are all-day deadlines, so dutyd's core works on
// civil dates in the configured time zone and never on instants.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace dutyd {

// Days since 1970-01-01 (proleptic Gregorian).
using Day = std::int32_t;
inline constexpr Day kOpenEnd = std::numeric_limits<Day>::max();

struct Civil {
  int year;
  unsigned month;
  unsigned day;
};

struct MonthDay {
  unsigned month;
  unsigned day;
};

Day make_day(int year, unsigned month, unsigned day);
Civil civil(Day d);
// "2027-01-31"
std::string format_day(Day d);
// Strict "YYYY-MM-DD"; nullopt when malformed or not a real date.
std::optional<Day> parse_day(std::string_view text);
// Strict "MM-DD"; 02-29 is refused because it skips three years in four.
std::optional<MonthDay> parse_month_day(std::string_view text);
bool is_valid_date(int year, unsigned month, unsigned day);
// Seconds east of UTC of an IANA zone (e.g. "Asia/Shanghai") at `unix_seconds`.
std::int32_t utc_offset_of(const std::string& tz_name, std::int64_t unix_seconds);
// Today in the given zone.
Day today_in(const std::string& tz_name);

}  // namespace dutyd
