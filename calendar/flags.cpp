#include "calendar/flags.hpp"

#include <array>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/text.hpp"
#include "calendar/accountability.hpp"

namespace dutyd {
namespace {

using Json = nlohmann::ordered_json;

// 第二十七条 (一) to (五): the first sentence of each item, which names the 情形.
constexpr std::array<std::string_view, 5> kArticle27{
    "对上级党组织部署的全面从严治党工作落实不力。",
    "职责范围发生区域性、系统性严重违纪违法案件。",
    "职责范围组织涣散、纪律松弛、“四风”等问题突出。",
    "管辖范围发现重大腐败问题隐瞒不报、压案不查。",
    "选人用人等其它方面主体责任落实存在问题。",
};

Json id_or_null(const std::string& id) {
  return id.empty() ? Json(nullptr) : Json(id);
}

}  // namespace

std::string flag_status_zh(const std::string& name) {
  const auto s = parse_flag_status(name);
  return s ? std::string(flag_status_zh(*s)) : name;
}

std::string flag_measure_zh(const std::string& name) {
  const auto m = parse_measure(name);
  return m ? std::string(measure_zh(*m)) : name;
}

std::string flag_person_name(const Config& c, const std::string& id) {
  if (id.empty()) return "（空缺）";
  const Person* p = c.find_person(id);
  return p ? p->name : id;
}

std::string flag_org_name(const Config& c, const std::string& id) {
  const Org* o = c.find_org(id);
  return o ? o->name : id;
}

std::string flag_responsible_text(const Config& c, const FlagRecord& f) {
  std::string who = flag_person_name(c, f.responsible);
  if (f.responsible_moved_on) who += "（前任；现任" + flag_person_name(c, f.incumbent) + "）";
  return who;
}

std::string flag_team_text(const Config& c, const FlagRecord& f) {
  if (f.scope != "collective") return {};
  std::vector<std::string> in_charge;
  for (const auto& p : f.in_charge) in_charge.push_back(flag_person_name(c, p));
  return "领导班子：" + flag_org_name(c, f.team_org) + "；主要负责人：" +
         flag_person_name(c, f.principal) + "；分管领导：" +
         (in_charge.empty() ? std::string("无") : join(in_charge, "、"));
}

std::string_view article27_clause(int item) {
  return item >= 1 && item <= 5 ? kArticle27[static_cast<std::size_t>(item - 1)]
                                : std::string_view{};
}

bool is_flag_status(const std::string& s) {
  const auto st = parse_flag_status(s);
  return st && flag_status_name(*st) == s;
}

std::string flag_statuses() {
  std::string out;
  for (FlagStatus s = FlagStatus::raised;; s = *next_status(s)) {
    out += std::string(flag_status_name(s)) + ", ";
    if (!next_status(s)) break;
  }
  return out + std::string(flag_status_name(FlagStatus::dismissed));
}

std::string_view flag_severity_zh(const std::string& name) {
  for (const FlagSeverity s : {FlagSeverity::light, FlagSeverity::serious, FlagSeverity::grave})
    if (severity_name(s) == name) return severity_zh(s);
  return name;
}

Json flag_json(const FlagRecord& f, const std::vector<FlagTransition>& transitions) {
  Json j;
  j["id"] = f.id;
  j["occurrence"] = f.occurrence;
  j["org"] = f.org;
  j["obligation"] = f.obligation;
  j["citation"] = f.citation;
  j["title"] = f.title;
  j["art27"] = f.art27;
  j["art27_citation"] = citation(27, f.art27);
  j["art27_clause"] = f.art27_clause;
  j["window_start"] = format_day(f.window_start);
  j["due"] = format_day(f.due);
  j["raised_on"] = format_day(f.raised_on);
  j["days_late"] = f.days_late;
  j["scope"] = f.scope;
  j["responsible"] = id_or_null(f.responsible);
  j["responsible_moved_on"] = f.responsible_moved_on;
  j["incumbent"] = id_or_null(f.incumbent);
  j["team_org"] = id_or_null(f.team_org);
  j["principal"] = id_or_null(f.principal);
  j["in_charge"] = f.in_charge;
  j["severity"] = f.severity;
  j["severity_zh"] = std::string(flag_severity_zh(f.severity));
  j["severity_reason"] = f.severity_reason;
  j["suggested_measures"] = f.suggested_measures;
  j["status"] = f.status;
  j["status_zh"] = flag_status_zh(f.status);
  j["measure"] = id_or_null(f.measure);
  j["measure_zh"] = f.measure.empty() ? Json(nullptr) : Json(flag_measure_zh(f.measure));
  j["decided_on"] = f.decided_on ? Json(format_day(*f.decided_on)) : Json(nullptr);
  Json impacts = Json::array();
  Day until = 0;
  for (const FlagImpact& i : f.impacts) {
    impacts.push_back(Json{{"what", i.what}, {"until", format_day(i.until)}});
    until = std::max(until, i.until);
  }
  j["impacts"] = std::move(impacts);
  j["impact_until"] = f.impacts.empty() ? Json(nullptr) : Json(format_day(until));
  j["dismiss_reason"] = f.dismiss_reason;
  j["raised_at"] = f.raised_at;
  j["updated_at"] = f.updated_at;
  Json steps = Json::array();
  for (const FlagTransition& t : transitions)
    steps.push_back(Json{{"from", id_or_null(t.from)},
                         {"to", t.to},
                         {"actor", t.actor},
                         {"at", t.at},
                         {"reason", t.reason}});
  j["transitions"] = std::move(steps);
  return j;
}

}  // namespace dutyd
