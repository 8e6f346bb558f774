// The daemon's notion of "now": the wall clock with an optional offset (`--now`), and the
// conversions between instants and local days that every layer above shares.
#pragma once

#include <cstdint>
#include <string>

#include "base/date.hpp"

namespace dutyd {

// Wall clock with an optional offset (`--now`): tests and drills run "as if" at another time.
struct Clock {
  std::int64_t offset_seconds = 0;
  std::int64_t now() const;
};

// Day of `unix_seconds` in a zone `utc_offset` seconds east of UTC.
inline Day local_day(std::int64_t unix_seconds, std::int32_t utc_offset) {
  const std::int64_t s = unix_seconds + utc_offset;
  return static_cast<Day>((s >= 0 ? s : s - 86399) / 86400);
}

// "2026-11-27T09:30:00Z"
std::string iso_utc(std::int64_t unix_seconds);

}  // namespace dutyd
