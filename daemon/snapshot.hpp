// An immutable, fully derived view of one configuration: the model, its occurrences over the
// rolling horizon and the indexes the daemon serves from. Built off the event loop (at start
// and on reload) and swapped in whole, so a request always sees one consistent configuration.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "calendar/expand.hpp"
#include "config/loader.hpp"

namespace dutyd {

class Snapshot {
 public:
  // `today` decides the horizon: 1 January of (year - back) to 31 December of (year + ahead).
  Snapshot(std::shared_ptr<const Config> config, Day today);

  const Config& config() const { return *config_; }
  const Expander& expander() const { return expander_; }
  const Expansion& expansion() const { return expansion_; }
  Day horizon_from() const { return from_; }
  Day horizon_to() const { return to_; }
  int horizon_year() const { return year_; }

  // Occurrence index by UID, or nullopt.
  std::optional<std::uint32_t> find(const std::string& uid) const;
  // A feed's occurrences (sorted by due date): a person's own and predecessor duties, or an
  // organisation's team and member duties.
  Expansion for_person(std::int32_t person) const;
  Expansion for_org(std::int32_t org) const;

  // The store's view of one organisation's occurrences. The digest is a SHA-256 over compact
  // binary records (cheap enough to compute for every organisation at every start); the body,
  // text lines "uid\tperson\twindow_start\tdue\n" sorted by uid, is built only for the
  // organisations whose digest changed.
  std::string org_digest(std::int32_t org) const;
  std::string org_body(std::int32_t org) const;

 private:
  Expansion subset(const std::vector<std::uint32_t>& indices) const;

  std::shared_ptr<const Config> config_;
  Expander expander_;
  Day from_ = 0, to_ = 0;
  int year_ = 0;
  Expansion expansion_;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> by_uid_hash_;  // sorted
  std::vector<std::uint64_t> person_hash_;                             // per person
  std::vector<std::uint64_t> uid_hashes_;                              // per occurrence
  std::vector<std::uint32_t> person_start_, person_items_;             // CSR: person -> indices
  std::vector<std::uint32_t> org_start_, org_items_;                   // CSR: org -> indices
};

std::uint64_t uid_hash(std::string_view uid);
// uid_hash(expander.uid(o)) without building the string.
std::uint64_t uid_hash(const Expander& expander, const Occurrence& o);

}  // namespace dutyd
