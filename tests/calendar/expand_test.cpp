// Expansion behaviour: per-counterpart duties, a post that changes hands, the vacant-post
// rule, member posts that end, events, filters and UIDs.
#include <algorithm>
#include <map>
#include <set>

#include "calendar/expand.hpp"
#include "support/support.hpp"

namespace dutyd {
namespace {

const char* kTree = R"(
timezone = "Asia/Shanghai"

[[org]]
id = "a"
name = "中共甲市委"
kind = "party-committee"
level = "city"
discipline_organ = "a-jw"

[[org]]
id = "a-cwh"
name = "中共甲市委常委会"
kind = "standing-committee"
level = "city"
parent = "a"

[[org]]
id = "a-jw"
name = "甲市纪委监委"
kind = "discipline-inspection"
level = "city"
parent = "a"

[[org]]
id = "a-zzb"
name = "中共甲市委组织部"
kind = "department"
department = "organization"
level = "city"
parent = "a"
discipline_organ = "a-jw"

[[org]]
id = "b"
name = "中共乙县委"
kind = "party-committee"
level = "county"
parent = "a"

[[org]]
id = "c"
name = "中共丙县委"
kind = "party-committee"
level = "county"
parent = "a"

[[person]]
id = "p1"
name = "前任书记"
[[person]]
id = "p2"
name = "现任书记"
[[person]]
id = "m1"
name = "委员一"
[[person]]
id = "m2"
name = "委员二"
[[person]]
id = "mx"
name = "离任委员"
[[person]]
id = "q"
name = "乙县书记"
[[person]]
id = "q2"
name = "乙县委员"
[[person]]
id = "r"
name = "丙县书记"
[[person]]
id = "s"
name = "纪委书记"
[[person]]
id = "z"
name = "组织部长"

[[post]]
person = "p1"
org = "a"
role = "principal"
from = 2024-01-01
until = 2027-06-15

[[post]]
person = "p2"
org = "a"
role = "principal"
from = 2027-06-16

[[post]]
person = "p1"
org = "a-cwh"
role = "principal"
from = 2024-01-01

[[post]]
person = "m1"
org = "a"
role = "member"
from = 2024-01-01
in_charge_of = ["b", "c"]

[[post]]
person = "m2"
org = "a"
role = "member"
from = 2024-01-01
in_charge_of = ["a-zzb"]

[[post]]
person = "mx"
org = "a"
role = "member"
from = 2024-01-01
until = 2027-10-31
in_charge_of = ["c"]

[[post]]
person = "q"
org = "b"
role = "principal"
from = 2024-01-01

[[post]]
person = "q2"
org = "b"
role = "member"
from = 2024-01-01

[[post]]
person = "m1"
org = "b"
role = "member"
from = 2024-01-01

[[post]]
person = "r"
org = "c"
role = "principal"
from = 2024-01-01

[[post]]
person = "s"
org = "a-jw"
role = "principal"
from = 2024-01-01

[[post]]
person = "z"
org = "a-zzb"
role = "principal"
from = 2024-01-01

[[event]]
obligation = "a6.9.review"
org = "a"
date = 2027-05-10
note = "测试事件"
)";

class ExpandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    result_ = test::load_inline("tree.toml", kTree);
    ASSERT_TRUE(result_.ok());
  }
  const Config& config() const { return *result_.config; }
  std::int32_t person(const char* id) const { return config().person_index.at(id); }
  std::int32_t org(const char* id) const { return config().org_index.at(id); }

  // The occurrences of one obligation in a year, optionally filtered.
  std::vector<Occurrence> of(const Expansion& e, const char* obligation,
                             const char* org_id = "a") const {
    std::vector<Occurrence> out;
    for (const auto& o : e.occurrences)
      if (config().obligations[static_cast<std::size_t>(o.obligation)].id == obligation &&
          o.org == org(org_id))
        out.push_back(o);
    return out;
  }
  std::set<std::string> counterparts(const std::vector<Occurrence>& v) const {
    std::set<std::string> out;
    for (const auto& o : v)
      out.insert(o.counterpart_person >= 0
                     ? config().persons[static_cast<std::size_t>(o.counterpart_person)].id
                     : config().orgs[static_cast<std::size_t>(o.counterpart_org)].id);
    return out;
  }
  Expansion year(int y, ExpandFilter f = {}) const {
    return Expander(config()).expand(make_day(y, 1, 1), make_day(y, 12, 31), f);
  }

  LoadResult result_;
};

TEST_F(ExpandTest, PrincipalTalksWithEveryMemberAndSubordinatePrincipal) {
  // 第七条第（八）项: other team members on the due date plus principals of the directly
  // subordinate organisations; not the org's own standing committee or discipline organ.
  const auto talks2027 = of(year(2027), "a7.8.talk");
  EXPECT_EQ(counterparts(talks2027), (std::set<std::string>{"m1", "m2", "q", "r", "z"}));
  for (const auto& o : talks2027) EXPECT_EQ(o.person, person("p2"));
  // In 2026 the member who left in October 2027 was still there.
  const auto talks2026 = of(year(2026), "a7.8.talk");
  EXPECT_EQ(counterparts(talks2026), (std::set<std::string>{"m1", "m2", "mx", "q", "r", "z"}));
  for (const auto& o : talks2026) EXPECT_EQ(o.person, person("p1"));
}

TEST_F(ExpandTest, MemberTalksWithLeadersOfUnitsInCharge) {
  // 第八条第（五）项: one talk per leader of each unit in charge, each person once, not oneself.
  const auto e = year(2027);
  std::map<std::string, std::set<std::string>> by_member;
  for (const auto& o : of(e, "a8.5.talk")) {
    std::set<std::string> one = counterparts({o});
    by_member[config().persons[static_cast<std::size_t>(o.member)].id].insert(one.begin(),
                                                                              one.end());
    EXPECT_EQ(o.person, o.member);
  }
  EXPECT_EQ(by_member["m1"], (std::set<std::string>{"q", "q2", "r"}));
  EXPECT_EQ(by_member["m2"], (std::set<std::string>{"z"}));
  EXPECT_FALSE(by_member.count("mx"));  // left before the due date
  EXPECT_EQ(of(year(2026), "a8.5.talk").size(), 3u + 1u + 1u);
}

TEST_F(ExpandTest, FirstQuarterInspectionPerSubordinateOrg) {
  EXPECT_EQ(counterparts(of(year(2027), "a6.15.inspect-subordinates")),
            (std::set<std::string>{"b", "c", "a-zzb"}));
}

TEST_F(ExpandTest, PostChangingHandsKeepsPredecessorVisible) {
  const auto e = year(2027);
  const auto h = of(e, "a6.1.analysis");
  ASSERT_EQ(h.size(), 2u);
  // First half: due 30 June, held by p2 since 16 June; p1 held it for most of the window.
  EXPECT_EQ(format_day(h[0].due), "2027-06-30");
  EXPECT_EQ(h[0].person, person("p2"));
  ASSERT_EQ(e.predecessors(h[0]).size(), 1u);
  EXPECT_EQ(e.predecessors(h[0])[0], person("p1"));
  // Second half: no change inside the window.
  EXPECT_EQ(h[1].person, person("p2"));
  EXPECT_TRUE(e.predecessors(h[1]).empty());
  // Due before the change: p1 answers for it (第二十六条), even after leaving.
  const auto jan = of(e, "a6.16.report-jan");
  ASSERT_EQ(jan.size(), 1u);
  EXPECT_EQ(jan[0].person, person("p1"));
}

TEST_F(ExpandTest, PersonFilterShowsOwnAndPredecessorDuties) {
  const Expander ex(config());
  const auto e = ex.expand(make_day(2027, 1, 1), make_day(2027, 12, 31), {person("p1"), -1});
  std::set<std::string> uids;
  for (const auto& o : e.occurrences) uids.insert(ex.uid(o));
  EXPECT_TRUE(uids.count("a6.16.report-jan/a/2027@dutyd"));
  EXPECT_TRUE(uids.count("a6.1.analysis/a/2027H1@dutyd"));    // as predecessor
  EXPECT_FALSE(uids.count("a6.1.analysis/a/2027H2@dutyd"));   // after leaving
  EXPECT_TRUE(uids.count("a6.9.review/a/2027-05-10@dutyd"));  // event due while in post
  for (const auto& o : e.occurrences) {
    const auto preds = e.predecessors(o);
    EXPECT_TRUE(o.person == person("p1") ||
                std::find(preds.begin(), preds.end(), person("p1")) != preds.end());
  }
}

TEST_F(ExpandTest, OrgFilterHoldsTeamAndMemberDuties) {
  const Expander ex(config());
  const auto e = ex.expand(make_day(2027, 1, 1), make_day(2027, 12, 31), {-1, org("a")});
  std::set<std::string> uids;
  for (const auto& o : e.occurrences) {
    EXPECT_EQ(o.org, org("a"));
    uids.insert(ex.uid(o));
  }
  EXPECT_TRUE(uids.count("a6.16.report-jul/a/2027@dutyd"));
  EXPECT_TRUE(uids.count("a8.6.lecture/a/2027/m1@dutyd"));
  EXPECT_TRUE(uids.count("a8.5.talk/a/2027/m1/q2@dutyd"));
  EXPECT_TRUE(uids.count("a7.8.talk/a/2027/z@dutyd"));
  EXPECT_FALSE(uids.count("a8.6.lecture/a/2027/mx@dutyd"));
}

TEST_F(ExpandTest, UidsAreStableAndUnique) {
  const Expander ex(config());
  const auto e1 = ex.expand(make_day(2026, 1, 1), make_day(2028, 12, 31));
  std::set<std::string> uids;
  for (const auto& o : e1.occurrences) EXPECT_TRUE(uids.insert(ex.uid(o)).second) << ex.uid(o);
  // Expanding a sub-range yields the same identities.
  const auto e2 = ex.expand(make_day(2027, 6, 1), make_day(2027, 6, 30));
  ASSERT_FALSE(e2.occurrences.empty());
  for (const auto& o : e2.occurrences) EXPECT_TRUE(uids.count(ex.uid(o))) << ex.uid(o);
}

// Expanding organisation by organisation with the rules evaluated once gives exactly the
// global expansion's occurrences, in its order within each organisation.
TEST_F(ExpandTest, PerOrganisationEqualsGlobal) {
  const Expander ex(config());
  const Day from = make_day(2026, 1, 1), to = make_day(2028, 12, 31);
  const Expansion all = ex.expand(from, to);
  const Expander::DueWindows dues = ex.due_windows(from, to);
  std::size_t total = 0;
  for (std::size_t i = 0; i < config().orgs.size(); ++i) {
    const auto org = static_cast<std::int32_t>(i);
    Expansion mine;
    ex.expand_org(org, dues, from, to, mine);
    std::vector<std::string> expected, got;
    auto line = [&](const Expansion& e, const Occurrence& o) {
      std::string l =
          ex.uid(o) + " " + std::to_string(o.person) + " " + format_day(o.window_start) + " ";
      for (std::int32_t p : e.predecessors(o)) l += std::to_string(p) + ",";
      return l;
    };
    for (const Occurrence& o : all.occurrences)
      if (o.org == org) expected.push_back(line(all, o));
    for (const Occurrence& o : mine.occurrences) got.push_back(line(mine, o));
    EXPECT_EQ(got, expected) << config().orgs[i].id;
    EXPECT_TRUE(std::is_sorted(mine.occurrences.begin(), mine.occurrences.end(), occurrence_order));
    total += got.size();
  }
  EXPECT_EQ(total, all.occurrences.size());
}

TEST_F(ExpandTest, EventTriggeredDuty) {
  const Expander ex(config());
  const auto e = ex.expand(make_day(2027, 5, 1), make_day(2027, 5, 31));
  const auto ev = of(e, "a6.9.review");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(format_day(ev[0].window_start), "2027-05-10");
  EXPECT_EQ(format_day(ev[0].due), "2027-05-25");
  EXPECT_EQ(ev[0].person, person("p1"));
  EXPECT_NE(ex.title(ev[0]).find("2027年5月10日"), std::string::npos);
}

TEST(ExpandVacancy, VacantPrincipalOnDueDate) {
  LoadResult r = test::load_inline("vacant.toml", R"(
[[org]]
id = "v"
name = "中共丁县委"
kind = "party-committee"
level = "county"
[[person]]
id = "v1"
name = "前任"
[[person]]
id = "v2"
name = "继任"
[[post]]
person = "v1"
org = "v"
role = "principal"
from = 2024-01-01
until = 2027-05-31
[[post]]
person = "v2"
org = "v"
role = "principal"
from = 2027-07-15
)");
  ASSERT_TRUE(r.ok());
  // The gap is legal but suspicious.
  ASSERT_EQ(r.diagnostics.warning_count(), 1u);
  EXPECT_NE(r.diagnostics.items()[0].message.find("no principal from 2027-06-01 to 2027-07-14"),
            std::string::npos);
  const Expander ex(*r.config);
  const auto e = ex.expand(make_day(2027, 6, 30), make_day(2027, 6, 30));
  ASSERT_FALSE(e.occurrences.empty());
  for (const auto& o : e.occurrences) {
    EXPECT_EQ(o.person, -1) << ex.uid(o);  // nobody holds the post on 30 June
    ASSERT_EQ(e.predecessors(o).size(), 1u);
    EXPECT_EQ(e.predecessors(o)[0], r.config->person_index.at("v1"));
  }
  // The vacancy shows on the predecessor's list, and not on the successor's.
  EXPECT_FALSE(
      ex.expand(make_day(2027, 6, 30), make_day(2027, 6, 30), {r.config->person_index.at("v1"), -1})
          .occurrences.empty());
  EXPECT_TRUE(
      ex.expand(make_day(2027, 6, 30), make_day(2027, 6, 30), {r.config->person_index.at("v2"), -1})
          .occurrences.empty());
  // The successor answers for the year-end duties.
  const auto dec = ex.expand(make_day(2027, 12, 31), make_day(2027, 12, 31));
  for (const auto& o : dec.occurrences) EXPECT_EQ(o.person, r.config->person_index.at("v2"));
}

TEST(ExpandOverride, DueDateAndDisable) {
  LoadResult r = test::load_inline("override.toml", R"(
[[org]]
id = "o"
name = "中共戊县委"
kind = "party-committee"
level = "county"
[[override]]
obligation = "a6.1.plan"
due = "02-28"
[[override]]
obligation = "a6.2.hear-members"
disable = true
[[override]]
obligation = "a6.16.report-jul"
applies_to = ["party-group"]
)");
  ASSERT_TRUE(r.ok());
  const Expander ex(*r.config);
  const auto e = ex.expand(make_day(2027, 1, 1), make_day(2027, 12, 31));
  std::map<std::string, std::vector<std::string>> got;
  for (const auto& o : e.occurrences)
    got[r.config->obligations[static_cast<std::size_t>(o.obligation)].id].push_back(
        format_day(o.window_start) + ".." + format_day(o.due));
  EXPECT_EQ(got["a6.1.plan"], std::vector<std::string>{"2027-01-01..2027-02-28"});
  EXPECT_FALSE(got.count("a6.2.hear-members"));
  EXPECT_FALSE(got.count("a6.16.report-jul"));
  EXPECT_EQ(got["a6.16.report-jan"], std::vector<std::string>{"2027-01-01..2027-01-31"});
}

}  // namespace
}  // namespace dutyd
