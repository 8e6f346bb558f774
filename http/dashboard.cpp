// The read-only dashboard (GET /dashboard/...): server-rendered Chinese HTML over what the
// daemon already holds (the snapshot's occurrences, completions, the outbox, flags). No script,
// nothing loaded from elsewhere: one stylesheet served here.
//
// Sign-in: an administrator or an organisation pastes an API token into /dashboard/login; the
// answer sets it as a session cookie (HttpOnly, SameSite=Strict, Path=/dashboard, Secure when
// public_url is https), checked on every request like a Bearer token, so revoking the token
// ends the session at once. An organisation's token sees its own subtree only.
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "base/text.hpp"
#include "calendar/accountability.hpp"
#include "calendar/flags.hpp"
#include "http/feed_cache.hpp"
#include "http/server.hpp"
#include "http/service.hpp"
#include "http/web.hpp"
#include "store/delivery_forms.hpp"

namespace dutyd {
namespace {

constexpr const char* kCookie = "dutyd_dashboard";
constexpr std::size_t kRowsPerPage = 50;
constexpr std::size_t kDeliveriesShown = 500;

constexpr const char* kStyle =
    "body{font-family:sans-serif;margin:0;color:#222;line-height:1.5}"
    "header{background:#8b1a1a;color:#fff;padding:.5em 1em;display:flex;gap:1em;align-items:center}"
    "header a{color:#fff}header form{margin-left:auto}main{padding:1em}"
    ".crumbs{margin:.3em 0 1em}.meta{color:#555}.err{color:#b00;font-weight:bold}"
    "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.2em .4em;"
    "vertical-align:top}th{background:#f4f4f4}.grid{overflow-x:auto}"
    ".grid "
    "th.duty{min-width:5.5em;max-width:8em;font-weight:normal;font-size:.8em;vertical-align:bottom}"
    ".grid th.duty span{display:block;font-weight:bold}"
    ".grid td.org{white-space:nowrap}"
    ".st{display:inline-block;padding:0 .3em;margin:1px;border-radius:3px;text-decoration:none;"
    "color:#000;font-size:.85em;white-space:nowrap}"
    ".st-upcoming{background:#dfe7f2}.st-overdue{background:#ffd27f}.st-missed{background:#e0453a;"
    "color:#fff}.st-on_time{background:#8fd18f}.st-late{background:#c9b3e6}"
    ".legend span{margin-right:.5em}.years a,.pages a{margin-right:.6em}.years "
    "strong{margin-right:.6em}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{color:#555}dd{margin:0}"
    "blockquote{margin:.5em 0;padding:.3em 1em;border-left:4px solid #ccc;background:#fafafa}"
    "label{display:block;margin:1em 0 .3em}input[type=password]{width:100%;max-width:40em;"
    "font-size:1em}button{font-size:1em;padding:.2em 1em}";

// Strict headers on every dashboard answer: nothing but this origin's stylesheet and forms,
// no framing, no referrer (URLs carry organisation and occurrence ids), never cached.
void harden(Response& r) {
  r.set("Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'");
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Referrer-Policy", "no-referrer");
  r.set("X-Frame-Options", "DENY");
  r.set(http::field::cache_control, "no-store");
}

// A whole page; `body` is HTML already escaped. `signed_in` adds the sign-out button.
Response page(const Request& req, http::status st, const std::string& title,
              const std::string& body, bool signed_in) {
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>" +
      html_escape(title) +
      " - 履责看板</title>"
      "<link rel=\"stylesheet\" href=\"/dashboard/style.css\"></head><body>\n<header>"
      "<a "
      "href=\"/dashboard/\"><strong>履责看板</strong></"
      "a><span>党委（党组）落实全面从严治党主体责任</span>";
  if (signed_in)
    html +=
        "<form method=\"post\" action=\"/dashboard/logout\"><button "
        "type=\"submit\">退出</button></form>";
  html += "</header>\n<main>\n" + body + "\n</main></body></html>\n";
  Response r = make_response(req, st, std::move(html), "text/html; charset=utf-8");
  harden(r);
  return r;
}

Response redirect(const Request& req, const std::string& to) {
  Response r = make_response(req, http::status::see_other, "", "text/plain; charset=utf-8");
  r.set(http::field::location, to);
  harden(r);
  return r;
}

Response message(const Request& req, http::status st, const std::string& title,
                 const std::string& text, bool signed_in) {
  return page(req, st, title,
              "<h1>" + html_escape(title) + "</h1><p class=\"err\">" + html_escape(text) +
                  "</p><p><a href=\"/dashboard/\">返回看板</a></p>",
              signed_in);
}

// A coloured label of a state; with `uid`, a link to that occurrence's page.
std::string state_chip(OccurrenceState s, const std::string& label, const std::string& tip,
                       const std::string& uid = "") {
  const std::string name(occurrence_state_name(s));
  std::string attrs = " class=\"st st-" + name + "\" data-state=\"" + name + "\" title=\"" +
                      html_escape(tip) + "\"";
  if (uid.empty()) return "<span" + attrs + ">" + html_escape(label) + "</span>";
  return "<a" + attrs + " data-uid=\"" + html_escape(uid) +
         "\" href=\"/dashboard/occurrence?uid=" + html_escape(percent_encode(uid)) + "\">" +
         html_escape(label) + "</a>";
}

std::string legend() {
  std::string out = "<p class=\"legend\">图例：";
  for (auto s : {OccurrenceState::upcoming, OccurrenceState::overdue, OccurrenceState::missed,
                 OccurrenceState::on_time, OccurrenceState::late})
    out += state_chip(s, std::string(occurrence_state_zh(s)), std::string(occurrence_state_zh(s)));
  return out + "</p>";
}

std::string org_href(const std::string& id, int year, std::size_t page_no = 1) {
  std::string h = "/dashboard/org?id=" + percent_encode(id) + "&year=" + std::to_string(year);
  if (page_no > 1) h += "&page=" + std::to_string(page_no);
  return h;
}

std::string person_name(const Config& c, std::int32_t p) {
  return p >= 0 ? c.persons[static_cast<std::size_t>(p)].name : "（空缺）";
}

// A delivery's relation in Chinese (责任人, 组织部门, ...); administrators' alerts and relations
// this version does not know keep their name.
std::string relation_text(const std::string& relation) {
  try {
    return std::string(relation_zh(parse_relation(relation)));
  } catch (const std::invalid_argument&) {
    return relation == "admin" ? "管理员" : relation;
  }
}

// A whole number from a query parameter, or nullopt (empty, not digits, too long).
std::optional<long> number_param(const std::string& s) {
  if (s.empty() || s.size() > 6 ||
      !std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return std::nullopt;
  return std::stol(s);
}

}  // namespace

std::optional<TokenRecord> Service::dashboard_token(const std::string& secret) const {
  if (secret.empty() || !token_chars_ok(secret)) return std::nullopt;
  auto t = find_token(secret);
  if (!t || t->revoked_at || t->kind != "api") return std::nullopt;
  if (t->subject_kind == "admin") return t;
  if (t->subject_kind == "org" && snapshot_->config().org_index.count(t->subject)) return t;
  return std::nullopt;
}

std::optional<Day> Service::done_on(const Occurrence& o) const {
  const auto* notes = notes_for(o);
  const int need =
      snapshot_->config().obligations[static_cast<std::size_t>(o.obligation)].min_count;
  if (!notes || need < 1 || notes->size() < static_cast<std::size_t>(need)) return std::nullopt;
  std::vector<Day> days;
  for (const CompletionNote& n : *notes) days.push_back(n.done_on);
  std::sort(days.begin(), days.end());
  return days[static_cast<std::size_t>(need) - 1];
}

Response Service::dashboard(const Request& req, const std::string& path) {
  Response r = dashboard_page(req, path);
  if (req.method() == http::verb::head) {  // the headers of the GET, without its body
    const std::size_t size = r.body() ? r.body()->size() : 0;
    r.body() = std::make_shared<const std::string>();
    r.content_length(size);
  }
  return r;
}

Response Service::dashboard_page(const Request& req, const std::string& path) {
  if (path == "/dashboard/style.css") {
    Response r = make_response(req, http::status::ok, kStyle, "text/css; charset=utf-8");
    harden(r);
    return r;
  }
  if (path == "/dashboard/login") return dashboard_login(req);
  if (path == "/dashboard/logout") {
    if (req.method() != http::verb::post) {
      Response r = message(req, http::status::method_not_allowed, "不支持的操作",
                           "请使用页面上的“退出”按钮。", false);
      r.set(http::field::allow, "POST");
      return r;
    }
    Response r = redirect(req, "/dashboard/login");
    r.set(http::field::set_cookie,
          set_cookie(kCookie, "", "/dashboard",
                     snapshot_->config().daemon.public_url.rfind("https://", 0) == 0, true));
    return r;
  }
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    Response r = message(req, http::status::method_not_allowed, "不支持的操作",
                         "看板只读，不能修改数据。", false);
    r.set(http::field::allow, "GET, HEAD");
    return r;
  }
  const auto h = req[http::field::cookie];
  const auto secret = cookie_value(std::string_view(h.data(), h.size()), kCookie);
  const auto who = secret ? dashboard_token(*secret) : std::nullopt;
  if (!who) return redirect(req, "/dashboard/login");
  if (path == "/dashboard" || path == "/dashboard/" || path == "/dashboard/org")
    return dashboard_org(req, *who);
  if (path == "/dashboard/occurrence") return dashboard_occurrence(req, *who);
  return message(req, http::status::not_found, "页面不存在", "没有这个页面。", true);
}

Response Service::dashboard_login(const Request& req) {
  const bool post = req.method() == http::verb::post;
  if (!post && req.method() != http::verb::get && req.method() != http::verb::head) {
    Response r =
        message(req, http::status::method_not_allowed, "不支持的操作", "请打开登录页面。", false);
    r.set(http::field::allow, "GET, HEAD, POST");
    return r;
  }
  std::string error;
  if (post) {
    const auto form = parse_params(req.body(), true);
    std::string secret = form && form->count("token") ? form->at("token") : "";
    while (!secret.empty() &&
           (secret.back() == ' ' || secret.back() == '\n' || secret.back() == '\r'))
      secret.pop_back();
    while (!secret.empty() && secret.front() == ' ') secret.erase(0, 1);
    if (auto t = dashboard_token(secret)) {
      Response r = redirect(req, "/dashboard/");
      r.set(http::field::set_cookie,
            set_cookie(kCookie, secret, "/dashboard",
                       snapshot_->config().daemon.public_url.rfind("https://", 0) == 0));
      return r;
    }
    error = secret.empty() ? "请粘贴访问令牌。"
                           : "令牌无效、已停用或无权查看看板。看板需要管理员或组织的 API "
                             "令牌（dutyd token issue --admin 或 --org ID --kind api）。";
  }
  std::string body =
      "<h1>登录履责看板</h1><p class=\"meta\">请粘贴管理员或本组织的 API "
      "访问令牌。组织令牌只能查看本组织及其下级。</p>";
  if (!error.empty()) body += "<p class=\"err\" id=\"login-error\">" + html_escape(error) + "</p>";
  body +=
      "<form method=\"post\" action=\"/dashboard/login\"><label for=\"token\">访问令牌</label>"
      "<input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" required>"
      "<p><button type=\"submit\" id=\"login\">登录</button></p></form>";
  return page(req, error.empty() ? http::status::ok : http::status::unauthorized, "登录", body,
              false);
}

Response Service::dashboard_org(const Request& req, const TokenRecord& who) {
  const Config& c = snapshot_->config();
  auto params = target_params(std::string_view(req.target().data(), req.target().size()));
  if (!params)
    return message(req, http::status::bad_request, "地址有误", "地址中的参数无法解析。", true);
  for (const auto& [name, value] : *params)
    if (name != "id" && name != "year" && name != "page")
      return message(req, http::status::bad_request, "地址有误",
                     "不认识的参数“" + name + "”；可用参数：id、year、page。", true);
  const std::int32_t scope = who.subject_kind == "org" ? c.org_index.at(who.subject) : -1;
  const Day today_ = today();
  const int first_year = civil(snapshot_->horizon_from()).year,
            last_year = civil(snapshot_->horizon_to()).year;
  int year = civil(today_).year;
  if (!(*params)["year"].empty()) {
    const auto y = number_param((*params)["year"]);
    if (!y || *y < first_year || *y > last_year)
      return message(
          req, http::status::bad_request, "年度有误",
          "年度应在 " + std::to_string(first_year) + " 至 " + std::to_string(last_year) + " 之间。",
          true);
    year = static_cast<int>(*y);
  }
  std::size_t page_no = 1;
  if (!(*params)["page"].empty()) {
    const auto p = number_param((*params)["page"]);
    if (!p || *p < 1)
      return message(req, http::status::bad_request, "页码有误", "页码应为正整数。", true);
    page_no = static_cast<std::size_t>(*p);
  }
  // The organisation shown: the one asked for, else the token's, else the only root; with
  // several roots an administrator sees the roots as rows.
  std::int32_t org = scope;
  if (const std::string& id = (*params)["id"]; !id.empty()) {
    auto it = c.org_index.find(id);
    if (it == c.org_index.end())
      return message(req, http::status::not_found, "组织不存在", "配置中没有组织“" + id + "”。",
                     true);
    org = it->second;
    if (scope >= 0 && !in_subtree(c, org, scope))
      return message(req, http::status::forbidden, "无权查看",
                     "您的令牌只能查看本组织及其下级组织。", true);
  }
  std::vector<std::int32_t> children;
  for (std::size_t i = 0; i < c.orgs.size(); ++i)
    if (c.orgs[i].parent == org) children.push_back(static_cast<std::int32_t>(i));
  if (org < 0 && children.size() == 1) {
    org = children.front();
    children.clear();
    for (std::size_t i = 0; i < c.orgs.size(); ++i)
      if (c.orgs[i].parent == org) children.push_back(static_cast<std::int32_t>(i));
  }
  const std::size_t pages =
      std::max<std::size_t>(1, (children.size() + kRowsPerPage - 1) / kRowsPerPage);
  if (page_no > pages)
    return message(req, http::status::not_found, "页码有误",
                   "只有 " + std::to_string(pages) + " 页。", true);
  std::vector<std::int32_t> rows;
  if (org >= 0 && page_no == 1) rows.push_back(org);
  const std::size_t first = (page_no - 1) * kRowsPerPage;
  for (std::size_t i = first; i < std::min(children.size(), first + kRowsPerPage); ++i)
    rows.push_back(children[i]);
  std::vector<std::size_t> child_count(rows.size(), 0);
  for (const Org& o : c.orgs)
    for (std::size_t r = 0; r < rows.size(); ++r)
      if (o.parent == rows[r]) ++child_count[r];

  // The cells: per row, per obligation, the occurrences due in the year.
  const Day from = make_day(year, 1, 1), to = make_day(year, 12, 31);
  std::vector<std::map<std::int32_t, std::vector<const Occurrence*>>> cells(rows.size());
  std::vector<std::int32_t> duties;
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (const Occurrence& o : snapshot_->for_org(rows[r]).occurrences)
      if (o.org == rows[r] && o.due >= from && o.due <= to) {
        auto& cell = cells[r][o.obligation];
        if (cell.empty()) duties.push_back(o.obligation);
        cell.push_back(&o);
      }
  std::sort(duties.begin(), duties.end());
  duties.erase(std::unique(duties.begin(), duties.end()), duties.end());
  std::stable_sort(duties.begin(), duties.end(), [&](std::int32_t a, std::int32_t b) {
    const Obligation &x = c.obligations[static_cast<std::size_t>(a)],
                     &y = c.obligations[static_cast<std::size_t>(b)];
    return std::tie(x.article, x.item) < std::tie(y.article, y.item);
  });

  std::string body;
  // Where we are: from the top the token may see down to this organisation.
  std::vector<std::int32_t> chain;
  for (std::int32_t p = org; p >= 0; p = c.orgs[static_cast<std::size_t>(p)].parent) {
    chain.push_back(p);
    if (p == scope) break;
  }
  std::reverse(chain.begin(), chain.end());
  body += "<p class=\"crumbs\">";
  if (scope < 0) body += "<a href=\"/dashboard/org?year=" + std::to_string(year) + "\">全部</a>";
  for (std::int32_t p : chain) {
    if (scope < 0 || p != chain.front()) body += " › ";
    body += "<a href=\"" + html_escape(org_href(c.orgs[static_cast<std::size_t>(p)].id, year)) +
            "\">" + html_escape(c.orgs[static_cast<std::size_t>(p)].name) + "</a>";
  }
  body += "</p>";
  const std::string heading = org >= 0 ? c.orgs[static_cast<std::size_t>(org)].name : "全部组织";
  body +=
      "<h1 id=\"org-name\">" + html_escape(heading) + " · " + std::to_string(year) + "年度</h1>";
  body += "<p class=\"years\">年度：";
  for (int y = first_year; y <= last_year; ++y) {
    if (y == year)
      body += "<strong>" + std::to_string(y) + "</strong>";
    else if (org >= 0)
      body += "<a href=\"" + html_escape(org_href(c.orgs[static_cast<std::size_t>(org)].id, y)) +
              "\">" + std::to_string(y) + "</a>";
    else
      body +=
          "<a href=\"/dashboard/org?year=" + std::to_string(y) + "\">" + std::to_string(y) + "</a>";
  }
  body += "</p>" + legend();
  body += "<p class=\"meta\">今天：" + format_day(today_) + "。下级组织 " +
          std::to_string(children.size()) +
          " 个；点击组织名称查看其下级，点击色块查看事项详情。</p>";

  body += "<div class=\"grid\"><table id=\"grid\"><thead><tr><th>组织</th>";
  for (std::int32_t d : duties) {
    const Obligation& ob = c.obligations[static_cast<std::size_t>(d)];
    body += "<th class=\"duty\" title=\"" + html_escape(ob.quote) + "\" data-obligation=\"" +
            html_escape(ob.id) + "\"><span>" + html_escape(citation(ob.article, ob.item)) +
            "</span>" + html_escape(ob.title) + "</th>";
  }
  body += "</tr></thead><tbody>";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const Org& ro = c.orgs[static_cast<std::size_t>(rows[r])];
    body += "<tr data-org=\"" + html_escape(ro.id) + "\"><td class=\"org\">";
    if (rows[r] == org) {
      body += "<strong>" + html_escape(ro.name) + "</strong>（本级）";
    } else {
      body += "<a class=\"drill\" href=\"" + html_escape(org_href(ro.id, year)) + "\">" +
              html_escape(ro.name) + "</a>";
      if (child_count[r])
        body += " <span class=\"meta\">下级 " + std::to_string(child_count[r]) + "</span>";
    }
    body += "</td>";
    for (std::int32_t d : duties) {
      const Obligation& ob = c.obligations[static_cast<std::size_t>(d)];
      const int grace = c.grace_days(ob);
      body += "<td data-obligation=\"" + html_escape(ob.id) + "\">";
      auto it = cells[r].find(d);
      if (it != cells[r].end())
        for (const Occurrence* o : it->second) {
          const OccurrenceState st = occurrence_state(o->due, done_on(*o), today_, grace);
          const std::string uid = snapshot_->expander().uid(*o);
          char mmdd[8];
          const Civil due = civil(o->due);
          std::snprintf(mmdd, sizeof mmdd, "%02u-%02u", due.month % 100, due.day % 100);
          // Several occurrences of a duty in one cell (talks with each member, inspections of
          // each unit): the chip also names whom it concerns.
          std::string label = mmdd;
          if (it->second.size() > 1) {
            if (o->counterpart_org >= 0)
              label += " " + c.orgs[static_cast<std::size_t>(o->counterpart_org)].name;
            else if (o->counterpart_person >= 0)
              label += " " + person_name(c, o->counterpart_person);
            else if (o->member >= 0)
              label += " " + person_name(c, o->member);
          }
          body += state_chip(
              st, label,
              summary(snapshot_->expander(), *o) + "：" + std::string(occurrence_state_zh(st)),
              uid);
        }
      body += "</td>";
    }
    body += "</tr>";
  }
  body += "</tbody></table></div>";
  if (duties.empty()) body += "<p class=\"meta\">本年度这些组织没有到期事项。</p>";
  if (pages > 1 && org >= 0) {
    body += "<p class=\"pages\">第 " + std::to_string(page_no) + " / " + std::to_string(pages) +
            " 页：";
    if (page_no > 1)
      body += "<a href=\"" +
              html_escape(org_href(c.orgs[static_cast<std::size_t>(org)].id, year, page_no - 1)) +
              "\">上一页</a>";
    if (page_no < pages)
      body += "<a href=\"" +
              html_escape(org_href(c.orgs[static_cast<std::size_t>(org)].id, year, page_no + 1)) +
              "\">下一页</a>";
    body += "</p>";
  }
  return page(req, http::status::ok, heading, body, true);
}

Response Service::dashboard_occurrence(const Request& req, const TokenRecord& who) {
  const Config& c = snapshot_->config();
  auto params = target_params(std::string_view(req.target().data(), req.target().size()));
  if (!params || (*params)["uid"].empty())
    return message(req, http::status::bad_request, "地址有误", "缺少事项编号（uid）。", true);
  const std::string uid = (*params)["uid"];
  const auto found = snapshot_->find(uid);
  if (!found)
    return message(req, http::status::not_found, "事项不存在", "该事项不在当前日程中。", true);
  const Occurrence& o = **found;
  if (who.subject_kind == "org" && !in_subtree(c, o.org, c.org_index.at(who.subject)))
    return message(req, http::status::forbidden, "无权查看",
                   "您的令牌只能查看本组织及其下级组织的事项。", true);
  const Obligation& ob = c.obligations[static_cast<std::size_t>(o.obligation)];
  const Org& org = c.orgs[static_cast<std::size_t>(o.org)];
  const Day today_ = today();
  const int grace = c.grace_days(ob);
  const auto done = done_on(o);
  const OccurrenceState st = occurrence_state(o.due, done, today_, grace);
  const std::string title = summary(snapshot_->expander(), o);
  const int year = civil(o.due).year;
  const bool in_horizon =
      year >= civil(snapshot_->horizon_from()).year && year <= civil(snapshot_->horizon_to()).year;

  std::string body = "<p class=\"crumbs\"><a href=\"" +
                     html_escape(in_horizon ? org_href(org.id, year) : "/dashboard/") + "\">← " +
                     html_escape(org.name) + " · " + std::to_string(year) + "年度</a></p>";
  body += "<h1 id=\"occurrence-title\">" + html_escape(title) + "</h1>";
  body +=
      "<p>状态：" +
      state_chip(st, std::string(occurrence_state_zh(st)), std::string(occurrence_state_zh(st))) +
      "</p>";
  body += "<dl>";
  auto row = [&](const std::string& k, const std::string& v) {
    body += "<dt>" + html_escape(k) + "</dt><dd>" + html_escape(v) + "</dd>";
  };
  row("依据", citation(ob.article, ob.item) + " " + ob.title);
  row("责任主体", org.name + "（" + actor_zh(ob.actor) + "）");
  row("办理期间", format_day(o.window_start) + " 至 " + format_day(o.due));
  row("宽限期", std::to_string(grace) + " 天（至 " + format_day(o.due + grace) + "）");
  if (ob.min_count > 1) row("次数要求", "期间内至少 " + std::to_string(ob.min_count) + " 次");
  const Attribution a = attribute(c, o, today_);
  std::string responsible = person_name(c, a.responsible);
  if (a.responsible_moved_on)
    responsible += "（前任；现任" + person_name(c, a.incumbent) + "）";
  else if (a.responsible >= 0)
    responsible += "（现任）";
  row("责任人（截止日在任）", responsible);
  if (a.scope == FlagScope::collective) {
    std::string in_charge;
    for (std::int32_t p : a.in_charge)
      in_charge += (in_charge.empty() ? "" : "、") + person_name(c, p);
    row("集体责任", "主要负责人：" + person_name(c, a.principal) + "；分管领导：" +
                        (in_charge.empty() ? "无" : in_charge));
  }
  row("完成日期", done ? format_day(*done) : "未完成");
  row("事项编号", uid);
  body += "</dl><blockquote>" + html_escape(ob.quote) + "</blockquote>";

  body += "<h2>完成情况与佐证材料</h2>";
  const auto completions = store_.completions_of(uid);
  if (completions.empty()) {
    body += "<p class=\"meta\" id=\"no-completions\">尚无完成记录。</p>";
  } else {
    body +=
        "<table "
        "id=\"completions\"><tr><th>完成日期</th><th>文号</th><th>会议纪要</th><th>其他佐证</th>"
        "<th>备注</th><th>登记人</th><th>登记方式</th><th>登记时间（UTC）</th></tr>";
    for (const Completion& k : completions) {
      const Person* p = c.find_person(k.recorded_by);
      body += "<tr><td>" + format_day(k.done_on) + (k.late ? "（逾期）" : "") + "</td><td>" +
              html_escape(k.document_number) + "</td><td>" + html_escape(k.minutes_ref) +
              "</td><td>" + html_escape(k.evidence_text) + "</td><td>" + html_escape(k.note) +
              "</td><td>" + html_escape(p ? p->name : k.recorded_by) + "</td><td>" +
              (k.channel == "form"  ? "链接表单"
               : k.channel == "api" ? "接口"
                                    : "命令行") +
              "</td><td>" + html_escape(k.recorded_at) + "</td></tr>";
    }
    body += "</table>";
  }

  body += "<h2>提醒送达记录</h2>";
  DeliveryFilter f;
  f.occurrence = uid;
  f.limit = kDeliveriesShown;
  const auto deliveries = store_.deliveries(f);
  if (deliveries.empty()) {
    body += "<p class=\"meta\" id=\"no-deliveries\">没有提醒记录。</p>";
  } else {
    body +=
        "<table id=\"deliveries\"><tr><th>计划时间</th><th>收件人</th><th>渠道</th><th>状态</th>"
        "<th>发送时间</th><th>尝试次数</th><th>最后错误</th></tr>";
    for (const DeliveryRecord& d : deliveries) {
      const Person* p = c.find_person(d.person);
      body += "<tr data-status=\"" + html_escape(d.status) + "\"><td>" +
              local_minute(d.send_at, c.timezone) + "</td><td>" +
              html_escape(p ? p->name : d.person) + "（" + html_escape(relation_text(d.relation)) +
              "）</td><td>" + html_escape(d.channel) + delivery_purpose_zh(d.purpose) +
              "</td><td>" + delivery_status_zh(d.status) + "</td><td>" +
              (d.sent_at ? local_minute(*d.sent_at, c.timezone) : "-") + "</td><td>" +
              std::to_string(d.attempts) + "</td><td>" +
              html_escape(d.last_error.empty() ? "-" : d.last_error) + "</td></tr>";
    }
    body += "</table>";
    const std::size_t total = store_.count_deliveries(f);
    if (total > deliveries.size())
      body += "<p class=\"meta\">仅显示前 " + std::to_string(deliveries.size()) + " 条，共 " +
              std::to_string(total) + " 条。</p>";
  }

  body += "<h2>问责标记</h2>";
  if (const auto flag = store_.flag_of(uid)) {
    body += "<dl id=\"flag\">";
    const auto status = parse_flag_status(flag->status);
    row("状态", status ? std::string(flag_status_zh(*status)) : flag->status);
    row("情节", std::string(flag_severity_zh(flag->severity)) + "：" + flag->severity_reason);
    row("情形", citation(27, flag->art27) + " " + flag->art27_clause);
    row("标记日期",
        format_day(flag->raised_on) + "（逾期 " + std::to_string(flag->days_late) + " 天）");
    row("责任人", flag_responsible_text(c, *flag));
    if (const std::string team = flag_team_text(c, *flag); !team.empty()) row("集体责任", team);
    std::string measures;
    for (const auto& m : flag->suggested_measures) measures += (measures.empty() ? "" : "；") + m;
    row("建议措施", measures);
    if (const auto m = parse_measure(flag->measure))
      row("决定", std::string(measure_zh(*m)) +
                      (flag->decided_on ? "（" + format_day(*flag->decided_on) + "）" : ""));
    if (!flag->dismiss_reason.empty()) row("撤销理由", flag->dismiss_reason);
    body += "</dl>";
  } else {
    body += "<p class=\"meta\" id=\"no-flag\">没有问责标记。</p>";
  }
  return page(req, http::status::ok, title, body, true);
}

}  // namespace dutyd
