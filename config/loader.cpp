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

#include "base/files.hpp"
#include "config/loader_internal.hpp"

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

struct LoadCache::Impl {
  std::string main_path;
  std::unordered_map<std::string, std::shared_ptr<detail::FilePart>> parts;  // by path
};

namespace detail {

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

namespace {

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

}  // namespace

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

}  // namespace detail

namespace {
using namespace detail;

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
    std::string text;
    try {
      text = read_regular_file(job.path, kMaxConfigFileBytes, "the configuration file");
    } catch (const FileReadError& e) {
      // A missing or unreadable file is "cannot open the file: <errno text> — ..."; a FIFO,
      // device or directory, or a file above the cap, says so ("the file is a FIFO ...").
      const bool open_failed =
          e.kind == FileReadError::not_found || e.kind == FileReadError::unreadable;
      part->readable = false;
      part->diags.push_back(
          {Severity::error,
           {job.file, 1, 1},
           open_failed ? "cannot open the file: " + e.reason.substr(e.reason.find(": ") + 2)
                       : "the file " + e.reason});
      job.part = std::move(part);
      return;
    }
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
