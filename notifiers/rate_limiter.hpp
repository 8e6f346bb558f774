// Per-robot sliding-window rate limits (WeCom and DingTalk 20/minute, Feishu 100/minute and
// 5/second). Pure logic: the caller passes "now" in milliseconds and asks when the next send
// fits; nothing sleeps here.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "notifiers/response.hpp"

namespace dutyd::notify {

struct RateWindow {
  int max_count = 0;
  std::int64_t window_ms = 0;
};

// The vendors' limits for one robot; e-mail and generic webhooks have none.
std::vector<RateWindow> robot_limits(ChannelKind kind);

class SlidingWindowLimiter {
 public:
  explicit SlidingWindowLimiter(std::vector<RateWindow> windows);
  // The earliest time >= now at which one more send stays within every window: a send at T
  // counts the sends in (T - window, T].
  std::int64_t next_slot(std::int64_t now_ms) const;
  // Records a send at `now_ms` when it fits; false (nothing recorded) when it does not.
  bool try_acquire(std::int64_t now_ms);
  // Holds every send until `until_ms` (DingTalk blocks a robot for 10 minutes after 130101).
  void block_until(std::int64_t until_ms);

 private:
  void prune(std::int64_t now_ms);
  std::vector<RateWindow> windows_;
  std::int64_t longest_ = 0;
  std::int64_t blocked_until_ = 0;
  std::deque<std::int64_t> sent_;  // ascending send times within the longest window
};

// One limiter per robot (channel id), created on first use, with every window 10 % wider than
// the vendor's (a margin for the spacing of arrivals).
class RobotRateLimits {
 public:
  SlidingWindowLimiter& of(const std::string& robot_id, ChannelKind kind);

 private:
  std::map<std::string, SlidingWindowLimiter> limiters_;
};

}  // namespace dutyd::notify
