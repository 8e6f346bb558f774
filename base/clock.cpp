#include "base/clock.hpp"

#include <ctime>

namespace dutyd {

std::int64_t Clock::now() const {
  return static_cast<std::int64_t>(std::time(nullptr)) + offset_seconds;
}

std::string iso_utc(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace dutyd
