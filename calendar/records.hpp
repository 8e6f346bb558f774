// The records people and the daemon make about occurrences: completions with their evidence,
// non-compliance flags with their workflow, and events recorded at run time. Plain values: the
// store (store/store.hpp) keeps them, the rules (calendar/events.hpp, calendar/flags.hpp,
// calendar/report.hpp) read them.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/date.hpp"

namespace dutyd {

struct CompletionInput {
  std::string uid;
  Day done_on = 0;
  std::string document_number;  // 报告文号
  std::string minutes_ref;      // 会议纪要
  std::string evidence_text;    // other evidence, free text
  std::string note;
  std::string recorded_by;  // person id, "admin:<token id>" or "cli:<user>"
  std::string channel;      // form | api | cli
};

struct Completion : CompletionInput {
  std::int64_t id = 0;
  std::string recorded_at;  // UTC, ISO 8601
  bool late = false;
};

// Non-compliance flags (第二十七条 to 第二十九条): one per missed occurrence, raised by the daemon
// (reminders/flagger.hpp) and moved through the 第二十九条 workflow by people. What a flag says is
// kept as it was when raised (names are ids; texts are Chinese), so a later change of the
// configuration does not rewrite it.
struct FlagInput {
  std::string occurrence;       // UID
  std::string org, obligation;  // ids
  std::string citation, title;  // the duty: 第六条第（一）项, its title with the period
  int art27 = 0;                // the item of 第二十七条 a miss feeds (from the catalogue)
  std::string art27_clause;     // that item's 情形, quoted from the regulation
  Day window_start = 0, due = 0;
  Day raised_on = 0;                   // local date
  int days_late = 0;                   // raised_on - due
  std::string scope;                   // individual | collective
  std::string responsible;             // person on the due date (第二十六条); empty: vacant
  std::string incumbent;               // who holds that post when raised (现任); empty: vacant
  bool responsible_moved_on = false;   // the responsible person no longer holds the post (前任)
  std::string team_org, principal;     // collective: the team and its principal on the due date
  std::vector<std::string> in_charge;  // collective: the members in charge of it (分管)
  std::string severity;                // light | serious | grave
  std::string severity_reason;         // Chinese: 逾期45天；……
  std::vector<std::string> suggested_measures;  // 第二十八条, for people to decide
};

struct FlagImpact {
  std::string what;  // 六个月内不得提拔或者重用, ...
  Day until = 0;     // the last day it applies
};

struct FlagRecord : FlagInput {
  std::int64_t id = 0;
  std::string status;   // raised | submitted | investigating | decided | implemented | dismissed
  std::string measure;  // from 决定 on: the measure decided (its name: admonishment, ...)
  std::optional<Day> decided_on;
  std::vector<FlagImpact> impacts;  // of the measure decided, with the day each ends
  std::string dismiss_reason;
  std::string raised_at, updated_at;  // UTC, ISO 8601
};

// One step of a flag's workflow (the raise included, from ""), as the audit log has it too.
struct FlagTransition {
  std::int64_t id = 0, flag = 0;
  std::string from, to;  // status names
  std::string actor, at, reason;
};

// A workflow step that cannot be taken: no such flag (not_found), the flag's state does not
// allow it (conflict), or what the step needs is missing or malformed (invalid). The message
// says which and what to do.
struct FlagError : std::runtime_error {
  enum Kind : std::uint8_t { not_found, conflict, invalid };
  FlagError(Kind k, const std::string& what) : std::runtime_error(what), kind(k) {}
  Kind kind;
};

// An event recorded at run time (`dutyd event add`, POST /api/v1/events): it triggers one
// occurrence of an event-type obligation, like an [[event]] of the configuration. Names are ids.
struct EventInput {
  std::string occurrence;  // the UID of the occurrence it triggers
  std::string obligation, org;
  std::string person;  // empty: none named
  std::string kind;    // incident | family-event | promotion; empty: named by obligation
  Day date = 0;
  std::string note;
  std::string created_by;  // "cli:<user>", "admin:<token id>" or "org:<id>:<token id>"
};

struct EventRecord : EventInput {
  std::int64_t id = 0;
  std::string created_at;  // UTC, ISO 8601
  std::optional<std::string> withdrawn_at;
  std::string withdrawn_by, withdraw_reason;
};

// An event that cannot be added or withdrawn: not_found (no such event), conflict (a live event
// already triggers that occurrence; already withdrawn), invalid (no reason). Says what to do.
struct EventError : std::runtime_error {
  enum Kind : std::uint8_t { not_found, conflict, invalid };
  EventError(Kind k, const std::string& what) : std::runtime_error(what), kind(k) {}
  Kind kind;
};

}  // namespace dutyd
