#include "daemon/run.hpp"

#include <cstdlib>

namespace dutyd {

std::string database_path(const std::string& configured, const std::string& override_path) {
  if (!override_path.empty()) return override_path;
  if (!configured.empty()) return configured;
  if (const char* dir = std::getenv("STATE_DIRECTORY"); dir && *dir) {
    std::string d = dir;
    if (const auto colon = d.find(':'); colon != std::string::npos) d = d.substr(0, colon);
    return d + "/dutyd.db";
  }
  return "/var/lib/dutyd/dutyd.db";
}

}  // namespace dutyd
