#include "config/diagnostics.hpp"

#include <algorithm>
#include <unordered_map>

namespace dutyd {

std::string format(const Diagnostic& d) {
  return d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " +
         (d.severity == Severity::error ? "error: " : "warning: ") + d.message;
}

void Diagnostics::add(Severity s, std::string file, std::uint32_t line, std::uint32_t column,
                      std::string message) {
  if (s == Severity::error) ++errors_;
  items_.push_back({s, std::move(file), line, column, std::move(message)});
}

void Diagnostics::sort(const std::vector<std::string>& file_order) {
  std::unordered_map<std::string, std::size_t> rank;
  for (std::size_t i = 0; i < file_order.size(); ++i) rank.emplace(file_order[i], i);
  auto key = [&](const Diagnostic& d) {
    auto it = rank.find(d.file);
    return std::tuple(it == rank.end() ? file_order.size() : it->second, d.line, d.column);
  };
  std::stable_sort(items_.begin(), items_.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) { return key(a) < key(b); });
}

}  // namespace dutyd
