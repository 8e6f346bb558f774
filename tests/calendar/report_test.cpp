// The annual report's aggregation (calendar/report.hpp) on the hand-checked scenario of
// tests/daemon/report/ (its catalogue has five duties: a6.16.report-jan team 31 January,
// a6.1.plan team 31 March, a6.1.analysis team 30 June and 31 December, a7.6.meetings principal
// 31 December twice, a8.6.research member 31 December; grace 5 days). Completions and flags are
// given in code, as the store would hand them over; the integration test (test_reports.py)
// drives the same scenario through the real daemon.
#include "calendar/report.hpp"
#include "base/text.hpp"

#include <sstream>

#include "support/support.hpp"

namespace dutyd {
namespace {

Day day(const char* text) {
  return parse_day(text).value();
}

FlagRecord flag(std::int64_t id, const std::string& uid, const std::string& org, const char* due,
                const char* raised_on, int art27, const std::string& severity,
                const std::string& status) {
  FlagRecord f;
  f.id = id;
  f.occurrence = uid;
  f.org = org;
  f.due = day(due);
  f.raised_on = day(raised_on);
  f.art27 = art27;
  f.severity = severity;
  f.status = status;
  return f;
}

class ReportTest : public ::testing::Test {
 protected:
  ReportTest()
      : loaded(
            load_config((test::source_dir() / "tests/daemon/report/scenario.toml").string(),
                        {(test::source_dir() / "tests/daemon/report/catalogue.toml").string()})) {
    for (const auto& d : loaded.diagnostics.items())
      if (d.severity == Severity::error) ADD_FAILURE() << format(d);
    // 甲 (city principal until 30 April): January report on time, plan on 3 April (late, within
    // grace). 乙: nothing. 丁 (county principal): January report never (flagged, a measure
    // decided), plan on 20 May (late after grace: flagged, then dismissed), first half-year on
    // its due date, both meetings early. The city's meetings once only.
    known.completion_days = {
        {"a6.16.report-jan/c/2026@dutyd", {day("2026-01-20")}},
        {"a6.1.plan/c/2026@dutyd", {day("2026-04-03")}},
        {"a7.6.meetings/c/2026@dutyd", {day("2026-09-01")}},
        {"a6.1.plan/x/2026@dutyd", {day("2026-05-20")}},
        {"a6.1.analysis/x/2026H1@dutyd", {day("2026-06-30")}},
        {"a7.6.meetings/x/2026@dutyd", {day("2026-03-01"), day("2026-06-01")}},
    };
    FlagRecord jan = flag(1, "a6.16.report-jan/x/2026@dutyd", "x", "2026-01-31", "2026-02-06", 5,
                          "light", "decided");
    jan.measure = "admonishment";
    jan.decided_on = day("2026-11-20");
    jan.impacts = {{"六个月内不得提拔或者重用", day("2027-05-20")}};
    known.flags = {jan,
                   flag(2, "a6.1.analysis/c/2026H1@dutyd", "c", "2026-06-30", "2026-11-27", 2,
                        "grave", "raised"),
                   flag(3, "a6.1.plan/x/2026@dutyd", "x", "2026-03-31", "2026-11-27", 2, "grave",
                        "dismissed")};
  }

  Report report(Day as_of, const std::string& org = "", int year = 2026) {
    const Config& c = *loaded.config;
    const Expander ex(c);
    expansion = ex.expand(make_day(year, 1, 1), make_day(year, 12, 31));
    return build_report(c, ex, {&expansion}, known, year, as_of,
                        org.empty() ? -1 : c.org_index.at(org));
  }

  const ReportRow& org_row(const Report& r, const std::string& id) {
    for (const ReportRow& row : r.orgs)
      if (loaded.config->orgs[static_cast<std::size_t>(row.org)].id == id) return row;
    throw std::runtime_error("no row for " + id);
  }

  std::vector<std::string> person_keys(const Report& r) {
    std::vector<std::string> out;
    for (const ReportRow& row : r.persons)
      out.push_back(loaded.config->persons[static_cast<std::size_t>(row.person)].id + "@" +
                    loaded.config->orgs[static_cast<std::size_t>(row.org)].id);
    return out;
  }

  LoadResult loaded;
  ReportStore known;
  Expansion expansion;
};

// (total, upcoming, overdue, missed, on_time, late)
std::vector<int> counts(const ReportRow& row) {
  const ReportCounts& n = row.counts;
  return {n.total, n.upcoming, n.overdue, n.missed, n.on_time, n.late};
}

TEST_F(ReportTest, OrganisationsAndPostsAsOfALateNovemberDay) {
  const Report r = report(day("2026-11-27"));
  EXPECT_FALSE(r.final);
  // City: January on time, plan late, H1 missed; H2, meetings (1 of 2), 丙's research upcoming.
  EXPECT_EQ(counts(org_row(r, "c")), (std::vector<int>{6, 3, 0, 1, 1, 1}));
  // County: January missed, plan late, H1 and meetings (2 of 2, early) on time; H2 and 甲's
  // research upcoming.
  EXPECT_EQ(counts(org_row(r, "x")), (std::vector<int>{6, 2, 0, 1, 2, 1}));
  EXPECT_EQ(counts(r.total), (std::vector<int>{12, 5, 0, 2, 3, 2}));
  // The department has no duty in this catalogue and no flag: no row.
  EXPECT_EQ(r.orgs.size(), 2u);
  EXPECT_EQ(r.total.counts.assessed(), 7);
  EXPECT_DOUBLE_EQ(r.total.counts.completion_rate().value(), 0.7143);  // 5 / 7
  EXPECT_DOUBLE_EQ(r.total.counts.on_time_rate().value(), 0.4286);     // 3 / 7
  EXPECT_DOUBLE_EQ(org_row(r, "x").counts.completion_rate().value(), 0.75);

  // Open flags: the city's H1 (item 2, grave) and the county's January (item 5, light,
  // decided and so still open); the dismissed one is counted apart.
  EXPECT_EQ(r.total.flags.open, 2);
  EXPECT_EQ(r.total.flags.by_item, (std::array<int, 6>{0, 0, 1, 0, 0, 1}));
  EXPECT_EQ(r.total.flags.by_severity, (std::array<int, 3>{1, 0, 1}));
  EXPECT_EQ(r.total.flags.dismissed, 1);
  EXPECT_EQ(org_row(r, "x").flags.by_item, (std::array<int, 6>{0, 0, 0, 0, 0, 1}));
  ASSERT_EQ(org_row(r, "x").measures.size(), 1u);
  EXPECT_EQ(org_row(r, "x").measures[0].measure, "admonishment");
  ASSERT_EQ(org_row(r, "c").missed.size(), 1u);
  EXPECT_EQ(org_row(r, "c").missed[0].uid, "a6.1.analysis/c/2026H1@dutyd");
  EXPECT_EQ(org_row(r, "c").missed[0].flag, 2);

  // Posts in tree order, principals first by start: 甲 is reported under both posts.
  EXPECT_EQ(person_keys(r),
            (std::vector<std::string>{"p-jia@c", "p-yi@c", "p-bing@c", "p-ding@x", "p-jia@x"}));
  EXPECT_EQ(counts(r.persons[0]), (std::vector<int>{2, 0, 0, 0, 1, 1}));  // 甲: January, plan
  EXPECT_EQ(counts(r.persons[1]),
            (std::vector<int>{3, 2, 0, 1, 0, 0}));  // 乙: H1 missed; H2, meetings
  EXPECT_EQ(r.persons[1].flags.open, 1);
  EXPECT_DOUBLE_EQ(r.persons[1].counts.completion_rate().value(), 0.0);
  EXPECT_EQ(counts(r.persons[2]), (std::vector<int>{1, 1, 0, 0, 0, 0}));  // 丙: research
  EXPECT_FALSE(r.persons[2].counts.completion_rate().has_value());
  EXPECT_EQ(counts(r.persons[3]), (std::vector<int>{5, 1, 0, 1, 2, 1}));  // 丁
  EXPECT_EQ(r.persons[3].measures.size(), 1u);
  EXPECT_EQ(counts(r.persons[4]), (std::vector<int>{1, 1, 0, 0, 0, 0}));  // 甲 at the county
}

TEST_F(ReportTest, AfterTheYearTheDecemberDutiesAreOverdueThenMissed) {
  // 3 January: the five December duties without a completion are inside their grace period.
  Report r = report(day("2027-01-03"));
  EXPECT_TRUE(r.final);
  EXPECT_EQ(counts(r.total), (std::vector<int>{12, 0, 5, 2, 3, 2}));
  EXPECT_DOUBLE_EQ(r.total.counts.completion_rate().value(), 0.4167);  // 5 / 12
  // 6 January: grace is over; the city's meetings were done once of twice.
  r = report(day("2027-01-06"));
  EXPECT_EQ(counts(r.total), (std::vector<int>{12, 0, 0, 7, 3, 2}));
  const auto& missed = org_row(r, "c").missed;
  ASSERT_EQ(missed.size(), 4u);
  // By article: 第六条 (H1, H2), 第七条 (meetings), 第八条 (research).
  EXPECT_EQ(missed[0].uid, "a6.1.analysis/c/2026H1@dutyd");
  EXPECT_EQ(missed[1].uid, "a6.1.analysis/c/2026H2@dutyd");
  EXPECT_EQ(missed[2].uid, "a7.6.meetings/c/2026@dutyd");
  EXPECT_EQ(missed[3].uid, "a8.6.research/c/2026/p-bing@dutyd");
  EXPECT_EQ(missed[3].flag, 0);
}

TEST_F(ReportTest, CompletionsAndFlagsAfterTheAsOfDayDoNotCountYet) {
  // 25 May: the county's plan was done on 20 May, the flags were raised later.
  const Report r = report(day("2026-05-25"));
  EXPECT_EQ(org_row(r, "x").counts.late, 1);
  EXPECT_EQ(r.total.flags.open, 1);  // only the January flag (raised 6 February)
  // 1 March: the county's meetings not yet done twice (the first on 1 March counts alone).
  known.completion_days["a7.6.meetings/x/2026@dutyd"] = {day("2026-03-01"), day("2026-06-01")};
  const Report march = report(day("2026-03-01"));
  EXPECT_EQ(org_row(march, "x").counts.on_time, 0);
  EXPECT_EQ(org_row(march, "x").counts.missed, 1);  // January, past 5 February
}

TEST_F(ReportTest, ASubtreeAndFlagsOfOccurrencesNoLongerDerived) {
  // A flag of an occurrence the configuration no longer derives still counts for its org.
  known.flags.push_back(flag(4, "a6.1.plan/x/2026/gone@dutyd", "x", "2026-03-31", "2026-04-06", 1,
                             "serious", "submitted"));
  const Report r = report(day("2026-11-27"), "x");
  EXPECT_EQ(r.orgs.size(), 1u);
  EXPECT_EQ(counts(r.total), (std::vector<int>{6, 2, 0, 1, 2, 1}));
  EXPECT_EQ(person_keys(r), (std::vector<std::string>{"p-ding@x", "p-jia@x"}));
  EXPECT_EQ(r.total.flags.open, 2);  // the January flag and the one above; not the city's
  EXPECT_EQ(r.total.flags.by_item, (std::array<int, 6>{0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(r.persons[0].flags.open, 1);  // only flags matched to an occurrence reach a person
  // Another year: nothing of 2026 counts.
  const Report next = report(day("2026-11-27"), "", 2027);
  EXPECT_EQ(next.total.counts.total, 12);
  EXPECT_EQ(next.total.counts.upcoming, 12);
  EXPECT_EQ(next.total.flags.open, 0);
}

TEST_F(ReportTest, SubtreeOrderIsDepthFirstInConfigurationOrder) {
  const Config& c = *loaded.config;
  std::vector<std::string> ids;
  for (const std::int32_t o : subtree(c, -1)) ids.push_back(c.orgs[static_cast<std::size_t>(o)].id);
  EXPECT_EQ(ids, (std::vector<std::string>{"c", "c-zzb", "x"}));
  EXPECT_EQ(subtree(c, c.org_index.at("x")), std::vector<std::int32_t>{c.org_index.at("x")});
}

TEST_F(ReportTest, CsvHasABomCrlfAndQuotesWhatNeedsIt) {
  const Report r = report(day("2026-11-27"));
  Config renamed = *loaded.config;
  renamed.orgs[static_cast<std::size_t>(renamed.org_index.at("x"))].name = "测试县委,\"新\"";
  std::ostringstream out;
  print_report_csv(renamed, r, out);
  const std::string csv = out.str();
  ASSERT_EQ(csv.rfind("\xEF\xBB\xBF类别,年度,截至,", 0), 0u);
  EXPECT_NE(csv.find("\r\n合计,2026,2026-11-27,,全部组织,"), std::string::npos);
  std::size_t lf = 0, crlf = 0;
  for (std::size_t i = 0; i < csv.size(); ++i)
    if (csv[i] == '\n') ++lf, crlf += i > 0 && csv[i - 1] == '\r';
  EXPECT_EQ(lf, 9u);  // heading, 合计, two organisations, five posts
  EXPECT_EQ(crlf, lf);
  EXPECT_NE(csv.find("\r\n领导班子,2026,2026-11-27,x,\"测试县委,\"\"新\"\"\","), std::string::npos)
      << csv;
  EXPECT_NE(csv.find("诫勉谈话（2026-11-20决定，问责#1）：六个月内不得提拔或者重用至2027-05-20"),
            std::string::npos);
}

TEST(ReportWidth, HanCharactersTakeTwoColumns) {
  EXPECT_EQ(display_width("abc"), 3u);
  EXPECT_EQ(display_width("中共测试市委"), 12u);
  EXPECT_EQ(display_width("陶𨭉"), 4u);  // a 4-byte character of plane 2
  EXPECT_EQ(display_width("（一）"), 6u);
}

}  // namespace
}  // namespace dutyd
