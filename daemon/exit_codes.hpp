// The exit codes of every dutyd command: 0 success, 1 other failure (an unknown person or
// organisation, a database that cannot be opened), 2 invalid configuration, 64 usage error.
#pragma once

namespace dutyd {

inline constexpr int kExitConfig = 2;
inline constexpr int kExitUsage = 64;

}  // namespace dutyd
