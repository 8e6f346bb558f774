// The only place that talks to libsystemd: readiness notifications, the watchdog interval and
// sockets passed by socket activation. Everything is a no-op outside systemd.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace dutyd::sd {

void notify(const std::string& state);  // e.g. "READY=1\nSTATUS=serving"
// Half of WatchdogSec when the watchdog is enabled for this process.
std::optional<std::chrono::microseconds> watchdog_ping_interval();
// The first listening socket passed by systemd, or -1.
int listen_fd();

}  // namespace dutyd::sd
