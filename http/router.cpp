// Which handler answers a request, and who is asking (the bearer token of the API).
#include "http/reply.hpp"
#include "http/service.hpp"

namespace dutyd {

std::optional<TokenRecord> Service::bearer(const Request& req) {
  const auto h = req[http::field::authorization];
  const std::string_view v(h.data(), h.size());
  if (v.size() < 8 || v.substr(0, 7) != "Bearer ") return std::nullopt;
  const std::string token(v.substr(7));
  if (!token_chars_ok(token)) return std::nullopt;
  auto rec = find_token(token);
  if (!rec || rec->revoked_at || rec->kind != "api") return std::nullopt;
  return rec;
}

Response Service::handle(const Request& req) {
  refresh();
  const std::string target(req.target());
  const auto q = target.find('?');
  const std::string path = target.substr(0, q);
  Response res;
  if (path == "/healthz") {
    res = text(req, http::status::ok, "ok\n");
  } else if (path == "/dashboard" || path.rfind("/dashboard/", 0) == 0) {
    res = dashboard(req, path);
  } else if (path == "/metrics") {
    res = metrics(req);
  } else if (path.rfind("/feeds/", 0) == 0) {
    const std::string name = path.substr(7);
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".ics") != 0)
      res = text(req, http::status::not_found, "没有这个日历订阅地址\n");
    else
      res = feed(req, name.substr(0, name.size() - 4));
  } else if (path == "/complete") {
    res = completion_page(req);
  } else if (path == "/api/v1/completions") {
    res = api_completions(req);
  } else if (path == "/api/v1/occurrences") {
    res = api_occurrences(req);
  } else if (path == "/api/v1/deliveries") {
    res = api_deliveries(req);
  } else if (path == "/api/v1/flags") {
    res = api_flags(req);
  } else if (path == "/api/v1/reports") {
    res = api_reports(req);
  } else if (path.rfind("/api/v1/flags/", 0) == 0) {
    res = api_flag_step(req, path.substr(14));
  } else if (path == "/api/v1/events") {
    res = req.method() == http::verb::post ? api_event_add(req) : api_events(req);
  } else if (path.rfind("/api/v1/events/", 0) == 0) {
    res = api_event_withdraw(req, path.substr(15));
  } else {
    res = text(req, http::status::not_found, "未找到\n");
  }
  return res;
}

// The administrators' token, or the answer refusing the request.
std::variant<TokenRecord, Response> Service::admin(const Request& req) {
  const auto token = bearer(req);
  if (!token)
    return json_error(req, http::status::unauthorized,
                      "an administrator API token is required (Authorization: Bearer ...)");
  if (token->subject_kind != "admin")
    return json_error(req, http::status::forbidden, "administrators only");
  return *token;
}

}  // namespace dutyd
