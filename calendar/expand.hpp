// Occurrence expansion: from the validated model, who owes which duty by when.
//
// Pure logic, no I/O. The due dates of a rule are the same for every organisation, so each
// rule is evaluated once per call (one libical iterator per obligation, not per subject) and
// the dates are then joined with the organisations and the posts held on each due date.
//
// Attribution (第二十六条): the responsible person is the holder of the post on the due date;
// responsibility does not follow the person to later posts. Principal holders who left during
// the window stay visible as predecessors. When the principal post is vacant on the due date
// the occurrence is still produced, with no person: the team owes it collectively and the
// organisation's feed shows it as 【空缺】 (reminders then go up the chain, see the README).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "config/model.hpp"

namespace dutyd {

struct Occurrence {
  std::int32_t obligation = -1;
  std::int32_t org = -1;
  std::int32_t person = -1;  // responsible person; -1: principal post vacant on the due date
  std::int32_t member = -1;  // member duties (第八条): the member, part of the identity
  std::int32_t counterpart_person = -1;
  std::int32_t counterpart_org = -1;
  std::int32_t event = -1;  // index into Config::events for event-triggered duties
  Day window_start = 0;
  Day due = 0;
  std::uint32_t predecessors_at = 0;  // into Expansion::predecessor_pool
  std::uint32_t predecessors_count = 0;
};

// The order of every list of occurrences dutyd hands out (expand(), feeds, the API): due date,
// organisation, obligation, member, counterpart, event. A total order (no two occurrences share
// all of these), so any list sorted by it comes out the same however it was assembled.
inline bool occurrence_order(const Occurrence& a, const Occurrence& b) {
  return std::tie(a.due, a.org, a.obligation, a.member, a.counterpart_org, a.counterpart_person,
                  a.event) < std::tie(b.due, b.org, b.obligation, b.member, b.counterpart_org,
                                      b.counterpart_person, b.event);
}

struct Expansion {
  std::vector<Occurrence> occurrences;  // in occurrence_order
  std::vector<std::int32_t> predecessor_pool;
  std::span<const std::int32_t> predecessors(const Occurrence& o) const {
    return {predecessor_pool.data() + o.predecessors_at, o.predecessors_count};
  }
};

struct ExpandFilter {
  std::int32_t person = -1;  // occurrences this person is responsible for or was predecessor in
  std::int32_t org = -1;     // the organisation's team duties and its members' duties
};

class Expander {
 public:
  explicit Expander(const Config& config);

  struct DueWindow {
    Day due;
    Day window_start;
  };
  // Per obligation (index into Config::obligations), its due dates in [from, to] with their
  // windows; empty for disabled and event-triggered obligations. Evaluate once, then hand to
  // expand_org for every organisation.
  using DueWindows = std::vector<std::vector<DueWindow>>;
  DueWindows due_windows(Day from, Day to) const;

  // Occurrences whose due date lies in [from, to].
  Expansion expand(Day from, Day to, const ExpandFilter& filter = {}) const;
  // One organisation's occurrences (recurring and event-triggered) due in [from, to], where
  // `dues` is due_windows(from, to); appended to `out` and sorted in occurrence_order.
  void expand_org(std::int32_t org, const DueWindows& dues, Day from, Day to, Expansion& out) const;

  const Config& config() const { return config_; }
  // Stable identity: obligation/org/period[/member][/counterpart]@dutyd
  std::string uid(const Occurrence& o) const;
  // The same bytes as uid(), handed to `sink` piece by piece (no allocation): lets callers
  // hash millions of UIDs without building the strings.
  template <typename Sink>
  void write_uid(const Occurrence& o, Sink&& sink) const;
  // "2027年度", "2027年上半年", "2027年第一季度", or the event date.
  std::string period_label(const Occurrence& o) const;
  // period_label into `buf` (at least 16 bytes); returns its length.
  std::size_t period_label(const Occurrence& o, char* buf) const;
  // Chinese title without the citation, e.g. "同班子成员谈话：李某（2027年度）".
  std::string title(const Occurrence& o) const;
  // Principal post holder (post index) of `org` on day `d`, or -1.
  std::int32_t principal_post(std::int32_t org, Day d) const;
  // The directly subordinate organisations: children other than the org's own standing
  // committee, leading groups and same-level discipline organ.
  const std::vector<std::int32_t>& subordinates(std::int32_t org) const {
    return subordinates_[static_cast<std::size_t>(org)];
  }
  // Post indices of an organisation: principal posts sorted by start, member posts in
  // configuration order.
  const std::vector<std::int32_t>& principal_posts(std::int32_t org) const {
    return principal_posts_[static_cast<std::size_t>(org)];
  }
  const std::vector<std::int32_t>& member_posts(std::int32_t org) const {
    return member_posts_[static_cast<std::size_t>(org)];
  }
  // Event indices of an organisation, in configuration order.
  const std::vector<std::int32_t>& org_events(std::int32_t org) const {
    return org_events_[static_cast<std::size_t>(org)];
  }
  // The only organisations whose occurrences can name `person` as responsible or predecessor:
  // those where the person holds or held a post, or which an event names the person for.
  const std::vector<std::int32_t>& person_orgs(std::int32_t person) const {
    return person_orgs_[static_cast<std::size_t>(person)];
  }

 private:
  std::vector<DueWindow> due_windows(const Obligation& o, Day from, Day to) const;
  void expand_obligation(std::int32_t obligation, const std::vector<DueWindow>& dues,
                         std::int32_t org, const ExpandFilter& filter, Expansion& out) const;
  void expand_event(std::int32_t event, Day from, Day to, const ExpandFilter& filter,
                    Expansion& out) const;

  const Config& config_;
  std::vector<std::vector<std::int32_t>> principal_posts_;  // per org, sorted by from
  std::vector<std::vector<std::int32_t>> member_posts_;     // per org
  std::vector<std::vector<std::int32_t>> subordinates_;     // per org
  std::vector<std::vector<std::int32_t>> person_orgs_;      // per person, see person_orgs()
  std::vector<std::vector<std::int32_t>> org_events_;       // per org
};

template <typename Sink>
void Expander::write_uid(const Occurrence& o, Sink&& sink) const {
  const Obligation& ob = config_.obligations[static_cast<std::size_t>(o.obligation)];
  char period[16];
  const std::size_t n = period_label(o, period);
  sink(std::string_view(ob.id));
  sink(std::string_view("/"));
  sink(std::string_view(config_.orgs[static_cast<std::size_t>(o.org)].id));
  sink(std::string_view("/"));
  sink(std::string_view(period, n));
  if (o.member >= 0) {
    sink(std::string_view("/"));
    sink(std::string_view(config_.persons[static_cast<std::size_t>(o.member)].id));
  }
  if (o.counterpart_person >= 0) {
    sink(std::string_view("/"));
    sink(std::string_view(config_.persons[static_cast<std::size_t>(o.counterpart_person)].id));
  } else if (o.counterpart_org >= 0) {
    sink(std::string_view("/"));
    sink(std::string_view(config_.orgs[static_cast<std::size_t>(o.counterpart_org)].id));
  }
  sink(std::string_view("@dutyd"));
}

}  // namespace dutyd
