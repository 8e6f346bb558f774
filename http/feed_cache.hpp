// Feeds already rendered, readable from any thread, so that the HTTP server's I/O threads
// answer feed requests (200 and 304) without the event loop. The event loop renders a feed
// and publishes it here; it clears everything whenever what a feed shows may have changed
// (a new configuration, a completion, a token issued or revoked — anything written to the
// database, by the daemon or by the CLI — or a new day). An I/O thread serves an entry only
// while the database's write-ahead log is exactly as it was when the entries were published
// and the day is the same; otherwise it hands the request to the event loop, which catches up
// (reads what changed) and publishes again.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "base/date.hpp"
#include "base/net.hpp"

namespace dutyd {

struct PublishedFeed {
  std::shared_ptr<const std::string> body;
  std::string etag;                // strong, quoted
  std::string last_modified_text;  // HTTP date
  std::int64_t last_modified = 0;  // unix seconds
};

// The size and modification time of a file (the WAL): any commit changes one of them.
struct FileStamp {
  std::int64_t size = -1, mtime_ns = -1;
  bool operator==(const FileStamp&) const = default;
  static FileStamp of(const std::string& path);  // size -1 when the file is missing
};

// The 200 or 304 answer to `req` for `feed`; sets `not_modified` accordingly.
Response feed_response(const Request& req, const PublishedFeed& feed, bool& not_modified);
std::string http_date(std::int64_t unix_seconds);
std::optional<std::int64_t> parse_http_date(const std::string& s);
// Feed tokens are lowercase base32 (and '_'): anything else is not looked up at all.
bool token_chars_ok(std::string_view token);

class FeedCache {
 public:
  // `wal_path`: the database's -wal file; `clock_offset`: as in Clock (--now).
  FeedCache(std::string wal_path, std::int64_t clock_offset)
      : wal_path_(std::move(wal_path)), clock_offset_(clock_offset) {}

  // Event loop: forget every entry; what is published next is valid while the WAL keeps
  // `stamp` and the local day (at `utc_offset`) is `today`.
  void reset(FileStamp stamp, Day today, std::int32_t utc_offset);
  // Event loop: publish the feed of a token (by the SHA-256 of its secret).
  void publish(const std::string& token_hash, PublishedFeed feed);

  // Any thread: the answer to a feed request, or nullopt when the event loop must handle it.
  std::optional<Response> serve(const Request& req);

  std::uint64_t served() const { return served_; }
  std::uint64_t not_modified() const { return not_modified_; }
  void count(bool not_modified) { ++(not_modified ? not_modified_ : served_); }

 private:
  const std::string wal_path_;
  const std::int64_t clock_offset_;
  mutable std::shared_mutex mutex_;
  FileStamp stamp_;  // size -1: nothing valid
  Day today_ = 0;
  std::int32_t utc_offset_ = 0;
  std::unordered_map<std::string, PublishedFeed> feeds_;
  std::atomic<std::uint64_t> served_{0}, not_modified_{0};
};

}  // namespace dutyd
