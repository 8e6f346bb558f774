#include "daemon/snapshot.hpp"

#include <algorithm>

#include "daemon/crypto.hpp"

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

// Builds a CSR index: for each key, the occurrence indices that belong to it.
template <typename KeysOf>
void build_csr(std::size_t keys, std::size_t items, KeysOf keys_of, std::vector<std::uint32_t>& start,
               std::vector<std::uint32_t>& out) {
  start.assign(keys + 1, 0);
  for (std::uint32_t i = 0; i < items; ++i) keys_of(i, [&](std::int32_t k) { ++start[static_cast<std::size_t>(k) + 1]; });
  for (std::size_t k = 0; k < keys; ++k) start[k + 1] += start[k];
  out.assign(start.back(), 0);
  std::vector<std::uint32_t> fill(start.begin(), start.end() - 1);
  for (std::uint32_t i = 0; i < items; ++i)
    keys_of(i, [&](std::int32_t k) { out[fill[static_cast<std::size_t>(k)]++] = i; });
}

}  // namespace

Snapshot::Snapshot(std::shared_ptr<const Config> config, Day today)
    : config_(std::move(config)), expander_(*config_) {
  year_ = civil(today).year;
  from_ = make_day(year_ - config_->daemon.horizon_years_back, 1, 1);
  to_ = make_day(year_ + config_->daemon.horizon_years_ahead, 12, 31);
  expansion_ = expander_.expand(from_, to_);
  const auto n = static_cast<std::uint32_t>(expansion_.occurrences.size());
  by_uid_hash_.reserve(n);
  uid_hashes_.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    uid_hashes_.push_back(uid_hash(expander_, expansion_.occurrences[i]));
    by_uid_hash_.emplace_back(uid_hashes_.back(), i);
  }
  std::sort(by_uid_hash_.begin(), by_uid_hash_.end());
  person_hash_.reserve(config_->persons.size());
  for (const Person& p : config_->persons) person_hash_.push_back(uid_hash(p.id));
  build_csr(config_->persons.size(), n,
            [&](std::uint32_t i, auto emit) {
              const Occurrence& o = expansion_.occurrences[i];
              if (o.person >= 0) emit(o.person);
              for (std::int32_t p : expansion_.predecessors(o))
                if (p != o.person) emit(p);
            },
            person_start_, person_items_);
  build_csr(config_->orgs.size(), n,
            [&](std::uint32_t i, auto emit) { emit(expansion_.occurrences[i].org); }, org_start_,
            org_items_);
}

std::optional<std::uint32_t> Snapshot::find(const std::string& uid) const {
  const std::uint64_t h = uid_hash(uid);
  auto it = std::lower_bound(by_uid_hash_.begin(), by_uid_hash_.end(), std::pair{h, 0u});
  for (; it != by_uid_hash_.end() && it->first == h; ++it)
    if (expander_.uid(expansion_.occurrences[it->second]) == uid) return it->second;
  return std::nullopt;
}

Expansion Snapshot::subset(const std::vector<std::uint32_t>& indices) const {
  Expansion out;
  out.occurrences.reserve(indices.size());
  for (std::uint32_t i : indices) {
    Occurrence o = expansion_.occurrences[i];
    const auto preds = expansion_.predecessors(o);
    o.predecessors_at = static_cast<std::uint32_t>(out.predecessor_pool.size());
    out.predecessor_pool.insert(out.predecessor_pool.end(), preds.begin(), preds.end());
    out.occurrences.push_back(o);
  }
  return out;
}

Expansion Snapshot::for_person(std::int32_t person) const {
  const auto p = static_cast<std::size_t>(person);
  return subset({person_items_.begin() + person_start_[p], person_items_.begin() + person_start_[p + 1]});
}

Expansion Snapshot::for_org(std::int32_t org) const {
  const auto o = static_cast<std::size_t>(org);
  return subset({org_items_.begin() + org_start_[o], org_items_.begin() + org_start_[o + 1]});
}

std::string Snapshot::org_digest(std::int32_t org) const {
  struct Record {
    std::uint64_t uid, person;
    std::int32_t window, due;
  };
  const auto o = static_cast<std::size_t>(org);
  std::vector<Record> records;
  records.reserve(org_start_[o + 1] - org_start_[o]);
  for (std::uint32_t k = org_start_[o]; k < org_start_[o + 1]; ++k) {
    const Occurrence& oc = expansion_.occurrences[org_items_[k]];
    records.push_back({uid_hashes_[org_items_[k]],
                       oc.person >= 0 ? person_hash_[static_cast<std::size_t>(oc.person)] : 0,
                       oc.window_start, oc.due});
  }
  std::sort(records.begin(), records.end(),
            [](const Record& a, const Record& b) { return a.uid < b.uid; });
  std::string bytes;
  bytes.reserve(records.size() * 24);
  for (const Record& r : records) {
    bytes.append(reinterpret_cast<const char*>(&r.uid), 8);
    bytes.append(reinterpret_cast<const char*>(&r.person), 8);
    bytes.append(reinterpret_cast<const char*>(&r.window), 4);
    bytes.append(reinterpret_cast<const char*>(&r.due), 4);
  }
  return sha256_hex(bytes);
}

std::string Snapshot::org_body(std::int32_t org) const {
  const auto o = static_cast<std::size_t>(org);
  std::vector<std::string> lines;
  for (std::uint32_t k = org_start_[o]; k < org_start_[o + 1]; ++k) {
    const Occurrence& oc = expansion_.occurrences[org_items_[k]];
    lines.push_back(expander_.uid(oc) + "\t" +
                    (oc.person >= 0 ? config_->persons[static_cast<std::size_t>(oc.person)].id : "") +
                    "\t" + format_day(oc.window_start) + "\t" + format_day(oc.due) + "\n");
  }
  std::sort(lines.begin(), lines.end());
  std::string body;
  for (const auto& l : lines) body += l;
  return body;
}

}  // namespace dutyd
