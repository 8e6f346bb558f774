// Errors and warnings about configuration files, printed as FILE:LINE:COL: error: what — what to
// do.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dutyd {

enum class Severity : std::uint8_t { error, warning };

struct Diagnostic {
  Severity severity = Severity::error;
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string message;
};

std::string format(const Diagnostic& d);

class Diagnostics {
 public:
  void add(Severity s, std::string file, std::uint32_t line, std::uint32_t column,
           std::string message);
  const std::vector<Diagnostic>& items() const { return items_; }
  std::size_t error_count() const { return errors_; }
  std::size_t warning_count() const { return items_.size() - errors_; }
  // Sorted by file order of first appearance, then line, column.
  void sort(const std::vector<std::string>& file_order);

 private:
  std::vector<Diagnostic> items_;
  std::size_t errors_ = 0;
};

}  // namespace dutyd
