// Non-compliance flags in the store: raising is idempotent and audited, with its notices in the
// same transaction; the 第二十九条 workflow (提出 -> 报批 -> 调查 -> 决定 -> 实施, or 撤销 with a
// reason) refuses illegal steps with what is allowed; a decision records its measure and impact
// periods; every step is one transition row and one audit row; the counts grading needs; the
// v3 -> v4 migration; the quoted items of 第二十七条.
#include "calendar/flags.hpp"

#include <fstream>
#include <sstream>

#include "calendar/accountability.hpp"
#include "store/store.hpp"
#include "support/support.hpp"

namespace dutyd {
namespace {

using test::fresh_db;

constexpr std::int64_t kT0 = 1783296000;  // 2026-07-06T00:00:00Z
const std::string kNow = "2026-07-06T00:00:00Z";
const std::string kOcc = "a6.1.analysis/dl/2026H1@dutyd";

FlagInput input(const std::string& occurrence = kOcc, Day due = make_day(2026, 6, 30)) {
  FlagInput f;
  f.occurrence = occurrence;
  f.org = "dl";
  f.obligation = "a6.1.analysis";
  f.citation = "第六条第（一）项";
  f.title = "专题分析研究全面从严治党形势（2026年上半年）";
  f.art27 = 2;
  f.art27_clause = "职责范围发生区域性、系统性严重违纪违法案件。";
  f.window_start = make_day(2026, 1, 1);
  f.due = due;
  f.raised_on = make_day(2026, 7, 6);
  f.days_late = f.raised_on - due;
  f.scope = "collective";
  f.responsible = "p-qian";
  f.incumbent = "p-ouyang";
  f.responsible_moved_on = true;
  f.team_org = "dl";
  f.principal = "p-qian";
  f.in_charge = {"p-lv", "p-he"};
  f.severity = "light";
  f.severity_reason = "逾期6天";
  f.suggested_measures = {"责令作出书面检查"};
  return f;
}

OutboxEntry notice(const std::string& person, const std::string& channel) {
  OutboxEntry e;
  e.occurrence = kOcc;
  e.step = -1;
  e.person = person;
  e.channel = channel;
  e.org = "dl";
  e.relation = "discipline-organ";
  e.send_at = kT0;
  e.subject = "【问责提示】";
  e.purpose = "flag";
  return e;
}

std::vector<std::string> audit_actions(Store& s) {
  std::vector<std::string> out;
  SQLite::Statement q(s.db(), "SELECT action FROM audit ORDER BY id");
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  return out;
}

TEST(Flags, RaiseIsIdempotentAuditedAndKeepsWhatItSays) {
  Store s(fresh_db("flags-raise.db"));
  const auto first = s.raise_flag(input(), "宽限期5天后仍未完成", {}, kT0);
  ASSERT_TRUE(first.created);
  const FlagRecord& f = first.flag;
  EXPECT_GT(f.id, 0);
  EXPECT_EQ(f.status, "raised");
  EXPECT_EQ(f.occurrence, kOcc);
  EXPECT_EQ(f.due, make_day(2026, 6, 30));
  EXPECT_EQ(f.window_start, make_day(2026, 1, 1));
  EXPECT_EQ(f.raised_on, make_day(2026, 7, 6));
  EXPECT_EQ(f.days_late, 6);
  EXPECT_EQ(f.scope, "collective");
  EXPECT_EQ(f.responsible, "p-qian");
  EXPECT_EQ(f.incumbent, "p-ouyang");
  EXPECT_TRUE(f.responsible_moved_on);
  EXPECT_EQ(f.in_charge, (std::vector<std::string>{"p-lv", "p-he"}));
  EXPECT_EQ(f.suggested_measures, (std::vector<std::string>{"责令作出书面检查"}));
  EXPECT_EQ(f.art27, 2);
  EXPECT_EQ(f.raised_at, kNow);
  EXPECT_TRUE(f.impacts.empty());
  EXPECT_FALSE(f.decided_on);

  FlagInput again = input();
  again.severity = "grave";  // a later pass grades differently: the first flag stands
  const auto second = s.raise_flag(again, "again", {}, kT0 + 86400);
  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.flag.id, f.id);
  EXPECT_EQ(second.flag.severity, "light");
  EXPECT_EQ(s.flags({}).size(), 1u);

  const auto tr = s.flag_transitions(f.id);
  ASSERT_EQ(tr.size(), 1u);
  EXPECT_EQ(tr[0].from, "");
  EXPECT_EQ(tr[0].to, "raised");
  EXPECT_EQ(tr[0].actor, "dutyd");
  EXPECT_EQ(tr[0].reason, "宽限期5天后仍未完成");
  EXPECT_EQ(audit_actions(s), (std::vector<std::string>{"flag.raise"}));
  EXPECT_EQ(s.flag_of(kOcc)->id, f.id);
  EXPECT_FALSE(s.flag_of("a6.1.plan/dl/2026@dutyd"));
}

TEST(Flags, NoticesAreWrittenWithTheFlagAndOutliveACompletion) {
  Store s(fresh_db("flags-notices.db"));
  // The occurrence was completed late, after the grace period: the flag and its notices stand.
  CompletionInput c;
  c.uid = kOcc;
  c.done_on = make_day(2026, 7, 8);
  c.recorded_by = "p-ouyang";
  c.channel = "api";
  s.record_completion(c, true, "2026-07-08T01:00:00Z");
  const auto r =
      s.raise_flag(input(), "r", {notice("p-tao", "mail"), notice("p-tao", "dl-ding")}, kT0);
  ASSERT_TRUE(r.created);
  DeliveryFilter f;
  f.occurrence = kOcc;
  auto rows = s.deliveries(f);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& d : rows) {
    EXPECT_EQ(d.purpose, "flag");
    EXPECT_EQ(d.step, -1);
    EXPECT_EQ(d.status, "queued");
  }
  // A raise that finds the flag writes no notices again.
  EXPECT_FALSE(s.raise_flag(input(), "r", {notice("p-shi", "mail")}, kT0 + 60).created);
  EXPECT_EQ(s.deliveries(f).size(), 2u);
  // A completion recorded afterwards cancels reminders, not the flag's notices.
  c.done_on = make_day(2026, 7, 9);
  c.note = "补充";
  s.record_completion(c, true, "2026-07-09T01:00:00Z");
  for (const auto& d : s.deliveries(f)) EXPECT_EQ(d.status, "queued");
}

TEST(Flags, TheWholeWorkflowWithItsAuditRows) {
  Store s(fresh_db("flags-workflow.db"));
  const std::int64_t id = s.raise_flag(input(), "r", {}, kT0).flag.id;
  EXPECT_EQ(
      s.advance_flag(id, "cli:zhang", "报分管领导审批", "", std::nullopt, "2026-07-07T01:00:00Z")
          .status,
      "submitted");
  EXPECT_EQ(
      s.advance_flag(id, "admin:token-1", "纪委启动调查", "", std::nullopt, "2026-07-08T01:00:00Z")
          .status,
      "investigating");
  const Day decided = make_day(2026, 8, 3);
  const FlagRecord d = s.advance_flag(id, "cli:zhang", "常委会研究决定", "诫勉谈话", decided,
                                      "2026-08-03T02:00:00Z");
  EXPECT_EQ(d.status, "decided");
  EXPECT_EQ(d.measure, "admonishment");
  ASSERT_TRUE(d.decided_on);
  EXPECT_EQ(*d.decided_on, decided);
  const auto expected = impact_of(Measure::admonishment, decided);
  ASSERT_FALSE(expected.empty());
  ASSERT_EQ(d.impacts.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(d.impacts[i].what, expected[i].what);
    EXPECT_EQ(d.impacts[i].until, expected[i].until);
    EXPECT_GT(d.impacts[i].until, decided);
  }
  EXPECT_EQ(
      s.advance_flag(id, "cli:zhang", "已谈话", "", std::nullopt, "2026-08-10T02:00:00Z").status,
      "implemented");

  const auto tr = s.flag_transitions(id);
  ASSERT_EQ(tr.size(), 5u);
  const std::vector<std::pair<std::string, std::string>> steps{{"", "raised"},
                                                               {"raised", "submitted"},
                                                               {"submitted", "investigating"},
                                                               {"investigating", "decided"},
                                                               {"decided", "implemented"}};
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(tr[i].from, steps[i].first);
    EXPECT_EQ(tr[i].to, steps[i].second);
  }
  EXPECT_EQ(tr[1].actor, "cli:zhang");
  EXPECT_EQ(tr[2].actor, "admin:token-1");
  EXPECT_EQ(tr[3].reason, "常委会研究决定");
  EXPECT_EQ(tr[3].at, "2026-08-03T02:00:00Z");
  EXPECT_EQ(audit_actions(s),
            (std::vector<std::string>{"flag.raise", "flag.advance", "flag.advance", "flag.advance",
                                      "flag.advance"}));
  SQLite::Statement q(s.db(), "SELECT actor, detail FROM audit WHERE id = 4");
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(q.getColumn(0).getString(), "cli:zhang");
  const std::string detail = q.getColumn(1).getString();
  EXPECT_NE(detail.find("to=decided"), std::string::npos) << detail;
  EXPECT_NE(detail.find("measure=admonishment"), std::string::npos) << detail;
  EXPECT_NE(detail.find("reason=常委会研究决定"), std::string::npos) << detail;
  const AuditCheck check = s.verify_audit();
  EXPECT_EQ(check.rows, 5);
  EXPECT_FALSE(check.first_broken) << check.problem;

  // The workflow has ended.
  try {
    s.advance_flag(id, "cli:zhang", "", "", std::nullopt, kNow);
    FAIL() << "advanced past 实施";
  } catch (const FlagError& e) {
    EXPECT_EQ(e.kind, FlagError::conflict);
    EXPECT_NE(std::string(e.what()).find("实施 (implemented)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nothing"), std::string::npos) << e.what();
  }
  try {
    s.dismiss_flag(id, "cli:zhang", "情况说明已采纳", kNow);
    FAIL() << "dismissed after 实施";
  } catch (const FlagError& e) {
    EXPECT_EQ(e.kind, FlagError::conflict);
  }
  EXPECT_EQ(s.flag_transitions(id).size(), 5u);
  EXPECT_EQ(s.verify_audit().rows, 5);
}

TEST(Flags, ADecisionNeedsAMeasureAndItsDate) {
  Store s(fresh_db("flags-decision.db"));
  const std::int64_t id = s.raise_flag(input(), "r", {}, kT0).flag.id;
  // A measure before 决定 is refused: it would be lost.
  try {
    s.advance_flag(id, "cli:zhang", "", "admonishment", make_day(2026, 7, 10), kNow);
    FAIL();
  } catch (const FlagError& e) {
    EXPECT_EQ(e.kind, FlagError::invalid);
  }
  s.advance_flag(id, "cli:zhang", "", "", std::nullopt, kNow);
  s.advance_flag(id, "cli:zhang", "", "", std::nullopt, kNow);
  for (const auto& [measure, date] :
       std::vector<std::pair<std::string, std::optional<Day>>>{{"", make_day(2026, 7, 10)},
                                                               {"admonishment", std::nullopt},
                                                               {"罚款", make_day(2026, 7, 10)}}) {
    try {
      s.advance_flag(id, "cli:zhang", "", measure, date, kNow);
      FAIL() << measure;
    } catch (const FlagError& e) {
      EXPECT_EQ(e.kind, FlagError::invalid);
      EXPECT_NE(std::string(e.what()).find("dismissal"), std::string::npos)
          << e.what();  // lists the names
    }
  }
  EXPECT_EQ(s.flag(id)->status, "investigating");
  // 免职: a year without a post, two years not above the former level.
  const FlagRecord d =
      s.advance_flag(id, "cli:zhang", "", "dismissal", make_day(2026, 7, 10), kNow);
  EXPECT_EQ(d.measure, "dismissal");
  EXPECT_EQ(d.impacts.size(), impact_of(Measure::dismissal, make_day(2026, 7, 10)).size());
  SQLite::Statement q(s.db(), "SELECT impact_until FROM flags WHERE id = ?");
  q.bind(1, id);
  ASSERT_TRUE(q.executeStep());
  Day latest = 0;
  for (const auto& i : d.impacts) latest = std::max(latest, i.until);
  EXPECT_EQ(q.getColumn(0).getString(), format_day(latest));
}

TEST(Flags, DismissNeedsAReasonAndHappensOnce) {
  Store s(fresh_db("flags-dismiss.db"));
  const std::int64_t id = s.raise_flag(input(), "r", {}, kT0).flag.id;
  try {
    s.dismiss_flag(id, "cli:zhang", "  ", kNow);
    FAIL();
  } catch (const FlagError& e) {
    EXPECT_EQ(e.kind, FlagError::invalid);
  }
  s.advance_flag(id, "cli:zhang", "", "", std::nullopt, kNow);
  const FlagRecord d = s.dismiss_flag(id, "admin:token-2", "情况说明已采纳：因疫情推迟，已补报",
                                      "2026-07-09T03:00:00Z");
  EXPECT_EQ(d.status, "dismissed");
  EXPECT_EQ(d.dismiss_reason, "情况说明已采纳：因疫情推迟，已补报");
  const auto tr = s.flag_transitions(id);
  ASSERT_EQ(tr.size(), 3u);
  EXPECT_EQ(tr[2].from, "submitted");
  EXPECT_EQ(tr[2].to, "dismissed");
  EXPECT_EQ(tr[2].actor, "admin:token-2");
  EXPECT_EQ(audit_actions(s).back(), "flag.dismiss");
  try {
    s.dismiss_flag(id, "cli:zhang", "again", kNow);
    FAIL();
  } catch (const FlagError& e) {
    EXPECT_EQ(e.kind, FlagError::conflict);
    EXPECT_NE(std::string(e.what()).find("撤销 (dismissed)"), std::string::npos) << e.what();
  }
  try {
    s.advance_flag(id, "cli:zhang", "", "", std::nullopt, kNow);
    FAIL();
  } catch (const FlagError& e) {
    EXPECT_EQ(e.kind, FlagError::conflict);
  }
  try {
    s.advance_flag(id + 1, "cli:zhang", "", "", std::nullopt, kNow);
    FAIL();
  } catch (const FlagError& e) {
    EXPECT_EQ(e.kind, FlagError::not_found);
  }
  EXPECT_FALSE(s.verify_audit().first_broken);
}

TEST(Flags, ListsAndCountsForGrading) {
  Store s(fresh_db("flags-counts.db"));
  // The same duty missed in 2025H1, 2025H2 and 2026H1, another duty in 2026.
  const std::int64_t a =
      s.raise_flag(input("a6.1.analysis/dl/2025H1@dutyd", make_day(2025, 6, 30)), "r", {}, kT0)
          .flag.id;
  s.raise_flag(input("a6.1.analysis/dl/2025H2@dutyd", make_day(2025, 12, 31)), "r", {}, kT0);
  s.raise_flag(input(kOcc, make_day(2026, 6, 30)), "r", {}, kT0);
  FlagInput other = input("a6.1.plan/dl/2026@dutyd", make_day(2026, 2, 28));
  other.obligation = "a6.1.plan";
  s.raise_flag(other, "r", {}, kT0);
  FlagInput elsewhere = input("a6.1.analysis/wfd/2026H1@dutyd", make_day(2026, 6, 30));
  elsewhere.org = "wfd";
  s.raise_flag(elsewhere, "r", {}, kT0);

  // Earlier misses of the duty at the organisation due strictly inside the window.
  EXPECT_EQ(s.count_flags("a6.1.analysis", "dl", make_day(2025, 3, 1), make_day(2026, 6, 30)), 2);
  EXPECT_EQ(s.count_flags("a6.1.analysis", "dl", make_day(2025, 6, 30), make_day(2026, 6, 30)), 1);
  EXPECT_EQ(s.count_flags("a6.1.analysis", "wfd", make_day(2025, 3, 1), make_day(2026, 6, 30)), 0);
  EXPECT_EQ(s.open_flags("dl"), 4);
  s.dismiss_flag(a, "cli:zhang", "情况说明已采纳", kNow);  // a dismissed flag is no miss
  EXPECT_EQ(s.count_flags("a6.1.analysis", "dl", make_day(2025, 3, 1), make_day(2026, 6, 30)), 1);
  EXPECT_EQ(s.open_flags("dl"), 3);

  EXPECT_EQ(s.flags({}).size(), 5u);
  FlagFilter f;
  f.org = "dl";
  const auto dl = s.flags(f);
  ASSERT_EQ(dl.size(), 4u);
  for (std::size_t i = 1; i < dl.size(); ++i)
    EXPECT_LE(dl[i - 1].due, dl[i].due);  // earliest due first
  f.status = "dismissed";
  EXPECT_EQ(s.flags(f).size(), 1u);
  f = {};
  f.occurrence = kOcc;
  EXPECT_EQ(s.flags(f).size(), 1u);
  EXPECT_EQ(s.flagged_occurrences().size(), 5u);
  EXPECT_TRUE(s.flagged_occurrences().count(kOcc));

  CompletionInput c;
  c.uid = kOcc;
  c.recorded_by = "cli:x";
  c.channel = "cli";
  c.done_on = make_day(2026, 7, 20);
  s.record_completion(c, true, kNow);
  c.done_on = make_day(2026, 7, 2);
  s.record_completion(c, true, kNow);
  const auto days = s.completion_days();
  ASSERT_EQ(days.count(kOcc), 1u);
  EXPECT_EQ(days.at(kOcc), (std::vector<Day>{make_day(2026, 7, 2), make_day(2026, 7, 20)}));
}

// A version 3 database (the previous dutyd's) gains the flag tables in place.
TEST(Flags, MigratesAVersion3DatabaseInPlace) {
  const std::string path = fresh_db("flags-v3.db");
  {
    Store s(path);
    s.enqueue_deliveries({notice("p-tao", "mail")}, kT0);
    s.db().exec("DROP TABLE delivery_claims");
    s.db().exec("DROP TABLE events");
    s.db().exec("DROP TABLE flag_transitions");
    s.db().exec("DROP TABLE flags");
    s.db().exec("PRAGMA user_version = 3");
  }
  Store s(path);
  EXPECT_EQ(s.db().execAndGet("PRAGMA user_version").getInt(), Store::kSchemaVersion);
  EXPECT_TRUE(s.db().tableExists("flags"));
  EXPECT_TRUE(s.db().tableExists("flag_transitions"));
  EXPECT_EQ(s.deliveries({}).size(), 1u);
  EXPECT_TRUE(s.raise_flag(input(), "r", {}, kT0).created);
}

// Each item's 情形 is quoted verbatim from that item of 第二十七条 in the regulation text.
TEST(Flags, Article27ClausesAreVerbatim) {
  std::ifstream in(test::source_dir() / "config/catalogue/implementation-rules.zh.txt",
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const auto start = text.find("\n第二十七条");
  const auto end = text.find("\n第二十八条");
  ASSERT_NE(start, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const std::string article = text.substr(start, end - start);
  const char* items[] = {"(一)", "(二)", "(三)", "(四)", "(五)"};
  for (int i = 1; i <= 5; ++i) {
    const auto at = article.find(std::string("\n") + items[i - 1]);
    ASSERT_NE(at, std::string::npos) << i;
    const auto next = i < 5 ? article.find(std::string("\n") + items[i]) : article.size();
    const std::string item = article.substr(at, next - at);
    const std::string clause(article27_clause(i));
    ASSERT_FALSE(clause.empty()) << i;
    EXPECT_EQ(item.find(std::string("\n") + items[i - 1] + clause), 0u)
        << "item " << i << ": " << clause;
  }
  EXPECT_TRUE(article27_clause(0).empty());
  EXPECT_TRUE(article27_clause(6).empty());
}

TEST(Flags, StatusNames) {
  EXPECT_EQ(flag_statuses(), "raised, submitted, investigating, decided, implemented, dismissed");
  EXPECT_TRUE(is_flag_status("decided"));
  EXPECT_FALSE(is_flag_status("决定"));
  EXPECT_FALSE(is_flag_status("open"));
  EXPECT_EQ(flag_severity_zh("grave"), "严重");
}

}  // namespace
}  // namespace dutyd
