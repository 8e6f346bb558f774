#include "notifiers/messages.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "base/crypto.hpp"
#include "base/date.hpp"
#include "base/text.hpp"

namespace dutyd::notify {

namespace {

constexpr std::size_t kHeaderLine = 76;  // characters per header line before CRLF
constexpr std::string_view kWordOpen = "=?UTF-8?B?";
constexpr std::string_view kWordClose = "?=";
// Raw bytes in one encoded word of at most 75 characters: 12 + 60 base64 characters.
constexpr std::size_t kOneWordBytes = 45;

using json = nlohmann::json;

std::string dump(const json& j) {
  // Invalid UTF-8 in people's text must not abort a reminder: replace it.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool printable_ascii(std::string_view s) {
  for (char c : s)
    if (c < 0x20 || c > 0x7E) return false;
  return true;
}

void reject_line_breaks(std::string_view what, std::string_view value) {
  if (value.find_first_of("\r\n") != std::string_view::npos)
    throw std::invalid_argument(std::string(what) + " contains a line break — remove it");
}

void check_address(std::string_view a) {
  if (a.empty() || a.find('@') == std::string_view::npos || a.front() == '@' || a.back() == '@')
    throw std::invalid_argument("e-mail address \"" + std::string(a) +
                                "\" is not of the form name@domain — correct the person's email");
  for (char c : a) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
        c == ';' || c == '"' || c == '\\')
      throw std::invalid_argument("e-mail address \"" + std::string(a) +
                                  "\" contains a character not allowed in an address — "
                                  "correct the person's email");
  }
}

// `line` is the length of the current (last) header line; returns the folded header text.
std::string mailbox_header(std::string_view header, const Mailbox& mb) {
  check_address(mb.address);
  reject_line_breaks("the display name", mb.name);
  std::string out(header);
  out += ": ";
  if (mb.name.empty()) return out + mb.address;
  if (printable_ascii(mb.name)) {
    std::string quoted = "\"";
    for (char c : mb.name) {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    quoted += '"';
    out += quoted;
  } else if (mb.name.size() <= kOneWordBytes) {
    // One encoded word, on a line of its own when needed: Python's address parser (and some
    // clients) show a space between adjacent encoded words in a display name, against
    // RFC 2047 6.2, so names up to 15 Chinese characters are never split.
    const std::string word = std::string(kWordOpen) + base64(mb.name) + std::string(kWordClose);
    if (out.size() + word.size() > kHeaderLine) {
      out.pop_back();  // "From: " becomes "From:" CRLF SP: fold instead of the space
      out += "\r\n ";
    }
    out += word;
  } else {
    out += encode_header_words(mb.name, out.size());
  }
  const std::size_t last_line =
      out.size() - (out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  const std::string angle = "<" + mb.address + ">";
  out += (last_line + 1 + angle.size() > kHeaderLine) ? "\r\n " : " ";
  return out + angle;
}

std::string crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (text[i] == '\n') {
      out += "\r\n";
    } else {
      out += text[i];
    }
  }
  return out;
}

// The longest cut of `content` (marked by `suffix`) whose `build(...)` is at most `limit` bytes.
// Binary search: JSON escaping makes the body grow faster than the text, unevenly.
template <typename Build>
std::string fit_body(const std::string& content, std::string_view suffix, std::size_t limit,
                     Build build) {
  std::string body = build(content);
  if (body.size() <= limit) return body;
  std::size_t lo = 0, hi = content.size();  // cap lo fits (or is the floor), hi does not
  std::string best = build(truncate_utf8(content, 0, suffix));
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    std::string candidate = build(truncate_utf8(content, mid, suffix));
    if (candidate.size() <= limit) {
      lo = mid;
      best = std::move(candidate);
    } else {
      hi = mid;
    }
  }
  return best;
}

std::string joined_text(const ChatMessage& m) {
  if (m.title.empty()) return m.text;
  if (m.text.empty()) return m.title;
  return m.title + "\n" + m.text;
}

}  // namespace

// ---- e-mail ---------------------------------------------------------------------------------

std::string encode_header_words(std::string_view text, std::size_t used) {
  std::string out;
  std::size_t line = used;
  while (!text.empty()) {
    // Base64 chars that fit this line, rounded down to whole quanta, then the raw bytes.
    const std::size_t room = kHeaderLine > line + kWordOpen.size() + kWordClose.size()
                                 ? kHeaderLine - line - kWordOpen.size() - kWordClose.size()
                                 : 0;
    std::size_t raw = room / 4 * 3;
    std::size_t take = utf8_prefix_length(text, raw);
    if (take == 0) {
      // Not even one character fits here: start a new line (a fresh line always has room
      // for a 4-byte character: 76 - 1 - 12 = 63 base64 characters = 45 bytes).
      if (line > 1) {
        out += "\r\n ";
        line = 1;
        continue;
      }
      take = utf8_prefix_length(text, 45);
      if (take == 0) take = 1;  // stray bytes: never loop forever
    }
    const std::string word =
        std::string(kWordOpen) + base64(text.substr(0, take)) + std::string(kWordClose);
    out += word;
    line += word.size();
    text.remove_prefix(take);
    if (!text.empty()) {
      out += "\r\n ";
      line = 1;
    }
  }
  return out;
}

std::string format_email_date(std::int64_t unix_seconds, std::int32_t utc_offset_seconds) {
  static constexpr std::array<const char*, 7> kDays{"Mon", "Tue", "Wed", "Thu",
                                                    "Fri", "Sat", "Sun"};
  static constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::int64_t local = unix_seconds + utc_offset_seconds;
  std::int64_t day = local / 86400;
  std::int64_t sec = local % 86400;
  if (sec < 0) {
    sec += 86400;
    --day;
  }
  const Civil c = civil(static_cast<Day>(day));
  const int wd = static_cast<int>(((day + 3) % 7 + 7) % 7);
  const int off = utc_offset_seconds < 0 ? -utc_offset_seconds : utc_offset_seconds;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d %c%02d%02d", kDays[wd], c.day,
                kMonths[c.month - 1], c.year, static_cast<int>(sec / 3600),
                static_cast<int>(sec / 60 % 60), static_cast<int>(sec % 60),
                utc_offset_seconds < 0 ? '-' : '+', off / 3600, off / 60 % 60);
  return buf;
}

std::string make_message_id(std::string_view unique, std::string_view domain) {
  std::string id;
  for (char c : unique) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_' || c == '+' || c == '=';
    id += ok ? c : '.';
  }
  if (id.empty()) id = "dutyd";
  std::string dom;
  for (char c : domain)
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
        c == '-')
      dom += c;
  if (dom.empty()) dom = "dutyd.invalid";
  return id + "@" + dom;
}

std::string build_email(const EmailMessage& m) {
  reject_line_breaks("the subject", m.subject);
  if (m.message_id.empty() || m.message_id.find_first_of("<>\r\n ") != std::string::npos)
    throw std::invalid_argument("Message-ID \"" + m.message_id +
                                "\" is empty or has <, >, spaces or line breaks — build it with "
                                "make_message_id()");
  std::string h;
  h += mailbox_header("From", m.from) + "\r\n";
  h += mailbox_header("To", m.to) + "\r\n";
  if (printable_ascii(m.subject) && 9 + m.subject.size() <= kHeaderLine)
    h += "Subject: " + m.subject + "\r\n";
  else
    h += "Subject: " + encode_header_words(m.subject, 9) + "\r\n";
  h += "Date: " + format_email_date(m.date_unix, m.utc_offset_seconds) + "\r\n";
  h += "Message-ID: <" + m.message_id + ">\r\n";
  h += "MIME-Version: 1.0\r\n";
  h += "Content-Type: text/plain; charset=UTF-8\r\n";
  h += "Content-Transfer-Encoding: base64\r\n";
  h += "\r\n";
  h += base64_lines(crlf(m.body));
  h += "\r\n";
  return h;
}

// ---- chat -----------------------------------------------------------------------------------

std::string truncation_suffix(std::string_view link) {
  std::string s = "…";
  if (!link.empty()) s += "\n全文：" + std::string(link);
  return s;
}

HttpRequest wecom_request(const WecomRobot& robot, const ChatMessage& m, WecomFormat format) {
  HttpRequest r;
  r.url = robot.url + "?key=" + percent_encode(robot.key);
  r.headers = {"Content-Type: application/json"};
  const std::string suffix = truncation_suffix(m.link);
  if (format == WecomFormat::text) {
    json users = json::array(), mobiles = json::array();
    for (const auto& who : m.mentions) {
      if (!who.wecom_userid.empty())
        users.push_back(who.wecom_userid);
      else if (!who.mobile.empty())
        mobiles.push_back(who.mobile);
    }
    json j;
    j["msgtype"] = "text";
    j["text"]["content"] = truncate_utf8(joined_text(m), kWecomTextLimit, suffix);
    if (!users.empty()) j["text"]["mentioned_list"] = users;
    if (!mobiles.empty()) j["text"]["mentioned_mobile_list"] = mobiles;
    r.body = dump(j);
  } else {
    // Mentions work only as <@userid> in markdown; they go last and are never cut.
    std::string tail;
    for (const auto& who : m.mentions)
      if (!who.wecom_userid.empty()) tail += " <@" + who.wecom_userid + ">";
    std::string content = m.title.empty() ? m.text : "**" + m.title + "**\n" + m.text;
    const std::size_t room =
        kWecomMarkdownLimit > tail.size() ? kWecomMarkdownLimit - tail.size() : 0;
    json j;
    j["msgtype"] = "markdown";
    j["markdown"]["content"] = truncate_utf8(content, room, suffix) + tail;
    r.body = dump(j);
  }
  return r;
}

std::string dingtalk_sign(std::int64_t timestamp_ms, std::string_view secret) {
  const std::string to_sign = std::to_string(timestamp_ms) + "\n" + std::string(secret);
  return base64(hmac_sha256(secret, to_sign));
}

std::string dingtalk_url(const DingtalkRobot& robot, std::int64_t now_ms) {
  std::string url = robot.url + "?access_token=" + percent_encode(robot.access_token);
  if (!robot.secret.empty())
    url += "&timestamp=" + std::to_string(now_ms) +
           "&sign=" + percent_encode(dingtalk_sign(now_ms, robot.secret));
  return url;
}

HttpRequest dingtalk_request(const DingtalkRobot& robot, const ChatMessage& m,
                             std::int64_t now_ms) {
  HttpRequest r;
  r.url = dingtalk_url(robot, now_ms);
  r.headers = {"Content-Type: application/json;charset=utf-8"};
  json mobiles = json::array(), ids = json::array();
  std::string tail;  // "@138..." in the text highlights the mention
  for (const auto& who : m.mentions) {
    if (!who.mobile.empty()) {
      mobiles.push_back(who.mobile);
      tail += " @" + who.mobile;
    } else if (!who.dingtalk_userid.empty()) {
      ids.push_back(who.dingtalk_userid);
      tail += " @" + who.dingtalk_userid;
    }
  }
  const std::string suffix = truncation_suffix(m.link);
  r.body = fit_body(joined_text(m), suffix, kDingtalkBodyLimit, [&](const std::string& text) {
    json j;
    j["msgtype"] = "text";
    j["text"]["content"] = text + tail;
    j["at"]["atMobiles"] = mobiles;
    j["at"]["atUserIds"] = ids;
    j["at"]["isAtAll"] = false;
    return dump(j);
  });
  return r;
}

std::string feishu_sign(std::int64_t timestamp_s, std::string_view secret) {
  const std::string key = std::to_string(timestamp_s) + "\n" + std::string(secret);
  return base64(hmac_sha256(key, ""));
}

HttpRequest feishu_request(const FeishuRobot& robot, const ChatMessage& m, std::int64_t now_s) {
  HttpRequest r;
  r.url = robot.url + "/" + percent_encode(robot.token);
  r.headers = {"Content-Type: application/json; charset=utf-8"};
  std::string tail;
  for (const auto& who : m.mentions) {
    if (who.feishu_open_id.empty()) continue;
    tail += " <at user_id=\"" + who.feishu_open_id + "\">" + who.name + "</at>";
  }
  const std::string suffix = truncation_suffix(m.link);
  r.body = fit_body(joined_text(m), suffix, kFeishuBodyLimit, [&](const std::string& text) {
    json j;
    if (!robot.secret.empty()) {
      j["timestamp"] = std::to_string(now_s);
      j["sign"] = feishu_sign(now_s, robot.secret);
    }
    j["msg_type"] = "text";
    j["content"]["text"] = text + tail;
    return dump(j);
  });
  return r;
}

namespace {

// Appends `text` as a JSON string exactly as nlohmann's dump(-1, ' ', false) writes it: `"` and
// `\` escaped, \b \f \n \r \t by name, other control characters as \u00XX, the rest (UTF-8,
// DEL) as is. For valid UTF-8 only (invalid text takes nlohmann's replacing path).
void append_json_string(std::string& out, std::string_view text) {
  static const char* digits = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0;  // the bytes since here need no escape: copied in one piece
  for (std::size_t i = 0; i < text.size(); ++i) {
    // Eight bytes at a time while none is below 0x20, '"' or '\\' (exact tests, see
    // "Determine if a word has a byte less than n" in Bit Twiddling Hacks).
    while (i + 8 <= text.size()) {
      std::uint64_t w;
      std::memcpy(&w, text.data() + i, 8);
      constexpr std::uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
      const std::uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
      if ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs) break;
      i += 8;
    }
    if (i >= text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.substr(plain, i - plain));
    plain = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += digits[c >> 4];
        out += digits[c & 15];
    }
  }
  out.append(text.substr(plain));
  out += '"';
}

}  // namespace

HttpRequest webhook_request(std::string_view url, const ChatMessage& m) {
  HttpRequest r;
  r.url = std::string(url);
  r.headers = {"Content-Type: application/json"};
  // The generic webhook is the channel of bulk integrations: its body is written directly (keys in
  // nlohmann's order, byte for byte what dump() gives, see the test) rather than through a json
  // tree, which cost more than the rest of the message. Text that is not valid UTF-8 goes the
  // tree's way, which replaces the bad bytes.
  bool valid = is_valid_utf8(m.title) && is_valid_utf8(m.text) && is_valid_utf8(m.link);
  for (const auto& who : m.mentions) valid = valid && is_valid_utf8(who.name);
  if (!valid) {
    json names = json::array();
    for (const auto& who : m.mentions) names.push_back(who.name);
    json j;
    j["title"] = m.title;
    j["text"] = m.text;
    j["link"] = m.link;
    j["mentions"] = names;
    r.body = dump(j);
    return r;
  }
  std::string& b = r.body;
  b.reserve(64 + m.title.size() + m.text.size() + m.link.size() + 16 * m.mentions.size());
  b += "{\"link\":";
  append_json_string(b, m.link);
  b += ",\"mentions\":[";
  for (std::size_t i = 0; i < m.mentions.size(); ++i) {
    if (i) b += ',';
    append_json_string(b, m.mentions[i].name);
  }
  b += "],\"text\":";
  append_json_string(b, m.text);
  b += ",\"title\":";
  append_json_string(b, m.title);
  b += '}';
  return r;
}

}  // namespace dutyd::notify
