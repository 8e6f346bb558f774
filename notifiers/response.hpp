// What a channel's answer means: delivered, worth retrying (and when), or a permanent failure
// that needs an administrator. Chat robots report errors in the JSON body, often with HTTP 200,
// so the body code decides (shared/reference/chat-and-mail.md). Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dutyd::notify {

enum class ChannelKind : std::uint8_t { email, wecom, dingtalk, feishu, webhook };
ChannelKind parse_channel_kind(std::string_view text);  // throws std::invalid_argument
std::string_view channel_kind_name(ChannelKind k);

enum class Outcome : std::uint8_t { ok, transient, permanent };

struct Verdict {
  Outcome outcome = Outcome::ok;
  // For transient failures: the wait the receiver asked for or its documented block
  // (Retry-After, WeCom 45009: 60 s, DingTalk 130101: 10 min); nullopt: use backoff.
  std::optional<std::int64_t> retry_after_seconds;
  std::string
      detail;  // for logs and the delivery history, e.g. "errcode 93000: invalid webhook url"
};

// An HTTP answer of a chat robot or webhook. `retry_after` is the Retry-After header's value
// (empty when absent); `now_unix` resolves its HTTP-date form.
Verdict classify_http(ChannelKind kind, long status, std::string_view body,
                      std::string_view retry_after, std::int64_t now_unix);
// An SMTP reply code for one recipient: 2xx ok, 4xx transient, 5xx permanent.
Verdict classify_smtp(long reply_code, std::string_view detail);
// No answer at all (DNS, connect, TLS, timeout): always transient.
Verdict transport_failure(std::string_view detail);

// Retry-After as delta-seconds or an IMF-fixdate ("Wed, 21 Oct 2026 07:28:00 GMT");
// nullopt when malformed. Never negative.
std::optional<std::int64_t> parse_retry_after(std::string_view value, std::int64_t now_unix);

// Exponential backoff in milliseconds for the n-th retry (n >= 1): 500 ms x 1.5^(n-1), capped
// at 60 s, then spread by `jitter` in [-1, 1] as +-50 % (Alertmanager's practice).
std::int64_t backoff_ms(int attempt, double jitter);

}  // namespace dutyd::notify
