#include "http/service.hpp"

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

#include "base/crypto.hpp"
#include "base/parallel.hpp"
#include "calendar/accountability.hpp"
#include "calendar/events.hpp"
#include "calendar/flags.hpp"
#include "calendar/report.hpp"
#include "http/reply.hpp"
#include "http/server.hpp"
#include "http/web.hpp"
#include "store/delivery_forms.hpp"

namespace dutyd {

namespace {

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

}  // namespace

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
