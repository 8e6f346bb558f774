#include "notifiers/workdays.hpp"

#include <toml++/toml.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <stdexcept>

#include "base/files.hpp"
#include "base/text.hpp"

namespace dutyd::notify {

namespace {

constexpr std::string_view kDash = " — ";
constexpr std::int32_t kDaySeconds = 86400;

// 0 = Monday ... 6 = Sunday; day 0 (1970-01-01) was a Thursday.
int weekday(Day d) {
  return static_cast<int>(((static_cast<std::int64_t>(d) + 3) % 7 + 7) % 7);
}
bool is_weekend(Day d) {
  return weekday(d) >= 5;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

// ---- calendar -------------------------------------------------------------------------------

void WorkdayCalendar::add(const HolidayYear& year) {
  if (auto it = years_.find(year.year); it != years_.end()) {
    for (const auto& nd : it->second.days_off) off_.erase(nd.day);
    for (const auto& nd : it->second.work_days) work_.erase(nd.day);
  }
  years_[year.year] = year;
  for (const auto& nd : year.days_off) off_[nd.day] = nd.name;
  for (const auto& nd : year.work_days) work_.insert(nd.day);
}

bool WorkdayCalendar::covers(int year) const {
  auto it = years_.find(year);
  return it != years_.end() && it->second.published;
}

const HolidayYear* WorkdayCalendar::year_data(int year) const {
  auto it = years_.find(year);
  return it == years_.end() ? nullptr : &it->second;
}

std::vector<int> WorkdayCalendar::years() const {
  std::vector<int> v;
  for (const auto& [y, data] : years_) v.push_back(y);
  return v;
}

bool WorkdayCalendar::is_working_day(Day d) const {
  if (off_.count(d)) return false;
  if (work_.count(d)) return true;
  return !is_weekend(d);
}

Day WorkdayCalendar::add_working_days(Day d, int n) const {
  const int step = n > 0 ? 1 : -1;
  for (int left = n > 0 ? n : -n; left > 0;) {
    d += step;
    if (is_working_day(d)) --left;
  }
  return d;
}

Day WorkdayCalendar::next_working_day_on_or_after(Day d) const {
  while (!is_working_day(d)) ++d;
  return d;
}

// ---- time of day ----------------------------------------------------------------------------

LocalTime to_local(std::int64_t unix_seconds, std::int32_t utc_offset_seconds) {
  const std::int64_t local = unix_seconds + utc_offset_seconds;
  const std::int64_t day = floor_div(local, kDaySeconds);
  return {static_cast<Day>(day), static_cast<std::int32_t>(local - day * kDaySeconds)};
}

std::int64_t to_unix(LocalTime t, std::int32_t utc_offset_seconds) {
  return static_cast<std::int64_t>(t.day) * kDaySeconds + t.second - utc_offset_seconds;
}

bool is_working_time(const WorkdayCalendar& cal, LocalTime t, const QuietHours& quiet) {
  return cal.is_working_day(t.day) && !quiet.contains(t.second);
}

LocalTime next_unquiet_time(LocalTime t, const QuietHours& quiet) {
  if (!quiet.contains(t.second)) return t;
  // Inside quiet hours: they end at `end` today (before it) or tomorrow (after the start).
  if (quiet.start > quiet.end && t.second >= quiet.start) return {t.day + 1, quiet.end};
  return {t.day, quiet.end};
}

LocalTime next_working_time(const WorkdayCalendar& cal, LocalTime t, const QuietHours& quiet) {
  // Terminates: each round either returns or moves to a later day or later in the day, and
  // quiet hours never cover a whole day (start != end).
  for (;;) {
    if (!cal.is_working_day(t.day)) {
      t = {cal.next_working_day_on_or_after(t.day), 0};
      continue;
    }
    const LocalTime u = next_unquiet_time(t, quiet);
    if (u == t) return t;
    t = u;
  }
}

// ---- TOML -----------------------------------------------------------------------------------

namespace {

struct Reporter {
  Diagnostics& diags;
  const std::string& path;
  bool failed = false;
  void error(std::uint32_t line, std::uint32_t col, const std::string& msg) {
    failed = true;
    diags.add(Severity::error, path, line, col, msg);
  }
  void error(const toml::node& n, const std::string& msg) {
    error(n.source().begin.line, n.source().begin.column, msg);
  }
};

std::optional<Day> toml_day(const toml::node& n) {
  if (const auto* d = n.as_date()) {
    const toml::date v = d->get();
    if (!is_valid_date(v.year, v.month, v.day)) return std::nullopt;
    return make_day(v.year, v.month, v.day);
  }
  return std::nullopt;
}

void check_keys(Reporter& r, const toml::table& t, std::initializer_list<std::string_view> allowed,
                std::string_view where) {
  for (const auto& [k, v] : t) {
    if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end()) continue;
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    r.error(v, "unknown key '" + std::string(k.str()) + "' in " + std::string(where) +
                   std::string(kDash) + "allowed keys: " + list);
  }
}

const toml::node* require(Reporter& r, const toml::table& t, std::string_view key,
                          std::string_view where, std::uint32_t line, std::uint32_t col) {
  const toml::node* n = t.get(key);
  if (!n)
    r.error(line, col,
            "missing '" + std::string(key) + "' in " + std::string(where) + std::string(kDash) +
                "add it");
  return n;
}

std::optional<std::string> text_of(Reporter& r, const toml::node* n, std::string_view key) {
  if (!n) return std::nullopt;
  if (const auto* s = n->as_string()) return s->get();
  r.error(*n, "'" + std::string(key) + "' must be a quoted string" + std::string(kDash) +
                  "write it in double quotes");
  return std::nullopt;
}

std::optional<Day> date_of(Reporter& r, const toml::node* n, std::string_view key, int year) {
  if (!n) return std::nullopt;
  const auto d = toml_day(*n);
  if (!d) {
    r.error(*n, "'" + std::string(key) + "' must be a date such as " + std::to_string(year) +
                    "-10-01" + std::string(kDash) + "write an unquoted TOML date YYYY-MM-DD");
    return std::nullopt;
  }
  return d;
}

}  // namespace

std::vector<HolidayYear> parse_holiday_toml(std::string_view text, const std::string& path,
                                            Diagnostics& diags) {
  Reporter r{diags, path};
  toml::table doc;
  try {
    doc = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    r.error(e.source().begin.line, e.source().begin.column,
            "TOML syntax: " + std::string(e.description()) + std::string(kDash) +
                "fix the syntax at this position (see toml.io)");
    return {};
  } catch (const std::exception& e) {
    r.error(1, 1,
            std::string("cannot read the file as TOML: ") + e.what() + std::string(kDash) +
                "save it as UTF-8 text");
    return {};
  }
  check_keys(r, doc, {"year", "published", "source", "holiday", "workday"}, "a holiday file");
  HolidayYear y;
  y.file = path;
  const toml::node* year_node = require(r, doc, "year", "a holiday file", 1, 1);
  if (!year_node) return {};
  const auto* year_int = year_node->as_integer();
  if (!year_int || year_int->get() < 1990 || year_int->get() > 2999) {
    r.error(*year_node, "'year' must be a whole number such as 2026" + std::string(kDash) +
                            "write the year the arrangement is for");
    return {};
  }
  y.year = static_cast<int>(year_int->get());
  if (const toml::node* p = doc.get("published")) {
    if (const auto* b = p->as_boolean())
      y.published = b->get();
    else
      r.error(*p, "'published' must be true or false" + std::string(kDash) +
                      "write published = false for a year whose notice is not out yet");
  }

  if (!y.published) {
    if (doc.get("holiday") || doc.get("workday"))
      r.error(*year_node, "a year with published = false lists no days" + std::string(kDash) +
                              "remove 'published = false' once the notice is out, or the days");
    if (r.failed) return {};
    return {y};
  }

  if (const toml::node* s = require(r, doc, "source", "a holiday file", 1, 1)) {
    if (const auto* st = s->as_table()) {
      const auto line = s->source().begin.line, col = s->source().begin.column;
      check_keys(r, *st, {"title", "document", "issued", "url"}, "[source]");
      if (auto v = text_of(r, require(r, *st, "title", "[source]", line, col), "title"))
        y.title = *v;
      if (auto v = text_of(r, require(r, *st, "document", "[source]", line, col), "document"))
        y.document = *v;
      if (const toml::node* iss = st->get("issued"))
        y.issued = date_of(r, iss, "issued", y.year - 1);
      if (auto v = text_of(r, st->get("url"), "url")) y.url = *v;
    } else {
      r.error(*s, "'source' must be a table" + std::string(kDash) +
                      "write [source] with title, document and issued: the notice the dates "
                      "come from");
    }
  }

  auto in_year = [&](const toml::node& n, Day d, std::string_view key) {
    if (civil(d).year == y.year) return true;
    r.error(n, "'" + std::string(key) + "' " + format_day(d) + " is not in " +
                   std::to_string(y.year) + std::string(kDash) +
                   "a file holds one year: move it to that year's file");
    return false;
  };
  auto each = [&](std::string_view key, auto&& fn) {
    const toml::node* n = doc.get(key);
    if (!n) return;
    const auto* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      r.error(*n, "'" + std::string(key) + "' must be an array of tables" + std::string(kDash) +
                      "write each entry as [[" + std::string(key) + "]]");
      return;
    }
    for (const auto& e : *arr) fn(*e.as_table(), e);
  };

  std::map<Day, std::string> seen_off;
  each("holiday", [&](const toml::table& t, const toml::node& node) {
    const auto line = node.source().begin.line, col = node.source().begin.column;
    check_keys(r, t, {"name", "from", "until", "quote"}, "[[holiday]]");
    const auto name = text_of(r, require(r, t, "name", "[[holiday]]", line, col), "name");
    const toml::node* fn = require(r, t, "from", "[[holiday]]", line, col);
    const toml::node* un = require(r, t, "until", "[[holiday]]", line, col);
    (void)text_of(r, t.get("quote"), "quote");
    const auto from = date_of(r, fn, "from", y.year);
    const auto until = date_of(r, un, "until", y.year);
    if (!name || !from || !until) return;
    if (!in_year(*fn, *from, "from") || !in_year(*un, *until, "until")) return;
    if (*until < *from) {
      r.error(*un, "'until' " + format_day(*until) + " is before 'from' " + format_day(*from) +
                       std::string(kDash) + "'until' is the last day off (inclusive)");
      return;
    }
    for (Day d = *from; d <= *until; ++d) {
      if (auto it = seen_off.find(d); it != seen_off.end()) {
        r.error(*fn, format_day(d) + " is already a day off of " + it->second + std::string(kDash) +
                         "holiday periods must not overlap");
        return;
      }
      seen_off.emplace(d, *name);
      y.days_off.push_back({d, *name});
    }
  });
  each("workday", [&](const toml::table& t, const toml::node& node) {
    const auto line = node.source().begin.line, col = node.source().begin.column;
    check_keys(r, t, {"name", "date"}, "[[workday]]");
    const auto name = text_of(r, require(r, t, "name", "[[workday]]", line, col), "name");
    const toml::node* dn = require(r, t, "date", "[[workday]]", line, col);
    const auto d = date_of(r, dn, "date", y.year);
    if (!name || !d || !in_year(*dn, *d, "date")) return;
    if (!is_weekend(*d)) {
      r.error(*dn, format_day(*d) + " is a weekday, so it is a working day anyway" +
                       std::string(kDash) +
                       "调休上班 days are Saturdays or Sundays: check the notice");
      return;
    }
    if (auto it = seen_off.find(*d); it != seen_off.end()) {
      r.error(*dn, format_day(*d) + " is also a day off of " + it->second + std::string(kDash) +
                       "a day is either off or a make-up working day");
      return;
    }
    y.work_days.push_back({*d, *name});
  });
  if (r.failed) return {};
  return {y};
}

// ---- iCalendar ------------------------------------------------------------------------------

namespace {

struct IcsLine {
  std::uint32_t number = 0;
  std::string name;    // upper-cased property name
  std::string params;  // ";VALUE=DATE" etc. as written
  std::string value;
};

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::optional<Day> ics_date(std::string_view v) {
  if (v.size() != 8) return std::nullopt;
  for (char c : v)
    if (c < '0' || c > '9') return std::nullopt;
  return parse_day(std::string(v.substr(0, 4)) + "-" + std::string(v.substr(4, 2)) + "-" +
                   std::string(v.substr(6, 2)));
}

std::string ics_unescape(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) {
      const char n = v[++i];
      out += (n == 'n' || n == 'N') ? '\n' : n;
    } else {
      out += v[i];
    }
  }
  return out;
}

}  // namespace

std::vector<HolidayYear> parse_holiday_ics(std::string_view text, const std::string& path,
                                           Diagnostics& diags) {
  Reporter r{diags, path};
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  // Unfold: a line starting with a space or tab continues the previous one.
  std::vector<IcsLine> lines;
  {
    std::uint32_t number = 0;
    std::size_t pos = 0;
    std::string current;
    std::uint32_t current_line = 0;
    auto flush = [&] {
      if (current_line == 0) return;
      IcsLine l;
      l.number = current_line;
      // Property name and parameters end at the first ':' outside double quotes.
      bool quoted = false;
      std::size_t colon = std::string::npos;
      for (std::size_t i = 0; i < current.size(); ++i) {
        if (current[i] == '"') quoted = !quoted;
        if (current[i] == ':' && !quoted) {
          colon = i;
          break;
        }
      }
      if (colon == std::string::npos) {
        if (!current.empty())
          r.error(current_line, 1,
                  "not an iCalendar content line (no ':')" + std::string(kDash) +
                      "check that the file is an .ics export");
      } else {
        const std::string head = current.substr(0, colon);
        const auto semi = head.find(';');
        l.name = upper(head.substr(0, semi));
        l.params = semi == std::string::npos ? "" : upper(head.substr(semi));
        l.value = current.substr(colon + 1);
        lines.push_back(std::move(l));
      }
      current.clear();
      current_line = 0;
    };
    while (pos < text.size()) {
      auto nl = text.find('\n', pos);
      std::string_view raw =
          text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
      pos = nl == std::string_view::npos ? text.size() : nl + 1;
      ++number;
      if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      if (!raw.empty() && (raw[0] == ' ' || raw[0] == '\t')) {
        if (current_line == 0) {
          r.error(number, 1,
                  "a continuation line with nothing before it" + std::string(kDash) +
                      "check that the file is an .ics export");
          continue;
        }
        current.append(raw.substr(1));
        continue;
      }
      flush();
      current.assign(raw);
      current_line = number;
    }
    flush();
  }
  if (!is_valid_utf8(text)) {
    r.error(1, 1, "the file is not valid UTF-8" + std::string(kDash) + "re-export it as UTF-8");
    return {};
  }

  std::map<int, HolidayYear> by_year;
  std::map<Day, std::pair<bool, std::uint32_t>> seen;  // day -> (is work, line)
  bool saw_calendar = false;
  bool in_event = false;
  std::uint32_t event_line = 0;
  // Plain values and flags rather than optionals: GCC 12 warns (falsely) about the latter here.
  Day start = 0, end = 0;
  bool has_start = false, has_end = false;
  std::uint32_t start_line = 0;
  std::string summary, categories;
  int depth_other = 0;  // inside VALARM etc. within the event

  for (const auto& l : lines) {
    if (l.name == "BEGIN") {
      const std::string what = upper(l.value);
      if (what == "VCALENDAR") saw_calendar = true;
      if (in_event) {
        ++depth_other;
      } else if (what == "VEVENT") {
        in_event = true;
        event_line = l.number;
        has_start = has_end = false;
        summary.clear();
        categories.clear();
      }
      continue;
    }
    if (l.name == "END" && in_event) {
      if (depth_other > 0) {
        --depth_other;
        continue;
      }
      in_event = false;
      if (!has_start) {
        r.error(event_line, 1,
                "VEVENT without an all-day DTSTART" + std::string(kDash) +
                    "each event needs DTSTART;VALUE=DATE:YYYYMMDD");
        continue;
      }
      const Day last = has_end ? end - 1 : start;
      if (last < start) {
        r.error(start_line, 1,
                "DTEND is not after DTSTART" + std::string(kDash) +
                    "DTEND is exclusive: the day after the last day");
        continue;
      }
      if (last - start > 366) {
        r.error(start_line, 1,
                "the event spans more than a year" + std::string(kDash) +
                    "check DTEND; holidays last days, not years");
        continue;
      }
      const bool work = categories.find("班") != std::string::npos ||
                        upper(categories).find("WORKDAY") != std::string::npos ||
                        summary.find("班") != std::string::npos;
      std::string name = summary.empty() ? std::string(work ? "调休上班" : "放假") : summary;
      for (Day d = start; d <= last; ++d) {
        if (auto it = seen.find(d); it != seen.end()) {
          if (it->second.first != work)
            r.error(start_line, 1,
                    format_day(d) + " is both a day off and a make-up working day (see line " +
                        std::to_string(it->second.second) + ")" + std::string(kDash) +
                        "keep one of the two events");
          continue;  // the same kind twice (e.g. two overlapping exports) is harmless
        }
        seen.emplace(d, std::make_pair(work, start_line));
        HolidayYear& y = by_year[civil(d).year];
        y.year = civil(d).year;
        y.file = path;
        (work ? y.work_days : y.days_off).push_back({d, name});
      }
      continue;
    }
    if (!in_event || depth_other > 0) continue;
    if (l.name == "DTSTART" || l.name == "DTEND") {
      const auto d = ics_date(l.value);
      if (!d) {
        r.error(l.number, 1,
                l.name + " \"" + l.value + "\" is not an all-day date" + std::string(kDash) +
                    "holiday events are whole days: " + l.name + ";VALUE=DATE:YYYYMMDD");
        continue;
      }
      if (l.name == "DTSTART") {
        start = *d;
        has_start = true;
        start_line = l.number;
      } else {
        end = *d;
        has_end = true;
      }
    } else if (l.name == "SUMMARY") {
      summary = ics_unescape(l.value);
    } else if (l.name == "CATEGORIES") {
      categories += ics_unescape(l.value) + ",";
    }
  }
  if (in_event)
    r.error(event_line, 1, "VEVENT is not closed" + std::string(kDash) + "add END:VEVENT");
  if (!saw_calendar)
    r.error(1, 1, "no BEGIN:VCALENDAR" + std::string(kDash) + "is this an .ics file?");
  if (r.failed) return {};
  std::vector<HolidayYear> out;
  for (auto& [year, y] : by_year) {
    y.title = "imported from " + path;
    out.push_back(std::move(y));
  }
  return out;
}

std::vector<HolidayYear> load_holiday_file(const std::string& path, Diagnostics& diags) {
  std::string text;
  try {
    text = read_regular_file(path, kMaxDataFileBytes, "the holiday file");
  } catch (const FileReadError& e) {
    const bool open_failed =
        e.kind == FileReadError::not_found || e.kind == FileReadError::unreadable;
    diags.add(Severity::error, path, 0, 0,
              open_failed
                  ? "cannot open the holiday file: " + e.reason.substr(e.reason.find(": ") + 2)
                  : "the holiday file " + e.reason);
    return {};
  }
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".ics") return parse_holiday_ics(text, path, diags);
  if (ext == ".toml") return parse_holiday_toml(text, path, diags);
  diags.add(Severity::error, path, 0, 0,
            "unknown holiday file type '" + ext + "'" + std::string(kDash) +
                "use .toml (dutyd's format) or .ics (an iCalendar export)");
  return {};
}

WorkdayCalendar load_holiday_dir(const std::string& dir, Diagnostics& diags) {
  WorkdayCalendar cal;
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".toml" || ext == ".ics"))
      files.push_back(e.path().string());
  }
  if (ec) {
    diags.add(
        Severity::error, dir, 0, 0,
        "cannot list the holiday folder: " + ec.message() + std::string(kDash) + "check the path");
    return cal;
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files)
    for (const auto& y : load_holiday_file(f, diags)) cal.add(y);
  return cal;
}

std::string default_holiday_dir() {
  if (const char* env = std::getenv("DUTYD_HOLIDAYS"); env && *env) return env;
  std::error_code ec;
  if (std::filesystem::is_directory(DUTYD_HOLIDAYS_INSTALLED, ec)) return DUTYD_HOLIDAYS_INSTALLED;
  // Without a source tree to fall back on (the package's build), name the installed folder.
  return *DUTYD_HOLIDAYS_SOURCE ? DUTYD_HOLIDAYS_SOURCE : DUTYD_HOLIDAYS_INSTALLED;
}

}  // namespace dutyd::notify
