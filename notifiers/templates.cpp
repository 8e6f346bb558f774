#include "notifiers/templates.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/files.hpp"
#include "base/text.hpp"

namespace dutyd::notify {

namespace {

constexpr std::string_view kDash = " — ";

// ---- the shipped texts ------------------------------------------------------------------------
// {vacancy_note} ends in a line break when it is not empty, so it stands at the start of a line
// with the text that follows it: a reminder without a vacancy has no empty line there.

constexpr const char* kReminderSubject = "【履责提醒】{title}（{org}，{due}截止，{days}）";

constexpr const char* kReminderBody =
    "{name}同志：\n"
    "\n"
    "{vacancy_note}根据辽宁省全面从严治党主体责任《实施细则》{citation}规定，{org}应按期完成下列"
    "事项，现予提醒。\n"
    "\n"
    "事项：{title}\n"
    "依据：《实施细则》{citation}：“{quote}”\n"
    "责任人：{responsible}\n"
    "提醒对象：{name}（{relation}）\n"
    "截止日期：{due}（{days}）\n"
    "同时告知：{others}\n"
    "\n"
    "请在截止日期前完成，并通过以下链接登记完成情况、上传佐证材料：\n"
    "{link}\n"
    "\n"
    "本邮件由全面从严治党主体责任提醒系统自动发送，请勿直接回复。\n";

constexpr const char* kReminderChat =
    "【履责提醒】{name}同志（{relation}）：\n"
    "{vacancy_note}{org}“{title}”（《实施细则》{citation}）{due}截止，{days}。\n"
    "同时告知：{others}\n"
    "完成后请登记：\n"
    "{link}";

constexpr const char* kOverdueSubject = "【逾期督办】{title}（{org}，{due}截止，{days}）";

constexpr const char* kOverdueBody =
    "{name}同志：\n"
    "\n"
    "{vacancy_note}{org}“{title}”截止日期为{due}，{days}，至今未登记完成，现予督办。\n"
    "\n"
    "依据：《实施细则》{citation}：“{quote}”\n"
    "责任人：{responsible}\n"
    "督办对象：{name}（{relation}）\n"
    "同时告知：{others}\n"
    "\n"
    "请立即督促落实，并通过以下链接登记完成情况、上传佐证材料：\n"
    "{link}\n"
    "\n"
    "对未能正确履行《实施细则》所列责任条款、落实主体责任不力的，将依照《实施细则》第二十七条"
    "予以责任追究。\n"
    "\n"
    "本邮件由全面从严治党主体责任提醒系统自动发送，请勿直接回复。\n";

constexpr const char* kOverdueChat =
    "【逾期督办】{name}同志（{relation}）：\n"
    "{vacancy_note}{org}“{title}”（《实施细则》{citation}）{due}截止，{days}，尚未登记完成，"
    "请立即落实。落实不力的，依照《实施细则》第二十七条予以责任追究。\n"
    "同时告知：{others}\n"
    "登记完成：\n"
    "{link}";

constexpr const char* kAlertSubject = "【系统告警】提醒未能经“{channel}”送达：{org}“{title}”";

constexpr const char* kAlertBody =
    "系统管理员：\n"
    "\n"
    "一条提醒未能通过渠道“{channel}”（{kind}）送达，需要人工处理。\n"
    "\n"
    "问题：{problem}\n"
    "提醒对象：{recipient}\n"
    "事项：{org}“{title}”，{due}截止\n"
    "已采取的措施：{fallback}\n"
    "\n"
    "请检查该渠道的地址和凭据；发送记录可用 dutyd deliveries 查看。\n";

constexpr const char* kFlagSubject =
    "【问责提示】{org}“{title}”逾期未完成（{art27}，情节{severity}）";

constexpr const char* kFlagBody =
    "{name}同志：\n"
    "\n"
    "{org}“{title}”截止日期为{due}，宽限期满后仍未登记完成（{days}）。依照辽宁省全面从严治党"
    "主体责任《实施细则》第二十七条，系统提出问责提示（编号{flag_id}），请按第二十九条规定的程序"
    "研究处理。\n"
    "\n"
    "履责依据：《实施细则》{citation}：“{quote}”\n"
    "追究情形：《实施细则》{art27}：“{art27_clause}”\n"
    "责任类型：{scope}\n"
    "责任人：{responsible}\n"
    "{team}"
    "情节：{severity}（{severity_reason}）\n"
    "建议措施（第二十八条，供研究决定参考）：{measures}\n"
    "提示对象：{name}（{relation}）\n"
    "\n"
    "本提示由系统依据履责记录自动生成，是否追究责任、采取何种措施，由有关党组织和部门依规研究决定。"
    "\n"
    "\n"
    "本邮件由全面从严治党主体责任提醒系统自动发送，请勿直接回复。\n";

constexpr const char* kFlagChat =
    "【问责提示】{name}同志（{relation}）：\n"
    "{org}“{title}”（《实施细则》{citation}）{due}截止，宽限期满后仍未完成（{days}），涉及{art27}"
    "所列情形。\n"
    "{scope}，责任人：{responsible}\n"
    "{team}"
    "情节{severity}（{severity_reason}）；建议措施：{measures}\n"
    "问责提示编号{flag_id}，请依第二十九条程序研究处理。";

// Which placeholders a template may use and whether it must be one line.
enum class Facts : std::uint8_t { reminder, alert, flag };
struct Field {
  std::string_view key;
  std::string Templates::*member;
  Facts facts;
  bool subject;
};
constexpr std::array<Field, 11> kFields{{
    {"reminder_subject", &Templates::reminder_subject, Facts::reminder, true},
    {"reminder_body", &Templates::reminder_body, Facts::reminder, false},
    {"reminder_chat", &Templates::reminder_chat, Facts::reminder, false},
    {"overdue_subject", &Templates::overdue_subject, Facts::reminder, true},
    {"overdue_body", &Templates::overdue_body, Facts::reminder, false},
    {"overdue_chat", &Templates::overdue_chat, Facts::reminder, false},
    {"alert_subject", &Templates::alert_subject, Facts::alert, true},
    {"alert_body", &Templates::alert_body, Facts::alert, false},
    {"flag_subject", &Templates::flag_subject, Facts::flag, true},
    {"flag_body", &Templates::flag_body, Facts::flag, false},
    {"flag_chat", &Templates::flag_chat, Facts::flag, false},
}};

// ---- placeholders -----------------------------------------------------------------------------

// Walks a template: `literal(text)` for plain text ("{{" and "}}" arrive as one brace each),
// `placeholder(name, offset)` for each {name}, `unbalanced(offset, brace)` for a brace without
// a partner (then passed on as literal text). A placeholder ends on its line.
template <typename Literal, typename Placeholder, typename Unbalanced>
void walk(std::string_view t, Literal&& literal, Placeholder&& placeholder,
          Unbalanced&& unbalanced) {
  std::size_t i = 0, start = 0;
  auto flush = [&](std::size_t end) {
    if (end > start) literal(t.substr(start, end - start));
  };
  while (i < t.size()) {
    const char c = t[i];
    if (c != '{' && c != '}') {
      ++i;
      continue;
    }
    flush(i);
    if (i + 1 < t.size() && t[i + 1] == c) {
      literal(t.substr(i, 1));
      i += 2;
    } else if (c == '}') {
      unbalanced(i, c);
      literal(t.substr(i, 1));
      ++i;
    } else if (const auto close = t.find_first_of("{}\r\n", i + 1);
               close == std::string_view::npos || t[close] != '}') {
      unbalanced(i, c);
      literal(t.substr(i, 1));
      ++i;
    } else {
      placeholder(t.substr(i + 1, close - i - 1), i);
      i = close + 1;
    }
    start = i;
  }
  flush(t.size());
}

// Replaces every run of CR and LF by one space: a subject is one header line.
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\r' && s[i] != '\n') {
      out += s[i];
      continue;
    }
    while (i + 1 < s.size() && (s[i + 1] == '\r' || s[i + 1] == '\n')) ++i;
    out += ' ';
  }
  return out;
}

// A message's placeholders and their values (views of the caller's strings). A dozen entries,
// looked up a few dozen times per message: a flat list costs less than building a map.
using Values = std::vector<std::pair<std::string_view, std::string_view>>;

std::string render(std::string_view t, const Values& values, bool subject) {
  std::string out;
  out.reserve(t.size() + 256);
  walk(
      t, [&](std::string_view text) { out += text; },
      [&](std::string_view name, std::size_t) {
        // Templates read from files are checked; one built in code may name anything, which
        // is then shown as written rather than dropped.
        const auto it = std::find_if(values.begin(), values.end(),
                                     [&](const auto& v) { return v.first == name; });
        if (it == values.end())
          out.append("{").append(name).append("}");
        else if (subject)
          out += one_line(it->second);
        else
          out += it->second;
      },
      [](std::size_t, char) {});
  return subject ? one_line(out) : out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string suggest(std::string_view word, const std::vector<std::string_view>& choices,
                    std::string_view open = "'", std::string_view close = "'") {
  std::string_view best;
  std::size_t best_d = 3;
  for (auto c : choices) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  if (best.empty()) return {};
  return "did you mean " + std::string(open) + std::string(best) + std::string(close) + "? ";
}

std::string list(const std::vector<std::string_view>& names, std::string_view open,
                 std::string_view close) {
  std::string out;
  for (auto n : names)
    out += (out.empty() ? "" : ", ") + std::string(open) + std::string(n) + std::string(close);
  return out;
}

// A problem of one template, at a byte offset in its text.
struct Problem {
  std::size_t offset = 0;
  std::string message;
};

std::vector<Problem> problems_of(std::string_view t, const Field& f) {
  const auto known = f.facts == Facts::alert  ? alert_placeholders()
                     : f.facts == Facts::flag ? flag_placeholders()
                                              : reminder_placeholders();
  const std::string key(f.key);
  std::vector<Problem> out;
  walk(
      t, [](std::string_view) {},
      [&](std::string_view name, std::size_t at) {
        if (std::find(known.begin(), known.end(), name) != known.end()) return;
        out.push_back({at, "unknown placeholder '{" + std::string(name) + "}' in " + key +
                               std::string(kDash) + suggest(name, known, "'{", "}'") +
                               "known placeholders: " + list(known, "{", "}") +
                               " (write {{ and }} for literal braces)"});
      },
      [&](std::size_t at, char brace) {
        out.push_back({at, brace == '{' ? "unbalanced '{' in " + key + std::string(kDash) +
                                              "close the placeholder with '}' on the same line, or "
                                              "write '{{' for a literal brace"
                                        : "unbalanced '}' in " + key + std::string(kDash) +
                                              "write '}}' for a literal brace"});
      });
  if (f.subject)
    if (const auto nl = t.find_first_of("\r\n"); nl != std::string_view::npos)
      out.push_back({nl, "a line break in " + key + std::string(kDash) +
                             "a subject is one line: write it on one line, without \\n"});
  return out;
}

// ---- positions in the file ---------------------------------------------------------------------
// toml++ counts lines from 1 and columns in code points from 1; so do the messages here.

bool continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

std::size_t offset_of(std::string_view text, const toml::source_position& p) {
  std::size_t i = 0;
  for (toml::source_index line = 1; line < p.line && i < text.size(); ++i)
    if (text[i] == '\n') ++line;
  for (toml::source_index col = 1; col < p.column && i < text.size();) {
    ++i;
    if (i >= text.size() || !continuation_byte(text[i])) ++col;
  }
  return i;
}

std::pair<std::uint32_t, std::uint32_t> position_of(std::string_view text, std::size_t offset) {
  std::uint32_t line = 1, col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else if (!continuation_byte(text[i])) {
      ++col;
    }
  }
  return {line, col};
}

// Where the first byte that breaks UTF-8 is.
std::size_t first_invalid_utf8(std::string_view text) {
  std::size_t good = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (continuation_byte(text[i])) continue;
    if (!is_valid_utf8(text.substr(good, i - good))) return good;
    good = i;
  }
  return good;
}

struct Reader {
  std::string_view text;
  const std::string& path;
  Diagnostics& diags;

  void error(std::size_t offset, const std::string& message) const {
    const auto [line, col] = position_of(text, offset);
    diags.add(Severity::error, path, line, col, message);
  }
  void error(const toml::source_region& at, const std::string& message) const {
    diags.add(Severity::error, path, at.begin.line, at.begin.column, message);
  }

  // A template's problems at their own line and column: the brace structure is found again in
  // the value as written (between its quotes) and used when it tells the same story as the
  // decoded text; otherwise (escapes such as \n, a multi-line string's trimmed first line
  // break) at the start of the value.
  void report(const toml::node& value, std::string_view decoded, const Field& f) const {
    const auto problems = problems_of(decoded, f);
    if (problems.empty()) return;
    const std::size_t begin = offset_of(text, value.source().begin);
    const std::size_t end = std::min(offset_of(text, value.source().end), text.size());
    const bool triple = text.substr(begin, 3) == "\"\"\"" || text.substr(begin, 3) == "'''";
    const std::size_t quotes = triple ? 3 : 1;
    std::vector<Problem> raw;
    if (end >= begin + 2 * quotes)
      raw = problems_of(text.substr(begin + quotes, end - begin - 2 * quotes), f);
    bool same = raw.size() == problems.size();
    for (std::size_t i = 0; same && i < raw.size(); ++i)
      same = raw[i].message == problems[i].message;
    for (std::size_t i = 0; i < problems.size(); ++i) {
      if (same)
        error(begin + quotes + raw[i].offset, problems[i].message);
      else
        error(value.source(), problems[i].message);
    }
  }
};

void read_table(const Reader& r, const toml::table& t, Templates& out) {
  std::vector<std::string_view> keys;
  for (const Field& f : kFields) keys.push_back(f.key);
  for (const auto& [k, v] : t) {
    const auto* f = std::find_if(kFields.begin(), kFields.end(),
                                 [&](const Field& x) { return x.key == k.str(); });
    if (f == kFields.end()) {
      r.error(k.source(), "unknown key '" + std::string(k.str()) + "' in [templates]" +
                              std::string(kDash) + suggest(k.str(), keys) +
                              "known keys: " + list(keys, "", ""));
      continue;
    }
    // Built by appending: GCC 12 at -O3 warns (-Wrestrict, a false positive) about
    // "literal" + std::string(...) here.
    std::string quoted = "'";
    quoted.append(f->key).append("'");
    const auto* s = v.as_string();
    if (!s) {
      r.error(v.source(),
              quoted.append(" must be a string")
                  .append(kDash)
                  .append("write the text in double quotes, or between \"\"\" for several lines"));
      continue;
    }
    const std::string& text = s->get();
    if (text.empty()) {
      r.error(v.source(),
              quoted.append(" is empty")
                  .append(kDash)
                  .append("write a text, or leave the key out to keep the shipped one"));
      continue;
    }
    const std::size_t errors = r.diags.error_count();
    r.report(v, text, *f);
    if (r.diags.error_count() == errors) out.*(f->member) = text;
  }
}

}  // namespace

const Templates& default_templates() {
  static const Templates t{kReminderSubject, kReminderBody, kReminderChat, kOverdueSubject,
                           kOverdueBody,     kOverdueChat,  kAlertSubject, kAlertBody,
                           kFlagSubject,     kFlagBody,     kFlagChat};
  return t;
}

std::vector<std::string_view> reminder_placeholders() {
  return {"name", "relation",     "responsible", "org",  "citation", "title", "quote",
          "due",  "window_start", "days",        "link", "others",   "step",  "vacancy_note"};
}

std::vector<std::string_view> alert_placeholders() {
  return {"channel", "kind", "problem", "recipient", "org", "title", "due", "fallback"};
}

std::vector<std::string_view> flag_placeholders() {
  return {"name",     "relation",    "org",  "citation", "title",
          "quote",    "due",         "days", "art27",    "art27_clause",
          "scope",    "responsible", "team", "severity", "severity_reason",
          "measures", "flag_id"};
}

namespace {

Templates read_templates(const std::string& path, Diagnostics& diags) {
  Templates out = default_templates();
  std::string text;
  try {
    text = read_regular_file(path, kMaxDataFileBytes, "the templates file");
  } catch (const FileReadError& e) {
    const bool open_failed =
        e.kind == FileReadError::not_found || e.kind == FileReadError::unreadable;
    diags.add(Severity::error, path, 1, 1,
              open_failed
                  ? "cannot open the templates file: " + e.reason.substr(e.reason.find(": ") + 2) +
                        " ([reminders] templates)"
                  : "the templates file " + e.reason);
    return out;
  }
  const Reader r{text, path, diags};
  if (!is_valid_utf8(text)) {
    r.error(first_invalid_utf8(text),
            "the file is not valid UTF-8" + std::string(kDash) + "save it as UTF-8 text");
    return out;
  }
  toml::table doc;
  try {
    doc = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    r.error(e.source(), "TOML syntax: " + std::string(e.description()) + std::string(kDash) +
                            "fix the syntax at this position (see toml.io)");
    return out;
  }
  for (const auto& [k, v] : doc) {
    if (k.str() == "templates") continue;
    r.error(k.source(), "unknown key '" + std::string(k.str()) + "'" + std::string(kDash) +
                            "a templates file holds one [templates] table: put the texts there");
  }
  const toml::node* node = doc.get("templates");
  if (!node) {
    diags.add(Severity::warning, path, 1, 1,
              "no [templates] table" + std::string(kDash) +
                  "the shipped texts are used; add [templates] with the keys to change");
    return out;
  }
  if (const auto* t = node->as_table())
    read_table(r, *t, out);
  else
    r.error(node->source(), "'templates' must be a table" + std::string(kDash) +
                                "write [templates] and the texts below it");
  return out;
}

}  // namespace

Templates load_templates(const std::string& path, Diagnostics& diags) {
  // toml++ hands out a table's keys in name order; the problems are reported in file order.
  Diagnostics mine;
  Templates out = read_templates(path, mine);
  mine.sort({path});
  for (const Diagnostic& d : mine.items())
    diags.add(d.severity, d.file, d.line, d.column, d.message);
  return out;
}

std::string days_text(int days_left) {
  if (days_left > 0) return "还有 " + std::to_string(days_left) + " 天";
  if (days_left == 0) return "今天到期";
  return "已逾期 " + std::to_string(-static_cast<long long>(days_left)) + " 天";
}

RenderedMessage render_reminder(const Templates& t, const ReminderFacts& f, Parts parts) {
  std::string others;
  for (const auto& o : f.others) others += (others.empty() ? "" : "、") + o;
  const std::string days = days_text(f.days_left), step = std::to_string(f.step);
  const std::string vacancy =
      f.via_vacancy ? "因" + f.org + "相关职务空缺，本事项依规提级报送您，请督促落实。\n"
                    : std::string();
  const Values v{
      {"name", f.name},
      {"relation", f.relation},
      {"responsible", f.responsible},
      {"org", f.org},
      {"citation", f.citation},
      {"title", f.title},
      {"quote", f.quote},
      {"due", f.due},
      {"window_start", f.window_start},
      {"days", days},
      {"link", f.link},
      {"others", others.empty() ? std::string_view("无") : std::string_view(others)},
      {"step", step},
      {"vacancy_note", vacancy},
  };
  const bool late = f.overdue;
  RenderedMessage m;
  m.subject = render(late ? t.overdue_subject : t.reminder_subject, v, true);
  if (parts != Parts::chat) m.body = render(late ? t.overdue_body : t.reminder_body, v, false);
  if (parts != Parts::email) m.chat = render(late ? t.overdue_chat : t.reminder_chat, v, false);
  return m;
}

RenderedMessage render_flag(const Templates& t, const FlagFacts& f) {
  std::string measures;
  for (const auto& m : f.measures) measures += (measures.empty() ? "" : "；") + m;
  const std::string days = days_text(-f.days_late),
                    team = f.team.empty() ? std::string() : f.team + "\n",
                    flag_id = std::to_string(f.flag_id);
  const Values v{
      {"name", f.name},
      {"relation", f.relation},
      {"org", f.org},
      {"citation", f.citation},
      {"title", f.title},
      {"quote", f.quote},
      {"due", f.due},
      {"days", days},
      {"art27", f.art27},
      {"art27_clause", f.art27_clause},
      {"scope", f.scope},
      {"responsible", f.responsible},
      {"team", team},
      {"severity", f.severity},
      {"severity_reason", f.severity_reason},
      {"measures", measures.empty() ? std::string_view("无") : std::string_view(measures)},
      {"flag_id", flag_id},
  };
  return {render(t.flag_subject, v, true), render(t.flag_body, v, false),
          render(t.flag_chat, v, false)};
}

RenderedMessage render_alert(const Templates& t, const AlertFacts& f) {
  const Values v{
      {"channel", f.channel},
      {"kind", f.kind},
      {"problem", f.problem},
      {"recipient", f.recipient},
      {"org", f.org},
      {"title", f.title},
      {"due", f.due},
      {"fallback", f.fallback.empty() ? std::string_view("无") : std::string_view(f.fallback)},
  };
  std::string body = render(t.alert_body, v, false);
  return {render(t.alert_subject, v, true), body, body};
}

}  // namespace dutyd::notify
