#include "calendar/events.hpp"

#include <algorithm>
#include <ostream>
#include <unordered_set>

namespace dutyd {
namespace {

const char* const kDash = " — ";

[[noreturn]] void invalid(const std::string& what) {
  throw EventError(EventError::invalid, what);
}

const Org& org_at(const Config& c, std::int32_t i) {
  return c.orgs[static_cast<std::size_t>(i)];
}

// The first enabled event-triggered obligation with this citation that applies to `org` (and,
// when `actor` is given, has that actor); -1 when none does.
std::int32_t find_duty(const Config& c, int article, int item, const Org& org,
                       std::optional<Actor> actor = std::nullopt) {
  for (std::size_t i = 0; i < c.obligations.size(); ++i) {
    const Obligation& o = c.obligations[i];
    if (o.article == article && o.item == item && o.event_triggered() && !o.disabled &&
        (!actor || o.actor == *actor) && o.applies(org))
      return static_cast<std::int32_t>(i);
  }
  return -1;
}

bool is_committee(const Org& o) {
  return o.kind == OrgKind::party_committee || o.kind == OrgKind::working_committee;
}

std::string org_label(const Org& o) {
  return "'" + o.id + "' (" + o.name + ")";
}

}  // namespace

std::optional<EventKind> parse_event_kind(std::string_view name) {
  if (name == "incident") return EventKind::incident;
  if (name == "family-event") return EventKind::family_event;
  if (name == "promotion") return EventKind::promotion;
  return std::nullopt;
}

const char* event_kind_name(EventKind k) {
  switch (k) {
    case EventKind::incident:
      return "incident";
    case EventKind::family_event:
      return "family-event";
    case EventKind::promotion:
      return "promotion";
  }
  return "?";
}

EventTarget resolve_event_kind(const Config& c, EventKind kind, std::int32_t org,
                               std::int32_t person, Day date) {
  const Org& given = org_at(c, org);
  switch (kind) {
    case EventKind::incident: {
      for (std::int32_t at = org; at >= 0; at = org_at(c, at).parent)
        if (const std::int32_t ob = find_duty(c, 6, 9, org_at(c, at)); ob >= 0) return {ob, at};
      invalid("no enabled duty of " + citation(6, 9) + " applies to " + org_label(given) +
              " or an organisation above it" + kDash +
              "check --org, or widen applies_to of a6.9.review with [[override]]");
    }
    case EventKind::family_event: {
      if (person < 0)
        invalid(
            "a family-event needs --person (\"person\"): the principal or team member whose family "
            "event it is");
      std::optional<Role> role;
      for (const Post& p : c.posts)
        if (p.org == org && p.person == person && p.covers(date) &&
            (!role || p.role == Role::principal))
          role = p.role;
      const Person& who = c.persons[static_cast<std::size_t>(person)];
      if (!role)
        invalid(
            "person '" + who.id + "' (" + who.name + ") holds no post in " + org_label(given) +
            " on " + format_day(date) + kDash +
            "a family event is reported by the principal (第七条) or a team member (第八条) of the "
            "organisation; check --org, --person and --date");
      const bool principal = *role == Role::principal;
      const std::int32_t ob = principal ? find_duty(c, 7, 11, given, Actor::principal)
                                        : find_duty(c, 8, 9, given, Actor::member);
      if (ob < 0)
        invalid("no enabled duty of " + citation(principal ? 7 : 8, principal ? 11 : 9) +
                " applies to " + org_label(given) + kDash +
                "family events are reported in party committees, working committees "
                "and party groups; check --org");
      return {ob, org};
    }
    case EventKind::promotion: {
      std::int32_t department = -1;
      if (given.kind == OrgKind::department && given.subtype == "organization") {
        department = org;
      } else {
        std::int32_t committee = org;
        while (committee >= 0 && !is_committee(org_at(c, committee)))
          committee = org_at(c, committee).parent;
        if (committee >= 0)
          for (std::size_t i = 0; i < c.orgs.size() && department < 0; ++i)
            if (c.orgs[i].parent == committee && c.orgs[i].kind == OrgKind::department &&
                c.orgs[i].subtype == "organization")
              department = static_cast<std::int32_t>(i);
        if (department < 0)
          invalid(
              "no organisation department (kind \"department\", department = \"organization\") "
              "found for " +
              org_label(given) + kDash +
              "give --org of the organisation department that trains the promoted cadres, or add "
              "it to the "
              "configuration");
      }
      const std::int32_t ob = find_duty(c, 10, 5, org_at(c, department));
      if (ob < 0)
        invalid("no enabled duty of " + citation(10, 5) + " applies to " +
                org_label(org_at(c, department)) + kDash +
                "check the catalogue's a10.5.promotion-training and its [[override]]s");
      return {ob, department};
    }
  }
  invalid("unknown kind of event");
}

std::string event_uid(const Config& c, const Event& ev) {
  // As Expander::write_uid: obligation/org/event date[/member]@dutyd.
  const Obligation& ob = c.obligations[static_cast<std::size_t>(ev.obligation)];
  std::string uid = ob.id + "/" + org_at(c, ev.org).id + "/" + format_day(ev.date);
  if (ob.actor == Actor::member && ev.person >= 0)
    uid += "/" + c.persons[static_cast<std::size_t>(ev.person)].id;
  return uid + "@dutyd";
}

EventInput prepare_event(const Config& c, const EventRequest& r, Day today) {
  if (r.kind.empty() == r.obligation.empty())
    invalid(
        "give exactly one of kind (incident, family-event, promotion) and obligation (an "
        "event-triggered "
        "obligation id, see `dutyd catalogue`)");
  if (r.org.empty()) invalid("the organisation is missing: give org (--org ID)");
  if (r.date.empty())
    invalid("the date is missing: give date (--date YYYY-MM-DD), the day the event happened");
  const Org* org = c.find_org(r.org);
  if (!org)
    throw EventError(EventError::not_found,
                     "unknown org '" + r.org + "'" + kDash + "use an id of the configuration");
  const Person* person = nullptr;
  if (!r.person.empty() && !(person = c.find_person(r.person)))
    throw EventError(EventError::not_found, "unknown person '" + r.person + "'" + kDash +
                                                "use an id of the configuration");
  const auto date = parse_day(r.date);
  if (!date)
    invalid("date '" + r.date + "' is not a date" + std::string(kDash) + "write YYYY-MM-DD");
  const int year = civil(today).year;
  const Day from = make_day(year - c.daemon.horizon_years_back, 1, 1);
  const Day to = make_day(year + c.daemon.horizon_years_ahead, 12, 31);
  if (*date > today)
    invalid("date " + r.date + " is in the future (today is " + format_day(today) + ")" + kDash +
            "record an event once it has happened");
  if (*date < from)
    invalid("date " + r.date + " is before the calendar's horizon (" + format_day(from) + " .. " +
            format_day(to) + ")" + kDash +
            "dutyd keeps no occurrences that old; widen [daemon] horizon_years_back if needed");

  Event ev;
  ev.org = c.org_index.at(org->id);
  ev.person = person ? c.person_index.at(person->id) : -1;
  ev.date = *date;
  EventInput in;
  if (!r.kind.empty()) {
    const auto kind = parse_event_kind(r.kind);
    if (!kind) invalid("kind '" + r.kind + "' is not one of: incident, family-event, promotion");
    const EventTarget t = resolve_event_kind(c, *kind, ev.org, ev.person, *date);
    ev.obligation = t.obligation, ev.org = t.org;
    in.kind = event_kind_name(*kind);
  } else {
    const Obligation* ob = c.find_obligation(r.obligation);
    if (!ob)
      throw EventError(EventError::not_found, "unknown obligation '" + r.obligation + "'" + kDash +
                                                  "see `dutyd catalogue` for the ids");
    if (!ob->event_triggered())
      invalid("obligation '" + ob->id + "' is dated, not event-triggered" + std::string(kDash) +
              "events can only name obligations that have 'event'");
    if (ob->disabled) invalid("obligation '" + ob->id + "' is disabled in the configuration");
    if (!ob->applies(*org))
      invalid("'" + ob->id + "' does not apply to " + org_label(*org) + kDash +
              "check the org, or widen applies_to with [[override]]");
    if (ob->actor == Actor::member && !person)
      invalid("'" + ob->id +
              "' is a team member's duty: give person (--person ID), the member concerned");
    ev.obligation = c.obligation_index.at(ob->id);
  }
  const Obligation& ob = c.obligations[static_cast<std::size_t>(ev.obligation)];
  const Day due = *date + ob.deadline_days;
  if (due > to)
    invalid("the duty would be due on " + format_day(due) + ", after the calendar's horizon (" +
            format_day(to) + ")" + kDash + "widen [daemon] horizon_years_ahead");
  in.occurrence = event_uid(c, ev);
  for (const Event& e : c.events)
    if (event_uid(c, e) == in.occurrence)
      throw EventError(
          EventError::conflict,
          "duplicate event: " + in.occurrence + " is already recorded (" +
              (e.loc.line ? "[[event]] in " + c.files[e.loc.file] + ":" + std::to_string(e.loc.line)
                          : std::string("see `dutyd event list`")) +
              ")" + kDash +
              "one event of a duty per organisation and day; withdraw the other first");
  in.obligation = ob.id;
  in.org = org_at(c, ev.org).id;
  in.person = person ? person->id : "";
  in.date = *date;
  in.note = r.note;
  return in;
}

std::shared_ptr<const Config> with_stored_events(std::shared_ptr<const Config> base,
                                                 const std::vector<EventRecord>& stored,
                                                 std::vector<std::string>* skipped) {
  if (stored.empty()) return base;
  auto merged = std::make_shared<Config>(*base);
  std::unordered_set<std::string> uids;
  for (const Event& e : merged->events) uids.insert(event_uid(*merged, e));
  for (const EventRecord& r : stored) {
    if (r.withdrawn_at) continue;
    auto skip = [&](const std::string& why) {
      if (skipped)
        skipped->push_back("event " + std::to_string(r.id) + " (" + r.occurrence +
                           ") left out: " + why);
    };
    const auto ob = merged->obligation_index.find(r.obligation);
    const auto org = merged->org_index.find(r.org);
    const auto person = merged->person_index.find(r.person);
    if (ob == merged->obligation_index.end()) {
      skip("the configuration has no obligation '" + r.obligation + "'");
      continue;
    }
    if (org == merged->org_index.end()) {
      skip("the configuration has no org '" + r.org + "'");
      continue;
    }
    if (!r.person.empty() && person == merged->person_index.end()) {
      skip("the configuration has no person '" + r.person + "'");
      continue;
    }
    Event ev;
    ev.obligation = ob->second;
    ev.org = org->second;
    ev.person = r.person.empty() ? -1 : person->second;
    ev.date = r.date;
    ev.note = r.note;
    const Obligation& o = merged->obligations[static_cast<std::size_t>(ev.obligation)];
    if (!o.event_triggered() || (o.actor == Actor::member && ev.person < 0)) {
      skip("'" + r.obligation + "' is no longer an event-triggered duty it can trigger");
      continue;
    }
    if (!uids.insert(event_uid(*merged, ev)).second) {
      skip("the configuration already has an [[event]] for the same occurrence");
      continue;
    }
    merged->events.push_back(std::move(ev));
  }
  return merged;
}

nlohmann::ordered_json event_json(const Config& c, const EventRecord& e) {
  nlohmann::ordered_json j;
  j["id"] = e.id;
  j["occurrence"] = e.occurrence;
  j["kind"] = e.kind;
  j["obligation"] = e.obligation;
  if (const Obligation* ob = c.find_obligation(e.obligation)) {
    j["citation"] = citation(ob->article, ob->item);
    j["title"] = ob->title;
    j["due"] = format_day(e.date + ob->deadline_days);
  }
  j["org"] = e.org;
  j["person"] = e.person;
  j["date"] = format_day(e.date);
  j["note"] = e.note;
  j["created_at"] = e.created_at;
  j["created_by"] = e.created_by;
  j["status"] = e.withdrawn_at ? "withdrawn" : "active";
  if (e.withdrawn_at) {
    j["withdrawn_at"] = *e.withdrawn_at;
    j["withdrawn_by"] = e.withdrawn_by;
    j["withdraw_reason"] = e.withdraw_reason;
  }
  return j;
}

}  // namespace dutyd
