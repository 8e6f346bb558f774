#include "http/reply.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/text.hpp"

namespace dutyd {

std::string log_prefix(int priority) {
  return "<" + std::to_string(priority) + ">";
}

Response text(const Request& req, http::status st, std::string body) {
  return make_response(req, st, std::move(body), "text/plain; charset=utf-8");
}

Response json(const Request& req, http::status st, const Json& j) {
  return make_response(req, st,
                       j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                       "application/json");
}

Response json_error(const Request& req, http::status st, const std::string& message) {
  return json(req, st, Json{{"error", message}});
}

Response json_method_not_allowed(const Request& req, const char* method) {
  Response r = json_error(req, http::status::method_not_allowed, std::string("use ") + method);
  r.set(http::field::allow, method);
  return r;
}

std::optional<Params> query_params(const Request& req) {
  return target_params(std::string_view(req.target().data(), req.target().size()));
}

}  // namespace dutyd
