#include "notifiers/response.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "base/date.hpp"

namespace dutyd::notify {

namespace {

const std::array<std::pair<std::string_view, ChannelKind>, 5> kKinds{{
    {"email", ChannelKind::email},
    {"wecom", ChannelKind::wecom},
    {"dingtalk", ChannelKind::dingtalk},
    {"feishu", ChannelKind::feishu},
    {"webhook", ChannelKind::webhook},
}};

Verdict ok(std::string detail = "delivered") {
  return {Outcome::ok, std::nullopt, std::move(detail)};
}
Verdict transient(std::string detail, std::optional<std::int64_t> after = std::nullopt) {
  return {Outcome::transient, after, std::move(detail)};
}
Verdict permanent(std::string detail) {
  return {Outcome::permanent, std::nullopt, std::move(detail)};
}

std::string code_detail(std::string_view field, long long code, const nlohmann::json& j,
                        std::string_view msg_field) {
  std::string d = std::string(field) + " " + std::to_string(code);
  if (auto it = j.find(msg_field); it != j.end() && it->is_string())
    d += ": " + it->get<std::string>();
  return d;
}

std::optional<long long> int_field(const nlohmann::json& j, std::string_view name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<long long>();
}

Verdict classify_wecom(long long code, const std::string& d) {
  switch (code) {
    case 0:
      return ok();
    case -1:
      return transient(d + " (system busy)");
    case 45009:
      return transient(d + " (frequency limit)", 60);
    default:
      return permanent(d);  // 93000 bad webhook, 40008 bad body, 40058 too long, ...
  }
}

Verdict classify_dingtalk(long long code, const std::string& d) {
  switch (code) {
    case 0:
      return ok();
    case 130101:
      return transient(d + " (sending too fast: robot blocked 10 minutes)", 600);
    default:
      return permanent(d);  // 310000 keyword/sign/timestamp, 460101 too long, ...
  }
}

Verdict classify_feishu(long long code, const std::string& d, const nlohmann::json& j) {
  if (code == 0) return ok();
  if (code == 11232) return transient(d + " (throttled)");
  if (code == 9499) {
    // 9499 is both "bad request" and "too many request" (observed); only the latter retries.
    std::string msg = j.value("msg", "");
    std::transform(msg.begin(), msg.end(), msg.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (msg.find("too many") != std::string::npos) return transient(d + " (rate limited)");
  }
  return permanent(d);  // 19021 sign/timestamp, 19022 IP, 19024 keyword, ...
}

}  // namespace

ChannelKind parse_channel_kind(std::string_view text) {
  for (const auto& [n, k] : kKinds)
    if (n == text) return k;
  throw std::invalid_argument("channel kind \"" + std::string(text) +
                              "\" is unknown — use email, wecom, dingtalk, feishu or webhook");
}

std::string_view channel_kind_name(ChannelKind k) {
  for (const auto& [n, kind] : kKinds)
    if (kind == k) return n;
  return "?";
}

std::optional<std::int64_t> parse_retry_after(std::string_view v, std::int64_t now_unix) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r'))
    v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) return std::nullopt;
    return std::stoll(std::string(v));
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  static constexpr std::array<std::string_view, 12> kMonths{
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (v.size() != 29 || v.substr(3, 2) != ", " || v.substr(25) != " GMT") return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) -> int {
    int x = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (v[i] < '0' || v[i] > '9') return -1;
      x = x * 10 + (v[i] - '0');
    }
    return x;
  };
  const int day = num(5, 2), year = num(12, 4), hh = num(17, 2), mm = num(20, 2), ss = num(23, 2);
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i)
    if (v.substr(8, 3) == kMonths[i]) month = i + 1;
  if (day < 0 || year < 0 || hh < 0 || mm < 0 || ss < 0 || month == 0 || v[16] != ' ' ||
      v[19] != ':' || v[22] != ':' || hh > 23 || mm > 59 || ss > 60 ||
      !is_valid_date(year, month, static_cast<unsigned>(day)))
    return std::nullopt;
  const std::int64_t at =
      static_cast<std::int64_t>(make_day(year, month, static_cast<unsigned>(day))) * 86400 +
      hh * 3600 + mm * 60 + ss;
  return std::max<std::int64_t>(0, at - now_unix);
}

Verdict classify_http(ChannelKind kind, long status, std::string_view body,
                      std::string_view retry_after, std::int64_t now_unix) {
  const std::string http = "HTTP " + std::to_string(status);
  if (status == 429)
    return transient(http + " (too many requests)", parse_retry_after(retry_after, now_unix));
  if (status >= 500 || status == 408) return transient(http);
  if (kind == ChannelKind::webhook || kind == ChannelKind::email) {
    if (status >= 200 && status < 300) return ok(http);
    return permanent(http);
  }
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) {
    // A robot always answers JSON; anything else (a proxy's page, a cut body) may pass.
    if (status >= 200 && status < 300) return transient(http + " with a body that is not JSON");
    return permanent(http + " with a body that is not JSON");
  }
  if (kind == ChannelKind::feishu) {
    auto code = int_field(j, "code");
    if (!code) code = int_field(j, "StatusCode");  // older v2 hook answers
    if (!code) return transient(http + " without a code in the body");
    return classify_feishu(*code, code_detail("code", *code, j, "msg"), j);
  }
  const auto code = int_field(j, "errcode");
  if (!code) return transient(http + " without errcode in the body");
  const std::string d = code_detail("errcode", *code, j, "errmsg");
  return kind == ChannelKind::wecom ? classify_wecom(*code, d) : classify_dingtalk(*code, d);
}

Verdict classify_smtp(long reply_code, std::string_view detail) {
  const std::string d =
      "SMTP " + std::to_string(reply_code) + (detail.empty() ? "" : ": " + std::string(detail));
  if (reply_code >= 200 && reply_code < 300) return ok(d);
  if (reply_code >= 400 && reply_code < 500) return transient(d);
  return permanent(d);
}

Verdict transport_failure(std::string_view detail) {
  return transient(std::string(detail));
}

std::int64_t backoff_ms(int attempt, double jitter) {
  if (attempt < 1) attempt = 1;
  const double base = std::min(60000.0, 500.0 * std::pow(1.5, attempt - 1));
  jitter = std::clamp(jitter, -1.0, 1.0);
  return static_cast<std::int64_t>(std::llround(base * (1.0 + 0.5 * jitter)));
}

}  // namespace dutyd::notify
