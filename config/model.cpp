#include "config/model.hpp"

namespace dutyd {

bool Obligation::applies(const Org& org) const {
  if (!(levels & (1u << static_cast<unsigned>(org.level)))) return false;
  for (const auto& s : applies_to)
    if (s.kind == org.kind && (s.subtype.empty() || s.subtype == org.subtype)) return true;
  return false;
}

const Org* Config::find_org(const std::string& id) const {
  auto it = org_index.find(id);
  return it == org_index.end() ? nullptr : &orgs[static_cast<std::size_t>(it->second)];
}
const Person* Config::find_person(const std::string& id) const {
  auto it = person_index.find(id);
  return it == person_index.end() ? nullptr : &persons[static_cast<std::size_t>(it->second)];
}
const Obligation* Config::find_obligation(const std::string& id) const {
  auto it = obligation_index.find(id);
  return it == obligation_index.end() ? nullptr
                                      : &obligations[static_cast<std::size_t>(it->second)];
}

std::int32_t Config::ladder_for(const Obligation& o, const Org& org) const {
  if (o.ladder >= 0) return o.ladder;
  std::int32_t by_kind = -1;
  for (const LadderForKind& r : ladders_for_kinds) {
    if (r.selector.kind != org.kind) continue;
    if (!r.selector.subtype.empty() && r.selector.subtype == org.subtype) return r.ladder;
    if (r.selector.subtype.empty() && by_kind < 0) by_kind = r.ladder;
  }
  if (by_kind >= 0) return by_kind;
  auto it = ladder_index.find("default");
  return it == ladder_index.end() ? -1 : it->second;
}

const char* to_string(OrgKind k) {
  switch (k) {
    case OrgKind::party_committee:
      return "party-committee";
    case OrgKind::working_committee:
      return "working-committee";
    case OrgKind::standing_committee:
      return "standing-committee";
    case OrgKind::party_group:
      return "party-group";
    case OrgKind::department:
      return "department";
    case OrgKind::discipline_inspection:
      return "discipline-inspection";
    case OrgKind::leading_group:
      return "leading-group";
  }
  return "?";
}
const char* to_string(Level l) {
  switch (l) {
    case Level::province:
      return "province";
    case Level::city:
      return "city";
    case Level::county:
      return "county";
    case Level::township:
      return "township";
    case Level::unit:
      return "unit";
  }
  return "?";
}
const char* to_string(Role r) {
  return r == Role::principal ? "principal" : "member";
}
const char* to_string(Actor a) {
  switch (a) {
    case Actor::team:
      return "team";
    case Actor::principal:
      return "principal";
    case Actor::member:
      return "member";
    case Actor::org:
      return "org";
  }
  return "?";
}
const char* to_string(Counterparts c) {
  switch (c) {
    case Counterparts::none:
      return "none";
    case Counterparts::team_and_subordinate_principals:
      return "team-and-subordinate-principals";
    case Counterparts::leaders_of_units_in_charge:
      return "leaders-of-units-in-charge";
    case Counterparts::subordinate_orgs:
      return "subordinate-orgs";
  }
  return "?";
}
const char* to_string(Period p) {
  switch (p) {
    case Period::year:
      return "year";
    case Period::half_year:
      return "half-year";
    case Period::quarter:
      return "quarter";
  }
  return "?";
}
const char* to_string(ChannelKind k) {
  switch (k) {
    case ChannelKind::email:
      return "email";
    case ChannelKind::wecom:
      return "wecom";
    case ChannelKind::dingtalk:
      return "dingtalk";
    case ChannelKind::feishu:
      return "feishu";
    case ChannelKind::webhook:
      return "webhook";
    case ChannelKind::log:
      return "log";
  }
  return "?";
}
const char* actor_zh(Actor a) {
  switch (a) {
    case Actor::team:
      return "领导班子";
    case Actor::principal:
      return "领导班子主要负责人";
    case Actor::member:
      return "领导班子其他成员";
    case Actor::org:
      return "组织（部门、党组、机关）";
  }
  return "?";
}
const char* recipient_zh(const std::string& r) {
  if (r == "parent") return "上一级党组织";
  if (r == "discipline-organ") return "同级纪检监察机关";
  if (r == "parent-discipline-organ") return "上级纪检监察机关";
  if (r == "same-level-committee") return "同级党委";
  if (r == "own-org") return "所在单位党组织";
  if (r == "plenary") return "本级党组织全委会";
  if (r == "higher-organization-department") return "上级组织部门";
  if (r == "team") return "本级领导班子";
  if (r == "counterpart") return "谈话或检查对象";
  if (r == "none") return "无需报送";
  return nullptr;
}

std::string chinese_number(int n) {
  static const char* digits[] = {"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"};
  if (n < 0 || n >= 100) return std::to_string(n);
  if (n < 10) return digits[n];
  std::string out;
  if (n / 10 > 1) out += digits[n / 10];
  out += "十";
  if (n % 10) out += digits[n % 10];
  return out;
}

std::string citation(int article, int item) {
  std::string out = "第" + chinese_number(article) + "条";
  if (item > 0) out += "第（" + chinese_number(item) + "）项";
  return out;
}

}  // namespace dutyd
