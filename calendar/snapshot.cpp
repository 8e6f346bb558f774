#include "calendar/snapshot.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <type_traits>

#include "base/crypto.hpp"
#include "base/parallel.hpp"

namespace dutyd {

std::uint64_t uid_hash(std::string_view uid) {
  // FNV-1a, 64 bit: an index key only; every hit is confirmed by comparing the UID itself.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : uid) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::uint64_t uid_hash(const Expander& expander, const Occurrence& o) {
  std::uint64_t h = 1469598103934665603ull;
  expander.write_uid(o, [&](std::string_view piece) {
    for (unsigned char c : piece) {
      h ^= c;
      h *= 1099511628211ull;
    }
  });
  return h;
}

namespace {

// Order-dependent 64-bit hash of a sequence of numbers and strings (a splitmix64 step per
// value; strings carry their length). Not cryptographic: it only compares one organisation's
// inputs with the same organisation's inputs in the previous configuration.
class InputHash {
 public:
  template <typename T>
  void num(T v) {
    static_assert(std::is_integral_v<T> || std::is_enum_v<T>);
    step(static_cast<std::uint64_t>(v));
  }
  void str(std::string_view s) {
    step(s.size());
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      step(w);
    }
    if (i < s.size()) {
      std::uint64_t w = 0;
      std::memcpy(&w, s.data() + i, s.size() - i);
      step(w);
    }
  }
  std::uint64_t value() const { return h_; }

 private:
  static std::uint64_t mix(std::uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  }
  void step(std::uint64_t v) { h_ = mix(h_ ^ mix(v + 0x9E3779B97F4A7C15ull)); }
  std::uint64_t h_ = 0;
};

// What every organisation's expansion reads from the obligations, and the horizon.
std::uint64_t global_inputs(const Config& c, Day from, Day to) {
  InputHash h;
  h.num(from);
  h.num(to);
  h.num(c.obligations.size());
  for (const Obligation& o : c.obligations) {
    h.str(o.id);
    h.str(o.rrule);
    h.num(o.window_start ? o.window_start->month * 100 + o.window_start->day : 0u);
    h.num(o.period);
    h.num(o.actor);
    h.num(o.applies_to.size());
    for (const OrgSelector& s : o.applies_to) {
      h.num(s.kind);
      h.str(s.subtype);
    }
    h.num(o.levels);
    h.num(o.counterparts);
    h.num(o.disabled);
    h.str(o.event);
    h.num(o.deadline_days);
    h.num(o.min_count);
  }
  return h.value();
}

// Everything one organisation's expansion reads besides the obligations (expand.cpp):
// - the organisation's kind, subtype and level (which obligations apply) and its discipline
//   organ (excluded from its subordinates);
// - its principal posts (holder, predecessors, vacancy) and member posts (member duties, and
//   the team members a principal talks with), with the units members are in charge of;
// - the leaders of those units (第八条第（五）项: principal and member posts);
// - its directly subordinate organisations, which depend on the children's kinds and on this
//   organisation's discipline organ (第六条第（十五）项), with their principal posts
//   (第七条第（八）项);
// - its events.
// Persons, organisations and obligations enter by id, never by index; lists keep their order
// (it decides which organisation a counterpart met twice is attributed to).
std::uint64_t org_inputs(const Expander& ex, std::int32_t org) {
  const Config& c = ex.config();
  auto org_id = [&](std::int32_t i) -> std::string_view {
    return i >= 0 ? std::string_view(c.orgs[static_cast<std::size_t>(i)].id) : std::string_view();
  };
  auto person_id = [&](std::int32_t i) -> std::string_view {
    return i >= 0 ? std::string_view(c.persons[static_cast<std::size_t>(i)].id)
                  : std::string_view();
  };
  InputHash h;
  auto posts = [&](const std::vector<std::int32_t>& list, bool with_units) {
    h.num(list.size());
    for (std::int32_t pi : list) {
      const Post& p = c.posts[static_cast<std::size_t>(pi)];
      h.str(person_id(p.person));
      h.num(p.from);
      h.num(p.until);
      if (!with_units) continue;
      h.num(p.in_charge_of.size());
      for (std::int32_t u : p.in_charge_of) h.str(org_id(u));
    }
  };
  const Org& o = c.orgs[static_cast<std::size_t>(org)];
  h.str(o.id);
  h.num(o.kind);
  h.str(o.subtype);
  h.num(o.level);
  h.str(org_id(o.discipline_organ));
  posts(ex.principal_posts(org), true);
  posts(ex.member_posts(org), true);
  for (std::int32_t pi : ex.member_posts(org))
    for (std::int32_t unit : c.posts[static_cast<std::size_t>(pi)].in_charge_of) {
      posts(ex.principal_posts(unit), false);
      posts(ex.member_posts(unit), false);
    }
  h.num(ex.subordinates(org).size());
  for (std::int32_t sub : ex.subordinates(org)) {
    h.str(org_id(sub));
    posts(ex.principal_posts(sub), false);
  }
  h.num(ex.org_events(org).size());
  for (std::int32_t ei : ex.org_events(org)) {
    const Event& ev = c.events[static_cast<std::size_t>(ei)];
    h.str(c.obligations[static_cast<std::size_t>(ev.obligation)].id);
    h.num(ev.date);
    h.str(person_id(ev.person));
    h.str(ev.note);
  }
  return h.value();
}

// Exactly the digest the store has always kept: SHA-256 over (uid hash, person id hash, window
// start, due) records sorted by uid hash.
std::string block_digest(const OrgBlock& b, const std::vector<std::uint64_t>& person_hash) {
  struct Record {
    std::uint64_t uid, person;
    std::int32_t window, due;
  };
  const auto& occ = b.expansion.occurrences;
  thread_local std::vector<Record> records;  // scratch, reused for every organisation
  records.clear();
  for (std::size_t k = 0; k < occ.size(); ++k)
    records.push_back(
        {b.uid_hashes[k],
         occ[k].person >= 0 ? person_hash[static_cast<std::size_t>(occ[k].person)] : 0,
         occ[k].window_start, occ[k].due});
  std::sort(records.begin(), records.end(),
            [](const Record& x, const Record& y) { return x.uid < y.uid; });
  thread_local std::string bytes;
  bytes.clear();
  for (const Record& r : records) {
    bytes.append(reinterpret_cast<const char*>(&r.uid), 8);
    bytes.append(reinterpret_cast<const char*>(&r.person), 8);
    bytes.append(reinterpret_cast<const char*>(&r.window), 4);
    bytes.append(reinterpret_cast<const char*>(&r.due), 4);
  }
  return sha256_hex(bytes);
}

void set_max_indices(OrgBlock& b) {
  b.max_person = b.max_org = -1;
  for (const Occurrence& o : b.expansion.occurrences) {
    b.max_person = std::max({b.max_person, o.person, o.member, o.counterpart_person});
    b.max_org = std::max({b.max_org, o.org, o.counterpart_org});
  }
  for (std::int32_t p : b.expansion.predecessor_pool) b.max_person = std::max(b.max_person, p);
}

// Translation of the previous configuration's person or organisation indices into the new
// one's, by id.
struct IndexMap {
  std::int32_t same = 0;             // indices below this name the same id in both
  std::vector<std::int32_t> to_new;  // for the others: the new index, or -1 when the id is gone
  std::int32_t operator()(std::int32_t i) const {
    return i < same ? i : to_new[static_cast<std::size_t>(i)];
  }
};

template <typename Item>
IndexMap index_map(const std::vector<Item>& before, const std::vector<Item>& after,
                   const std::unordered_map<std::string, std::int32_t>& after_index) {
  IndexMap m;
  const std::size_t common = std::min(before.size(), after.size());
  std::size_t same = 0;
  while (same < common && before[same].id == after[same].id) ++same;
  m.same = static_cast<std::int32_t>(same);
  if (same == before.size()) return m;
  m.to_new.assign(before.size(), -1);
  for (std::size_t i = same; i < before.size(); ++i)
    if (auto it = after_index.find(before[i].id); it != after_index.end()) m.to_new[i] = it->second;
  return m;
}

// A copy of `old` with the new configuration's indices, re-sorted (occurrence_order compares
// indices); nullptr when something it refers to has no counterpart (cannot happen while the
// inputs signature matches, but then expanding again is the safe answer).
std::shared_ptr<const OrgBlock> remap_block(const OrgBlock& old, const IndexMap& persons,
                                            const IndexMap& orgs,
                                            const std::vector<std::int32_t>& old_events,
                                            const std::vector<std::int32_t>& new_events) {
  bool ok = true;
  auto person = [&](std::int32_t i) {
    const std::int32_t n = i < 0 ? i : persons(i);
    ok = ok && (i < 0 || n >= 0);
    return n;
  };
  auto org = [&](std::int32_t i) {
    const std::int32_t n = i < 0 ? i : orgs(i);
    ok = ok && (i < 0 || n >= 0);
    return n;
  };
  auto event = [&](std::int32_t i) {
    if (i < 0) return i;
    // The signature covers the organisation's events in order: the k-th stays the k-th.
    const auto k = std::find(old_events.begin(), old_events.end(), i) - old_events.begin();
    if (static_cast<std::size_t>(k) >= new_events.size()) {
      ok = false;
      return -1;
    }
    return new_events[static_cast<std::size_t>(k)];
  };
  const auto& occ = old.expansion.occurrences;
  std::vector<std::uint32_t> order(occ.size());
  std::iota(order.begin(), order.end(), 0u);
  auto b = std::make_shared<OrgBlock>();
  b->expansion.occurrences.reserve(occ.size());
  for (Occurrence o : occ) {
    o.person = person(o.person);
    o.member = person(o.member);
    o.counterpart_person = person(o.counterpart_person);
    o.org = org(o.org);
    o.counterpart_org = org(o.counterpart_org);
    o.event = event(o.event);
    b->expansion.occurrences.push_back(o);
  }
  b->expansion.predecessor_pool.reserve(old.expansion.predecessor_pool.size());
  for (std::int32_t p : old.expansion.predecessor_pool)
    b->expansion.predecessor_pool.push_back(person(p));
  if (!ok) return nullptr;
  const auto& fresh = b->expansion.occurrences;
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t x, std::uint32_t y) { return occurrence_order(fresh[x], fresh[y]); });
  std::vector<Occurrence> sorted;
  sorted.reserve(order.size());
  b->uid_hashes.reserve(order.size());
  for (std::uint32_t k : order) {
    sorted.push_back(fresh[k]);
    b->uid_hashes.push_back(old.uid_hashes[k]);
  }
  b->expansion.occurrences = std::move(sorted);
  b->digest = old.digest;
  b->inputs = old.inputs;
  set_max_indices(*b);
  return b;
}

// "2027-01-31" appended without snprintf (the store's bodies hold millions of dates).
void append_day(std::string& out, Day d) {
  const Civil c = civil(d);
  char buf[10];
  const auto y = static_cast<unsigned>(c.year);
  buf[0] = static_cast<char>('0' + y / 1000 % 10);
  buf[1] = static_cast<char>('0' + y / 100 % 10);
  buf[2] = static_cast<char>('0' + y / 10 % 10);
  buf[3] = static_cast<char>('0' + y % 10);
  buf[4] = '-';
  buf[5] = static_cast<char>('0' + c.month / 10);
  buf[6] = static_cast<char>('0' + c.month % 10);
  buf[7] = '-';
  buf[8] = static_cast<char>('0' + c.day / 10);
  buf[9] = static_cast<char>('0' + c.day % 10);
  out.append(buf, sizeof buf);
}

}  // namespace

Snapshot::Snapshot(std::shared_ptr<const Config> config, Day today, const Snapshot* previous)
    : config_(std::move(config)), expander_(*config_) {
  const Config& c = *config_;
  year_ = civil(today).year;
  from_ = make_day(year_ - c.daemon.horizon_years_back, 1, 1);
  to_ = make_day(year_ + c.daemon.horizon_years_ahead, 12, 31);
  global_inputs_ = global_inputs(c, from_, to_);
  // The rules are evaluated once for all organisations.
  const Expander::DueWindows dues = expander_.due_windows(from_, to_);
  std::vector<std::uint64_t> person_hash;
  person_hash.reserve(c.persons.size());
  for (const Person& p : c.persons) person_hash.push_back(uid_hash(p.id));

  const bool reuse = previous && previous->global_inputs_ == global_inputs_;
  IndexMap person_map, org_map;
  if (reuse) {
    person_map = index_map(previous->config().persons, c.persons, c.person_index);
    org_map = index_map(previous->config().orgs, c.orgs, c.org_index);
  }
  enum class How : std::uint8_t { built, shared, remapped };
  std::vector<How> how(c.orgs.size(), How::built);
  blocks_.resize(c.orgs.size());
  parallel_for(c.orgs.size(), [&](std::size_t i) {
    const auto org = static_cast<std::int32_t>(i);
    const std::uint64_t inputs = org_inputs(expander_, org);
    if (reuse) {
      const auto& before = previous->config().org_index;
      if (auto it = before.find(c.orgs[i].id); it != before.end()) {
        const auto& old = previous->blocks_[static_cast<std::size_t>(it->second)];
        if (old->inputs == inputs) {
          const auto& old_events = previous->expander().org_events(it->second);
          const auto& new_events = expander_.org_events(org);
          if (old->max_person < person_map.same && old->max_org < org_map.same &&
              old_events == new_events) {
            blocks_[i] = old;
            how[i] = How::shared;
            return;
          }
          if (auto copy = remap_block(*old, person_map, org_map, old_events, new_events)) {
            blocks_[i] = std::move(copy);
            how[i] = How::remapped;
            return;
          }
        }
      }
    }
    // Expanded into a per-thread scratch list whose capacity survives from one organisation
    // to the next, then copied at its exact size: blocks live as long as they stay unchanged,
    // often for many reloads, and growing 20,000 vectors showed in the profile.
    thread_local Expansion scratch;
    scratch.occurrences.clear();
    scratch.predecessor_pool.clear();
    expander_.expand_org(org, dues, from_, to_, scratch);
    auto b = std::make_shared<OrgBlock>();
    b->expansion = scratch;
    b->uid_hashes.reserve(b->expansion.occurrences.size());
    for (const Occurrence& o : b->expansion.occurrences)
      b->uid_hashes.push_back(uid_hash(expander_, o));
    b->digest = block_digest(*b, person_hash);
    b->inputs = inputs;
    set_max_indices(*b);
    blocks_[i] = std::move(b);
  });
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    count_ += blocks_[i]->expansion.occurrences.size();
    ++(how[i] == How::built    ? stats_.built
       : how[i] == How::shared ? stats_.shared
                               : stats_.remapped);
  }
}

std::optional<OccurrenceRef> Snapshot::find(const std::string& uid) const {
  // obligation/org/period[/member][/counterpart]@dutyd, and ids cannot contain '/'.
  const auto a = uid.find('/');
  const auto b = a == std::string::npos ? a : uid.find('/', a + 1);
  if (b == std::string::npos) return std::nullopt;
  const auto it = config_->org_index.find(uid.substr(a + 1, b - a - 1));
  if (it == config_->org_index.end()) return std::nullopt;
  const OrgBlock& blk = block(it->second);
  const std::uint64_t h = uid_hash(uid);
  for (std::size_t k = 0; k < blk.uid_hashes.size(); ++k)
    if (blk.uid_hashes[k] == h && expander_.uid(blk.expansion.occurrences[k]) == uid)
      return OccurrenceRef{&blk.expansion.occurrences[k], &blk.expansion};
  return std::nullopt;
}

Expansion Snapshot::for_person(std::int32_t person) const {
  Expansion out;
  for (std::int32_t org : expander_.person_orgs(person)) {
    const Expansion& e = block(org).expansion;
    for (const Occurrence& o : e.occurrences) {
      const auto preds = e.predecessors(o);
      if (o.person != person && std::find(preds.begin(), preds.end(), person) == preds.end())
        continue;
      Occurrence copy = o;
      copy.predecessors_at = static_cast<std::uint32_t>(out.predecessor_pool.size());
      out.predecessor_pool.insert(out.predecessor_pool.end(), preds.begin(), preds.end());
      out.occurrences.push_back(copy);
    }
  }
  std::sort(out.occurrences.begin(), out.occurrences.end(), occurrence_order);
  return out;
}

std::string Snapshot::org_body(std::int32_t org) const {
  const auto& occ = block(org).expansion.occurrences;
  std::string text;
  text.reserve(occ.size() * 72);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> lines;  // offset and length in text
  lines.reserve(occ.size());
  for (const Occurrence& o : occ) {
    const std::size_t start = text.size();
    expander_.write_uid(o, [&](std::string_view piece) { text += piece; });
    text += '\t';
    if (o.person >= 0) text += config_->persons[static_cast<std::size_t>(o.person)].id;
    text += '\t';
    append_day(text, o.window_start);
    text += '\t';
    append_day(text, o.due);
    text += '\n';
    lines.emplace_back(static_cast<std::uint32_t>(start),
                       static_cast<std::uint32_t>(text.size() - start));
  }
  auto line = [&](const std::pair<std::uint32_t, std::uint32_t>& l) {
    return std::string_view(text).substr(l.first, l.second);
  };
  std::sort(lines.begin(), lines.end(),
            [&](const auto& x, const auto& y) { return line(x) < line(y); });
  std::string body;
  body.reserve(text.size());
  for (const auto& l : lines) body += line(l);
  return body;
}

}  // namespace dutyd
