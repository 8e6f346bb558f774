// CSV as dutyd writes it everywhere (reports, exports, feed address lists): RFC 4180 fields and
// CRLF rows, and no cell a spreadsheet would run as a formula. Following OWASP's CSV-injection
// guidance, a cell beginning with '=', '+', '-', '@', a tab or a carriage return is prefixed with
// an apostrophe, which spreadsheets show as text; a cell that is a plain number ("-3", "74.5")
// is left as it is, and so is a lone "-" (no figure). Names come from configurations and officials'
// own evidence text, so every CSV cell goes through here.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace dutyd {

// One field: neutralised as above, then quoted when it holds a comma, a quote, CR or LF.
std::string csv_cell(std::string_view s);

// One row of fields, ending in CRLF.
void csv_row(std::ostream& out, const std::vector<std::string>& cells);

}  // namespace dutyd
