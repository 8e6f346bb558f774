#include <toml++/toml.h>
#include <iostream>

#include "config/loader.hpp"
#include "daemon/cli.hpp"

#ifndef DUTYD_VERSION
#define DUTYD_VERSION "unknown"
#endif

namespace {

// `dutyd --version`: the program's version (CMake's project(VERSION)) and the revision of the
// catalogue this binary would load (its top-level `version`, config/catalogue/FORMAT.md), with
// the catalogue's path, so an administrator sees which reading of the regulation is installed.
// Exits 1 when the catalogue cannot be read.
int print_version(std::ostream& out, std::ostream& err) {
  out << "dutyd " << DUTYD_VERSION << "\n";
  const std::string path = dutyd::default_catalogue_path();
  try {
    const toml::table doc = toml::parse_file(path);
    const std::string version = doc["version"].value_or(std::string("(no version)"));
    out << "catalogue " << version << " (" << path << ")\n";
    return 0;
  } catch (const toml::parse_error& e) {
    err << "dutyd: cannot read the catalogue " << path << ": " << e.description()
        << " — reinstall dutyd, or point DUTYD_CATALOGUE at the catalogue file\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && (args[0] == "--version" || args[0] == "version"))
    return print_version(std::cout, std::cerr);
  try {
    return dutyd::run_cli(args, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "dutyd: " << e.what() << "\n";
    return 1;
  }
}
