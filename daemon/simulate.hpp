// `dutyd simulate`: the timeline of every reminder and escalation the configured ladders would
// send in a date range (when, to whom, through which channel, which step, for which occurrence),
// treating every occurrence as not completed and sending nothing.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace dutyd {

// `args` is the whole command line after the program name, starting with "simulate".
// Exit codes as run_cli: 0, 1 unknown person/org, 2 invalid configuration or holiday data,
// 64 usage error.
int run_simulate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace dutyd
