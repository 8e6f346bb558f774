#include "calendar/fold.hpp"

namespace dutyd {
namespace {

// Length of the UTF-8 sequence starting with byte b (1 for stray continuation bytes, so
// invalid input still makes progress).
std::size_t utf8_length(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) return 2;
  if ((b & 0xF0) == 0xE0) return 3;
  if ((b & 0xF8) == 0xF0) return 4;
  return 1;
}

void fold_line(std::string_view line, std::string& out) {
  constexpr std::size_t kMax = 75;
  std::size_t width = 0;  // octets on the current physical line
  std::size_t i = 0;
  while (i < line.size()) {
    const std::size_t n =
        std::min(utf8_length(static_cast<unsigned char>(line[i])), line.size() - i);
    if (width + n > kMax) {
      out += "\r\n ";
      width = 1;
    }
    out.append(line.data() + i, n);
    width += n;
    i += n;
  }
  out += "\r\n";
}

}  // namespace

std::string refold_ical(std::string_view text) {
  // Unfold: drop CRLF (or a lone LF) followed by one space or tab.
  std::string logical;
  logical.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 2 < text.size() && text[i + 1] == '\n' &&
        (text[i + 2] == ' ' || text[i + 2] == '\t')) {
      i += 2;
      continue;
    }
    if (text[i] == '\n' && i + 1 < text.size() && (text[i + 1] == ' ' || text[i + 1] == '\t')) {
      i += 1;
      continue;
    }
    logical += text[i];
  }
  std::string out;
  out.reserve(logical.size() + logical.size() / 20);
  std::size_t start = 0;
  while (start < logical.size()) {
    std::size_t end = logical.find('\n', start);
    if (end == std::string::npos) end = logical.size();
    std::string_view line(logical.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) fold_line(line, out);
    start = end + 1;
  }
  return out;
}

}  // namespace dutyd
