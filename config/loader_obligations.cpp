// [[obligation]] (the catalogue's and local ones) and [[override]]: read from one file, then
// the overrides applied to the obligations across files.
#include "config/loader_internal.hpp"

#include "config/rrule.hpp"

namespace dutyd::detail {

void FileReader::read_obligation(const toml::table& t, bool local) {
  TableReader r(*this, file_, t, "[[obligation]]");
  Obligation o;
  o.loc = r.loc();
  o.local = local;
  auto id = r.string("id", true);
  auto article = r.integer("article", true);
  auto item = r.integer("item", true);
  auto title = r.string("title", true);
  auto quote = r.string("quote", true);
  auto actor = r.string("actor", true);
  auto applies = r.strings("applies_to", true);
  auto levels = r.strings("levels");
  auto rrule = r.string("rrule");
  auto window = r.string("window_start");
  auto period = r.string("period");
  auto min_count = r.integer("min_count");
  auto counterparts = r.string("counterparts");
  auto event = r.string("event");
  auto deadline = r.integer("deadline_days");
  auto note = r.string("timing_note");
  auto recipients = r.strings("recipients", true);
  auto evidence = r.strings("evidence", true);
  auto art27 = r.integer("art27", true);
  r.finish({"id", "article", "item", "title", "quote", "actor", "applies_to", "levels", "rrule",
            "window_start", "period", "min_count", "counterparts", "event", "deadline_days",
            "timing_note", "recipients", "evidence", "art27"});
  bool ok = id && article && item && title && quote && actor && applies && recipients && evidence &&
            art27;
  if (article && (*article < 1 || *article > 31)) {
    error(r.loc("article"), "article " + std::to_string(*article) + " does not exist" + kDash +
                                "the regulation has articles 1 to 31");
    ok = false;
  }
  if (item && (*item < 0 || *item > 30)) {
    error(r.loc("item"), "item " + std::to_string(*item) + " is out of range" + kDash +
                             "use 0 for an article without items");
    ok = false;
  }
  if (actor) {
    if (auto a = kActors.find(*actor)) {
      o.actor = *a;
    } else {
      error(r.loc("actor"), "unknown actor '" + *actor + "'" + kDash +
                                suggest(*actor, kActors.names()) +
                                "use one of: " + join(kActors.names()));
      ok = false;
    }
  }
  if (applies) {
    if (auto sel = selectors(*this, *applies))
      o.applies_to = std::move(*sel);
    else
      ok = false;
  }
  if (levels) {
    if (auto m = level_mask(*this, *levels))
      o.levels = *m;
    else
      ok = false;
  }
  if (rrule) o.rrule = *rrule;
  if (event) o.event = *event;
  if (window) {
    if (auto md = parse_month_day(*window)) {
      o.window_start = md;
    } else {
      error(r.loc("window_start"), "window_start '" + *window + "' is not a month-day" + kDash +
                                       "write \"MM-DD\", e.g. \"01-01\" (02-29 is not allowed)");
      ok = false;
    }
  }
  if (period) {
    if (auto p = kPeriods.find(*period)) {
      o.period = *p;
    } else {
      error(r.loc("period"),
            "unknown period '" + *period + "'" + kDash + "use one of: " + join(kPeriods.names()));
      ok = false;
    }
  }
  if (min_count) {
    if (*min_count < 1 || *min_count > 366) {
      error(r.loc("min_count"), "min_count must be between 1 and 366" + std::string(kDash) +
                                    "write how many times the duty is due per window");
      ok = false;
    } else {
      o.min_count = static_cast<int>(*min_count);
    }
  }
  if (deadline) {
    if (*deadline < 0 || *deadline > 366) {
      error(r.loc("deadline_days"), "deadline_days must be between 0 and 366" + std::string(kDash) +
                                        "give the days from event to due date");
      ok = false;
    } else {
      o.deadline_days = static_cast<int>(*deadline);
    }
  }
  if (counterparts) {
    if (auto c = kCounterparts.find(*counterparts)) {
      o.counterparts = *c;
    } else {
      error(r.loc("counterparts"), "unknown counterparts '" + *counterparts + "'" + kDash +
                                       "use one of: " + join(kCounterparts.names()));
      ok = false;
    }
  }
  if (note) o.timing_note = *note;
  if (recipients) {
    for (const auto& s : *recipients) {
      if (!contains(kRecipients, s.value)) {
        error(s.loc, "unknown recipient '" + s.value + "'" + kDash + suggest(s.value, kRecipients) +
                         "use one of: " + join(kRecipients));
        ok = false;
      }
      o.recipients.push_back(s.value);
    }
  }
  if (evidence)
    for (const auto& s : *evidence) o.evidence.push_back(s.value);
  if (art27 && (*art27 < 1 || *art27 > 5)) {
    error(r.loc("art27"), "art27 must name an item of 第二十七条 (1-5)" + std::string(kDash) +
                              "pick the item a miss would feed");
    ok = false;
  }
  if (id && !valid_id(*id)) {
    error(r.loc("id"), "obligation id '" + *id + "' is not usable" + kDash + kIdRule);
    ok = false;
  }
  if (!ok) return;
  o.id = *id;
  o.article = static_cast<int>(*article);
  o.item = static_cast<int>(*item);
  o.title = *title;
  o.quote = *quote;
  o.art27 = static_cast<int>(*art27);
  check_schedule(o, r.loc());
  part_.obligations.push_back(std::move(o));
  part_.obligation_id_locs.push_back(r.loc("id"));
}

void FileReader::check_schedule(const Obligation& o, SourceLoc at) {
  const bool has_rule = !o.rrule.empty(), has_event = o.event_triggered();
  if (has_rule == has_event) {
    error(at, "obligation '" + o.id + "' needs exactly one of 'rrule' and 'event'" + kDash +
                  "give an RRULE for dated duties or an event for triggered ones");
    return;
  }
  if (has_rule) {
    if (auto why = rrule_problem(o.rrule))
      error(at, "bad RRULE '" + o.rrule + "' in obligation '" + o.id + "': " + *why + kDash +
                    "e.g. FREQ=YEARLY;BYMONTH=6,12;BYMONTHDAY=-1");
  }
  if (has_event && o.deadline_days == 0 && o.timing_note.empty())
    warning(at, "event obligation '" + o.id + "' is due on the day of the event" + kDash +
                    "set deadline_days or explain in timing_note");
  const bool needs_principal = o.counterparts == Counterparts::team_and_subordinate_principals;
  const bool needs_member = o.counterparts == Counterparts::leaders_of_units_in_charge;
  if ((needs_principal && o.actor != Actor::principal) ||
      (needs_member && o.actor != Actor::member) ||
      (o.counterparts == Counterparts::subordinate_orgs && o.actor == Actor::member))
    error(at, std::string("counterparts '") + to_string(o.counterparts) + "' does not fit actor '" +
                  to_string(o.actor) + "'" + kDash +
                  "team-and-subordinate-principals goes with principal, leaders-of-units-in-charge "
                  "with member");
}

void FileReader::read_override(const toml::table& t) {
  TableReader r(*this, file_, t, "[[override]]");
  OverrideSpec o;
  auto id = r.string("obligation", true);
  auto at = [&](std::string_view key, std::optional<std::string> v) -> std::optional<StringAt> {
    if (!v) return std::nullopt;
    return StringAt{*v, r.loc(key)};
  };
  o.due = at("due", r.string("due"));
  o.rrule = at("rrule", r.string("rrule"));
  o.window_start = at("window_start", r.string("window_start"));
  o.timing_note = at("timing_note", r.string("timing_note"));
  o.disable = r.boolean("disable");
  o.applies_to = r.strings("applies_to");
  o.levels = r.strings("levels");
  o.deadline_days = r.integer("deadline_days");
  o.deadline_loc = r.loc("deadline_days");
  o.min_count = r.integer("min_count");
  o.min_count_loc = r.loc("min_count");
  o.ladder = at("ladder", r.string("ladder"));
  o.grace_days = r.integer_in("grace_days", 0, 365);
  r.finish({"obligation", "due", "rrule", "window_start", "timing_note", "disable", "applies_to",
            "levels", "deadline_days", "min_count", "ladder", "grace_days"});
  if (!id) return;
  o.obligation = {*id, r.loc("obligation")};
  if (o.due && o.rrule)
    error(o.rrule->loc,
          "an override gives both 'due' and 'rrule'" + std::string(kDash) + "keep one of them");
  part_.overrides.push_back(std::move(o));
}

void Loader::apply_overrides() {
  for (const OverrideSpec* spec : overrides_) {
    const OverrideSpec& ov = *spec;
    auto it = cfg_.obligation_index.find(ov.obligation.value);
    if (it == cfg_.obligation_index.end()) {
      std::vector<std::string_view> ids;
      for (const auto& o : cfg_.obligations) ids.push_back(o.id);
      error(ov.obligation.loc, "unknown obligation '" + ov.obligation.value + "'" + kDash +
                                   suggest(ov.obligation.value, ids) +
                                   "see `dutyd catalogue` for the ids");
      continue;
    }
    Obligation& o = cfg_.obligations[static_cast<std::size_t>(it->second)];
    if (ov.disable) o.disabled = *ov.disable;
    if (ov.ladder) {
      if (auto l = cfg_.ladder_index.find(ov.ladder->value); l != cfg_.ladder_index.end()) {
        o.ladder = l->second;
      } else {
        std::vector<std::string_view> ids;
        for (const Ladder& lad : cfg_.ladders) ids.push_back(lad.id);
        error(ov.ladder->loc, "unknown ladder '" + ov.ladder->value + "'" + kDash +
                                  suggest(ov.ladder->value, ids) +
                                  "define it with [[ladder]] or use one of: " + join(ids));
      }
    }
    if (ov.due) {
      auto md = parse_month_day(ov.due->value);
      if (!md) {
        error(ov.due->loc, "due '" + ov.due->value + "' is not a month-day" + std::string(kDash) +
                               "write \"MM-DD\", e.g. \"02-28\" (02-29 is not allowed)");
      } else if (o.event_triggered()) {
        error(ov.due->loc, "'" + o.id + "' is event-triggered and has no fixed due date" +
                               std::string(kDash) + "override deadline_days instead");
      } else {
        const Day y = make_day(2027, 1, 1);
        if (rrule_dates(o.rrule, y, make_day(2027, 12, 31)).size() != 1) {
          error(ov.due->loc, "'" + o.id + "' is due several times a year (" + o.rrule +
                                 "), so one month-day cannot replace it" + kDash +
                                 "give rrule = \"...\" instead");
        } else {
          o.rrule = "FREQ=YEARLY;BYMONTH=" + std::to_string(md->month) +
                    ";BYMONTHDAY=" + std::to_string(md->day);
          // Keep the window inside the year when the catalogue had none.
          if (!o.window_start) o.window_start = MonthDay{1, 1};
          if (o.window_start &&
              (o.window_start->month > md->month ||
               (o.window_start->month == md->month && o.window_start->day > md->day)))
            o.window_start = MonthDay{1, 1};
        }
      }
    }
    if (ov.rrule) {
      if (auto why = rrule_problem(ov.rrule->value))
        error(ov.rrule->loc, "bad RRULE '" + ov.rrule->value + "': " + *why + kDash +
                                 "e.g. FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=31");
      else if (o.event_triggered())
        error(ov.rrule->loc, "'" + o.id + "' is event-triggered" + std::string(kDash) +
                                 "override deadline_days instead");
      else
        o.rrule = ov.rrule->value;
    }
    if (ov.window_start) {
      if (auto md = parse_month_day(ov.window_start->value))
        o.window_start = md;
      else
        error(ov.window_start->loc, "window_start '" + ov.window_start->value +
                                        "' is not a month-day" + kDash + "write \"MM-DD\"");
    }
    if (ov.timing_note) o.timing_note = ov.timing_note->value;
    if (ov.applies_to)
      if (auto sel = selectors(*this, *ov.applies_to)) o.applies_to = std::move(*sel);
    if (ov.levels)
      if (auto m = level_mask(*this, *ov.levels)) o.levels = *m;
    if (ov.deadline_days) {
      if (!o.event_triggered())
        error(ov.deadline_loc, "'" + o.id + "' is dated, deadline_days applies to event duties" +
                                   std::string(kDash) + "override due or rrule instead");
      else if (*ov.deadline_days < 0 || *ov.deadline_days > 366)
        error(ov.deadline_loc, "deadline_days must be between 0 and 366" + std::string(kDash) +
                                   "give the days from event to due date");
      else
        o.deadline_days = static_cast<int>(*ov.deadline_days);
    }
    if (ov.grace_days) o.grace_days = *ov.grace_days;
    if (ov.min_count) {
      if (*ov.min_count < 1 || *ov.min_count > 366)
        error(ov.min_count_loc, "min_count must be between 1 and 366" + std::string(kDash) +
                                    "write how many times the duty is due per window");
      else
        o.min_count = static_cast<int>(*ov.min_count);
    }
  }
}

}  // namespace dutyd::detail
