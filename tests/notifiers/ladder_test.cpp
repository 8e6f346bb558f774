#include "notifiers/ladder.hpp"

#include <gtest/gtest.h>

namespace dutyd::notify {
namespace {

Day D(int y, unsigned m, unsigned d) {
  return make_day(y, m, d);
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

// Unix seconds of a Beijing wall-clock time.
std::int64_t beijing(Day d, int h, int m = 0) {
  return to_unix({d, h * 3600 + m * 60}, 8 * 3600);
}

TEST(StepOffset, Parses) {
  EXPECT_EQ(parse_step_offset("-30d"), (StepOffset{-30, OffsetUnit::calendar_days}));
  EXPECT_EQ(parse_step_offset("+1wd"), (StepOffset{1, OffsetUnit::working_days}));
  EXPECT_EQ(parse_step_offset("-7d"), (StepOffset{-7, OffsetUnit::calendar_days}));
  EXPECT_EQ(parse_step_offset("+5wd"), (StepOffset{5, OffsetUnit::working_days}));
  EXPECT_EQ(parse_step_offset("0d"), (StepOffset{0, OffsetUnit::calendar_days}));
  EXPECT_EQ(format_step_offset(parse_step_offset("-1wd")), "-1wd");
  EXPECT_EQ(format_step_offset(parse_step_offset("+14d")), "+14d");
}

TEST(StepOffset, ErrorsSayWhatAndShowTheForm) {
  const std::pair<const char*, const char*> bad[] = {
      {"", "empty"},
      {"30d", "no sign"},
      {"-30", "no unit"},
      {"-30x", "unknown unit \"x\""},
      {"+d", "no number"},
      {"-99999d", "more than 3660 days"},
      {"- 3d", "no number"},
      {"-3 d", "unknown unit \" d\""},
      {"-3wdd", "unknown unit \"wdd\""},
  };
  for (const auto& [text, what] : bad) {
    try {
      parse_step_offset(text);
      ADD_FAILURE() << "accepted \"" << text << "\"";
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string("offset \"") + text + "\""), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
      EXPECT_NE(msg.find("\"-30d\""), std::string::npos) << msg;
    }
  }
}

TEST(Ladder, RelationsAndPoliciesByName) {
  EXPECT_EQ(parse_relation("in-charge"), Relation::in_charge);
  EXPECT_EQ(relation_name(Relation::organization_department), "organization-department");
  EXPECT_EQ(parse_anchor("window-start"), Anchor::window_start);
  EXPECT_EQ(parse_overdue_policy("working-hours"), OverduePolicy::working_hours);
  try {
    parse_relation("boss");
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("discipline-organ"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_anchor("start"), std::invalid_argument);
}

TEST(Ladder, DefaultIsTheIssuesLadder) {
  const Ladder l = default_ladder();
  EXPECT_EQ(l.id, "default");
  ASSERT_EQ(l.steps.size(), 5u);
  const char* offsets[] = {"-30d", "-7d", "-1wd", "+1wd", "+5wd"};
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(format_step_offset(l.steps[i].at), offsets[i]);
  EXPECT_EQ(l.steps[0].via, std::vector<std::string>{"email"});
  EXPECT_EQ(l.steps[2].notify, (std::vector<Relation>{Relation::responsible, Relation::principal}));
  EXPECT_EQ(l.steps[3].notify.back(), Relation::in_charge);
  EXPECT_EQ(l.steps[4].notify,
            (std::vector<Relation>{Relation::discipline_organ, Relation::organization_department}));
  EXPECT_EQ(l.overdue, OverduePolicy::quiet_hours_only);
}

TEST(Schedule, SpringFestivalAndTheMakeUpSaturday) {
  // Due Tuesday 2026-02-24, the first working day after the nine days of 春节 2026.
  const ScheduleContext ctx{shipped(), QuietHours{}, 8 * 3600};
  const auto s = schedule_steps(default_ladder(), D(2026, 2, 24), D(2026, 1, 1), ctx);
  ASSERT_EQ(s.size(), 5u);
  // -30d: Sunday 2026-01-25 -> Monday 08:00.
  EXPECT_EQ(s[0].nominal_day, D(2026, 1, 25));
  EXPECT_TRUE(s[0].deferred);
  EXPECT_EQ(s[0].send_at, beijing(D(2026, 1, 26), 8));
  // -7d: Tuesday 2026-02-17 is in 春节: waits for the next working morning, the due date.
  EXPECT_EQ(s[1].nominal_day, D(2026, 2, 17));
  EXPECT_EQ(s[1].send_at, beijing(D(2026, 2, 24), 8));
  // -1wd: the working day before the due date is the 调休 Saturday 2026-02-14, sent as is.
  EXPECT_EQ(s[2].nominal_day, D(2026, 2, 14));
  EXPECT_FALSE(s[2].deferred);
  EXPECT_EQ(s[2].send_at, beijing(D(2026, 2, 14), 9));
  EXPECT_FALSE(s[2].overdue);
  // +1wd and +5wd count working days after the due date: 25, 26, 27, the 调休 Saturday 28
  // and Monday 2 March (without the make-up Saturday it would be Tuesday 3 March).
  EXPECT_TRUE(s[3].overdue);
  EXPECT_EQ(s[3].send_at, beijing(D(2026, 2, 25), 9));
  EXPECT_EQ(s[4].nominal_day, D(2026, 3, 2));
  EXPECT_EQ(s[4].send_at, beijing(D(2026, 3, 2), 9));
}

TEST(Schedule, WithoutHolidayDataTheSameStepsFallOnWeekdays) {
  // The same due date on a calendar with no holiday data shows what the data changes.
  const WorkdayCalendar plain;
  const ScheduleContext ctx{plain, QuietHours{}, 8 * 3600};
  const auto s = schedule_steps(default_ladder(), D(2026, 2, 24), D(2026, 1, 1), ctx);
  EXPECT_EQ(s[1].send_at, beijing(D(2026, 2, 17), 9));
  EXPECT_EQ(s[2].nominal_day, D(2026, 2, 23));
  EXPECT_EQ(s[4].nominal_day, D(2026, 3, 3));
}

TEST(Schedule, NationalDay2025) {
  const ScheduleContext ctx{shipped(), QuietHours{}, 8 * 3600};
  // Due Thursday 2025-10-09: -1wd skips the eight days off back to Tuesday 2025-09-30.
  auto s = schedule_steps(default_ladder(), D(2025, 10, 9), D(2025, 1, 1), ctx);
  EXPECT_EQ(s[2].nominal_day, D(2025, 9, 30));
  // Due Tuesday 2025-09-30: +1wd is 2025-10-09, +5wd includes the 调休 Saturday 2025-10-11.
  s = schedule_steps(default_ladder(), D(2025, 9, 30), D(2025, 1, 1), ctx);
  EXPECT_EQ(s[3].nominal_day, D(2025, 10, 9));
  EXPECT_EQ(s[4].nominal_day, D(2025, 10, 14));  // 9, 10, 11 (Saturday), 13, 14
}

TEST(Schedule, OverduePolicies) {
  Ladder l;
  l.id = "t";
  l.send_at_second = 21 * 3600;  // inside the default quiet hours
  l.steps = {{parse_step_offset("+3d"), Anchor::due, {Relation::principal}, {"chat"}}};
  const ScheduleContext ctx{shipped(), QuietHours{}, 8 * 3600};
  const Day due = D(2026, 3, 5);  // Thursday; +3d is Sunday 2026-03-08
  l.overdue = OverduePolicy::quiet_hours_only;
  EXPECT_EQ(schedule_steps(l, due, due, ctx)[0].send_at, beijing(D(2026, 3, 9), 8));
  l.send_at_second = 10 * 3600;
  EXPECT_EQ(schedule_steps(l, due, due, ctx)[0].send_at, beijing(D(2026, 3, 8), 10));
  l.overdue = OverduePolicy::working_hours;
  EXPECT_EQ(schedule_steps(l, due, due, ctx)[0].send_at, beijing(D(2026, 3, 9), 8));
  l.overdue = OverduePolicy::immediately;
  l.send_at_second = 23 * 3600;
  EXPECT_EQ(schedule_steps(l, due, due, ctx)[0].send_at, beijing(D(2026, 3, 8), 23));
}

TEST(Schedule, WindowStartAnchorAndUtcOffset) {
  Ladder l;
  l.steps = {{parse_step_offset("+14d"), Anchor::window_start, {Relation::responsible}, {"email"}}};
  const ScheduleContext ctx{shipped(), QuietHours{}, 8 * 3600};
  // First-quarter window opens 2026-01-01; +14d is Thursday 2026-01-15.
  auto s = schedule_steps(l, D(2026, 3, 31), D(2026, 1, 1), ctx);
  EXPECT_EQ(s[0].nominal_day, D(2026, 1, 15));
  EXPECT_EQ(s[0].send_at, beijing(D(2026, 1, 15), 9));
  EXPECT_EQ(s[0].send_at, static_cast<std::int64_t>(D(2026, 1, 15)) * 86400 + 3600);  // 01:00 UTC
  const ScheduleContext utc{shipped(), QuietHours{}, 0};
  EXPECT_EQ(schedule_steps(l, D(2026, 3, 31), D(2026, 1, 1), utc)[0].send_at,
            static_cast<std::int64_t>(D(2026, 1, 15)) * 86400 + 9 * 3600);
}

}  // namespace
}  // namespace dutyd::notify
