// Commands about the daemon's state: run, token, complete, link, audit.
#include <nlohmann/json.hpp>

#include "base/text.hpp"
#include "calendar/snapshot.hpp"
#include "daemon/cli_internal.hpp"
#include "daemon/daemon.hpp"
#include "notifiers/links.hpp"
#include "reminders/channels.hpp"

namespace dutyd::cli {

int cmd_run(const Args& a, std::ostream&, std::ostream& err) {
  if (!a.has("-c")) throw UsageError("run needs -c FILE");
  RunOptions opt;
  opt.config_path = a.get("-c");
  opt.catalogue_path = a.get("--catalogue");
  opt.database = a.get("--database");
  opt.listen = a.get("--listen");
  if (a.has("--now")) {
    LoadResult r = load_config(opt.config_path, {opt.catalogue_path});
    if (!r.ok()) {
      print_diagnostics(r, err, false);
      return kExitConfig;
    }
    opt.clock_offset = clock_offset(a, *r.config);
  }
  return run_daemon(opt);
}

int cmd_token(const Args& a, std::ostream& out, std::ostream& err) {
  const std::string sub = a.positional.empty() ? "" : a.positional[0];
  if (sub != "issue" && sub != "list" && sub != "revoke")
    throw UsageError("token needs issue, list or revoke");
  auto ctx = open_state(a, err);
  if (!ctx) return kExitConfig;
  const Config& c = ctx->config();
  const std::string now = iso_utc(ctx->clock.now());
  if (sub == "issue" && a.has("--all")) {
    // Bulk issue for a new deployment: one feed per person, "ID<TAB>URL" per line.
    for (const Person& p : c.persons) {
      auto [rec, secret] = ctx->store->issue_token("feed", "person", p.id, a.get("--note"), now);
      out << p.id << "\t" << c.daemon.public_url << "/feeds/" << secret << ".ics\n";
    }
    err << "issued " << c.persons.size() << " feed tokens; they cannot be shown again\n";
    return 0;
  }
  if (sub == "issue") {
    std::string subject_kind, subject;
    const int chosen =
        (a.has("--person") ? 1 : 0) + (a.has("--org") ? 1 : 0) + (a.has("--admin") ? 1 : 0);
    if (chosen != 1)
      throw UsageError("token issue needs exactly one of --person ID, --org ID, --admin");
    if (a.has("--person")) {
      subject_kind = "person", subject = a.get("--person");
      if (!c.find_person(subject)) {
        err << "dutyd: unknown person '" << subject << "' — see the [[person]] ids in "
            << a.get("-c") << "\n";
        return 1;
      }
    } else if (a.has("--org")) {
      subject_kind = "org", subject = a.get("--org");
      if (!c.find_org(subject)) {
        err << "dutyd: unknown org '" << subject << "' — see the [[org]] ids in " << a.get("-c")
            << "\n";
        return 1;
      }
    } else {
      subject_kind = "admin";
    }
    const std::string kind = a.get("--kind", subject_kind == "admin" ? "api" : "feed");
    if (kind != "feed" && kind != "api") throw UsageError("--kind must be feed or api");
    if (kind == "feed" && subject_kind == "admin")
      throw UsageError("administrators get API tokens, not feeds; use --kind api");
    auto [rec, secret] = ctx->store->issue_token(kind, subject_kind, subject, a.get("--note"), now);
    // The secret is shown exactly once; only its hash is stored.
    if (kind == "feed")
      out << c.daemon.public_url << "/feeds/" << secret << ".ics\n";
    else
      out << secret << "\n";
    err << "issued token " << rec.id << " (" << kind << ", " << subject_kind
        << (subject.empty() ? "" : " " + subject) << "); it cannot be shown again\n";
    return 0;
  }
  if (sub == "list") {
    const std::string format = format_option(a, {"table", "json"});
    for (const auto& t : ctx->store->tokens()) {
      if (format == "json") {
        nlohmann::ordered_json j{{"id", t.id},
                                 {"kind", t.kind},
                                 {"subject_kind", t.subject_kind},
                                 {"subject", t.subject},
                                 {"created_at", t.created_at},
                                 {"revoked_at", t.revoked_at ? nlohmann::ordered_json(*t.revoked_at)
                                                             : nlohmann::ordered_json(nullptr)},
                                 {"note", t.note}};
        out << j.dump() << "\n";
      } else {
        out << t.id << "\t" << t.kind << "\t" << t.subject_kind
            << (t.subject.empty() ? "" : ":" + t.subject) << "\t" << t.created_at << "\t"
            << (t.revoked_at ? "revoked " + *t.revoked_at : "active") << "\t" << t.note << "\n";
      }
    }
    return 0;
  }
  if (!a.has("--id")) throw UsageError("token revoke needs --id N (see `dutyd token list`)");
  const std::string id_text = a.get("--id");
  char* end = nullptr;
  const long long id = std::strtoll(id_text.c_str(), &end, 10);
  if (!end || *end || id <= 0) throw UsageError("--id must be a token number");
  if (!ctx->store->revoke_token(id, "cli", now)) {
    err << "dutyd: token " << id << " does not exist or is already revoked\n";
    return 1;
  }
  out << "revoked token " << id << "\n";
  return 0;
}

int cmd_complete_or_link(const Args& a, std::ostream& out, std::ostream& err, bool link) {
  if (!a.has("--occurrence"))
    throw UsageError(std::string(link ? "link" : "complete") + " needs --occurrence UID");
  auto ctx = open_state(a, err);
  if (!ctx) return kExitConfig;
  const Config& c = ctx->config();
  const std::int32_t offset = utc_offset_of(c.timezone, ctx->clock.now());
  const Day today = local_day(ctx->clock.now(), offset);
  const Snapshot snap(ctx->served, today);
  const std::string uid = a.get("--occurrence");
  const auto found = snap.find(uid);
  if (!found) {
    err << "dutyd: no occurrence '" << uid << "' in the current calendar — see `dutyd expand -c "
        << a.get("-c") << " --format json`\n";
    return 1;
  }
  const Occurrence& o = **found;
  if (link) {
    std::string person = a.get("--person");
    if (person.empty()) {
      if (o.person < 0) {
        err << "dutyd: the post is vacant for this occurrence; give --person ID\n";
        return 1;
      }
      person = c.persons[static_cast<std::size_t>(o.person)].id;
    } else if (!c.find_person(person)) {
      err << "dutyd: unknown person '" << person << "'\n";
      return 1;
    }
    const std::string key = load_link_key(c, *ctx->store, iso_utc(ctx->clock.now()));
    out << completion_link(c.daemon.public_url, key, uid, person,
                           ctx->clock.now() + std::int64_t{c.daemon.link_ttl_days} * 86400)
        << "\n";
    return 0;
  }
  const Day done_on = date_option(a, "--done-on", -1);
  if (done_on == -1) throw UsageError("complete needs --done-on DATE");
  if (done_on > today) throw UsageError("--done-on is in the future");
  if (done_on < o.window_start)
    throw UsageError("--done-on is before this occurrence's window opens (" +
                     format_day(o.window_start) + ")");
  CompletionInput in;
  in.uid = uid;
  in.done_on = done_on;
  auto text_option = [&](const char* key) {
    auto v = clean_text(a.get(key));
    if (!v) throw UsageError(std::string(key) + " is not valid UTF-8 text");
    return *v;
  };
  in.document_number = text_option("--document-number");
  in.minutes_ref = text_option("--minutes");
  in.evidence_text = text_option("--evidence");
  in.note = text_option("--note");
  in.recorded_by = cli_actor();
  in.channel = "cli";
  const auto r = ctx->store->record_completion(in, done_on > o.due, iso_utc(ctx->clock.now()));
  if (r.created)
    out << "recorded completion " << r.completion.id << " of " << uid
        << (r.completion.late ? " (late)" : "") << "\n";
  else
    out << "already recorded as completion " << r.completion.id << "\n";
  return 0;
}

int cmd_audit(const Args& a, std::ostream& out, std::ostream& err) {
  if (a.positional.empty() || a.positional[0] != "verify") throw UsageError("audit needs verify");
  auto ctx = open_state(a, err);
  if (!ctx) return kExitConfig;
  const AuditCheck check = ctx->store->verify_audit();
  if (check.first_broken) {
    out << "audit log broken at row " << *check.first_broken << ": " << check.problem << "\n";
    return 1;
  }
  out << "audit log intact: " << check.rows << " rows\n";
  return 0;
}

}  // namespace dutyd::cli
