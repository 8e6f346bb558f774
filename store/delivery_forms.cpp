#include "store/delivery_forms.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/clock.hpp"
#include "notifiers/workdays.hpp"

namespace dutyd {

const char* delivery_status_zh(const std::string& s) {
  if (s == "queued") return "待发送";
  if (s == "sending") return "发送中";
  if (s == "sent") return "已发送";
  if (s == "failed") return "失败";
  if (s == "cancelled") return "已取消";
  return "已合并";  // superseded by a later step in a catch-up
}

std::string local_minute(std::int64_t unix_seconds, const std::string& tz) {
  const notify::LocalTime t = notify::to_local(unix_seconds, utc_offset_of(tz, unix_seconds));
  char buf[16];
  std::snprintf(buf, sizeof buf, " %02d:%02d", t.second / 3600, t.second / 60 % 60);
  return format_day(t.day) + buf;
}

const char* delivery_purpose_zh(const std::string& purpose) {
  if (purpose == "fallback") return "（改发邮件）";
  if (purpose == "alert") return "（管理员告警）";
  if (purpose == "flag") return "（问责提示）";
  return "";
}

nlohmann::ordered_json delivery_json(const DeliveryRecord& d) {
  nlohmann::ordered_json j;
  j["id"] = d.id;
  j["occurrence"] = d.occurrence;
  j["step"] = d.step;
  j["person"] = d.person;
  j["channel"] = d.channel;
  j["org"] = d.org;
  j["relation"] = d.relation;
  j["send_at"] = iso_utc(d.send_at);
  j["status"] = d.status;
  j["attempts"] = d.attempts;
  j["next_attempt_at"] = iso_utc(d.next_attempt_at);
  j["last_error"] = d.last_error;
  j["sent_at"] =
      d.sent_at ? nlohmann::ordered_json(iso_utc(*d.sent_at)) : nlohmann::ordered_json(nullptr);
  j["created_at"] = iso_utc(d.created_at);
  j["subject"] = d.subject;
  j["purpose"] = d.purpose;  // reminder | fallback | alert | flag
  j["note"] = d.note;
  return j;
}

}  // namespace dutyd
