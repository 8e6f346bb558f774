#include "notifiers/response.hpp"

#include <gtest/gtest.h>

#include "notifiers/rate_limiter.hpp"

namespace dutyd::notify {
namespace {

constexpr std::int64_t kNow = 1772499600;  // 2026-03-03 01:00:00 UTC

Verdict http(ChannelKind k, long status, std::string_view body, std::string_view retry_after = "") {
  return classify_http(k, status, body, retry_after, kNow);
}

TEST(Classify, WeComCodes) {
  using K = ChannelKind;
  EXPECT_EQ(http(K::wecom, 200, R"({"errcode":0,"errmsg":"ok"})").outcome, Outcome::ok);
  EXPECT_EQ(http(K::wecom, 200, R"({"errcode":-1,"errmsg":"system busy"})").outcome,
            Outcome::transient);
  const Verdict freq = http(K::wecom, 200, R"({"errcode":45009,"errmsg":"api freq out of limit"})");
  EXPECT_EQ(freq.outcome, Outcome::transient);
  EXPECT_EQ(freq.retry_after_seconds, 60);
  const Verdict bad = http(K::wecom, 200, R"({"errcode":93000,"errmsg":"invalid webhook url"})");
  EXPECT_EQ(bad.outcome, Outcome::permanent);  // HTTP 200 does not mean delivered
  EXPECT_EQ(bad.detail, "errcode 93000: invalid webhook url");
  EXPECT_EQ(http(K::wecom, 200, R"({"errcode":40058})").outcome, Outcome::permanent);
  EXPECT_EQ(http(K::wecom, 200, R"({"errcode":40008})").outcome, Outcome::permanent);
  EXPECT_EQ(http(K::wecom, 200, "<html>gateway</html>").outcome, Outcome::transient);
  EXPECT_EQ(http(K::wecom, 502, "").outcome, Outcome::transient);
}

TEST(Classify, DingTalkCodes) {
  using K = ChannelKind;
  EXPECT_EQ(http(K::dingtalk, 200, R"({"errcode":0,"errmsg":"ok"})").outcome, Outcome::ok);
  const Verdict fast = http(K::dingtalk, 200, R"({"errcode":130101,"errmsg":"send too fast"})");
  EXPECT_EQ(fast.outcome, Outcome::transient);
  EXPECT_EQ(fast.retry_after_seconds, 600);
  EXPECT_EQ(http(K::dingtalk, 200, R"({"errcode":310000,"errmsg":"sign not match"})").outcome,
            Outcome::permanent);
  EXPECT_EQ(http(K::dingtalk, 200, R"({"errcode":460101,"errmsg":"message too long"})").outcome,
            Outcome::permanent);
  EXPECT_EQ(http(K::dingtalk, 200, R"({"ok":true})").outcome, Outcome::transient);
}

TEST(Classify, FeishuCodes) {
  using K = ChannelKind;
  EXPECT_EQ(http(K::feishu, 200, R"({"code":0,"msg":"success","data":{}})").outcome, Outcome::ok);
  EXPECT_EQ(http(K::feishu, 200, R"({"StatusCode":0,"StatusMessage":"success"})").outcome,
            Outcome::ok);
  EXPECT_EQ(http(K::feishu, 200, R"({"code":11232,"msg":"frequency limited"})").outcome,
            Outcome::transient);
  EXPECT_EQ(http(K::feishu, 400, R"({"code":9499,"msg":"too many request"})").outcome,
            Outcome::transient);
  EXPECT_EQ(http(K::feishu, 400, R"({"code":9499,"msg":"Bad Request"})").outcome,
            Outcome::permanent);
  for (
      const char* b :
      {R"({"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"})",
       R"({"code":19022,"msg":"Ip Not Allowed"})", R"({"code":19024,"msg":"Key Words Not Found"})"})
    EXPECT_EQ(http(K::feishu, 200, b).outcome, Outcome::permanent) << b;
}

TEST(Classify, WebhookStatusAndRetryAfter) {
  using K = ChannelKind;
  EXPECT_EQ(http(K::webhook, 204, "").outcome, Outcome::ok);
  EXPECT_EQ(http(K::webhook, 404, "").outcome, Outcome::permanent);
  EXPECT_EQ(http(K::webhook, 503, "").outcome, Outcome::transient);
  EXPECT_EQ(http(K::webhook, 408, "").outcome, Outcome::transient);
  const Verdict v = http(K::webhook, 429, "", "120");
  EXPECT_EQ(v.outcome, Outcome::transient);
  EXPECT_EQ(v.retry_after_seconds, 120);
  // 429 from a robot too, with an HTTP-date 90 s ahead.
  EXPECT_EQ(http(K::wecom, 429, "", "Tue, 03 Mar 2026 01:01:30 GMT").retry_after_seconds, 90);
  EXPECT_EQ(http(K::webhook, 429, "", "soon").retry_after_seconds, std::nullopt);
}

TEST(Classify, RetryAfterParser) {
  EXPECT_EQ(parse_retry_after(" 5 ", kNow), 5);
  EXPECT_EQ(parse_retry_after("Tue, 03 Mar 2026 01:00:00 GMT", kNow), 0);
  EXPECT_EQ(parse_retry_after("Mon, 02 Mar 2026 01:00:00 GMT", kNow), 0);  // past: now
  EXPECT_EQ(parse_retry_after("Tue, 31 Feb 2026 01:00:00 GMT", kNow), std::nullopt);
  EXPECT_EQ(parse_retry_after("-5", kNow), std::nullopt);
  EXPECT_EQ(parse_retry_after("99999999999999", kNow), std::nullopt);
}

TEST(Classify, SmtpAndTransport) {
  EXPECT_EQ(classify_smtp(250, "OK").outcome, Outcome::ok);
  EXPECT_EQ(classify_smtp(451, "try later").outcome, Outcome::transient);
  EXPECT_EQ(classify_smtp(550, "no such user").outcome, Outcome::permanent);
  EXPECT_EQ(classify_smtp(550, "no such user").detail, "SMTP 550: no such user");
  EXPECT_EQ(transport_failure("connect refused").outcome, Outcome::transient);
  EXPECT_EQ(parse_channel_kind("feishu"), ChannelKind::feishu);
  EXPECT_THROW(parse_channel_kind("lark"), std::invalid_argument);
}

TEST(Backoff, GrowsCapsAndJitters) {
  EXPECT_EQ(backoff_ms(1, 0), 500);
  EXPECT_EQ(backoff_ms(2, 0), 750);
  EXPECT_EQ(backoff_ms(3, 0), 1125);
  EXPECT_EQ(backoff_ms(40, 0), 60000);
  EXPECT_EQ(backoff_ms(1, -1), 250);
  EXPECT_EQ(backoff_ms(1, 1), 750);
  EXPECT_EQ(backoff_ms(40, 1), 90000);
}

// ---- rate limits ---------------------------------------------------------------------------

TEST(RateLimit, WeComTwentyPerMinuteSliding) {
  SlidingWindowLimiter l(robot_limits(ChannelKind::wecom));
  const std::int64_t t0 = 1'000'000;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(l.try_acquire(t0 + i * 1000)) << i;
  EXPECT_FALSE(l.try_acquire(t0 + 20'000));
  // The first send leaves the window 60 s after it was made.
  EXPECT_EQ(l.next_slot(t0 + 20'000), t0 + 60'000);
  EXPECT_FALSE(l.try_acquire(t0 + 59'999));
  EXPECT_TRUE(l.try_acquire(t0 + 60'000));
  EXPECT_EQ(l.next_slot(t0 + 60'000), t0 + 61'000);
}

TEST(RateLimit, FeishuFivePerSecondAndHundredPerMinute) {
  SlidingWindowLimiter l(robot_limits(ChannelKind::feishu));
  std::int64_t now = 0;
  std::vector<std::int64_t> sent;
  // Greedy sender: 130 messages, each as early as the limiter allows.
  for (int i = 0; i < 130; ++i) {
    now = l.next_slot(now);
    ASSERT_TRUE(l.try_acquire(now));
    sent.push_back(now);
  }
  // No window of 1 s ever holds more than 5, nor any window of 60 s more than 100.
  for (std::size_t i = 0; i < sent.size(); ++i) {
    std::size_t in_second = 0, in_minute = 0;
    for (std::size_t k = 0; k <= i; ++k) {
      in_second += sent[k] > sent[i] - 1000;
      in_minute += sent[k] > sent[i] - 60000;
    }
    ASSERT_LE(in_second, 5u) << i;
    ASSERT_LE(in_minute, 100u) << i;
  }
  EXPECT_EQ(sent[5], 1000);     // the 6th waits a second
  EXPECT_EQ(sent[100], 60000);  // the 101st waits for the minute
}

TEST(RateLimit, DingTalkBlockAndPerRobotIndependence) {
  RobotRateLimits limits;
  auto& a = limits.of("dl-ding", ChannelKind::dingtalk);
  auto& b = limits.of("ln-ding", ChannelKind::dingtalk);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(a.try_acquire(i));
  EXPECT_FALSE(a.try_acquire(20));
  EXPECT_TRUE(b.try_acquire(20));  // another robot is not held back
  b.block_until(600'000);
  EXPECT_EQ(b.next_slot(30), 600'000);
  EXPECT_FALSE(b.try_acquire(599'999));
  EXPECT_TRUE(b.try_acquire(600'000));
  EXPECT_EQ(&limits.of("dl-ding", ChannelKind::dingtalk), &a);
  // The margin: the 21st send fits only 66 s after the first, not 60 s.
  EXPECT_EQ(a.next_slot(60'000), 66'000);
  SlidingWindowLimiter none(robot_limits(ChannelKind::email));
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(none.try_acquire(0));
}

}  // namespace
}  // namespace dutyd::notify
