#include <iostream>

#include "daemon/cli.hpp"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return dutyd::run_cli(args, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "dutyd: " << e.what() << "\n";
    return 1;
  }
}
