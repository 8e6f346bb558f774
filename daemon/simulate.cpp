#include "daemon/simulate.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>

#include "calendar/expand.hpp"
#include "config/loader.hpp"
#include "daemon/exit_codes.hpp"
#include "notifiers/planner.hpp"
#include "notifiers/reminder_data.hpp"

namespace dutyd {
namespace {

using namespace notify;

constexpr const char* kSimulateUsage =
    "usage: dutyd simulate -c FILE --from DATE --to DATE [--format table|json] [--org ID]\n"
    "                      [--person ID] [--catalogue FILE]\n";

struct SimulateArgs {
  std::string config, catalogue, format = "table", org, person;
  std::optional<Day> from, to;
};

struct Usage : std::runtime_error {
  using std::runtime_error::runtime_error;
};

SimulateArgs parse(const std::vector<std::string>& args) {
  SimulateArgs a;
  bool command_seen = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (!command_seen && args[i] == "simulate") {
      command_seen = true;
      continue;
    }
    std::string key = args[i], value;
    bool inline_value = false;
    if (auto eq = key.find('='); key.rfind("--", 0) == 0 && eq != std::string::npos)
      value = key.substr(eq + 1), key = key.substr(0, eq), inline_value = true;
    static const std::set<std::string> known{"-c",     "--config", "--catalogue", "--format",
                                             "--from", "--to",     "--org",       "--person"};
    if (!known.count(key)) throw Usage("unknown option or argument '" + args[i] + "'");
    if (!inline_value) {
      if (i + 1 >= args.size()) throw Usage("option " + key + " needs a value");
      value = args[++i];
    }
    if (key == "-c" || key == "--config")
      a.config = value;
    else if (key == "--catalogue")
      a.catalogue = value;
    else if (key == "--format")
      a.format = value;
    else if (key == "--org")
      a.org = value;
    else if (key == "--person")
      a.person = value;
    else {
      auto d = parse_day(value);
      if (!d) throw Usage(key + " '" + value + "' is not a date; write YYYY-MM-DD");
      (key == "--from" ? a.from : a.to) = d;
    }
  }
  if (a.config.empty()) throw Usage("simulate needs -c FILE (the configuration)");
  if (!a.from || !a.to) throw Usage("simulate needs --from DATE and --to DATE");
  if (*a.to < *a.from) throw Usage("--to is before --from");
  if (a.format != "table" && a.format != "json")
    throw Usage("--format '" + a.format + "' is not one of: table, json");
  return a;
}

std::string local_text(std::int64_t unix_seconds, std::int32_t offset, bool iso) {
  const LocalTime t = to_local(unix_seconds, offset);
  char buf[48];
  const int h = t.second / 3600, m = t.second / 60 % 60, s = t.second % 60;
  if (!iso) {
    std::snprintf(buf, sizeof buf, " %02d:%02d", h, m);
    return format_day(t.day) + buf;
  }
  const int off = offset / 60;
  std::snprintf(buf, sizeof buf, "T%02d:%02d:%02d%c%02d:%02d", h, m, s, off < 0 ? '-' : '+',
                std::abs(off) / 60, std::abs(off) % 60);
  return format_day(t.day) + buf;
}

}  // namespace

int run_simulate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  SimulateArgs a;
  try {
    a = parse(args);
  } catch (const Usage& e) {
    err << "dutyd: " << e.what() << "\n\n" << kSimulateUsage;
    return kExitUsage;
  }
  LoadOptions opts;
  opts.catalogue_path = a.catalogue;
  LoadResult loaded = load_config(a.config, opts);
  for (const auto& d : loaded.diagnostics.items())
    if (d.severity == Severity::error) err << format(d) << "\n";
  if (!loaded.ok()) {
    err << "dutyd: " << loaded.diagnostics.error_count()
        << " error(s) in the configuration; run `dutyd check-config -c " << a.config
        << "` after fixing them\n";
    return kExitConfig;
  }
  const Config& c = *loaded.config;
  std::int32_t org_filter = -1, person_filter = -1;
  if (!a.org.empty()) {
    auto it = c.org_index.find(a.org);
    if (it == c.org_index.end()) {
      err << "dutyd: unknown org '" << a.org << "' — see the [[org]] ids in " << a.config << "\n";
      return 1;
    }
    org_filter = it->second;
  }
  if (!a.person.empty()) {
    auto it = c.person_index.find(a.person);
    if (it == c.person_index.end()) {
      err << "dutyd: unknown person '" << a.person << "' — see the [[person]] ids in " << a.config
          << "\n";
      return 1;
    }
    person_filter = it->second;
  }

  Diagnostics diags;
  const ReminderData data = load_reminder_data(c, diags);
  const WorkdayCalendar& calendar = data.calendar;
  for (const auto& d : diags.items()) err << format(d) << "\n";
  if (diags.error_count()) {
    err << "dutyd: " << diags.error_count()
        << " error(s) in the holiday data or message templates\n";
    return kExitConfig;
  }
  for (int y : years_without_holidays(calendar, civil(*a.from).year, civil(*a.to).year))
    err << "dutyd: warning: no published holiday data for " << y
        << ": working days that year are Monday-Friday — add the State Council's notice to "
           "[reminders] holidays\n";

  const std::int32_t offset = utc_offset_of(c.timezone, to_unix({*a.from, 12 * 3600}, 0));
  const ScheduleContext ctx{calendar, c.reminders.quiet, offset};
  ReminderPlanner planner(c, ctx);
  Expander ex(c);
  const PlanReach reach = plan_reach(c);
  ExpandFilter filter;
  filter.org = org_filter;
  const Expansion e = ex.expand(*a.from - reach.after, *a.to + reach.before, filter);
  const std::int64_t begin = to_unix({*a.from, 0}, offset), end = to_unix({*a.to + 1, 0}, offset);

  ReminderPlan plan;
  for (std::size_t i = 0; i < e.occurrences.size(); ++i) {
    const Occurrence& o = e.occurrences[i];
    const ReminderSubject s{o.obligation, o.org, o.person, o.member >= 0, o.window_start, o.due};
    planner.plan(s, static_cast<std::uint32_t>(i), begin, end, plan);
  }
  if (person_filter >= 0) {
    std::erase_if(plan.deliveries,
                  [&](const PlannedDelivery& d) { return d.person != person_filter; });
    std::erase_if(plan.notes, [&](const PlanNote& n) { return n.person != person_filter; });
  }
  // Occurrences are in occurrence_order, so their index breaks ties between equal times.
  std::sort(plan.deliveries.begin(), plan.deliveries.end(),
            [](const PlannedDelivery& x, const PlannedDelivery& y) {
              return std::tie(x.send_at, x.occurrence, x.step, x.person, x.channel) <
                     std::tie(y.send_at, y.occurrence, y.step, y.person, y.channel);
            });
  std::stable_sort(plan.notes.begin(), plan.notes.end(), [](const PlanNote& x, const PlanNote& y) {
    return std::tie(x.send_at, x.occurrence, x.step) < std::tie(y.send_at, y.occurrence, y.step);
  });

  auto ob = [&](std::uint32_t occ) -> const Obligation& {
    return c.obligations[static_cast<std::size_t>(e.occurrences[occ].obligation)];
  };
  auto org_of = [&](std::uint32_t occ) -> const Org& {
    return c.orgs[static_cast<std::size_t>(e.occurrences[occ].org)];
  };
  auto offset_text = [&](std::int32_t ladder, std::uint16_t step) {
    const EscalationStep& s = c.ladders[static_cast<std::size_t>(ladder)].steps[step];
    return format_step_offset(s.at) + (s.from == Anchor::window_start ? "@window-start" : "");
  };
  std::string buf;
  buf.reserve(1 << 20);
  auto flush = [&](bool force) {
    if (force || buf.size() > (1 << 20) - 4096) out << buf, buf.clear();
  };
  // Deliveries and notes merged by time.
  std::size_t di = 0, ni = 0;
  const bool json = a.format == "json";
  if (!json)
    buf += "时间(" + c.timezone +
           ")     步骤              渠道                 收件人（关系）             事项\n";
  auto occurrence_text = [&](std::uint32_t occ) {
    const Occurrence& o = e.occurrences[occ];
    const Obligation& obl = ob(occ);
    return org_of(occ).name + (o.person < 0 ? "【空缺】" : "") + " " +
           citation(obl.article, obl.item) + " " + ex.title(o) + " 截止" + format_day(o.due);
  };
  // Appends the occurrence's fields and the line.
  auto json_line = [&](nlohmann::ordered_json& j, std::uint32_t occ) {
    const Occurrence& o = e.occurrences[occ];
    j["occurrence"] = ex.uid(o);
    j["obligation"] = ob(occ).id;
    j["org"] = org_of(occ).id;
    j["due"] = format_day(o.due);
    j["vacant"] = o.person < 0;
    buf += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    buf += '\n';
  };
  while (di < plan.deliveries.size() || ni < plan.notes.size()) {
    const bool take_note =
        ni < plan.notes.size() &&
        (di == plan.deliveries.size() || plan.notes[ni].send_at < plan.deliveries[di].send_at);
    if (!take_note) {
      const PlannedDelivery& d = plan.deliveries[di++];
      const Person& p = c.persons[static_cast<std::size_t>(d.person)];
      const Channel& ch = c.channels[static_cast<std::size_t>(d.channel)];
      const std::string mention = mention_for(p, ch.kind);
      if (json) {
        nlohmann::ordered_json j;
        j["type"] = "delivery";
        j["at"] = local_text(d.send_at, offset, true);
        j["ladder"] = c.ladders[static_cast<std::size_t>(d.ladder)].id;
        j["step"] = d.step;
        j["offset"] = offset_text(d.ladder, d.step);
        j["overdue"] = d.overdue;
        j["deferred"] = d.deferred;
        j["relation"] = std::string(relation_name(d.relation));
        j["via_vacancy"] = d.via_vacancy;
        j["person"] = p.id;
        j["name"] = p.name;
        j["channel"] = ch.id;
        j["channel_kind"] = to_string(ch.kind);
        if (ch.kind == ChannelKind::email)
          j["address"] = p.email;
        else
          j["mention"] =
              mention.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(mention);
        json_line(j, d.occurrence);
      } else {
        std::string marks;
        if (d.deferred) marks += "（顺延）";
        if (d.overdue) marks += "（逾期）";
        std::string who = p.name + "（" + std::string(relation_zh(d.relation)) +
                          (d.via_vacancy ? "，空缺上报" : "") + "）";
        if (ch.chat()) who += mention.empty() ? " @—" : " @" + mention;
        buf += local_text(d.send_at, offset, false) + "  #" + std::to_string(d.step + 1) + " " +
               offset_text(d.ladder, d.step) + marks + "  " + ch.id + "(" + to_string(ch.kind) +
               ")  " + who + "  " + occurrence_text(d.occurrence) + "\n";
      }
    } else {
      const PlanNote& n = plan.notes[ni++];
      const std::int32_t ladder = c.ladder_for(ob(n.occurrence), org_of(n.occurrence));
      if (json) {
        nlohmann::ordered_json j;
        j["type"] = "note";
        j["at"] = local_text(n.send_at, offset, true);
        j["ladder"] = c.ladders[static_cast<std::size_t>(ladder)].id;
        j["step"] = n.step;
        j["offset"] = offset_text(ladder, n.step);
        j["relation"] = std::string(relation_name(n.relation));
        j["person"] =
            n.person < 0 ? nlohmann::ordered_json()
                         : nlohmann::ordered_json(c.persons[static_cast<std::size_t>(n.person)].id);
        j["channel"] =
            n.channel < 0
                ? nlohmann::ordered_json()
                : nlohmann::ordered_json(c.channels[static_cast<std::size_t>(n.channel)].id);
        j["note"] = n.text;
        json_line(j, n.occurrence);
      } else {
        buf += local_text(n.send_at, offset, false) + "  #" + std::to_string(n.step + 1) + " " +
               offset_text(ladder, n.step) + "  （未发送：" + std::string(relation_zh(n.relation)) +
               "）" + n.text + "  " + occurrence_text(n.occurrence) + "\n";
      }
    }
    flush(false);
  }
  if (!json)
    buf += std::to_string(plan.deliveries.size()) + " delivery(ies), " +
           std::to_string(plan.notes.size()) + " note(s) from " + format_day(*a.from) + " to " +
           format_day(*a.to) + "; nothing was sent\n";
  flush(true);
  return 0;
}

}  // namespace dutyd
