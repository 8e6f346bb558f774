// The dutyd command line: one subcommand per task (see `dutyd help`); the command families live
// in cli_config.cpp, cli_state.cpp and cli_records.cpp.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "daemon/exit_codes.hpp"

namespace dutyd {

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace dutyd
