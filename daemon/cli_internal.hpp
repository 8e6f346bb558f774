// Internal to daemon/: what the command families (cli_config.cpp, cli_state.cpp,
// cli_records.cpp) share with the dispatcher (cli.cpp): the parsed command line, the checks of
// its options, loading the configuration and opening the state.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "config/loader.hpp"
#include "daemon/cli.hpp"
#include "daemon/run.hpp"
#include "store/store.hpp"

namespace dutyd::cli {

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::vector<std::string> flags;
  bool has(const std::string& k) const {
    return options.count(k) || std::find(flags.begin(), flags.end(), k) != flags.end();
  }
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = options.find(k);
    return it == options.end() ? def : it->second;
  }
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct StateContext {
  LoadResult loaded;
  Clock clock;
  std::unique_ptr<Store> store;
  // The configuration with the events recorded at run time merged in, as the daemon serves it.
  std::shared_ptr<const Config> served;
  const Config& config() const { return *served; }
};

Args parse_args(const std::vector<std::string>& argv);
// A date option (YYYY-MM-DD), `fallback` when absent; throws UsageError when malformed.
Day date_option(const Args& a, const std::string& key, Day fallback);
// --format, the first of `allowed` when absent; throws UsageError when not one of them.
std::string format_option(const Args& a, std::initializer_list<const char*> allowed);
void print_diagnostics(const LoadResult& r, std::ostream& err, bool warnings);
// Loads -c FILE; prints errors and returns nullopt when invalid.
std::optional<LoadResult> load(const Args& a, std::ostream& err);
// --now: a local date-time in the configured zone, as an offset from the wall clock.
std::int64_t clock_offset(const Args& a, const Config& c);
// Who acts from the shell, for the audit log: "cli:<user>" (the sudo caller when there is one).
std::string cli_actor();
// The configuration and the store, with the stored events merged in; nullopt (said on `err`)
// when either cannot be opened.
std::optional<StateContext> open_state(const Args& a, std::ostream& err);

// The command families.
int cmd_catalogue(const Args& a, std::ostream& out, std::ostream& err);
int cmd_check(const Args& a, std::ostream& out, std::ostream& err);
int cmd_expand(const Args& a, std::ostream& out, std::ostream& err);
int cmd_feed(const Args& a, std::ostream& out, std::ostream& err);
int cmd_run(const Args& a, std::ostream& out, std::ostream& err);
int cmd_token(const Args& a, std::ostream& out, std::ostream& err);
int cmd_complete_or_link(const Args& a, std::ostream& out, std::ostream& err, bool link);
int cmd_audit(const Args& a, std::ostream& out, std::ostream& err);
int cmd_deliveries(const Args& a, std::ostream& out, std::ostream& err);
int cmd_flags(const Args& a, std::ostream& out, std::ostream& err);
int cmd_report(const Args& a, std::ostream& out, std::ostream& err);
int cmd_flag(const Args& a, std::ostream& out, std::ostream& err);
int cmd_event(const Args& a, std::ostream& out, std::ostream& err);

}  // namespace dutyd::cli
