#include "daemon/cli.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "calendar/events.hpp"
#include "daemon/cli_internal.hpp"
#include "daemon/simulate.hpp"

namespace dutyd {
namespace cli {
namespace {

const char* kUsage =
    "usage: dutyd COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  catalogue [--format table|json] [--catalogue FILE]\n"
    "      print the built-in obligation catalogue\n"
    "  check-config -c FILE [--catalogue FILE] [--today DATE]\n"
    "      validate a configuration, its holiday files and message templates; exit 0 when\n"
    "      valid, 2 when not\n"
    "  expand -c FILE [--from DATE] [--to DATE] [--person ID | --org ID]\n"
    "         [--format table|json|ics] [--today DATE]\n"
    "      list occurrences due in [from, to] (default: today and the next 90 days)\n"
    "  feed -c FILE (--person ID | --org ID) [--from DATE] [--to DATE] [-o FILE]\n"
    "  feed -c FILE --all --out-dir DIR [--from DATE] [--to DATE]\n"
    "      write iCalendar feeds (default range: 1 January last year to 31 December next year)\n"
    "  simulate -c FILE --from DATE --to DATE [--format table|json] [--org ID] [--person ID]\n"
    "      the reminders and escalations the ladders would send in [from, to]; sends nothing\n"
    "\n"
    "  run -c FILE [--listen HOST:PORT] [--now DATETIME]\n"
    "      the daemon: serves feeds, completion links and the API (see README.md)\n"
    "  token issue -c FILE (--person ID | --org ID | --admin) [--kind feed|api] [--note TEXT]\n"
    "  token issue -c FILE --all      one feed per person, printed as ID<TAB>URL\n"
    "  token list -c FILE [--format table|json]\n"
    "  token revoke -c FILE --id N\n"
    "  complete -c FILE --occurrence UID --done-on DATE [--document-number X] [--minutes X]\n"
    "           [--evidence TEXT] [--note TEXT]\n"
    "  link -c FILE --occurrence UID [--person ID]\n"
    "      print a signed completion link\n"
    "  audit verify -c FILE\n"
    "      check the audit log's hash chain\n"
    "  deliveries -c FILE [--occurrence UID] [--status S] [--format table|json]\n"
    "      the reminder outbox's history: queued, sent, failed, cancelled, superseded\n"
    "  flags -c FILE [--org ID] [--status S] [--format table|json]\n"
    "      non-compliance flags (第二十七条): who, how late, how severe, suggested measures;\n"
    "      S is raised, submitted, investigating, decided, implemented or dismissed\n"
    "  flag advance -c FILE --id N [--reason TEXT] [--measure M --decided-on DATE]\n"
    "      the next step of 第二十九条: 提出 -> 报批 -> 调查 -> 决定 -> 实施; the step to 决定\n"
    "      records the measure (admonishment, dismissal, ... or 诫勉谈话, 免职, ...) and its date\n"
    "  flag dismiss -c FILE --id N --reason TEXT\n"
    "      撤销 a flag before 实施, e.g. after an accepted 情况说明\n"
    "  report -c FILE [--year Y] [--org ID] [--format table|csv|json] [--today DATE | --now "
    "DATETIME]\n"
    "      the annual report (第二十一条, 第二十五条): per organisation and per post held, duties\n"
    "      due, done on time, done late, missed, open flags by 第二十七条 item and grade, decided\n"
    "      measures; as of today (default year: today's), for ID and its subtree\n"
    "  event add -c FILE --org ID [--person ID] (--kind K | --obligation ID) --date DATE\n"
    "            [--note TEXT]\n"
    "      record an event that triggers a duty; K is incident (第六条第（九）项),\n"
    "      family-event (第七条第（十一）项 / 第八条第（九）项, needs --person) or promotion\n"
    "      (第十条第（五）项); a running daemon picks it up within seconds\n"
    "  event list -c FILE [--all] [--format table|json]\n"
    "      events recorded at run time (--all: withdrawn ones too)\n"
    "  event withdraw -c FILE ID --reason TEXT\n"
    "      withdraw a mistaken event: its occurrence disappears, its reminders are cancelled\n"
    "\n"
    "State commands take --database PATH (default: [daemon] database). DATE is YYYY-MM-DD;\n"
    "DATETIME is YYYY-MM-DDTHH:MM:SS or YYYY-MM-DD in the configured time zone.\n";

}  // namespace

Args parse_args(const std::vector<std::string>& argv) {
  static const std::vector<std::string> with_value{
      "-c",           "--config",   "--catalogue",
      "--format",     "--from",     "--to",
      "--person",     "--org",      "-o",
      "--output",     "--out-dir",  "--today",
      "--database",   "--listen",   "--now",
      "--kind",       "--note",     "--id",
      "--occurrence", "--done-on",  "--document-number",
      "--minutes",    "--evidence", "--status",
      "--reason",     "--measure",  "--decided-on",
      "--year",       "--date",     "--obligation"};
  static const std::vector<std::string> flags{"--all", "--help", "-h", "--admin"};
  Args a;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& s = argv[i];
    if (!s.empty() && s[0] != '-') {
      if (a.command.empty())
        a.command = s;
      else
        a.positional.push_back(s);
      continue;
    }
    std::string key = s, value;
    bool inline_value = false;
    if (auto eq = s.find('='); s.rfind("--", 0) == 0 && eq != std::string::npos) {
      key = s.substr(0, eq), value = s.substr(eq + 1), inline_value = true;
    }
    if (key == "--config") key = "-c";
    if (key == "--output") key = "-o";
    if (std::find(with_value.begin(), with_value.end(), key) != with_value.end()) {
      if (!inline_value) {
        if (i + 1 >= argv.size()) throw UsageError("option " + key + " needs a value");
        value = argv[++i];
      }
      a.options[key] = value;
    } else if (std::find(flags.begin(), flags.end(), key) != flags.end()) {
      a.flags.push_back(key == "-h" ? "--help" : key);
    } else {
      throw UsageError("unknown option '" + s + "'");
    }
  }
  return a;
}

Day date_option(const Args& a, const std::string& key, Day fallback) {
  if (!a.has(key)) return fallback;
  auto d = parse_day(a.get(key));
  if (!d) throw UsageError(key + " '" + a.get(key) + "' is not a date; write YYYY-MM-DD");
  return *d;
}

std::string format_option(const Args& a, std::initializer_list<const char*> allowed) {
  const std::string f = a.get("--format", *allowed.begin());
  for (const char* x : allowed)
    if (f == x) return f;
  std::string list;
  for (const char* x : allowed) list += (list.empty() ? "" : ", ") + std::string(x);
  throw UsageError("--format '" + f + "' is not one of: " + list);
}

void print_diagnostics(const LoadResult& r, std::ostream& err, bool warnings) {
  for (const auto& d : r.diagnostics.items())
    if (warnings || d.severity == Severity::error) err << format(d) << "\n";
}

std::optional<LoadResult> load(const Args& a, std::ostream& err) {
  if (!a.has("-c")) throw UsageError(a.command + " needs -c FILE (the configuration)");
  LoadOptions opts;
  opts.catalogue_path = a.get("--catalogue");
  LoadResult r = load_config(a.get("-c"), opts);
  if (!r.ok()) {
    print_diagnostics(r, err, false);
    err << "dutyd: " << r.diagnostics.error_count()
        << " error(s) in the configuration; run `dutyd check-config -c " << a.get("-c")
        << "` after fixing them\n";
    return std::nullopt;
  }
  return r;
}

std::int64_t clock_offset(const Args& a, const Config& c) {
  if (!a.has("--now")) return 0;
  const std::string v = a.get("--now");
  auto day = parse_day(v.substr(0, 10));
  int h = 0, m = 0, sec = 0;
  const bool time_ok =
      v.size() == 10 || (v.size() == 19 && v[10] == 'T' &&
                         std::sscanf(v.c_str() + 11, "%2d:%2d:%2d", &h, &m, &sec) == 3 && h < 24 &&
                         m < 60 && sec < 60);
  if (!day || !time_ok)
    throw UsageError("--now '" + v + "' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS");
  const std::int64_t local = std::int64_t{*day} * 86400 + h * 3600 + m * 60 + sec;
  const std::int64_t wall = static_cast<std::int64_t>(std::time(nullptr));
  return local - utc_offset_of(c.timezone, wall) - wall;
}

std::string cli_actor() {
  const char* user = std::getenv("SUDO_USER");
  if (!user) user = std::getenv("USER");
  return std::string("cli:") + (user ? user : "unknown");
}

std::optional<StateContext> open_state(const Args& a, std::ostream& err) {
  auto r = load(a, err);
  if (!r) return std::nullopt;
  StateContext ctx{std::move(*r), {}, nullptr, nullptr};
  ctx.clock.offset_seconds = clock_offset(a, *ctx.loaded.config);
  const std::string path = database_path(ctx.loaded.config->daemon.database, a.get("--database"));
  try {
    ctx.store = std::make_unique<Store>(path);
  } catch (const StoreError& e) {
    err << "dutyd: " << e.what() << "\n";
    return std::nullopt;
  }
  std::vector<std::string> skipped;
  ctx.served = with_stored_events(ctx.loaded.config, ctx.store->events(), &skipped);
  for (const auto& s : skipped) err << "dutyd: warning: " << s << "\n";
  return ctx;
}

}  // namespace cli

int run_cli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  using namespace cli;
  try {
    const Args a = parse_args(argv);
    if (a.has("--help") || a.command == "help") {
      out << kUsage;
      return 0;
    }
    if (a.command == "catalogue") return cmd_catalogue(a, out, err);
    if (a.command == "check-config") return cmd_check(a, out, err);
    if (a.command == "expand") return cmd_expand(a, out, err);
    if (a.command == "feed") return cmd_feed(a, out, err);
    if (a.command == "simulate") return run_simulate(argv, out, err);
    if (a.command == "deliveries") return cmd_deliveries(a, out, err);
    if (a.command == "flags") return cmd_flags(a, out, err);
    if (a.command == "flag") return cmd_flag(a, out, err);
    if (a.command == "report") return cmd_report(a, out, err);
    if (a.command == "event") return cmd_event(a, out, err);
    if (a.command == "run") return cmd_run(a, out, err);
    if (a.command == "token") return cmd_token(a, out, err);
    if (a.command == "complete") return cmd_complete_or_link(a, out, err, false);
    if (a.command == "link") return cmd_complete_or_link(a, out, err, true);
    if (a.command == "audit") return cmd_audit(a, out, err);
    if (a.command == "version" || a.command == "--version") {
      out << "dutyd 0.1.0\n";
      return 0;
    }
    throw UsageError(a.command.empty() ? "no command given"
                                       : "unknown command '" + a.command + "'");
  } catch (const UsageError& e) {
    err << "dutyd: " << e.what() << "\n\n" << kUsage;
    return kExitUsage;
  }
}

}  // namespace dutyd
