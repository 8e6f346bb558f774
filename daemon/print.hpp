// What the command line prints for administrators: the tables of `dutyd flags`, `dutyd event
// list` and `dutyd deliveries`, or with --format json one object per line, in the forms the API
// answers with (flag_json, event_json, delivery_json).
#pragma once

#include <iosfwd>
#include <vector>

#include "calendar/records.hpp"
#include "config/model.hpp"
#include "store/store.hpp"

namespace dutyd {

// A table for administrators (Chinese headings, names from `config`, ids of people and
// organisations since removed) or, with `json`, one flag_json object per line.
void print_flags(const Config& config, Store& store, const std::vector<FlagRecord>& flags,
                 bool json, std::ostream& out);

// `dutyd event list`: a table for administrators, or one JSON object a line.
void print_events(const Config& config, const std::vector<EventRecord>& events, bool json,
                  std::ostream& out);

void print_deliveries(const Config& config, const std::vector<DeliveryRecord>& rows, bool json,
                      std::ostream& out);

}  // namespace dutyd
