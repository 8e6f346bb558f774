#include "base/csv.hpp"

namespace dutyd {

namespace {

// A number as dutyd writes one ("-3", "74.5"), or the lone "-" of reports' "no figure".
bool plain_number(std::string_view s) {
  if (s == "-") return true;
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  const std::size_t digits_from = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == digits_from) return false;
  if (i < s.size() && s[i] == '.') {
    const std::size_t frac_from = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == frac_from) return false;
  }
  return i == s.size();
}

bool formula_lead(std::string_view s) {
  if (s.empty()) return false;
  switch (s.front()) {
    case '=':
    case '+':
    case '-':
    case '@':
    case '\t':
    case '\r':
      return !plain_number(s);
    default:
      return false;
  }
}

}  // namespace

std::string csv_cell(std::string_view s) {
  std::string v;
  v.reserve(s.size() + 3);
  if (formula_lead(s)) v += '\'';
  v += s;
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string q = "\"";
  for (char ch : v) {
    if (ch == '"') q += '"';
    q += ch;
  }
  return q + "\"";
}

void csv_row(std::ostream& out, const std::vector<std::string>& cells) {
  for (std::size_t i = 0; i < cells.size(); ++i) out << (i ? "," : "") << csv_cell(cells[i]);
  out << "\r\n";
}

}  // namespace dutyd
