#include "calendar/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "base/csv.hpp"
#include "base/text.hpp"
#include "calendar/accountability.hpp"
#include "calendar/flags.hpp"

namespace dutyd {
namespace {

using Json = nlohmann::ordered_json;

std::size_t idx(std::int32_t i) {
  return static_cast<std::size_t>(i);
}

bool is_open_flag(const std::string& status) {
  return status == "raised" || status == "submitted" || status == "investigating" ||
         status == "decided";
}

void count(ReportCounts& c, OccurrenceState s) {
  ++c.total;
  switch (s) {
    case OccurrenceState::upcoming:
      ++c.upcoming;
      break;
    case OccurrenceState::overdue:
      ++c.overdue;
      break;
    case OccurrenceState::missed:
      ++c.missed;
      break;
    case OccurrenceState::on_time:
      ++c.on_time;
      break;
    case OccurrenceState::late:
      ++c.late;
      break;
  }
}

void tally(ReportRow& row, const FlagRecord& f) {
  if (is_open_flag(f.status)) {
    ++row.flags.open;
    ++row.flags.by_item[f.art27 >= 1 && f.art27 <= 5 ? idx(f.art27) : 0];
    const std::size_t grade = f.severity == "grave" ? 2 : f.severity == "serious" ? 1 : 0;
    ++row.flags.by_severity[grade];
  } else if (f.status == "dismissed") {
    ++row.flags.dismissed;
  } else if (f.status == "implemented") {
    ++row.flags.implemented;
  }
  if (f.decided_on && !f.measure.empty() && (f.status == "decided" || f.status == "implemented"))
    row.measures.push_back({f.id, f.measure, *f.decided_on, f.impacts});
}

bool has_content(const ReportRow& r) {
  return r.counts.total > 0 || r.flags.open > 0 || r.flags.dismissed > 0 ||
         r.flags.implemented > 0 || !r.measures.empty();
}

// The post under which `o` was its person's on the due date: the member post for members'
// duties, else the principal post; any post of the person in the organisation on that day
// otherwise (event duties naming a person).
std::int32_t post_of(const Config& c, const Expander& ex, const Occurrence& o) {
  if (o.person < 0) return -1;
  if (o.member >= 0) {
    for (const std::int32_t p : ex.member_posts(o.org))
      if (c.posts[idx(p)].person == o.person && c.posts[idx(p)].covers(o.due)) return p;
  } else {
    const std::int32_t p = ex.principal_post(o.org, o.due);
    if (p >= 0 && c.posts[idx(p)].person == o.person) return p;
  }
  for (std::size_t p = 0; p < c.posts.size(); ++p)
    if (c.posts[p].person == o.person && c.posts[p].org == o.org && c.posts[p].covers(o.due))
      return static_cast<std::int32_t>(p);
  return -1;
}

std::optional<double> ratio(int n, int d) {
  if (d <= 0) return std::nullopt;
  return std::round(10000.0 * n / d) / 10000.0;
}

std::string percent(std::optional<double> r) {
  if (!r) return "-";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", *r * 100);
  return buf;
}

std::string role_zh(const Config& c, const ReportRow& r) {
  if (r.post < 0) return "";
  return c.posts[idx(r.post)].role == Role::principal ? "主要负责人" : "班子成员";
}

std::string tenure(const Config& c, const ReportRow& r) {
  if (r.post < 0) return "";
  const Post& p = c.posts[idx(r.post)];
  return format_day(p.from) + "至" +
         (p.until == kOpenEnd ? std::string("今") : format_day(p.until));
}

std::string measure_zh_text(const std::string& name) {
  const auto m = parse_measure(name);
  return m ? std::string(measure_zh(*m)) : name;
}

// 【第六条第（一）项】年度工作计划（2026年度）截止2026-12-31（问责#3）；……
std::string missed_text(const std::vector<MissedDuty>& missed) {
  std::string s;
  for (const MissedDuty& m : missed) {
    if (!s.empty()) s += "；";
    s += "【" + m.citation + "】" + m.title + "，截止" + format_day(m.due);
    if (m.flag) s += "（问责#" + std::to_string(m.flag) + "）";
  }
  return s;
}

// 诫勉谈话（2026-08-01决定，问责#3）：六个月内不得提拔或者重用至2027-02-01；……
std::string measures_text(const std::vector<DecidedMeasure>& measures) {
  std::string s;
  for (const DecidedMeasure& m : measures) {
    if (!s.empty()) s += "；";
    s += measure_zh_text(m.measure) + "（" + format_day(m.decided_on) + "决定，问责#" +
         std::to_string(m.flag) + "）";
    for (std::size_t i = 0; i < m.impacts.size(); ++i)
      s += (i == 0 ? "：" : "，") + m.impacts[i].what + "至" + format_day(m.impacts[i].until);
  }
  return s;
}

std::string scope_text(const Config& c, const Report& r) {
  if (r.root < 0) return "全部组织";
  return c.orgs[idx(r.root)].name + "及其下属组织";
}

std::string as_of_text(const Report& r) {
  return format_day(r.as_of) +
         (r.final ? "（年度已结束，数据为最终结果）" : "（年度未结束，统计至当日）");
}

}  // namespace

std::optional<double> ReportCounts::completion_rate() const {
  return ratio(done(), assessed());
}
std::optional<double> ReportCounts::on_time_rate() const {
  return ratio(on_time, assessed());
}

std::optional<int> parse_report_year(std::string_view text) {
  if (text.size() != 4 ||
      !std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return std::nullopt;
  const int y = std::stoi(std::string(text));
  if (y < 1970) return std::nullopt;
  return y;
}

std::vector<std::int32_t> subtree(const Config& c, std::int32_t root) {
  std::vector<std::vector<std::int32_t>> children(c.orgs.size());
  std::vector<std::int32_t> tops;
  for (std::size_t i = 0; i < c.orgs.size(); ++i) {
    const std::int32_t parent = c.orgs[i].parent;
    (parent >= 0 ? children[idx(parent)] : tops).push_back(static_cast<std::int32_t>(i));
  }
  std::vector<std::int32_t> out, stack;
  const std::vector<std::int32_t> starts = root >= 0 ? std::vector<std::int32_t>{root} : tops;
  for (auto it = starts.rbegin(); it != starts.rend(); ++it) stack.push_back(*it);
  while (!stack.empty()) {
    const std::int32_t o = stack.back();
    stack.pop_back();
    out.push_back(o);
    const auto& kids = children[idx(o)];
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) stack.push_back(*it);
  }
  return out;
}

Report build_report(const Config& c, const Expander& ex, const std::vector<const Expansion*>& parts,
                    const ReportStore& store, int year, Day as_of, std::int32_t root) {
  Report r;
  r.year = year;
  r.as_of = as_of;
  r.root = root;
  const Day from = make_day(year, 1, 1), to = make_day(year, 12, 31);
  r.final = as_of > to;
  r.total.org = root;

  const std::vector<std::int32_t> order = subtree(c, root);
  std::vector<std::int32_t> position(c.orgs.size(), -1);
  for (std::size_t i = 0; i < order.size(); ++i)
    position[idx(order[i])] = static_cast<std::int32_t>(i);
  std::vector<ReportRow> org_rows(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) org_rows[i].org = order[i];
  std::unordered_map<std::int32_t, ReportRow> post_rows;

  // The year's flags of the selected organisations known by the as-of day, by occurrence.
  std::unordered_map<std::string, const FlagRecord*> flags;
  for (const FlagRecord& f : store.flags) {
    if (f.due < from || f.due > to || f.raised_on > as_of) continue;
    const auto org = c.org_index.find(f.org);
    if (org == c.org_index.end() || position[idx(org->second)] < 0) continue;
    flags.emplace(f.occurrence, &f);
  }

  std::string uid;
  for (const Expansion* part : parts) {
    for (const Occurrence& o : part->occurrences) {
      if (o.due < from || o.due > to || position[idx(o.org)] < 0) continue;
      const Obligation& ob = c.obligations[idx(o.obligation)];
      uid.clear();
      ex.write_uid(o, [&](std::string_view piece) { uid += piece; });
      std::optional<Day> done;
      if (const auto it = store.completion_days.find(uid); it != store.completion_days.end())
        done = done_day(it->second, ob.min_count);
      const OccurrenceState state = occurrence_state(o.due, done, as_of, c.grace_days(ob));
      ReportRow& org_row = org_rows[idx(position[idx(o.org)])];
      ReportRow* person_row = nullptr;
      if (const std::int32_t post = post_of(c, ex, o); post >= 0) {
        person_row = &post_rows[post];
        person_row->org = o.org, person_row->person = o.person, person_row->post = post;
      }
      for (ReportRow* row : {&r.total, &org_row, person_row})
        if (row) count(row->counts, state);
      const FlagRecord* flag = nullptr;
      if (const auto it = flags.find(uid); it != flags.end()) {
        flag = it->second;
        flags.erase(it);
        for (ReportRow* row : {&r.total, &org_row, person_row})
          if (row) tally(*row, *flag);
      }
      if (state == OccurrenceState::missed) {
        const MissedDuty m{uid,         citation(ob.article, ob.item),
                           ex.title(o), ob.article,
                           ob.item,     o.due,
                           o.person,    flag ? flag->id : 0};
        org_row.missed.push_back(m);
        if (person_row) person_row->missed.push_back(m);
      }
    }
  }
  // Flags whose occurrence is no longer derived (retired, or the configuration changed since)
  // still count for their organisation.
  for (const auto& [occurrence, f] : flags) {
    tally(r.total, *f);
    tally(org_rows[idx(position[idx(c.org_index.at(f->org))])], *f);
  }

  const auto by_article = [](const MissedDuty& a, const MissedDuty& b) {
    return std::tie(a.article, a.item, a.due, a.uid) < std::tie(b.article, b.item, b.due, b.uid);
  };
  const auto by_decision = [](const DecidedMeasure& a, const DecidedMeasure& b) {
    return std::tie(a.decided_on, a.flag) < std::tie(b.decided_on, b.flag);
  };
  const auto finish = [&](ReportRow& row) {
    std::sort(row.missed.begin(), row.missed.end(), by_article);
    std::sort(row.measures.begin(), row.measures.end(), by_decision);
  };
  finish(r.total);
  for (ReportRow& row : org_rows) {
    if (!has_content(row)) continue;
    finish(row);
    r.orgs.push_back(std::move(row));
  }
  for (auto& [post, row] : post_rows) {
    finish(row);
    r.persons.push_back(std::move(row));
  }
  std::sort(r.persons.begin(), r.persons.end(), [&](const ReportRow& a, const ReportRow& b) {
    const Post& pa = c.posts[idx(a.post)];
    const Post& pb = c.posts[idx(b.post)];
    return std::tuple(position[idx(a.org)], pa.role, pa.from, a.post) <
           std::tuple(position[idx(b.org)], pb.role, pb.from, b.post);
  });
  return r;
}

Json report_row_json(const Config& c, const Report& report, const ReportRow& row,
                     const char* type) {
  Json j;
  j["type"] = type;
  if (std::string_view(type) == "summary") {
    j["year"] = report.year;
    j["as_of"] = format_day(report.as_of);
    j["final"] = report.final;
  }
  j["org"] = row.org >= 0 ? Json(c.orgs[idx(row.org)].id) : Json(nullptr);
  j["org_name"] = row.org >= 0 ? Json(c.orgs[idx(row.org)].name) : Json(nullptr);
  if (std::string_view(type) == "person") {
    const Post& p = c.posts[idx(row.post)];
    j["person"] = c.persons[idx(row.person)].id;
    j["name"] = c.persons[idx(row.person)].name;
    j["role"] = p.role == Role::principal ? "principal" : "member";
    j["post_from"] = format_day(p.from);
    j["post_until"] = p.until == kOpenEnd ? Json(nullptr) : Json(format_day(p.until));
  }
  const ReportCounts& n = row.counts;
  j["counts"] = Json{{"total", n.total},       {"assessed", n.assessed()}, {"on_time", n.on_time},
                     {"late", n.late},         {"missed", n.missed},       {"overdue", n.overdue},
                     {"upcoming", n.upcoming}, {"done", n.done()}};
  const auto rate = [](std::optional<double> v) { return v ? Json(*v) : Json(nullptr); };
  j["completion_rate"] = rate(n.completion_rate());
  j["on_time_rate"] = rate(n.on_time_rate());
  j["open_flags"] = row.flags.open;
  Json items;
  for (std::size_t i = 1; i <= 5; ++i) items[std::to_string(i)] = row.flags.by_item[i];
  if (row.flags.by_item[0]) items["unknown"] = row.flags.by_item[0];
  j["open_flags_by_art27"] = std::move(items);
  j["open_flags_by_severity"] = Json{{"light", row.flags.by_severity[0]},
                                     {"serious", row.flags.by_severity[1]},
                                     {"grave", row.flags.by_severity[2]}};
  j["implemented_flags"] = row.flags.implemented;
  j["dismissed_flags"] = row.flags.dismissed;
  Json missed = Json::array();
  for (const MissedDuty& m : row.missed)
    missed.push_back(Json{{"uid", m.uid},
                          {"citation", m.citation},
                          {"title", m.title},
                          {"due", format_day(m.due)},
                          {"flag", m.flag ? Json(m.flag) : Json(nullptr)}});
  j["missed"] = std::move(missed);
  Json measures = Json::array();
  for (const DecidedMeasure& m : row.measures) {
    Json impacts = Json::array();
    for (const FlagImpact& i : m.impacts)
      impacts.push_back(Json{{"what", i.what}, {"until", format_day(i.until)}});
    measures.push_back(Json{{"flag", m.flag},
                            {"measure", m.measure},
                            {"measure_zh", measure_zh_text(m.measure)},
                            {"decided_on", format_day(m.decided_on)},
                            {"impacts", std::move(impacts)}});
  }
  j["measures"] = std::move(measures);
  return j;
}

Json report_json(const Config& c, const Report& r) {
  Json j;
  j["year"] = r.year;
  j["as_of"] = format_day(r.as_of);
  j["final"] = r.final;
  j["org"] = r.root >= 0 ? Json(c.orgs[idx(r.root)].id) : Json(nullptr);
  j["summary"] = report_row_json(c, r, r.total, "summary");
  Json orgs = Json::array(), persons = Json::array();
  for (const ReportRow& row : r.orgs) orgs.push_back(report_row_json(c, r, row, "org"));
  for (const ReportRow& row : r.persons) persons.push_back(report_row_json(c, r, row, "person"));
  j["orgs"] = std::move(orgs);
  j["persons"] = std::move(persons);
  return j;
}

void print_report_json_lines(const Config& c, const Report& r, std::ostream& out) {
  const auto line = [&](const ReportRow& row, const char* type) {
    out << report_row_json(c, r, row, type)
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
  };
  line(r.total, "summary");
  for (const ReportRow& row : r.orgs) line(row, "org");
  for (const ReportRow& row : r.persons) line(row, "person");
}

namespace {

// The cells shared by the CSV and the table, from 应履行 on.
std::vector<std::string> count_cells(const ReportRow& row) {
  const ReportCounts& n = row.counts;
  std::vector<std::string> cells{std::to_string(n.total),    std::to_string(n.assessed()),
                                 std::to_string(n.on_time),  std::to_string(n.late),
                                 std::to_string(n.missed),   std::to_string(n.overdue),
                                 std::to_string(n.upcoming), percent(n.completion_rate()),
                                 percent(n.on_time_rate()),  std::to_string(row.flags.open)};
  for (std::size_t i = 1; i <= 5; ++i) cells.push_back(std::to_string(row.flags.by_item[i]));
  for (const int s : row.flags.by_severity) cells.push_back(std::to_string(s));
  return cells;
}

const std::vector<std::string>& count_headings() {
  static const std::vector<std::string> h{"应履行",
                                          "已到期",
                                          "按时完成",
                                          "逾期完成",
                                          "未履行",
                                          "已逾期未完成",
                                          "未到期",
                                          "完成率",
                                          "按时完成率",
                                          "未结问责",
                                          "第二十七条第（一）项",
                                          "第二十七条第（二）项",
                                          "第二十七条第（三）项",
                                          "第二十七条第（四）项",
                                          "第二十七条第（五）项",
                                          "情节较轻",
                                          "情节较重",
                                          "情节严重"};
  return h;
}

void print_aligned(std::ostream& out, const std::vector<std::vector<std::string>>& rows,
                   std::size_t left_columns) {
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], display_width(row[i]));
    }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::string pad(width[i] - display_width(row[i]), ' ');
      if (i) line += "  ";
      line += i < left_columns ? row[i] + pad : pad + row[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

}  // namespace

void print_report_csv(const Config& c, const Report& r, std::ostream& out) {
  out << "\xEF\xBB\xBF";  // BOM: Excel then reads the file as UTF-8
  std::vector<std::string> head{"类别",     "年度", "截至", "组织编号", "组织",
                                "人员编号", "姓名", "职务", "任职起",   "任职止"};
  for (const auto& h : count_headings()) head.push_back(h);
  head.push_back("未履行事项");
  head.push_back("已决定的问责措施");
  csv_row(out, head);
  const auto row_cells = [&](const ReportRow& row, const char* kind) {
    std::vector<std::string> cells{kind, std::to_string(r.year), format_day(r.as_of)};
    cells.push_back(row.org >= 0 ? c.orgs[idx(row.org)].id : "");
    cells.push_back(row.org >= 0 ? c.orgs[idx(row.org)].name : "全部组织");
    if (row.post >= 0) {
      const Post& p = c.posts[idx(row.post)];
      cells.push_back(c.persons[idx(row.person)].id);
      cells.push_back(c.persons[idx(row.person)].name);
      cells.push_back(role_zh(c, row));
      cells.push_back(format_day(p.from));
      cells.push_back(p.until == kOpenEnd ? "" : format_day(p.until));
    } else {
      cells.insert(cells.end(), 5, "");
    }
    for (auto& cell : count_cells(row)) cells.push_back(std::move(cell));
    cells.push_back(missed_text(row.missed));
    cells.push_back(measures_text(row.measures));
    csv_row(out, cells);
  };
  row_cells(r.total, "合计");
  for (const ReportRow& row : r.orgs) row_cells(row, "领导班子");
  for (const ReportRow& row : r.persons) row_cells(row, "领导干部");
}

void print_report_table(const Config& c, const Report& r, std::ostream& out) {
  out << "全面从严治党主体责任履行情况年度报告（" << r.year << "年度）\n"
      << "范围：" << scope_text(c, r) << "\n"
      << "截至：" << as_of_text(r) << "\n"
      << "说明：已到期＝截止日期已过或已提前完成；完成率＝（按时完成＋逾期完成）÷已到期；"
         "按时完成率＝按时完成÷已到期；未履行＝宽限期满仍未完成；未结问责＝处于提出、报批、调查、决"
         "定阶段的问责。\n\n";
  std::vector<std::string> counts_head{
      "应履行", "已到期", "按时完成",   "逾期完成", "未履行", "已逾期未完成",
      "未到期", "完成率", "按时完成率", "未结问责", "（一）", "（二）",
      "（三）", "（四）", "（五）",     "较轻",     "较重",   "严重"};
  out << "一、领导班子（按组织；问责按第二十七条各项及情节统计）\n";
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head{"组织"};
  head.insert(head.end(), counts_head.begin(), counts_head.end());
  rows.push_back(head);
  for (const ReportRow& row : r.orgs) {
    std::vector<std::string> cells{c.orgs[idx(row.org)].name};
    for (auto& cell : count_cells(row)) cells.push_back(std::move(cell));
    rows.push_back(std::move(cells));
  }
  std::vector<std::string> total{"合计"};
  for (auto& cell : count_cells(r.total)) total.push_back(std::move(cell));
  rows.push_back(std::move(total));
  print_aligned(out, rows, 1);

  out << "\n二、领导干部（按任职；责任人为截止日期当日的任职者）\n";
  rows.clear();
  head = {"姓名", "组织", "职务", "任职期间"};
  head.insert(head.end(), counts_head.begin(), counts_head.end());
  rows.push_back(head);
  for (const ReportRow& row : r.persons) {
    std::vector<std::string> cells{c.persons[idx(row.person)].name, c.orgs[idx(row.org)].name,
                                   role_zh(c, row), tenure(c, row)};
    for (auto& cell : count_cells(row)) cells.push_back(std::move(cell));
    rows.push_back(std::move(cells));
  }
  if (r.persons.empty()) rows.push_back({"（无）"});
  print_aligned(out, rows, 4);

  out << "\n三、未履行事项（按条款）\n";
  std::size_t listed = 0;
  for (const ReportRow& row : r.orgs) {
    for (const MissedDuty& m : row.missed) {
      const std::string who = m.person >= 0 ? c.persons[idx(m.person)].name : "（空缺）";
      out << "  " << c.orgs[idx(row.org)].name << "  【" << m.citation << "】" << m.title
          << "  截止" << format_day(m.due) << "  责任人：" << who
          << (m.flag ? "  问责#" + std::to_string(m.flag) : std::string()) << "\n";
      ++listed;
    }
  }
  if (!listed) out << "  （无）\n";

  out << "\n四、已决定的问责措施及影响期（第二十八条第（四）项）\n";
  listed = 0;
  for (const ReportRow& row : r.orgs) {
    for (const DecidedMeasure& m : row.measures) {
      out << "  " << c.orgs[idx(row.org)].name << "  " << measures_text({m}) << "\n";
      ++listed;
    }
  }
  if (!listed) out << "  （无）\n";
}

}  // namespace dutyd
