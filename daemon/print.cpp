#include "daemon/print.hpp"

#include <nlohmann/json.hpp>
#include <ostream>

#include "base/text.hpp"
#include "calendar/events.hpp"
#include "calendar/flags.hpp"
#include "store/delivery_forms.hpp"

namespace dutyd {

void print_flags(const Config& c, Store& store, const std::vector<FlagRecord>& flags, bool json,
                 std::ostream& out) {
  if (json) {
    for (const FlagRecord& f : flags)
      out << flag_json(f, store.flag_transitions(f.id))
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          << "\n";
    return;
  }
  out << "编号  状态  情节  截止日期  逾期  组织  事项  责任人  建议措施（第二十八条）\n";
  for (const FlagRecord& f : flags) {
    out << "#" << f.id << "  " << flag_status_zh(f.status) << "(" << f.status << ")  "
        << flag_severity_zh(f.severity) << "  " << format_day(f.due) << "  " << f.days_late
        << "天  " << flag_org_name(c, f.org) << "  【" << f.citation << "】" << f.title << "  "
        << (f.scope == "collective" ? "集体责任：" : "个人责任：") << flag_responsible_text(c, f)
        << "  " << join(f.suggested_measures, "；") << "\n";
    if (f.scope == "collective") out << "    " << flag_team_text(c, f) << "\n";
    out << "    " << citation(27, f.art27) << "：" << f.art27_clause << "  情节："
        << f.severity_reason << "\n";
    if (f.decided_on) {
      out << "    决定：" << flag_measure_zh(f.measure) << "（" << format_day(*f.decided_on)
          << "）";
      for (const FlagImpact& i : f.impacts) out << "；" << i.what << "至" << format_day(i.until);
      out << "\n";
    }
    if (!f.dismiss_reason.empty()) out << "    撤销理由：" << f.dismiss_reason << "\n";
  }
  out << flags.size() << " flag(s)\n";
}

void print_events(const Config& c, const std::vector<EventRecord>& events, bool json,
                  std::ostream& out) {
  if (json) {
    for (const EventRecord& e : events)
      out << event_json(c, e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          << "\n";
    return;
  }
  out << "编号  状态  事件日期  截止日期  组织  人员  事项  录入\n";
  for (const EventRecord& e : events) {
    const Obligation* ob = c.find_obligation(e.obligation);
    const Org* org = c.find_org(e.org);
    const Person* person = e.person.empty() ? nullptr : c.find_person(e.person);
    out << "#" << e.id << "  " << (e.withdrawn_at ? "已撤回" : "有效") << "  " << format_day(e.date)
        << "  " << (ob ? format_day(e.date + ob->deadline_days) : std::string("-")) << "  "
        << (org ? org->name : e.org) << "  "
        << (person             ? person->name
            : e.person.empty() ? "-"
                               : e.person)
        << "  " << (ob ? "【" + citation(ob->article, ob->item) + "】" + ob->title : e.obligation)
        << "  " << e.created_by << " " << e.created_at << "\n";
    out << "    " << e.occurrence << (e.note.empty() ? "" : "  " + e.note) << "\n";
    if (e.withdrawn_at)
      out << "    撤回：" << *e.withdrawn_at << " " << e.withdrawn_by << "：" << e.withdraw_reason
          << "\n";
  }
  out << events.size() << " event(s)\n";
}

void print_deliveries(const Config& c, const std::vector<DeliveryRecord>& rows, bool json,
                      std::ostream& out) {
  if (json) {
    for (const DeliveryRecord& d : rows)
      out << delivery_json(d).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          << "\n";
    return;
  }
  out << "计划时间(" << c.timezone << ")  状态  尝试  步骤  渠道  收件人（关系）  事项  最后错误\n";
  for (const DeliveryRecord& d : rows) {
    const Person* p =
        c.find_person(d.person);  // a person since removed from the configuration: the id
    out << local_minute(d.send_at, c.timezone) << "  " << delivery_status_zh(d.status) << "("
        << d.status << ")  " << d.attempts << "  "
        << (d.purpose == "flag" ? "-" : "#" + std::to_string(d.step + 1)) << "  " << d.channel
        << delivery_purpose_zh(d.purpose) << "  " << (p ? p->name : d.person) << "（" << d.relation
        << "）  " << d.occurrence << "  " << (d.last_error.empty() ? "-" : d.last_error) << "\n";
  }
  out << rows.size() << " delivery(ies)\n";
}

}  // namespace dutyd
