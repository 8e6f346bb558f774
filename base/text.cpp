#include "base/text.hpp"

#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace dutyd {

namespace {
bool is_continuation(unsigned char c) {
  return (c & 0xC0u) == 0x80u;
}
}  // namespace

// On the path of every message sent (the webhook body is checked before it is written), so the
// common cases go fast: eight ASCII bytes at a time, and a three-byte character (CJK) checked
// in place; the rest by the general rule (shortest form, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    if (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, text.data() + i, 8);
      if ((w & 0x8080808080808080u) == 0) {
        i += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0u) == 0xC0u) {
      len = 2;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0u) == 0xE0u) {
      if (i + 3 > n) return false;
      const auto c1 = static_cast<unsigned char>(text[i + 1]),
                 c2 = static_cast<unsigned char>(text[i + 2]);
      if (!is_continuation(c1) || !is_continuation(c2)) return false;
      if ((c == 0xE0u && c1 < 0xA0u) || (c == 0xEDu && c1 >= 0xA0u))
        return false;  // overlong; surrogate
      i += 3;
      continue;
    } else if ((c & 0xF8u) == 0xF0u) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if (!is_continuation(cc)) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((len == 2 && cp < 0x80) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

std::size_t utf8_prefix_length(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text.size();
  std::size_t cut = max_bytes;
  // Back up over continuation bytes so the byte at `cut` starts a character.
  while (cut > 0 && is_continuation(static_cast<unsigned char>(text[cut]))) --cut;
  return cut;
}

std::string truncate_utf8(std::string_view text, std::size_t max_bytes, std::string_view suffix) {
  if (text.size() <= max_bytes) return std::string(text);
  if (suffix.size() > max_bytes) suffix = {};
  std::string out(text.substr(0, utf8_prefix_length(text, max_bytes - suffix.size())));
  out += suffix;
  return out;
}

std::string base64(std::string_view bytes) {
  if (bytes.empty()) return {};
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64_lines(std::string_view bytes, std::size_t line_length) {
  const std::string flat = base64(bytes);
  std::string out;
  out.reserve(flat.size() + flat.size() / line_length * 2 + 2);
  for (std::size_t i = 0; i < flat.size(); i += line_length) {
    if (i) out += "\r\n";
    out.append(flat, i, line_length);
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

std::optional<std::string> clean_text(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto b = static_cast<unsigned char>(in[i]);
    std::size_t n;
    std::uint32_t cp;
    if (b < 0x80)
      n = 1, cp = b;
    else if ((b & 0xE0) == 0xC0)
      n = 2, cp = b & 0x1Fu;
    else if ((b & 0xF0) == 0xE0)
      n = 3, cp = b & 0x0Fu;
    else if ((b & 0xF8) == 0xF0)
      n = 4, cp = b & 0x07u;
    else
      return std::nullopt;
    if (i + n > in.size()) return std::nullopt;
    for (std::size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(in[i + k]);
      if ((c & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    static const std::uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return std::nullopt;
    const bool control = (cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7F && cp <= 0x9F);
    if (!control) out.append(in.data() + i, n);
    i += n;
  }
  return out;
}

std::size_t display_width(std::string_view s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    char32_t cp = b;
    std::size_t n = 1;
    if (b >= 0xF0)
      n = 4, cp = b & 0x07;
    else if (b >= 0xE0)
      n = 3, cp = b & 0x0F;
    else if (b >= 0xC0)
      n = 2, cp = b & 0x1F;
    for (std::size_t k = 1; k < n && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
    w += wide ? 2 : 1;
  }
  return w;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& s : parts) out += (out.empty() ? "" : std::string(separator)) + s;
  return out;
}

}  // namespace dutyd
