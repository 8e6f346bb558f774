// Every catalogue entry's due dates and windows for 2026-2028, checked against dates worked
// out by hand from the regulation's wording (see the comment on each table). A new catalogue
// entry fails this test until its dates are added here.
#include <map>
#include <set>

#include "calendar/expand.hpp"
#include "support/support.hpp"

namespace dutyd {
namespace {

using Windows = std::vector<std::string>;  // "window_start..due"

// 每年 / 每年年底 / 年底前: due 31 December, window the calendar year.
const Windows kYearEnd = {"2026-01-01..2026-12-31", "2027-01-01..2027-12-31",
                          "2028-01-01..2028-12-31"};
// 每半年: due 30 June and 31 December, windows the two half-years.
const Windows kHalfYear = {"2026-01-01..2026-06-30", "2026-07-01..2026-12-31",
                           "2027-01-01..2027-06-30", "2027-07-01..2027-12-31",
                           "2028-01-01..2028-06-30", "2028-07-01..2028-12-31"};
// 第一季度 and the documented default for 每年年初: 1 January - 31 March.
const Windows kFirstQuarter = {"2026-01-01..2026-03-31", "2027-01-01..2027-03-31",
                               "2028-01-01..2028-03-31"};
// 1月31日前 (and 个人有关事项, due by 31 January): January.
const Windows kJanuary = {"2026-01-01..2026-01-31", "2027-01-01..2027-01-31",
                          "2028-01-01..2028-01-31"};
// 7月31日前: July.
const Windows kJuly = {"2026-07-01..2026-07-31", "2027-07-01..2027-07-31",
                       "2028-07-01..2028-07-31"};

const std::map<std::string, const Windows*> kDated = {
    {"a6.1.plan", &kFirstQuarter},
    {"a6.1.analysis", &kHalfYear},
    {"a6.2.hear-members", &kHalfYear},
    {"a6.2.hear-subordinates", &kHalfYear},
    {"a6.2.hear-discipline", &kHalfYear},
    {"a6.2.hear-assessment", &kYearEnd},
    {"a6.2.hear-party-groups", &kYearEnd},
    {"a6.14.study-inspection", &kYearEnd},
    {"a6.14.inspection-plan", &kFirstQuarter},
    {"a6.15.inspect-subordinates", &kFirstQuarter},
    {"a6.16.report-jan", &kJanuary},
    {"a6.16.report-jul", &kJuly},
    {"a7.5.assign-cases", &kYearEnd},
    {"a7.6.meetings", &kYearEnd},
    {"a7.6.research", &kYearEnd},
    {"a7.6.topics", &kYearEnd},
    {"a7.6.lecture", &kYearEnd},
    {"a7.8.talk", &kYearEnd},
    {"a7.9.democratic-life", &kYearEnd},
    {"a7.11.personal-matters", &kJanuary},
    {"a7.12.report", &kYearEnd},
    {"a8.5.talk", &kYearEnd},
    {"a8.6.research", &kYearEnd},
    {"a8.6.lecture", &kYearEnd},
    {"a8.9.personal-matters", &kJanuary},
    {"a8.10.report", &kYearEnd},
    {"a10.8.annual-assessment", &kYearEnd},
    {"a11.3.work-points", &kFirstQuarter},
    {"a14.6.report", &kYearEnd},
    {"a15.1.conference", &kFirstQuarter},
    {"a15.2.analysis", &kHalfYear},
    {"a15.7.report", &kYearEnd},
    {"a16.6.report", &kYearEnd},
    {"a17.7.report", &kYearEnd},
    {"a18.7.report", &kYearEnd},
    {"a25.assessment", &kYearEnd},
};

// Event-triggered duties: an event on 2027-05-10 is due this many days later ("及时" = 15 days,
// 婚丧喜庆 reports 7 days, 适时 hearing of an inspection round 30 days).
const std::map<std::string, std::string> kEventDue = {
    {"a6.1.major-issue", "2027-05-25"},
    {"a6.3.cadre-misconduct", "2027-05-25"},
    {"a6.4.warning-talk", "2027-05-25"},
    {"a6.4.serious-report", "2027-05-25"},
    {"a6.9.review", "2027-05-25"},
    {"a6.13.major-case", "2027-05-25"},
    {"a6.14.inspection-round-report", "2027-06-09"},
    {"a6.14.transfer-clues", "2027-05-25"},
    {"a6.14.feedback", "2027-05-25"},
    {"a6.16.request", "2027-05-25"},
    {"a7.7.report-violation", "2027-05-25"},
    {"a7.8.warning-talk", "2027-05-25"},
    {"a7.8.subordinate-talk", "2027-05-25"},
    {"a7.11.family-events", "2027-05-17"},
    {"a8.5.warning-talk", "2027-05-25"},
    {"a8.9.family-events", "2027-05-17"},
    {"a10.3.unfit-cadres", "2027-05-25"},
    {"a10.5.promotion-training", "2028-05-09"},  // 365 days, across 29 February 2028
    {"a10.7.report-clues", "2027-05-25"},
    {"a11.5.public-concern", "2027-05-25"},
    {"a14.5.report-opinions", "2027-05-25"},
    {"a14.6.request", "2027-05-25"},
    {"a15.7.request", "2027-05-25"},
    {"a16.5.report-opinions", "2027-05-25"},
    {"a16.6.request", "2027-05-25"},
    {"a17.6.notify-verdicts", "2027-05-25"},
    {"a17.7.request", "2027-05-25"},
    {"a18.6.transfer-clues", "2027-05-25"},
    {"a18.7.request", "2027-05-25"},
    {"a19.6.urge-correction", "2027-05-25"},
};

LoadResult fixture() {
  return load_config((test::source_dir() / "tests/calendar/fixtures/every-kind.toml").string(),
                     {test::catalogue()});
}

TEST(CatalogueDates, EveryEntryIsCovered) {
  LoadResult r = fixture();
  ASSERT_TRUE(r.ok());
  for (const Obligation& o : r.config->obligations) {
    if (o.event_triggered())
      EXPECT_TRUE(kEventDue.count(o.id)) << o.id << " has no hand-computed event due date";
    else
      EXPECT_TRUE(kDated.count(o.id)) << o.id << " has no hand-computed dates";
  }
  EXPECT_EQ(kDated.size() + kEventDue.size(), r.config->obligations.size());
}

TEST(CatalogueDates, DatedEntries2026To2028) {
  LoadResult r = fixture();
  ASSERT_TRUE(r.ok());
  const Config& c = *r.config;
  Expander ex(c);
  const Expansion e = ex.expand(make_day(2026, 1, 1), make_day(2028, 12, 31));
  std::map<std::string, std::set<std::string>> got;  // obligation -> windows (all subjects)
  for (const Occurrence& o : e.occurrences)
    got[c.obligations[static_cast<std::size_t>(o.obligation)].id].insert(
        format_day(o.window_start) + ".." + format_day(o.due));
  for (const auto& [id, windows] : kDated) {
    const std::set<std::string> want(windows->begin(), windows->end());
    EXPECT_EQ(got[id], want) << id;
  }
}

TEST(CatalogueDates, EventEntries) {
  LoadResult r = fixture();
  ASSERT_TRUE(r.ok());
  Config& c = *r.config;
  for (const auto& [id, due] : kEventDue) {
    const Obligation* o = c.find_obligation(id);
    ASSERT_NE(o, nullptr) << id;
    Event ev;
    ev.obligation = c.obligation_index.at(id);
    ev.date = make_day(2027, 5, 10);
    // The first organisation the duty applies to; member duties name the member.
    for (std::size_t i = 0; i < c.orgs.size(); ++i)
      if (o->applies(c.orgs[i])) {
        ev.org = static_cast<std::int32_t>(i);
        break;
      }
    ASSERT_GE(ev.org, 0) << id << " applies to no organisation of the fixture";
    if (o->actor == Actor::member) ev.person = c.person_index.at("m");
    c.events.push_back(ev);
  }
  Expander ex(c);
  const Expansion e = ex.expand(make_day(2027, 5, 1), make_day(2028, 7, 1));  // a10.5: one year
  std::map<std::string, std::string> got;
  for (const Occurrence& o : e.occurrences) {
    if (o.event < 0) continue;
    got[c.obligations[static_cast<std::size_t>(o.obligation)].id] = format_day(o.due);
    EXPECT_EQ(format_day(o.window_start), "2027-05-10");
    EXPECT_GE(o.person, 0);
  }
  EXPECT_EQ(got, kEventDue);
}

TEST(CatalogueDates, MinimumCounts) {
  LoadResult r = fixture();
  ASSERT_TRUE(r.ok());
  // 每年不少于两次主持召开领导班子专题会议
  EXPECT_EQ(r.config->find_obligation("a7.6.meetings")->min_count, 2);
  for (const Obligation& o : r.config->obligations) {
    if (o.id != "a7.6.meetings") {
      EXPECT_EQ(o.min_count, 1) << o.id;
    }
  }
}

}  // namespace
}  // namespace dutyd
