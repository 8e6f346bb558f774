#include "base/date.hpp"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace dutyd {
namespace chr = std::chrono;

Day make_day(int year, unsigned month, unsigned day) {
  const chr::year_month_day ymd{chr::year{year}, chr::month{month}, chr::day{day}};
  return static_cast<Day>(chr::sys_days{ymd}.time_since_epoch().count());
}

Civil civil(Day d) {
  const chr::year_month_day ymd{chr::sys_days{chr::days{d}}};
  return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day())};
}

std::string format_day(Day d) {
  const Civil c = civil(d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", c.year, c.month, c.day);
  return buf;
}

bool is_valid_date(int year, unsigned month, unsigned day) {
  if (year < 1900 || year > 2999) return false;
  return chr::year_month_day{chr::year{year}, chr::month{month}, chr::day{day}}.ok();
}

namespace {
bool digits(std::string_view s, int& out) {
  if (s.empty()) return false;
  int v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + (ch - '0');
  }
  out = v;
  return true;
}
}  // namespace

std::optional<Day> parse_day(std::string_view text) {
  int y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  if (!digits(text.substr(0, 4), y) || !digits(text.substr(5, 2), m) ||
      !digits(text.substr(8, 2), d))
    return std::nullopt;
  if (!is_valid_date(y, static_cast<unsigned>(m), static_cast<unsigned>(d))) return std::nullopt;
  return make_day(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

std::optional<MonthDay> parse_month_day(std::string_view text) {
  int m = 0, d = 0;
  if (text.size() != 5 || text[2] != '-') return std::nullopt;
  if (!digits(text.substr(0, 2), m) || !digits(text.substr(3, 2), d)) return std::nullopt;
  if (m == 2 && d == 29) return std::nullopt;
  if (!is_valid_date(2001, static_cast<unsigned>(m), static_cast<unsigned>(d))) return std::nullopt;
  return MonthDay{static_cast<unsigned>(m), static_cast<unsigned>(d)};
}

std::int32_t utc_offset_of(const std::string& tz_name, std::int64_t unix_seconds) {
  // libstdc++ 12 has no chrono time zone database; the C library's TZ handling is enough.
  // TZ is process-global, so serialise.
  static std::mutex tz_mutex;
  std::lock_guard lock(tz_mutex);
  const char* old = std::getenv("TZ");
  const std::string saved = old ? old : "";
  ::setenv("TZ", tz_name.c_str(), 1);
  ::tzset();
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm local{};
  ::localtime_r(&t, &local);
  if (old)
    ::setenv("TZ", saved.c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
  return static_cast<std::int32_t>(local.tm_gmtoff);
}

Day today_in(const std::string& tz_name) {
  const std::int64_t now = std::time(nullptr);
  const std::int64_t local = now + utc_offset_of(tz_name, now);
  return static_cast<Day>((local >= 0 ? local : local - 86399) / 86400);
}

}  // namespace dutyd
