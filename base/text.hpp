// Text and its encodings, for every layer: UTF-8 checks, boundaries and truncation, cleaning
// text people typed, display width, Base64 and percent-encoding. Pure functions, no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dutyd {

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
// `text` is assumed valid UTF-8; stray continuation bytes are never left at the cut either.
std::size_t utf8_prefix_length(std::string_view text, std::size_t max_bytes);

// `text` unchanged when it fits in `max_bytes`; otherwise the longest prefix that, followed by
// `suffix` (e.g. "…\n全文：https://..."), fits, cut on a character boundary. When even the suffix
// alone does not fit, the suffix is dropped and the text is cut to `max_bytes`.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes, std::string_view suffix);

// Text typed by people (evidence, notes) before it is stored: nullopt when it is not valid
// UTF-8 (overlong forms and surrogates included); otherwise with control characters other than
// TAB and LF removed, since RFC 5545 TEXT admits none and a NUL would cut C strings short.
std::optional<std::string> clean_text(std::string_view in);

// Columns a string takes in a terminal: East Asian wide and fullwidth characters count two.
std::size_t display_width(std::string_view utf8);

// The strings of `parts` with `separator` between them.
std::string join(const std::vector<std::string>& parts, std::string_view separator);

// RFC 4648 Base64 with padding, on one line.
std::string base64(std::string_view bytes);
// The same, wrapped in lines of at most `line_length` characters joined by CRLF (MIME bodies).
std::string base64_lines(std::string_view bytes, std::size_t line_length = 76);

// RFC 3986 percent-encoding of everything except unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string percent_encode(std::string_view text);

}  // namespace dutyd
