// Helpers shared by the notifier tests: run the independent Python reference and read its output.
#pragma once

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace dutyd::notify::test {

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

struct PcloseDeleter {
  void operator()(FILE* f) const {
    if (f) ::pclose(f);
  }
};

// Runs independent.py with `args`; returns its stdout (empty on failure to start).
inline std::string run_reference(const std::vector<std::string>& args) {
  std::string cmd = shell_quote(DUTYD_PYTHON) + " " +
                    shell_quote(std::string(DUTYD_NOTIFIER_TEST_DIR) + "/independent.py");
  for (const auto& a : args) cmd += " " + shell_quote(a);
  std::unique_ptr<FILE, PcloseDeleter> p(::popen(cmd.c_str(), "r"));
  if (!p) return {};
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p.get())) out.append(buf.data(), n);
  return out;
}

inline std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    v.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return v;
}

}  // namespace dutyd::notify::test
