// Internal to reminders/: what the scheduler's files (scheduler.cpp, planning.cpp, sending.cpp,
// outcomes.cpp) share, in namespace dutyd::scheduling.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "config/model.hpp"
#include "notifiers/ladder.hpp"
#include "notifiers/response.hpp"

namespace dutyd {

namespace scheduling {

using notify::Outcome;

inline constexpr const char* kPlannedUntil = "reminders.planned_until";
inline constexpr std::size_t kTransfersPerWorker =
    16;  // HTTP transfers a worker keeps going at once

inline std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline bool rate_limited(ChannelKind k) {
  return k == ChannelKind::wecom || k == ChannelKind::dingtalk || k == ChannelKind::feishu;
}

inline std::string relation_text(const std::string& name) {
  try {
    return std::string(relation_zh(parse_relation(name)));
  } catch (const std::invalid_argument&) {
    return name;
  }
}

// The alert row's note: what failed, for whom and what was done instead.
struct AlertNote {
  std::string channel, recipient, fallback, problem;
};

inline std::string pack(const AlertNote& n) {
  return n.channel + '\t' + n.recipient + '\t' + n.fallback + '\t' + n.problem;
}

inline AlertNote unpack(const std::string& s) {
  AlertNote n;
  std::string* fields[] = {&n.channel, &n.recipient, &n.fallback, &n.problem};
  std::size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    const auto tab = i < 3 ? s.find('\t', start) : std::string::npos;
    *fields[i] = s.substr(start, tab == std::string::npos ? std::string::npos : tab - start);
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return n;
}

}  // namespace scheduling
}  // namespace dutyd
