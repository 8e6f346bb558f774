// Accountability rules: when a flag is due, attribution (collective or individual, 前任 and 现任),
// severity grades, the Article 28 suggestions, impact periods and the 第二十九条 workflow.
//
// The configuration is built in code rather than loaded: config/loader.hpp brings in
// config/diagnostics.hpp, whose dutyd::FlagSeverity clashes with the one of
// calendar/accountability.hpp, so one file cannot include both.
#include <gtest/gtest.h>

#include <set>

#include "calendar/accountability.hpp"

namespace dutyd {
namespace {

Day day(const char* text) {
  return parse_day(text).value();
}

// A city committee A with two counties under it; A's principal changes hands on 2027-06-16;
// B's principal post is vacant from October to December 2027.
class AccountabilityTest : public ::testing::Test {
 protected:
  AccountabilityTest() {
    a = org("a", OrgKind::party_committee, -1);
    a_cwh = org("a-cwh", OrgKind::standing_committee, a);
    a_zzb = org("a-zzb", OrgKind::department, a);
    b = org("b", OrgKind::party_committee, a);
    c = org("c", OrgKind::party_committee, a);
    p1 = person("p1"), p2 = person("p2"), m1 = person("m1"), m2 = person("m2");
    m_old = person("m-old"), m_late = person("m-late"), z = person("z");
    q = person("q"), q_next = person("q-next"), r = person("r");

    post(p1, a, Role::principal, "2024-01-01", "2027-06-15");
    post(p2, a, Role::principal, "2027-06-16");
    post(m1, a, Role::member, "2024-01-01", {}, {b});
    // The same member listed again on the standing committee: named once.
    post(m1, a_cwh, Role::member, "2024-01-01", {}, {b});
    post(m2, a, Role::member, "2024-01-01", {}, {c});
    // In charge of b until the first half-year's due date inclusive; the successor from the day
    // after.
    post(m_old, a, Role::member, "2024-01-01", "2027-06-30", {b});
    post(m_late, a, Role::member, "2027-07-01", {}, {b});
    // A principal post never makes its holder 分管 (the planner ignores it too).
    post(z, a_zzb, Role::principal, "2024-01-01", {}, {b});
    post(q, b, Role::principal, "2024-01-01", "2027-09-30");
    post(q_next, b, Role::principal, "2028-01-01");
    // Member of c, then its principal: no member post any more.
    post(r, c, Role::member, "2024-01-01", "2027-06-30");
    post(r, c, Role::principal, "2027-07-01");

    team = obligation("team-analysis", Actor::team, "FREQ=YEARLY;BYMONTH=6,12;BYMONTHDAY=-1");
    principal_duty =
        obligation("principal-report", Actor::principal, "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=31");
    member_duty =
        obligation("member-lecture", Actor::member, "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=31");
    org_duty = obligation("org-report", Actor::org, "FREQ=YEARLY;BYMONTH=10;BYMONTHDAY=31");
  }

  std::int32_t org(const char* id, OrgKind kind, std::int32_t parent) {
    Org o;
    o.id = id;
    o.name = id;
    o.kind = kind;
    o.level = Level::city;
    o.parent = parent;
    config.orgs.push_back(o);
    return static_cast<std::int32_t>(config.orgs.size() - 1);
  }
  std::int32_t person(const char* id) {
    Person p;
    p.id = p.name = id;
    config.persons.push_back(p);
    return static_cast<std::int32_t>(config.persons.size() - 1);
  }
  void post(std::int32_t who, std::int32_t where, Role role, const char* from,
            const char* until = {}, std::vector<std::int32_t> in_charge_of = {}) {
    Post p;
    p.person = who;
    p.org = where;
    p.role = role;
    p.from = day(from);
    p.until = until ? day(until) : kOpenEnd;
    p.in_charge_of = std::move(in_charge_of);
    config.posts.push_back(p);
  }
  std::int32_t obligation(const char* id, Actor actor, const char* rrule) {
    Obligation o;
    o.id = id;
    o.actor = actor;
    o.rrule = rrule;
    o.applies_to = {{OrgKind::party_committee, ""}};
    config.obligations.push_back(o);
    return static_cast<std::int32_t>(config.obligations.size() - 1);
  }
  // An occurrence as the expansion makes it: member duties name the member, the others the
  // principal on the due date (`person`, -1 when vacant).
  Occurrence occurrence(std::int32_t obligation_index, std::int32_t where, const char* due,
                        std::int32_t who, std::int32_t member = -1) const {
    Occurrence o;
    o.obligation = obligation_index;
    o.org = where;
    o.person = who;
    o.member = member;
    o.due = day(due);
    return o;
  }

  Config config;
  std::int32_t a, a_cwh, a_zzb, b, c;
  std::int32_t p1, p2, m1, m2, m_old, m_late, z, q, q_next, r;
  std::int32_t team, principal_duty, member_duty, org_duty;
};

// --- occurrence_state ------------------------------------------------------------------------

TEST(OccurrenceStateTest, OpenCompletedAndGrace) {
  const Day due = make_day(2027, 3, 31);
  EXPECT_EQ(occurrence_state(due, std::nullopt, day("2027-03-31"), 15), OccurrenceState::upcoming);
  EXPECT_EQ(occurrence_state(due, std::nullopt, day("2027-04-01"), 15), OccurrenceState::overdue);
  EXPECT_EQ(occurrence_state(due, std::nullopt, day("2027-04-15"), 15), OccurrenceState::overdue);
  EXPECT_EQ(occurrence_state(due, std::nullopt, day("2027-04-16"), 15), OccurrenceState::missed);
  EXPECT_EQ(occurrence_state(due, std::nullopt, day("2027-04-01"), 0), OccurrenceState::missed);
  EXPECT_EQ(occurrence_state(due, day("2027-03-31"), day("2027-06-01"), 15),
            OccurrenceState::on_time);
  EXPECT_EQ(occurrence_state(due, day("2027-04-01"), day("2027-06-01"), 15), OccurrenceState::late);
  EXPECT_EQ(occurrence_state(due, day("2027-05-20"), day("2027-06-01"), 15), OccurrenceState::late);
  // A completion the store knows of for a later day does not count on an earlier "today".
  EXPECT_EQ(occurrence_state(due, day("2027-05-20"), day("2027-04-20"), 15),
            OccurrenceState::missed);
  EXPECT_EQ(occurrence_state_zh(OccurrenceState::missed), "未履行");
  EXPECT_EQ(occurrence_state_name(OccurrenceState::late), "late");
}

// "不少于两次": done on the day of the second completion; one alone is not done.
TEST(OccurrenceStateTest, DoneDayIsTheCompletionReachingTheCount) {
  const std::vector<Day> days{day("2027-03-01"), day("2027-06-01"), day("2027-07-01")};
  EXPECT_EQ(done_day(days, 1), day("2027-03-01"));
  EXPECT_EQ(done_day(days, 2), day("2027-06-01"));
  EXPECT_EQ(done_day({day("2027-03-01")}, 2), std::nullopt);
  EXPECT_EQ(done_day({}, 1), std::nullopt);
  EXPECT_EQ(done_day(days, 0), day("2027-03-01"));  // a count below one means once
}

// --- flag_due -------------------------------------------------------------------------------

TEST_F(AccountabilityTest, FlagDueOnlyAfterTheGracePeriod) {
  const Occurrence o = occurrence(principal_duty, a, "2027-03-31", p1);
  // Grace of 15 days: 2027-04-15 is its last day, 2027-04-16 the first day a flag may be raised.
  EXPECT_FALSE(flag_due(o, std::nullopt, day("2027-03-31"), 15));
  EXPECT_FALSE(flag_due(o, std::nullopt, day("2027-04-15"), 15));
  EXPECT_TRUE(flag_due(o, std::nullopt, day("2027-04-16"), 15));
  EXPECT_TRUE(flag_due(o, std::nullopt, day("2027-12-31"), 15));
}

TEST_F(AccountabilityTest, FlagDueByCompletionDate) {
  const Occurrence o = occurrence(principal_duty, a, "2027-03-31", p1);
  const Day today = day("2027-06-01");
  EXPECT_FALSE(flag_due(o, day("2027-03-01"), today, 15));  // early
  EXPECT_FALSE(flag_due(o, day("2027-03-31"), today, 15));  // on the due date
  EXPECT_FALSE(flag_due(o, day("2027-04-01"), today, 15));  // late, inside grace: only "late"
  EXPECT_FALSE(flag_due(o, day("2027-04-15"), today, 15));  // on the last day of grace
  EXPECT_TRUE(flag_due(o, day("2027-04-16"), today, 15));   // after grace
  EXPECT_TRUE(flag_due(o, day("2027-05-31"), today, 15));
}

TEST_F(AccountabilityTest, FlagDueJudgesCompletionAsOfToday) {
  const Occurrence o = occurrence(principal_duty, a, "2027-03-31", p1);
  // Asked about 2027-04-16 while the store already knows of a completion on 2027-04-20:
  // that day the occurrence was still open.
  EXPECT_TRUE(flag_due(o, day("2027-04-20"), day("2027-04-16"), 15));
  // A completion recorded inside grace but asked before the grace ended: not yet due either way.
  EXPECT_FALSE(flag_due(o, day("2027-04-10"), day("2027-04-12"), 15));
}

TEST_F(AccountabilityTest, FlagDueWithoutGrace) {
  const Occurrence o = occurrence(principal_duty, a, "2027-03-31", p1);
  EXPECT_FALSE(flag_due(o, std::nullopt, day("2027-03-31"), 0));
  EXPECT_TRUE(flag_due(o, std::nullopt, day("2027-04-01"), 0));
  EXPECT_FALSE(flag_due(o, day("2027-03-31"), day("2027-04-01"), 0));
  EXPECT_TRUE(flag_due(o, day("2027-04-01"), day("2027-04-02"), 0));
  // A negative grace is no grace, not an earlier flag.
  EXPECT_FALSE(flag_due(o, std::nullopt, day("2027-03-31"), -10));
  EXPECT_TRUE(flag_due(o, std::nullopt, day("2027-04-01"), -10));
}

// --- attribute ------------------------------------------------------------------------------

TEST_F(AccountabilityTest, PredecessorStaysResponsibleAfterThePostChangedHands) {
  // Due before the change: p1 answers for it (第二十六条), p2 holds the post today.
  const Occurrence o = occurrence(principal_duty, a, "2027-03-31", p1);
  const Attribution now = attribute(config, o, day("2027-11-27"));
  EXPECT_EQ(now.scope, FlagScope::individual);
  EXPECT_EQ(now.responsible, p1);
  EXPECT_EQ(now.incumbent, p2);
  EXPECT_TRUE(now.responsible_moved_on);
  EXPECT_EQ(now.team_org, -1);
  EXPECT_EQ(now.principal, -1);
  EXPECT_TRUE(now.in_charge.empty());
  // Before the change, on p1's last day in post, the same occurrence is p1's alone.
  const Attribution before = attribute(config, o, day("2027-06-15"));
  EXPECT_EQ(before.incumbent, p1);
  EXPECT_FALSE(before.responsible_moved_on);
  EXPECT_TRUE(attribute(config, o, day("2027-06-16")).responsible_moved_on);
}

TEST_F(AccountabilityTest, VacantPostOnTheDueDate) {
  // b has no principal from 2027-10-01 to 2027-12-31.
  const Occurrence o = occurrence(org_duty, b, "2027-10-31", -1);
  const Attribution vacant = attribute(config, o, day("2027-11-27"));
  EXPECT_EQ(vacant.scope, FlagScope::individual);
  EXPECT_EQ(vacant.responsible, -1);
  EXPECT_EQ(vacant.incumbent, -1);
  EXPECT_FALSE(vacant.responsible_moved_on);
  // The successor is noted as incumbent, but nobody moved on: nobody was responsible.
  const Attribution filled = attribute(config, o, day("2028-01-01"));
  EXPECT_EQ(filled.responsible, -1);
  EXPECT_EQ(filled.incumbent, q_next);
  EXPECT_FALSE(filled.responsible_moved_on);
}

TEST_F(AccountabilityTest, CollectiveFlagNamesPrincipalAndInChargeOnTheDueDate) {
  const Occurrence o = occurrence(team, b, "2027-06-30", q);
  const Attribution at = attribute(config, o, day("2027-08-01"));
  EXPECT_EQ(at.scope, FlagScope::collective);
  EXPECT_EQ(at.team_org, b);
  EXPECT_EQ(at.principal, q);
  EXPECT_EQ(at.responsible, q);
  EXPECT_EQ(at.incumbent, q);
  EXPECT_FALSE(at.responsible_moved_on);
  // m1 once (two posts list b), m-old on the last day of their post; not m-late (in charge
  // from the day after the due date), not m2 (in charge of c), not z (a principal post).
  EXPECT_EQ(at.in_charge, (std::vector<std::int32_t>{m1, m_old}));
}

TEST_F(AccountabilityTest, CollectiveFlagWhenThePrincipalPostWasVacant) {
  const Occurrence o = occurrence(team, b, "2027-12-31", -1);
  const Attribution at = attribute(config, o, day("2028-02-01"));
  EXPECT_EQ(at.scope, FlagScope::collective);
  EXPECT_EQ(at.principal, -1);
  EXPECT_EQ(at.responsible, -1);
  EXPECT_EQ(at.incumbent, q_next);
  EXPECT_FALSE(at.responsible_moved_on);
  EXPECT_EQ(at.in_charge, (std::vector<std::int32_t>{m1, m_late}));
}

TEST_F(AccountabilityTest, CollectiveFlagOfACommitteeNobodyIsInChargeOf) {
  const Occurrence o = occurrence(team, a, "2027-06-30", p2);
  const Attribution at = attribute(config, o, day("2027-12-01"));
  EXPECT_EQ(at.team_org, a);
  EXPECT_EQ(at.principal, p2);
  EXPECT_TRUE(at.in_charge.empty());
}

TEST_F(AccountabilityTest, MemberDutyIncumbentIsTheMemberWhileStillAMember) {
  const Occurrence stays = occurrence(member_duty, a, "2027-12-31", m1, m1);
  const Attribution s = attribute(config, stays, day("2028-03-01"));
  EXPECT_EQ(s.scope, FlagScope::individual);
  EXPECT_EQ(s.responsible, m1);
  EXPECT_EQ(s.incumbent, m1);
  EXPECT_FALSE(s.responsible_moved_on);
  // Not the org's principal, whoever that is: a member duty is the member's.
  EXPECT_NE(s.incumbent, p2);

  const Occurrence left = occurrence(member_duty, a, "2026-12-31", m_old, m_old);
  EXPECT_EQ(attribute(config, left, day("2027-06-30")).incumbent, m_old);
  const Attribution l = attribute(config, left, day("2027-07-01"));
  EXPECT_EQ(l.responsible, m_old);
  EXPECT_EQ(l.incumbent, -1);
  EXPECT_TRUE(l.responsible_moved_on);

  // Promoted to principal of the same org: no member post any more, so moved on.
  const Occurrence promoted = occurrence(member_duty, c, "2026-12-31", r, r);
  const Attribution p = attribute(config, promoted, day("2027-08-01"));
  EXPECT_EQ(p.incumbent, -1);
  EXPECT_TRUE(p.responsible_moved_on);
}

TEST_F(AccountabilityTest, AttributionAgreesWithTheExpansion) {
  const Expander ex(config);
  const Expansion e = ex.expand(day("2027-01-01"), day("2027-12-31"), {-1, b});
  std::vector<Occurrence> halves;
  for (const Occurrence& o : e.occurrences)
    if (o.obligation == team) halves.push_back(o);
  ASSERT_EQ(halves.size(), 2u);
  const Day today = day("2027-11-27");  // b vacant
  const Attribution h1 = attribute(config, halves[0], today);
  EXPECT_EQ(h1.responsible, q);
  EXPECT_EQ(h1.principal, q);
  EXPECT_EQ(h1.incumbent, -1);
  EXPECT_TRUE(h1.responsible_moved_on);
  const Attribution h2 = attribute(config, halves[1], today);
  EXPECT_EQ(h2.responsible, -1);
  EXPECT_EQ(h2.principal, -1);
  EXPECT_EQ(h2.in_charge, (std::vector<std::int32_t>{m1, m_late}));
}

// --- grade ----------------------------------------------------------------------------------

TEST_F(AccountabilityTest, GradeByDaysLateAtEachBoundary) {
  EXPECT_EQ(grade({1, 0, 0}).grade, FlagSeverity::light);
  EXPECT_EQ(grade({29, 0, 0}).grade, FlagSeverity::light);
  EXPECT_EQ(grade({30, 0, 0}).grade, FlagSeverity::serious);
  EXPECT_EQ(grade({89, 0, 0}).grade, FlagSeverity::serious);
  EXPECT_EQ(grade({90, 0, 0}).grade, FlagSeverity::grave);
  EXPECT_EQ(grade({400, 0, 0}).grade, FlagSeverity::grave);
  EXPECT_EQ(grade({45, 0, 0}).reason, "逾期45天");
}

TEST_F(AccountabilityTest, GradeBumpsForRepeatsAndOpenFlags) {
  const SeverityGrade repeat = grade({10, 1, 0});
  EXPECT_EQ(repeat.grade, FlagSeverity::serious);
  EXPECT_EQ(repeat.reason, "逾期10天；此前同一事项已被标记1次");
  EXPECT_EQ(grade({10, 0, 2}).grade, FlagSeverity::light);  // below serious_open = 3
  const SeverityGrade open = grade({10, 0, 3});
  EXPECT_EQ(open.grade, FlagSeverity::serious);
  EXPECT_EQ(open.reason, "逾期10天；本组织另有3项未办结标记");
  const SeverityGrade both = grade({10, 2, 4});
  EXPECT_EQ(both.grade, FlagSeverity::grave);
  EXPECT_EQ(both.reason, "逾期10天；此前同一事项已被标记2次；本组织另有4项未办结标记");
  EXPECT_EQ(grade({30, 1, 0}).grade, FlagSeverity::grave);
}

TEST_F(AccountabilityTest, GradeIsCappedAtGrave) {
  EXPECT_EQ(grade({30, 1, 3}).grade, FlagSeverity::grave);
  const SeverityGrade capped = grade({120, 5, 9});
  EXPECT_EQ(capped.grade, FlagSeverity::grave);
  // The factors are listed even when the grade could not rise any more.
  EXPECT_EQ(capped.reason, "逾期120天；此前同一事项已被标记5次；本组织另有9项未办结标记");
}

TEST_F(AccountabilityTest, GradeWithOtherRules) {
  SeverityRules rules;
  rules.serious_days = 10;
  rules.grave_days = 20;
  rules.serious_repeats = 2;
  rules.serious_open = 1;
  EXPECT_EQ(grade({9, 0, 0}, rules).grade, FlagSeverity::light);
  EXPECT_EQ(grade({10, 0, 0}, rules).grade, FlagSeverity::serious);
  EXPECT_EQ(grade({20, 0, 0}, rules).grade, FlagSeverity::grave);
  EXPECT_EQ(grade({5, 1, 0}, rules).grade, FlagSeverity::light);
  EXPECT_EQ(grade({5, 2, 0}, rules).grade, FlagSeverity::serious);
  EXPECT_EQ(grade({5, 0, 1}, rules).grade, FlagSeverity::serious);
  // A threshold of 0 does not bump a first miss in a tidy organisation.
  rules.serious_repeats = 0;
  rules.serious_open = 0;
  const SeverityGrade first = grade({5, 0, 0}, rules);
  EXPECT_EQ(first.grade, FlagSeverity::light);
  EXPECT_EQ(first.reason, "逾期5天");
}

TEST_F(AccountabilityTest, SeverityNames) {
  EXPECT_EQ(severity_zh(FlagSeverity::light), "较轻");
  EXPECT_EQ(severity_zh(FlagSeverity::serious), "较重");
  EXPECT_EQ(severity_zh(FlagSeverity::grave), "严重");
  EXPECT_EQ(severity_name(FlagSeverity::light), "light");
  EXPECT_EQ(severity_name(FlagSeverity::serious), "serious");
  EXPECT_EQ(severity_name(FlagSeverity::grave), "grave");
}

// --- suggested measures ---------------------------------------------------------------------

TEST_F(AccountabilityTest, SuggestedMeasuresForATeam) {
  using V = std::vector<std::string>;
  EXPECT_EQ(suggested_measures(FlagScope::collective, FlagSeverity::light), V{"责令作出书面检查"});
  EXPECT_EQ(suggested_measures(FlagScope::collective, FlagSeverity::serious), V{"通报批评"});
  EXPECT_EQ(suggested_measures(FlagScope::collective, FlagSeverity::grave), V{"调整处理"});
}

TEST_F(AccountabilityTest, SuggestedMeasuresForALeader) {
  using V = std::vector<std::string>;
  EXPECT_EQ(suggested_measures(FlagScope::individual, FlagSeverity::light),
            (V{"批评教育", "诫勉谈话", "责令作出书面检查"}));
  EXPECT_EQ(suggested_measures(FlagScope::individual, FlagSeverity::serious), V{"通报批评"});
  EXPECT_EQ(suggested_measures(FlagScope::individual, FlagSeverity::grave),
            (V{"党纪政纪处分", "调整职务、责令辞职、免职和降职等组织处理"}));
}

// --- measures and impact periods ------------------------------------------------------------

TEST_F(AccountabilityTest, MeasureNamesRoundTrip) {
  const auto names = measure_names();
  ASSERT_EQ(names.size(), 10u);
  std::set<std::string_view> zh;
  for (std::string_view name : names) {
    const auto m = parse_measure(name);
    ASSERT_TRUE(m) << name;
    EXPECT_EQ(measure_name(*m), name);
    EXPECT_EQ(parse_measure(measure_zh(*m)), m) << name;
    zh.insert(measure_zh(*m));
  }
  EXPECT_EQ(zh.size(), 10u);
  EXPECT_EQ(measure_zh(Measure::admonishment), "诫勉谈话");
  EXPECT_EQ(measure_zh(Measure::dismissal), "免职");
  EXPECT_EQ(parse_measure("降职"), Measure::demotion);
  EXPECT_EQ(parse_measure("ordered_resignation"), Measure::ordered_resignation);
  // The suggestion's wording names the written self-criticism too.
  EXPECT_EQ(parse_measure("责令作出书面检查"), Measure::written_self_criticism);
  EXPECT_FALSE(parse_measure("警告"));
  EXPECT_FALSE(parse_measure(""));
  EXPECT_FALSE(parse_measure("Admonishment"));
}

TEST_F(AccountabilityTest, AdmonishmentImpact) {
  const auto impact = impact_of(Measure::admonishment, day("2027-01-15"));
  ASSERT_EQ(impact.size(), 2u);
  EXPECT_EQ(impact[0].what, "不得提拔或者重用");
  EXPECT_EQ(format_day(impact[0].until), "2027-07-15");
  EXPECT_EQ(impact[1].what, "取消当年年度考核评优评先资格");
  EXPECT_EQ(format_day(impact[1].until), "2027-12-31");
}

TEST_F(AccountabilityTest, SixMonthsClampToTheMonthEnd) {
  auto promotion_bar = [](const char* decided) {
    return format_day(impact_of(Measure::admonishment, day(decided))[0].until);
  };
  EXPECT_EQ(promotion_bar("2027-08-31"), "2028-02-29");  // the month's last day (leap year)
  EXPECT_EQ(promotion_bar("2026-08-31"), "2027-02-28");  // no 02-31: the month's last day
  EXPECT_EQ(promotion_bar("2027-10-31"), "2028-04-30");  // across the year, no 04-31
  EXPECT_EQ(promotion_bar("2027-07-01"), "2028-01-01");
  // Decided on the last day of the year: the rating is lost for that year only.
  EXPECT_EQ(format_day(impact_of(Measure::admonishment, day("2027-12-31"))[1].until), "2027-12-31");
}

TEST_F(AccountabilityTest, ResignationAndDismissalImpact) {
  for (Measure m : {Measure::ordered_resignation, Measure::dismissal}) {
    const auto impact = impact_of(m, day("2027-03-01"));
    ASSERT_EQ(impact.size(), 2u) << measure_name(m);
    EXPECT_EQ(impact[0].what, "不安排职务");
    EXPECT_EQ(format_day(impact[0].until), "2028-03-01");  // the decision day does not count
    EXPECT_EQ(impact[1].what, "不得担任高于原任职务层次的职务");
    EXPECT_EQ(format_day(impact[1].until), "2029-03-01");
  }
  // Decided on a leap day: a year later has no 02-29, so 02-28 is the last day.
  const auto leap = impact_of(Measure::dismissal, day("2028-02-29"));
  ASSERT_EQ(leap.size(), 2u);
  EXPECT_EQ(format_day(leap[0].until), "2029-02-28");
  EXPECT_EQ(format_day(leap[1].until), "2030-02-28");
}

TEST_F(AccountabilityTest, DemotionImpact) {
  const auto impact = impact_of(Measure::demotion, day("2027-05-20"));
  ASSERT_EQ(impact.size(), 1u);
  EXPECT_EQ(impact[0].what, "不得提升职务");
  EXPECT_EQ(format_day(impact[0].until), "2029-05-20");
}

TEST_F(AccountabilityTest, MeasuresWithoutImpactPeriod) {
  for (Measure m : {Measure::written_self_criticism, Measure::criticism_education,
                    Measure::circulated_criticism, Measure::team_adjustment, Measure::disciplinary,
                    Measure::position_adjustment})
    EXPECT_TRUE(impact_of(m, day("2027-05-20")).empty()) << measure_name(m);
}

// --- workflow -------------------------------------------------------------------------------

TEST_F(AccountabilityTest, WorkflowAdvancesInOrder) {
  std::vector<FlagStatus> path{FlagStatus::raised};
  while (auto next = next_status(path.back())) path.push_back(*next);
  EXPECT_EQ(path, (std::vector<FlagStatus>{FlagStatus::raised, FlagStatus::submitted,
                                           FlagStatus::investigating, FlagStatus::decided,
                                           FlagStatus::implemented}));
  EXPECT_FALSE(next_status(FlagStatus::dismissed));
}

TEST_F(AccountabilityTest, DismissOnlyBeforeImplementation) {
  EXPECT_TRUE(can_dismiss(FlagStatus::raised));
  EXPECT_TRUE(can_dismiss(FlagStatus::submitted));
  EXPECT_TRUE(can_dismiss(FlagStatus::investigating));
  EXPECT_TRUE(can_dismiss(FlagStatus::decided));
  EXPECT_FALSE(can_dismiss(FlagStatus::implemented));
  EXPECT_FALSE(can_dismiss(FlagStatus::dismissed));
}

TEST_F(AccountabilityTest, FlagStatusNames) {
  const std::vector<std::pair<FlagStatus, std::pair<const char*, const char*>>> all{
      {FlagStatus::raised, {"raised", "提出"}},
      {FlagStatus::submitted, {"submitted", "报批"}},
      {FlagStatus::investigating, {"investigating", "调查"}},
      {FlagStatus::decided, {"decided", "决定"}},
      {FlagStatus::implemented, {"implemented", "实施"}},
      {FlagStatus::dismissed, {"dismissed", "撤销"}}};
  for (const auto& [status, names] : all) {
    EXPECT_EQ(flag_status_name(status), names.first);
    EXPECT_EQ(flag_status_zh(status), names.second);
    EXPECT_EQ(parse_flag_status(names.first), status);
    EXPECT_EQ(parse_flag_status(names.second), status);
  }
  EXPECT_FALSE(parse_flag_status("closed"));
  EXPECT_FALSE(parse_flag_status(""));
}

}  // namespace
}  // namespace dutyd
