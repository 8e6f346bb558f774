#include "daemon/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

namespace dutyd::sd {

void notify(const std::string& state) {
  sd_notify(0, state.c_str());
}

std::optional<std::chrono::microseconds> watchdog_ping_interval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

int listen_fd() {
  const int n = sd_listen_fds(1);  // 1: unset LISTEN_* so children do not inherit them
  if (n < 1) return -1;
  return SD_LISTEN_FDS_START;
}

}  // namespace dutyd::sd
