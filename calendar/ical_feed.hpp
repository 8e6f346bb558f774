// iCalendar feeds (libical) following shared/reference/icalendar-feeds.md: one all-day VEVENT
// per occurrence, stable UIDs, Chinese text, CRLF and 75-octet folding done by libical.
#pragma once

#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "calendar/expand.hpp"

namespace dutyd {

// What the store knows about one occurrence (the daemon supplies it; the CLI has none).
struct CompletionNote {
  Day done_on = 0;
  bool late = false;
  std::int64_t recorded_unix = 0;
  std::string evidence;  // one line: 文号 / 纪要 / 说明
};
using CompletionLookup = std::function<const std::vector<CompletionNote>*(const Occurrence&)>;

enum class Status : std::uint8_t { open, done, done_late, overdue };
Status status_of(int min_count, Day due, const std::vector<CompletionNote>* completions, Day today);
const char* status_name(Status s);  // open | done | late | overdue

// An open non-compliance flag of a subordinate organisation, shown in its parent organisation's
// feed (so that the leader who subscribes to it sees 下一级党组织's misses) as an all-day event on
// the day it was raised. Texts are as the flag recorded them; the daemon supplies them.
struct SubordinateFlag {
  std::int64_t id = 0;   // the flag's id: UID flag/ID@dutyd
  std::string org_name;  // the subordinate organisation
  std::string citation;  // 第六条第（一）项
  std::string title;     // the duty with its period
  int art27 = 0;         // 第二十七条 item
  std::string art27_clause;
  Day due = 0, raised_on = 0;
  int days_late = 0;
  std::string responsible;        // names, 前任 noted by the caller; empty: vacant
  std::string status_zh;          // 提出, 报批, 调查, 决定
  int step = 0;                   // 0 for 提出, 1 for 报批, ...: SEQUENCE
  std::string severity_zh;        // 较轻, 较重, 严重
  std::string suggested;          // 第二十八条 measures suggested, joined
  std::int64_t updated_unix = 0;  // last transition: DTSTAMP and LAST-MODIFIED
};

struct FeedOptions {
  std::string name;              // calendar name shown by clients
  std::int32_t viewer = -1;      // person feeds: mark occurrences the viewer left as predecessor
  Day today = 0;                 // 0: no completion state (the CLI); else the daemon's today
  CompletionLookup completions;  // with today: the recorded completions of an occurrence
  std::int32_t utc_offset = 8 * 3600;  // of the configured zone; China has no DST since 1991
  std::vector<SubordinateFlag> subordinate_flags;  // organisation feeds in the daemon
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
