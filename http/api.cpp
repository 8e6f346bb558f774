// The JSON API under /api/v1/ (docs/api.md): completions, occurrences, deliveries, flags and
// their workflow, events. The reports have their own file (reports.cpp).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/text.hpp"

#include "calendar/events.hpp"
#include "calendar/flags.hpp"
#include "http/reply.hpp"
#include "http/service.hpp"
#include "http/web.hpp"
#include "store/delivery_forms.hpp"

namespace dutyd {

namespace {

// A JSON object body of optional string fields, each cleaned (clean_text) into `fields`; the
// 400 answer when the body is not that or names a field outside `accepted` (a comma list).
std::optional<Response> string_fields(const Request& req, const std::vector<std::string>& accepted,
                                      std::map<std::string, std::string>& fields) {
  Json body = Json::object();
  if (!req.body().empty()) {
    try {
      body = Json::parse(req.body());
    } catch (const std::exception&) {
      return json_error(req, http::status::bad_request, "the body is not valid JSON");
    }
  }
  if (!body.is_object())
    return json_error(req, http::status::bad_request, "the body must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    if (std::find(accepted.begin(), accepted.end(), key) == accepted.end()) {
      std::string list;
      for (const auto& a : accepted) list += (list.empty() ? "" : ", ") + a;
      return json_error(req, http::status::bad_request,
                        "unknown field '" + key + "'; accepted: " + list);
    }
    if (value.is_null()) continue;
    if (!value.is_string())
      return json_error(req, http::status::bad_request, "'" + key + "' must be a string");
    const auto clean = clean_text(value.get<std::string>());
    if (!clean)
      return json_error(req, http::status::bad_request, "'" + key + "' must be valid UTF-8 text");
    fields[key] = *clean;
  }
  return std::nullopt;
}

// "{id}/{step}" of a path under /api/v1/flags/ or /api/v1/events/: the id (digits, at most 18)
// and the step; nullopt when the id is not a number.
std::optional<std::pair<std::int64_t, std::string>> id_and_step(const std::string& rest) {
  const auto slash = rest.find('/');
  const std::string id_text = rest.substr(0, slash);
  const bool numeric =
      !id_text.empty() && id_text.size() <= 18 &&
      std::all_of(id_text.begin(), id_text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!numeric) return std::nullopt;
  return std::make_pair(std::stoll(id_text),
                        slash == std::string::npos ? std::string() : rest.substr(slash + 1));
}

// 404 for an unknown org, person, obligation or event; 409 for a duplicate or a second withdrawal.
Response event_error(const Request& req, const EventError& e) {
  switch (e.kind) {
    case EventError::not_found:
      return json_error(req, http::status::not_found, e.what());
    case EventError::conflict:
      return json_error(req, http::status::conflict, e.what());
    case EventError::invalid:
      break;
  }
  return json_error(req, http::status::bad_request, e.what());
}

Json completion_json(const Completion& c) {
  return Json{{"id", c.id},
              {"occurrence", c.uid},
              {"done_on", format_day(c.done_on)},
              {"document_number", c.document_number},
              {"minutes_ref", c.minutes_ref},
              {"evidence_text", c.evidence_text},
              {"note", c.note},
              {"recorded_at", c.recorded_at},
              {"recorded_by", c.recorded_by},
              {"channel", c.channel},
              {"late", c.late}};
}

// The first second of `day` in the zone `tz`; the offset is the one at that day's noon, which a
// daylight-saving change in the small hours does not move.
std::int64_t local_midnight(Day day, const std::string& tz) {
  const std::int64_t midnight_utc = static_cast<std::int64_t>(day) * 86400;
  return midnight_utc - utc_offset_of(tz, midnight_utc + 12 * 3600);
}

}  // namespace

Response Service::api_completions(const Request& req) {
  if (req.method() != http::verb::post) return json_method_not_allowed(req, "POST");
  const auto token = bearer(req);
  if (!token)
    return json_error(req, http::status::unauthorized,
                      "a valid API token is required (Authorization: Bearer ...)");
  Json body;
  try {
    body = Json::parse(req.body());
  } catch (const std::exception&) {
    return json_error(req, http::status::bad_request, "the body is not valid JSON");
  }
  if (!body.is_object())
    return json_error(req, http::status::bad_request, "the body must be a JSON object");
  auto str = [&](const char* key) -> std::optional<std::string> {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::string{};
    if (!it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  CompletionInput in;
  const auto uid = str("occurrence");
  const auto done_on = str("done_on");
  const auto doc = str("document_number"), minutes = str("minutes_ref"), ev = str("evidence_text"),
             note = str("note");
  if (!uid || uid->empty())
    return json_error(req, http::status::bad_request, "'occurrence' (a UID string) is required");
  if (!done_on || !parse_day(*done_on))
    return json_error(req, http::status::bad_request, "'done_on' must be a date YYYY-MM-DD");
  if (!doc || !minutes || !ev || !note)
    return json_error(req, http::status::bad_request, "evidence fields and note must be strings");
  if (*parse_day(*done_on) > today())
    return json_error(req, http::status::bad_request, "'done_on' is in the future");
  const auto found = snapshot_->find(*uid);
  if (!found)
    return json_error(req, http::status::not_found, "no such occurrence in the current calendar");
  const Occurrence& o = **found;
  const Config& c = snapshot_->config();
  // Work done before the window opened belongs to an earlier period, not to this occurrence.
  if (*parse_day(*done_on) < o.window_start)
    return json_error(
        req, http::status::bad_request,
        "'done_on' is before this occurrence's window opens (" + format_day(o.window_start) + ")");
  if (token->subject_kind == "person") {
    if (o.person < 0 || c.persons[static_cast<std::size_t>(o.person)].id != token->subject)
      return json_error(
          req, http::status::forbidden,
          "only the responsible person or an administrator may record this completion");
    in.recorded_by = token->subject;
  } else if (token->subject_kind == "org") {
    if (c.orgs[static_cast<std::size_t>(o.org)].id != token->subject)
      return json_error(req, http::status::forbidden, "this token belongs to another organisation");
    in.recorded_by = "org:" + token->subject;
  } else {
    in.recorded_by = "admin:token-" + std::to_string(token->id);
  }
  in.done_on = *parse_day(*done_on);
  auto cdoc = clean_text(*doc), cmin = clean_text(*minutes), cev = clean_text(*ev),
       cnote = clean_text(*note);
  if (!cdoc || !cmin || !cev || !cnote)
    return json_error(req, http::status::bad_request, "text fields must be valid UTF-8");
  in.document_number = *cdoc;
  in.minutes_ref = *cmin;
  in.evidence_text = *cev;
  in.note = *cnote;
  in.channel = "api";
  const auto r = record(o, in);
  return json(req, r.created ? http::status::created : http::status::ok,
              Json{{"created", r.created}, {"completion", completion_json(r.completion)}});
}

Response Service::api_occurrences(const Request& req) {
  if (req.method() != http::verb::get) return json_method_not_allowed(req, "GET");
  const auto token = bearer(req);
  if (!token)
    return json_error(req, http::status::unauthorized, "an administrator API token is required");
  if (token->subject_kind != "admin")
    return json_error(req, http::status::forbidden, "administrators only");
  auto params = query_params(req);
  if (!params) return json_error(req, http::status::bad_request, "malformed query string");
  const Config& c = snapshot_->config();
  const std::string status_filter = (*params)["status"];
  static const std::vector<std::string> statuses{"", "open", "done", "late", "overdue", "retired"};
  if (std::find(statuses.begin(), statuses.end(), status_filter) == statuses.end())
    return json_error(req, http::status::bad_request,
                      "status must be open, done, late, overdue or retired");
  Day from = snapshot_->horizon_from(), to = snapshot_->horizon_to();
  if (!(*params)["from"].empty()) {
    auto d = parse_day((*params)["from"]);
    if (!d) return json_error(req, http::status::bad_request, "'from' must be YYYY-MM-DD");
    from = *d;
  }
  if (!(*params)["to"].empty()) {
    auto d = parse_day((*params)["to"]);
    if (!d) return json_error(req, http::status::bad_request, "'to' must be YYYY-MM-DD");
    to = *d;
  }
  std::size_t limit = 10000;
  if (!(*params)["limit"].empty())
    limit = std::min<std::size_t>(100000, std::strtoull((*params)["limit"].c_str(), nullptr, 10));
  if (!(*params)["org"].empty() && !c.org_index.count((*params)["org"]))
    return json_error(req, http::status::not_found, "unknown org");
  // The occurrences to list, in occurrence_order (as one global expansion would give them).
  Expansion subset;
  std::vector<const Occurrence*> selected;
  if (!(*params)["person"].empty()) {
    auto it = c.person_index.find((*params)["person"]);
    if (it == c.person_index.end())
      return json_error(req, http::status::not_found, "unknown person");
    subset = snapshot_->for_person(it->second);
    for (const Occurrence& o : subset.occurrences) selected.push_back(&o);
  } else if (!(*params)["org"].empty()) {
    for (const Occurrence& o : snapshot_->for_org(c.org_index.at((*params)["org"])).occurrences)
      selected.push_back(&o);
  } else {
    snapshot_->for_each_occurrence([&](const Occurrence& o, const Expansion&) {
      if (o.due >= from && o.due <= to) selected.push_back(&o);
    });
    std::sort(selected.begin(), selected.end(),
              [](const Occurrence* a, const Occurrence* b) { return occurrence_order(*a, *b); });
  }
  Json list = Json::array();
  std::size_t count = 0;
  if (status_filter != "retired") {
    std::int32_t org_filter = -1;
    if (!(*params)["org"].empty()) org_filter = c.org_index.at((*params)["org"]);
    for (const Occurrence* op : selected) {
      const Occurrence& o = *op;
      if (o.due < from || o.due > to) continue;
      if (org_filter >= 0 && o.org != org_filter) continue;
      const Status st = status(o);
      if (!status_filter.empty() && status_filter != status_name(st)) continue;
      ++count;
      if (list.size() >= limit) continue;
      const Obligation& ob = c.obligations[static_cast<std::size_t>(o.obligation)];
      const auto* notes = notes_for(o);
      list.push_back(
          Json{{"uid", snapshot_->expander().uid(o)},
               {"obligation", ob.id},
               {"citation", citation(ob.article, ob.item)},
               {"org", c.orgs[static_cast<std::size_t>(o.org)].id},
               {"person", o.person >= 0 ? Json(c.persons[static_cast<std::size_t>(o.person)].id)
                                        : Json(nullptr)},
               {"window_start", format_day(o.window_start)},
               {"due", format_day(o.due)},
               {"status", status_name(st)},
               {"completions", notes ? notes->size() : 0},
               {"min_count", ob.min_count},
               {"title", snapshot_->expander().title(o)}});
    }
  }
  if (status_filter.empty() || status_filter == "retired") {
    const std::string p = (*params)["person"], org = (*params)["org"];
    for (const auto& r : store_.retired()) {
      if ((!p.empty() && r.person != p) || (!org.empty() && r.org != org)) continue;
      if (r.due < format_day(from) || r.due > format_day(to)) continue;
      ++count;
      if (list.size() >= limit) continue;
      // Retired occurrences keep their record; what the current catalogue says of the
      // obligation completes it (a local obligation that was removed leaves these empty).
      const Obligation* ob = c.find_obligation(r.obligation);
      const std::string period = [&] {
        const auto a = r.uid.find('/'), b = a == std::string::npos ? a : r.uid.find('/', a + 1);
        const auto e2 = b == std::string::npos ? b : r.uid.find_first_of("/@", b + 1);
        return b == std::string::npos ? std::string{} : r.uid.substr(b + 1, e2 - b - 1);
      }();
      auto n = notes_.find(r.uid);
      list.push_back(
          Json{{"uid", r.uid},
               {"obligation", r.obligation},
               {"citation", ob ? citation(ob->article, ob->item) : ""},
               {"org", r.org},
               {"person", r.person.empty() ? Json(nullptr) : Json(r.person)},
               {"window_start", r.window_start},
               {"due", r.due},
               {"status", "retired"},
               {"completions", n == notes_.end() ? 0 : n->second.size()},
               {"min_count", ob ? ob->min_count : 1},
               {"title", (ob ? ob->title : r.obligation) + "（" + period + "，已撤销）"}});
    }
  }
  return json(req, http::status::ok, Json{{"count", count}, {"occurrences", std::move(list)}});
}

Response Service::api_deliveries(const Request& req) {
  if (req.method() != http::verb::get) return json_method_not_allowed(req, "GET");
  const auto token = bearer(req);
  if (!token)
    return json_error(req, http::status::unauthorized,
                      "a valid API token is required (Authorization: Bearer ...)");
  auto params = query_params(req);
  if (!params) return json_error(req, http::status::bad_request, "malformed query string");
  static const std::vector<std::string> accepted{"occurrence", "status", "from", "to",
                                                 "org",        "person", "limit"};
  for (const auto& [name, value] : *params)
    if (std::find(accepted.begin(), accepted.end(), name) == accepted.end())
      return json_error(req, http::status::bad_request,
                        "unknown parameter '" + name +
                            "'; accepted: occurrence, status, from, to, org, person, limit");
  DeliveryFilter f;
  f.occurrence = (*params)["occurrence"];
  f.status = (*params)["status"];
  f.org = (*params)["org"];
  f.person = (*params)["person"];
  if (!f.status.empty() && !is_delivery_status(f.status))
    return json_error(req, http::status::bad_request,
                      "status must be queued, sending, sent, failed, cancelled or superseded");
  // Dates are days in the configured zone, compared with the planned send time.
  const std::string& tz = snapshot_->config().timezone;
  std::optional<Day> from, to;
  if (!(*params)["from"].empty()) {
    from = parse_day((*params)["from"]);
    if (!from) return json_error(req, http::status::bad_request, "'from' must be YYYY-MM-DD");
    f.from = local_midnight(*from, tz);
  }
  if (!(*params)["to"].empty()) {
    to = parse_day((*params)["to"]);
    if (!to) return json_error(req, http::status::bad_request, "'to' must be YYYY-MM-DD");
    f.to = local_midnight(*to + 1, tz) - 1;
  }
  if (from && to && *from > *to)
    return json_error(req, http::status::bad_request, "'from' is after 'to'");
  f.limit = 1000;
  if (const std::string& l = (*params)["limit"]; !l.empty()) {
    const bool digits = l.size() <= 5 && std::all_of(l.begin(), l.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; });
    f.limit = digits ? std::stoul(l) : 0;
    if (f.limit < 1 || f.limit > 10000)
      return json_error(req, http::status::bad_request,
                        "'limit' must be a whole number from 1 to 10000");
  }
  // A person's token sees the reminders sent to that person, an organisation's token those of
  // its occurrences; asking for someone else's is refused rather than answered empty.
  if (token->subject_kind == "person") {
    if (!f.person.empty() && f.person != token->subject)
      return json_error(req, http::status::forbidden,
                        "a person's token lists only that person's deliveries");
    f.person = token->subject;
  } else if (token->subject_kind == "org") {
    if (!f.org.empty() && f.org != token->subject)
      return json_error(req, http::status::forbidden, "this token belongs to another organisation");
    f.org = token->subject;
  }
  Json list = Json::array();
  for (const DeliveryRecord& d : store_.deliveries(f)) list.push_back(delivery_json(d));
  Response r = json(req, http::status::ok,
                    Json{{"count", store_.count_deliveries(f)}, {"deliveries", std::move(list)}});
  r.set(http::field::cache_control, "no-store");
  return r;
}

Response Service::api_flags(const Request& req) {
  if (req.method() != http::verb::get) return json_method_not_allowed(req, "GET");
  auto who = admin(req);
  if (auto* refused = std::get_if<Response>(&who)) return std::move(*refused);
  auto params = query_params(req);
  if (!params) return json_error(req, http::status::bad_request, "malformed query string");
  for (const auto& [name, value] : *params)
    if (name != "org" && name != "status" && name != "occurrence")
      return json_error(req, http::status::bad_request,
                        "unknown parameter '" + name + "'; accepted: org, status, occurrence");
  FlagFilter f;
  f.org = (*params)["org"];
  f.status = (*params)["status"];
  f.occurrence = (*params)["occurrence"];
  if (!f.status.empty() && !is_flag_status(f.status))
    return json_error(req, http::status::bad_request, "status must be one of: " + flag_statuses());
  Json list = Json::array();
  for (const FlagRecord& flag : store_.flags(f))
    list.push_back(flag_json(flag, store_.flag_transitions(flag.id)));
  const std::size_t count = list.size();
  Response r = json(req, http::status::ok, Json{{"count", count}, {"flags", std::move(list)}});
  r.set(http::field::cache_control, "no-store");
  return r;
}

// POST /api/v1/flags/{id}/advance and /api/v1/flags/{id}/dismiss: `rest` is "{id}/{step}".
Response Service::api_flag_step(const Request& req, const std::string& rest) {
  const auto path = id_and_step(rest);
  const std::string step = path ? path->second : "";
  if (!path || (step != "advance" && step != "dismiss"))
    return json_error(
        req, http::status::not_found,
        "unknown path; use POST /api/v1/flags/{id}/advance or /api/v1/flags/{id}/dismiss");
  if (req.method() != http::verb::post) return json_method_not_allowed(req, "POST");
  auto who = admin(req);
  if (auto* refused = std::get_if<Response>(&who)) return std::move(*refused);
  const std::int64_t id = path->first;
  std::map<std::string, std::string> fields;
  if (auto bad = string_fields(req, {"reason", "measure", "decided_on"}, fields))
    return std::move(*bad);
  std::optional<Day> decided_on;
  if (!fields["decided_on"].empty()) {
    decided_on = parse_day(fields["decided_on"]);
    if (!decided_on)
      return json_error(req, http::status::bad_request, "'decided_on' must be a date YYYY-MM-DD");
    if (*decided_on > today())
      return json_error(req, http::status::bad_request, "'decided_on' is in the future");
  }
  if (step == "dismiss" && (!fields["measure"].empty() || decided_on))
    return json_error(req, http::status::bad_request, "a dismissal takes only a reason");
  const std::string actor = "admin:token-" + std::to_string(std::get<TokenRecord>(who).id);
  const std::string now = iso_utc(clock_.now());
  try {
    const FlagRecord f = step == "advance" ? store_.advance_flag(id, actor, fields["reason"],
                                                                 fields["measure"], decided_on, now)
                                           : store_.dismiss_flag(id, actor, fields["reason"], now);
    data_version_ =
        -1;  // our own commit: pull it like any other (the parent's feed shows the step)
    return json(req, http::status::ok, Json{{"flag", flag_json(f, store_.flag_transitions(id))}});
  } catch (const FlagError& e) {
    switch (e.kind) {
      case FlagError::not_found:
        return json_error(req, http::status::not_found, e.what());
      case FlagError::conflict: {
        const auto current = store_.flag(id);
        return json(
            req, http::status::conflict,
            Json{{"error", e.what()}, {"status", current ? Json(current->status) : Json(nullptr)}});
      }
      case FlagError::invalid:
        break;
    }
    return json_error(req, http::status::bad_request, e.what());
  }
}

// POST /api/v1/events. An administrator token records an event for any organisation; an
// organisation's token only one whose duty falls to that organisation itself (after --kind has
// chosen it: a promotion's duty is the organisation department's); a person's token none.
Response Service::api_event_add(const Request& req) {
  const auto token = bearer(req);
  if (!token)
    return json_error(req, http::status::unauthorized,
                      "a valid API token is required (Authorization: Bearer ...)");
  if (token->subject_kind == "person")
    return json_error(req, http::status::forbidden,
                      "events are recorded with an administrator's or an organisation's token");
  std::map<std::string, std::string> fields;
  if (auto bad =
          string_fields(req, {"kind", "obligation", "org", "person", "date", "note"}, fields))
    return std::move(*bad);
  EventRequest r{fields["kind"],   fields["obligation"], fields["org"],
                 fields["person"], fields["date"],       fields["note"]};
  const Config& c = snapshot_->config();
  try {
    EventInput in = prepare_event(c, r, today());
    if (token->subject_kind == "org") {
      if (in.org != token->subject)
        return json_error(req, http::status::forbidden,
                          "this token belongs to organisation '" + token->subject +
                              "'; the duty falls to '" + in.org + "': ask an administrator");
      in.created_by = "org:" + token->subject + ":token-" + std::to_string(token->id);
    } else {
      in.created_by = "admin:token-" + std::to_string(token->id);
    }
    const EventRecord e = store_.add_event(in, iso_utc(clock_.now()));
    data_version_ = -1;  // our own commit: pull it like any other
    if (events_changed_) events_changed_();
    return json(req, http::status::created, Json{{"event", event_json(c, e)}});
  } catch (const EventError& e) {
    return event_error(req, e);
  }
}

// GET /api/v1/events[?org=ID&status=active|withdrawn|all]: an organisation's token sees its own.
Response Service::api_events(const Request& req) {
  if (req.method() != http::verb::get) return json_method_not_allowed(req, "GET, POST");
  const auto token = bearer(req);
  if (!token)
    return json_error(req, http::status::unauthorized,
                      "a valid API token is required (Authorization: Bearer ...)");
  if (token->subject_kind == "person")
    return json_error(req, http::status::forbidden,
                      "events are listed with an administrator's or an organisation's token");
  auto params = query_params(req);
  if (!params) return json_error(req, http::status::bad_request, "malformed query string");
  for (const auto& [name, value] : *params)
    if (name != "org" && name != "status")
      return json_error(req, http::status::bad_request,
                        "unknown parameter '" + name + "'; accepted: org, status");
  const std::string status = (*params)["status"].empty() ? "active" : (*params)["status"];
  if (status != "active" && status != "withdrawn" && status != "all")
    return json_error(req, http::status::bad_request, "status must be active, withdrawn or all");
  std::string org = (*params)["org"];
  if (token->subject_kind == "org") {
    if (!org.empty() && org != token->subject)
      return json_error(req, http::status::forbidden, "this token belongs to another organisation");
    org = token->subject;
  }
  Json list = Json::array();
  for (const EventRecord& e : store_.events(status != "active"))
    if ((org.empty() || e.org == org) &&
        (status == "all" || (status == "withdrawn") == e.withdrawn_at.has_value()))
      list.push_back(event_json(snapshot_->config(), e));
  const std::size_t count = list.size();
  Response r = json(req, http::status::ok, Json{{"count", count}, {"events", std::move(list)}});
  r.set(http::field::cache_control, "no-store");
  return r;
}

// POST /api/v1/events/{id}/withdraw {"reason": "..."}: administrators only.
Response Service::api_event_withdraw(const Request& req, const std::string& rest) {
  const auto path = id_and_step(rest);
  if (!path || path->second != "withdraw")
    return json_error(req, http::status::not_found,
                      "unknown path; use POST /api/v1/events/{id}/withdraw");
  if (req.method() != http::verb::post) return json_method_not_allowed(req, "POST");
  auto who = admin(req);
  if (auto* refused = std::get_if<Response>(&who)) return std::move(*refused);
  std::map<std::string, std::string> fields;
  if (auto bad = string_fields(req, {"reason"}, fields)) return std::move(*bad);
  try {
    const EventRecord e = store_.withdraw_event(
        path->first, "admin:token-" + std::to_string(std::get<TokenRecord>(who).id),
        fields["reason"], iso_utc(clock_.now()));
    data_version_ = -1;
    if (events_changed_) events_changed_();
    return json(req, http::status::ok, Json{{"event", event_json(snapshot_->config(), e)}});
  } catch (const EventError& e) {
    return event_error(req, e);
  }
}

}  // namespace dutyd
