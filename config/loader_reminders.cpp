// [[ladder]], [[channel]], [[ladder_for]] and [reminders]: read from one file, then resolved
// across files (the shipped default ladder, references, robots' organisations, holiday globs).
#include "config/loader_internal.hpp"

#include <glob.h>

#include <algorithm>
#include <set>

namespace dutyd::detail {

void FileReader::read_ladder(const toml::table& t) {
  TableReader r(*this, file_, t, "[[ladder]]");
  LadderSpec spec;
  spec.loc = r.loc();
  auto id = r.string("id", true);
  spec.id_loc = r.loc("id");
  auto from = r.string("from");
  auto overdue = r.string("overdue");
  auto send_at = r.string("send_at");
  const toml::node* steps = r.get("steps", true);
  r.finish({"id", "steps", "from", "overdue", "send_at"});
  bool ok = id.has_value();
  if (id && !valid_id(*id)) {
    error(spec.id_loc, "ladder id '" + *id + "' is not usable" + kDash + kIdRule);
    ok = false;
  }
  Anchor ladder_from = Anchor::due;
  try {
    if (from) ladder_from = parse_anchor(*from);
  } catch (const std::invalid_argument& e) {
    error(r.loc("from"), e.what());
    ok = false;
  }
  try {
    if (overdue) spec.ladder.overdue = parse_overdue_policy(*overdue);
  } catch (const std::invalid_argument& e) {
    error(r.loc("overdue"), e.what());
    ok = false;
  }
  if (send_at) {
    const std::int32_t s = parse_time_of_day(*send_at);
    if (s < 0) {
      error(r.loc("send_at"), "send_at '" + *send_at + "' is not a time of day" +
                                  std::string(kDash) +
                                  "write HH:MM on a 24-hour clock, e.g. \"09:00\"");
      ok = false;
    } else {
      spec.ladder.send_at_second = s;
    }
  }
  if (steps) {
    const toml::array* a = steps->as_array();
    if (!a) {
      error(
          loc_of(file_, steps->source()),
          "'steps' in [[ladder]] must be an array of steps" + std::string(kDash) +
              "write steps = [ { at = \"-7d\", notify = [\"responsible\"], via = [\"email\"] } ]");
      ok = false;
    } else if (a->empty()) {
      error(loc_of(file_, steps->source()), "ladder has no steps" + std::string(kDash) +
                                                "give at least one { at, notify, via } step");
      ok = false;
    } else {
      for (const toml::node& el : *a) {
        if (const toml::table* st = el.as_table()) {
          ok = read_step(*st, ladder_from, spec) && ok;
        } else {
          error(loc_of(file_, el.source()), "a step must be a table" + std::string(kDash) +
                                                "write { at = \"-7d\", notify = [\"responsible\"], "
                                                "via = [\"email\"] }");
          ok = false;
        }
      }
    }
  }
  if (!ok || !steps) return;
  spec.ladder.id = *id;
  part_.ladders.push_back(std::move(spec));
}

bool FileReader::read_step(const toml::table& t, Anchor ladder_from, LadderSpec& spec) {
  TableReader r(*this, file_, t, "a step of [[ladder]]");
  auto at = r.string("at", true);
  auto notify = r.strings("notify", true);
  auto via = r.strings("via", true);
  auto from = r.string("from");
  auto flag = r.boolean("flag");
  r.finish({"at", "notify", "via", "from", "flag"});
  bool ok = at && notify && via;
  EscalationStep step;
  step.from = ladder_from;
  try {
    if (at) step.at = parse_step_offset(*at);
  } catch (const std::invalid_argument& e) {
    error(r.loc("at"), e.what());
    ok = false;
  }
  try {
    if (from) step.from = parse_anchor(*from);
  } catch (const std::invalid_argument& e) {
    error(r.loc("from"), e.what());
    ok = false;
  }
  if (flag && *flag) {
    if (step.from != Anchor::due || step.at.amount <= 0) {
      error(r.loc("flag"),
            "only a step after the due date can raise a flag" + std::string(kDash) +
                "put flag = true on a step such as at = \"+5wd\" counted from the due date");
      ok = false;
    }
    step.raise_flag = true;
  }
  if (notify) {
    if (notify->empty()) {
      error(r.loc("notify"), "the step notifies nobody" + std::string(kDash) +
                                 "list relations, e.g. notify = [\"responsible\", \"principal\"]");
      ok = false;
    }
    for (const StringAt& n : *notify) {
      try {
        step.notify.push_back(parse_relation(n.value));
      } catch (const std::invalid_argument&) {
        const auto names = relation_names();
        error(n.loc, "unknown relation '" + n.value + "'" + kDash + suggest(n.value, names) +
                         "use one of: " + join(names));
        ok = false;
      }
    }
  }
  std::vector<SourceLoc> via_locs;
  if (via) {
    if (via->empty()) {
      error(r.loc("via"),
            "the step sends through no channel" + std::string(kDash) +
                "write via = [\"email\"], [\"chat\"], a channel kind or a channel id");
      ok = false;
    }
    for (const StringAt& v : *via) step.via.push_back(v.value), via_locs.push_back(v.loc);
  }
  if (!ok) return false;
  spec.ladder.steps.push_back(std::move(step));
  spec.via_locs.push_back(std::move(via_locs));
  return true;
}

void FileReader::read_channel(const toml::table& t) {
  TableReader r(*this, file_, t, "[[channel]]");
  ChannelSpec spec;
  Channel& ch = spec.channel;
  ch.loc = r.loc();
  auto id = r.string("id", true);
  spec.id_loc = r.loc("id");
  auto kind = r.string("kind", true);
  auto url = r.string("url");
  auto from = r.string("from");
  auto username = r.string("username");
  auto orgs = r.strings("orgs");
  auto ca_file = r.string("ca_file");
  struct Credential {
    const char* key;
    std::string* field;
    std::optional<std::string> value;
  };
  std::vector<Credential> creds{{"password_credential", &ch.password_credential, {}},
                                {"key_credential", &ch.key_credential, {}},
                                {"token_credential", &ch.token_credential, {}},
                                {"secret_credential", &ch.secret_credential, {}}};
  for (auto& c : creds) c.value = r.string(c.key);
  // A secret written into the file itself: say where it belongs instead of "unknown key".
  static const std::vector<std::pair<std::string_view, std::string_view>> literal{
      {"password", "password_credential"},
      {"key", "key_credential"},
      {"token", "token_credential"},
      {"access_token", "token_credential"},
      {"secret", "secret_credential"}};
  bool ok = id && kind;
  for (const auto& [key, instead] : literal) {
    if (!t.get(key)) continue;
    error(r.loc(key), "'" + std::string(key) + "' would put a secret into the configuration file" +
                          kDash +
                          "store it in a credential file (the file NAME in "
                          "$CREDENTIALS_DIRECTORY or [daemon] credentials_dir) and write " +
                          std::string(instead) + " = \"NAME\"");
    ok = false;
  }
  r.finish({"id", "kind", "url", "from", "username", "orgs", "ca_file", "password_credential",
            "key_credential", "token_credential", "secret_credential", "password", "key", "token",
            "access_token", "secret"});
  if (id && !valid_id(*id)) {
    error(spec.id_loc, "channel id '" + *id + "' is not usable" + kDash + kIdRule);
    ok = false;
  }
  if (kind) {
    if (auto k = kChannelKinds.find(*kind)) {
      ch.kind = *k;
    } else {
      error(r.loc("kind"), "unknown channel kind '" + *kind + "'" + kDash +
                               suggest(*kind, kChannelKinds.names()) +
                               "use one of: " + join(kChannelKinds.names()));
      ok = false;
    }
  }
  for (const auto& c : creds) {
    if (c.value && !valid_id(*c.value)) {
      error(r.loc(c.key),
            std::string(c.key) + " '" + *c.value + "' is not a credential name" + kDash +
                "name the credential file: 1-64 ASCII letters, digits, '.', '_' or '-'");
      ok = false;
    }
  }
  if (ca_file) {
    // A private CA (an intranet mail server or gateway): PEM, relative to this file's folder.
    const fs::path base = fs::path(path_).parent_path();
    ch.ca_file = fs::path(*ca_file).is_absolute() ? *ca_file : (base / *ca_file).string();
    std::error_code ec;
    if (!fs::is_regular_file(ch.ca_file, ec)) {
      error(r.loc("ca_file"),
            "ca_file '" + ch.ca_file + "' is not a readable file" + kDash +
                "give the PEM file of the CA that signed the server's certificate, or "
                "remove ca_file to use the system's CA store");
      ok = false;
    }
  }
  if (!ok) return;
  const bool robot = ch.kind == ChannelKind::wecom || ch.kind == ChannelKind::dingtalk ||
                     ch.kind == ChannelKind::feishu;
  // Which credentials each kind takes; the first of `required` must be given.
  std::vector<std::string_view> allowed, required;
  switch (ch.kind) {
    case ChannelKind::email:
      allowed = {"password_credential"};
      break;
    case ChannelKind::wecom:
      allowed = required = {"key_credential"};
      break;
    case ChannelKind::dingtalk:
    case ChannelKind::feishu:
      allowed = {"token_credential", "secret_credential"}, required = {"token_credential"};
      break;
    case ChannelKind::webhook:
      allowed = {"token_credential"};
      break;
    case ChannelKind::log:
      break;
  }
  for (const auto& c : creds) {
    if (c.value && !contains(allowed, c.key)) {
      error(r.loc(c.key), "'" + std::string(c.key) + "' does not apply to a " + *kind + " channel" +
                              kDash +
                              (allowed.empty() ? std::string("remove it; this kind needs no secret")
                                               : "remove it; this kind takes " + join(allowed)));
      ok = false;
    } else if (c.value) {
      *c.field = *c.value;
    }
  }
  for (auto req : required)
    if (!t.get(req)) {
      error(r.loc(), "missing required key '" + std::string(req) + "' in [[channel]] of kind " +
                         *kind + kDash + "add " + std::string(req) +
                         " = \"NAME\" (the credential file)");
      ok = false;
    }
  if (url) {
    const bool smtp = url->rfind("smtp://", 0) == 0 || url->rfind("smtps://", 0) == 0;
    const bool http = url->rfind("http://", 0) == 0 || url->rfind("https://", 0) == 0;
    const auto scheme_end = url->find("://");
    const std::string rest = scheme_end == std::string::npos ? "" : url->substr(scheme_end + 3);
    const std::string authority = rest.substr(0, rest.find('/'));
    const auto query = url->find('?');
    std::string secret_param;
    if (query != std::string::npos)
      for (std::string_view name : {"key=", "access_token=", "token=", "secret=", "sign="})
        for (std::size_t at = url->find(name, query); at != std::string::npos;
             at = url->find(name, at + 1))
          if ((*url)[at - 1] == '?' || (*url)[at - 1] == '&') secret_param = std::string(name);
    if (ch.kind == ChannelKind::log) {
      error(r.loc("url"), "a log channel has no url" + std::string(kDash) + "remove url");
      ok = false;
    } else if (ch.kind == ChannelKind::email && !smtp) {
      error(r.loc("url"),
            "url '" + *url + "' is not an SMTP address" + std::string(kDash) +
                "write smtp://HOST:587 (STARTTLS) or smtps://HOST:465 (implicit TLS)");
      ok = false;
    } else if (ch.kind != ChannelKind::email && !http) {
      error(r.loc("url"), "url '" + *url + "' is not an http(s) address" + std::string(kDash) +
                              "write the robot's or receiver's https:// address");
      ok = false;
    } else if (authority.find('@') != std::string::npos &&
               authority.substr(0, authority.find('@')).find(':') != std::string::npos) {
      error(r.loc("url"),
            "the url carries a password" + std::string(kDash) +
                "remove it from the url, give username = \"...\" and store the password "
                "in a credential file named by password_credential");
      ok = false;
    } else if (!secret_param.empty()) {
      error(r.loc("url"),
            "the url carries a secret (" + secret_param + "...)" + kDash +
                "remove it from the url and store it in a credential file named by " +
                (ch.kind == ChannelKind::wecom ? "key_credential" : "token_credential"));
      ok = false;
    } else {
      ch.url = *url;
    }
  } else if (ch.kind == ChannelKind::email || ch.kind == ChannelKind::webhook) {
    error(r.loc(),
          "missing required key 'url' in [[channel]] of kind " + *kind + kDash +
              (ch.kind == ChannelKind::email ? "add url = \"smtp://mail.example.gov.cn:587\""
                                             : "add url = \"https://...\""));
    ok = false;
  } else if (ch.kind == ChannelKind::wecom) {
    ch.url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send";
  } else if (ch.kind == ChannelKind::dingtalk) {
    ch.url = "https://oapi.dingtalk.com/robot/send";
  } else if (ch.kind == ChannelKind::feishu) {
    ch.url = "https://open.feishu.cn/open-apis/bot/v2/hook";
  }
  if (ch.kind == ChannelKind::email) {
    if (!from) {
      error(r.loc(), "missing required key 'from' in [[channel]] of kind email" +
                         std::string(kDash) + "add from = \"dutyd@example.gov.cn\"");
      ok = false;
    } else if (from->find('@') == std::string::npos || from->find(' ') != std::string::npos) {
      error(r.loc("from"), "'" + *from + "' is not an e-mail address" + std::string(kDash) +
                               "write from = \"dutyd@example.gov.cn\"");
      ok = false;
    } else {
      ch.from = *from;
    }
    if (username) ch.username = *username;
    if (orgs) {
      error(r.loc("orgs"),
            "an e-mail channel has no orgs: e-mail goes to each person's own address" +
                std::string(kDash) + "remove orgs");
      ok = false;
    }
  } else {
    for (const char* key : {"from", "username"})
      if (t.get(key)) {
        error(r.loc(key), "'" + std::string(key) + "' applies only to e-mail channels" +
                              std::string(kDash) + "remove it");
        ok = false;
      }
    if (orgs) {
      if (orgs->empty() && robot) {
        error(r.loc("orgs"), "the robot carries no organisation's messages" + std::string(kDash) +
                                 "list the organisations of its group, e.g. orgs = [\"dl\"]");
        ok = false;
      }
      spec.orgs = std::move(*orgs);
    } else if (robot) {
      error(r.loc(),
            "missing required key 'orgs' in [[channel]] of kind " + *kind + kDash +
                "list the organisations whose messages this group carries, e.g. orgs = [\"dl\"]");
      ok = false;
    } else {
      ch.all_orgs = true;
    }
  }
  if (!ok) return;
  ch.id = *id;
  part_.channels.push_back(std::move(spec));
}

void FileReader::read_ladder_for(const toml::table& t) {
  TableReader r(*this, file_, t, "[[ladder_for]]");
  auto kind = r.string("kind", true);
  auto ladder = r.string("ladder", true);
  r.finish({"kind", "ladder"});
  if (!kind || !ladder) return;
  LadderForSpec spec;
  spec.loc = r.loc();
  spec.kind = {*kind, r.loc("kind")};
  spec.ladder = {*ladder, r.loc("ladder")};
  const std::string base_kind = kind->substr(0, kind->find(':'));
  if (!kKinds.find(base_kind)) {
    error(spec.kind.loc, "unknown kind '" + base_kind + "' in [[ladder_for]]" + kDash +
                             suggest(base_kind, kKinds.names()) +
                             "use kind or kind:subtype with kind one of: " + join(kKinds.names()));
    return;
  }
  auto sel = selectors(*this, {spec.kind});
  if (!sel) return;
  spec.selector = sel->front();
  part_.ladders_for_kinds.push_back(std::move(spec));
}

void FileReader::read_reminders(const toml::table& t, const fs::path& base) {
  TableReader r(*this, file_, t, "[reminders]");
  RemindersSpec spec;
  spec.loc = r.loc();
  auto quiet = r.string("quiet_hours");
  auto holidays = r.strings("holidays");
  auto alert = r.string("alert_channel");
  auto emails = r.strings("alert_emails");
  auto templates = r.string("templates");
  r.finish({"quiet_hours", "holidays", "alert_channel", "alert_emails", "templates"});
  try {
    if (quiet) spec.settings.quiet = parse_quiet_hours(*quiet);
  } catch (const std::invalid_argument& e) {
    error(r.loc("quiet_hours"), e.what());
  }
  if (holidays) {
    for (const StringAt& h : *holidays) {
      const std::string ext = fs::path(h.value).extension().string();
      if (ext != ".toml" && ext != ".ics") {
        error(h.loc,
              "holiday file '" + h.value + "' is neither .toml nor .ics" + std::string(kDash) +
                  "give TOML files in the format of notifiers/holidays/README.md or iCalendar "
                  "(.ics) exports");
        continue;
      }
      const std::string path =
          fs::path(h.value).is_absolute() ? h.value : (base / h.value).string();
      spec.holidays.push_back({path, h.loc});
    }
  }
  if (templates) {
    if (fs::path(*templates).extension() != ".toml")
      error(r.loc("templates"), "templates file '" + *templates + "' is not a .toml file" +
                                    std::string(kDash) +
                                    "give a TOML file with a [templates] table (config/README.md)");
    else
      spec.templates =
          StringAt{fs::path(*templates).is_absolute() ? *templates : (base / *templates).string(),
                   r.loc("templates")};
  }
  if (alert) spec.alert_channel = StringAt{*alert, r.loc("alert_channel")};
  if (emails)
    for (const StringAt& e : *emails) {
      if (e.value.find('@') == std::string::npos || e.value.find(' ') != std::string::npos)
        error(e.loc, "'" + e.value + "' is not an e-mail address" + std::string(kDash) +
                         "write the administrators' addresses, e.g. \"ops@example.gov.cn\"");
      else
        spec.settings.alert_emails.push_back(e.value);
    }
  part_.reminders = std::move(spec);
}

// Ladders, channels and [reminders] across files: the shipped default ladder when none is
// configured, ladder and channel references, robots' organisations, holiday globs.
void Loader::resolve_reminders() {
  if (!cfg_.ladder_index.count("default")) {
    cfg_.ladder_index.emplace("default", static_cast<std::int32_t>(cfg_.ladders.size()));
    cfg_.ladders.push_back(default_ladder());
    ladder_specs_.push_back(nullptr);
  }
  std::vector<std::string_view> org_ids;
  auto org_suggestion = [&](const std::string& id) {
    if (org_ids.empty())
      for (const Org& o : cfg_.orgs) org_ids.push_back(o.id);
    return suggest(id, org_ids);
  };
  for (std::size_t i = 0; i < cfg_.channels.size(); ++i) {
    Channel& ch = cfg_.channels[i];
    for (const StringAt& o : channel_specs_[i]->orgs) {
      auto it = cfg_.org_index.find(o.value);
      if (it == cfg_.org_index.end())
        error(o.loc, "unknown org '" + o.value + "' in orgs of channel '" + ch.id + "'" + kDash +
                         org_suggestion(o.value) + "define it with [[org]] or correct the id");
      else if (std::find(ch.orgs.begin(), ch.orgs.end(), it->second) == ch.orgs.end())
        ch.orgs.push_back(it->second);
    }
  }
  std::vector<std::string_view> ladder_ids;
  for (const Ladder& l : cfg_.ladders) ladder_ids.push_back(l.id);
  for (const LadderForSpec* spec : ladder_for_specs_) {
    auto it = cfg_.ladder_index.find(spec->ladder.value);
    if (it == cfg_.ladder_index.end()) {
      error(spec->ladder.loc, "unknown ladder '" + spec->ladder.value + "'" + kDash +
                                  suggest(spec->ladder.value, ladder_ids) +
                                  "define it with [[ladder]] or use one of: " + join(ladder_ids));
      continue;
    }
    const auto same = std::find_if(cfg_.ladders_for_kinds.begin(), cfg_.ladders_for_kinds.end(),
                                   [&](const LadderForKind& k) {
                                     return k.selector.kind == spec->selector.kind &&
                                            k.selector.subtype == spec->selector.subtype;
                                   });
    if (same != cfg_.ladders_for_kinds.end()) {
      error(spec->kind.loc, "a ladder for '" + spec->kind.value + "' is already chosen at " +
                                cfg_.files[same->loc.file] + ":" + std::to_string(same->loc.line) +
                                kDash + "keep one [[ladder_for]] per kind");
      continue;
    }
    cfg_.ladders_for_kinds.push_back({spec->selector, it->second, spec->loc});
  }
  // Every `via` of a configured ladder names a way to send.
  const std::vector<std::string_view> kinds = kChannelKinds.names();
  std::vector<std::string_view> via_words{"email", "chat"};
  for (auto k : kinds)
    if (k != "email") via_words.push_back(k);
  for (const Channel& ch : cfg_.channels) via_words.push_back(ch.id);
  for (std::size_t li = 0; li < cfg_.ladders.size(); ++li) {
    const LadderSpec* spec = ladder_specs_[li];
    if (!spec) continue;
    const Ladder& l = cfg_.ladders[li];
    for (std::size_t si = 0; si < l.steps.size(); ++si) {
      for (std::size_t vi = 0; vi < l.steps[si].via.size(); ++vi) {
        const std::string& v = l.steps[si].via[vi];
        const SourceLoc at = spec->via_locs[si][vi];
        const auto kind = kChannelKinds.find(v);
        if (v == "chat" || kind) {
          const bool any = std::any_of(
              cfg_.channels.begin(), cfg_.channels.end(),
              [&](const Channel& c) { return v == "chat" ? c.chat() : c.kind == *kind; });
          if (!any)
            warning(at, "ladder '" + l.id + "' sends via " + v + " but no [[channel]] of " +
                            (v == "chat" ? std::string("a chat kind") : "kind " + v) +
                            " is configured" + kDash +
                            "this step sends nothing that way; add a "
                            "[[channel]] or remove '" +
                            v + "'");
        } else if (!cfg_.channel_index.count(v)) {
          error(at, "unknown channel '" + v + "' in via of ladder '" + l.id + "'" + kDash +
                        suggest(v, via_words) +
                        "use \"email\", \"chat\", a channel kind or the id of a [[channel]]");
        }
      }
    }
  }
  if (!reminders_) return;
  ReminderSettings& rs = cfg_.reminders;
  rs = reminders_->settings;
  if (const auto& a = reminders_->alert_channel) {
    auto it = cfg_.channel_index.find(a->value);
    if (it == cfg_.channel_index.end()) {
      std::vector<std::string_view> ids;
      for (const Channel& ch : cfg_.channels) ids.push_back(ch.id);
      error(a->loc, "unknown channel '" + a->value + "' as alert_channel" + kDash +
                        suggest(a->value, ids) +
                        "name the [[channel]] that reaches the administrators");
    } else {
      rs.alert_channel = it->second;
      if (cfg_.channels[static_cast<std::size_t>(it->second)].kind == ChannelKind::email &&
          rs.alert_emails.empty())
        error(a->loc, "alert_channel '" + a->value +
                          "' is an e-mail channel but no address is given" + kDash +
                          "add alert_emails = [\"ops@example.gov.cn\"]");
    }
  }
  for (const StringAt& h : reminders_->holidays) {
    glob_t g{};
    std::vector<std::string> matches;
    if (::glob(h.value.c_str(), GLOB_ERR, nullptr, &g) == 0)
      for (std::size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
    ::globfree(&g);
    std::sort(matches.begin(), matches.end());
    if (matches.empty()) {
      const bool wildcard = h.value.find_first_of("*?[") != std::string::npos;
      report(wildcard ? Severity::warning : Severity::error, h.loc,
             "holiday file '" + h.value + "' matches no file" + kDash +
                 (wildcard ? "only the shipped holiday data is used" : "check the path"));
    }
    for (auto& m : matches) rs.holiday_files.push_back(std::move(m));
  }
  // Its contents are checked where they are read (load_templates), with their own positions.
  if (const auto& t = reminders_->templates) {
    std::error_code ec;
    if (fs::is_regular_file(t->value, ec))
      rs.templates_file = t->value;
    else
      error(t->loc, "templates file '" + t->value + "' does not exist" + kDash +
                        "check the path (relative to this file's folder)");
  }
}

}  // namespace dutyd::detail
