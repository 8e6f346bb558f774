// iCalendar output: every example feed survives a libical round trip with zero errors and
// has the bytes real clients need; folding never splits UTF-8, even 4-byte characters.
#include <libical/ical.h>

#include <memory>

#include "calendar/fold.hpp"
#include "calendar/ical_feed.hpp"
#include "support/support.hpp"

namespace dutyd {
namespace {

struct ComponentFree {
  void operator()(icalcomponent* c) const { icalcomponent_free(c); }
};
using ComponentPtr = std::unique_ptr<icalcomponent, ComponentFree>;

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = b < 0x80             ? 1
                    : (b & 0xE0) == 0xC0 ? 2
                    : (b & 0xF0) == 0xE0 ? 3
                    : (b & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// Byte rules from shared/reference/icalendar-feeds.md.
void expect_clean_bytes(const std::string& text, const std::string& what) {
  ASSERT_GE(text.size(), 17u) << what;
  EXPECT_EQ(text.rfind("BEGIN:VCALENDAR\r\n", 0), 0u) << what << ": no BOM, nothing before BEGIN";
  EXPECT_TRUE(text.size() >= 15 && text.compare(text.size() - 15, 15, "END:VCALENDAR\r\n") == 0)
      << what;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find("\r\n", start);
    ASSERT_NE(end, std::string::npos) << what << ": line without CRLF at byte " << start;
    const std::string_view line(text.data() + start, end - start);
    EXPECT_LE(line.size(), 75u) << what << ": " << line;
    EXPECT_EQ(line.find('\n'), std::string_view::npos) << what << ": bare LF";
    EXPECT_EQ(line.find('\r'), std::string_view::npos) << what << ": bare CR";
    EXPECT_TRUE(valid_utf8(line)) << what << ": a fold splits a UTF-8 sequence: " << line;
    start = end + 2;
  }
  EXPECT_EQ(text.find("freeassociation"), std::string::npos) << what;
}

// Parses `text` with libical and returns the VEVENT count; fails on any libical error.
int round_trip(const std::string& text, const std::string& what) {
  ComponentPtr cal{icalparser_parse_string(text.c_str())};
  EXPECT_TRUE(cal) << what;
  if (!cal) return -1;
  EXPECT_EQ(icalcomponent_count_errors(cal.get()), 0) << what;
  int events = 0;
  for (icalcomponent* ev = icalcomponent_get_first_component(cal.get(), ICAL_VEVENT_COMPONENT); ev;
       ev = icalcomponent_get_next_component(cal.get(), ICAL_VEVENT_COMPONENT)) {
    ++events;
    const icaltimetype start = icalcomponent_get_dtstart(ev);
    const icaltimetype end = icalcomponent_get_dtend(ev);
    EXPECT_TRUE(start.is_date) << what;
    EXPECT_EQ(icaltime_compare(icaltime_add(start, icaldurationtype_from_int(86400)), end), 0)
        << what;
    EXPECT_NE(icalcomponent_get_uid(ev), nullptr);
  }
  return events;
}

TEST(IcalFeed, EveryExampleFeedRoundTrips) {
  LoadResult r = load_config(test::example(), {test::catalogue()});
  ASSERT_TRUE(r.ok());
  const Config& c = *r.config;
  const Expander ex(c);
  const Day from = make_day(2025, 1, 1), to = make_day(2027, 12, 31);
  std::size_t total = 0;
  auto check = [&](ExpandFilter f, const std::string& name) {
    const Expansion e = ex.expand(from, to, f);
    const std::string text = render_feed(ex, e, {name});
    expect_clean_bytes(text, name);
    EXPECT_EQ(round_trip(text, name), static_cast<int>(e.occurrences.size())) << name;
    EXPECT_NE(text.find("REFRESH-INTERVAL;VALUE=DURATION:PT6H\r\n"), std::string::npos);
    EXPECT_NE(text.find("X-PUBLISHED-TTL:PT6H\r\n"), std::string::npos);
    total += e.occurrences.size();
  };
  for (std::size_t i = 0; i < c.persons.size(); ++i)
    check({static_cast<std::int32_t>(i), -1}, person_feed_name(c.persons[i]));
  for (std::size_t i = 0; i < c.orgs.size(); ++i)
    check({-1, static_cast<std::int32_t>(i)}, org_feed_name(c.orgs[i]));
  EXPECT_GT(total, 500u);
}

TEST(IcalFeed, TextEscapingSurvivesRoundTrip) {
  LoadResult r = test::load_inline("escape.toml", R"(
[[org]]
id = "e"
name = "中共某县委,第一;党委\\测试"
kind = "party-committee"
level = "county"
[[person]]
id = "x"
name = "𠮷野,某;某"
[[post]]
person = "x"
org = "e"
role = "principal"
from = 2024-01-01
)");
  ASSERT_TRUE(r.ok());
  const Expander ex(*r.config);
  const Expansion e = ex.expand(make_day(2027, 1, 1), make_day(2027, 12, 31), {0, -1});
  ASSERT_FALSE(e.occurrences.empty());
  const std::string text = render_feed(ex, e, {"𠮷野,某;某的日程"});
  expect_clean_bytes(text, "escape");
  ComponentPtr cal{icalparser_parse_string(text.c_str())};
  ASSERT_TRUE(cal);
  icalcomponent* ev = icalcomponent_get_first_component(cal.get(), ICAL_VEVENT_COMPONENT);
  ASSERT_TRUE(ev);
  EXPECT_EQ(std::string(icalcomponent_get_summary(ev)), summary(ex, e.occurrences[0]));
  EXPECT_EQ(std::string(icalcomponent_get_description(ev)), describe(ex, e, e.occurrences[0]));
  EXPECT_NE(std::string(icalcomponent_get_description(ev)).find("中共某县委,第一;党委\\测试"),
            std::string::npos);
  // X-WR-CALNAME is not escaped by libical: dutyd swaps in full-width punctuation instead.
  EXPECT_NE(text.find("X-WR-CALNAME:𠮷野，某；某的日程\r\n"), std::string::npos);
}

TEST(Fold, FourByteCharactersAreNeverSplit) {
  for (std::size_t prefix = 0; prefix < 8; ++prefix) {
    std::string line = "SUMMARY:" + std::string(prefix, 'a');
    for (int i = 0; i < 60; ++i) line += "𠮷";  // 4 octets each
    const std::string folded = refold_ical(line + "\r\n");
    expect_clean_bytes("BEGIN:VCALENDAR\r\n" + folded + "END:VCALENDAR\r\n", "fold");
    // Unfolding gives the original back.
    std::string unfolded;
    for (std::size_t i = 0; i < folded.size(); ++i) {
      if (folded.compare(i, 3, "\r\n ") == 0) {
        i += 2;
        continue;
      }
      unfolded += folded[i];
    }
    EXPECT_EQ(unfolded, line + "\r\n");
  }
}

TEST(Fold, RepairsLibicalTerminatorFold) {
  // libical 3.0.16 output seen in the wild: a fold inside the CRLF of a full-width line.
  const std::string broken = "SUMMARY:\r\n abc\r\r\n \nEND:VEVENT\r\n";
  EXPECT_EQ(refold_ical(broken), "SUMMARY:abc\r\nEND:VEVENT\r\n");
}

}  // namespace
}  // namespace dutyd

namespace dutyd {
namespace {

TEST(IcalFeed, PredecessorSeesTheDutyMarked) {
  LoadResult r = load_config(test::example(), {test::catalogue()});
  ASSERT_TRUE(r.ok());
  const Config& c = *r.config;
  const Expander ex(c);
  // The Dalian principal changed on 2026-06-16: the first-half analysis is due 30 June.
  const std::int32_t dl = c.org_index.at("dl");
  const Expansion org_view = ex.expand(make_day(2026, 6, 30), make_day(2026, 6, 30), {-1, dl});
  std::int32_t predecessor = -1, successor = -1;
  for (const auto& o : org_view.occurrences)
    if (c.obligations[static_cast<std::size_t>(o.obligation)].id == "a6.1.analysis") {
      ASSERT_EQ(org_view.predecessors(o).size(), 1u);
      predecessor = org_view.predecessors(o)[0];
      successor = o.person;
    }
  ASSERT_GE(predecessor, 0);
  ASSERT_GE(successor, 0);
  const Expansion mine = ex.expand(make_day(2026, 6, 30), make_day(2026, 6, 30), {predecessor, -1});
  const std::string as_predecessor = render_feed(ex, mine, {"x", predecessor});
  EXPECT_NE(as_predecessor.find("UID:a6.1.analysis/dl/2026H1@dutyd"), std::string::npos);
  EXPECT_NE(as_predecessor.find("SUMMARY:【前任】【第六条第（一）项】"), std::string::npos);
  const Expansion theirs = ex.expand(make_day(2026, 6, 30), make_day(2026, 6, 30), {successor, -1});
  const std::string as_holder = render_feed(ex, theirs, {"x", successor});
  EXPECT_EQ(as_holder.find("【前任】"), std::string::npos);
  EXPECT_NE(as_holder.find("UID:a6.1.analysis/dl/2026H1@dutyd"), std::string::npos);
}

}  // namespace
}  // namespace dutyd
