// The reminder planner on the bundled example (config/examples/province.toml with its conf.d):
// every relation resolved from the org tree and the posts held on the send day, vacancy going
// up the chain, channel choice, a 调休 Saturday moving a working-day step, catch-up coalescing.
#include "notifiers/planner.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "config/loader.hpp"

namespace dutyd::notify {
namespace {

Day D(int y, unsigned m, unsigned d) {
  return make_day(y, m, d);
}
std::int64_t beijing(Day d, int h, int m = 0) {
  return to_unix({d, h * 3600 + m * 60}, 8 * 3600);
}

const Config& example() {
  static const std::shared_ptr<Config> cfg = [] {
    LoadOptions o;
    o.catalogue_path = std::string(DUTYD_SOURCE_DIR) + "/config/catalogue/obligations.toml";
    LoadResult r = load_config(std::string(DUTYD_SOURCE_DIR) + "/config/examples/province.toml", o);
    for (const auto& d : r.diagnostics.items()) ADD_FAILURE() << format(d);
    return r.config;
  }();
  return *cfg;
}

const WorkdayCalendar& shipped() {
  static const WorkdayCalendar cal = [] {
    Diagnostics diags;
    WorkdayCalendar c =
        load_holiday_dir(std::string(DUTYD_SOURCE_DIR) + "/notifiers/holidays", diags);
    for (const auto& d : diags.items()) ADD_FAILURE() << format(d);
    return c;
  }();
  return cal;
}

std::int32_t org(const Config& c, const std::string& id) {
  return c.org_index.at(id);
}
std::int32_t person(const Config& c, const std::string& id) {
  return c.person_index.at(id);
}
std::int32_t obligation(const Config& c, const std::string& id) {
  return c.obligation_index.at(id);
}

ReminderSubject subject(const Config& c, const std::string& ob, const std::string& o,
                        const std::string& who, Day due) {
  return {obligation(c, ob), org(c, o), who.empty() ? -1 : person(c, who), false,
          D(2026, 1, 1),     due};
}

// The person ids a relation reaches on `day` ("" entries never appear).
std::vector<std::string> reach(const ReminderPlanner& p, const Config& c, Relation r,
                               const ReminderSubject& s, Day day, bool* vacancy = nullptr) {
  std::vector<std::string> ids;
  for (const auto& x : p.resolve(r, s, day, nullptr)) {
    ids.push_back(c.persons[static_cast<std::size_t>(x.person)].id);
    if (vacancy) *vacancy = x.via_vacancy;
  }
  return ids;
}

using V = std::vector<std::string>;

TEST(Planner, ResolvesEveryRelationForADepartment) {
  const Config& c = example();
  const ReminderPlanner p(c, {shipped(), {}, 8 * 3600});
  // 大连市委宣传部: principal 杨某, in the charge of 吕某 (dl member), under 大连市委.
  const auto s = subject(c, "a11.3.work-points", "dl-xcb", "p-yang", D(2026, 3, 31));
  const Day day = D(2026, 3, 2);
  EXPECT_EQ(reach(p, c, Relation::responsible, s, day), V{"p-yang"});
  EXPECT_EQ(reach(p, c, Relation::principal, s, day), V{"p-yang"});
  EXPECT_EQ(reach(p, c, Relation::in_charge, s, day), V{"p-lv"});
  EXPECT_EQ(reach(p, c, Relation::organization_department, s, day), V{"p-shi"});  // dl-zzb
  EXPECT_EQ(reach(p, c, Relation::discipline_organ, s, day), V{"p-tao"});         // dl-jw
  EXPECT_EQ(reach(p, c, Relation::higher_principal, s, day), V{"p-qian"});        // dl before 06-16
  // Posts held at send time: the Dalian principal changes hands on 2026-06-16.
  EXPECT_EQ(reach(p, c, Relation::higher_principal, s, D(2026, 6, 16)), V{"p-ouyang"});
}

TEST(Planner, ResolvesRelationsAcrossLevelsAndKinds) {
  const Config& c = example();
  const ReminderPlanner p(c, {shipped(), {}, 8 * 3600});
  const Day day = D(2026, 9, 1);
  // A county committee: its own organisation department and discipline organ, Dalian above it.
  const auto wfd = subject(c, "a6.1.plan", "wfd", "p-you", D(2026, 12, 31));
  EXPECT_EQ(reach(p, c, Relation::organization_department, wfd, day), V{"p-cao"});
  EXPECT_EQ(reach(p, c, Relation::discipline_organ, wfd, day), V{"p-yan"});
  EXPECT_EQ(reach(p, c, Relation::higher_principal, wfd, day), V{"p-ouyang"});
  EXPECT_TRUE(reach(p, c, Relation::in_charge, wfd, day).empty());  // nobody above the team
  // A party group whose principal is also a member of the committee in charge of it.
  const auto zf = subject(c, "a15.2.analysis", "wfd-zf", "p-xu", D(2026, 12, 31));
  EXPECT_EQ(reach(p, c, Relation::in_charge, zf, day), V{"p-xu"});
  EXPECT_EQ(reach(p, c, Relation::organization_department, zf, day), V{"p-cao"});
  // A discipline organ answers to the next higher one: wfd-jw -> dl-jw, dl-jw -> ln-jw.
  EXPECT_EQ(p.discipline_organ(org(c, "wfd-jw")), org(c, "dl-jw"));
  EXPECT_EQ(p.discipline_organ(org(c, "dl-jw")), org(c, "ln-jw"));
  // The standing committee belongs to the provincial committee: 省委组织部.
  EXPECT_EQ(p.committee_of(org(c, "ln-cwh")), org(c, "ln"));
  EXPECT_EQ(p.organization_department(org(c, "ln-cwh")), org(c, "ln-zzb"));
  EXPECT_EQ(p.organization_department(org(c, "ln-zzb")), org(c, "ln-zzb"));
}

TEST(Planner, SuccessorNotYetInPostIsRemindedThroughTheCurrentPrincipal) {
  const Config& c = example();
  const ReminderPlanner p(c, {shipped(), {}, 8 * 3600});
  // Due 2026-06-30: attributed to 欧阳明远 (in post from 06-16); on 06-01 钱某 is the one in post.
  const auto s = subject(c, "a6.1.analysis", "dl", "p-ouyang", D(2026, 6, 30));
  EXPECT_EQ(reach(p, c, Relation::responsible, s, D(2026, 6, 1)), V{"p-qian"});
  EXPECT_EQ(reach(p, c, Relation::responsible, s, D(2026, 6, 23)), V{"p-ouyang"});
  EXPECT_EQ(reach(p, c, Relation::responsible, s, D(2026, 7, 1)), V{"p-ouyang"});
}

TEST(Planner, VacantPostGoesStraightUp) {
  Config c = example();
  // Nobody heads 瓦房店市政府党组: drop 许某's principal post there.
  const std::int32_t zf = org(c, "wfd-zf");
  std::erase_if(c.posts,
                [&](const Post& post) { return post.org == zf && post.role == Role::principal; });
  const ReminderPlanner p(c, {shipped(), {}, 8 * 3600});
  const auto s = subject(c, "a15.2.analysis", "wfd-zf", "", D(2026, 12, 31));
  bool vacancy = false;
  EXPECT_EQ(reach(p, c, Relation::responsible, s, D(2026, 12, 1), &vacancy), V{"p-you"});
  EXPECT_TRUE(vacancy);
  vacancy = false;
  EXPECT_EQ(reach(p, c, Relation::principal, s, D(2026, 12, 1), &vacancy), V{"p-you"});
  EXPECT_TRUE(vacancy);
  // The plan marks the deliveries and never names a vacant person.
  ReminderPlan plan;
  p.plan(s, 7, 0, beijing(D(2027, 12, 31), 0), plan);
  ASSERT_FALSE(plan.deliveries.empty());
  for (const auto& d : plan.deliveries) {
    EXPECT_GE(d.person, 0);
    EXPECT_EQ(d.occurrence, 7u);
    if (d.relation == Relation::responsible) {
      EXPECT_TRUE(d.via_vacancy);
    }
  }
}

TEST(Planner, ChoosesLaddersAndChannels) {
  const Config& c = example();
  const ReminderPlanner p(c, {shipped(), {}, 8 * 3600});
  auto ladder = [&](const std::string& ob, const std::string& o) {
    return c.ladders[static_cast<std::size_t>(p.ladder_of(subject(c, ob, o, "", D(2026, 3, 31))))]
        .id;
  };
  EXPECT_EQ(ladder("a6.14.inspection-plan", "ln-xsz"), "window");     // [[override]] ladder
  EXPECT_EQ(ladder("a19.6.urge-correction", "dl-jw"), "discipline");  // [[ladder_for]] kind
  EXPECT_EQ(ladder("a6.1.plan", "dl"), "default");
  auto ids = [&](std::int32_t o) {
    V v;
    for (std::int32_t ch : p.chat_channels(o))
      v.push_back(c.channels[static_cast<std::size_t>(ch)].id);
    return v;
  };
  EXPECT_EQ(ids(org(c, "dl")), V{"dl-wecom"});
  EXPECT_EQ(ids(org(c, "dl-jw")), V{"dl-ding"});
  EXPECT_EQ(ids(org(c, "wfd-bgs")), V{"dl-wecom"});  // nearest covered ancestor
  EXPECT_EQ(ids(org(c, "ln-zzb")), V{"ln-feishu"});
  // @mentions by the id of the channel's kind.
  const Person& ouyang = c.persons[static_cast<std::size_t>(person(c, "p-ouyang"))];
  const Person& shi = c.persons[static_cast<std::size_t>(person(c, "p-shi"))];
  EXPECT_EQ(mention_for(ouyang, ChannelKind::wecom), "OuYangMingYuan");
  EXPECT_EQ(mention_for(shi, ChannelKind::wecom), "13800000017");  // mobile
  EXPECT_EQ(mention_for(ouyang, ChannelKind::feishu), "ou_3f1b9c0e5a7d24c68b2e0f91d4a7c5e2");
  EXPECT_EQ(mention_for(shi, ChannelKind::feishu), "");
}

TEST(Planner, PlansTheDefaultLadderStepByStep) {
  const Config& c = example();
  const ReminderPlanner p(c, {shipped(), {}, 8 * 3600});
  // 大连市委组织部, due Thursday 2026-12-31.
  const auto s = subject(c, "a10.8.annual-assessment", "dl-zzb", "p-shi", D(2026, 12, 31));
  ReminderPlan plan;
  p.plan(s, 0, 0, beijing(D(2027, 12, 31), 0), plan);
  std::map<std::uint16_t, std::set<std::pair<std::string, std::string>>> by_step;
  for (const auto& d : plan.deliveries)
    by_step[d.step].insert({c.persons[static_cast<std::size_t>(d.person)].id,
                            c.channels[static_cast<std::size_t>(d.channel)].id});
  using S = std::set<std::pair<std::string, std::string>>;
  EXPECT_EQ(by_step[0], (S{{"p-shi", "mail"}}));                         // -30d e-mail
  EXPECT_EQ(by_step[1], (S{{"p-shi", "mail"}, {"p-shi", "dl-wecom"}}));  // -7d both
  EXPECT_EQ(by_step[2], (S{{"p-shi", "dl-wecom"}}));  // -1wd: responsible = principal, once
  // +1wd adds the member in charge, who is 施某 as well (组织部长): still one message each.
  EXPECT_EQ(by_step[3], (S{{"p-shi", "mail"}, {"p-shi", "dl-wecom"}}));
  // +5wd: dl-jw's 陶𨭉 and the organisation department (施某 again).
  EXPECT_EQ(
      by_step[4],
      (S{{"p-tao", "mail"}, {"p-tao", "dl-wecom"}, {"p-shi", "mail"}, {"p-shi", "dl-wecom"}}));
  // Only the window asked for.
  ReminderPlan part;
  p.plan(s, 0, beijing(D(2026, 12, 24), 0), beijing(D(2026, 12, 25), 0), part);
  ASSERT_EQ(part.deliveries.size(), 2u);
  EXPECT_EQ(part.deliveries[0].send_at, beijing(D(2026, 12, 24), 9));
}

TEST(Planner, MakeUpSaturdayMovesAWorkingDayStep) {
  const Config& c = example();
  const ReminderPlanner p(c, {shipped(), {}, 8 * 3600});
  // Due Monday 2026-10-12; Saturday 2026-10-10 is a 国庆节 make-up working day, so -1wd is that
  // Saturday, not Friday 10-09.
  const auto s = subject(c, "a6.1.plan", "dl", "p-ouyang", D(2026, 10, 12));
  ReminderPlan plan;
  p.plan(s, 0, 0, beijing(D(2027, 12, 31), 0), plan);
  bool found = false;
  for (const auto& d : plan.deliveries)
    if (d.step == 2) {
      EXPECT_EQ(d.send_at, beijing(D(2026, 10, 10), 9));
      found = true;
    }
  EXPECT_TRUE(found);
  // Without the holiday data it would have been Friday.
  const WorkdayCalendar plain;
  const ReminderPlanner q(c, {plain, {}, 8 * 3600});
  ReminderPlan plain_plan;
  q.plan(s, 0, 0, beijing(D(2027, 12, 31), 0), plain_plan);
  for (const auto& d : plain_plan.deliveries)
    if (d.step == 2) {
      EXPECT_EQ(d.send_at, beijing(D(2026, 10, 9), 9));
    }
}

TEST(Planner, MissingEmailAddressIsANoteNotADelivery) {
  Config c = example();
  c.persons[static_cast<std::size_t>(person(c, "p-yang"))].email.clear();
  const ReminderPlanner p(c, {shipped(), {}, 8 * 3600});
  const auto s = subject(c, "a11.3.work-points", "dl-xcb", "p-yang", D(2026, 3, 31));
  ReminderPlan plan;
  p.plan(s, 0, beijing(D(2026, 3, 1), 0), beijing(D(2026, 3, 3), 0), plan);  // the -30d step
  EXPECT_TRUE(plan.deliveries.empty());
  ASSERT_EQ(plan.notes.size(), 1u);
  EXPECT_EQ(plan.notes[0].person, person(c, "p-yang"));
  EXPECT_NE(plan.notes[0].text.find("电子邮箱"), std::string::npos);
}

TEST(Planner, CatchUpKeepsOnlyTheLatestMissedStep) {
  const Config& c = example();
  const ReminderPlanner p(c, {shipped(), {}, 8 * 3600});
  const auto s = subject(c, "a10.8.annual-assessment", "dl-zzb", "p-shi", D(2026, 12, 31));
  ReminderPlan plan;
  p.plan(s, 3, 0, beijing(D(2027, 12, 31), 0), plan);
  // Down from before the -30d step until 2027-01-04 12:00 (after +1wd, before +5wd).
  const CatchUp cu = coalesce_catch_up(plan.deliveries, beijing(D(2027, 1, 4), 12));
  std::map<std::pair<std::int32_t, std::int32_t>, int> count;
  for (const auto& d : cu.send_now) {
    ++count[{d.person, d.channel}];
    EXPECT_EQ(d.step, 3) << "only the latest step (+1wd) is sent";
  }
  EXPECT_EQ(cu.send_now.size(), 2u);  // 施某 by e-mail and in the WeCom group
  for (const auto& [key, n] : count) EXPECT_EQ(n, 1);
  EXPECT_EQ(cu.superseded.size(), 4u);  // -30d mail, -7d mail and chat, -1wd chat
  for (const auto& d : cu.later) EXPECT_EQ(d.step, 4);
  EXPECT_EQ(cu.send_now.size() + cu.superseded.size() + cu.later.size(), plan.deliveries.size());
}

}  // namespace
}  // namespace dutyd::notify
