// The dutyd command line: subcommands over the config, calendar (and later daemon) modules.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace dutyd {

// Exit codes: 0 success, 2 invalid configuration, 64 usage error, 1 other failure.
inline constexpr int kExitConfig = 2;
inline constexpr int kExitUsage = 64;

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace dutyd
