// What the handlers of http/ answer with: plain text, JSON and HTML pages, the API's errors, and
// the small parsers of request parts they share. Internal to http/.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/net.hpp"
#include "http/server.hpp"
#include "http/web.hpp"

namespace dutyd {

using Json = nlohmann::ordered_json;

// "<6>": a journald priority prefix for a line on standard error.
std::string log_prefix(int priority);

Response text(const Request& req, http::status st, std::string body);
Response json(const Request& req, http::status st, const Json& j);
// {"error": message}
Response json_error(const Request& req, http::status st, const std::string& message);
// 405 from an API endpoint that answers only `method`.
Response json_method_not_allowed(const Request& req, const char* method);
// The parameters of the request target's query string; nullopt when it is malformed.
std::optional<Params> query_params(const Request& req);

}  // namespace dutyd
