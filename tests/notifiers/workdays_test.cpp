#include "notifiers/workdays.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <utility>

namespace dutyd::notify {
namespace {

const std::string kHolidayDir = std::string(DUTYD_SOURCE_DIR) + "/notifiers/holidays";

Day D(int y, unsigned m, unsigned d) {
  return make_day(y, m, d);
}

const WorkdayCalendar& shipped() {
  static const WorkdayCalendar cal = [] {
    Diagnostics diags;
    WorkdayCalendar c = load_holiday_dir(kHolidayDir, diags);
    for (const auto& d : diags.items()) ADD_FAILURE() << format(d);
    return c;
  }();
  return cal;
}

std::string all_errors(const Diagnostics& diags) {
  std::string s;
  for (const auto& d : diags.items()) s += format(d) + "\n";
  return s;
}

TEST(ShippedHolidays, CiteTheirNoticesAndLeave2027Unpublished) {
  const auto& cal = shipped();
  ASSERT_TRUE(cal.covers(2025));
  ASSERT_TRUE(cal.covers(2026));
  EXPECT_FALSE(cal.covers(2027)) << "2027 must not be invented";
  ASSERT_NE(cal.year_data(2027), nullptr);
  EXPECT_TRUE(cal.year_data(2027)->days_off.empty());
  EXPECT_EQ(cal.year_data(2025)->document, "国办发明电〔2024〕12号");
  EXPECT_EQ(cal.year_data(2025)->issued, D(2024, 11, 12));
  EXPECT_EQ(cal.year_data(2026)->document, "国办发明电〔2025〕7号");
  EXPECT_EQ(cal.year_data(2026)->issued, D(2025, 11, 4));
  EXPECT_EQ(cal.year_data(2026)->title, "国务院办公厅关于2026年部分节假日安排的通知");
  // 2025: 1+8+3+5+3+8 = 28 days off, 5 make-up days; 2026: 3+9+3+5+3+3+7 = 33 and 6.
  EXPECT_EQ(cal.year_data(2025)->days_off.size(), 28u);
  EXPECT_EQ(cal.year_data(2025)->work_days.size(), 5u);
  EXPECT_EQ(cal.year_data(2026)->days_off.size(), 33u);
  EXPECT_EQ(cal.year_data(2026)->work_days.size(), 6u);
}

TEST(ShippedHolidays, WorkingDaysPerYear) {
  // 261 weekdays in each year; 2025: 18 of them off, 5 make-up days; 2026: 19 off, 6 make-up.
  for (int year : {2025, 2026}) {
    int n = 0;
    for (Day d = D(year, 1, 1); d <= D(year, 12, 31); ++d) n += shipped().is_working_day(d);
    EXPECT_EQ(n, 248) << year;
  }
}

TEST(WorkdayCalendar, HolidaysAndMakeUpDays) {
  const auto& cal = shipped();
  EXPECT_TRUE(cal.is_working_day(D(2026, 2, 14)));   // Saturday, 调休上班 before 春节
  EXPECT_TRUE(cal.is_working_day(D(2026, 2, 28)));   // Saturday, 调休上班 after 春节
  EXPECT_FALSE(cal.is_working_day(D(2026, 2, 16)));  // Monday in 春节
  EXPECT_FALSE(cal.is_working_day(D(2026, 2, 23)));  // Monday, last day of 春节
  EXPECT_TRUE(cal.is_working_day(D(2026, 2, 24)));
  EXPECT_FALSE(cal.is_working_day(D(2025, 10, 8)));  // Wednesday in 国庆节、中秋节 2025
  EXPECT_TRUE(cal.is_working_day(D(2025, 10, 11)));  // Saturday 调休
  EXPECT_TRUE(cal.is_working_day(D(2026, 10, 8)));   // 2026's National Day ends on the 7th
  EXPECT_TRUE(cal.is_working_day(D(2026, 1, 4)));    // Sunday 调休 after 元旦
  EXPECT_FALSE(cal.is_working_day(D(2026, 1, 10)));  // an ordinary Saturday
  EXPECT_TRUE(cal.is_working_day(D(2026, 3, 3)));    // an ordinary Tuesday
  // No data for 2027: plain Monday-Friday.
  EXPECT_TRUE(cal.is_working_day(D(2027, 2, 8)));   // Monday
  EXPECT_FALSE(cal.is_working_day(D(2027, 2, 6)));  // Saturday
}

TEST(WorkdayCalendar, AddWorkingDaysAcrossHolidaysAndMakeUpSaturdays) {
  const auto& cal = shipped();
  EXPECT_EQ(cal.add_working_days(D(2026, 2, 13), 1), D(2026, 2, 14));  // Fri -> 调休 Sat
  EXPECT_EQ(cal.add_working_days(D(2026, 2, 14), 1), D(2026, 2, 24));  // over 春节
  EXPECT_EQ(cal.add_working_days(D(2026, 2, 24), -1), D(2026, 2, 14));
  EXPECT_EQ(cal.add_working_days(D(2026, 2, 24), -2), D(2026, 2, 13));
  EXPECT_EQ(cal.add_working_days(D(2025, 10, 1), 1), D(2025, 10, 9));
  EXPECT_EQ(cal.add_working_days(D(2025, 10, 9), -1), D(2025, 9, 30));
  EXPECT_EQ(cal.add_working_days(D(2025, 9, 29), -1), D(2025, 9, 28));   // Sunday 调休
  EXPECT_EQ(cal.add_working_days(D(2025, 10, 10), 1), D(2025, 10, 11));  // Saturday 调休
  EXPECT_EQ(cal.add_working_days(D(2026, 3, 6), 5), D(2026, 3, 13));     // a plain week
  EXPECT_EQ(cal.add_working_days(D(2026, 3, 6), 0), D(2026, 3, 6));
  // Round trip from every working day.
  for (Day d = D(2025, 1, 1); d <= D(2026, 12, 31); ++d) {
    if (!cal.is_working_day(d)) continue;
    for (int n : {1, 2, 5, 10, 22}) {
      const Day f = cal.add_working_days(d, n);
      ASSERT_TRUE(cal.is_working_day(f));
      ASSERT_EQ(cal.add_working_days(f, -n), d) << format_day(d) << " +" << n;
    }
  }
}

TEST(WorkingTime, NextWorkingMorningHonoursHolidaysAndQuietHours) {
  const auto& cal = shipped();
  const QuietHours q;  // 20:00-08:00
  auto at = [](Day d, int h, int m = 0) { return LocalTime{d, h * 3600 + m * 60}; };
  // Friday evening before 春节 -> the 调休 Saturday morning.
  EXPECT_EQ(next_working_time(cal, at(D(2026, 2, 13), 21), q), at(D(2026, 2, 14), 8));
  // That Saturday evening -> the Tuesday after the nine days off.
  EXPECT_EQ(next_working_time(cal, at(D(2026, 2, 14), 20), q), at(D(2026, 2, 24), 8));
  EXPECT_EQ(next_working_time(cal, at(D(2026, 2, 18), 10), q), at(D(2026, 2, 24), 8));
  EXPECT_EQ(next_working_time(cal, at(D(2026, 3, 2), 7, 30), q), at(D(2026, 3, 2), 8));
  EXPECT_EQ(next_working_time(cal, at(D(2026, 3, 2), 10), q), at(D(2026, 3, 2), 10));
  EXPECT_EQ(next_working_time(cal, at(D(2026, 3, 2), 19, 59), q), at(D(2026, 3, 2), 19, 59));
  // Configurable: 22:00-07:30, and a quiet lunch that does not wrap.
  const QuietHours late = parse_quiet_hours("22:00-07:30");
  EXPECT_EQ(next_working_time(cal, at(D(2026, 3, 2), 21), late), at(D(2026, 3, 2), 21));
  EXPECT_EQ(next_working_time(cal, at(D(2026, 3, 2), 23), late), at(D(2026, 3, 3), 7, 30));
  const QuietHours lunch = parse_quiet_hours("12:00-14:00");
  EXPECT_EQ(next_working_time(cal, at(D(2026, 3, 2), 12, 30), lunch), at(D(2026, 3, 2), 14));
  EXPECT_EQ(next_working_time(cal, at(D(2026, 3, 7), 9), lunch), at(D(2026, 3, 9), 0));
  const QuietHours none = parse_quiet_hours("00:00-00:00");
  EXPECT_EQ(next_working_time(cal, at(D(2026, 3, 2), 3), none), at(D(2026, 3, 2), 3));
}

TEST(WorkingTime, LocalAndUnixConversions) {
  // 2026-02-14 08:00 in UTC+8 is 00:00 UTC.
  const std::int64_t unix = static_cast<std::int64_t>(D(2026, 2, 14)) * 86400;
  EXPECT_EQ(to_unix({D(2026, 2, 14), 8 * 3600}, 8 * 3600), unix);
  EXPECT_EQ(to_local(unix - 1, 8 * 3600), (LocalTime{D(2026, 2, 14), 8 * 3600 - 1}));
  EXPECT_EQ(to_local(-1, 0), (LocalTime{-1, 86399}));
}

TEST(WorkingTime, QuietHoursParserSaysWhatIsWrong) {
  for (const char* bad : {"", "20:00", "20-08", "24:00-08:00", "20:00-08:60", "8:00-20:00"}) {
    try {
      parse_quiet_hours(bad);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("\"20:00-08:00\""), std::string::npos) << e.what();
    }
  }
}

// ---- TOML loader ---------------------------------------------------------------------------

struct Case {
  const char* text;
  const char* expected;  // FILE:LINE:COL: error: text prefix
};

TEST(HolidayToml, ErrorsNameFileLineAndWhatToDo) {
  const Case cases[] = {
      {"year = 2031\n[source]\ntitle = \"t\"\ndocument = \"d\"\n[[holiday]]\nname = \"x\"\n"
       "from = 2031-01-01\nuntil = \"2031-01-02\"\n",
       "h.toml:8:9: error: 'until' must be a date"},
      {"year = 2031\n[source]\ntitle = \"t\"\ndocument = \"d\"\n[[workday]]\nname = \"x\"\n"
       "date = 2031-01-06\n",
       "h.toml:7:8: error: 2031-01-06 is a weekday"},
      {"year = 2031\n[source]\ntitle = \"t\"\ndocument = \"d\"\n[[holiday]]\nname = \"x\"\n"
       "from = 2031-01-03\nuntil = 2031-01-01\n",
       "h.toml:8:9: error: 'until' 2031-01-01 is before 'from' 2031-01-03"},
      {"year = 2031\n[source]\ntitle = \"t\"\ndocument = \"d\"\n[[holiday]]\nname = \"x\"\n"
       "from = 2030-12-31\nuntil = 2031-01-01\n",
       "h.toml:7:8: error: 'from' 2030-12-31 is not in 2031"},
      {"year = 2031\nholdiay = 1\n[source]\ntitle = \"t\"\ndocument = \"d\"\n",
       "h.toml:2:11: error: unknown key 'holdiay' in a holiday file"},
      {"year = 2031\n[source]\ntitle = \"t\"\ndocument = \"d\"\nnumber = 1\n",
       "h.toml:5:10: error: unknown key 'number' in [source]"},
      {"year = 2031\n", "h.toml:1:1: error: missing 'source' in a holiday file"},
      {"year = 2031\n[source\n", "h.toml:2:8: error: TOML syntax"},
      {"year = \"2031\"\n", "h.toml:1:8: error: 'year' must be a whole number"},
      {"year = 2031\n[source]\ntitle = \"t\"\ndocument = \"d\"\n[[holiday]]\nname = \"x\"\n"
       "from = 2031-01-04\nuntil = 2031-01-04\n[[workday]]\nname = \"y\"\ndate = 2031-01-04\n",
       "h.toml:11:8: error: 2031-01-04 is also a day off of x"},
      {"year = 2031\npublished = false\n[[holiday]]\nname = \"x\"\nfrom = 2031-01-01\n"
       "until = 2031-01-01\n",
       "h.toml:1:8: error: a year with published = false lists no days"},
  };
  for (const auto& c : cases) {
    Diagnostics diags;
    const auto years = parse_holiday_toml(c.text, "h.toml", diags);
    EXPECT_TRUE(years.empty()) << c.text;
    ASSERT_GE(diags.error_count(), 1u) << c.text;
    const std::string first = format(diags.items().front());
    EXPECT_EQ(first.rfind(c.expected, 0), 0u) << "got: " << first << "\nwant: " << c.expected;
    EXPECT_NE(first.find(" — "), std::string::npos) << "no advice in: " << first;
  }
}

TEST(HolidayToml, AdministratorYearReplacesShippedYear) {
  WorkdayCalendar cal = shipped();
  Diagnostics diags;
  const auto years = parse_holiday_toml(
      "year = 2026\n[source]\ntitle = \"local\"\ndocument = \"x\"\n[[holiday]]\nname = \"n\"\n"
      "from = 2026-03-02\nuntil = 2026-03-02\n",
      "local.toml", diags);
  ASSERT_EQ(years.size(), 1u) << all_errors(diags);
  cal.add(years[0]);
  EXPECT_FALSE(cal.is_working_day(D(2026, 3, 2)));
  EXPECT_TRUE(cal.is_working_day(D(2026, 2, 16)));   // the shipped 2026 data is gone
  EXPECT_FALSE(cal.is_working_day(D(2026, 2, 14)));  // no longer a make-up Saturday
  EXPECT_TRUE(cal.is_working_day(D(2025, 10, 11)));  // 2025 untouched
}

// ---- iCalendar import ----------------------------------------------------------------------

// Test-only dates in 2031 (not real holiday data).
const char* kIcs =
    "BEGIN:VCALENDAR\r\n"
    "VERSION:2.0\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:a@test\r\n"
    "DTSTART;VALUE=DATE:20310122\r\n"
    "DTEND;VALUE=DATE:20310129\r\n"
    "SUMMARY:春节 放假\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:b@test\r\n"
    "DTSTART;VALUE=DATE:20310118\r\n"
    "SUMMARY:春节 \r\n"
    " 补班\r\n"  // a folded line: "春节 补班"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:c@test\r\n"
    "DTSTART;VALUE=DATE:20310201\r\n"
    "SUMMARY:调整\r\n"
    "CATEGORIES:WORKDAY\r\n"
    "BEGIN:VALARM\r\n"
    "ACTION:DISPLAY\r\n"
    "END:VALARM\r\n"
    "END:VEVENT\r\n"
    "END:VCALENDAR\r\n";

TEST(HolidayIcs, ImportsDaysOffAndMakeUpDays) {
  Diagnostics diags;
  const auto years = parse_holiday_ics(kIcs, "cn.ics", diags);
  ASSERT_EQ(diags.error_count(), 0u) << all_errors(diags);
  ASSERT_EQ(years.size(), 1u);
  EXPECT_EQ(years[0].year, 2031);
  EXPECT_EQ(years[0].days_off.size(), 7u);  // DTEND is exclusive
  ASSERT_EQ(years[0].work_days.size(), 2u);
  WorkdayCalendar cal;
  cal.add(years[0]);
  EXPECT_TRUE(cal.covers(2031));
  EXPECT_FALSE(cal.is_working_day(D(2031, 1, 22)));
  EXPECT_FALSE(cal.is_working_day(D(2031, 1, 28)));
  EXPECT_TRUE(cal.is_working_day(D(2031, 1, 29)));
  EXPECT_TRUE(cal.is_working_day(D(2031, 1, 18)));  // Saturday, SUMMARY contains 班
  EXPECT_TRUE(cal.is_working_day(D(2031, 2, 1)));   // Saturday, CATEGORIES:WORKDAY
  EXPECT_EQ(cal.add_working_days(D(2031, 1, 17), 1), D(2031, 1, 18));
}

TEST(HolidayIcs, ErrorsNameTheLine) {
  const Case cases[] = {
      {"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20310122T090000\r\nEND:VEVENT\r\nEND:"
       "VCALENDAR\r\n",
       "x.ics:3:1: error: DTSTART \"20310122T090000\" is not an all-day date"},
      {"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
       "x.ics:2:1: error: VEVENT without an all-day DTSTART"},
      {"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20310122\n",
       "x.ics:2:1: error: VEVENT is not closed"},
      {"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20310122\nSUMMARY:休\nEND:VEVENT\n"
       "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20310122\nSUMMARY:上班\nEND:VEVENT\nEND:VCALENDAR\n",
       "x.ics:7:1: error: 2031-01-22 is both a day off and a make-up working day (see line 3)"},
      {"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20310230\nEND:VEVENT\nEND:VCALENDAR\n",
       "x.ics:3:1: error: DTSTART \"20310230\" is not an all-day date"},
      {"hello\n", "x.ics:1:1: error: not an iCalendar content line"},
  };
  for (const auto& c : cases) {
    Diagnostics diags;
    EXPECT_TRUE(parse_holiday_ics(c.text, "x.ics", diags).empty()) << c.text;
    ASSERT_GE(diags.error_count(), 1u) << c.text;
    const std::string first = format(diags.items().front());
    EXPECT_EQ(first.rfind(c.expected, 0), 0u) << "got: " << first << "\nwant: " << c.expected;
  }
}

TEST(HolidayLoaders, NeverCrashOnGarbageOrCutFiles) {
  std::string toml_text;
  {
    std::ifstream in(kHolidayDir + "/2026.toml", std::ios::binary);
    toml_text.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(toml_text.size(), 500u);
  const std::string ics_text = kIcs;
  std::mt19937 rng(4);
  for (int i = 0; i < 300; ++i) {
    for (const std::string* src : {&std::as_const(toml_text), &ics_text}) {
      std::string t = src->substr(0, rng() % (src->size() + 1));
      for (int k = 0; k < 3 && !t.empty(); ++k) t[rng() % t.size()] = static_cast<char>(rng());
      Diagnostics d1, d2;
      (void)parse_holiday_toml(t, "f.toml", d1);
      (void)parse_holiday_ics(t, "f.ics", d2);
    }
  }
  Diagnostics diags;
  EXPECT_TRUE(load_holiday_file("/nonexistent/2030.toml", diags).empty());
  ASSERT_EQ(diags.error_count(), 1u);
  EXPECT_NE(format(diags.items()[0]).find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace dutyd::notify
