// Commands about the configuration: catalogue, check-config, expand, feed.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "calendar/accountability.hpp"
#include "calendar/events.hpp"
#include "calendar/expand.hpp"
#include "calendar/ical_feed.hpp"
#include "calendar/snapshot.hpp"
#include "daemon/cli_internal.hpp"
#include "notifiers/reminder_data.hpp"

namespace dutyd::cli {

namespace fs = std::filesystem;

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

}  // namespace dutyd::cli
