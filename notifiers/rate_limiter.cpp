#include "notifiers/rate_limiter.hpp"

#include <algorithm>

namespace dutyd::notify {

std::vector<RateWindow> robot_limits(ChannelKind kind) {
  switch (kind) {
    case ChannelKind::wecom:
    case ChannelKind::dingtalk:
      return {{20, 60'000}};
    case ChannelKind::feishu:
      return {{100, 60'000}, {5, 1'000}};
    case ChannelKind::email:
    case ChannelKind::webhook:
      break;
  }
  return {};
}

SlidingWindowLimiter::SlidingWindowLimiter(std::vector<RateWindow> windows)
    : windows_(std::move(windows)) {
  for (const auto& w : windows_) longest_ = std::max(longest_, w.window_ms);
}

void SlidingWindowLimiter::prune(std::int64_t now_ms) {
  while (!sent_.empty() && sent_.front() <= now_ms - longest_) sent_.pop_front();
}

std::int64_t SlidingWindowLimiter::next_slot(std::int64_t now_ms) const {
  std::int64_t t = std::max(now_ms, blocked_until_);
  for (const auto& w : windows_) {
    if (w.max_count <= 0) continue;
    // Sends still inside this window at time t.
    const auto first_in = std::upper_bound(sent_.begin(), sent_.end(), t - w.window_ms);
    const auto in_window = static_cast<std::size_t>(sent_.end() - first_in);
    if (in_window < static_cast<std::size_t>(w.max_count)) continue;
    // The oldest send that must leave the window: then exactly max_count - 1 remain.
    const auto must_leave =
        first_in + static_cast<std::ptrdiff_t>(in_window - static_cast<std::size_t>(w.max_count));
    t = std::max(t, *must_leave + w.window_ms);
  }
  return t;
}

bool SlidingWindowLimiter::try_acquire(std::int64_t now_ms) {
  prune(now_ms);
  if (next_slot(now_ms) > now_ms) return false;
  // Keep the log sorted even if a caller's clock steps back.
  sent_.insert(std::upper_bound(sent_.begin(), sent_.end(), now_ms), now_ms);
  return true;
}

void SlidingWindowLimiter::block_until(std::int64_t until_ms) {
  blocked_until_ = std::max(blocked_until_, until_ms);
}

SlidingWindowLimiter& RobotRateLimits::of(const std::string& robot_id, ChannelKind kind) {
  auto it = limiters_.find(robot_id);
  if (it == limiters_.end()) {
    // The services count requests as they arrive, and arrivals are not spaced like the sends
    // (one request can take longer than the next): every window is kept 10 % wider than the
    // vendor's, so that a robot is never seen above its limit.
    std::vector<RateWindow> windows = robot_limits(kind);
    for (RateWindow& w : windows) w.window_ms += w.window_ms / 10;
    it = limiters_.emplace(robot_id, SlidingWindowLimiter(std::move(windows))).first;
  }
  return it->second;
}

}  // namespace dutyd::notify
