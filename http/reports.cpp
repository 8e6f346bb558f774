// GET /api/v1/reports: checked on the event loop, made on the report thread (a province's report
// takes seconds), answered through the connection's responder.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "calendar/report.hpp"
#include "http/reply.hpp"
#include "http/service.hpp"
#include "http/web.hpp"

namespace dutyd {

// GET /api/v1/reports?year=Y[&org=ID][&format=json|csv]: an administrator's token reports on
// any organisation or the whole tree; an organisation's API token on its own subtree only.
// Through the HTTP server the report is made on the report thread (defer()); handle() makes it
// here.
Response Service::api_reports(const Request& req) {
  auto checked = check_report(req);
  if (auto* answer = std::get_if<Response>(&checked)) return std::move(*answer);
  ReportJob& job = std::get<ReportJob>(checked);
  read_known(job);
  return make_report(job);
}

// What the store knows is read on the loop's connection (the report thread has none), and only
// for a report that will be made.
void Service::read_known(ReportJob& job) {
  job.known =
      std::make_shared<const ReportStore>(ReportStore{store_.completion_days(), store_.flags({})});
}

std::variant<Response, Service::ReportJob> Service::check_report(const Request& req) {
  if (req.method() != http::verb::get) return json_method_not_allowed(req, "GET");
  const auto token = bearer(req);
  if (!token)
    return json_error(req, http::status::unauthorized,
                      "an administrator's or an organisation's API token is required "
                      "(Authorization: Bearer ...)");
  if (token->subject_kind == "person")
    return json_error(req, http::status::forbidden,
                      "reports need an administrator's or an organisation's token, not a person's");
  auto params = query_params(req);
  if (!params) return json_error(req, http::status::bad_request, "malformed query string");
  for (const auto& [name, value] : *params)
    if (name != "year" && name != "org" && name != "format")
      return json_error(req, http::status::bad_request,
                        "unknown parameter '" + name + "'; accepted: year, org, format");
  const std::string& year_text = (*params)["year"];
  const std::optional<int> year = parse_report_year(year_text);
  if (!year)
    return json_error(req, http::status::bad_request,
                      "'year' is required: four digits, e.g. year=2026");
  const std::string format = (*params)["format"].empty() ? "json" : (*params)["format"];
  if (format != "json" && format != "csv")
    return json_error(req, http::status::bad_request, "'format' must be json or csv");
  const Config& c = snapshot_->config();
  std::string org = (*params)["org"];
  if (!org.empty() && !c.org_index.count(org))
    return json_error(req, http::status::not_found, "unknown org '" + org + "'");
  if (token->subject_kind == "org") {
    const auto own = c.org_index.find(token->subject);
    if (own == c.org_index.end())
      return json_error(req, http::status::forbidden,
                        "this token's organisation is no longer in the configuration");
    if (org.empty()) org = token->subject;
    // Its own subtree: the token's organisation is org or one of its ancestors.
    bool inside = false;
    for (std::int32_t o = c.org_index.at(org); o >= 0 && !inside;
         o = c.orgs[static_cast<std::size_t>(o)].parent)
      inside = o == own->second;
    if (!inside)
      return json_error(req, http::status::forbidden,
                        "an organisation's token reports only on its own subtree");
  }
  ReportJob job;
  job.snapshot = snapshot_;
  job.head.version(req.version());
  job.head.keep_alive(req.keep_alive());
  job.year = *year;
  job.as_of = today();
  job.root = org.empty() ? -1 : c.org_index.at(org);
  job.format = format;
  job.year_text = year_text;
  job.org = org;
  return job;
}

Response Service::make_report(const ReportJob& job) {
  const Snapshot& snapshot = *job.snapshot;
  const Config& c = snapshot.config();
  // The snapshot's blocks hold the horizon; a year outside it is derived for this request.
  const Day from = make_day(job.year, 1, 1), to = make_day(job.year, 12, 31);
  Expansion derived;
  std::vector<const Expansion*> parts;
  if (from >= snapshot.horizon_from() && to <= snapshot.horizon_to()) {
    for (const std::int32_t o : subtree(c, job.root)) parts.push_back(&snapshot.for_org(o));
  } else {
    derived = snapshot.expander().expand(from, to);
    parts.push_back(&derived);
  }
  const Report report =
      build_report(c, snapshot.expander(), parts, *job.known, job.year, job.as_of, job.root);
  Response r;
  if (job.format == "csv") {
    std::ostringstream csv;
    print_report_csv(c, report, csv);
    r = make_response(job.head, http::status::ok, csv.str(), "text/csv; charset=utf-8");
    r.set(http::field::content_disposition, "attachment; filename=\"report-" + job.year_text +
                                                (job.org.empty() ? "" : "-" + job.org) + ".csv\"");
  } else {
    r = json(job.head, http::status::ok, report_json(c, report));
  }
  r.set(http::field::cache_control, "no-store");
  return r;
}

bool Service::defer(const Request& req, std::function<void(Response)>& respond) {
  const std::string target(req.target());
  if (target.substr(0, target.find('?')) != "/api/v1/reports") return false;
  refresh();
  auto checked = check_report(req);
  if (auto* answer = std::get_if<Response>(&checked)) {
    respond(std::move(*answer));
    return true;
  }
  // One report at a time, a few waiting; more are refused.
  if (reports_ && reports_->pending() >= kReportsWaiting) {
    Response busy = json_error(req, http::status::service_unavailable,
                               "too many reports are being made; try again in a few seconds");
    busy.set(http::field::retry_after, "5");
    respond(std::move(busy));
    return true;
  }
  auto job = std::make_shared<ReportJob>(std::move(std::get<ReportJob>(checked)));
  read_known(*job);
  // The report worker answers through `respond` itself (from its thread): it has no loop.
  if (!reports_)
    reports_ = std::make_unique<Worker>(nullptr, [](const std::string& what) {
      std::cerr << log_prefix(3) + "the report worker: " + what + "\n" << std::flush;
    });
  reports_->post([this, job, answer = respond]() -> Worker::Answer {
    const std::string what = "report of " + job->year_text + " for " +
                             (job->org.empty() ? "every organisation" : job->org);
    std::cerr << log_prefix(6) + "making the " + what + "\n" << std::flush;
    const auto t0 = std::chrono::steady_clock::now();
    // For the tests of this worker: a report that takes this long (see
    // tests/daemon/test_reports.py).
    if (report_delay_ms_ > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(report_delay_ms_));
    Response r;
    try {
      r = make_report(*job);
      const double took =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::ostringstream line;
      line << log_prefix(6) << "made the " << what << " in " << std::fixed << std::setprecision(2)
           << took << " s\n";
      std::cerr << line.str() << std::flush;
    } catch (const std::exception& e) {
      std::cerr << log_prefix(3) + "the " + what + " failed: " + e.what() + "\n" << std::flush;
      r = json_error(job->head, http::status::internal_server_error,
                     "the report could not be made");
    }
    *job = {};  // the snapshot goes before the answer does
    answer(std::move(r));
    return {};
  });
  return true;
}

Service::~Service() = default;  // the report worker makes the reports still waiting, then ends

}  // namespace dutyd
