// The reminder planner: which messages an occurrence's ladder sends, when, to whom and through
// which channel. Pure logic over the validated Config, the working-day calendar and quiet
// hours: no clock, no store, no network. Whether a planned delivery is still wanted
// (completion, the outbox) is the scheduler's decision in daemon/.
//
// Relations are resolved from the organisation tree and the posts held on the local day of each
// send time (see notifiers/README.md for the rules, including vacancy and the organisation
// department); channels from the step's `via` and the robots' `orgs`.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/model.hpp"
#include "notifiers/ladder.hpp"

namespace dutyd::notify {

// What the planner needs of an occurrence (calendar/expand.hpp's Occurrence maps onto it).
struct ReminderSubject {
  std::int32_t obligation = -1;
  std::int32_t org = -1;
  std::int32_t person = -1;  // responsible person; -1: principal post vacant on the due date
  bool member_duty = false;  // the person owes it as a member (第八条), not as the principal
  Day window_start = 0;
  Day due = 0;
};

struct PlannedDelivery {
  std::int64_t send_at = 0;      // unix seconds
  std::uint32_t occurrence = 0;  // the caller's id of the subject
  std::uint16_t step = 0;        // index into the ladder's steps
  Relation relation{};           // the first relation of the step that reached the person
  bool via_vacancy = false;      // reached because a post was vacant (went up the chain)
  bool overdue = false;
  bool deferred = false;  // moved out of a non-working day or quiet hours
  std::int32_t person = -1;
  std::int32_t channel = -1;  // index into Config::channels
  std::int32_t ladder = -1;   // index into Config::ladders
};

// Something a step would have done but cannot: no e-mail address, nobody in charge, ...
struct PlanNote {
  std::int64_t send_at = 0;
  std::uint32_t occurrence = 0;
  std::uint16_t step = 0;
  Relation relation{};
  std::int32_t person = -1;   // -1: the relation resolved to nobody
  std::int32_t channel = -1;  // -1: not about a channel
  std::string text;           // Chinese, for administrators
};

struct ReminderPlan {
  std::vector<PlannedDelivery> deliveries;
  std::vector<PlanNote> notes;
};

class ReminderPlanner {
 public:
  // Indexes the config once (posts per organisation, members in charge, organisation
  // departments, robots per organisation). `config` and `ctx.calendar` must outlive it.
  ReminderPlanner(const Config& config, const ScheduleContext& ctx);

  // Appends the deliveries (and notes) of one occurrence whose send time lies in
  // [from, until) (unix seconds). Not thread-safe: step schedules are cached per
  // (ladder, due date, window start).
  void plan(const ReminderSubject& s, std::uint32_t occurrence, std::int64_t from,
            std::int64_t until, ReminderPlan& out) const;

  struct Reached {
    std::int32_t person = -1;
    bool via_vacancy = false;
  };
  // The people a relation names for an occurrence on local day `day`; empty with `why` set
  // when it names nobody.
  std::vector<Reached> resolve(Relation r, const ReminderSubject& s, Day day,
                               std::string* why) const;

  // The holder of the principal post of `org` on `day` (person index), or -1.
  std::int32_t principal_on(std::int32_t org, Day day) const;
  // The party committee or working committee an organisation belongs to: itself, or its
  // nearest such ancestor; -1 when none.
  std::int32_t committee_of(std::int32_t org) const;
  // The organisation department (department = "organization") under org's committee, or -1.
  std::int32_t organization_department(std::int32_t org) const;
  // The same-level discipline inspection organ: the org's own discipline_organ, else its
  // committee's; for a discipline organ itself, the next higher one. -1 when none.
  std::int32_t discipline_organ(std::int32_t org) const;
  // Chat channels (any non-e-mail kind) that carry messages about `org`: the channels listing
  // it, else those listing its nearest ancestor that any channel lists; plus every channel
  // without `orgs` (webhook, log).
  std::vector<std::int32_t> chat_channels(std::int32_t org) const;
  // The ladder that applies to an occurrence (index into Config::ladders).
  std::int32_t ladder_of(const ReminderSubject& s) const;

 private:
  void channels_for(const std::string& via, std::int32_t org, std::vector<std::int32_t>& out) const;
  const std::vector<StepSchedule>& schedule(std::int32_t ladder, Day due, Day window_start) const;

  const Config& config_;
  ScheduleContext ctx_;
  std::vector<std::vector<std::int32_t>> principal_posts_;  // per org, by start
  std::vector<std::vector<std::int32_t>> posts_;            // per org, every post
  std::vector<std::vector<std::int32_t>> in_charge_posts_;  // per org: member posts listing it
  std::vector<std::int32_t> organization_department_;       // per committee org
  std::vector<std::vector<std::int32_t>> listed_by_;        // per org: channels listing it
  std::vector<std::int32_t> all_org_channels_;
  std::int32_t email_channel_ = -1;
  mutable std::unordered_map<std::uint64_t, std::vector<StepSchedule>> schedules_;
};

// How far a step's send day can lie from its occurrence's due date, in calendar days, over every
// configured ladder: to plan the send days [a, b], expand the due dates [a - after, b + before].
struct PlanReach {
  int before = 0;  // a send day this many days before the due date
  int after = 0;   // ... or this many after it
};
PlanReach plan_reach(const Config& config);

// The id a chat channel @mentions a person by: WeCom userid (else mobile), DingTalk mobile
// (else userid), Feishu open id; empty when the person has none or the kind has no mentions.
std::string mention_for(const Person& p, ChannelKind kind);

// Catch-up after downtime. `pending` are deliveries not sent yet: those due at or before `now`
// keep, per (occurrence, person, channel), only the latest step (the rest are superseded: one
// message with the latest state, not a burst of every missed step); later ones are untouched.
struct CatchUp {
  std::vector<PlannedDelivery> send_now, superseded, later;
};
CatchUp coalesce_catch_up(std::vector<PlannedDelivery> pending, std::int64_t now);

}  // namespace dutyd::notify
