#include "http/feed_cache.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <mutex>

#include "base/crypto.hpp"

namespace dutyd {

FileStamp FileStamp::of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {static_cast<std::int64_t>(st.st_size),
          std::int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
}

std::string http_date(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::optional<std::int64_t> parse_http_date(const std::string& s) {
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end) return std::nullopt;
  return static_cast<std::int64_t>(::timegm(&tm));
}

bool token_chars_ok(std::string_view t) {
  if (t.empty() || t.size() > 100) return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Response feed_response(const Request& req, const PublishedFeed& feed, bool& not_modified) {
  not_modified = false;
  const auto inm = req[http::field::if_none_match];
  if (!inm.empty()) {
    const std::string_view v(inm.data(), inm.size());
    not_modified = v == "*" || v.find(feed.etag) != std::string_view::npos;
  } else if (const auto ims = req[http::field::if_modified_since]; !ims.empty()) {
    if (auto t = parse_http_date(std::string(ims))) not_modified = feed.last_modified <= *t;
  }
  Response r{not_modified ? http::status::not_modified : http::status::ok, req.version()};
  r.set(http::field::server, "dutyd");
  if (!not_modified) r.set(http::field::content_type, "text/calendar; charset=utf-8");
  r.keep_alive(req.keep_alive());
  r.set(http::field::etag, feed.etag);
  r.set(http::field::last_modified, feed.last_modified_text);
  r.set(http::field::cache_control, "no-cache");
  if (not_modified) return r;
  if (req.method() == http::verb::head) {
    r.content_length(feed.body->size());
  } else {
    r.body() = feed.body;
    r.prepare_payload();
  }
  return r;
}

void FeedCache::reset(FileStamp stamp, Day today, std::int32_t utc_offset) {
  std::unique_lock lock(mutex_);
  feeds_.clear();
  stamp_ = stamp;
  today_ = today;
  utc_offset_ = utc_offset;
}

void FeedCache::publish(const std::string& token_hash, PublishedFeed feed) {
  std::unique_lock lock(mutex_);
  feeds_.insert_or_assign(token_hash, std::move(feed));
}

std::optional<Response> FeedCache::serve(const Request& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) return std::nullopt;
  std::string_view path(req.target().data(), req.target().size());
  path = path.substr(0, path.find('?'));
  constexpr std::string_view prefix = "/feeds/", suffix = ".ics";
  if (path.size() <= prefix.size() + suffix.size() || path.substr(0, prefix.size()) != prefix ||
      path.substr(path.size() - suffix.size()) != suffix)
    return std::nullopt;
  const std::string_view token =
      path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (!token_chars_ok(token)) return std::nullopt;
  const std::string hash = sha256_hex(token);
  // Checked before the lookup: a commit after this stat is caught by the next request.
  const FileStamp now_stamp = FileStamp::of(wal_path_);
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr)) + clock_offset_;
  PublishedFeed feed;
  {
    std::shared_lock lock(mutex_);
    if (stamp_.size < 0 || !(now_stamp == stamp_)) return std::nullopt;
    const std::int64_t local = now + utc_offset_;
    if (static_cast<Day>((local >= 0 ? local : local - 86399) / 86400) != today_)
      return std::nullopt;
    auto it = feeds_.find(hash);
    if (it == feeds_.end()) return std::nullopt;
    feed = it->second;
  }
  bool not_modified = false;
  Response r = feed_response(req, feed, not_modified);
  count(not_modified);
  return r;
}

}  // namespace dutyd
