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
  bool ok() const { return diagnostics.error_count() == 0; }
};

LoadResult load_config(const std::string& path, const LoadOptions& options = {});
// Only the catalogue (for `dutyd catalogue`).
LoadResult load_catalogue(const std::string& path);
// $DUTYD_CATALOGUE, else the installed catalogue, else the source tree's copy.
std::string default_catalogue_path();

}  // namespace dutyd
