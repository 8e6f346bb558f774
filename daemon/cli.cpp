#include "daemon/cli.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "calendar/accountability.hpp"
#include "calendar/events.hpp"
#include "calendar/expand.hpp"
#include "calendar/flags.hpp"
#include "calendar/ical_feed.hpp"
#include "calendar/report.hpp"
#include "calendar/snapshot.hpp"
#include "config/loader.hpp"
#include "daemon/run.hpp"
#include "daemon/simulate.hpp"
#include "http/service.hpp"
#include "notifiers/reminder_data.hpp"
#include "store/delivery_forms.hpp"
#include "store/store.hpp"

namespace dutyd {
namespace {

namespace fs = std::filesystem;

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

// Loads -c FILE; prints errors and returns nullopt when invalid.
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

int cmd_catalogue(const Args& a, std::ostream& out, std::ostream& err) {
  const std::string format = format_option(a, {"table", "json"});
  const std::string path = a.has("--catalogue") ? a.get("--catalogue") : default_catalogue_path();
  LoadResult r = load_catalogue(path);
  if (!r.ok()) {
    print_diagnostics(r, err, false);
    return kExitConfig;
  }
  for (const Obligation& o : r.config->obligations) {
    std::string schedule =
        o.event_triggered() ? "事件：" + o.event + "，" + std::to_string(o.deadline_days) + "日内"
                            : o.rrule;
    if (format == "json") {
      nlohmann::ordered_json j;
      j["id"] = o.id;
      j["article"] = o.article;
      j["item"] = o.item;
      j["citation"] = citation(o.article, o.item);
      j["title"] = o.title;
      j["actor"] = to_string(o.actor);
      std::vector<std::string> applies;
      for (const auto& s : o.applies_to)
        applies.push_back(std::string(to_string(s.kind)) +
                          (s.subtype.empty() ? "" : ":" + s.subtype));
      j["applies_to"] = applies;
      std::vector<std::string> levels;
      for (unsigned l = 0; l < 5; ++l)
        if (o.levels & (1u << l)) levels.push_back(to_string(static_cast<Level>(l)));
      j["levels"] = levels;
      if (o.event_triggered()) {
        j["event"] = o.event;
        j["deadline_days"] = o.deadline_days;
      } else {
        j["rrule"] = o.rrule;
        if (o.window_start) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "%02u-%02u", o.window_start->month, o.window_start->day);
          j["window_start"] = buf;
        }
        j["period"] = to_string(o.period);
      }
      j["min_count"] = o.min_count;
      if (o.counterparts != Counterparts::none) j["counterparts"] = to_string(o.counterparts);
      j["recipients"] = o.recipients;
      j["evidence"] = o.evidence;
      j["art27"] = o.art27;
      if (!o.timing_note.empty()) j["timing_note"] = o.timing_note;
      j["quote"] = o.quote;
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      out << o.id << "\t" << citation(o.article, o.item) << "\t" << actor_zh(o.actor) << "\t"
          << o.title << "\t" << schedule << "\n";
    }
  }
  return 0;
}

int cmd_check(const Args& a, std::ostream& out, std::ostream& err) {
  if (!a.has("-c")) throw UsageError("check-config needs -c FILE");
  LoadOptions opts;
  opts.catalogue_path = a.get("--catalogue");
  LoadResult r = load_config(a.get("-c"), opts);
  print_diagnostics(r, err, true);
  const auto& c = *r.config;
  // What run and simulate read besides the configuration: the holiday files and the message
  // templates, checked the way they will be used.
  Diagnostics data_diags;
  const ReminderData data = load_reminder_data(c, data_diags);
  const int year = civil(date_option(a, "--today", today_in(c.timezone))).year;
  for (int y : years_without_holidays(data.calendar, year, year + 1)) {
    const notify::HolidayYear* known = data.calendar.year_data(y);
    data_diags.add(Severity::warning, known ? known->file : a.get("-c"), 1, 1,
                   "no published holiday data for " + std::to_string(y) +
                       ": working days that year are Monday-Friday — add the State "
                       "Council's notice to [reminders] holidays (format: "
                       "notifiers/holidays/README.md)");
  }
  for (const auto& d : data_diags.items()) err << format(d) << "\n";
  const std::size_t errors = r.diagnostics.error_count() + data_diags.error_count();
  const std::size_t warnings = r.diagnostics.warning_count() + data_diags.warning_count();
  if (errors) {
    err << a.get("-c") << ": " << errors << " error(s), " << warnings << " warning(s)\n";
    return kExitConfig;
  }
  out << a.get("-c") << ": ok: " << c.orgs.size() << " orgs, " << c.persons.size() << " persons, "
      << c.posts.size() << " posts, " << c.obligations.size() << " obligations, " << c.events.size()
      << " events, " << warnings << " warning(s)\n";
  return 0;
}

struct Selection {
  ExpandFilter filter;
  std::string name;
  std::string file_stem;
};

std::optional<Selection> select(const Args& a, const Config& c, std::ostream& err, bool required) {
  Selection s;
  if (a.has("--person") && a.has("--org")) throw UsageError("give --person or --org, not both");
  if (a.has("--person")) {
    auto it = c.person_index.find(a.get("--person"));
    if (it == c.person_index.end()) {
      err << "dutyd: unknown person '" << a.get("--person") << "' — see the [[person]] ids in "
          << a.get("-c") << "\n";
      return std::nullopt;
    }
    s.filter.person = it->second;
    s.name = person_feed_name(c.persons[static_cast<std::size_t>(it->second)]);
    s.file_stem = "person-" + a.get("--person");
  } else if (a.has("--org")) {
    auto it = c.org_index.find(a.get("--org"));
    if (it == c.org_index.end()) {
      err << "dutyd: unknown org '" << a.get("--org") << "' — see the [[org]] ids in "
          << a.get("-c") << "\n";
      return std::nullopt;
    }
    s.filter.org = it->second;
    s.name = org_feed_name(c.orgs[static_cast<std::size_t>(it->second)]);
    s.file_stem = "org-" + a.get("--org");
  } else if (required) {
    throw UsageError("feed needs --person ID, --org ID or --all");
  } else {
    s.name = "全面从严治党责任日程";
  }
  return s;
}

nlohmann::ordered_json occurrence_json(const Expander& ex, const Expansion& e,
                                       const Occurrence& o) {
  const Config& c = ex.config();
  const Obligation& ob = c.obligations[static_cast<std::size_t>(o.obligation)];
  nlohmann::ordered_json j;
  j["uid"] = ex.uid(o);
  j["obligation"] = ob.id;
  j["article"] = ob.article;
  j["item"] = ob.item;
  j["citation"] = citation(ob.article, ob.item);
  j["org"] = c.orgs[static_cast<std::size_t>(o.org)].id;
  j["person"] = o.person >= 0
                    ? nlohmann::ordered_json(c.persons[static_cast<std::size_t>(o.person)].id)
                    : nlohmann::ordered_json(nullptr);
  j["vacant"] = o.person < 0;
  std::vector<std::string> preds;
  for (auto p : e.predecessors(o)) preds.push_back(c.persons[static_cast<std::size_t>(p)].id);
  j["predecessors"] = preds;
  if (o.counterpart_person >= 0)
    j["counterpart_person"] = c.persons[static_cast<std::size_t>(o.counterpart_person)].id;
  if (o.counterpart_org >= 0)
    j["counterpart_org"] = c.orgs[static_cast<std::size_t>(o.counterpart_org)].id;
  j["period"] = ex.period_label(o);
  j["window_start"] = format_day(o.window_start);
  j["due"] = format_day(o.due);
  j["min_count"] = ob.min_count;
  j["title"] = ex.title(o);
  return j;
}

// The configuration as the daemon serves it: with the events recorded at run time (`dutyd event
// add`, POST /api/v1/events) merged in, when the configured database (or --database) exists. A
// missing database is not created: expand and feed then show the configuration's own duties.
std::shared_ptr<const Config> as_served(const Args& a, std::shared_ptr<const Config> config,
                                        std::ostream& err) {
  const std::string path = database_path(config->daemon.database, a.get("--database"));
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return config;
  try {
    Store store(path);
    std::vector<std::string> skipped;
    auto served = with_stored_events(config, store.events(), &skipped);
    for (const auto& line : skipped) err << "dutyd: warning: " << line << "\n";
    return served;
  } catch (const std::exception& e) {
    err << "dutyd: warning: the events recorded in " << path << " are left out: " << e.what()
        << "\n";
    return config;
  }
}

int cmd_expand(const Args& a, std::ostream& out, std::ostream& err) {
  const std::string format = format_option(a, {"table", "json", "ics"});
  auto r = load(a, err);
  if (!r) return kExitConfig;
  const auto served = as_served(a, r->config, err);
  const Config& c = *served;
  const Day today = date_option(a, "--today", today_in(c.timezone));
  const Day from = date_option(a, "--from", today);
  const Day to = date_option(a, "--to", from + 90);
  if (to < from) throw UsageError("--to is before --from");
  auto sel = select(a, c, err, false);
  if (!sel) return 1;
  Expander ex(c);
  const Expansion e = ex.expand(from, to, sel->filter);
  if (format == "ics") {
    out << render_feed(ex, e, {sel->name, sel->filter.person});
  } else if (format == "json") {
    for (const auto& o : e.occurrences)
      out << occurrence_json(ex, e, o).dump(-1, ' ', false,
                                            nlohmann::json::error_handler_t::replace)
          << "\n";
  } else {
    out << "截止日期    办理期间起   条款                 组织 / 责任人 / 事项\n";
    for (const auto& o : e.occurrences) {
      const Obligation& ob = c.obligations[static_cast<std::size_t>(o.obligation)];
      const std::string who =
          o.person >= 0 ? c.persons[static_cast<std::size_t>(o.person)].name : "【空缺】";
      out << format_day(o.due) << "  " << format_day(o.window_start) << "  "
          << citation(ob.article, ob.item) << "  " << c.orgs[static_cast<std::size_t>(o.org)].name
          << " / " << who << " / " << ex.title(o) << "\n";
    }
    out << e.occurrences.size() << " occurrence(s) due " << format_day(from) << " .. "
        << format_day(to) << "\n";
  }
  return 0;
}

bool write_file(const fs::path& path, const std::string& text, std::ostream& err) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f.flush()) {
      err << "dutyd: cannot write " << tmp.string() << ": " << std::strerror(errno)
          << " — check the folder exists and is writable\n";
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);  // readers never see a half-written feed
  if (ec) {
    err << "dutyd: cannot write " << path.string() << ": " << ec.message() << "\n";
    return false;
  }
  return true;
}

int cmd_feed(const Args& a, std::ostream& out, std::ostream& err) {
  auto r = load(a, err);
  if (!r) return kExitConfig;
  const auto served = as_served(a, r->config, err);
  const Config& c = *served;
  const Day today = date_option(a, "--today", today_in(c.timezone));
  const int year = civil(today).year;
  const Day from = date_option(a, "--from", make_day(year - 1, 1, 1));
  const Day to = date_option(a, "--to", make_day(year + 1, 12, 31));
  if (to < from) throw UsageError("--to is before --from");
  Expander ex(c);
  if (a.has("--all")) {
    if (!a.has("--out-dir")) throw UsageError("feed --all needs --out-dir DIR");
    const fs::path dir = a.get("--out-dir");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      err << "dutyd: cannot create " << dir.string() << ": " << ec.message() << "\n";
      return 1;
    }
    std::size_t feeds = 0, events = 0;
    for (std::size_t i = 0; i < c.persons.size(); ++i) {
      const Expansion e = ex.expand(from, to, {static_cast<std::int32_t>(i), -1});
      if (!write_file(
              dir / ("person-" + c.persons[i].id + ".ics"),
              render_feed(ex, e, {person_feed_name(c.persons[i]), static_cast<std::int32_t>(i)}),
              err))
        return 1;
      ++feeds, events += e.occurrences.size();
    }
    for (std::size_t i = 0; i < c.orgs.size(); ++i) {
      const Expansion e = ex.expand(from, to, {-1, static_cast<std::int32_t>(i)});
      if (!write_file(dir / ("org-" + c.orgs[i].id + ".ics"),
                      render_feed(ex, e, {org_feed_name(c.orgs[i])}), err))
        return 1;
      ++feeds, events += e.occurrences.size();
    }
    out << "wrote " << feeds << " feeds (" << events << " events, " << format_day(from) << " .. "
        << format_day(to) << ") to " << dir.string() << "\n";
    return 0;
  }
  auto sel = select(a, c, err, true);
  if (!sel) return 1;
  const Expansion e = ex.expand(from, to, sel->filter);
  const std::string text = render_feed(ex, e, {sel->name, sel->filter.person});
  if (a.has("-o") && a.get("-o") != "-") return write_file(a.get("-o"), text, err) ? 0 : 1;
  out << text;
  return 0;
}

// --now: a local date-time in the configured zone, as an offset from the wall clock.
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

// Who acts from the shell, for the audit log: "cli:<user>" (the sudo caller when there is one).
std::string cli_actor() {
  const char* user = std::getenv("SUDO_USER");
  if (!user) user = std::getenv("USER");
  return std::string("cli:") + (user ? user : "unknown");
}

struct StateContext {
  LoadResult loaded;
  Clock clock;
  std::unique_ptr<Store> store;
  // The configuration with the events recorded at run time merged in, as the daemon serves it.
  std::shared_ptr<const Config> served;
  const Config& config() const { return *served; }
};

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

int cmd_run(const Args& a, std::ostream&, std::ostream& err) {
  if (!a.has("-c")) throw UsageError("run needs -c FILE");
  RunOptions opt;
  opt.config_path = a.get("-c");
  opt.catalogue_path = a.get("--catalogue");
  opt.database = a.get("--database");
  opt.listen = a.get("--listen");
  if (a.has("--now")) {
    LoadResult r = load_config(opt.config_path, {opt.catalogue_path});
    if (!r.ok()) {
      print_diagnostics(r, err, false);
      return kExitConfig;
    }
    opt.clock_offset = clock_offset(a, *r.config);
  }
  return run_daemon(opt);
}

int cmd_token(const Args& a, std::ostream& out, std::ostream& err) {
  const std::string sub = a.positional.empty() ? "" : a.positional[0];
  if (sub != "issue" && sub != "list" && sub != "revoke")
    throw UsageError("token needs issue, list or revoke");
  auto ctx = open_state(a, err);
  if (!ctx) return kExitConfig;
  const Config& c = ctx->config();
  const std::string now = iso_utc(ctx->clock.now());
  if (sub == "issue" && a.has("--all")) {
    // Bulk issue for a new deployment: one feed per person, "ID<TAB>URL" per line.
    for (const Person& p : c.persons) {
      auto [rec, secret] = ctx->store->issue_token("feed", "person", p.id, a.get("--note"), now);
      out << p.id << "\t" << c.daemon.public_url << "/feeds/" << secret << ".ics\n";
    }
    err << "issued " << c.persons.size() << " feed tokens; they cannot be shown again\n";
    return 0;
  }
  if (sub == "issue") {
    std::string subject_kind, subject;
    const int chosen =
        (a.has("--person") ? 1 : 0) + (a.has("--org") ? 1 : 0) + (a.has("--admin") ? 1 : 0);
    if (chosen != 1)
      throw UsageError("token issue needs exactly one of --person ID, --org ID, --admin");
    if (a.has("--person")) {
      subject_kind = "person", subject = a.get("--person");
      if (!c.find_person(subject)) {
        err << "dutyd: unknown person '" << subject << "' — see the [[person]] ids in "
            << a.get("-c") << "\n";
        return 1;
      }
    } else if (a.has("--org")) {
      subject_kind = "org", subject = a.get("--org");
      if (!c.find_org(subject)) {
        err << "dutyd: unknown org '" << subject << "' — see the [[org]] ids in " << a.get("-c")
            << "\n";
        return 1;
      }
    } else {
      subject_kind = "admin";
    }
    const std::string kind = a.get("--kind", subject_kind == "admin" ? "api" : "feed");
    if (kind != "feed" && kind != "api") throw UsageError("--kind must be feed or api");
    if (kind == "feed" && subject_kind == "admin")
      throw UsageError("administrators get API tokens, not feeds; use --kind api");
    auto [rec, secret] = ctx->store->issue_token(kind, subject_kind, subject, a.get("--note"), now);
    // The secret is shown exactly once; only its hash is stored.
    if (kind == "feed")
      out << c.daemon.public_url << "/feeds/" << secret << ".ics\n";
    else
      out << secret << "\n";
    err << "issued token " << rec.id << " (" << kind << ", " << subject_kind
        << (subject.empty() ? "" : " " + subject) << "); it cannot be shown again\n";
    return 0;
  }
  if (sub == "list") {
    const std::string format = format_option(a, {"table", "json"});
    for (const auto& t : ctx->store->tokens()) {
      if (format == "json") {
        nlohmann::ordered_json j{{"id", t.id},
                                 {"kind", t.kind},
                                 {"subject_kind", t.subject_kind},
                                 {"subject", t.subject},
                                 {"created_at", t.created_at},
                                 {"revoked_at", t.revoked_at ? nlohmann::ordered_json(*t.revoked_at)
                                                             : nlohmann::ordered_json(nullptr)},
                                 {"note", t.note}};
        out << j.dump() << "\n";
      } else {
        out << t.id << "\t" << t.kind << "\t" << t.subject_kind
            << (t.subject.empty() ? "" : ":" + t.subject) << "\t" << t.created_at << "\t"
            << (t.revoked_at ? "revoked " + *t.revoked_at : "active") << "\t" << t.note << "\n";
      }
    }
    return 0;
  }
  if (!a.has("--id")) throw UsageError("token revoke needs --id N (see `dutyd token list`)");
  const std::string id_text = a.get("--id");
  char* end = nullptr;
  const long long id = std::strtoll(id_text.c_str(), &end, 10);
  if (!end || *end || id <= 0) throw UsageError("--id must be a token number");
  if (!ctx->store->revoke_token(id, "cli", now)) {
    err << "dutyd: token " << id << " does not exist or is already revoked\n";
    return 1;
  }
  out << "revoked token " << id << "\n";
  return 0;
}

int cmd_complete_or_link(const Args& a, std::ostream& out, std::ostream& err, bool link) {
  if (!a.has("--occurrence"))
    throw UsageError(std::string(link ? "link" : "complete") + " needs --occurrence UID");
  auto ctx = open_state(a, err);
  if (!ctx) return kExitConfig;
  const Config& c = ctx->config();
  const std::int32_t offset = utc_offset_of(c.timezone, ctx->clock.now());
  const Day today = local_day(ctx->clock.now(), offset);
  const Snapshot snap(ctx->served, today);
  const std::string uid = a.get("--occurrence");
  const auto found = snap.find(uid);
  if (!found) {
    err << "dutyd: no occurrence '" << uid << "' in the current calendar — see `dutyd expand -c "
        << a.get("-c") << " --format json`\n";
    return 1;
  }
  const Occurrence& o = **found;
  if (link) {
    std::string person = a.get("--person");
    if (person.empty()) {
      if (o.person < 0) {
        err << "dutyd: the post is vacant for this occurrence; give --person ID\n";
        return 1;
      }
      person = c.persons[static_cast<std::size_t>(o.person)].id;
    } else if (!c.find_person(person)) {
      err << "dutyd: unknown person '" << person << "'\n";
      return 1;
    }
    const std::string key = load_link_key(c, *ctx->store, iso_utc(ctx->clock.now()));
    out << completion_link(c.daemon.public_url, key, uid, person,
                           ctx->clock.now() + std::int64_t{c.daemon.link_ttl_days} * 86400)
        << "\n";
    return 0;
  }
  const Day done_on = date_option(a, "--done-on", -1);
  if (done_on == -1) throw UsageError("complete needs --done-on DATE");
  if (done_on > today) throw UsageError("--done-on is in the future");
  if (done_on < o.window_start)
    throw UsageError("--done-on is before this occurrence's window opens (" +
                     format_day(o.window_start) + ")");
  CompletionInput in;
  in.uid = uid;
  in.done_on = done_on;
  auto text_option = [&](const char* key) {
    auto v = clean_text(a.get(key));
    if (!v) throw UsageError(std::string(key) + " is not valid UTF-8 text");
    return *v;
  };
  in.document_number = text_option("--document-number");
  in.minutes_ref = text_option("--minutes");
  in.evidence_text = text_option("--evidence");
  in.note = text_option("--note");
  in.recorded_by = cli_actor();
  in.channel = "cli";
  const auto r = ctx->store->record_completion(in, done_on > o.due, iso_utc(ctx->clock.now()));
  if (r.created)
    out << "recorded completion " << r.completion.id << " of " << uid
        << (r.completion.late ? " (late)" : "") << "\n";
  else
    out << "already recorded as completion " << r.completion.id << "\n";
  return 0;
}

int cmd_audit(const Args& a, std::ostream& out, std::ostream& err) {
  if (a.positional.empty() || a.positional[0] != "verify") throw UsageError("audit needs verify");
  auto ctx = open_state(a, err);
  if (!ctx) return kExitConfig;
  const AuditCheck check = ctx->store->verify_audit();
  if (check.first_broken) {
    out << "audit log broken at row " << *check.first_broken << ": " << check.problem << "\n";
    return 1;
  }
  out << "audit log intact: " << check.rows << " rows\n";
  return 0;
}

int cmd_deliveries(const Args& a, std::ostream& out, std::ostream& err) {
  const std::string format = format_option(a, {"table", "json"});
  DeliveryFilter filter;
  filter.occurrence = a.get("--occurrence");
  filter.status = a.get("--status");
  if (!filter.status.empty() && !is_delivery_status(filter.status))
    throw UsageError("--status '" + filter.status +
                     "' is not one of: queued, sending, sent, failed, cancelled, superseded");
  auto ctx = open_state(a, err);
  if (!ctx) return kExitConfig;
  print_deliveries(ctx->config(), ctx->store->deliveries(filter), format == "json", out);
  return 0;
}

int cmd_flags(const Args& a, std::ostream& out, std::ostream& err) {
  const std::string format = format_option(a, {"table", "json"});
  FlagFilter filter;
  filter.org = a.get("--org");
  filter.status = a.get("--status");
  if (!filter.status.empty() && !is_flag_status(filter.status))
    throw UsageError("--status '" + filter.status + "' is not one of: " + flag_statuses());
  auto ctx = open_state(a, err);
  if (!ctx) return kExitConfig;
  print_flags(ctx->config(), *ctx->store, ctx->store->flags(filter), format == "json", out);
  return 0;
}

int cmd_report(const Args& a, std::ostream& out, std::ostream& err) {
  const std::string format = format_option(a, {"table", "csv", "json"});
  if (a.has("--today") && a.has("--now")) throw UsageError("give --today or --now, not both");
  std::optional<int> year;
  if (a.has("--year")) {
    year = parse_report_year(a.get("--year"));
    if (!year)
      throw UsageError("--year '" + a.get("--year") +
                       "' is not a year; write four digits, e.g. 2026");
  }
  auto ctx = open_state(a, err);
  if (!ctx) return kExitConfig;
  const Config& c = ctx->config();
  const std::int64_t now = ctx->clock.now();
  const Day as_of = date_option(a, "--today", local_day(now, utc_offset_of(c.timezone, now)));
  if (!year) year = civil(as_of).year;
  std::int32_t root = -1;
  if (a.has("--org")) {
    const auto it = c.org_index.find(a.get("--org"));
    if (it == c.org_index.end()) {
      err << "dutyd: unknown org '" << a.get("--org") << "' — see the [[org]] ids in "
          << a.get("-c") << "\n";
      return 1;
    }
    root = it->second;
  }
  if (make_day(*year, 1, 1) > as_of)
    err << "dutyd: note: " << *year << " has not begun on " << format_day(as_of)
        << "; every duty of it is still upcoming\n";
  const Expander ex(c);
  const Expansion e = ex.expand(make_day(*year, 1, 1), make_day(*year, 12, 31));
  const ReportStore known{ctx->store->completion_days(), ctx->store->flags({})};
  const Report r = build_report(c, ex, {&e}, known, *year, as_of, root);
  if (format == "json")
    print_report_json_lines(c, r, out);
  else if (format == "csv")
    print_report_csv(c, r, out);
  else
    print_report_table(c, r, out);
  return 0;
}

int cmd_flag(const Args& a, std::ostream& out, std::ostream& err) {
  const std::string sub = a.positional.empty() ? "" : a.positional[0];
  if (sub != "advance" && sub != "dismiss") throw UsageError("flag needs advance or dismiss");
  if (!a.has("--id")) throw UsageError("flag " + sub + " needs --id N (see `dutyd flags`)");
  const std::string id_text = a.get("--id");
  char* end = nullptr;
  const long long id = std::strtoll(id_text.c_str(), &end, 10);
  if (id_text.empty() || !end || *end || id <= 0)
    throw UsageError("--id must be a flag number (see `dutyd flags`)");
  const auto reason = clean_text(a.get("--reason"));
  if (!reason) throw UsageError("--reason is not valid UTF-8 text");
  if (sub == "dismiss") {
    if (reason->find_first_not_of(" \t\n") == std::string::npos)
      throw UsageError(
          "flag dismiss needs --reason TEXT: why the flag is withdrawn (撤销), e.g. the accepted "
          "情况说明 or why the late completion is justified");
    if (a.has("--measure") || a.has("--decided-on"))
      throw UsageError("flag dismiss takes no --measure or --decided-on");
  }
  auto ctx = open_state(a, err);
  if (!ctx) return kExitConfig;
  const std::int64_t now = ctx->clock.now();
  const Day today = local_day(now, utc_offset_of(ctx->config().timezone, now));
  const std::optional<Day> decided_on =
      a.has("--decided-on") ? std::optional<Day>(date_option(a, "--decided-on", 0)) : std::nullopt;
  if (decided_on && *decided_on > today) throw UsageError("--decided-on is in the future");
  const std::string measure = a.get("--measure");
  FlagRecord f;
  try {
    f = sub == "advance"
            ? ctx->store->advance_flag(id, cli_actor(), *reason, measure, decided_on, iso_utc(now))
            : ctx->store->dismiss_flag(id, cli_actor(), *reason, iso_utc(now));
  } catch (const FlagError& e) {
    if (e.kind == FlagError::invalid) throw UsageError(e.what());
    err << "dutyd: " << e.what() << "\n";
    return 1;
  }
  const auto steps = ctx->store->flag_transitions(id);
  const auto zh = [](const std::string& name) {
    const auto s = parse_flag_status(name);
    return (s ? std::string(flag_status_zh(*s)) : name) + " (" + name + ")";
  };
  out << "flag " << id << ": " << zh(steps.back().from) << " -> " << zh(steps.back().to);
  if (sub == "advance" && f.decided_on) {
    const auto m = parse_measure(f.measure);
    out << ": " << (m ? std::string(measure_zh(*m)) : f.measure) << " decided on "
        << format_day(*f.decided_on);
    for (const FlagImpact& i : f.impacts) out << "; " << i.what << " until " << format_day(i.until);
  }
  out << "\n";
  return 0;
}

int cmd_event(const Args& a, std::ostream& out, std::ostream& err) {
  const std::string sub = a.positional.empty() ? "" : a.positional[0];
  if (sub != "add" && sub != "list" && sub != "withdraw")
    throw UsageError("event needs add, list or withdraw");
  auto text_option = [&](const char* key) {
    auto v = clean_text(a.get(key));
    if (!v) throw UsageError(std::string(key) + " is not valid UTF-8 text");
    return *v;
  };
  if (sub == "list") {
    const std::string format = format_option(a, {"table", "json"});
    auto ctx = open_state(a, err);
    if (!ctx) return kExitConfig;
    print_events(ctx->config(), ctx->store->events(a.has("--all")), format == "json", out);
    return 0;
  }
  if (sub == "withdraw") {
    const std::string id_text = a.positional.size() > 1 ? a.positional[1] : a.get("--id");
    char* end = nullptr;
    const long long id = std::strtoll(id_text.c_str(), &end, 10);
    if (id_text.empty() || !end || *end || id <= 0)
      throw UsageError(
          "event withdraw needs the event's number: `dutyd event withdraw -c FILE ID --reason "
          "TEXT` "
          "(see `dutyd event list`)");
    const std::string reason = text_option("--reason");
    if (reason.find_first_not_of(" \t\n") == std::string::npos)
      throw UsageError(
          "event withdraw needs --reason TEXT: why the event is withdrawn, e.g. 录入错误");
    auto ctx = open_state(a, err);
    if (!ctx) return kExitConfig;
    try {
      const EventRecord e =
          ctx->store->withdraw_event(id, cli_actor(), reason, iso_utc(ctx->clock.now()));
      out << "withdrew event " << e.id << ": " << e.occurrence << "\n";
    } catch (const EventError& e) {
      err << "dutyd: " << e.what() << "\n";
      return 1;
    }
    return 0;
  }
  if (a.positional.size() > 1) throw UsageError("event add takes no positional arguments");
  EventRequest r;
  r.kind = a.get("--kind");
  r.obligation = a.get("--obligation");
  r.org = a.get("--org");
  r.person = a.get("--person");
  r.date = a.get("--date");
  r.note = text_option("--note");
  if (r.org.empty()) throw UsageError("event add needs --org ID");
  if (r.date.empty()) throw UsageError("event add needs --date DATE, the day the event happened");
  if (r.kind.empty() == r.obligation.empty())
    throw UsageError(
        "event add needs exactly one of --kind incident|family-event|promotion and --obligation "
        "ID");
  auto ctx = open_state(a, err);
  if (!ctx) return kExitConfig;
  const std::int64_t now = ctx->clock.now();
  const Day today = local_day(now, utc_offset_of(ctx->config().timezone, now));
  try {
    EventInput in = prepare_event(ctx->config(), r, today);
    in.created_by = cli_actor();
    const EventRecord e = ctx->store->add_event(in, iso_utc(now));
    const Obligation& ob = *ctx->config().find_obligation(e.obligation);
    out << "recorded event " << e.id << ": " << e.occurrence << "\n"
        << "  " << citation(ob.article, ob.item) << " " << ob.title << ", due "
        << format_day(e.date + ob.deadline_days) << " (" << ob.deadline_days << " days after "
        << format_day(e.date) << ")\n";
  } catch (const EventError& e) {
    err << "dutyd: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int run_cli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
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
