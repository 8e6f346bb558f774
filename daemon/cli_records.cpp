// Commands about what the daemon recorded: deliveries, flags, flag, report, event.
#include "base/text.hpp"
#include "calendar/accountability.hpp"
#include "calendar/events.hpp"
#include "calendar/flags.hpp"
#include "calendar/report.hpp"
#include "daemon/cli_internal.hpp"
#include "daemon/print.hpp"

namespace dutyd::cli {

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

}  // namespace dutyd::cli
