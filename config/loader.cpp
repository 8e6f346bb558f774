#include "config/loader.hpp"

#include <glob.h>
#include <sys/stat.h>

#include <toml++/toml.h>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "config/rrule.hpp"

#ifndef DUTYD_CATALOGUE_INSTALLED
#define DUTYD_CATALOGUE_INSTALLED "/usr/local/share/dutyd/obligations.toml"
#endif
#ifndef DUTYD_CATALOGUE_SOURCE
#define DUTYD_CATALOGUE_SOURCE ""
#endif

namespace dutyd {
namespace fs = std::filesystem;

std::string default_catalogue_path() {
  if (const char* env = std::getenv("DUTYD_CATALOGUE"); env && *env) return env;
  std::error_code ec;
  if (fs::exists(DUTYD_CATALOGUE_INSTALLED, ec)) return DUTYD_CATALOGUE_INSTALLED;
  if (*DUTYD_CATALOGUE_SOURCE && fs::exists(DUTYD_CATALOGUE_SOURCE, ec))
    return DUTYD_CATALOGUE_SOURCE;
  return DUTYD_CATALOGUE_INSTALLED;
}

namespace {

constexpr const char* kDash = " \xE2\x80\x94 ";  // " — " between what is wrong and what to do

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t prev = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

std::string suggest(std::string_view word, const std::vector<std::string_view>& choices) {
  std::string_view best;
  std::size_t best_d = 3;
  for (auto c : choices) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best.empty() ? std::string{} : "did you mean '" + std::string(best) + "'? ";
}

// Ids end up in UIDs, file names and URLs: keep them to a safe ASCII set.
bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}
constexpr const char* kIdRule =
    "use 1-64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit";

std::string join(const std::vector<std::string_view>& v, const char* sep = ", ") {
  std::string out;
  for (auto s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "nothing";
  }
}

SourceLoc loc_of(std::uint16_t file, const toml::source_region& r) {
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

const Names<OrgKind> kKinds{{{"party-committee", OrgKind::party_committee},
                             {"working-committee", OrgKind::working_committee},
                             {"standing-committee", OrgKind::standing_committee},
                             {"party-group", OrgKind::party_group},
                             {"department", OrgKind::department},
                             {"discipline-inspection", OrgKind::discipline_inspection},
                             {"leading-group", OrgKind::leading_group}}};
const Names<Level> kLevels{{{"province", Level::province},
                            {"city", Level::city},
                            {"county", Level::county},
                            {"township", Level::township},
                            {"unit", Level::unit}}};
const Names<Role> kRoles{{{"principal", Role::principal}, {"member", Role::member}}};
const Names<Actor> kActors{{{"team", Actor::team},
                            {"principal", Actor::principal},
                            {"member", Actor::member},
                            {"org", Actor::org}}};
const Names<Counterparts> kCounterparts{
    {{"team-and-subordinate-principals", Counterparts::team_and_subordinate_principals},
     {"leaders-of-units-in-charge", Counterparts::leaders_of_units_in_charge},
     {"subordinate-orgs", Counterparts::subordinate_orgs}}};
const Names<Period> kPeriods{
    {{"year", Period::year}, {"half-year", Period::half_year}, {"quarter", Period::quarter}}};
const Names<ChannelKind> kChannelKinds{{{"email", ChannelKind::email},
                                        {"wecom", ChannelKind::wecom},
                                        {"dingtalk", ChannelKind::dingtalk},
                                        {"feishu", ChannelKind::feishu},
                                        {"webhook", ChannelKind::webhook},
                                        {"log", ChannelKind::log}}};
const std::vector<std::string_view> kPartyGroups{"npc", "government", "cppcc", "court",
                                                 "procuratorate"};
const std::vector<std::string_view> kLeadingGroups{"inspection", "principal-responsibility"};
const std::vector<std::string_view> kDepartments{"office", "organization", "propaganda",
                                                 "united-front", "political-legal"};
const std::vector<std::string_view> kRecipients{"parent",
                                                "discipline-organ",
                                                "parent-discipline-organ",
                                                "same-level-committee",
                                                "own-org",
                                                "plenary",
                                                "higher-organization-department",
                                                "team",
                                                "counterpart",
                                                "none"};

bool contains(const std::vector<std::string_view>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

// The records of one file, shared with the LoadCache (loader.hpp).
namespace detail {

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

}  // namespace detail

struct LoadCache::Impl {
  std::string main_path;
  std::unordered_map<std::string, std::shared_ptr<detail::FilePart>> parts;  // by path
};

namespace {
using namespace detail;

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

// ---- TableReader -------------------------------------------------------------------------

const toml::node* TableReader::get(std::string_view key, bool required) {
  const toml::node* n = table_.get(key);
  if (!n && required)
    loader_.error(loc(), "missing required key '" + std::string(key) + "' in " + what_ + kDash +
                             "add " + std::string(key) + " = ...");
  return n;
}

void TableReader::wrong_type(std::string_view key, const toml::node& n, const char* expected,
                             const std::string& example) {
  loader_.error(loc_of(file_, n.source()),
                "'" + std::string(key) + "' in " + what_ + ": expected " + expected + " but got " +
                    type_name(n.type()) + kDash + "write it as " + example);
}

std::optional<std::string> TableReader::string(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return std::nullopt;
  if (auto s = n->as_string()) return s->get();
  wrong_type(key, *n, "a string", std::string(key) + " = \"...\"");
  return std::nullopt;
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return std::nullopt;
  if (auto i = n->as_integer()) return i->get();
  wrong_type(key, *n, "an integer", std::string(key) + " = 15");
  return std::nullopt;
}

std::optional<int> TableReader::integer_in(std::string_view key, int lo, int hi) {
  const auto v = integer(key);
  if (!v) return std::nullopt;
  if (*v < lo || *v > hi) {
    loader_.error(loc(key), std::string(key) + " must be between " + std::to_string(lo) + " and " +
                                std::to_string(hi) + kDash + "pick a value in that range");
    return std::nullopt;
  }
  return static_cast<int>(*v);
}

std::optional<bool> TableReader::boolean(std::string_view key) {
  const toml::node* n = get(key, false);
  if (!n) return std::nullopt;
  if (auto b = n->as_boolean()) return b->get();
  wrong_type(key, *n, "a boolean", std::string(key) + " = true");
  return std::nullopt;
}

std::optional<Day> TableReader::date(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return std::nullopt;
  if (auto d = n->as_date()) {
    const toml::date v = d->get();
    if (!is_valid_date(v.year, v.month, v.day)) {
      loader_.error(loc_of(file_, n->source()), "'" + std::string(key) + "' in " + what_ +
                                                    " is not a usable date" + kDash +
                                                    "use a real date between 1900 and 2999");
      return std::nullopt;
    }
    return make_day(v.year, v.month, v.day);
  }
  std::string hint = std::string(key) + " = 2025-03-01 (a TOML date, without quotes)";
  if (auto s = n->as_string(); s && parse_day(s->get()))
    hint = std::string(key) + " = " + s->get() + " without the quotes";
  wrong_type(key, *n, "a date", hint);
  return std::nullopt;
}

std::optional<std::vector<StringAt>> TableReader::strings(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return std::nullopt;
  const toml::array* a = n->as_array();
  if (!a) {
    wrong_type(key, *n, "an array of strings", std::string(key) + " = [\"...\", \"...\"]");
    return std::nullopt;
  }
  std::vector<StringAt> out;
  bool ok = true;
  for (const toml::node& el : *a) {
    if (auto s = el.as_string()) {
      out.push_back({s->get(), loc_of(file_, el.source())});
    } else {
      ok = false;
      loader_.error(loc_of(file_, el.source()),
                    "'" + std::string(key) + "' in " + what_ + ": expected a string but got " +
                        type_name(el.type()) + kDash + "quote every element");
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

void TableReader::finish(const std::vector<std::string_view>& known) {
  for (auto&& [k, v] : table_) {
    if (contains(known, k.str())) continue;
    loader_.error(loc_of(file_, k.source()), "unknown key '" + std::string(k.str()) + "' in " +
                                                 what_ + kDash + suggest(k.str(), known) +
                                                 "known keys: " + join(known));
  }
}

// ---- reading files -------------------------------------------------------------------------

void FileReader::read(const std::string& text) {
  toml::table doc;
  try {
    doc = toml::parse(text, path_);
  } catch (const toml::parse_error& e) {
    error(loc_of(file_, e.source()), "TOML syntax: " + std::string(e.description()) + kDash +
                                         "fix the syntax at this position (see toml.io)");
    return;
  } catch (const std::exception& e) {
    error({file_, 1, 1}, std::string("TOML syntax: ") + e.what() + kDash + "fix the file");
    return;
  }
  switch (part_.kind) {
    case FileKind::catalogue:
      read_catalogue(doc);
      break;
    case FileKind::main:
      read_main(doc);
      break;
    case FileKind::part:
      read_document(doc, false);
      break;
  }
}

template <typename F>
void FileReader::each_table(const toml::table& doc, std::string_view key, F&& f) {
  const toml::node* n = doc.get(key);
  if (!n) return;
  // Built by appending: GCC 12 at -O3 warns (-Wrestrict, a false positive) about
  // "literal" + std::string(...) inlined into every instantiation of this template.
  auto message = [key](const char* what) {
    std::string m = "'";
    m.append(key)
        .append(what)
        .append(kDash)
        .append("write each entry as [[")
        .append(key)
        .append("]]");
    return m;
  };
  const toml::array* a = n->as_array();
  if (!a) {
    error(loc_of(file_, n->source()), message("' must be an array of tables"));
    return;
  }
  for (const toml::node& el : *a) {
    if (const toml::table* t = el.as_table())
      f(*t);
    else
      error(loc_of(file_, el.source()), message("' entries must be tables"));
  }
}

void FileReader::read_catalogue(const toml::table& doc) {
  for (auto&& [k, v] : doc) {
    if (k.str() == "version") {  // the catalogue's revision, read by `dutyd --version`
      if (!v.is_string())
        error(loc_of(file_, v.source()),
              "version must be a string" + std::string(kDash) + "write version = \"YEAR.N\"");
    } else if (k.str() != "obligation") {
      error(loc_of(file_, k.source()), "unknown key '" + std::string(k.str()) +
                                           "' in the catalogue" + kDash +
                                           "the catalogue holds only version and [[obligation]] "
                                           "tables");
    }
  }
  each_table(doc, "obligation", [&](const toml::table& t) { read_obligation(t, false); });
}

void FileReader::read_main(const toml::table& doc) {
  if (const toml::node* tz = doc.get("timezone")) {
    if (auto s = tz->as_string()) {
      const std::string& zone = s->get();
      std::error_code ec;
      const bool have_db = fs::is_directory("/usr/share/zoneinfo", ec);
      const bool sane = !zone.empty() && zone.find("..") == std::string::npos && zone[0] != '/';
      if (!sane || (have_db && !fs::is_regular_file("/usr/share/zoneinfo/" + zone, ec)))
        error(loc_of(file_, tz->source()), "unknown time zone '" + zone + "'" + kDash +
                                               "use an IANA name such as \"Asia/Shanghai\"");
      part_.timezone = zone;
    } else {
      error(loc_of(file_, tz->source()), "'timezone' must be a string" + std::string(kDash) +
                                             "write timezone = \"Asia/Shanghai\"");
    }
  }
  read_document(doc, true);
  if (const toml::node* d = doc.get("daemon")) {
    if (const toml::table* t = d->as_table())
      read_daemon(*t, fs::path(path_).parent_path());
    else
      error(loc_of(file_, d->source()),
            "'daemon' must be a table" + std::string(kDash) + "write a [daemon] section");
  }
  if (const toml::node* rem = doc.get("reminders")) {
    if (const toml::table* t = rem->as_table())
      read_reminders(*t, fs::path(path_).parent_path());
    else
      error(loc_of(file_, rem->source()),
            "'reminders' must be a table" + std::string(kDash) + "write a [reminders] section");
  }
  if (const toml::node* acc = doc.get("accountability")) {
    if (const toml::table* t = acc->as_table())
      read_accountability(*t);
    else
      error(loc_of(file_, acc->source()), "'accountability' must be a table" + std::string(kDash) +
                                              "write an [accountability] section");
  }
  if (const toml::node* inc = doc.get("include")) {
    const toml::array* arr = inc->as_array();
    if (!arr) {
      error(loc_of(file_, inc->source()), "'include' must be an array of glob patterns" +
                                              std::string(kDash) +
                                              "write include = [\"conf.d/*.toml\"]");
      return;
    }
    for (const toml::node& el : *arr) {
      const SourceLoc at = loc_of(file_, el.source());
      if (auto s = el.as_string())
        part_.includes.push_back({s->get(), at});
      else
        error(at, "include patterns must be strings" + std::string(kDash) + "quote the pattern");
    }
  }
}

void FileReader::read_document(const toml::table& doc, bool main) {
  static const std::vector<std::string_view> main_keys{
      "timezone", "include",  "daemon",     "reminders", "accountability", "org",        "person",
      "post",     "override", "obligation", "event",     "ladder",         "ladder_for", "channel"};
  static const std::vector<std::string_view> part_keys{"org",      "person",     "post",
                                                       "override", "obligation", "event",
                                                       "ladder",   "ladder_for", "channel"};
  const auto& known = main ? main_keys : part_keys;
  for (auto&& [k, v] : doc) {
    if (contains(known, k.str())) continue;
    if (!main && (k.str() == "timezone" || k.str() == "include" || k.str() == "daemon" ||
                  k.str() == "reminders" || k.str() == "accountability"))
      error(loc_of(file_, k.source()), "'" + std::string(k.str()) +
                                           "' is only allowed in the main config file" + kDash +
                                           "move it to " + main_path_);
    else
      error(loc_of(file_, k.source()), "unknown key '" + std::string(k.str()) + "'" + kDash +
                                           suggest(k.str(), known) +
                                           "known top-level keys: " + join(known));
  }
  auto count = [&](std::string_view key) {
    const toml::node* n = doc.get(key);
    return n && n->as_array() ? n->as_array()->size() : 0;
  };
  part_.orgs.reserve(count("org")), part_.org_refs.reserve(count("org"));
  part_.persons.reserve(count("person")), part_.person_id_locs.reserve(count("person"));
  part_.posts.reserve(count("post")), part_.post_refs.reserve(count("post"));
  each_table(doc, "org", [&](const toml::table& t) { read_org(t); });
  each_table(doc, "person", [&](const toml::table& t) { read_person(t); });
  each_table(doc, "post", [&](const toml::table& t) { read_post(t); });
  each_table(doc, "obligation", [&](const toml::table& t) { read_obligation(t, true); });
  each_table(doc, "override", [&](const toml::table& t) { read_override(t); });
  each_table(doc, "event", [&](const toml::table& t) { read_event(t); });
  each_table(doc, "ladder", [&](const toml::table& t) { read_ladder(t); });
  each_table(doc, "ladder_for", [&](const toml::table& t) { read_ladder_for(t); });
  each_table(doc, "channel", [&](const toml::table& t) { read_channel(t); });
}

void FileReader::read_daemon(const toml::table& t, const fs::path& base) {
  TableReader r(*this, file_, t, "[daemon]");
  if (!part_.daemon) part_.daemon.emplace();
  DaemonSettings& d = *part_.daemon;
  if (auto v = r.string("listen")) {
    // host:port or [v6]:port with a numeric port.
    const auto colon = v->rfind(':');
    const std::string port = colon == std::string::npos ? "" : v->substr(colon + 1);
    const bool numeric = !port.empty() && port.size() <= 5 &&
                         port.find_first_not_of("0123456789") == std::string::npos &&
                         std::stoi(port) > 0 && std::stoi(port) < 65536;
    if (colon == std::string::npos || colon == 0 || !numeric)
      error(r.loc("listen"), "listen '" + *v + "' is not host:port" + std::string(kDash) +
                                 "write e.g. \"127.0.0.1:8088\" or \"[::1]:8088\"");
    else
      d.listen = *v;
  }
  auto resolve = [&](const std::string& p) {
    return fs::path(p).is_absolute() ? p : (base / p).string();
  };
  if (auto v = r.string("database")) d.database = resolve(*v);
  if (auto v = r.string("credentials_dir")) d.credentials_dir = resolve(*v);
  if (auto v = r.string("public_url")) {
    std::string u = *v;
    while (!u.empty() && u.back() == '/') u.pop_back();
    if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0)
      error(r.loc("public_url"),
            "public_url '" + *v + "' is not an http(s) URL" + std::string(kDash) +
                "write the address officials reach dutyd at, e.g. \"https://duty.example.gov.cn\"");
    else
      d.public_url = u;
  }
  auto bounded = [&](const char* key, int lo, int hi, int& out) {
    if (auto v = r.integer_in(key, lo, hi)) out = *v;
  };
  bounded("link_ttl_days", 1, 3650, d.link_ttl_days);
  bounded("horizon_years_back", 0, 10, d.horizon_years_back);
  bounded("horizon_years_ahead", 0, 5, d.horizon_years_ahead);
  r.finish({"listen", "database", "public_url", "credentials_dir", "link_ttl_days",
            "horizon_years_back", "horizon_years_ahead"});
}

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

void FileReader::read_override(const toml::table& t) {
  TableReader r(*this, file_, t, "[[override]]");
  OverrideSpec o;
  auto id = r.string("obligation", true);
  auto at = [&](std::string_view key, std::optional<std::string> v) -> std::optional<StringAt> {
    if (!v) return std::nullopt;
    return StringAt{*v, r.loc(key)};
  };
  o.due = at("due", r.string("due"));
  o.rrule = at("rrule", r.string("rrule"));
  o.window_start = at("window_start", r.string("window_start"));
  o.timing_note = at("timing_note", r.string("timing_note"));
  o.disable = r.boolean("disable");
  o.applies_to = r.strings("applies_to");
  o.levels = r.strings("levels");
  o.deadline_days = r.integer("deadline_days");
  o.deadline_loc = r.loc("deadline_days");
  o.min_count = r.integer("min_count");
  o.min_count_loc = r.loc("min_count");
  o.ladder = at("ladder", r.string("ladder"));
  o.grace_days = r.integer_in("grace_days", 0, 365);
  r.finish({"obligation", "due", "rrule", "window_start", "timing_note", "disable", "applies_to",
            "levels", "deadline_days", "min_count", "ladder", "grace_days"});
  if (!id) return;
  o.obligation = {*id, r.loc("obligation")};
  if (o.due && o.rrule)
    error(o.rrule->loc,
          "an override gives both 'due' and 'rrule'" + std::string(kDash) + "keep one of them");
  part_.overrides.push_back(std::move(o));
}

// ---- reminders: ladders, channels, [reminders] --------------------------------------------

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

void FileReader::read_accountability(const toml::table& t) {
  TableReader r(*this, file_, t, "[accountability]");
  AccountabilitySettings a;
  auto bounded = [&](const char* key, int lo, int hi, int& out) {
    if (auto v = r.integer_in(key, lo, hi)) out = *v;
  };
  bounded("grace_days", 0, 365, a.grace_days);
  bounded("serious_days", 1, 3650, a.serious_days);
  bounded("grave_days", 1, 3650, a.grave_days);
  bounded("serious_repeats", 1, 100, a.serious_repeats);
  bounded("serious_open", 1, 10000, a.serious_open);
  bounded("look_back_periods", 0, 10, a.look_back_periods);
  r.finish({"grace_days", "serious_days", "grave_days", "serious_repeats", "serious_open",
            "look_back_periods"});
  if (a.grave_days <= a.serious_days)
    error(r.loc(t.get("grave_days") ? "grave_days" : "serious_days"),
          "grave_days (" + std::to_string(a.grave_days) + ") must be greater than serious_days (" +
              std::to_string(a.serious_days) + ")" + kDash +
              "严重 starts later than 较重: raise grave_days or lower serious_days");
  part_.accountability = a;
}

std::optional<std::vector<OrgSelector>> selectors(Reporter& rep, const std::vector<StringAt>& v) {
  std::vector<OrgSelector> out;
  bool ok = true;
  for (const auto& s : v) {
    const auto colon = s.value.find(':');
    const std::string kind = s.value.substr(0, colon);
    const std::string sub = colon == std::string::npos ? "" : s.value.substr(colon + 1);
    auto k = kKinds.find(kind);
    if (!k) {
      rep.error(s.loc, "unknown kind '" + kind + "' in applies_to" + kDash +
                           suggest(kind, kKinds.names()) +
                           "use kind or kind:subtype with kind one of: " + join(kKinds.names()));
      ok = false;
      continue;
    }
    if (!sub.empty()) {
      const std::vector<std::string_view>* allowed = *k == OrgKind::party_group ? &kPartyGroups
                                                     : *k == OrgKind::leading_group
                                                         ? &kLeadingGroups
                                                     : *k == OrgKind::department ? &kDepartments
                                                                                 : nullptr;
      if (!allowed || !contains(*allowed, sub)) {
        rep.error(s.loc,
                  "unknown subtype '" + sub + "' for kind " + kind + kDash +
                      (allowed ? "use one of: " + join(*allowed)
                               : std::string("this kind has no subtypes; write just ") + kind));
        ok = false;
        continue;
      }
    }
    out.push_back({*k, sub});
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::uint8_t> level_mask(Reporter& rep, const std::vector<StringAt>& v) {
  std::uint8_t mask = 0;
  bool ok = true;
  for (const auto& s : v) {
    if (auto l = kLevels.find(s.value)) {
      mask = static_cast<std::uint8_t>(mask | (1u << static_cast<unsigned>(*l)));
    } else {
      rep.error(s.loc, "unknown level '" + s.value + "'" + kDash +
                           suggest(s.value, kLevels.names()) +
                           "use one of: " + join(kLevels.names()));
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return mask;
}

void FileReader::read_obligation(const toml::table& t, bool local) {
  TableReader r(*this, file_, t, "[[obligation]]");
  Obligation o;
  o.loc = r.loc();
  o.local = local;
  auto id = r.string("id", true);
  auto article = r.integer("article", true);
  auto item = r.integer("item", true);
  auto title = r.string("title", true);
  auto quote = r.string("quote", true);
  auto actor = r.string("actor", true);
  auto applies = r.strings("applies_to", true);
  auto levels = r.strings("levels");
  auto rrule = r.string("rrule");
  auto window = r.string("window_start");
  auto period = r.string("period");
  auto min_count = r.integer("min_count");
  auto counterparts = r.string("counterparts");
  auto event = r.string("event");
  auto deadline = r.integer("deadline_days");
  auto note = r.string("timing_note");
  auto recipients = r.strings("recipients", true);
  auto evidence = r.strings("evidence", true);
  auto art27 = r.integer("art27", true);
  r.finish({"id", "article", "item", "title", "quote", "actor", "applies_to", "levels", "rrule",
            "window_start", "period", "min_count", "counterparts", "event", "deadline_days",
            "timing_note", "recipients", "evidence", "art27"});
  bool ok = id && article && item && title && quote && actor && applies && recipients && evidence &&
            art27;
  if (article && (*article < 1 || *article > 31)) {
    error(r.loc("article"), "article " + std::to_string(*article) + " does not exist" + kDash +
                                "the regulation has articles 1 to 31");
    ok = false;
  }
  if (item && (*item < 0 || *item > 30)) {
    error(r.loc("item"), "item " + std::to_string(*item) + " is out of range" + kDash +
                             "use 0 for an article without items");
    ok = false;
  }
  if (actor) {
    if (auto a = kActors.find(*actor)) {
      o.actor = *a;
    } else {
      error(r.loc("actor"), "unknown actor '" + *actor + "'" + kDash +
                                suggest(*actor, kActors.names()) +
                                "use one of: " + join(kActors.names()));
      ok = false;
    }
  }
  if (applies) {
    if (auto sel = selectors(*this, *applies))
      o.applies_to = std::move(*sel);
    else
      ok = false;
  }
  if (levels) {
    if (auto m = level_mask(*this, *levels))
      o.levels = *m;
    else
      ok = false;
  }
  if (rrule) o.rrule = *rrule;
  if (event) o.event = *event;
  if (window) {
    if (auto md = parse_month_day(*window)) {
      o.window_start = md;
    } else {
      error(r.loc("window_start"), "window_start '" + *window + "' is not a month-day" + kDash +
                                       "write \"MM-DD\", e.g. \"01-01\" (02-29 is not allowed)");
      ok = false;
    }
  }
  if (period) {
    if (auto p = kPeriods.find(*period)) {
      o.period = *p;
    } else {
      error(r.loc("period"),
            "unknown period '" + *period + "'" + kDash + "use one of: " + join(kPeriods.names()));
      ok = false;
    }
  }
  if (min_count) {
    if (*min_count < 1 || *min_count > 366) {
      error(r.loc("min_count"), "min_count must be between 1 and 366" + std::string(kDash) +
                                    "write how many times the duty is due per window");
      ok = false;
    } else {
      o.min_count = static_cast<int>(*min_count);
    }
  }
  if (deadline) {
    if (*deadline < 0 || *deadline > 366) {
      error(r.loc("deadline_days"), "deadline_days must be between 0 and 366" + std::string(kDash) +
                                        "give the days from event to due date");
      ok = false;
    } else {
      o.deadline_days = static_cast<int>(*deadline);
    }
  }
  if (counterparts) {
    if (auto c = kCounterparts.find(*counterparts)) {
      o.counterparts = *c;
    } else {
      error(r.loc("counterparts"), "unknown counterparts '" + *counterparts + "'" + kDash +
                                       "use one of: " + join(kCounterparts.names()));
      ok = false;
    }
  }
  if (note) o.timing_note = *note;
  if (recipients) {
    for (const auto& s : *recipients) {
      if (!contains(kRecipients, s.value)) {
        error(s.loc, "unknown recipient '" + s.value + "'" + kDash + suggest(s.value, kRecipients) +
                         "use one of: " + join(kRecipients));
        ok = false;
      }
      o.recipients.push_back(s.value);
    }
  }
  if (evidence)
    for (const auto& s : *evidence) o.evidence.push_back(s.value);
  if (art27 && (*art27 < 1 || *art27 > 5)) {
    error(r.loc("art27"), "art27 must name an item of 第二十七条 (1-5)" + std::string(kDash) +
                              "pick the item a miss would feed");
    ok = false;
  }
  if (id && !valid_id(*id)) {
    error(r.loc("id"), "obligation id '" + *id + "' is not usable" + kDash + kIdRule);
    ok = false;
  }
  if (!ok) return;
  o.id = *id;
  o.article = static_cast<int>(*article);
  o.item = static_cast<int>(*item);
  o.title = *title;
  o.quote = *quote;
  o.art27 = static_cast<int>(*art27);
  check_schedule(o, r.loc());
  part_.obligations.push_back(std::move(o));
  part_.obligation_id_locs.push_back(r.loc("id"));
}

void FileReader::check_schedule(const Obligation& o, SourceLoc at) {
  const bool has_rule = !o.rrule.empty(), has_event = o.event_triggered();
  if (has_rule == has_event) {
    error(at, "obligation '" + o.id + "' needs exactly one of 'rrule' and 'event'" + kDash +
                  "give an RRULE for dated duties or an event for triggered ones");
    return;
  }
  if (has_rule) {
    if (auto why = rrule_problem(o.rrule))
      error(at, "bad RRULE '" + o.rrule + "' in obligation '" + o.id + "': " + *why + kDash +
                    "e.g. FREQ=YEARLY;BYMONTH=6,12;BYMONTHDAY=-1");
  }
  if (has_event && o.deadline_days == 0 && o.timing_note.empty())
    warning(at, "event obligation '" + o.id + "' is due on the day of the event" + kDash +
                    "set deadline_days or explain in timing_note");
  const bool needs_principal = o.counterparts == Counterparts::team_and_subordinate_principals;
  const bool needs_member = o.counterparts == Counterparts::leaders_of_units_in_charge;
  if ((needs_principal && o.actor != Actor::principal) ||
      (needs_member && o.actor != Actor::member) ||
      (o.counterparts == Counterparts::subordinate_orgs && o.actor == Actor::member))
    error(at, std::string("counterparts '") + to_string(o.counterparts) + "' does not fit actor '" +
                  to_string(o.actor) + "'" + kDash +
                  "team-and-subordinate-principals goes with principal, leaders-of-units-in-charge "
                  "with member");
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

void Loader::apply_overrides() {
  for (const OverrideSpec* spec : overrides_) {
    const OverrideSpec& ov = *spec;
    auto it = cfg_.obligation_index.find(ov.obligation.value);
    if (it == cfg_.obligation_index.end()) {
      std::vector<std::string_view> ids;
      for (const auto& o : cfg_.obligations) ids.push_back(o.id);
      error(ov.obligation.loc, "unknown obligation '" + ov.obligation.value + "'" + kDash +
                                   suggest(ov.obligation.value, ids) +
                                   "see `dutyd catalogue` for the ids");
      continue;
    }
    Obligation& o = cfg_.obligations[static_cast<std::size_t>(it->second)];
    if (ov.disable) o.disabled = *ov.disable;
    if (ov.ladder) {
      if (auto l = cfg_.ladder_index.find(ov.ladder->value); l != cfg_.ladder_index.end()) {
        o.ladder = l->second;
      } else {
        std::vector<std::string_view> ids;
        for (const Ladder& lad : cfg_.ladders) ids.push_back(lad.id);
        error(ov.ladder->loc, "unknown ladder '" + ov.ladder->value + "'" + kDash +
                                  suggest(ov.ladder->value, ids) +
                                  "define it with [[ladder]] or use one of: " + join(ids));
      }
    }
    if (ov.due) {
      auto md = parse_month_day(ov.due->value);
      if (!md) {
        error(ov.due->loc, "due '" + ov.due->value + "' is not a month-day" + std::string(kDash) +
                               "write \"MM-DD\", e.g. \"02-28\" (02-29 is not allowed)");
      } else if (o.event_triggered()) {
        error(ov.due->loc, "'" + o.id + "' is event-triggered and has no fixed due date" +
                               std::string(kDash) + "override deadline_days instead");
      } else {
        const Day y = make_day(2027, 1, 1);
        if (rrule_dates(o.rrule, y, make_day(2027, 12, 31)).size() != 1) {
          error(ov.due->loc, "'" + o.id + "' is due several times a year (" + o.rrule +
                                 "), so one month-day cannot replace it" + kDash +
                                 "give rrule = \"...\" instead");
        } else {
          o.rrule = "FREQ=YEARLY;BYMONTH=" + std::to_string(md->month) +
                    ";BYMONTHDAY=" + std::to_string(md->day);
          // Keep the window inside the year when the catalogue had none.
          if (!o.window_start) o.window_start = MonthDay{1, 1};
          if (o.window_start &&
              (o.window_start->month > md->month ||
               (o.window_start->month == md->month && o.window_start->day > md->day)))
            o.window_start = MonthDay{1, 1};
        }
      }
    }
    if (ov.rrule) {
      if (auto why = rrule_problem(ov.rrule->value))
        error(ov.rrule->loc, "bad RRULE '" + ov.rrule->value + "': " + *why + kDash +
                                 "e.g. FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=31");
      else if (o.event_triggered())
        error(ov.rrule->loc, "'" + o.id + "' is event-triggered" + std::string(kDash) +
                                 "override deadline_days instead");
      else
        o.rrule = ov.rrule->value;
    }
    if (ov.window_start) {
      if (auto md = parse_month_day(ov.window_start->value))
        o.window_start = md;
      else
        error(ov.window_start->loc, "window_start '" + ov.window_start->value +
                                        "' is not a month-day" + kDash + "write \"MM-DD\"");
    }
    if (ov.timing_note) o.timing_note = ov.timing_note->value;
    if (ov.applies_to)
      if (auto sel = selectors(*this, *ov.applies_to)) o.applies_to = std::move(*sel);
    if (ov.levels)
      if (auto m = level_mask(*this, *ov.levels)) o.levels = *m;
    if (ov.deadline_days) {
      if (!o.event_triggered())
        error(ov.deadline_loc, "'" + o.id + "' is dated, deadline_days applies to event duties" +
                                   std::string(kDash) + "override due or rrule instead");
      else if (*ov.deadline_days < 0 || *ov.deadline_days > 366)
        error(ov.deadline_loc, "deadline_days must be between 0 and 366" + std::string(kDash) +
                                   "give the days from event to due date");
      else
        o.deadline_days = static_cast<int>(*ov.deadline_days);
    }
    if (ov.grace_days) o.grace_days = *ov.grace_days;
    if (ov.min_count) {
      if (*ov.min_count < 1 || *ov.min_count > 366)
        error(ov.min_count_loc, "min_count must be between 1 and 366" + std::string(kDash) +
                                    "write how many times the duty is due per window");
      else
        o.min_count = static_cast<int>(*ov.min_count);
    }
  }
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

// Points every location of a part at file index `file` (a cached part read when the file had
// another index, e.g. after an include was added before it).
void relocate(FilePart& p, std::uint16_t file) {
  auto fix = [file](SourceLoc& l) { l.file = file; };
  auto fix_s = [&](StringAt& s) { fix(s.loc); };
  auto fix_v = [&](std::vector<StringAt>& v) {
    for (auto& s : v) fix_s(s);
  };
  for (auto& x : p.orgs) fix(x.loc);
  for (auto& r : p.org_refs) fix_s(r.parent), fix_s(r.discipline), fix(r.id_loc);
  for (auto& x : p.persons) fix(x.loc);
  for (auto& l : p.person_id_locs) fix(l);
  for (auto& x : p.posts) fix(x.loc);
  for (auto& r : p.post_refs) {
    fix_s(r.person), fix_s(r.org), fix_s(r.role);
    fix(r.from_loc), fix(r.until_loc), fix(r.in_charge_loc);
    fix_v(r.in_charge_of);
  }
  for (auto& x : p.obligations) fix(x.loc);
  for (auto& l : p.obligation_id_locs) fix(l);
  for (auto& o : p.overrides) {
    fix_s(o.obligation);
    for (auto* opt : {&o.due, &o.rrule, &o.window_start, &o.timing_note})
      if (*opt) fix_s(**opt);
    if (o.applies_to) fix_v(*o.applies_to);
    if (o.levels) fix_v(*o.levels);
    fix(o.deadline_loc), fix(o.min_count_loc);
    if (o.ladder) fix_s(*o.ladder);
  }
  for (auto& l : p.ladders) {
    fix(l.loc), fix(l.id_loc);
    for (auto& step : l.via_locs)
      for (auto& v : step) fix(v);
  }
  for (auto& c : p.channels) fix(c.channel.loc), fix(c.id_loc), fix_v(c.orgs);
  for (auto& k : p.ladders_for_kinds) fix(k.loc), fix_s(k.kind), fix_s(k.ladder);
  if (p.reminders) {
    fix(p.reminders->loc);
    if (p.reminders->alert_channel) fix_s(*p.reminders->alert_channel);
    fix_v(p.reminders->holidays);
    if (p.reminders->templates) fix_s(*p.reminders->templates);
  }
  for (auto& x : p.events) fix(x.loc);
  for (auto& r : p.event_refs) fix_s(r.obligation), fix_s(r.org), fix_s(r.person);
  for (auto& d : p.diags) fix(d.at);
  for (auto& i : p.includes) fix_s(i);
  p.file = file;
}

// A copy, or the value itself when the part is not kept.
template <typename T>
T take(T& x, bool consume) {
  if (consume) return std::move(x);
  return x;
}

void Loader::merge(FilePart& p, std::uint16_t file, bool consume) {
  if (p.file != file) relocate(p, file);
  for (auto& d : p.diags) report(d.severity, d.at, take(d.message, consume));
  if (p.timezone) cfg_.timezone = *p.timezone;
  if (p.daemon) cfg_.daemon = *p.daemon;
  if (p.accountability) cfg_.accountability = *p.accountability;
  for (std::size_t i = 0; i < p.orgs.size(); ++i) {
    const Org& org = p.orgs[i];
    auto [it, fresh] = cfg_.org_index.emplace(org.id, static_cast<std::int32_t>(cfg_.orgs.size()));
    if (!fresh) {
      const SourceLoc first = cfg_.orgs[static_cast<std::size_t>(it->second)].loc;
      error(p.org_refs[i].id_loc, "duplicate id '" + org.id +
                                      "': an org with this id is already defined at " +
                                      cfg_.files[first.file] + ":" + std::to_string(first.line) +
                                      kDash + "give every org its own id");
      continue;
    }
    cfg_.orgs.push_back(take(p.orgs[i], consume));
    org_refs_.push_back(&p.org_refs[i]);
  }
  for (std::size_t i = 0; i < p.persons.size(); ++i) {
    const Person& person = p.persons[i];
    auto [it, fresh] =
        cfg_.person_index.emplace(person.id, static_cast<std::int32_t>(cfg_.persons.size()));
    if (!fresh) {
      const SourceLoc first = cfg_.persons[static_cast<std::size_t>(it->second)].loc;
      error(p.person_id_locs[i], "duplicate id '" + person.id +
                                     "': a person with this id is already defined at " +
                                     cfg_.files[first.file] + ":" + std::to_string(first.line) +
                                     kDash + "give every person their own id");
      continue;
    }
    cfg_.persons.push_back(take(p.persons[i], consume));
  }
  for (std::size_t i = 0; i < p.posts.size(); ++i) {
    cfg_.posts.push_back(take(p.posts[i], consume));
    post_refs_.push_back(&p.post_refs[i]);
  }
  for (std::size_t i = 0; i < p.obligations.size(); ++i) {
    const Obligation& o = p.obligations[i];
    auto [it, fresh] =
        cfg_.obligation_index.emplace(o.id, static_cast<std::int32_t>(cfg_.obligations.size()));
    if (!fresh) {
      const Obligation& first = cfg_.obligations[static_cast<std::size_t>(it->second)];
      error(p.obligation_id_locs[i],
            "duplicate id '" + o.id + "': an obligation with this id is already defined at " +
                cfg_.files[first.loc.file] + ":" + std::to_string(first.loc.line) + kDash +
                (first.local || !o.local ? "give every obligation its own id"
                                         : "to change a catalogue entry use [[override]]"));
      continue;
    }
    cfg_.obligations.push_back(take(p.obligations[i], consume));
  }
  for (const auto& o : p.overrides) overrides_.push_back(&o);
  for (std::size_t i = 0; i < p.events.size(); ++i) {
    cfg_.events.push_back(take(p.events[i], consume));
    event_refs_.push_back(&p.event_refs[i]);
  }
  if (p.reminders) reminders_ = &*p.reminders;
  for (LadderSpec& spec : p.ladders) {
    auto [it, fresh] =
        cfg_.ladder_index.emplace(spec.ladder.id, static_cast<std::int32_t>(cfg_.ladders.size()));
    if (!fresh) {
      const SourceLoc first = ladder_specs_[static_cast<std::size_t>(it->second)]->loc;
      error(spec.id_loc, "duplicate id '" + spec.ladder.id +
                             "': a ladder with this id is already defined at " +
                             cfg_.files[first.file] + ":" + std::to_string(first.line) + kDash +
                             "give every ladder its own id");
      continue;
    }
    cfg_.ladders.push_back(take(spec.ladder, consume));
    ladder_specs_.push_back(&spec);
  }
  for (ChannelSpec& spec : p.channels) {
    auto [it, fresh] = cfg_.channel_index.emplace(spec.channel.id,
                                                  static_cast<std::int32_t>(cfg_.channels.size()));
    if (!fresh) {
      const SourceLoc first = cfg_.channels[static_cast<std::size_t>(it->second)].loc;
      error(spec.id_loc, "duplicate id '" + spec.channel.id +
                             "': a channel with this id is already defined at " +
                             cfg_.files[first.file] + ":" + std::to_string(first.line) + kDash +
                             "give every channel its own id");
      continue;
    }
    cfg_.channels.push_back(take(spec.channel, consume));
    channel_specs_.push_back(&spec);
  }
  for (const LadderForSpec& spec : p.ladders_for_kinds) ladder_for_specs_.push_back(&spec);
}

void Loader::finish() {
  resolve_orgs();
  resolve_posts();
  check_posts_over_time();
  resolve_reminders();
  apply_overrides();
  resolve_events();
}

struct FileJob {
  std::string path;
  FileKind kind;
  std::uint16_t file;
  std::shared_ptr<FilePart> part;
  bool reused = false;
};

// Reads a file's bytes and, unless the cache holds a part for exactly these bytes, parses them.
void read_job(FileJob& job, const std::string& main_path, const LoadCache::Impl* cache) {
  auto part = std::make_shared<FilePart>();
  part->kind = job.kind;
  part->file = job.file;
  try {
    std::ifstream in(job.path, std::ios::binary);
    std::string text;
    if (in) {
      std::ostringstream buf;
      buf << in.rdbuf();
      text = buf.str();
    }
    if (!in) {
      part->readable = false;
      part->diags.push_back({Severity::error,
                             {job.file, 1, 1},
                             "cannot open the file: " + std::string(std::strerror(errno)) + kDash +
                                 "check the path and the permissions"});
    } else {
      part->size = text.size();
      part->hash = std::hash<std::string_view>{}(text);
      if (cache) {
        auto it = cache->parts.find(job.path);
        if (it != cache->parts.end() && it->second->kind == job.kind &&
            it->second->size == part->size && it->second->hash == part->hash) {
          job.part = it->second;
          job.reused = true;
          return;
        }
      }
      FileReader(*part, job.path, main_path).read(text);
    }
  } catch (const std::exception& e) {  // out of memory, most likely: never lose the message
    part->readable = false;
    part->diags.push_back({Severity::error,
                           {job.file, 1, 1},
                           std::string("cannot read the file: ") + e.what() + kDash +
                               "check the file and the memory available to dutyd"});
  }
  job.part = std::move(part);
}

// Reads the jobs on up to four threads: each holds one TOML document at a time.
void read_all(std::vector<FileJob>& jobs, const std::string& main_path,
              const LoadCache::Impl* cache) {
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i; (i = next++) < jobs.size();) read_job(jobs[i], main_path, cache);
  };
  const std::size_t threads =
      std::min<std::size_t>(jobs.size(), std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

}  // namespace

LoadCache::LoadCache() : impl_(std::make_unique<Impl>()) {}
LoadCache::~LoadCache() = default;

LoadResult load_config(const std::string& path, const LoadOptions& options, LoadCache* cache) {
  LoadResult result;
  result.config = std::make_shared<Config>();
  Loader loader(*result.config, result.diagnostics);
  LoadCache::Impl* impl = cache ? cache->impl_.get() : nullptr;
  if (impl && impl->main_path != path) *impl = {path, {}};
  // The catalogue first, so that a local [[obligation]] reusing a catalogue id is the one
  // reported (with a hint to use [[override]]).
  const std::string catalogue =
      options.catalogue_path.empty() ? default_catalogue_path() : options.catalogue_path;
  std::vector<FileJob> jobs;
  jobs.push_back({catalogue, FileKind::catalogue, loader.add_file(catalogue), nullptr});
  jobs.push_back({path, FileKind::main, loader.add_file(path), nullptr});
  read_all(jobs, path, impl);
  // The includes, in the order of the patterns and, within one, of the file names.
  std::vector<FileJob> includes;
  const std::uint16_t main_file = jobs[1].file;
  const fs::path base = fs::path(path).parent_path();
  for (const StringAt& inc : jobs[1].part->includes) {
    const SourceLoc at{main_file, inc.loc.line, inc.loc.column};
    const std::string pattern =
        fs::path(inc.value).is_absolute() ? inc.value : (base / inc.value).string();
    glob_t g{};
    const int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &g);
    std::vector<std::string> matches;
    if (rc == 0)
      for (std::size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
    ::globfree(&g);
    std::sort(matches.begin(), matches.end());
    if (matches.empty()) {
      const bool wildcard = inc.value.find_first_of("*?[") != std::string::npos;
      loader.report(wildcard ? Severity::warning : Severity::error, at,
                    "include '" + inc.value + "' matches no file" + kDash +
                        (wildcard ? "nothing is included from it" : "check the path"));
    }
    for (const auto& m : matches)
      if (!loader.has_file(m)) includes.push_back({m, FileKind::part, loader.add_file(m), nullptr});
  }
  read_all(includes, path, impl);
  jobs.insert(jobs.end(), std::make_move_iterator(includes.begin()),
              std::make_move_iterator(includes.end()));

  std::size_t orgs = 0, persons = 0, posts = 0;
  for (const FileJob& job : jobs)
    orgs += job.part->orgs.size(), persons += job.part->persons.size(),
        posts += job.part->posts.size();
  loader.reserve(orgs, persons, posts);
  std::unordered_map<std::string, std::shared_ptr<FilePart>> kept;
  for (FileJob& job : jobs) {
    loader.merge(*job.part, job.file, impl == nullptr);
    ++(job.reused ? result.files_reused : result.files_parsed);
    if (impl && job.part->readable) kept.emplace(job.path, job.part);
  }
  if (impl) impl->parts = std::move(kept);  // forget files no longer included
  loader.finish();
  result.diagnostics.sort(result.config->files);
  return result;
}

LoadResult load_catalogue(const std::string& path) {
  LoadResult result;
  result.config = std::make_shared<Config>();
  Loader loader(*result.config, result.diagnostics);
  FileJob job{path, FileKind::catalogue, loader.add_file(path), nullptr};
  read_job(job, "", nullptr);
  loader.merge(*job.part, job.file, true);
  loader.finish();
  return result;
}

}  // namespace dutyd
