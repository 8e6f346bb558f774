// Annual reports (第二十一条, 第二十五条): per organisation (its leadership team) and per person
// (per post held), how the duties due in a year stand on an "as of" day, the open
// non-compliance flags by 第二十七条 item and grade, and the measures decided. One function
// (build_report) turns a configuration, its occurrences and what the store knows into rows;
// `dutyd report` and GET /api/v1/reports print them as a table, CSV or JSON. No clock and no
// database here: callers pass the day and the store's completions and flags.
//
// An occurrence's state is occurrence_state() on the as-of day (calendar/accountability.hpp),
// with the day of the completion reaching min_count as its completion day (done_day()).
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "calendar/expand.hpp"
#include "calendar/records.hpp"
#include "config/model.hpp"

namespace dutyd {

struct ReportCounts {
  int total = 0;  // 应履行: occurrences due in the year
  int upcoming = 0, overdue = 0, missed = 0, on_time = 0, late = 0;
  // 已到期: due by the as-of day, or done before their due date.
  int assessed() const { return total - upcoming; }
  int done() const { return on_time + late; }
  // done / assessed and on_time / assessed; nullopt when nothing was due yet.
  std::optional<double> completion_rate() const;
  std::optional<double> on_time_rate() const;
};

// A duty left undone past its grace period (未履行), listed under its article.
struct MissedDuty {
  std::string uid, citation, title;
  int article = 0, item = 0;
  Day due = 0;
  std::int32_t person = -1;  // responsible on the due date; -1 vacant
  std::int64_t flag = 0;     // its flag's number, 0 when none (e.g. due before flags.since)
};

// A measure decided on a flag (第二十九条 决定 or 实施) and its impact periods
// (第二十八条第（四）项).
struct DecidedMeasure {
  std::int64_t flag = 0;
  std::string measure;  // name: admonishment, ...
  Day decided_on = 0;
  std::vector<FlagImpact> impacts;
};

struct FlagTally {
  int open = 0;                  // 提出, 报批, 调查, 决定: not yet implemented or dismissed
  std::array<int, 6> by_item{};  // open flags by 第二十七条 item 1-5 ([0]: unknown item)
  std::array<int, 3> by_severity{};  // open flags: light, serious, grave
  int dismissed = 0, implemented = 0;
};

struct ReportRow {
  std::int32_t org = -1;
  // Person rows: the person and the post (index into Config::posts) under which the duties
  // were theirs on their due dates. Organisation rows: -1.
  std::int32_t person = -1, post = -1;
  ReportCounts counts;
  FlagTally flags;
  std::vector<MissedDuty> missed;        // by article, item, due date
  std::vector<DecidedMeasure> measures;  // by decision day
};

struct Report {
  int year = 0;
  Day as_of = 0;
  bool final = false;      // as_of is after 31 December of the year
  std::int32_t root = -1;  // --org: the organisation whose subtree is reported; -1 the whole tree
  ReportRow total;         // everything selected (person and post -1, org = root)
  std::vector<ReportRow> orgs;     // the subtree in tree order; organisations with duties or flags
  std::vector<ReportRow> persons;  // per post, organisations in tree order, principal first
};

// What the store knows, read once per report.
struct ReportStore {
  std::unordered_map<std::string, std::vector<Day>> completion_days;  // Store::completion_days()
  std::vector<FlagRecord> flags;                                      // Store::flags({})
};

// The report of `year` as of `as_of` for `root` and its subtree (-1: every organisation).
// `parts` hold the occurrences to look at (an Expander's expansion of the year, or a snapshot's
// organisation blocks); occurrences due outside the year or outside the subtree are skipped.
// Flags count when their occurrence is due in the year and they were raised by `as_of`; a
// flag's state is the one the store holds now.
Report build_report(const Config& config, const Expander& expander,
                    const std::vector<const Expansion*>& parts, const ReportStore& store, int year,
                    Day as_of, std::int32_t root);

// A report's year as given on the command line or in the query: four digits, 1970 or later.
std::optional<int> parse_report_year(std::string_view text);

// The organisations of `root`'s subtree (root first, children in configuration order,
// depth first); every organisation's subtrees in turn when root is -1.
std::vector<std::int32_t> subtree(const Config& config, std::int32_t root);

// Printing. JSON rows: type (summary, org or person), org, org_name, person, name, role,
// post_from, post_until, counts {total, assessed, on_time, late, missed, overdue, upcoming,
// done}, completion_rate, on_time_rate (fractions, null when nothing was due), open_flags,
// open_flags_by_art27 {"1".."5"}, open_flags_by_severity {light, serious, grave},
// missed [{uid, citation, title, due, flag}], measures [{flag, measure, measure_zh,
// decided_on, impacts [{what, until}]}]; the summary adds year, as_of, final, root.
nlohmann::ordered_json report_row_json(const Config& config, const Report& report,
                                       const ReportRow& row, const char* type);
// One document: {year, as_of, final, org, summary, orgs: [...], persons: [...]} (the API).
nlohmann::ordered_json report_json(const Config& config, const Report& report);
// One object per line: the summary, then organisations, then persons (the CLI's json).
void print_report_json_lines(const Config& config, const Report& report, std::ostream& out);
// UTF-8 with a BOM, CRLF line ends and RFC 4180 quoting; Chinese headings, one row per
// organisation and per person after the 合计 row.
void print_report_csv(const Config& config, const Report& report, std::ostream& out);
// Chinese headings, columns aligned by display width (a Han character takes two columns).
void print_report_table(const Config& config, const Report& report, std::ostream& out);

}  // namespace dutyd
