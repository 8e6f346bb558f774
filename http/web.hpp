// Small pure helpers of the HTTP surface: percent-decoding (base/text.hpp encodes), query and form
// parameters, HTML escaping, cookies, and the dashboard's access rule over the organisation tree.
// No I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "config/model.hpp"

namespace dutyd {

using Params = std::map<std::string, std::string>;

// Percent-decoding; `plus` turns '+' into a space (form bodies). nullopt when malformed.
std::optional<std::string> url_decode(std::string_view s, bool plus);
// `a=1&b=2` (a query string or an x-www-form-urlencoded body); nullopt when malformed. A name
// given twice keeps its last value.
std::optional<Params> parse_params(std::string_view q, bool plus);
// The parameters of a request target's query string (after '?'); nullopt when malformed.
std::optional<Params> target_params(std::string_view target);
// & < > " ' as entities: safe in element content and quoted attribute values.
std::string html_escape(std::string_view s);

// The value of cookie `name` in a Cookie header (`a=1; b=2`, RFC 6265 5.4), or nullopt. A
// quoted value loses its quotes.
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);
// A Set-Cookie value: a session cookie (no expiry) for `path`, HttpOnly, SameSite=Strict, and
// Secure when `secure`. An empty value with `clear` removes it (Max-Age=0).
std::string set_cookie(std::string_view name, std::string_view value, std::string_view path,
                       bool secure, bool clear = false);

// Whether `org` is `ancestor` or below it in the tree (Org::parent).
bool in_subtree(const Config& config, std::int32_t org, std::int32_t ancestor);

}  // namespace dutyd
