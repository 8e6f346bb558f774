#include "calendar/ical_feed.hpp"

#include <libical/ical.h>

#include <algorithm>
#include <memory>

#include "calendar/fold.hpp"

namespace dutyd {
namespace {

// Every libical handle is owned by one of these until libical takes it over (a component added
// to its parent), so nothing leaks when building the text around it throws.
struct ComponentFree {
  void operator()(icalcomponent* c) const { icalcomponent_free(c); }
};
using ComponentPtr = std::unique_ptr<icalcomponent, ComponentFree>;
struct BufferFree {
  void operator()(char* b) const { icalmemory_free_buffer(b); }
};
using BufferPtr = std::unique_ptr<char, BufferFree>;

icaltimetype ical_date(Day d) {
  const Civil c = civil(d);
  icaltimetype t = icaltime_null_date();
  t.year = c.year;
  t.month = static_cast<int>(c.month);
  t.day = static_cast<int>(c.day);
  t.is_date = 1;
  return t;
}

std::string zh_date(Day d) {
  const Civil c = civil(d);
  return std::to_string(c.year) + "年" + std::to_string(c.month) + "月" + std::to_string(c.day) +
         "日";
}

// libical does not escape X- properties: keep their text free of , ; and backslash.
std::string x_safe(std::string s) {
  std::string out;
  for (char ch : s) {
    if (ch == ',')
      out += "，";
    else if (ch == ';')
      out += "；";
    else if (ch == '\\' || ch == '\n' || ch == '\r')
      out += ' ';
    else
      out += ch;
  }
  return out;
}

void add_x(icalcomponent* c, const char* name, const std::string& value) {
  icalproperty* p = icalproperty_new_x(x_safe(value).c_str());
  icalproperty_set_x_name(p, name);
  icalcomponent_add_property(c, p);
}

const Org* org_at(const Config& c, std::int32_t i) {
  return i >= 0 ? &c.orgs[static_cast<std::size_t>(i)] : nullptr;
}

std::string recipient_text(const Config& c, const Org& org, const std::string& r) {
  std::string label = recipient_zh(r) ? recipient_zh(r) : r;
  const Org* named = nullptr;
  if (r == "parent" || r == "same-level-committee")
    named = org_at(c, org.parent);
  else if (r == "discipline-organ")
    named = org_at(c, org.discipline_organ);
  else if (r == "parent-discipline-organ" && org.parent >= 0)
    named = org_at(c, c.orgs[static_cast<std::size_t>(org.parent)].discipline_organ);
  else if (r == "own-org")
    named = &org;
  if (named) label += "（" + named->name + "）";
  return label;
}

}  // namespace

Status status_of(int min_count, Day due, const std::vector<CompletionNote>* completions,
                 Day today) {
  const std::size_t n = completions ? completions->size() : 0;
  if (n >= static_cast<std::size_t>(min_count)) {
    // Late when the completion that reached the minimum count was done after the due date.
    std::vector<Day> days;
    for (const auto& c : *completions) days.push_back(c.done_on);
    std::sort(days.begin(), days.end());
    return days[static_cast<std::size_t>(min_count) - 1] > due ? Status::done_late : Status::done;
  }
  return today > due ? Status::overdue : Status::open;
}

const char* status_name(Status s) {
  switch (s) {
    case Status::open:
      return "open";
    case Status::done:
      return "done";
    case Status::done_late:
      return "late";
    case Status::overdue:
      return "overdue";
  }
  return "?";
}

std::string person_feed_name(const Person& p) {
  return p.name + "的全面从严治党责任日程";
}
std::string org_feed_name(const Org& o) {
  return o.name + "全面从严治党责任日程";
}

std::string summary(const Expander& ex, const Occurrence& o) {
  const Obligation& ob = ex.config().obligations[static_cast<std::size_t>(o.obligation)];
  std::string s = o.person < 0 ? "【空缺】" : "";
  return s + "【" + citation(ob.article, ob.item) + "】" + ex.title(o);
}

std::string describe(const Expander& ex, const Expansion& expansion, const Occurrence& o) {
  const Config& c = ex.config();
  const Obligation& ob = c.obligations[static_cast<std::size_t>(o.obligation)];
  const Org& org = c.orgs[static_cast<std::size_t>(o.org)];
  std::string d;
  d += "依据：辽宁省全面从严治党主体责任《实施细则》" + citation(ob.article, ob.item) + "\n";
  d += "原文：" + ob.quote + "\n";
  d += "责任主体：" + org.name + "（" + actor_zh(ob.actor) + "）\n";
  if (o.person >= 0) {
    d += "责任人：" + c.persons[static_cast<std::size_t>(o.person)].name + "\n";
  } else {
    d += "责任人：空缺（到期日无在任主要负责人，由领导班子集体承担，并提请上级党组织督促）\n";
  }
  for (std::int32_t p : expansion.predecessors(o))
    d += "前任：" + c.persons[static_cast<std::size_t>(p)].name +
         "（本期内曾任主要负责人，离任前的履责情况仍可追溯）\n";
  if (o.counterpart_person >= 0)
    d += "对象：" + c.persons[static_cast<std::size_t>(o.counterpart_person)].name +
         (o.counterpart_org >= 0
              ? "（" + c.orgs[static_cast<std::size_t>(o.counterpart_org)].name + "）"
              : "") +
         "\n";
  else if (o.counterpart_org >= 0)
    d += "对象：" + c.orgs[static_cast<std::size_t>(o.counterpart_org)].name + "\n";
  d += "办理期间：" + zh_date(o.window_start) + "至" + zh_date(o.due) + "\n";
  if (ob.min_count > 1) d += "期间内至少：" + std::to_string(ob.min_count) + "次\n";
  if (o.event >= 0) {
    const Event& ev = c.events[static_cast<std::size_t>(o.event)];
    d += "触发事件：" + ob.event + "（" + zh_date(ev.date) + "）" +
         (ev.note.empty() ? "" : "：" + ev.note) + "\n";
  }
  std::string rec;
  for (const auto& r : ob.recipients) {
    if (r == "none") continue;
    if (!rec.empty()) rec += "、";
    rec += recipient_text(c, org, r);
  }
  if (!rec.empty()) d += "报送对象：" + rec + "\n";
  std::string ev;
  for (const auto& e : ob.evidence) ev += (ev.empty() ? "" : "、") + e;
  if (!ev.empty()) d += "应留存材料：" + ev + "\n";
  if (!ob.timing_note.empty()) d += "时限说明：" + ob.timing_note + "\n";
  d += "未按期履行可能触发：" + citation(27, ob.art27) + "所列责任追究情形";
  return d;
}

std::string render_feed(const Expander& ex, const Expansion& expansion,
                        const FeedOptions& options) {
  ComponentPtr cal{icalcomponent_new(ICAL_VCALENDAR_COMPONENT)};
  icalcomponent_add_property(cal.get(), icalproperty_new_version("2.0"));
  icalcomponent_add_property(cal.get(), icalproperty_new_prodid("-//dutyd//dutyd 0.1//ZH"));
  icalcomponent_add_property(cal.get(), icalproperty_new_calscale("GREGORIAN"));
  icalcomponent_add_property(cal.get(), icalproperty_new_name(options.name.c_str()));
  add_x(cal.get(), "X-WR-CALNAME", options.name);
  add_x(cal.get(), "X-WR-TIMEZONE", ex.config().timezone);
  icaldurationtype six_hours = icaldurationtype_null_duration();
  six_hours.hours = 6;
  icalproperty* refresh = icalproperty_new_refreshinterval(six_hours);
  icalproperty_add_parameter(refresh, icalparameter_new_value(ICAL_VALUE_DURATION));
  icalcomponent_add_property(cal.get(), refresh);
  add_x(cal.get(), "X-PUBLISHED-TTL", "PT6H");

  for (const Occurrence& o : expansion.occurrences) {
    const Obligation& ob = ex.config().obligations[static_cast<std::size_t>(o.obligation)];
    const std::vector<CompletionNote>* done =
        options.today != 0 && options.completions ? options.completions(o) : nullptr;
    // The revision time doubles as DTSTAMP and LAST-MODIFIED (RFC 5545 3.8.7.2: without METHOD,
    // DTSTAMP is the last revision). It is derived, not "now", so that an unchanged feed has
    // unchanged bytes and a stable ETag, and it increases whenever the event changes: the
    // window opening, each completion recorded, the day it became overdue.
    auto local_midnight = [&](Day d) { return std::int64_t{d} * 86400 - options.utc_offset; };
    std::int64_t revised = local_midnight(o.window_start);
    int sequence = 0;
    std::string prefix;
    std::string state_text;
    if (options.today != 0) {
      const Status st = status_of(ob.min_count, o.due, done, options.today);
      if (done)
        for (const CompletionNote& c : *done) {
          revised = std::max(revised, c.recorded_unix);
          ++sequence;
          state_text += "\n完成记录：" + zh_date(c.done_on) + (c.late ? "（逾期完成）" : "") +
                        (c.evidence.empty() ? "" : "，" + c.evidence);
        }
      // Passing the due date is a revision whether or not the duty was done by then, so that
      // SEQUENCE never goes down when an overdue duty is completed late.
      if (options.today > o.due) {
        revised = std::max(revised, local_midnight(o.due + 1));
        ++sequence;
      }
      switch (st) {
        case Status::done:
          prefix = "【已完成】";
          break;
        case Status::done_late:
          prefix = "【逾期完成】";
          break;
        case Status::overdue:
          prefix = "【逾期】";
          break;
        case Status::open:
          if (done && !done->empty())
            prefix = "【已完成" + std::to_string(done->size()) + "/" +
                     std::to_string(ob.min_count) + "次】";
          break;
      }
    }
    const icaltimetype stamp = icaltime_from_timet_with_zone(static_cast<time_t>(revised), 0,
                                                             icaltimezone_get_utc_timezone());
    ComponentPtr event{icalcomponent_new(ICAL_VEVENT_COMPONENT)};
    icalcomponent* ev = event.get();
    icalcomponent_add_property(ev, icalproperty_new_uid(ex.uid(o).c_str()));
    icalcomponent_add_property(ev, icalproperty_new_dtstamp(stamp));
    icalcomponent_add_property(ev, icalproperty_new_lastmodified(stamp));
    icalcomponent_add_property(ev, icalproperty_new_dtstart(ical_date(o.due)));
    icalcomponent_add_property(ev, icalproperty_new_dtend(ical_date(o.due + 1)));
    // The same UID reads differently in a predecessor's own calendar: they left the post
    // before the due date, the duty stays visible there for the record (第二十六条).
    const bool as_predecessor = options.viewer >= 0 && o.person != options.viewer;
    const std::string text = prefix + (as_predecessor ? "【前任】" : "") + summary(ex, o);
    icalcomponent_add_property(ev, icalproperty_new_summary(text.c_str()));
    const std::string description = describe(ex, expansion, o) + state_text;
    icalcomponent_add_property(ev, icalproperty_new_description(description.c_str()));
    icalcomponent_add_property(ev, icalproperty_new_transp(ICAL_TRANSP_TRANSPARENT));
    icalcomponent_add_property(ev, icalproperty_new_status(ICAL_STATUS_CONFIRMED));
    icalcomponent_add_property(ev, icalproperty_new_sequence(sequence));
    icalcomponent_add_property(ev, icalproperty_new_categories("全面从严治党"));
    icalcomponent_add_component(cal.get(), event.release());
  }
  for (const SubordinateFlag& f : options.subordinate_flags) {
    const icaltimetype stamp = icaltime_from_timet_with_zone(static_cast<time_t>(f.updated_unix), 0,
                                                             icaltimezone_get_utc_timezone());
    ComponentPtr event{icalcomponent_new(ICAL_VEVENT_COMPONENT)};
    icalcomponent* ev = event.get();
    const std::string uid = "flag/" + std::to_string(f.id) + "@dutyd";
    icalcomponent_add_property(ev, icalproperty_new_uid(uid.c_str()));
    icalcomponent_add_property(ev, icalproperty_new_dtstamp(stamp));
    icalcomponent_add_property(ev, icalproperty_new_lastmodified(stamp));
    icalcomponent_add_property(ev, icalproperty_new_dtstart(ical_date(f.raised_on)));
    icalcomponent_add_property(ev, icalproperty_new_dtend(ical_date(f.raised_on + 1)));
    const std::string text =
        "【下级问责提示·" + f.status_zh + "】" + f.org_name + "：【" + f.citation + "】" + f.title;
    icalcomponent_add_property(ev, icalproperty_new_summary(text.c_str()));
    std::string d = "下级组织：" + f.org_name + "\n";
    d += "未履行责任：" + f.citation + " " + f.title + "\n";
    d += "到期日：" + zh_date(f.due) + "；提出日：" + zh_date(f.raised_on) + "（逾期" +
         std::to_string(f.days_late) + "天）\n";
    d += "责任人：" + (f.responsible.empty() ? std::string("空缺") : f.responsible) + "\n";
    d += "对应情形：" + citation(27, f.art27) +
         (f.art27_clause.empty() ? "" : "：" + f.art27_clause) + "\n";
    d += "情节：" + f.severity_zh + "；建议措施（供组织决定）：" + f.suggested + "\n";
    d += "处理进度（第二十九条）：" + f.status_zh + "\n";
    d += "此为下一级党组织未按期履行责任的提示，撤销或实施完毕后自动从日历中消失。";
    icalcomponent_add_property(ev, icalproperty_new_description(d.c_str()));
    icalcomponent_add_property(ev, icalproperty_new_transp(ICAL_TRANSP_TRANSPARENT));
    icalcomponent_add_property(ev, icalproperty_new_status(ICAL_STATUS_CONFIRMED));
    icalcomponent_add_property(ev, icalproperty_new_sequence(f.step));
    icalcomponent_add_property(ev, icalproperty_new_categories("问责提示"));
    icalcomponent_add_component(cal.get(), event.release());
  }
  const BufferPtr text{icalcomponent_as_ical_string_r(cal.get())};
  return refold_ical(text ? text.get() : "");
}

}  // namespace dutyd
