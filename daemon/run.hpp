// What `dutyd run` (daemon/daemon.hpp) is given, and where its database is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dutyd {

struct RunOptions {
  std::string config_path;
  std::string catalogue_path;
  std::string database;           // overrides [daemon] database
  std::string listen;             // overrides [daemon] listen
  std::int64_t clock_offset = 0;  // --now: seconds to add to the wall clock
};

// The database path for a configuration: the override, [daemon] database,
// $STATE_DIRECTORY/dutyd.db, else /var/lib/dutyd/dutyd.db.
std::string database_path(const std::string& configured, const std::string& override_path);

}  // namespace dutyd
