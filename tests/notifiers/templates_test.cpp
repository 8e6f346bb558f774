#include "notifiers/templates.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace dutyd::notify {
namespace {

namespace fs = std::filesystem;

ReminderFacts sample() {
  ReminderFacts f;
  f.name = "张三";
  f.relation = "责任人";
  f.responsible = "张三";
  f.org = "中共大连市委";
  f.citation = "第六条第（一）项";
  f.title = "研究制定年度全面从严治党工作计划";
  f.quote = "每年年初研究制定全面从严治党、党风廉政建设工作计划，并作出安排部署。";
  f.due = "2026-02-28";
  f.window_start = "2026-01-01";
  f.days_left = 3;
  f.link = "https://dutyd.example.gov.cn/c/abc123";
  f.others = {"李四（主要负责人）", "王五（分管领导）"};
  f.step = 2;
  return f;
}

AlertFacts sample_alert() {
  AlertFacts a;
  a.channel = "dl-wecom";
  a.kind = "wecom";
  a.problem = "errcode 93000: invalid webhook url";
  a.recipient = "张三（责任人）";
  a.org = "中共大连市委";
  a.title = "研究制定年度全面从严治党工作计划";
  a.due = "2026-02-28";
  a.fallback = "已改为发送电子邮件至 zhang@example.gov.cn";
  return a;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    auto nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    v.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return v;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

std::string all(const Diagnostics& diags) {
  std::string s;
  for (const auto& d : diags.items()) s += format(d) + "\n";
  return s;
}

// A templates file in a fresh folder, removed with the test.
class TemplateFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dutyd-templates-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& text, const std::string& name = "templates.toml") {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  fs::path dir_;
};

TEST(Templates, DaysText) {
  EXPECT_EQ(days_text(3), "还有 3 天");
  EXPECT_EQ(days_text(1), "还有 1 天");
  EXPECT_EQ(days_text(0), "今天到期");
  EXPECT_EQ(days_text(-5), "已逾期 5 天");
}

TEST(Templates, DefaultReminderSaysWhoWhatWhenAndWhoElse) {
  const ReminderFacts f = sample();
  const RenderedMessage m = render_reminder(default_templates(), f);
  for (const std::string& fact : {f.name + "同志", f.org, f.citation, f.title, "“" + f.quote + "”",
                                  f.due, std::string("还有 3 天"), f.link, f.responsible,
                                  f.relation, std::string("李四（主要负责人）、王五（分管领导）")})
    EXPECT_NE(m.body.find(fact), std::string::npos) << fact << "\n" << m.body;
  EXPECT_TRUE(has_line(m.body, f.link)) << "the link stands on its own line\n" << m.body;
  EXPECT_EQ(m.body.find("空缺"), std::string::npos) << m.body;
  EXPECT_EQ(m.body.find("第二十七条"), std::string::npos) << "pre-due reminders do not threaten";

  for (const std::string& fact : {f.name, f.org, f.title, f.citation, f.due,
                                  std::string("还有 3 天"), std::string("李四（主要负责人）")})
    EXPECT_NE(m.chat.find(fact), std::string::npos) << fact << "\n" << m.chat;
  EXPECT_TRUE(has_line(m.chat, f.link)) << m.chat;
  EXPECT_LT(m.chat.size(), m.body.size()) << "chat text is the short one";

  for (const std::string& fact : {f.title, f.due, std::string("还有 3 天")})
    EXPECT_NE(m.subject.find(fact), std::string::npos) << fact << "\n" << m.subject;
  EXPECT_EQ(m.subject.find('\n'), std::string::npos);
}

// A channel gets only the texts it sends, each exactly as a full rendering has it.
TEST(Templates, PartsRenderOnlyWhatTheChannelSends) {
  for (bool overdue : {false, true}) {
    ReminderFacts f = sample();
    f.overdue = overdue;
    f.days_left = overdue ? -2 : 3;
    const RenderedMessage all = render_reminder(default_templates(), f);
    const RenderedMessage mail = render_reminder(default_templates(), f, Parts::email);
    const RenderedMessage chat = render_reminder(default_templates(), f, Parts::chat);
    ASSERT_FALSE(all.body.empty());
    ASSERT_FALSE(all.chat.empty());
    EXPECT_EQ(mail.subject, all.subject);
    EXPECT_EQ(mail.body, all.body);
    EXPECT_TRUE(mail.chat.empty());
    EXPECT_EQ(chat.subject, all.subject);
    EXPECT_EQ(chat.chat, all.chat);
    EXPECT_TRUE(chat.body.empty());
  }
}

TEST(Templates, NobodyElseToldSaysNone) {
  ReminderFacts f = sample();
  f.others.clear();
  const RenderedMessage m = render_reminder(default_templates(), f);
  EXPECT_TRUE(has_line(m.body, "同时告知：无")) << m.body;
  EXPECT_TRUE(has_line(m.chat, "同时告知：无")) << m.chat;
}

TEST(Templates, OverdueIsFirmerAndCitesArticle27) {
  ReminderFacts f = sample();
  f.overdue = true;
  f.days_left = -5;
  const RenderedMessage m = render_reminder(default_templates(), f);
  EXPECT_NE(m.subject.find("逾期"), std::string::npos) << m.subject;
  EXPECT_NE(m.subject.find("已逾期 5 天"), std::string::npos) << m.subject;
  for (const std::string& fact :
       {f.name + "同志", f.citation, "“" + f.quote + "”", f.due, std::string("已逾期 5 天"),
        std::string("第二十七条"), std::string("责任追究"), std::string("王五（分管领导）")})
    EXPECT_NE(m.body.find(fact), std::string::npos) << fact << "\n" << m.body;
  EXPECT_TRUE(has_line(m.body, f.link)) << m.body;
  EXPECT_NE(m.chat.find("第二十七条"), std::string::npos) << m.chat;
  EXPECT_TRUE(has_line(m.chat, f.link)) << m.chat;
}

TEST(Templates, VacancyExplainsWhyTheReminderWentUp) {
  ReminderFacts f = sample();
  f.via_vacancy = true;
  f.responsible = "（空缺）";
  f.relation = "上级党组织主要负责人";
  for (bool overdue : {false, true}) {
    f.overdue = overdue;
    const RenderedMessage m = render_reminder(default_templates(), f);
    const std::string note = "因中共大连市委相关职务空缺，本事项依规提级报送您，请督促落实。";
    EXPECT_NE(m.body.find(note), std::string::npos) << m.body;
    EXPECT_NE(m.chat.find(note), std::string::npos) << m.chat;
    EXPECT_NE(m.body.find("责任人：（空缺）"), std::string::npos) << m.body;
  }
  // Without a vacancy the note leaves no empty line behind.
  f.via_vacancy = false;
  f.overdue = false;
  const RenderedMessage m = render_reminder(default_templates(), f);
  EXPECT_EQ(lines_of(m.chat).size(), 5u) << m.chat;
}

TEST(Templates, NoDefaultLeavesAPlaceholder) {
  for (bool overdue : {false, true})
    for (bool vacancy : {false, true}) {
      ReminderFacts f = sample();
      f.overdue = overdue;
      f.via_vacancy = vacancy;
      const RenderedMessage m = render_reminder(default_templates(), f);
      for (const std::string* s : {&m.subject, &m.body, &m.chat}) {
        EXPECT_EQ(s->find_first_of("{}"), std::string::npos) << *s;
        EXPECT_FALSE(s->empty());
      }
    }
  const RenderedMessage a = render_alert(default_templates(), sample_alert());
  for (const std::string* s : {&a.subject, &a.body, &a.chat}) {
    EXPECT_EQ(s->find_first_of("{}"), std::string::npos) << *s;
    EXPECT_FALSE(s->empty());
  }
}

TEST(Templates, EveryPlaceholderRenders) {
  Templates t = default_templates();
  t.reminder_body.clear();
  for (auto p : reminder_placeholders()) t.reminder_body += "[{" + std::string(p) + "}]";
  t.alert_body.clear();
  for (auto p : alert_placeholders()) t.alert_body += "[{" + std::string(p) + "}]";
  ReminderFacts f = sample();
  f.via_vacancy = true;
  const RenderedMessage m = render_reminder(t, f);
  EXPECT_EQ(m.body.find_first_of("{}"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("[2]"), std::string::npos) << "step as a number: " << m.body;
  EXPECT_NE(m.body.find("[2026-01-01]"), std::string::npos) << m.body;
  const RenderedMessage a = render_alert(t, sample_alert());
  EXPECT_EQ(a.body.find_first_of("{}"), std::string::npos) << a.body;
  EXPECT_NE(a.body.find("[errcode 93000: invalid webhook url]"), std::string::npos) << a.body;
  EXPECT_EQ(a.chat, a.body);
}

TEST(Templates, DefaultAlertNamesChannelProblemAndFallback) {
  const AlertFacts f = sample_alert();
  const RenderedMessage m = render_alert(default_templates(), f);
  for (const std::string& fact :
       {f.channel, f.kind, f.problem, f.recipient, f.org, f.title, f.due, f.fallback})
    EXPECT_NE(m.body.find(fact), std::string::npos) << fact << "\n" << m.body;
  EXPECT_NE(m.subject.find(f.channel), std::string::npos) << m.subject;
  AlertFacts none = f;
  none.fallback.clear();
  EXPECT_TRUE(has_line(render_alert(default_templates(), none).body, "已采取的措施：无"));
}

FlagFacts sample_flag() {
  FlagFacts f;
  f.name = "陶𨭉";
  f.relation = "同级纪检监察机关";
  f.org = "中共大连市委";
  f.citation = "第六条第（一）项";
  f.title = "专题分析研究全面从严治党形势（2026年上半年）";
  f.quote = "每半年至少专题分析研究一次全面从严治党、党风廉政建设工作形势。";
  f.due = "2026-06-30";
  f.days_late = 6;
  f.art27 = "第二十七条第（二）项";
  f.art27_clause = "职责范围发生区域性、系统性严重违纪违法案件。";
  f.scope = "集体责任";
  f.responsible = "钱某（前任；现任欧阳明远）";
  f.team = "领导班子：中共大连市委；主要负责人：钱某；分管领导：吕某";
  f.severity = "较轻";
  f.severity_reason = "逾期6天";
  f.measures = {"责令作出书面检查"};
  f.flag_id = 7;
  return f;
}

TEST(Templates, DefaultFlagNoticeSaysWhatWhoHowSevereAndWhatIsSuggested) {
  const FlagFacts f = sample_flag();
  const RenderedMessage m = render_flag(default_templates(), f);
  for (const std::string& fact :
       {f.name, f.relation, f.org, f.citation, f.title, f.quote, f.due, f.art27, f.art27_clause,
        f.scope, f.responsible, f.team, f.severity, f.severity_reason, f.measures[0]})
    EXPECT_NE(m.body.find(fact), std::string::npos) << fact << "\n" << m.body;
  EXPECT_NE(m.body.find("已逾期 6 天"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("编号7"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("第二十九条"), std::string::npos) << m.body;
  EXPECT_TRUE(has_line(m.body, "领导班子：中共大连市委；主要负责人：钱某；分管领导：吕某"))
      << m.body;
  EXPECT_NE(m.subject.find("第二十七条第（二）项"), std::string::npos) << m.subject;
  EXPECT_EQ(m.subject.find_first_of("\r\n"), std::string::npos) << m.subject;
  EXPECT_NE(m.chat.find(f.responsible), std::string::npos) << m.chat;
  for (const std::string* s : {&m.subject, &m.body, &m.chat})
    EXPECT_EQ(s->find_first_of("{}"), std::string::npos) << *s;
  // An individual flag has no team line and no empty line in its place.
  FlagFacts one = f;
  one.team.clear();
  one.measures.clear();
  const RenderedMessage i = render_flag(default_templates(), one);
  EXPECT_EQ(i.body.find("领导班子"), std::string::npos) << i.body;
  EXPECT_EQ(i.body.find("\n\n情节"), std::string::npos) << i.body;
  EXPECT_NE(i.body.find("建议措施（第二十八条，供研究决定参考）：无"), std::string::npos) << i.body;
}

TEST(Templates, EveryFlagPlaceholderRenders) {
  Templates t = default_templates();
  t.flag_body.clear();
  for (auto p : flag_placeholders()) t.flag_body += "[{" + std::string(p) + "}]";
  FlagFacts f = sample_flag();
  f.measures.push_back("通报批评");
  const RenderedMessage m = render_flag(t, f);
  EXPECT_EQ(m.body.find_first_of("{}"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("[7]"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("[责令作出书面检查；通报批评]"), std::string::npos) << m.body;
}

TEST(Templates, DoubledBracesAreLiteral) {
  Templates t = default_templates();
  t.reminder_body = "{{name}} {name} }} {{";
  t.reminder_subject = "{{{name}}}";
  const RenderedMessage m = render_reminder(t, sample());
  EXPECT_EQ(m.body, "{name} 张三 } {");
  EXPECT_EQ(m.subject, "{张三}");
}

TEST(Templates, SubjectIsOneLineWhateverTheFacts) {
  ReminderFacts f = sample();
  f.title = "第一行\n第二行\r\n第三行\r";
  f.org = "\n市委";
  for (bool overdue : {false, true}) {
    f.overdue = overdue;
    const RenderedMessage m = render_reminder(default_templates(), f);
    EXPECT_EQ(m.subject.find_first_of("\r\n"), std::string::npos) << m.subject;
    EXPECT_NE(m.subject.find("第一行 第二行 第三行 "), std::string::npos) << m.subject;
  }
  Templates t = default_templates();
  t.reminder_subject = "两行\n{title}";  // built in code, not read from a file
  EXPECT_EQ(render_reminder(t, sample()).subject.find_first_of("\r\n"), std::string::npos);
  AlertFacts a = sample_alert();
  a.channel = "x\ny";
  EXPECT_EQ(render_alert(default_templates(), a).subject.find_first_of("\r\n"), std::string::npos);
}

TEST_F(TemplateFile, OverridesReplaceOnlyTheKeysGiven) {
  Diagnostics diags;
  const Templates t = load_templates(write("# 本单位的提醒用语\n"
                                           "[templates]\n"
                                           "reminder_subject = \"【提醒】{title}：{due}\"\n"
                                           "overdue_chat = '''\n"
                                           "{name}同志：{title}{days}。\n"
                                           "{link}'''\n"
                                           "alert_body = \"{{{channel}}} {problem}\"\n"
                                           "flag_subject = \"【本单位问责提示】{org}{title}\"\n"),
                                     diags);
  EXPECT_EQ(diags.items().size(), 0u) << all(diags);
  const Templates& d = default_templates();
  EXPECT_EQ(t.reminder_subject, "【提醒】{title}：{due}");
  EXPECT_EQ(t.overdue_chat, "{name}同志：{title}{days}。\n{link}");
  EXPECT_EQ(t.alert_body, "{{{channel}}} {problem}");
  EXPECT_EQ(t.reminder_body, d.reminder_body);
  EXPECT_EQ(t.reminder_chat, d.reminder_chat);
  EXPECT_EQ(t.overdue_subject, d.overdue_subject);
  EXPECT_EQ(t.overdue_body, d.overdue_body);
  EXPECT_EQ(t.alert_subject, d.alert_subject);
  EXPECT_EQ(t.flag_subject, "【本单位问责提示】{org}{title}");
  EXPECT_EQ(t.flag_body, d.flag_body);
  EXPECT_EQ(t.flag_chat, d.flag_chat);

  ReminderFacts f = sample();
  EXPECT_EQ(render_reminder(t, f).subject, "【提醒】研究制定年度全面从严治党工作计划：2026-02-28");
  f.overdue = true;
  f.days_left = -2;
  EXPECT_EQ(render_reminder(t, f).chat,
            "张三同志：研究制定年度全面从严治党工作计划已逾期 2 "
            "天。\nhttps://dutyd.example.gov.cn/c/abc123");
  EXPECT_EQ(render_alert(t, sample_alert()).body, "{dl-wecom} errcode 93000: invalid webhook url");
}

TEST_F(TemplateFile, ErrorsNameLineColumnAndWhatToDo) {
  struct Case {
    std::string text;
    std::uint32_t line, column;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"[templates]\nreminder_subject = \"x\"\nreminder_sujbect = \"y\"\n", 3, 1,
       "unknown key 'reminder_sujbect' in [templates] — did you mean 'reminder_subject'?"},
      {"title = \"x\"\n[templates]\n", 1, 1, "unknown key 'title'"},
      {"[templates]\n\nreminder_body = 42\n", 3, 17, "'reminder_body' must be a string"},
      {"[templates]\nreminder_body = \"\"\"\n第一行\n  第二行 {nmae} 结束\n\"\"\"\n", 4, 7,
       "unknown placeholder '{nmae}' in reminder_body — did you mean '{name}'?"},
      {"[templates]\nalert_body = \"{channel} {name}\"\n", 2, 25,
       "unknown placeholder '{name}' in alert_body"},
      {"[templates]\nflag_chat = \"{org} {link}\"\n", 2, 20,
       "unknown placeholder '{link}' in flag_chat"},
      {"[templates]\nreminder_chat = \"前文 {name 后文\"\n", 2, 21, "unbalanced '{'"},
      {"[templates]\nreminder_chat = \"\"\"\n第一行\n{name}}\n\"\"\"\n", 4, 7, "unbalanced '}'"},
      {"[templates]\nreminder_subject = \"第一行\\n第二行\"\n", 2, 20,
       "a line break in reminder_subject"},
      {"[templates]\nreminder_subject = \"\"\"第一行\n第二行\"\"\"\n", 2, 26,
       "a line break in reminder_subject"},
      {"[templates]\noverdue_body = \"\"\n", 2, 16, "'overdue_body' is empty"},
      {"[templates]\n# 说明\nreminder_body = \"好\xff\"\n", 3, 19, "not valid UTF-8"},
      {"[templates]\nreminder_body = \"未闭合\n", 2, 0, "TOML syntax"},
      {"templates = 3\n", 1, 13, "'templates' must be a table"},
  };
  for (const Case& c : cases) {
    Diagnostics diags;
    const std::string path = write(c.text);
    const Templates t = load_templates(path, diags);
    ASSERT_EQ(diags.error_count(), 1u) << c.text << "\n" << all(diags);
    const Diagnostic& d = diags.items().front();
    EXPECT_EQ(d.file, path);
    EXPECT_EQ(d.line, c.line) << c.text << "\n" << format(d);
    if (c.column) {
      EXPECT_EQ(d.column, c.column) << c.text << "\n" << format(d);
    }
    EXPECT_NE(d.message.find(c.says), std::string::npos) << format(d);
    EXPECT_NE(d.message.find(" — "), std::string::npos) << "says what to do: " << format(d);
    EXPECT_EQ(t.reminder_body, default_templates().reminder_body)
        << "a bad text keeps the shipped one";
  }
}

TEST_F(TemplateFile, ABadKeyKeepsItsShippedTextAndTheOthersApply) {
  Diagnostics diags;
  const Templates t = load_templates(write("[templates]\n"
                                           "reminder_subject = \"{title} {due\"\n"
                                           "reminder_chat = \"{name} {link}\"\n"),
                                     diags);
  EXPECT_EQ(diags.error_count(), 1u) << all(diags);
  EXPECT_EQ(t.reminder_subject, default_templates().reminder_subject);
  EXPECT_EQ(t.reminder_chat, "{name} {link}");
}

TEST_F(TemplateFile, UnknownPlaceholderListsTheKnownOnes) {
  Diagnostics diags;
  load_templates(write("[templates]\nreminder_body = \"{who}\"\n"), diags);
  ASSERT_EQ(diags.error_count(), 1u);
  for (auto p : reminder_placeholders())
    EXPECT_NE(diags.items()[0].message.find("{" + std::string(p) + "}"), std::string::npos) << p;
}

TEST_F(TemplateFile, MissingFileAndEmptyFile) {
  Diagnostics diags;
  const std::string missing = (dir_ / "nowhere.toml").string();
  const Templates t = load_templates(missing, diags);
  ASSERT_EQ(diags.error_count(), 1u);
  EXPECT_EQ(diags.items()[0].file, missing);
  EXPECT_NE(diags.items()[0].message.find("cannot open the templates file"), std::string::npos);
  EXPECT_EQ(t.overdue_body, default_templates().overdue_body);

  Diagnostics empty;
  load_templates(write("# nothing yet\n"), empty);
  EXPECT_EQ(empty.error_count(), 0u);
  EXPECT_EQ(empty.warning_count(), 1u) << all(empty);
}

TEST(Templates, TheDocumentedExampleLoads) {
  Diagnostics diags;
  const Templates t =
      load_templates(std::string(DUTYD_SOURCE_DIR) + "/config/examples/templates.toml", diags);
  EXPECT_EQ(diags.items().size(), 0u) << all(diags);
  EXPECT_NE(t.reminder_subject, default_templates().reminder_subject);
  EXPECT_EQ(t.reminder_body, default_templates().reminder_body);
  ReminderFacts f = sample();
  f.via_vacancy = true;
  for (bool overdue : {false, true}) {
    f.overdue = overdue;
    const RenderedMessage m = render_reminder(t, f);
    EXPECT_TRUE(has_line(m.chat, f.link)) << m.chat;
    EXPECT_EQ(m.chat.find_first_of("{}"), std::string::npos) << m.chat;
  }
}

}  // namespace
}  // namespace dutyd::notify
