// [[org]], [[person]], [[post]] and [[event]]: read from one file, then resolved across files
// (parents, discipline organs, posts over time, events' obligations, orgs and persons).
#include "config/loader_internal.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

namespace dutyd::detail {

void FileReader::read_org(const toml::table& t) {
  TableReader r(*this, file_, t, "[[org]]");
  Org org;
  OrgRefs refs;
  org.loc = r.loc();
  auto id = r.string("id", true);
  refs.id_loc = r.loc("id");
  auto name = r.string("name", true);
  auto kind = r.string("kind", true);
  auto level = r.string("level", true);
  auto parent = r.string("parent");
  auto disc = r.string("discipline_organ");
  auto group = r.string("group");
  auto department = r.string("department");
  r.finish({"id", "name", "kind", "level", "parent", "discipline_organ", "group", "department"});
  if (id && !valid_id(*id)) {
    error(refs.id_loc, "org id '" + *id + "' is not usable" + kDash + kIdRule);
    id.reset();
  }
  if (kind) {
    if (auto k = kKinds.find(*kind)) {
      org.kind = *k;
    } else {
      error(r.loc("kind"), "unknown kind '" + *kind + "'" + kDash + suggest(*kind, kKinds.names()) +
                               "use one of: " + join(kKinds.names()));
    }
  }
  if (level) {
    if (auto l = kLevels.find(*level))
      org.level = *l;
    else
      error(r.loc("level"), "unknown level '" + *level + "'" + kDash +
                                suggest(*level, kLevels.names()) +
                                "use one of: " + join(kLevels.names()));
  }
  if (kind && kKinds.find(*kind)) {
    const bool pg = org.kind == OrgKind::party_group, lg = org.kind == OrgKind::leading_group;
    if (group && !pg && !lg)
      error(r.loc("group"), "'group' applies only to party-group and leading-group orgs" +
                                std::string(kDash) + "remove it or correct the kind");
    if (department && org.kind != OrgKind::department)
      error(r.loc("department"), "'department' applies only to orgs of kind department" +
                                     std::string(kDash) + "remove it or set kind = \"department\"");
    if (pg || lg) {
      const auto& allowed = pg ? kPartyGroups : kLeadingGroups;
      if (!group)
        error(r.loc(), std::string("missing required key 'group' in [[org]] of kind ") +
                           to_string(org.kind) + kDash + "add group = one of: " + join(allowed));
      else if (!contains(allowed, *group))
        error(r.loc("group"), "unknown group '" + *group + "'" + kDash + suggest(*group, allowed) +
                                  "use one of: " + join(allowed));
      else
        org.subtype = *group;
    }
    if (org.kind == OrgKind::department) {
      if (!department)
        error(r.loc(), "missing required key 'department' in [[org]] of kind department" +
                           std::string(kDash) + "add department = one of: " + join(kDepartments));
      else if (!contains(kDepartments, *department))
        error(r.loc("department"), "unknown department '" + *department + "'" + kDash +
                                       suggest(*department, kDepartments) +
                                       "use one of: " + join(kDepartments));
      else
        org.subtype = *department;
    }
  }
  if (parent) refs.parent = {*parent, r.loc("parent")};
  if (disc) refs.discipline = {*disc, r.loc("discipline_organ")};
  if (!id || !name) return;
  org.id = *id;
  org.name = *name;
  part_.orgs.push_back(std::move(org));
  part_.org_refs.push_back(std::move(refs));
}

void FileReader::read_person(const toml::table& t) {
  TableReader r(*this, file_, t, "[[person]]");
  Person p;
  p.loc = r.loc();
  auto id = r.string("id", true);
  auto name = r.string("name", true);
  for (auto [key, field] : {std::pair{"email", &p.email},
                            {"mobile", &p.mobile},
                            {"wecom", &p.wecom},
                            {"dingtalk", &p.dingtalk},
                            {"feishu", &p.feishu}})
    if (auto v = r.string(key)) *field = *v;
  r.finish({"id", "name", "email", "mobile", "wecom", "dingtalk", "feishu"});
  if (!p.email.empty() &&
      (p.email.find('@') == std::string::npos || p.email.find(' ') != std::string::npos))
    error(r.loc("email"), "'" + p.email + "' is not an e-mail address" + std::string(kDash) +
                              "write email = \"name@example.gov.cn\" or leave it out");
  if (!id || !name) return;
  if (!valid_id(*id)) {
    error(r.loc("id"), "person id '" + *id + "' is not usable" + kDash + kIdRule);
    return;
  }
  p.id = *id;
  p.name = *name;
  part_.persons.push_back(std::move(p));
  part_.person_id_locs.push_back(r.loc("id"));
}

void FileReader::read_post(const toml::table& t) {
  TableReader r(*this, file_, t, "[[post]]");
  Post post;
  PostRefs refs;
  post.loc = r.loc();
  auto person = r.string("person", true);
  auto org = r.string("org", true);
  auto role = r.string("role", true);
  auto from = r.date("from", true);
  auto until = r.date("until");
  auto in_charge = r.strings("in_charge_of");
  r.finish({"person", "org", "role", "from", "until", "in_charge_of"});
  refs.from_loc = r.loc("from");
  refs.until_loc = r.loc("until");
  refs.in_charge_loc = r.loc("in_charge_of");
  bool ok = person && org && role && from;
  if (role) {
    if (auto ro = kRoles.find(*role)) {
      post.role = *ro;
    } else {
      error(r.loc("role"), "unknown role '" + *role + "'" + kDash + suggest(*role, kRoles.names()) +
                               "use \"principal\" (主要负责人) or \"member\" (其他成员)");
      ok = false;
    }
  }
  if (from) post.from = *from;
  if (until) post.until = *until;
  if (from && until && *until < *from) {
    error(refs.until_loc, "'until' " + format_day(*until) + " is before 'from' " +
                              format_day(*from) + kDash +
                              "swap them or correct the dates (until is the last day in post)");
    ok = false;
  }
  if (!ok) return;
  refs.person = {*person, r.loc("person")};
  refs.org = {*org, r.loc("org")};
  if (in_charge) refs.in_charge_of = std::move(*in_charge), refs.has_in_charge = true;
  part_.posts.push_back(std::move(post));
  part_.post_refs.push_back(std::move(refs));
}

void FileReader::read_event(const toml::table& t) {
  TableReader r(*this, file_, t, "[[event]]");
  Event ev;
  EventRefs refs;
  ev.loc = r.loc();
  auto obligation = r.string("obligation", true);
  auto org = r.string("org", true);
  auto person = r.string("person");
  auto date = r.date("date", true);
  auto note = r.string("note");
  r.finish({"obligation", "org", "person", "date", "note"});
  if (!obligation || !org || !date) return;
  refs.obligation = {*obligation, r.loc("obligation")};
  refs.org = {*org, r.loc("org")};
  if (person) refs.person = {*person, r.loc("person")};
  ev.date = *date;
  if (note) ev.note = *note;
  part_.events.push_back(std::move(ev));
  part_.event_refs.push_back(std::move(refs));
}

// ---- cross-references and time ------------------------------------------------------------

void Loader::resolve_orgs() {
  for (std::size_t i = 0; i < cfg_.orgs.size(); ++i) {
    Org& org = cfg_.orgs[i];
    const OrgRefs& refs = *org_refs_[i];
    if (!refs.parent.value.empty()) {
      if (auto p = cfg_.find_org(refs.parent.value)) {
        org.parent = cfg_.org_index[refs.parent.value];
        (void)p;
      } else {
        error(refs.parent.loc, "unknown org '" + refs.parent.value + "' as parent of '" + org.id +
                                   "'" + kDash + suggest(refs.parent.value, {}) +
                                   "define it with [[org]] or correct the id");
      }
    }
    if (!refs.discipline.value.empty()) {
      if (auto d = cfg_.find_org(refs.discipline.value)) {
        if (d->kind != OrgKind::discipline_inspection)
          error(refs.discipline.loc, "discipline_organ '" + d->id + "' is a " + to_string(d->kind) +
                                         ", not a discipline-inspection org" + kDash +
                                         "point it at the same-level 纪检监察机关");
        else
          org.discipline_organ = cfg_.org_index[refs.discipline.value];
      } else {
        error(refs.discipline.loc, "unknown org '" + refs.discipline.value +
                                       "' as discipline_organ of '" + org.id + "'" + kDash +
                                       "define the discipline inspection organ with [[org]]");
      }
    }
  }
  // Cycles in parent: walk each chain with colours (0 new, 1 on the current path, 2 done).
  std::vector<std::uint8_t> colour(cfg_.orgs.size(), 0);
  for (std::size_t start = 0; start < cfg_.orgs.size(); ++start) {
    std::vector<std::int32_t> path;
    std::int32_t cur = static_cast<std::int32_t>(start);
    while (cur >= 0 && colour[static_cast<std::size_t>(cur)] == 0) {
      colour[static_cast<std::size_t>(cur)] = 1;
      path.push_back(cur);
      cur = cfg_.orgs[static_cast<std::size_t>(cur)].parent;
    }
    if (cur >= 0 && colour[static_cast<std::size_t>(cur)] == 1) {
      auto begin = std::find(path.begin(), path.end(), cur);
      std::string chain;
      for (auto it = begin; it != path.end(); ++it)
        chain += cfg_.orgs[static_cast<std::size_t>(*it)].id + " → ";
      chain += cfg_.orgs[static_cast<std::size_t>(cur)].id;
      for (auto it = begin; it != path.end(); ++it) {
        const auto idx = static_cast<std::size_t>(*it);
        error(org_refs_[idx]->parent.loc, "cycle in parent: " + chain + kDash +
                                              "an org cannot be its own ancestor; fix one parent");
        cfg_.orgs[idx].parent = -1;  // break it so later passes terminate
      }
    }
    for (auto p : path) colour[static_cast<std::size_t>(p)] = 2;
  }
  has_children_.assign(cfg_.orgs.size(), false);
  for (const Org& org : cfg_.orgs)
    if (org.parent >= 0) has_children_[static_cast<std::size_t>(org.parent)] = true;
}

void Loader::resolve_posts() {
  std::vector<Post> kept;
  kept.reserve(cfg_.posts.size());
  for (std::size_t i = 0; i < cfg_.posts.size(); ++i) {
    Post& post = cfg_.posts[i];
    const PostRefs& refs = *post_refs_[i];
    bool ok = true;
    if (auto it = cfg_.person_index.find(refs.person.value); it != cfg_.person_index.end()) {
      post.person = it->second;
    } else {
      error(refs.person.loc, "unknown person '" + refs.person.value + "'" + kDash +
                                 "define them with [[person]] or correct the id");
      ok = false;
    }
    if (auto it = cfg_.org_index.find(refs.org.value); it != cfg_.org_index.end()) {
      post.org = it->second;
    } else {
      error(refs.org.loc, "unknown org '" + refs.org.value + "'" + kDash +
                              "define it with [[org]] or correct the id");
      ok = false;
    }
    for (const auto& u : refs.in_charge_of) {
      auto it = cfg_.org_index.find(u.value);
      if (it == cfg_.org_index.end()) {
        error(u.loc, "unknown org '" + u.value + "' in in_charge_of" + kDash +
                         "define it with [[org]] or correct the id");
        ok = false;
      } else {
        post.in_charge_of.push_back(it->second);
      }
    }
    if (!ok) continue;
    const Person& who = cfg_.persons[static_cast<std::size_t>(post.person)];
    const Org& where = cfg_.orgs[static_cast<std::size_t>(post.org)];
    if (post.role == Role::principal && refs.has_in_charge && !refs.in_charge_of.empty())
      warning(refs.in_charge_loc, "principal " + who.id + " of '" + where.id +
                                      "' has in_charge_of, which is ignored" + kDash +
                                      "a principal leads the whole team; remove in_charge_of");
    // Only suspicious where there is something to be in charge of: members of a township
    // committee without child organisations legitimately have no 分管 units.
    if (post.role == Role::member && post.in_charge_of.empty() &&
        has_children_[static_cast<std::size_t>(post.org)])
      warning(post.loc, "member " + who.id + " of '" + where.id + "' is in charge of nothing" +
                            kDash + "list the units they are in charge of (分管) in in_charge_of");
    kept.push_back(std::move(post));
  }
  cfg_.posts = std::move(kept);
}

void Loader::check_posts_over_time() {
  // Group post indices by org.
  std::vector<std::vector<std::size_t>> by_org(cfg_.orgs.size());
  for (std::size_t i = 0; i < cfg_.posts.size(); ++i)
    by_org[static_cast<std::size_t>(cfg_.posts[i].org)].push_back(i);
  auto range = [](const Post& p) {
    return format_day(p.from) + ".." +
           (p.until == kOpenEnd ? std::string("open") : format_day(p.until));
  };
  for (std::size_t o = 0; o < by_org.size(); ++o) {
    auto& idx = by_org[o];
    if (idx.empty()) continue;
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
      return cfg_.posts[a].from < cfg_.posts[b].from;
    });
    const Org& org = cfg_.orgs[o];
    // One principal at a time.
    const Post* last_principal = nullptr;
    Day covered_until = 0;
    bool any_principal = false;
    Day span_from = cfg_.posts[idx.front()].from, span_until = 0;
    for (std::size_t i : idx) span_until = std::max(span_until, cfg_.posts[i].until);
    for (std::size_t i : idx) {
      const Post& p = cfg_.posts[i];
      if (p.role != Role::principal) continue;
      if (last_principal && p.from <= last_principal->until) {
        error({p.loc.file, p.loc.line, p.loc.column},
              "principal posts of '" + org.id + "' overlap: " +
                  cfg_.persons[static_cast<std::size_t>(last_principal->person)].id + " " +
                  range(*last_principal) + " and " +
                  cfg_.persons[static_cast<std::size_t>(p.person)].id + " " + range(p) + kDash +
                  "end the earlier post the day before the later one starts");
      }
      const Day gap_from = any_principal ? covered_until + 1 : span_from;
      if (covered_until != kOpenEnd && p.from > gap_from)
        warning(p.loc, "'" + org.id + "' has no principal from " + format_day(gap_from) + " to " +
                           format_day(p.from - 1) + kDash +
                           "team duties due then are attributed to the team as vacant; add the "
                           "acting principal if there was one");
      if (!any_principal || p.until > covered_until) covered_until = p.until;
      any_principal = true;
      if (!last_principal || p.until > last_principal->until) last_principal = &p;
    }
    const bool team_kind = org.kind == OrgKind::party_committee ||
                           org.kind == OrgKind::working_committee ||
                           org.kind == OrgKind::party_group;
    if (!any_principal && team_kind)
      warning(org.loc, "'" + org.id + "' has posts but no principal" + std::string(kDash) +
                           "add the [[post]] with role = \"principal\"");
    else if (any_principal && covered_until != kOpenEnd && covered_until < span_until)
      warning(org.loc,
              "'" + org.id + "' has no principal from " + format_day(covered_until + 1) +
                  (span_until == kOpenEnd ? std::string(" on") : " to " + format_day(span_until)) +
                  kDash + "add the successor's [[post]] or end the members' posts");
    // One person, one post per org at a time.
    std::unordered_map<std::int32_t, const Post*> latest;
    for (std::size_t i : idx) {
      const Post& p = cfg_.posts[i];
      auto [it, fresh] = latest.emplace(p.person, &p);
      if (!fresh) {
        if (p.from <= it->second->until)
          error(p.loc, "posts of " + cfg_.persons[static_cast<std::size_t>(p.person)].id + " in '" +
                           org.id + "' overlap: " + range(*it->second) + " and " + range(p) +
                           kDash +
                           "a person holds one post per org at a time; end the first one earlier");
        if (p.until > it->second->until) it->second = &p;
      }
    }
  }
}

void Loader::resolve_events() {
  std::vector<Event> kept;
  for (std::size_t i = 0; i < cfg_.events.size(); ++i) {
    Event ev = cfg_.events[i];
    const EventRefs& refs = *event_refs_[i];
    bool ok = true;
    if (auto it = cfg_.obligation_index.find(refs.obligation.value);
        it != cfg_.obligation_index.end()) {
      ev.obligation = it->second;
      const Obligation& o = cfg_.obligations[static_cast<std::size_t>(it->second)];
      if (!o.event_triggered()) {
        error(refs.obligation.loc, "obligation '" + o.id + "' is dated, not event-triggered" +
                                       kDash +
                                       "events can only name obligations that have 'event'");
        ok = false;
      } else if (o.actor == Actor::member && refs.person.value.empty()) {
        error(ev.loc, "event for member duty '" + o.id + "' names no person" + std::string(kDash) +
                          "add person = \"...\" (the member concerned)");
        ok = false;
      }
    } else {
      error(refs.obligation.loc, "unknown obligation '" + refs.obligation.value + "'" + kDash +
                                     "see `dutyd catalogue` for the ids");
      ok = false;
    }
    if (auto it = cfg_.org_index.find(refs.org.value); it != cfg_.org_index.end())
      ev.org = it->second;
    else
      error(refs.org.loc, "unknown org '" + refs.org.value + "'" + kDash + "correct the id"),
          ok = false;
    if (!refs.person.value.empty()) {
      if (auto it = cfg_.person_index.find(refs.person.value); it != cfg_.person_index.end())
        ev.person = it->second;
      else
        error(refs.person.loc,
              "unknown person '" + refs.person.value + "'" + kDash + "correct the id"),
            ok = false;
    }
    if (ok) {
      const Obligation& o = cfg_.obligations[static_cast<std::size_t>(ev.obligation)];
      const Org& org = cfg_.orgs[static_cast<std::size_t>(ev.org)];
      if (!o.applies(org))
        warning(refs.obligation.loc, "'" + o.id + "' does not apply to '" + org.id + "' (" +
                                         to_string(org.kind) + ", " + to_string(org.level) + ")" +
                                         kDash +
                                         "check the org, or widen applies_to with [[override]]");
      // Two identical events would give two occurrences with the same UID.
      const bool duplicate = std::any_of(kept.begin(), kept.end(), [&](const Event& k) {
        return k.obligation == ev.obligation && k.org == ev.org && k.date == ev.date &&
               k.person == ev.person;
      });
      if (duplicate) {
        error(ev.loc, "duplicate event: '" + o.id + "' for '" + org.id + "' on " +
                          format_day(ev.date) + " is already recorded" + kDash +
                          "remove one of the two [[event]] tables");
        continue;
      }
      kept.push_back(std::move(ev));
    }
  }
  cfg_.events = std::move(kept);
}

}  // namespace dutyd::detail
