// `dutyd deliveries`: the history of the reminder outbox (what was queued, sent, failed,
// cancelled by a completion or superseded in a catch-up), as read from the store.
#pragma once

#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "store/store.hpp"

namespace dutyd {

// One row as JSON, for `dutyd deliveries --format json` and GET /api/v1/deliveries alike:
// id, occurrence, step, person, channel, org, relation, send_at, status, attempts,
// next_attempt_at, last_error (as the store keeps it: redacted), sent_at (null until sent),
// created_at, subject; times in UTC, "2026-11-27T01:00:00Z".
nlohmann::ordered_json delivery_json(const DeliveryRecord& row);

// A table for administrators (Chinese headers, local times in the configured zone, names from
// `config`) or, with `json`, one object per row with English keys and UTC times.
// 待发送, 发送中, 已发送, 失败, 已取消, 已合并 (superseded by a later step in a catch-up).
const char* delivery_status_zh(const std::string& status);
// What a row is when it is not a ladder's reminder: （改发邮件）, （管理员告警）, （问责提示）;
// else "".
const char* delivery_purpose_zh(const std::string& purpose);
// "2026-06-23 09:00" in the zone `tz`.
std::string local_minute(std::int64_t unix_seconds, const std::string& tz);

}  // namespace dutyd
