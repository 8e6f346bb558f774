// An immutable, fully derived view of one configuration: the model, its occurrences over the
// rolling horizon and the indexes the daemon serves from. Built off the event loop (at start
// and on reload) and swapped in whole, so a request always sees one consistent configuration.
//
// Occurrences are kept per organisation, in immutable blocks (OrgBlock) held by shared_ptr:
// - every question the daemon asks is about one organisation (a UID names its organisation,
//   an organisation's feed is its block, a person's feed visits only the organisations where
//   the person holds or held a post), so there is no global sort and no global index;
// - blocks are built on both cores, each thread writing only its own organisations' slots;
// - a reload rebuilds only the organisations whose inputs changed. Each block records a 64-bit
//   signature of everything its expansion reads (see org_inputs in snapshot.cpp), computed
//   from ids and values only, never from vector indices. A block of the previous snapshot
//   whose signature still matches is taken over: shared as it is when every index it holds
//   means the same person, organisation and event in the new configuration, else copied with
//   its indices translated by id. UIDs, uid hashes and digests are made of ids, so they stay
//   valid either way.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "calendar/expand.hpp"
#include "config/loader.hpp"

namespace dutyd {

// One organisation's occurrences over the horizon: its team duties, its members' duties and
// its event-triggered duties.
struct OrgBlock {
  Expansion expansion;                    // in occurrence_order; predecessors in its own pool
  std::vector<std::uint64_t> uid_hashes;  // per occurrence: uid_hash of its UID
  std::string digest;                     // the store's digest of this set (Snapshot::org_digest)
  std::uint64_t inputs = 0;               // signature of what the expansion read
  // Highest person and organisation index the occurrences refer to: below the length of the
  // unchanged prefix of Config::persons / Config::orgs, the block can be shared as it is.
  std::int32_t max_person = -1, max_org = -1;
};

// One occurrence of a snapshot and the expansion holding its predecessors.
struct OccurrenceRef {
  const Occurrence* occurrence = nullptr;
  const Expansion* expansion = nullptr;
  const Occurrence& operator*() const { return *occurrence; }
  const Occurrence* operator->() const { return occurrence; }
  std::span<const std::int32_t> predecessors() const {
    return expansion->predecessors(*occurrence);
  }
};

class Snapshot {
 public:
  // `today` decides the horizon: 1 January of (year - back) to 31 December of (year + ahead).
  // `previous` (the snapshot being served, or null) lends the blocks whose inputs are unchanged.
  Snapshot(std::shared_ptr<const Config> config, Day today, const Snapshot* previous = nullptr);

  const Config& config() const { return *config_; }
  const Expander& expander() const { return expander_; }
  Day horizon_from() const { return from_; }
  Day horizon_to() const { return to_; }
  int horizon_year() const { return year_; }

  std::size_t occurrence_count() const { return count_; }
  // Every occurrence, organisation by organisation: f(const Occurrence&, const Expansion&).
  template <typename F>
  void for_each_occurrence(F&& f) const {
    for (const auto& b : blocks_)
      for (const Occurrence& o : b->expansion.occurrences) f(o, b->expansion);
  }
  const OrgBlock& block(std::int32_t org) const { return *blocks_[static_cast<std::size_t>(org)]; }

  // The occurrence with this UID, or nullopt.
  std::optional<OccurrenceRef> find(const std::string& uid) const;
  // A feed's occurrences, in occurrence_order: a person's own and predecessor duties, or an
  // organisation's team and member duties.
  Expansion for_person(std::int32_t person) const;
  const Expansion& for_org(std::int32_t org) const { return block(org).expansion; }

  // The store's view of one organisation's occurrences. The digest is a SHA-256 over compact
  // binary records (uid hash, person id hash, window start, due; sorted by uid hash), computed
  // when the block is built; the body, text lines "uid\tperson\twindow_start\tdue\n" sorted,
  // is built only for the organisations whose digest changed.
  const std::string& org_digest(std::int32_t org) const { return block(org).digest; }
  std::string org_body(std::int32_t org) const;

  // How the blocks came about: expanded, taken over as they were, or copied with new indices.
  struct DeriveStats {
    std::size_t built = 0, shared = 0, remapped = 0;
  };
  const DeriveStats& derive_stats() const { return stats_; }

 private:
  std::shared_ptr<const Config> config_;
  Expander expander_;
  Day from_ = 0, to_ = 0;
  int year_ = 0;
  std::uint64_t global_inputs_ = 0;  // signature of the obligations and the horizon
  std::vector<std::shared_ptr<const OrgBlock>> blocks_;  // per org
  std::size_t count_ = 0;
  DeriveStats stats_;
};

std::uint64_t uid_hash(std::string_view uid);
// uid_hash(expander.uid(o)) without building the string.
std::uint64_t uid_hash(const Expander& expander, const Occurrence& o);

}  // namespace dutyd
