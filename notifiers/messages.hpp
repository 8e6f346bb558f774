// Message builders for every channel: an e-mail as MIME bytes, and chat-robot HTTP requests
// (URL, headers, JSON body) with fresh signatures. Pure: the caller passes the secrets it read
// from credentials and "now"; nothing here sends or reads files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dutyd::notify {

// ---- e-mail ---------------------------------------------------------------------------------

struct Mailbox {
  std::string name;     // display name, may be Chinese; empty for none
  std::string address;  // addr-spec, ASCII
};

struct EmailMessage {
  Mailbox from;
  Mailbox to;
  std::string subject;
  std::string body;  // UTF-8 plain text; LF or CRLF line ends
  std::int64_t date_unix = 0;
  std::int32_t utc_offset_seconds = 8 * 3600;
  std::string message_id;  // without angle brackets: make_message_id(...)
};

// The whole message with CRLF line ends, ready to upload to libcurl's SMTP: From, To, Subject
// and display names as RFC 2047 encoded words where needed (each word <= 75 characters, never
// splitting a character, header lines <= 76 characters), Date, Message-ID, MIME-Version and a
// base64 text/plain; charset=UTF-8 body. Throws std::invalid_argument for an unusable address
// (CR/LF, spaces, angle brackets or no '@') or a subject/name with CR or LF.
std::string build_email(const EmailMessage& m);

// "Tue, 03 Mar 2026 09:00:00 +0800" (RFC 5322 date-time).
std::string format_email_date(std::int64_t unix_seconds, std::int32_t utc_offset_seconds);
// "<unique>@<domain>" without brackets; `unique` is reduced to characters valid in a Message-ID.
std::string make_message_id(std::string_view unique, std::string_view domain);
// A header value as a sequence of encoded words folded with CRLF + space; `used` is how many
// characters of the first line are taken already (e.g. 9 for "Subject: ").
std::string encode_header_words(std::string_view text, std::size_t used);

// ---- chat robots ----------------------------------------------------------------------------

struct Mention {
  std::string name;             // shown in text
  std::string wecom_userid;     // WeCom mentioned_list / <@userid>
  std::string mobile;           // WeCom mentioned_mobile_list, DingTalk atMobiles
  std::string dingtalk_userid;  // DingTalk atUserIds
  std::string feishu_open_id;   // Feishu <at user_id="ou_...">
};

struct ChatMessage {
  std::string title;
  std::string text;
  std::string link;  // the full text (completion page); appended when the text is cut
  std::vector<Mention> mentions;
};

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
};

// Size limits in bytes of UTF-8, per the vendors (shared/reference/chat-and-mail.md).
inline constexpr std::size_t kWecomTextLimit = 2048;      // text.content
inline constexpr std::size_t kWecomMarkdownLimit = 4096;  // markdown.content
inline constexpr std::size_t kDingtalkBodyLimit = 20000;  // whole body
inline constexpr std::size_t kFeishuBodyLimit = 20000;    // whole body ("20 KB")

// The suffix put after a cut text: "…" and, when there is one, a line with the link.
std::string truncation_suffix(std::string_view link);

struct WecomRobot {
  std::string url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send";
  std::string key;
};
enum class WecomFormat : std::uint8_t { text, markdown };
HttpRequest wecom_request(const WecomRobot& robot, const ChatMessage& m, WecomFormat format);

struct DingtalkRobot {
  std::string url = "https://oapi.dingtalk.com/robot/send";
  std::string access_token;
  std::string secret;  // empty: the robot uses keywords or an IP list, no signing
};
// Base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret)), not URL-encoded.
std::string dingtalk_sign(std::int64_t timestamp_ms, std::string_view secret);
// URL with access_token and, with a secret, timestamp and the sign URL-encoded exactly once.
std::string dingtalk_url(const DingtalkRobot& robot, std::int64_t now_ms);
HttpRequest dingtalk_request(const DingtalkRobot& robot, const ChatMessage& m, std::int64_t now_ms);

struct FeishuRobot {
  std::string url = "https://open.feishu.cn/open-apis/bot/v2/hook";  // the token is appended
  std::string token;
  std::string secret;  // empty: no signing
};
// Base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = "")): Feishu's key/message order
// is the reverse of DingTalk's, and the timestamp is in seconds.
std::string feishu_sign(std::int64_t timestamp_s, std::string_view secret);
HttpRequest feishu_request(const FeishuRobot& robot, const ChatMessage& m, std::int64_t now_s);

// Generic JSON: {"title","text","link","mentions":[names]}; no size limit of its own.
HttpRequest webhook_request(std::string_view url, const ChatMessage& m);

}  // namespace dutyd::notify
