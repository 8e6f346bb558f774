// GET /feeds/TOKEN.ics: a person's or an organisation's iCalendar feed, with the open flags
// of an organisation's direct subordinates.
#include <ctime>

#include "base/crypto.hpp"
#include "calendar/accountability.hpp"
#include "http/reply.hpp"
#include "http/service.hpp"

namespace dutyd {

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

}  // namespace dutyd
