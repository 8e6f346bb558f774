// Non-compliance flags as people see them: the quoted items of 第二十七条, the Chinese names of
// the workflow's states, grades and measures, the texts that name who answers for a flag, and
// the one JSON form of a flag (`dutyd flags --format json` and GET /api/v1/flags alike).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "calendar/records.hpp"
#include "config/model.hpp"

namespace dutyd {

// The 情形 of 第二十七条第（item）项 as the regulation words it (its first sentence, verbatim:
// tests/calendar/flags_test.cpp checks it against config/catalogue/implementation-rules.zh.txt);
// empty outside 1-5.
std::string_view article27_clause(int item);

// "raised" ... "dismissed"; "light", "serious", "grave".
bool is_flag_status(const std::string& s);
std::string flag_statuses();  // "raised, submitted, investigating, decided, implemented, dismissed"
std::string_view flag_severity_zh(const std::string& name);  // 较轻, 较重, 严重
// 提出 ... 撤销 for a status name, 诫勉谈话 ... for a measure name; the name itself when unknown.
std::string flag_status_zh(const std::string& name);
std::string flag_measure_zh(const std::string& name);

// Names in flags: from `config`, else the id (someone since removed); a person "" is （空缺）.
std::string flag_person_name(const Config& config, const std::string& id);
std::string flag_org_name(const Config& config, const std::string& id);
// 钱某, or 钱某（前任；现任欧阳明远） when they have moved on.
std::string flag_responsible_text(const Config& config, const FlagRecord& flag);
// Collective flags: 领导班子：…；主要负责人：…；分管领导：… (无 when nobody); else empty.
std::string flag_team_text(const Config& config, const FlagRecord& flag);

// One flag with its transitions: id, occurrence, org, obligation, citation, title, art27,
// art27_citation, art27_clause, window_start, due, raised_on, days_late, scope, responsible
// (null when vacant), responsible_moved_on, incumbent (null when vacant), team_org, principal,
// in_charge, severity, severity_zh, severity_reason, suggested_measures, status, status_zh,
// measure (null before 决定), measure_zh, decided_on, impacts [{what, until}], impact_until,
// dismiss_reason, raised_at, updated_at, transitions [{from, to, actor, at, reason}]. Dates
// YYYY-MM-DD (local), times UTC.
nlohmann::ordered_json flag_json(const FlagRecord& flag,
                                 const std::vector<FlagTransition>& transitions);

}  // namespace dutyd
