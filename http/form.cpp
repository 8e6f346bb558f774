// GET and POST /complete: the completion form a signed link opens (notifiers/links.hpp).
#include "base/crypto.hpp"
#include "base/text.hpp"
#include "http/reply.hpp"
#include "http/service.hpp"
#include "http/web.hpp"
#include "notifiers/links.hpp"

namespace dutyd {

namespace {

Response html(const Request& req, http::status st, const std::string& title,
              const std::string& body) {
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>" +
      html_escape(title) +
      "</title>"
      "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 "
      "1em;line-height:1.6}"
      "label{display:block;margin-top:1em}input,textarea{width:100%;font-size:1em}"
      "button{margin-top:1.5em;font-size:1.1em;padding:.4em 1.5em}.err{color:#b00}"
      ".meta{color:#555}</style></head><body>\n" +
      body + "\n</body></html>\n";
  Response res = make_response(req, st, std::move(page), "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set("Content-Security-Policy",
          "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
  return res;
}

}  // namespace

Response Service::completion_page(const Request& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::post) {
    Response r = text(req, http::status::method_not_allowed, "不支持的方法\n");
    r.set(http::field::allow, "GET, POST");
    return r;
  }
  const std::string target(req.target());
  auto params = query_params(req);
  if (!params || !params->count("o") || !params->count("p") || !params->count("x") ||
      !params->count("s"))
    return html(req, http::status::bad_request, "链接不完整",
                "<p class=\"err\">链接不完整，请使用提醒中的完整链接。</p>");
  const std::string& uid = (*params)["o"];
  const std::string& person = (*params)["p"];
  const std::string& x = (*params)["x"];
  const std::string expected = completion_link_signature(link_key_, uid, person, x);
  if (!equal_constant_time(expected, (*params)["s"]))
    return html(req, http::status::forbidden, "链接无效",
                "<p class=\"err\">链接无效或已被修改。</p>");
  char* end = nullptr;
  const long long expiry = std::strtoll(x.c_str(), &end, 10);
  if (!end || *end || expiry < clock_.now())
    return html(req, http::status::gone, "链接已过期",
                "<p class=\"err\">此链接已过期，请使用最新提醒中的链接。</p>");
  const auto found = snapshot_->find(uid);
  if (!found)
    return html(req, http::status::not_found, "事项不存在",
                "<p class=\"err\">该事项已不在当前日程中。</p>");
  const Occurrence& o = **found;
  const Config& c = snapshot_->config();
  const Obligation& ob = c.obligations[static_cast<std::size_t>(o.obligation)];
  const std::string title = summary(snapshot_->expander(), o);
  std::string error, done_on = format_day(std::min(today(), std::max(o.window_start, today())));
  Params form;
  if (req.method() == http::verb::post) {
    auto body = parse_params(req.body(), true);
    if (!body) {
      error = "表单内容无法解析。";
    } else {
      form = *body;
      auto d = parse_day(form["done_on"]);
      if (!d) {
        error = "完成日期格式应为 YYYY-MM-DD。";
      } else if (*d > today()) {
        error = "完成日期不能晚于今天。";
      } else if (*d < o.window_start) {
        error =
            "完成日期早于本事项的办理期间（" + format_day(o.window_start) + " 起），不计入本期。";
      } else {
        auto doc = clean_text(form["document_number"]), minutes = clean_text(form["minutes_ref"]),
             ev = clean_text(form["evidence_text"]), note = clean_text(form["note"]);
        if (!doc || !minutes || !ev || !note) {
          for (auto* f : {"document_number", "minutes_ref", "evidence_text", "note"})
            if (!clean_text(form[f])) form[f].clear();
          error = "填写内容包含无效字符（不是有效的 UTF-8 文本），请重新填写。";
        } else {
          CompletionInput in;
          in.done_on = *d;
          in.document_number = *doc;
          in.minutes_ref = *minutes;
          in.evidence_text = *ev;
          in.note = *note;
          in.recorded_by = person;
          in.channel = "form";
          const auto r = record(o, in);
          return html(req, http::status::ok, "已记录",
                      "<h1>已记录</h1><p>" + html_escape(title) +
                          "</p><p class=\"meta\">完成日期：" + format_day(r.completion.done_on) +
                          (r.completion.late ? "（逾期完成）" : "") +
                          (r.created ? "" : "。此前已记录过同样的内容，未重复登记") + "。</p>");
        }
      }
    }
    if (!form["done_on"].empty() && parse_day(form["done_on"])) done_on = form["done_on"];
  }
  std::string page = "<h1>登记完成情况</h1><p><strong>" + html_escape(title) + "</strong></p>";
  page += "<p class=\"meta\">办理期间：" + format_day(o.window_start) + " 至 " + format_day(o.due);
  if (ob.min_count > 1) page += "，期间内至少 " + std::to_string(ob.min_count) + " 次";
  page += "<br>原文：" + html_escape(ob.quote) + "</p>";
  if (!error.empty()) page += "<p class=\"err\">" + html_escape(error) + "</p>";
  std::string evidence;
  for (const auto& e : ob.evidence) evidence += (evidence.empty() ? "" : "、") + e;
  page += "<form method=\"post\" action=\"" + html_escape(target) +
          "\">"
          "<label>完成日期<input type=\"date\" name=\"done_on\" required value=\"" +
          html_escape(done_on) +
          "\"></label>"
          "<label>文号（如有）<input name=\"document_number\" value=\"" +
          html_escape(form["document_number"]) +
          "\"></label>"
          "<label>会议纪要（如有）<input name=\"minutes_ref\" value=\"" +
          html_escape(form["minutes_ref"]) +
          "\"></label>"
          "<label>其他佐证材料说明（应留存：" +
          html_escape(evidence) + "）<textarea name=\"evidence_text\" rows=\"3\">" +
          html_escape(form["evidence_text"]) +
          "</textarea></label>"
          "<label>备注<textarea name=\"note\" rows=\"2\">" +
          html_escape(form["note"]) +
          "</textarea></label>"
          "<button type=\"submit\">提交</button></form>";
  return html(req, error.empty() ? http::status::ok : http::status::bad_request, "登记完成情况",
              page);
}

}  // namespace dutyd
