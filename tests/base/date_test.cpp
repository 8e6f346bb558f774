#include <gtest/gtest.h>

#include "base/date.hpp"
#include "config/rrule.hpp"

namespace dutyd {
namespace {

TEST(Date, RoundTrip) {
  EXPECT_EQ(make_day(1970, 1, 1), 0);
  EXPECT_EQ(format_day(make_day(2028, 2, 29)), "2028-02-29");
  EXPECT_EQ(parse_day("2027-01-31"), make_day(2027, 1, 31));
  EXPECT_FALSE(parse_day("2027-02-29"));
  EXPECT_FALSE(parse_day("2027-1-31"));
  EXPECT_FALSE(parse_day("2027-01-31x"));
}

TEST(Date, MonthDay) {
  EXPECT_TRUE(parse_month_day("02-28"));
  EXPECT_FALSE(parse_month_day("02-29"));
  EXPECT_FALSE(parse_month_day("02-30"));
  EXPECT_FALSE(parse_month_day("13-01"));
  EXPECT_FALSE(parse_month_day("1-01"));
}

TEST(Rrule, DatesAreAscendingWithoutDuplicates) {
  // libical 3.0.16 returns the first match twice when DTSTART does not match the rule.
  const auto d = rrule_dates("FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=31", make_day(2027, 1, 1),
                             make_day(2028, 12, 31));
  EXPECT_EQ(d, (std::vector<Day>{make_day(2027, 1, 31), make_day(2028, 1, 31)}));
  const auto h = rrule_dates("FREQ=YEARLY;BYMONTH=6,12;BYMONTHDAY=-1", make_day(2027, 1, 1),
                             make_day(2027, 12, 31));
  EXPECT_EQ(h, (std::vector<Day>{make_day(2027, 6, 30), make_day(2027, 12, 31)}));
}

TEST(Rrule, Problems) {
  EXPECT_FALSE(rrule_problem("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=31"));
  EXPECT_TRUE(rrule_problem("FREQ=FORTNIGHTLY"));
  EXPECT_TRUE(rrule_problem("RRULE:FREQ=YEARLY"));
  EXPECT_TRUE(rrule_problem("FREQ=YEARLY;COUNT=3"));
  EXPECT_TRUE(rrule_problem("FREQ=DAILY"));
  EXPECT_TRUE(rrule_problem("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"));
  EXPECT_TRUE(rrule_problem(""));
}

}  // namespace
}  // namespace dutyd
