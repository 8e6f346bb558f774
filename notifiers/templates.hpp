// The Chinese texts of reminders, non-compliance flags and administrators' alerts, from templates
// an administrator may override ([reminders] templates = "FILE", see config/README.md). Pure: the
// caller gathers the facts (names, dates, the completion link); nothing here reads the clock or the
// config.
//
// A template is UTF-8 text with placeholders in braces, e.g. "{name}同志：{org}的{title}……".
// Unknown placeholders are an error when the file is read (FILE:LINE:COL, with the known
// names), never at send time. "{{" and "}}" stand for literal braces.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.hpp"

namespace dutyd::notify {

// What a reminder says. Every field is ready-made text (dates as YYYY-MM-DD).
struct ReminderFacts {
  std::string name;      // the recipient: 张三
  std::string relation;  // the recipient's relation: 责任人, 主要负责人, 分管领导, ...
  std::string responsible;   // who owes the duty: 张三, or "（空缺）" when the post is vacant
  std::string org;           // 大连市委
  std::string citation;      // 第六条第（十六）项
  std::string title;         // the duty's short title
  std::string quote;         // the quoted clause of the regulation
  std::string due;           // 2026-07-31
  std::string window_start;  // 2026-01-01, empty for duties without a window
  int days_left = 0;         // > 0: days until due; 0: due today; < 0: days overdue
  std::string link;          // the completion link (signed)
  std::vector<std::string> others;  // who else this step tells: "李四（主要负责人）"
  int step = 0;                     // 1-based step number of the ladder
  bool overdue = false;
  bool via_vacancy = false;  // told because a post was vacant
};

// What an administrators' alert says (a permanent delivery failure, a channel without
// credentials).
struct AlertFacts {
  std::string channel;    // channel id
  std::string kind;       // channel kind: wecom, dingtalk, ...
  std::string problem;    // redacted error detail: "errcode 93000: invalid webhook url"
  std::string recipient;  // whom the failed message was for: 张三（责任人）
  std::string org;
  std::string title;  // the duty
  std::string due;
  std::string fallback;  // what dutyd did instead: "已改为发送电子邮件至 zhang@..." or "无"
};

// What the notice of a non-compliance flag (第二十七条) says to the discipline inspection organ
// and the organisation department. Ready-made text, as ReminderFacts.
struct FlagFacts {
  std::string name;                    // the recipient: 陶某
  std::string relation;                // 同级纪检监察机关, 组织部门
  std::string org;                     // the organisation that missed the duty
  std::string citation, title, quote;  // the duty
  std::string due;                     // 2026-06-30
  int days_late = 0;                   // when the flag was raised
  std::string art27;                   // 第二十七条第（二）项
  std::string art27_clause;            // its 情形, quoted
  std::string scope;                   // 集体责任 / 个人责任
  std::string responsible;             // 钱某（前任；现任欧阳明远）, or （空缺）
  std::string team;  // collective: 领导班子：…；主要负责人：…；分管领导：…; else empty
  std::string severity;               // 较轻 / 较重 / 严重
  std::string severity_reason;        // 逾期45天；……
  std::vector<std::string> measures;  // suggested (第二十八条)
  std::int64_t flag_id = 0;
};

// Which text. Pre-due and overdue reminders differ in tone; every one has an e-mail subject, an
// e-mail body and a chat text (chat titles are the subject).
struct Templates {
  std::string reminder_subject, reminder_body, reminder_chat;
  std::string overdue_subject, overdue_body, overdue_chat;
  std::string alert_subject, alert_body;
  std::string flag_subject, flag_body, flag_chat;
};

// The shipped texts (Chinese): who, what (citation and quote), due date, days left or overdue,
// the completion link and who else was told.
const Templates& default_templates();

// Reads a TOML file of overrides: a [templates] table whose keys are the Templates field names
// (reminder_subject, ...); a key left out keeps the shipped text. Errors (unknown key,
// unknown placeholder, unbalanced brace, not UTF-8) go to `diags` with FILE:LINE:COL and the
// shipped texts are returned for those keys.
Templates load_templates(const std::string& path, Diagnostics& diags);

// The placeholder names each template may use, for error messages and docs. Reminders: the
// ReminderFacts fields by name (others joined with "、", "无" when empty; step as a number),
// {days} = days_text(days_left) and {vacancy_note}: when via_vacancy a sentence saying the post
// is vacant so the reminder goes up, ending in a line break; else empty. Alerts: the AlertFacts
// fields ({fallback} "无" when empty). In subjects, CR and LF in a value become one space.
// Flags: the FlagFacts fields by name, {days} = days_text(-days_late), {measures} joined with
// "；" ("无" when empty), {team} ending in a line break when not empty, {flag_id} a number.
std::vector<std::string_view> reminder_placeholders();
std::vector<std::string_view> alert_placeholders();
std::vector<std::string_view> flag_placeholders();

struct RenderedMessage {
  std::string subject;  // one line
  std::string body;     // e-mail body (plain text)
  std::string chat;     // chat robot text
};
// Which texts a channel sends: e-mail the subject and body, chat robots (and the log) the
// subject and chat text. The part not wanted is left empty.
enum class Parts { all, email, chat };
RenderedMessage render_reminder(const Templates& t, const ReminderFacts& f,
                                Parts parts = Parts::all);
RenderedMessage render_alert(const Templates& t, const AlertFacts& f);
RenderedMessage render_flag(const Templates& t, const FlagFacts& f);

// "还有 3 天" / "今天到期" / "已逾期 5 天" — also the value of {days}.
std::string days_text(int days_left);

}  // namespace dutyd::notify
