// Byte-level helpers every channel needs: UTF-8 boundaries and truncation, Base64, percent
// encoding and HMAC-SHA256 (OpenSSL libcrypto). Pure functions, no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dutyd::notify {

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
// `text` is assumed valid UTF-8; stray continuation bytes are never left at the cut either.
std::size_t utf8_prefix_length(std::string_view text, std::size_t max_bytes);

// `text` unchanged when it fits in `max_bytes`; otherwise the longest prefix that, followed by
// `suffix` (e.g. "…\n全文：https://..."), fits, cut on a character boundary. When even the suffix
// alone does not fit, the suffix is dropped and the text is cut to `max_bytes`.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes, std::string_view suffix);

// RFC 4648 Base64 with padding, on one line.
std::string base64(std::string_view bytes);
// The same, wrapped in lines of at most `line_length` characters joined by CRLF (MIME bodies).
std::string base64_lines(std::string_view bytes, std::size_t line_length = 76);

// RFC 3986 percent-encoding of everything except unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string percent_encode(std::string_view text);

// Raw 32-byte HMAC-SHA256 of `message` under `key`.
std::string hmac_sha256(std::string_view key, std::string_view message);

}  // namespace dutyd::notify
