#include "notifiers/messages.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "base/date.hpp"
#include "base/text.hpp"
#include "test_util.hpp"

namespace dutyd::notify {
namespace {

using nlohmann::json;
using test::lines_of;
using test::run_reference;

// A long Chinese text with 1-, 2-, 3- and 4-byte characters (𠀀 and 𡃁 are 4 bytes).
std::string long_text(std::size_t repeat) {
  std::string s;
  for (std::size_t i = 0; i < repeat; ++i)
    s += "第六条第（十六）项：每年1月31日前向上级党委报告履行全面从严治党主体责任情况 é 𠀀𡃁。\n";
  return s;
}

std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0u) != 0x80u;
  return n;
}

// ---- truncation ----------------------------------------------------------------------------

TEST(Truncate, NeverSplitsACharacterNorExceedsTheLimit) {
  const std::string alphabet[] = {"a", "é", "中", "𠀀", "\n", "\""};
  std::mt19937 rng(7);
  const std::string suffix = truncation_suffix("https://duty.example.gov.cn/c/1");
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 80);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % 6];
    const std::size_t limit = rng() % 120;
    const std::string out = truncate_utf8(text, limit, suffix);
    ASSERT_LE(out.size(), limit) << text << " / " << limit;
    ASSERT_TRUE(is_valid_utf8(out)) << text << " / " << limit;
    if (text.size() <= limit) {
      ASSERT_EQ(out, text);
    } else if (suffix.size() <= limit) {
      ASSERT_TRUE(out.ends_with(suffix));
      const std::string kept = out.substr(0, out.size() - suffix.size());
      ASSERT_TRUE(text.starts_with(kept));
      // As long as possible: the next character would not have fitted.
      std::size_t next_end = kept.size() + 1;
      while (next_end < text.size() &&
             (static_cast<unsigned char>(text[next_end]) & 0xC0u) == 0x80u)
        ++next_end;
      ASSERT_GT(next_end + suffix.size(), limit);
    }
  }
}

TEST(Truncate, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("中文 𠀀 é"));
  EXPECT_FALSE(is_valid_utf8("\xE4\xB8"));      // cut 3-byte character
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));  // surrogate
  EXPECT_EQ(utf8_prefix_length("中文", 5), 3u);
  EXPECT_EQ(utf8_prefix_length("中文", 2), 0u);
}

// Well-formed by the table of the Unicode standard (3.9, table 3-7), byte ranges per lead byte:
// an independent statement of what is_valid_utf8 decides by decoding.
bool well_formed(const std::string& s) {
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = [&](std::size_t k) {
      return static_cast<unsigned char>(i + k < s.size() ? s[i + k] : 0);
    };
    const unsigned char c = b(0);
    std::size_t len = 0;
    if (c <= 0x7F)
      len = 1;
    else if (in(c, 0xC2, 0xDF))
      len = in(b(1), 0x80, 0xBF) ? 2 : 0;
    else if (c == 0xE0)
      len = in(b(1), 0xA0, 0xBF) && in(b(2), 0x80, 0xBF) ? 3 : 0;
    else if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF))
      len = in(b(1), 0x80, 0xBF) && in(b(2), 0x80, 0xBF) ? 3 : 0;
    else if (c == 0xED)
      len = in(b(1), 0x80, 0x9F) && in(b(2), 0x80, 0xBF) ? 3 : 0;
    else if (c == 0xF0)
      len = in(b(1), 0x90, 0xBF) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
    else if (in(c, 0xF1, 0xF3))
      len = in(b(1), 0x80, 0xBF) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
    else if (c == 0xF4)
      len = in(b(1), 0x80, 0x8F) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    i += len;
  }
  return true;
}

// The validator reads eight ASCII bytes at a time and CJK characters in place: random strings of
// boundary bytes, at every offset from those fast paths, decide as the standard's table does.
TEST(Truncate, Utf8ValidationAgreesWithTheStandardsTable) {
  const std::vector<std::string> pieces = {"a",        "abcdefgh",
                                           "中",       "é",
                                           "𠀀",       "\x80",
                                           "\xBF",     "\xC0",
                                           "\xC1",     "\xC2",
                                           "\xDF",     "\xE0",
                                           "\xE0\x9F", "\xE0\xA0",
                                           "\xED",     "\xED\x9F",
                                           "\xED\xA0", "\xEF\xBF",
                                           "\xF0",     "\xF0\x8F",
                                           "\xF0\x90", "\xF4\x8F",
                                           "\xF4\x90", "\xF5",
                                           "\xFF",     std::string(1, '\0')};
  std::mt19937 rng(20261129);
  std::size_t valid = 0, invalid = 0;
  for (int round = 0; round < 200000; ++round) {
    std::string s;
    const int n = static_cast<int>(rng() % 9);
    for (int k = 0; k < n; ++k) s += pieces[rng() % pieces.size()];
    const bool want = well_formed(s);
    ASSERT_EQ(is_valid_utf8(s), want) << testing::PrintToString(s);
    (want ? valid : invalid)++;
  }
  EXPECT_GT(valid, 10000u);  // both answers were exercised
  EXPECT_GT(invalid, 10000u);
}

// ---- e-mail --------------------------------------------------------------------------------

// 2026-03-03 09:00 in Beijing.
const std::int64_t kMarch3At9Beijing =
    static_cast<std::int64_t>(make_day(2026, 3, 3)) * 86400 + 3600;

json decode_with_python(const std::string& mime) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("dutyd-mail-" + std::to_string(::getpid()) + ".eml");
  {
    std::ofstream out(path, std::ios::binary);
    out << mime;
  }
  const std::string out = run_reference({"email", path.string()});
  std::filesystem::remove(path);
  return json::parse(out, nullptr, false);
}

EmailMessage sample_email(std::string subject, std::string from_name, std::string to_name) {
  EmailMessage m;
  m.from = {std::move(from_name), "dutyd@example.gov.cn"};
  m.to = {std::move(to_name), "wang@example.gov.cn"};
  m.subject = std::move(subject);
  m.body = "王某同志：\n\n" + long_text(3) + "完成后请点击：https://duty.example.gov.cn/c/1\n";
  m.date_unix = kMarch3At9Beijing;
  m.message_id = make_message_id("a6.16.report-jan/ln/2027@dutyd step 2", "duty.example.gov.cn");
  return m;
}

TEST(Email, PythonDecodesSubjectNamesAndBody) {
  const std::string subject =
      "【提醒】第六条第（十六）项：向上级党委报告履行全面从严治党主体责任情况（2027年度），还有7天"
      "到期 𠀀";
  const std::string from_name = "辽宁省委全面从严治党主体责任提醒系统";
  const std::string to_name = "王某𡃁";
  EmailMessage m = sample_email(subject, from_name, to_name);
  const std::string mime = build_email(m);
  const json d = decode_with_python(mime);
  ASSERT_TRUE(d.is_object()) << "python could not decode:\n" << mime;
  EXPECT_EQ(d["subject"], subject);
  // 18 characters need two encoded words; read as RFC 2047 says (Python's address parser would
  // show a space at the word break, see build_email).
  EXPECT_EQ(d["from_rfc2047"], from_name + " <dutyd@example.gov.cn>");
  EXPECT_EQ(d["from_addr"], "dutyd@example.gov.cn");
  EXPECT_EQ(d["to_name"], to_name);
  EXPECT_EQ(d["to_addr"], "wang@example.gov.cn");
  EXPECT_EQ(d["body"], m.body);
  EXPECT_EQ(d["content_type"], "text/plain");
  EXPECT_EQ(d["charset"], "utf-8");
  EXPECT_EQ(d["cte"], "base64");
  EXPECT_EQ(d["message_id"], "<a6.16.report-jan.ln.2027.dutyd.step.2@duty.example.gov.cn>");
  EXPECT_EQ(d["date_utc"], "2026-03-03T01:00:00+00:00");
  EXPECT_TRUE(d["words_ok"]) << "an encoded word is > 75 characters or splits a character:\n"
                             << mime;
  EXPECT_GE(d["encoded_words"].get<int>(), 4);  // a subject this long needs several words
  EXPECT_LE(d["max_header_line"].get<int>(), 76) << mime;
  EXPECT_LE(d["max_line"].get<int>(), 78);
  EXPECT_FALSE(d["bare_lf"]);
  EXPECT_TRUE(d["defects"].empty()) << d["defects"].dump();
}

TEST(Email, AsciiAndEveryLengthOfChineseRoundTrip) {
  // Names and subjects of every length from 1 to 40 characters cross every word boundary.
  const std::string pieces[] = {"中", "a", "𠀀", "é"};
  for (std::size_t n = 1; n <= 40; n += 3) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += pieces[i % 4];
    EmailMessage m = sample_email("主题" + s, s, "Wang \"Lao\" Wu");
    const json d = decode_with_python(build_email(m));
    ASSERT_TRUE(d.is_object());
    EXPECT_EQ(d["subject"], "主题" + s);
    if (s.size() <= 45) {
      EXPECT_EQ(d["from_name"], s);  // one encoded word: exact even in Python's address parser
    }
    EXPECT_EQ(d["from_rfc2047"], s + " <dutyd@example.gov.cn>");
    EXPECT_EQ(d["to_name"], "Wang \"Lao\" Wu");
    EXPECT_TRUE(d["words_ok"]);
    EXPECT_LE(d["max_header_line"].get<int>(), 76);
  }
  EmailMessage plain = sample_email("Reminder", "", "");
  const std::string mime = build_email(plain);
  EXPECT_NE(mime.find("\r\nSubject: Reminder\r\n"), std::string::npos);
  EXPECT_NE(mime.find("From: dutyd@example.gov.cn\r\n"), std::string::npos);
}

TEST(Email, RefusesHeaderInjectionAndBadAddresses) {
  EmailMessage m = sample_email("s", "n", "n");
  m.subject = "hi\r\nBcc: x@evil";
  EXPECT_THROW(build_email(m), std::invalid_argument);
  m = sample_email("s", "n\nBcc: x@evil", "n");
  EXPECT_THROW(build_email(m), std::invalid_argument);
  for (const char* bad : {"", "wang", "wang@", "@x", "a b@x", "a@x>\r\nBcc: y@z", "王@x"}) {
    m = sample_email("s", "n", "n");
    m.to.address = bad;
    EXPECT_THROW(build_email(m), std::invalid_argument) << bad;
  }
}

TEST(Email, DateHeader) {
  EXPECT_EQ(format_email_date(kMarch3At9Beijing, 8 * 3600), "Tue, 03 Mar 2026 09:00:00 +0800");
  EXPECT_EQ(format_email_date(0, -5 * 3600 - 1800), "Wed, 31 Dec 1969 18:30:00 -0530");
}

// ---- chat robots ---------------------------------------------------------------------------

ChatMessage sample_chat(std::size_t repeat) {
  ChatMessage m;
  m.title = "【提醒】第六条第（十六）项 还有7天到期";
  m.text = long_text(repeat);
  m.link = "https://duty.example.gov.cn/c/abc";
  m.mentions = {{"王某", "wangmou", "13800000001", "", "ou_wang"},
                {"李某", "", "13900000002", "dt_li", "ou_li"}};
  return m;
}

TEST(WeCom, TextCarriesMentionListsAndFitsWithTheLink) {
  const HttpRequest r =
      wecom_request({"http://127.0.0.1:1/send", "KEY/1+"}, sample_chat(100), WecomFormat::text);
  EXPECT_EQ(r.url, "http://127.0.0.1:1/send?key=KEY%2F1%2B");
  const json j = json::parse(r.body);
  EXPECT_EQ(j["msgtype"], "text");
  const std::string content = j["text"]["content"];
  EXPECT_LE(content.size(), kWecomTextLimit);
  EXPECT_GT(content.size(), kWecomTextLimit - 8);  // cut as late as possible
  EXPECT_TRUE(is_valid_utf8(content));
  EXPECT_TRUE(content.ends_with("…\n全文：https://duty.example.gov.cn/c/abc"));
  EXPECT_EQ(j["text"]["mentioned_list"], json::array({"wangmou"}));
  EXPECT_EQ(j["text"]["mentioned_mobile_list"], json::array({"13900000002"}));
  // A short message is not cut.
  const json s = json::parse(wecom_request({}, sample_chat(1), WecomFormat::text).body);
  EXPECT_EQ(s["text"]["content"], sample_chat(1).title + "\n" + sample_chat(1).text);
}

TEST(WeCom, MarkdownMentionsSurviveTruncation) {
  const json j = json::parse(wecom_request({}, sample_chat(200), WecomFormat::markdown).body);
  EXPECT_EQ(j["msgtype"], "markdown");
  const std::string content = j["markdown"]["content"];
  EXPECT_LE(content.size(), kWecomMarkdownLimit);
  EXPECT_TRUE(content.ends_with(" <@wangmou>"));
  EXPECT_NE(content.find("…\n全文：https://duty.example.gov.cn/c/abc"), std::string::npos);
  EXPECT_TRUE(content.starts_with("**【提醒】"));
}

TEST(DingTalk, SignatureMatchesPythonsHmac) {
  const std::int64_t ts = 1772499600123;
  for (const std::string secret : {"SECabc123", "SEC+/= 中 '\"", ""}) {
    const auto ref = lines_of(run_reference({"dingtalk-sign", std::to_string(ts), secret}));
    ASSERT_EQ(ref.size(), 2u);
    EXPECT_EQ(dingtalk_sign(ts, secret), ref[0]);
    // URL-encoded exactly once (double encoding is DingTalk's 310000).
    const DingtalkRobot robot{"http://127.0.0.1:1/robot/send", "tok", secret};
    if (!secret.empty()) {
      EXPECT_EQ(dingtalk_url(robot, ts),
                "http://127.0.0.1:1/robot/send?access_token=tok&timestamp=" + std::to_string(ts) +
                    "&sign=" + ref[1]);
    }
  }
  // Fresh per request: another timestamp, another signature.
  EXPECT_NE(dingtalk_sign(ts, "s"), dingtalk_sign(ts + 1, "s"));
  EXPECT_EQ(dingtalk_url({"http://h/send", "t", ""}, ts), "http://h/send?access_token=t");
}

TEST(DingTalk, BodyAtMobilesAndSizeLimit) {
  const HttpRequest r = dingtalk_request({"http://h/send", "t", "s"}, sample_chat(400), 1);
  EXPECT_LE(r.body.size(), kDingtalkBodyLimit);
  EXPECT_GT(r.body.size(), kDingtalkBodyLimit - 200);
  const json j = json::parse(r.body);
  EXPECT_EQ(j["msgtype"], "text");
  EXPECT_EQ(j["at"]["atMobiles"], json::array({"13800000001", "13900000002"}));
  EXPECT_EQ(j["at"]["isAtAll"], false);
  const std::string content = j["text"]["content"];
  EXPECT_TRUE(is_valid_utf8(content));
  EXPECT_TRUE(content.ends_with(" @13800000001 @13900000002"))
      << content.substr(content.size() - 80);
  EXPECT_NE(content.find("…\n全文：https://duty.example.gov.cn/c/abc"), std::string::npos);
  EXPECT_EQ(r.headers, std::vector<std::string>{"Content-Type: application/json;charset=utf-8"});
}

TEST(Feishu, SignatureUsesTheReversedKeyAndMatchesPython) {
  const std::int64_t ts = 1772499600;
  for (const std::string secret : {"feishu-secret", "中文 /+="}) {
    const auto ref = lines_of(run_reference({"feishu-sign", std::to_string(ts), secret}));
    ASSERT_EQ(ref.size(), 1u);
    EXPECT_EQ(feishu_sign(ts, secret), ref[0]);
    // DingTalk's recipe gives another value: the two must never be swapped.
    EXPECT_NE(feishu_sign(ts, secret), dingtalk_sign(ts, secret));
  }
  const HttpRequest r =
      feishu_request({"http://h/hook", "tok-1", "feishu-secret"}, sample_chat(300), ts);
  EXPECT_EQ(r.url, "http://h/hook/tok-1");
  EXPECT_LE(r.body.size(), kFeishuBodyLimit);
  const json j = json::parse(r.body);
  EXPECT_EQ(j["timestamp"], std::to_string(ts));  // a string, in seconds
  EXPECT_EQ(j["sign"],
            lines_of(run_reference({"feishu-sign", std::to_string(ts), "feishu-secret"}))[0]);
  EXPECT_EQ(j["msg_type"], "text");
  const std::string text = j["content"]["text"];
  EXPECT_TRUE(text.ends_with(" <at user_id=\"ou_wang\">王某</at> <at user_id=\"ou_li\">李某</at>"));
  EXPECT_TRUE(is_valid_utf8(text));
  // Without a secret there is no timestamp or sign.
  const json u = json::parse(feishu_request({"http://h/hook", "t", ""}, sample_chat(1), ts).body);
  EXPECT_FALSE(u.contains("sign"));
}

TEST(Webhook, GenericJson) {
  const HttpRequest r = webhook_request("http://127.0.0.1:9/hook", sample_chat(1));
  const json j = json::parse(r.body);
  EXPECT_EQ(j["title"], sample_chat(1).title);
  EXPECT_EQ(j["link"], "https://duty.example.gov.cn/c/abc");
  EXPECT_EQ(j["mentions"], json::array({"王某", "李某"}));
}

// The webhook body is written by hand: byte for byte what nlohmann's tree gives, also for quotes,
// backslashes, control characters, DEL and CJK text; invalid UTF-8 is replaced the tree's way.
TEST(Webhook, HandWrittenBodyIsNlohmannsDump) {
  auto tree = [](const ChatMessage& m) {
    json names = json::array();
    for (const auto& who : m.mentions) names.push_back(who.name);
    return json{{"title", m.title}, {"text", m.text}, {"link", m.link}, {"mentions", names}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
  };
  ChatMessage m = sample_chat(2);
  EXPECT_EQ(webhook_request("http://h/x", m).body, tree(m));
  m.title = "引号\"反斜杠\\ 控制\b\f\n\r\t\x01\x1f\x7f 完" + std::string(1, '\0') + "尾";
  m.text = "第六条第（一）项\n「研究部署」\u2028";
  m.mentions = {{"王\"某", "", ""}};
  m.link.clear();
  const std::string body = webhook_request("http://h/x", m).body;
  EXPECT_EQ(body, tree(m));
  EXPECT_EQ(json::parse(body)["title"], m.title);
  m.mentions.clear();
  EXPECT_EQ(webhook_request("http://h/x", m).body, tree(m));
  m.text = "bad \xE4\xB8 text";
  EXPECT_EQ(webhook_request("http://h/x", m).body, tree(m));
  EXPECT_TRUE(
      is_valid_utf8(json::parse(webhook_request("http://h/x", m).body)["text"].get<std::string>()));
}

// Unescaped runs are skipped eight bytes at a time: a character to escape at any offset after
// ASCII or CJK text is still escaped as the tree escapes it.
TEST(Webhook, EscapesAtEveryOffsetAsTheTreeDoes) {
  const std::vector<std::string> pieces = {"a",    "abcdefgh", "中文", "\"",   "\\",   "\n",
                                           "\x01", "\x1f",     " ",    "\x7f", "/",    "!",
                                           "#",    "[",        "]",    "]]",   "\x21", "\x5b\x5d"};
  std::mt19937 rng(29);
  for (int round = 0; round < 20000; ++round) {
    ChatMessage m;
    for (std::string* field : {&m.title, &m.text, &m.link}) {
      const int n = static_cast<int>(rng() % 12);
      for (int k = 0; k < n; ++k) *field += pieces[rng() % pieces.size()];
    }
    json tree{{"title", m.title}, {"text", m.text}, {"link", m.link}, {"mentions", json::array()}};
    ASSERT_EQ(webhook_request("http://h/x", m).body, tree.dump()) << testing::PrintToString(m.text);
  }
}

TEST(Chat, InvalidUtf8InPeoplesTextDoesNotThrow) {
  ChatMessage m = sample_chat(1);
  m.text = "bad \xE4\xB8 text";
  EXPECT_NO_THROW(wecom_request({}, m, WecomFormat::text));
  EXPECT_NO_THROW(dingtalk_request({}, m, 1));
  const json j = json::parse(feishu_request({}, m, 1).body);
  EXPECT_TRUE(is_valid_utf8(j["content"]["text"].get<std::string>()));
  EXPECT_EQ(utf8_length("中a"), 2u);
}

}  // namespace
}  // namespace dutyd::notify
