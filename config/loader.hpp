// Reads a dutyd configuration (main file plus includes) and the obligation catalogue with
// toml++, validates everything, and returns the model together with every diagnostic found.
// Never throws for bad input: malformed TOML, wrong types and dangling references all become
// diagnostics with FILE:LINE:COL.
#pragma once

#include <memory>
#include <string>

#include "config/diagnostics.hpp"
#include "config/model.hpp"

namespace dutyd {

struct LoadOptions {
  std::string catalogue_path;  // empty: default_catalogue_path()
};

struct LoadResult {
  std::shared_ptr<Config> config;  // always set; complete only when diagnostics has no errors
  Diagnostics diagnostics;
  std::size_t files_parsed = 0, files_reused = 0;  // reused: unchanged since the cached load
  bool ok() const { return diagnostics.error_count() == 0; }
};

class LoadCache;
// Files are read in parallel (up to four threads, one TOML document each at a time). With a
// cache, a file whose bytes are the same as at the previous load with that cache is not
// parsed again: its records are taken from the cache.
LoadResult load_config(const std::string& path, const LoadOptions& options = {},
                       LoadCache* cache = nullptr);

namespace detail {
struct FilePart;
}

// What each file of the previous load said, for the daemon's reloads: a province split into
// one file per county reloads in the time it takes to parse the file that changed. Holds a
// copy of the records (not the TOML documents). One load at a time per cache.
class LoadCache {
 public:
  LoadCache();
  ~LoadCache();
  LoadCache(const LoadCache&) = delete;
  LoadCache& operator=(const LoadCache&) = delete;
  struct Impl;

 private:
  friend LoadResult load_config(const std::string&, const LoadOptions&, LoadCache*);
  std::unique_ptr<Impl> impl_;
};
// Only the catalogue (for `dutyd catalogue`).
LoadResult load_catalogue(const std::string& path);
// $DUTYD_CATALOGUE, else the installed catalogue, else the source tree's copy.
std::string default_catalogue_path();

}  // namespace dutyd
