// Expansion benchmark: one year of a province-scale configuration, expanded by dutyd's
// Expander (each rule's due dates computed once, then joined with organisations and posts),
// next to the naive way measured in the same run: one libical recurrence iterator per
// subject and rule. Prints figures; asserts nothing (benchmarks are not tests).
//
// usage: expand_bench CONFIG [--year YYYY] [--naive-limit N]
#include <libical/ical.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "calendar/expand.hpp"
#include "config/loader.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

icaltimetype date(int y, int m, int d) {
  icaltimetype t = icaltime_null_date();
  t.year = y, t.month = m, t.day = d, t.is_date = 1;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: expand_bench CONFIG [--year YYYY] [--naive-limit N]\n");
    return 64;
  }
  int year = 2027;
  long naive_limit = -1;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--year"))
      year = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--naive-limit"))
      naive_limit = std::atol(argv[i + 1]);
  }
  using namespace dutyd;

  auto t0 = Clock::now();
  LoadResult r = load_config(argv[1]);
  const double load_s = seconds_since(t0);
  if (!r.ok()) {
    for (const auto& d : r.diagnostics.items())
      if (d.severity == Severity::error) std::fprintf(stderr, "%s\n", format(d).c_str());
    return 2;
  }
  const Config& c = *r.config;
  const double rss_loaded = peak_rss_mib();
  std::printf(
      "config: %zu orgs, %zu persons, %zu posts, %zu obligations; loaded in %.2f s "
      "(peak RSS %.0f MiB)\n",
      c.orgs.size(), c.persons.size(), c.posts.size(), c.obligations.size(), load_s, rss_loaded);

  // dutyd's way.
  t0 = Clock::now();
  Expander ex(c);
  const double index_s = seconds_since(t0);
  t0 = Clock::now();
  const Expansion e = ex.expand(make_day(year, 1, 1), make_day(year, 12, 31));
  const double expand_s = seconds_since(t0);
  // Materialise every UID once, as a feed writer or the store would.
  t0 = Clock::now();
  std::size_t uid_bytes = 0;
  for (const auto& o : e.occurrences) uid_bytes += ex.uid(o).size();
  const double uid_s = seconds_since(t0);
  std::printf(
      "dutyd expansion of %d: %zu occurrences in %.3f s (+%.3f s indexing, +%.3f s for "
      "all UIDs, %zu bytes); peak RSS %.0f MiB\n",
      year, e.occurrences.size(), expand_s, index_s, uid_s, uid_bytes, peak_rss_mib());

  // Naive baseline: one libical iterator per (subject, rule), dates only, no joins.
  std::vector<std::pair<const Obligation*, std::size_t>> subjects;  // rule, subject count
  std::size_t naive_subjects = 0;
  std::vector<std::size_t> members_of(c.orgs.size(), 0);
  for (const Post& p : c.posts)
    if (p.role == Role::member) ++members_of[static_cast<std::size_t>(p.org)];
  for (const Obligation& o : c.obligations) {
    if (o.disabled || o.event_triggered()) continue;
    std::size_t n = 0;
    for (const Org& org : c.orgs) {
      if (!o.applies(org)) continue;
      if (o.actor != Actor::member) {
        ++n;
        continue;
      }
      n += members_of[static_cast<std::size_t>(&org - c.orgs.data())];
    }
    subjects.push_back({&o, n});
    naive_subjects += n;
  }
  std::size_t iterators = 0, naive_dates = 0;
  t0 = Clock::now();
  for (const auto& [o, n] : subjects) {
    const icalrecurrencetype rule = icalrecurrencetype_from_string(o->rrule.c_str());
    for (std::size_t s = 0; s < n; ++s) {
      if (naive_limit >= 0 && static_cast<long>(iterators) >= naive_limit) break;
      icalrecur_iterator* it = icalrecur_iterator_new(rule, date(year, 1, 1));
      ++iterators;
      for (icaltimetype t = icalrecur_iterator_next(it); !icaltime_is_null_time(t);
           t = icalrecur_iterator_next(it)) {
        if (t.year > year) break;
        ++naive_dates;
      }
      icalrecur_iterator_free(it);
    }
  }
  const double naive_s = seconds_since(t0);
  const double per_iterator_us = iterators ? naive_s / static_cast<double>(iterators) * 1e6 : 0;
  std::printf(
      "naive baseline: %zu libical iterators (of %zu subject x rule pairs), %zu dates in "
      "%.2f s = %.1f us per iterator",
      iterators, naive_subjects, naive_dates, naive_s, per_iterator_us);
  if (iterators < naive_subjects)
    std::printf("; all pairs would take ~%.1f s",
                per_iterator_us * static_cast<double>(naive_subjects) / 1e6);
  std::printf("\n");
  std::printf("speed-up over the naive dates alone: %.1fx\n",
              (per_iterator_us * static_cast<double>(naive_subjects) / 1e6) / expand_s);
  return 0;
}
