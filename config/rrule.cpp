#include "config/rrule.hpp"

#include <libical/ical.h>

#include <limits>
#include <memory>

namespace dutyd {
namespace {

struct IteratorFree {
  void operator()(icalrecur_iterator* it) const { icalrecur_iterator_free(it); }
};
using IteratorPtr = std::unique_ptr<icalrecur_iterator, IteratorFree>;

icaltimetype ical_date(Day d) {
  const Civil c = civil(d);
  icaltimetype t = icaltime_null_date();
  t.year = c.year;
  t.month = static_cast<int>(c.month);
  t.day = static_cast<int>(c.day);
  t.is_date = 1;
  return t;
}

Day from_ical(const icaltimetype& t) {
  return make_day(t.year, static_cast<unsigned>(t.month), static_cast<unsigned>(t.day));
}

bool parse(const std::string& rule, icalrecurrencetype& out) {
  icalerror_clear_errno();
  out = icalrecurrencetype_from_string(rule.c_str());
  const bool ok = out.freq != ICAL_NO_RECURRENCE && icalerrno == ICAL_NO_ERROR;
  icalerror_clear_errno();
  return ok;
}

}  // namespace

std::optional<std::string> rrule_problem(const std::string& rule) {
  if (rule.rfind("RRULE:", 0) == 0) return "write the rule without the 'RRULE:' prefix";
  icalrecurrencetype r;
  if (!parse(rule, r)) return "libical cannot parse this RRULE";
  if (r.count != 0 || !icaltime_is_null_time(r.until))
    return "COUNT and UNTIL are not allowed: duties recur as long as the posts exist";
  if (r.freq != ICAL_YEARLY_RECURRENCE && r.freq != ICAL_MONTHLY_RECURRENCE)
    return "only FREQ=YEARLY or FREQ=MONTHLY rules make sense for due dates";
  // A rule that never fires in four years (e.g. BYMONTH=2;BYMONTHDAY=30) is a mistake.
  if (rrule_dates(rule, make_day(2025, 1, 1), make_day(2028, 12, 31)).empty())
    return "this RRULE yields no date at all between 2025 and 2028";
  return std::nullopt;
}

std::vector<Day> rrule_dates(const std::string& rule, Day from, Day to) {
  std::vector<Day> out;
  icalrecurrencetype r;
  if (!parse(rule, r) || from > to) return out;
  // libical 3.0.16 returns the first match twice when DTSTART itself does not match the
  // rule (seen with DTSTART 1 January and BYMONTHDAY=31), so keep dates strictly ascending.
  const Civil start = civil(from);
  IteratorPtr it{icalrecur_iterator_new(r, ical_date(make_day(start.year, 1, 1)))};
  if (!it) return out;
  Day last = std::numeric_limits<Day>::min();
  for (icaltimetype t = icalrecur_iterator_next(it.get()); !icaltime_is_null_time(t);
       t = icalrecur_iterator_next(it.get())) {
    const Day d = from_ical(t);
    if (d > to) break;
    if (d <= last) continue;
    last = d;
    if (d >= from) out.push_back(d);
  }
  return out;
}

}  // namespace dutyd
