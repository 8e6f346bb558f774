// `dutyd deliveries`: the history of the reminder outbox (what was queued, sent, failed,
// cancelled by a completion or superseded in a catch-up), as read from the store.
#pragma once

#include <iosfwd>
#include <vector>

#include "config/model.hpp"
#include "daemon/store.hpp"

namespace dutyd {

// A table for administrators (Chinese headers, local times in the configured zone, names from
// `config`) or, with `json`, one object per row with English keys and UTC times.
void print_deliveries(const Config& config, const std::vector<DeliveryRecord>& rows, bool json,
                      std::ostream& out);

}  // namespace dutyd
