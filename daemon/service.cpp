#include "daemon/service.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_set>
#include <variant>

#include "calendar/accountability.hpp"
#include "daemon/channels.hpp"
#include "daemon/crypto.hpp"
#include "daemon/deliveries.hpp"
#include "daemon/events.hpp"
#include "daemon/flags.hpp"
#include "daemon/http_server.hpp"
#include "daemon/parallel.hpp"
#include "daemon/report.hpp"
#include "daemon/web.hpp"

namespace dutyd {
namespace {

using Json = nlohmann::ordered_json;

std::string log_prefix(int priority) {
  return "<" + std::to_string(priority) + ">";
}

Response text(const Request& req, http::status st, std::string body) {
  return make_response(req, st, std::move(body), "text/plain; charset=utf-8");
}

Response json(const Request& req, http::status st, const Json& j) {
  return make_response(req, st,
                       j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                       "application/json");
}

Response json_error(const Request& req, http::status st, const std::string& message) {
  return json(req, st, Json{{"error", message}});
}

// 405 from an API endpoint that answers only `method`.
Response json_method_not_allowed(const Request& req, const char* method) {
  Response r = json_error(req, http::status::method_not_allowed, std::string("use ") + method);
  r.set(http::field::allow, method);
  return r;
}

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

// The parameters of the request target's query string; nullopt when it is malformed.
std::optional<Params> query_params(const Request& req) {
  return target_params(std::string_view(req.target().data(), req.target().size()));
}

Response html(const Request& req, http::status st, const std::string& title,
              const std::string& body) {
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>" +
      html_escape(title) +
      "</title>"
      "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 "
      "1em;line-height:1.6}"
      "label{display:block;margin-top:1em}input,textarea{width:100%;font-size:1em}"
      "button{margin-top:1.5em;font-size:1.1em;padding:.4em 1.5em}.err{color:#b00}"
      ".meta{color:#555}</style></head><body>\n" +
      body + "\n</body></html>\n";
  Response res = make_response(req, st, std::move(page), "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set("Content-Security-Policy",
          "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
  return res;
}

CompletionNote note_of(const Completion& c) {
  CompletionNote n;
  n.done_on = c.done_on;
  n.late = c.late;
  std::tm tm{};
  if (::strptime(c.recorded_at.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) n.recorded_unix = ::timegm(&tm);
  std::string e;
  auto add = [&](const char* label, const std::string& v) {
    if (!v.empty()) e += (e.empty() ? "" : "；") + std::string(label) + v;
  };
  add("文号：", c.document_number);
  add("纪要：", c.minutes_ref);
  add("说明：", c.evidence_text);
  add("备注：", c.note);
  n.evidence = e;
  return n;
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

std::optional<std::string> clean_text(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto b = static_cast<unsigned char>(in[i]);
    std::size_t n;
    std::uint32_t cp;
    if (b < 0x80)
      n = 1, cp = b;
    else if ((b & 0xE0) == 0xC0)
      n = 2, cp = b & 0x1Fu;
    else if ((b & 0xF0) == 0xE0)
      n = 3, cp = b & 0x0Fu;
    else if ((b & 0xF8) == 0xF0)
      n = 4, cp = b & 0x07u;
    else
      return std::nullopt;
    if (i + n > in.size()) return std::nullopt;
    for (std::size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(in[i + k]);
      if ((c & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    static const std::uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return std::nullopt;
    const bool control = (cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7F && cp <= 0x9F);
    if (!control) out.append(in.data() + i, n);
    i += n;
  }
  return out;
}

std::int64_t Clock::now() const {
  return static_cast<std::int64_t>(std::time(nullptr)) + offset_seconds;
}

std::string completion_link(const std::string& base_url, const std::string& key,
                            const std::string& uid, const std::string& person,
                            std::int64_t expiry) {
  const std::string x = std::to_string(expiry);
  return base_url + "/complete?o=" + url_encode(uid) + "&p=" + url_encode(person) + "&x=" + x +
         "&s=" + hmac_sha256_hex(key, uid + "\n" + person + "\n" + x);
}

std::string load_link_key(const Config& config, Store& store, const std::string& now_iso) {
  if (const std::string dir = credentials_dir(config); !dir.empty())
    if (std::string key = read_credential(dir, "link_key"); !key.empty())
      return key;  // a missing or empty credential falls back to the store's key
  return store.link_key(now_iso);
}

Service::Service(Store& store, Clock clock, std::string link_key)
    : store_(store),
      clock_(clock),
      link_key_(std::move(link_key)),
      fast_feeds_(store.path() + "-wal", clock.offset_seconds) {
  if (const char* delay = std::getenv("DUTYD_REPORT_DELAY_MS")) report_delay_ms_ = std::atoi(delay);
  for (auto& [org, digest] : store_.occurrence_digests()) stored_digests_.emplace(org, digest);
}

Day Service::today() const {
  return local_day(clock_.now(), utc_offset_);
}

void Service::install(std::shared_ptr<const Snapshot> snap, const std::string& reason) {
  const Config& c = snap->config();
  utc_offset_ = utc_offset_of(c.timezone, clock_.now());
  const std::string now = iso_utc(clock_.now());
  std::vector<Store::OccurrenceSetChange> changes;
  std::vector<Store::RetiredOccurrence> retired;
  std::vector<Store::AuditEntry> audit;
  std::size_t reassigned = 0;
  struct Line {
    std::string person, window, due;
  };
  auto parse = [](const std::string& body) {
    std::unordered_map<std::string, Line> out;
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::size_t start = 0;
      for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
        f.push_back(line.substr(start, tab - start));
      f.push_back(line.substr(start));
      if (f.size() == 4) out[f[0]] = {f[1], f[2], f[3]};
    }
    return out;
  };
  const std::string from = format_day(snap->horizon_from()), to = format_day(snap->horizon_to());
  auto retire_missing = [&](const std::string& org,
                            const std::unordered_map<std::string, Line>& old,
                            const std::unordered_map<std::string, Line>* now_set) {
    for (const auto& [uid, l] : old) {
      if (now_set && now_set->count(uid)) continue;
      if (l.due < from || l.due > to) continue;  // left the horizon: archived, not retired
      retired.push_back({uid, org, uid.substr(0, uid.find('/')), l.person, l.window, l.due});
      audit.push_back(
          {"dutyd", "occurrence.retire", uid, "no longer derived from the configuration"});
    }
  };
  // The digests come with the snapshot's blocks (computed when a block is built; a block taken
  // over from the previous snapshot keeps its digest, so an unchanged organisation costs one
  // lookup here). Bodies are built only for the organisations that changed, on both cores,
  // and packed at once; the text is kept only where it must be compared with the stored one,
  // so a first start never holds every organisation's text.
  std::vector<std::string> bodies(c.orgs.size()), packed(c.orgs.size());
  std::vector<char> changed(c.orgs.size(), 0), known(c.orgs.size(), 0);
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < c.orgs.size(); ++i) {
    auto it = stored_digests_.find(c.orgs[i].id);
    known[i] = it != stored_digests_.end();
    changed[i] = !known[i] || it->second != snap->org_digest(static_cast<std::int32_t>(i));
    if (changed[i]) todo.push_back(i);
  }
  parallel_for(todo.size(), [&](std::size_t k) {
    const std::size_t i = todo[k];
    std::string body = snap->org_body(static_cast<std::int32_t>(i));
    packed[i] = Store::pack_body(body);
    if (known[i]) bodies[i] = std::move(body);
  });
  std::unordered_set<std::string> seen;
  for (std::size_t i = 0; i < c.orgs.size(); ++i) {
    const std::string& id = c.orgs[i].id;
    seen.insert(id);
    if (!changed[i]) continue;
    auto it = stored_digests_.find(id);
    if (it != stored_digests_.end()) {
      const auto old = parse(store_.occurrence_body(id).value_or(""));
      const auto fresh = parse(bodies[i]);
      retire_missing(id, old, &fresh);
      for (const auto& [uid, l] : fresh) {
        auto o = old.find(uid);
        if (o == old.end() || o->second.person == l.person) continue;
        ++reassigned;
        audit.push_back(
            {"dutyd", "occurrence.reassign", uid, "from=" + o->second.person + " to=" + l.person});
      }
    }
    bodies[i] = std::string{};
    changes.push_back({id, snap->org_digest(static_cast<std::int32_t>(i)), std::move(packed[i])});
  }
  for (const auto& [org, digest] : stored_digests_) {
    if (seen.count(org)) continue;
    retire_missing(org, parse(store_.occurrence_body(org).value_or("")), nullptr);
    changes.push_back({org, "", ""});
  }
  audit.push_back({"dutyd", reason, "config",
                   std::to_string(snap->occurrence_count()) + " occurrences " + from + ".." + to +
                       ", " + std::to_string(changes.size()) + " org sets changed, " +
                       std::to_string(retired.size()) + " retired, " + std::to_string(reassigned) +
                       " reassigned"});
  store_.apply_derivation(changes, retired, audit, now);
  for (const auto& ch : changes) {
    if (ch.digest.empty())
      stored_digests_.erase(ch.org);
    else
      stored_digests_[ch.org] = ch.digest;
  }
  snapshot_ = std::move(snap);
  ++generation_;
  feed_cache_.clear();
  publish_reset(FileStamp::of(store_.path() + "-wal"), today());
  const auto& stats = snapshot_->derive_stats();
  std::cerr << log_prefix(6) << "serving " << snapshot_->occurrence_count() << " occurrences ("
            << from << " .. " << to << "; organisations: " << stats.built << " derived, "
            << stats.shared << " unchanged, " << stats.remapped << " renumbered); "
            << changes.size() << " org sets changed, " << retired.size() << " retired, "
            << reassigned << " reassigned\n";
}

std::optional<TokenRecord> Service::find_token(const std::string& secret) const {
  auto it = tokens_by_hash_.find(sha256_hex(secret));
  if (it == tokens_by_hash_.end()) return std::nullopt;
  return it->second;
}

void Service::refresh() {
  // The WAL changes with every commit, ours and the CLI's: one stat() tells whether there is
  // anything to read. Taken before reading, so a commit racing with this is seen next time.
  const FileStamp stamp = FileStamp::of(store_.path() + "-wal");
  const Day day = today();
  if (data_version_ >= 0 && stamp == wal_stamp_ && stamp.size >= 0) {
    if (day != published_day_) publish_reset(stamp, day);
    return;
  }
  wal_stamp_ = stamp;
  publish_reset(stamp, day);  // cached feeds may show what changed: the I/O threads must ask
  const std::int64_t v = store_.data_version();
  if (v == data_version_) return;
  data_version_ = v;
  tokens_by_hash_.clear();
  for (auto& [hash, t] : store_.tokens_with_hashes()) tokens_by_hash_.emplace(hash, std::move(t));
  for (const Completion& c : store_.completions_after(last_completion_id_)) {
    notes_[c.uid].push_back(note_of(c));
    ++completions_by_channel_[c.channel];
    last_completion_id_ = c.id;
    ++generation_;
  }
  if (const std::int64_t t = store_.last_flag_transition(); t != last_flag_transition_) {
    last_flag_transition_ = t;
    FlagFilter open;
    open.open_only = true;
    open_flags_ = store_.flags(open);
    ++generation_;
  }
}

std::vector<SubordinateFlag> Service::subordinate_flags(std::int32_t org) const {
  const Config& c = snapshot_->config();
  auto name_of = [&](const std::string& person) -> std::string {
    auto it = c.person_index.find(person);
    return it == c.person_index.end() ? person
                                      : c.persons[static_cast<std::size_t>(it->second)].name;
  };
  std::vector<SubordinateFlag> out;
  for (const FlagRecord& f : open_flags_) {
    auto it = c.org_index.find(f.org);
    // A flag of an organisation the configuration no longer has stays in the store and the API.
    if (it == c.org_index.end() || c.orgs[static_cast<std::size_t>(it->second)].parent != org)
      continue;
    SubordinateFlag s;
    s.id = f.id;
    s.org_name = c.orgs[static_cast<std::size_t>(it->second)].name;
    s.citation = f.citation;
    s.title = f.title;
    s.art27 = f.art27;
    s.art27_clause = f.art27_clause;
    s.due = f.due;
    s.raised_on = f.raised_on;
    s.days_late = f.days_late;
    // 第二十六条: who answered for it on the due date, 前任 noted with the 现任.
    std::string who = f.responsible.empty() ? std::string() : name_of(f.responsible);
    if (!who.empty() && f.responsible_moved_on)
      who += "（前任；现任" + (f.incumbent.empty() ? std::string("空缺") : name_of(f.incumbent)) +
             "）";
    if (f.scope == "collective") {
      s.responsible = "领导班子集体";
      if (!f.principal.empty())
        s.responsible +=
            "；主要负责人" + (f.principal == f.responsible ? who : name_of(f.principal));
      for (const auto& p : f.in_charge) s.responsible += "；分管" + name_of(p);
    } else {
      s.responsible = who;
    }
    const auto status = parse_flag_status(f.status);
    s.status_zh = status ? std::string(flag_status_zh(*status)) : f.status;
    s.step = status ? static_cast<int>(*status) : 0;
    const auto severity = parse_severity(f.severity);
    s.severity_zh = severity ? std::string(severity_zh(*severity)) : f.severity;
    for (const auto& m : f.suggested_measures) s.suggested += (s.suggested.empty() ? "" : "、") + m;
    std::tm tm{};
    if (::strptime(f.updated_at.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) s.updated_unix = ::timegm(&tm);
    out.push_back(std::move(s));
  }
  return out;
}

void Service::publish_reset(FileStamp stamp, Day day) {
  published_day_ = day;
  fast_feeds_.reset(stamp, day, utc_offset_);
}

const std::vector<CompletionNote>* Service::notes_for(const Occurrence& o) const {
  if (notes_.empty()) return nullptr;
  auto it = notes_.find(snapshot_->expander().uid(o));
  return it == notes_.end() ? nullptr : &it->second;
}

Status Service::status(const Occurrence& o) const {
  const Obligation& ob = snapshot_->config().obligations[static_cast<std::size_t>(o.obligation)];
  return status_of(ob.min_count, o.due, notes_for(o), today());
}

Store::Recorded Service::record(const Occurrence& o, CompletionInput in) {
  in.uid = snapshot_->expander().uid(o);
  const bool late = in.done_on > o.due;
  Store::Recorded r = store_.record_completion(in, late, iso_utc(clock_.now()));
  data_version_ = -1;  // our own commit: pull it like any other
  refresh();
  return r;
}

std::optional<TokenRecord> Service::bearer(const Request& req) {
  const auto h = req[http::field::authorization];
  const std::string_view v(h.data(), h.size());
  if (v.size() < 8 || v.substr(0, 7) != "Bearer ") return std::nullopt;
  const std::string token(v.substr(7));
  if (!token_chars_ok(token)) return std::nullopt;
  auto rec = find_token(token);
  if (!rec || rec->revoked_at || rec->kind != "api") return std::nullopt;
  return rec;
}

Response Service::handle(const Request& req) {
  refresh();
  const std::string target(req.target());
  const auto q = target.find('?');
  const std::string path = target.substr(0, q);
  Response res;
  if (path == "/healthz") {
    res = text(req, http::status::ok, "ok\n");
  } else if (path == "/dashboard" || path.rfind("/dashboard/", 0) == 0) {
    res = dashboard(req, path);
  } else if (path == "/metrics") {
    res = metrics(req);
  } else if (path.rfind("/feeds/", 0) == 0) {
    const std::string name = path.substr(7);
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".ics") != 0)
      res = text(req, http::status::not_found, "没有这个日历订阅地址\n");
    else
      res = feed(req, name.substr(0, name.size() - 4));
  } else if (path == "/complete") {
    res = completion_page(req);
  } else if (path == "/api/v1/completions") {
    res = api_completions(req);
  } else if (path == "/api/v1/occurrences") {
    res = api_occurrences(req);
  } else if (path == "/api/v1/deliveries") {
    res = api_deliveries(req);
  } else if (path == "/api/v1/flags") {
    res = api_flags(req);
  } else if (path == "/api/v1/reports") {
    res = api_reports(req);
  } else if (path.rfind("/api/v1/flags/", 0) == 0) {
    res = api_flag_step(req, path.substr(14));
  } else if (path == "/api/v1/events") {
    res = req.method() == http::verb::post ? api_event_add(req) : api_events(req);
  } else if (path.rfind("/api/v1/events/", 0) == 0) {
    res = api_event_withdraw(req, path.substr(15));
  } else {
    res = text(req, http::status::not_found, "未找到\n");
  }
  return res;
}

Response Service::feed(const Request& req, const std::string& token) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    Response r = text(req, http::status::method_not_allowed, "日历订阅只读\n");
    r.set(http::field::allow, "GET, HEAD");
    return r;
  }
  if (!token_chars_ok(token)) return text(req, http::status::not_found, "没有这个日历订阅地址\n");
  const auto rec = find_token(token);
  if (!rec || rec->kind != "feed")
    return text(req, http::status::not_found, "没有这个日历订阅地址\n");
  if (rec->revoked_at)
    return text(req, http::status::gone, "此订阅地址已停用，请向管理员索取新地址\n");
  const Config& c = snapshot_->config();
  std::int32_t person = -1, org = -1;
  std::string name;
  if (rec->subject_kind == "person") {
    auto it = c.person_index.find(rec->subject);
    if (it == c.person_index.end()) return text(req, http::status::gone, "此人员已不在配置中\n");
    person = it->second;
    name = person_feed_name(c.persons[static_cast<std::size_t>(person)]);
  } else {
    auto it = c.org_index.find(rec->subject);
    if (it == c.org_index.end()) return text(req, http::status::gone, "此组织已不在配置中\n");
    org = it->second;
    name = org_feed_name(c.orgs[static_cast<std::size_t>(org)]);
  }
  const Day day = today();
  CachedFeed& cached = feed_cache_[rec->id];
  if (cached.generation != generation_ || cached.today != day ||
      cached.snapshot != snapshot_.get() || !cached.body) {
    Expansion own;  // a person's feed is assembled; an organisation's is its block
    if (person >= 0) own = snapshot_->for_person(person);
    const Expansion& e = person >= 0 ? own : snapshot_->for_org(org);
    FeedOptions opts;
    opts.name = name;
    opts.viewer = person;
    opts.today = day;
    opts.completions = [this](const Occurrence& o) { return notes_for(o); };
    opts.utc_offset = utc_offset_;
    if (org >= 0) opts.subordinate_flags = subordinate_flags(org);
    auto body = std::make_shared<const std::string>(render_feed(snapshot_->expander(), e, opts));
    const std::string etag = "\"" + sha256_hex(*body).substr(0, 32) + "\"";
    if (etag != cached.etag) {
      cached.last_modified = clock_.now();
      cached.last_modified_text = http_date(cached.last_modified);
    }
    cached.etag = etag;
    cached.body = std::move(body);
    cached.generation = generation_;
    cached.today = day;
    cached.snapshot = snapshot_.get();
  }
  const PublishedFeed published{cached.body, cached.etag, cached.last_modified_text,
                                cached.last_modified};
  // From now on the I/O threads answer this token themselves, until something changes.
  fast_feeds_.publish(sha256_hex(token), published);
  bool not_modified = false;
  Response r = feed_response(req, published, not_modified);
  fast_feeds_.count(not_modified);
  return r;
}

Response Service::completion_page(const Request& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::post) {
    Response r = text(req, http::status::method_not_allowed, "不支持的方法\n");
    r.set(http::field::allow, "GET, POST");
    return r;
  }
  const std::string target(req.target());
  auto params = query_params(req);
  if (!params || !params->count("o") || !params->count("p") || !params->count("x") ||
      !params->count("s"))
    return html(req, http::status::bad_request, "链接不完整",
                "<p class=\"err\">链接不完整，请使用提醒中的完整链接。</p>");
  const std::string& uid = (*params)["o"];
  const std::string& person = (*params)["p"];
  const std::string& x = (*params)["x"];
  const std::string expected = hmac_sha256_hex(link_key_, uid + "\n" + person + "\n" + x);
  if (!equal_constant_time(expected, (*params)["s"]))
    return html(req, http::status::forbidden, "链接无效",
                "<p class=\"err\">链接无效或已被修改。</p>");
  char* end = nullptr;
  const long long expiry = std::strtoll(x.c_str(), &end, 10);
  if (!end || *end || expiry < clock_.now())
    return html(req, http::status::gone, "链接已过期",
                "<p class=\"err\">此链接已过期，请使用最新提醒中的链接。</p>");
  const auto found = snapshot_->find(uid);
  if (!found)
    return html(req, http::status::not_found, "事项不存在",
                "<p class=\"err\">该事项已不在当前日程中。</p>");
  const Occurrence& o = **found;
  const Config& c = snapshot_->config();
  const Obligation& ob = c.obligations[static_cast<std::size_t>(o.obligation)];
  const std::string title = summary(snapshot_->expander(), o);
  std::string error, done_on = format_day(std::min(today(), std::max(o.window_start, today())));
  Params form;
  if (req.method() == http::verb::post) {
    auto body = parse_params(req.body(), true);
    if (!body) {
      error = "表单内容无法解析。";
    } else {
      form = *body;
      auto d = parse_day(form["done_on"]);
      if (!d) {
        error = "完成日期格式应为 YYYY-MM-DD。";
      } else if (*d > today()) {
        error = "完成日期不能晚于今天。";
      } else if (*d < o.window_start) {
        error =
            "完成日期早于本事项的办理期间（" + format_day(o.window_start) + " 起），不计入本期。";
      } else {
        auto doc = clean_text(form["document_number"]), minutes = clean_text(form["minutes_ref"]),
             ev = clean_text(form["evidence_text"]), note = clean_text(form["note"]);
        if (!doc || !minutes || !ev || !note) {
          for (auto* f : {"document_number", "minutes_ref", "evidence_text", "note"})
            if (!clean_text(form[f])) form[f].clear();
          error = "填写内容包含无效字符（不是有效的 UTF-8 文本），请重新填写。";
        } else {
          CompletionInput in;
          in.done_on = *d;
          in.document_number = *doc;
          in.minutes_ref = *minutes;
          in.evidence_text = *ev;
          in.note = *note;
          in.recorded_by = person;
          in.channel = "form";
          const auto r = record(o, in);
          return html(req, http::status::ok, "已记录",
                      "<h1>已记录</h1><p>" + html_escape(title) +
                          "</p><p class=\"meta\">完成日期：" + format_day(r.completion.done_on) +
                          (r.completion.late ? "（逾期完成）" : "") +
                          (r.created ? "" : "。此前已记录过同样的内容，未重复登记") + "。</p>");
        }
      }
    }
    if (!form["done_on"].empty() && parse_day(form["done_on"])) done_on = form["done_on"];
  }
  std::string page = "<h1>登记完成情况</h1><p><strong>" + html_escape(title) + "</strong></p>";
  page += "<p class=\"meta\">办理期间：" + format_day(o.window_start) + " 至 " + format_day(o.due);
  if (ob.min_count > 1) page += "，期间内至少 " + std::to_string(ob.min_count) + " 次";
  page += "<br>原文：" + html_escape(ob.quote) + "</p>";
  if (!error.empty()) page += "<p class=\"err\">" + html_escape(error) + "</p>";
  std::string evidence;
  for (const auto& e : ob.evidence) evidence += (evidence.empty() ? "" : "、") + e;
  page += "<form method=\"post\" action=\"" + html_escape(target) +
          "\">"
          "<label>完成日期<input type=\"date\" name=\"done_on\" required value=\"" +
          html_escape(done_on) +
          "\"></label>"
          "<label>文号（如有）<input name=\"document_number\" value=\"" +
          html_escape(form["document_number"]) +
          "\"></label>"
          "<label>会议纪要（如有）<input name=\"minutes_ref\" value=\"" +
          html_escape(form["minutes_ref"]) +
          "\"></label>"
          "<label>其他佐证材料说明（应留存：" +
          html_escape(evidence) + "）<textarea name=\"evidence_text\" rows=\"3\">" +
          html_escape(form["evidence_text"]) +
          "</textarea></label>"
          "<label>备注<textarea name=\"note\" rows=\"2\">" +
          html_escape(form["note"]) +
          "</textarea></label>"
          "<button type=\"submit\">提交</button></form>";
  return html(req, error.empty() ? http::status::ok : http::status::bad_request, "登记完成情况",
              page);
}

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

// The administrators' token, or the answer refusing the request.
std::variant<TokenRecord, Response> Service::admin(const Request& req) {
  const auto token = bearer(req);
  if (!token)
    return json_error(req, http::status::unauthorized,
                      "an administrator API token is required (Authorization: Bearer ...)");
  if (token->subject_kind != "admin")
    return json_error(req, http::status::forbidden, "administrators only");
  return *token;
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

// GET /api/v1/reports?year=Y[&org=ID][&format=json|csv]: an administrator's token reports on
// any organisation or the whole tree; an organisation's API token on its own subtree only.
// Through the HTTP server the report is made on the report thread (defer()); handle() makes it
// here.
Response Service::api_reports(const Request& req) {
  auto checked = check_report(req);
  if (auto* answer = std::get_if<Response>(&checked)) return std::move(*answer);
  ReportJob& job = std::get<ReportJob>(checked);
  read_known(job);
  return make_report(job);
}

// What the store knows is read on the loop's connection (the report thread has none), and only
// for a report that will be made.
void Service::read_known(ReportJob& job) {
  job.known =
      std::make_shared<const ReportStore>(ReportStore{store_.completion_days(), store_.flags({})});
}

std::variant<Response, Service::ReportJob> Service::check_report(const Request& req) {
  if (req.method() != http::verb::get) return json_method_not_allowed(req, "GET");
  const auto token = bearer(req);
  if (!token)
    return json_error(req, http::status::unauthorized,
                      "an administrator's or an organisation's API token is required "
                      "(Authorization: Bearer ...)");
  if (token->subject_kind == "person")
    return json_error(req, http::status::forbidden,
                      "reports need an administrator's or an organisation's token, not a person's");
  auto params = query_params(req);
  if (!params) return json_error(req, http::status::bad_request, "malformed query string");
  for (const auto& [name, value] : *params)
    if (name != "year" && name != "org" && name != "format")
      return json_error(req, http::status::bad_request,
                        "unknown parameter '" + name + "'; accepted: year, org, format");
  const std::string& year_text = (*params)["year"];
  const std::optional<int> year = parse_report_year(year_text);
  if (!year)
    return json_error(req, http::status::bad_request,
                      "'year' is required: four digits, e.g. year=2026");
  const std::string format = (*params)["format"].empty() ? "json" : (*params)["format"];
  if (format != "json" && format != "csv")
    return json_error(req, http::status::bad_request, "'format' must be json or csv");
  const Config& c = snapshot_->config();
  std::string org = (*params)["org"];
  if (!org.empty() && !c.org_index.count(org))
    return json_error(req, http::status::not_found, "unknown org '" + org + "'");
  if (token->subject_kind == "org") {
    const auto own = c.org_index.find(token->subject);
    if (own == c.org_index.end())
      return json_error(req, http::status::forbidden,
                        "this token's organisation is no longer in the configuration");
    if (org.empty()) org = token->subject;
    // Its own subtree: the token's organisation is org or one of its ancestors.
    bool inside = false;
    for (std::int32_t o = c.org_index.at(org); o >= 0 && !inside;
         o = c.orgs[static_cast<std::size_t>(o)].parent)
      inside = o == own->second;
    if (!inside)
      return json_error(req, http::status::forbidden,
                        "an organisation's token reports only on its own subtree");
  }
  ReportJob job;
  job.snapshot = snapshot_;
  job.head.version(req.version());
  job.head.keep_alive(req.keep_alive());
  job.year = *year;
  job.as_of = today();
  job.root = org.empty() ? -1 : c.org_index.at(org);
  job.format = format;
  job.year_text = year_text;
  job.org = org;
  return job;
}

Response Service::make_report(const ReportJob& job) {
  const Snapshot& snapshot = *job.snapshot;
  const Config& c = snapshot.config();
  // The snapshot's blocks hold the horizon; a year outside it is derived for this request.
  const Day from = make_day(job.year, 1, 1), to = make_day(job.year, 12, 31);
  Expansion derived;
  std::vector<const Expansion*> parts;
  if (from >= snapshot.horizon_from() && to <= snapshot.horizon_to()) {
    for (const std::int32_t o : subtree(c, job.root)) parts.push_back(&snapshot.for_org(o));
  } else {
    derived = snapshot.expander().expand(from, to);
    parts.push_back(&derived);
  }
  const Report report =
      build_report(c, snapshot.expander(), parts, *job.known, job.year, job.as_of, job.root);
  Response r;
  if (job.format == "csv") {
    std::ostringstream csv;
    print_report_csv(c, report, csv);
    r = make_response(job.head, http::status::ok, csv.str(), "text/csv; charset=utf-8");
    r.set(http::field::content_disposition, "attachment; filename=\"report-" + job.year_text +
                                                (job.org.empty() ? "" : "-" + job.org) + ".csv\"");
  } else {
    r = json(job.head, http::status::ok, report_json(c, report));
  }
  r.set(http::field::cache_control, "no-store");
  return r;
}

bool Service::defer(const Request& req, std::function<void(Response)>& respond) {
  const std::string target(req.target());
  if (target.substr(0, target.find('?')) != "/api/v1/reports") return false;
  refresh();
  auto checked = check_report(req);
  if (auto* answer = std::get_if<Response>(&checked)) {
    respond(std::move(*answer));
    return true;
  }
  // Only this thread (the loop) adds jobs: the room seen here is still there after the read.
  bool full = false;
  {
    std::lock_guard lock(report_mutex_);
    full = report_jobs_.size() >= kReportsWaiting;
  }
  if (full) {
    Response busy = json_error(req, http::status::service_unavailable,
                               "too many reports are being made; try again in a few seconds");
    busy.set(http::field::retry_after, "5");
    respond(std::move(busy));
    return true;
  }
  ReportJob& checked_job = std::get<ReportJob>(checked);
  read_known(checked_job);
  std::lock_guard lock(report_mutex_);
  report_jobs_.emplace_back(std::move(checked_job), respond);
  if (!report_thread_.joinable()) {
    report_thread_ = std::thread([this] {
      std::unique_lock lk(report_mutex_);
      for (;;) {
        report_cv_.wait(lk, [&] { return report_stop_ || !report_jobs_.empty(); });
        if (report_jobs_.empty()) return;  // stopping, nothing left
        auto [job, answer] = std::move(report_jobs_.front());
        lk.unlock();
        const std::string what = "report of " + job.year_text + " for " +
                                 (job.org.empty() ? "every organisation" : job.org);
        std::cerr << log_prefix(6) + "making the " + what + "\n" << std::flush;
        const auto t0 = std::chrono::steady_clock::now();
        // For the tests of this thread: a report that takes this long (see
        // tests/daemon/test_reports.py).
        if (report_delay_ms_ > 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(report_delay_ms_));
        Response r;
        try {
          r = make_report(job);
          const double took =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          std::ostringstream line;
          line << log_prefix(6) << "made the " << what << " in " << std::fixed
               << std::setprecision(2) << took << " s\n";
          std::cerr << line.str() << std::flush;
        } catch (const std::exception& e) {
          std::cerr << log_prefix(3) + "the " + what + " failed: " + e.what() + "\n" << std::flush;
          r = json_error(job.head, http::status::internal_server_error,
                         "the report could not be made");
        }
        job = {};  // the snapshot goes before the answer does
        answer(std::move(r));
        lk.lock();
        report_jobs_.pop_front();
      }
    });
  }
  report_cv_.notify_one();
  return true;
}

Service::~Service() {
  {
    std::lock_guard lock(report_mutex_);
    report_stop_ = true;
  }
  report_cv_.notify_all();
  if (report_thread_.joinable()) report_thread_.join();
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

Response Service::metrics(const Request& req) {
  std::map<std::string, std::uint64_t> by_status{
      {"open", 0}, {"done", 0}, {"late", 0}, {"overdue", 0}};
  snapshot_->for_each_occurrence(
      [&](const Occurrence& o, const Expansion&) { ++by_status[status_name(status(o))]; });
  std::ostringstream m;
  m << "# HELP dutyd_occurrences Occurrences in the horizon by status.\n# TYPE dutyd_occurrences "
       "gauge\n";
  for (const auto& [s, n] : by_status)
    m << "dutyd_occurrences{status=\"" << s << "\"} " << n << "\n";
  m << "dutyd_occurrences{status=\"retired\"} " << store_.retired().size() << "\n";
  m << "# HELP dutyd_feeds_served_total Feeds sent with a body.\n# TYPE dutyd_feeds_served_total "
       "counter\n"
    << "dutyd_feeds_served_total " << fast_feeds_.served() << "\n";
  m << "# HELP dutyd_feeds_not_modified_total Feed requests answered 304.\n# TYPE "
       "dutyd_feeds_not_modified_total counter\n"
    << "dutyd_feeds_not_modified_total " << fast_feeds_.not_modified() << "\n";
  m << "# HELP dutyd_completions Completions recorded, by channel.\n# TYPE dutyd_completions "
       "gauge\n";
  for (const char* ch : {"form", "api", "cli"})
    m << "dutyd_completions{channel=\"" << ch << "\"} "
      << (completions_by_channel_.count(ch) ? completions_by_channel_.at(ch) : 0) << "\n";
  m << "# HELP dutyd_reloads_total Configuration reloads.\n# TYPE dutyd_reloads_total counter\n"
    << "dutyd_reloads_total{result=\"ok\"} " << reloads_ok_ << "\n"
    << "dutyd_reloads_total{result=\"failed\"} " << reloads_failed_ << "\n";
  m << "# HELP dutyd_last_reload_success Whether the last reload succeeded.\n# TYPE "
       "dutyd_last_reload_success gauge\n"
    << "dutyd_last_reload_success " << (last_reload_ok_ ? 1 : 0) << "\n";
  m << "# HELP dutyd_http_requests_total HTTP responses by status code.\n# TYPE "
       "dutyd_http_requests_total counter\n";
  {
    std::lock_guard lock(responses_mutex_);
    for (const auto& [code, n] : responses_by_code_)
      m << "dutyd_http_requests_total{code=\"" << code << "\"} " << n << "\n";
  }
  if (extra_metrics_) m << extra_metrics_();
  return make_response(req, http::status::ok, m.str(), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace dutyd
