// Events recorded at run time (`dutyd event add`, POST /api/v1/events): which obligation a kind
// of event triggers for an organisation and person (pure: the date is a parameter, no I/O), the
// checks a new event passes before it is stored, and the configuration with the store's events
// merged in after its own [[event]]s, so that every part of the daemon derives their
// occurrences exactly like configured ones.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "calendar/records.hpp"
#include "config/model.hpp"

namespace dutyd {

enum class EventKind : std::uint8_t { incident, family_event, promotion };
std::optional<EventKind> parse_event_kind(
    std::string_view name);  // incident, family-event, promotion
const char* event_kind_name(EventKind k);

struct EventTarget {
  std::int32_t obligation = -1;
  std::int32_t org = -1;  // the organisation that answers for it
};

// The obligation an event of `kind` triggers, found by its citation among the enabled
// event-triggered obligations (catalogue order) that apply to the organisation:
// - incident: 第六条第（九）项 of `org` when it applies there, else of the nearest ancestor it
//   applies to (a department's or party group's incident is reviewed by its committee's team);
// - family-event: 第七条第（十一）项 when `person` holds the principal post of `org` on `date`,
//   第八条第（九）项 when a member post (a principal post wins when both are held);
// - promotion: 第十条第（五）项 of the organisation department: `org` itself when it is one, else
//   the department:organization under the nearest party or working committee at or above `org`.
// Throws EventError (invalid) saying what is missing and what to do.
EventTarget resolve_event_kind(const Config& config, EventKind kind, std::int32_t org,
                               std::int32_t person, Day date);

// What a caller asks for; ids and text as typed.
struct EventRequest {
  std::string kind;  // exactly one of kind and obligation
  std::string obligation;
  std::string org, person;
  std::string date;  // YYYY-MM-DD
  std::string note;
};

// Checks a request against `config` (the one being served: its [[event]]s and the stored events
// merged in) on `today`: known org, person and obligation; the date in the horizon and not in
// the future; the occurrence due within the horizon; no live event for the same occurrence.
// Returns what to store, created_by left to the caller. Throws EventError: not_found for an
// unknown org, person or obligation, conflict for a duplicate, invalid otherwise.
EventInput prepare_event(const Config& config, const EventRequest& request, Day today);

// The UID of the occurrence an event triggers: the one Expander::uid gives it.
std::string event_uid(const Config& config, const Event& event);

// `base` with the stored live events appended after its [[event]]s (`base` itself when there are
// none). An event whose obligation, org or person the configuration no longer has, or that
// would repeat an occurrence already there, is left out and described in `skipped`.
std::shared_ptr<const Config> with_stored_events(std::shared_ptr<const Config> base,
                                                 const std::vector<EventRecord>& stored,
                                                 std::vector<std::string>* skipped = nullptr);

// The one JSON form of a stored event (`dutyd event list --format json`, /api/v1/events), with
// the duty's citation, title and due date when the configuration still has its obligation.
nlohmann::ordered_json event_json(const Config& config, const EventRecord& event);

}  // namespace dutyd
