// iCalendar feeds (libical) following shared/reference/icalendar-feeds.md: one all-day VEVENT
// per occurrence, stable UIDs, Chinese text, CRLF and 75-octet folding done by libical.
#pragma once

#include <ctime>
#include <string>

#include "calendar/expand.hpp"

namespace dutyd {

struct FeedOptions {
  std::string name;          // calendar name shown by clients
  std::time_t now = 0;       // DTSTAMP
  std::int32_t viewer = -1;  // person feeds: mark occurrences the viewer left as predecessor
};

std::string render_feed(const Expander& expander, const Expansion& expansion,
                        const FeedOptions& options);

// Calendar names: "王某的全面从严治党责任日程", "中共大连市委全面从严治党责任日程".
std::string person_feed_name(const Person& p);
std::string org_feed_name(const Org& o);

// The DESCRIPTION text of one occurrence (also used by `expand --format table`).
std::string describe(const Expander& expander, const Expansion& expansion, const Occurrence& o);
// SUMMARY: 【第六条第（十六）项】title, prefixed 【空缺】 when nobody holds the post.
std::string summary(const Expander& expander, const Occurrence& o);

}  // namespace dutyd
