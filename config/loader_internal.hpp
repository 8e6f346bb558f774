// Internal to config/: what the loader's files share. A file is read into a FilePart by a
// FileReader (one per file, several at once; the table families live in loader_orgs.cpp,
// loader_obligations.cpp, loader_reminders.cpp and loader_settings.cpp), then the Loader
// joins the parts and resolves them across files (loader.cpp). TableReader and the helpers
// (loader_values.cpp) give typed access to a TOML table and the diagnostics' wording.
// Nothing outside config/ includes this header: loader.hpp is the interface.
#pragma once

#include <toml++/toml.h>
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/loader.hpp"
#include "config/model.hpp"

namespace dutyd::detail {
namespace fs = std::filesystem;

inline constexpr const char* kDash =
    " \xE2\x80\x94 ";  // " — " between what is wrong and what to do

std::size_t edit_distance(std::string_view a, std::string_view b);
// "did you mean 'x'? " for the nearest of `choices`, or nothing.
std::string suggest(std::string_view word, const std::vector<std::string_view>& choices);
// Ids end up in UIDs, file names and URLs: keep them to a safe ASCII set.
bool valid_id(std::string_view id);
inline constexpr const char* kIdRule =
    "use 1-64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit";

std::string join(const std::vector<std::string_view>& v, const char* sep = ", ");
const char* type_name(toml::node_type t);

inline SourceLoc loc_of(std::uint16_t file, const toml::source_region& r) {
  return {file, r.begin.line, r.begin.column};
}

template <typename E>
struct Names {
  std::vector<std::pair<std::string_view, E>> items;
  std::optional<E> find(std::string_view s) const {
    for (auto& [n, e] : items)
      if (n == s) return e;
    return std::nullopt;
  }
  std::vector<std::string_view> names() const {
    std::vector<std::string_view> v;
    for (auto& [n, e] : items) v.push_back(n);
    return v;
  }
};

inline const Names<OrgKind> kKinds{{{"party-committee", OrgKind::party_committee},
                                    {"working-committee", OrgKind::working_committee},
                                    {"standing-committee", OrgKind::standing_committee},
                                    {"party-group", OrgKind::party_group},
                                    {"department", OrgKind::department},
                                    {"discipline-inspection", OrgKind::discipline_inspection},
                                    {"leading-group", OrgKind::leading_group}}};
inline const Names<Level> kLevels{{{"province", Level::province},
                                   {"city", Level::city},
                                   {"county", Level::county},
                                   {"township", Level::township},
                                   {"unit", Level::unit}}};
inline const Names<Role> kRoles{{{"principal", Role::principal}, {"member", Role::member}}};
inline const Names<Actor> kActors{{{"team", Actor::team},
                                   {"principal", Actor::principal},
                                   {"member", Actor::member},
                                   {"org", Actor::org}}};
inline const Names<Counterparts> kCounterparts{
    {{"team-and-subordinate-principals", Counterparts::team_and_subordinate_principals},
     {"leaders-of-units-in-charge", Counterparts::leaders_of_units_in_charge},
     {"subordinate-orgs", Counterparts::subordinate_orgs}}};
inline const Names<Period> kPeriods{
    {{"year", Period::year}, {"half-year", Period::half_year}, {"quarter", Period::quarter}}};
inline const Names<ChannelKind> kChannelKinds{{{"email", ChannelKind::email},
                                               {"wecom", ChannelKind::wecom},
                                               {"dingtalk", ChannelKind::dingtalk},
                                               {"feishu", ChannelKind::feishu},
                                               {"webhook", ChannelKind::webhook},
                                               {"log", ChannelKind::log}}};
inline const std::vector<std::string_view> kPartyGroups{"npc", "government", "cppcc", "court",
                                                        "procuratorate"};
inline const std::vector<std::string_view> kLeadingGroups{"inspection", "principal-responsibility"};
inline const std::vector<std::string_view> kDepartments{"office", "organization", "propaganda",
                                                        "united-front", "political-legal"};
inline const std::vector<std::string_view> kRecipients{"parent",
                                                       "discipline-organ",
                                                       "parent-discipline-organ",
                                                       "same-level-committee",
                                                       "own-org",
                                                       "plenary",
                                                       "higher-organization-department",
                                                       "team",
                                                       "counterpart",
                                                       "none"};

inline bool contains(const std::vector<std::string_view>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

struct StringAt {
  std::string value;
  SourceLoc loc;
};

struct OrgRefs {
  StringAt parent, discipline;
  SourceLoc id_loc;
};
struct PostRefs {
  StringAt person, org, role;
  SourceLoc from_loc, until_loc, in_charge_loc;
  std::vector<StringAt> in_charge_of;
  bool has_in_charge = false;
};
struct EventRefs {
  StringAt obligation, org, person;
};
struct OverrideSpec {
  StringAt obligation;
  std::optional<StringAt> due, rrule, window_start, timing_note;
  std::optional<bool> disable;
  std::optional<std::vector<StringAt>> applies_to, levels;
  std::optional<std::int64_t> deadline_days, min_count;
  SourceLoc deadline_loc, min_count_loc;
  std::optional<StringAt> ladder;
  std::optional<int> grace_days;  // already checked: 0-365
};
struct LadderSpec {
  Ladder ladder;
  SourceLoc loc, id_loc;
  std::vector<std::vector<SourceLoc>> via_locs;  // per step, per `via` entry
};
struct ChannelSpec {
  Channel channel;
  SourceLoc id_loc;
  std::vector<StringAt> orgs;
};
struct LadderForSpec {
  OrgSelector selector;
  StringAt kind, ladder;
  SourceLoc loc;
};
struct RemindersSpec {
  ReminderSettings settings;
  std::optional<StringAt> alert_channel;
  std::vector<StringAt> holidays;     // patterns, already made absolute
  std::optional<StringAt> templates;  // already made absolute
  SourceLoc loc;
};

enum class FileKind : std::uint8_t { catalogue, main, part };

// Everything one file says, read without looking at any other file, so that files can be
// read in parallel and, on a reload, an unchanged file need not be parsed again. Ids are
// still strings here; the loader joins the parts and resolves them.
struct FilePart {
  struct Diag {
    Severity severity;
    SourceLoc at;
    std::string message;
  };
  FileKind kind = FileKind::part;
  std::uint16_t file = 0;  // the file index every SourceLoc below carries
  std::uint64_t hash = 0;  // of the bytes read, with their size: the cache key
  std::size_t size = 0;
  bool readable = true;
  std::vector<Org> orgs;
  std::vector<OrgRefs> org_refs;
  std::vector<Person> persons;
  std::vector<SourceLoc> person_id_locs;
  std::vector<Post> posts;
  std::vector<PostRefs> post_refs;
  std::vector<Obligation> obligations;
  std::vector<SourceLoc> obligation_id_locs;
  std::vector<OverrideSpec> overrides;
  std::vector<Event> events;
  std::vector<EventRefs> event_refs;
  std::vector<LadderSpec> ladders;
  std::vector<ChannelSpec> channels;
  std::vector<LadderForSpec> ladders_for_kinds;
  std::vector<Diag> diags;
  // The main file only.
  std::optional<std::string> timezone;
  std::optional<DaemonSettings> daemon;
  std::optional<RemindersSpec> reminders;
  std::optional<AccountabilitySettings> accountability;
  std::vector<StringAt> includes;
};

// Reports problems: a file reader into its FilePart, the loader into the Diagnostics.
class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual void report(Severity s, SourceLoc at, std::string msg) = 0;
  void error(SourceLoc at, std::string msg) { report(Severity::error, at, std::move(msg)); }
  void warning(SourceLoc at, std::string msg) { report(Severity::warning, at, std::move(msg)); }
};

// Typed access to one TOML table; remembers which keys were read so that the rest can be
// reported as unknown.
class TableReader {
 public:
  TableReader(Reporter& l, std::uint16_t file, const toml::table& t, std::string what)
      : loader_(l), file_(file), table_(t), what_(std::move(what)) {}

  SourceLoc loc() const { return loc_of(file_, table_.source()); }
  SourceLoc loc(std::string_view key) const {
    const toml::node* n = table_.get(key);
    return n ? loc_of(file_, n->source()) : loc();
  }
  const std::string& what() const { return what_; }

  const toml::node* get(std::string_view key, bool required);
  std::optional<std::string> string(std::string_view key, bool required = false);
  std::optional<std::int64_t> integer(std::string_view key, bool required = false);
  // An integer in [lo, hi]: nullopt when absent, of the wrong type or out of range (reported).
  std::optional<int> integer_in(std::string_view key, int lo, int hi);
  std::optional<Day> date(std::string_view key, bool required = false);
  std::optional<bool> boolean(std::string_view key);
  std::optional<std::vector<StringAt>> strings(std::string_view key, bool required = false);
  void finish(const std::vector<std::string_view>& known);

 private:
  void wrong_type(std::string_view key, const toml::node& n, const char* expected,
                  const std::string& example);
  Reporter& loader_;
  std::uint16_t file_;
  const toml::table& table_;
  std::string what_;
};

std::optional<std::vector<OrgSelector>> selectors(Reporter& rep, const std::vector<StringAt>& v);
std::optional<std::uint8_t> level_mask(Reporter& rep, const std::vector<StringAt>& v);

// Reads one file into a FilePart. Touches nothing else, so several run at once.
class FileReader : public Reporter {
 public:
  FileReader(FilePart& part, const std::string& path, const std::string& main_path)
      : part_(part), file_(part.file), path_(path), main_path_(main_path) {}

  void report(Severity s, SourceLoc at, std::string msg) override {
    part_.diags.push_back({s, at, std::move(msg)});
  }
  void read(const std::string& text);

 private:
  void read_catalogue(const toml::table& doc);
  void read_main(const toml::table& doc);
  void read_document(const toml::table& doc, bool main);
  void read_org(const toml::table& t);
  void read_daemon(const toml::table& t, const fs::path& base);
  void read_person(const toml::table& t);
  void read_post(const toml::table& t);
  void read_event(const toml::table& t);
  void read_override(const toml::table& t);
  void read_obligation(const toml::table& t, bool local);
  void read_ladder(const toml::table& t);
  bool read_step(const toml::table& t, Anchor ladder_from, LadderSpec& spec);
  void read_channel(const toml::table& t);
  void read_ladder_for(const toml::table& t);
  void read_reminders(const toml::table& t, const fs::path& base);
  void read_accountability(const toml::table& t);
  template <typename F>
  void each_table(const toml::table& doc, std::string_view key, F&& f);
  void check_schedule(const Obligation& o, SourceLoc at);

  FilePart& part_;
  std::uint16_t file_;
  const std::string& path_;
  const std::string& main_path_;
};

// Joins the parts in file order and resolves and checks everything across them.
class Loader : public Reporter {
 public:
  Loader(Config& c, Diagnostics& d) : cfg_(c), diag_(d) {}

  void report(Severity s, SourceLoc at, std::string msg) override {
    diag_.add(s, cfg_.files[at.file], at.line, at.column, std::move(msg));
  }

  std::uint16_t add_file(const std::string& path) {
    cfg_.files.push_back(path);
    return static_cast<std::uint16_t>(cfg_.files.size() - 1);
  }
  bool has_file(const std::string& path) const {
    return std::find(cfg_.files.begin(), cfg_.files.end(), path) != cfg_.files.end();
  }
  // Room for this many records in all.
  void reserve(std::size_t orgs, std::size_t persons, std::size_t posts) {
    cfg_.orgs.reserve(orgs), org_refs_.reserve(orgs), cfg_.org_index.reserve(orgs);
    cfg_.persons.reserve(persons), cfg_.person_index.reserve(persons);
    cfg_.posts.reserve(posts), post_refs_.reserve(posts);
  }
  // Appends a part read as file `file`; `consume` moves its records out. The part must
  // outlive finish().
  void merge(FilePart& part, std::uint16_t file, bool consume);
  void finish();

 private:
  void resolve_orgs();
  void resolve_posts();
  void resolve_events();
  void apply_overrides();
  void check_posts_over_time();
  void resolve_reminders();

  Config& cfg_;
  Diagnostics& diag_;
  // Into the parts, which outlive the load (the cache or load_config holds them).
  std::vector<const OrgRefs*> org_refs_;
  std::vector<const PostRefs*> post_refs_;
  std::vector<const EventRefs*> event_refs_;
  std::vector<const OverrideSpec*> overrides_;
  std::vector<const LadderSpec*> ladder_specs_;  // parallel to cfg_.ladders; null: shipped
  std::vector<const ChannelSpec*> channel_specs_;
  std::vector<const LadderForSpec*> ladder_for_specs_;
  const RemindersSpec* reminders_ = nullptr;
  std::vector<bool> has_children_;
};

}  // namespace dutyd::detail
