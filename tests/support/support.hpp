// Shared helpers for the tests: paths into the source tree and throwaway config files.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/loader.hpp"

namespace dutyd::test {

inline std::filesystem::path source_dir() {
  return DUTYD_SOURCE_DIR;
}
inline std::string catalogue() {
  return (source_dir() / "config/catalogue/obligations.toml").string();
}
inline std::string example() {
  return (source_dir() / "config/examples/province.toml").string();
}

// Writes `text` to a fresh file under the test's temporary folder and returns its path.
inline std::string write_temp(const std::string& name, const std::string& text) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("dutyd-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

// A path under the test's temporary folder with no file at it: for a new database.
inline std::string fresh_db(const std::string& name) {
  const std::string path = write_temp(name, "");
  std::filesystem::remove(path);
  return path;
}

// The bytes of a file (empty when it cannot be read).
inline std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Loads a config written inline; fails the test with every diagnostic when it has errors.
inline LoadResult load_inline(const std::string& name, const std::string& text) {
  LoadResult r = load_config(write_temp(name, text), {catalogue()});
  for (const auto& d : r.diagnostics.items())
    if (d.severity == Severity::error) ADD_FAILURE() << format(d);
  return r;
}

}  // namespace dutyd::test
