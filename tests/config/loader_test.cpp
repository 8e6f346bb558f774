// The configuration loader: the example is clean, and every file of the broken corpus
// (tests/config/broken) yields the diagnostics its `# expect-...` header lines name.
#include <fstream>
#include <regex>
#include <sstream>

#include "notifiers/reminder_data.hpp"
#include "support/support.hpp"

namespace dutyd {
namespace {

namespace fs = std::filesystem;
using test::source_dir;

struct Expectation {
  Severity severity;
  std::string file_suffix;  // empty: the file itself
  std::uint32_t line = 0;
  std::uint32_t column = 0;  // 0: any column
  std::string text;
};

std::vector<Expectation> expectations(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<Expectation> out;
  std::string line;
  const std::regex re(R"(^# expect-(error|warning): (?:([^\s:]+):)?(\d+):(\d+) (.+)$)");
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) != 0) break;
    std::smatch m;
    if (!std::regex_match(line, m, re)) continue;
    out.push_back({m[1] == "error" ? Severity::error : Severity::warning, m[2],
                   static_cast<std::uint32_t>(std::stoul(m[3])),
                   static_cast<std::uint32_t>(std::stoul(m[4])), m[5]});
  }
  return out;
}

std::vector<fs::path> corpus() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(source_dir() / "tests/config/broken"))
    if (e.is_regular_file() && e.path().extension() == ".toml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Loader, ExampleIsValidWithoutWarnings) {
  LoadResult r = load_config(test::example(), {test::catalogue()});
  for (const auto& d : r.diagnostics.items()) ADD_FAILURE() << format(d);
  EXPECT_TRUE(r.ok());
  const Config& c = *r.config;
  EXPECT_EQ(c.files.size(), 4u);  // main, two includes, catalogue
  EXPECT_GE(c.persons.size(), 25u);
  EXPECT_GE(c.obligations.size(), 60u);
  // Every actor kind of the regulation is present.
  for (auto kind : {OrgKind::party_committee, OrgKind::standing_committee, OrgKind::party_group,
                    OrgKind::department, OrgKind::discipline_inspection, OrgKind::leading_group}) {
    EXPECT_TRUE(std::any_of(c.orgs.begin(), c.orgs.end(), [&](const Org& o) {
      return o.kind == kind;
    })) << to_string(kind);
  }
  for (const char* group : {"npc", "government", "cppcc", "court", "procuratorate", "inspection"})
    EXPECT_TRUE(std::any_of(c.orgs.begin(), c.orgs.end(), [&](const Org& o) {
      return o.subtype == group;
    })) << group;
  for (const char* dept :
       {"office", "organization", "propaganda", "united-front", "political-legal"})
    EXPECT_TRUE(std::any_of(c.orgs.begin(), c.orgs.end(), [&](const Org& o) {
      return o.subtype == dept;
    })) << dept;
  // The override in the example moved a6.1.plan to 28 February.
  EXPECT_EQ(c.find_obligation("a6.1.plan")->rrule, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28");
}

TEST(Loader, CorpusIsLargeEnough) {
  EXPECT_GE(corpus().size(), 25u);
}

class BrokenConfig : public ::testing::TestWithParam<fs::path> {};

TEST_P(BrokenConfig, ReportsExpectedDiagnostics) {
  const fs::path file = GetParam();
  const auto expected = expectations(file);
  ASSERT_FALSE(expected.empty()) << file << " has no # expect- lines";
  LoadResult r = load_config(file.string(), {test::catalogue()});
  // As check-config: the holiday and templates files [reminders] names are part of the check.
  Diagnostics data_diags;
  load_reminder_data(*r.config, data_diags);
  for (const auto& d : data_diags.items())
    r.diagnostics.add(d.severity, d.file, d.line, d.column, d.message);
  const bool wants_error = std::any_of(expected.begin(), expected.end(), [](const Expectation& e) {
    return e.severity == Severity::error;
  });
  EXPECT_EQ(r.ok(), !wants_error);
  std::string all;
  for (const auto& d : r.diagnostics.items()) all += format(d) + "\n";
  for (const auto& e : expected) {
    const std::string want_file =
        e.file_suffix.empty() ? file.string() : (file.parent_path() / e.file_suffix).string();
    const bool found = std::any_of(
        r.diagnostics.items().begin(), r.diagnostics.items().end(), [&](const Diagnostic& d) {
          return d.severity == e.severity && d.file == want_file && d.line == e.line &&
                 (e.column == 0 || d.column == e.column) &&
                 d.message.find(e.text) != std::string::npos;
        });
    EXPECT_TRUE(found) << "expected " << (e.severity == Severity::error ? "error" : "warning")
                       << " at " << want_file << ":" << e.line << ":" << e.column << " containing '"
                       << e.text << "'; got:\n"
                       << all;
  }
  // Every message says what is wrong and what to do, separated by an em dash.
  for (const auto& d : r.diagnostics.items()) {
    EXPECT_NE(d.message.find(" \xE2\x80\x94 "), std::string::npos) << format(d);
    EXPECT_GT(d.line, 0u) << format(d);
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, BrokenConfig, ::testing::ValuesIn(corpus()),
                         [](const ::testing::TestParamInfo<fs::path>& param_info) {
                           std::string n = param_info.param.stem().string();
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(Loader, MissingFileIsAnErrorNotACrash) {
  LoadResult r = load_config("/nonexistent/dutyd.toml", {test::catalogue()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.diagnostics.items().front().file, "/nonexistent/dutyd.toml");
  EXPECT_NE(r.diagnostics.items().front().message.find("cannot open"), std::string::npos);
}

TEST(Loader, UnknownKeySuggestsTheRightOne) {
  LoadResult r = load_config(test::write_temp("typo.toml", R"(
[[org]]
id = "a"
name = "甲"
kind = "party-committee"
level = "city"
parnet = "b"
)"),
                             {test::catalogue()});
  ASSERT_EQ(r.diagnostics.error_count(), 1u);
  EXPECT_NE(r.diagnostics.items()[0].message.find("did you mean 'parent'?"), std::string::npos);
  EXPECT_EQ(r.diagnostics.items()[0].line, 7u);
}

TEST(Loader, IdsMustBeSafeForUidsAndUrls) {
  LoadResult r = load_config(test::write_temp("ids.toml", R"(
[[person]]
id = "王 某"
name = "王某"
)"),
                             {test::catalogue()});
  ASSERT_EQ(r.diagnostics.error_count(), 1u);
  EXPECT_NE(r.diagnostics.items()[0].message.find("not usable"), std::string::npos);
}

TEST(Loader, LocalObligationAndOverrides) {
  LoadResult r = test::load_inline("local.toml", R"(
[[override]]
obligation = "a6.1.analysis"
disable = true

[[override]]
obligation = "a7.6.meetings"
min_count = 4

[[obligation]]
id = "local.1.tea"
article = 6
item = 1
title = "本地补充事项"
quote = "每半年至少专题分析研究一次全面从严治党、党风廉政建设工作形势。"
actor = "team"
applies_to = ["party-committee"]
rrule = "FREQ=YEARLY;BYMONTH=9;BYMONTHDAY=30"
period = "year"
recipients = ["team"]
evidence = ["会议纪要"]
art27 = 2
)");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.config->find_obligation("a6.1.analysis")->disabled);
  EXPECT_EQ(r.config->find_obligation("a7.6.meetings")->min_count, 4);
  ASSERT_NE(r.config->find_obligation("local.1.tea"), nullptr);
  EXPECT_TRUE(r.config->find_obligation("local.1.tea")->local);
}

TEST(Loader, AccountabilitySettingsAndGraceOverride) {
  LoadResult r = test::load_inline("accountability.toml", R"(
[accountability]
grace_days = 7
serious_days = 20
grave_days = 60
serious_repeats = 2
serious_open = 5
look_back_periods = 3

[[override]]
obligation = "a6.16.report-jan"
grace_days = 0
)");
  for (const auto& d : r.diagnostics.items()) ADD_FAILURE() << format(d);
  ASSERT_TRUE(r.ok());
  const Config& c = *r.config;
  const AccountabilitySettings& a = c.accountability;
  EXPECT_EQ(a.grace_days, 7);
  EXPECT_EQ(a.serious_days, 20);
  EXPECT_EQ(a.grave_days, 60);
  EXPECT_EQ(a.serious_repeats, 2);
  EXPECT_EQ(a.serious_open, 5);
  EXPECT_EQ(a.look_back_periods, 3);
  EXPECT_EQ(c.grace_days(*c.find_obligation("a6.16.report-jan")), 0);  // the override, even 0
  EXPECT_EQ(c.grace_days(*c.find_obligation("a6.1.plan")), 7);
}

TEST(Loader, AccountabilityDefaults) {
  LoadResult r = test::load_inline("no-accountability.toml", "");
  ASSERT_TRUE(r.ok());
  const AccountabilitySettings& a = r.config->accountability;
  EXPECT_EQ(a.grace_days, 5);
  EXPECT_EQ(a.look_back_periods, 2);
  EXPECT_EQ(r.config->grace_days(*r.config->find_obligation("a6.1.plan")), 5);
}

TEST(Loader, LocalObligationCannotReuseACatalogueId) {
  LoadResult r = load_config(test::write_temp("dup-obligation.toml", R"(
[[obligation]]
id = "a6.1.plan"
article = 6
item = 1
title = "重复"
quote = "重复"
actor = "team"
applies_to = ["party-committee"]
rrule = "FREQ=YEARLY;BYMONTH=9;BYMONTHDAY=30"
recipients = ["team"]
evidence = ["会议纪要"]
art27 = 2
)"),
                             {test::catalogue()});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.diagnostics.items()[0].message.find("use [[override]]"), std::string::npos);
}

TEST(Loader, DueOverrideRefusesMultiDateRule) {
  LoadResult r = load_config(test::write_temp("due-multi.toml", R"(
[[override]]
obligation = "a6.1.analysis"
due = "05-31"
)"),
                             {test::catalogue()});
  ASSERT_EQ(r.diagnostics.error_count(), 1u);
  EXPECT_NE(r.diagnostics.items()[0].message.find("several times a year"), std::string::npos);
  EXPECT_EQ(r.diagnostics.items()[0].line, 4u);
}

TEST(Loader, IncludeMatchingNothingWarns) {
  LoadResult r = load_config(test::write_temp("inc-none.toml", "include = [\"nowhere/*.toml\"]\n"),
                             {test::catalogue()});
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.diagnostics.warning_count(), 1u);
  EXPECT_NE(r.diagnostics.items()[0].message.find("matches no file"), std::string::npos);
}

// ---- the reload cache ----------------------------------------------------------------------

// Everything a load produced, as text: the records and every diagnostic with its position.
std::string dump(const LoadResult& r) {
  std::ostringstream out;
  const Config& c = *r.config;
  for (const Org& o : c.orgs)
    out << "org " << o.id << " " << o.name
        << " parent=" << (o.parent >= 0 ? c.orgs[o.parent].id : "-") << " at "
        << c.files[o.loc.file] << ":" << o.loc.line << "\n";
  for (const Person& p : c.persons)
    out << "person " << p.id << " " << p.name << " " << p.email << "\n";
  for (const Post& p : c.posts) {
    out << "post " << c.persons[p.person].id << " " << c.orgs[p.org].id << " " << format_day(p.from)
        << ".." << format_day(p.until) << " at " << c.files[p.loc.file] << ":" << p.loc.line;
    for (auto u : p.in_charge_of) out << " " << c.orgs[u].id;
    out << "\n";
  }
  for (const auto& d : r.diagnostics.items()) out << format(d) << "\n";
  return out.str();
}

// County c, its principal in post from `from`.
std::string county_c(const std::string& from) {
  return "[[org]]\nid = \"c\"\nname = \"丙县委\"\nkind = \"party-committee\"\nlevel = "
         "\"county\"\n\n"
         "[[person]]\nid = \"pc\"\nname = \"丙某\"\n\n"
         "[[post]]\nperson = \"pc\"\norg = \"c\"\nrole = \"principal\"\nfrom = " +
         from + "\n";
}

struct CacheDir {
  fs::path dir = fs::temp_directory_path() / ("dutyd-cache-test-" + std::to_string(::getpid()));
  CacheDir() {
    fs::remove_all(dir);
    fs::create_directories(dir / "conf.d");
    write("main.toml", "timezone = \"Asia/Shanghai\"\ninclude = [\"conf.d/*.toml\"]\n");
    write("conf.d/b.toml", R"([[org]]
id = "b"
name = "乙县委"
kind = "party-committee"
level = "county"

[[person]]
id = "pb"
name = "乙某"

[[post]]
person = "pb"
org = "b"
role = "principal"
from = 2024-01-01

[[post]]
person = "nobody"
org = "b"
role = "member"
from = 2024-01-01
colour = "red"
)");
    write("conf.d/c.toml", county_c("2024-01-01"));
  }
  ~CacheDir() { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name, std::ios::binary) << text;
  }
  std::string main() const { return (dir / "main.toml").string(); }
};

TEST(LoadCache, UnchangedFilesAreReusedAndTheResultEqualsAFreshLoad) {
  CacheDir d;
  LoadCache cache;
  LoadResult first = load_config(d.main(), {test::catalogue()}, &cache);
  EXPECT_EQ(first.files_parsed, 4u);  // catalogue, main, b, c
  EXPECT_EQ(first.files_reused, 0u);
  EXPECT_EQ(dump(first), dump(load_config(d.main(), {test::catalogue()})));

  // Change one post in c.toml: only c.toml is parsed again.
  d.write("conf.d/c.toml", county_c("2025-03-01"));
  LoadResult second = load_config(d.main(), {test::catalogue()}, &cache);
  EXPECT_EQ(second.files_parsed, 1u);
  EXPECT_EQ(second.files_reused, 3u);
  EXPECT_NE(dump(second).find("post pc c 2025-03-01"), std::string::npos);
  EXPECT_EQ(dump(second), dump(load_config(d.main(), {test::catalogue()})));

  // A file that is no longer included is forgotten.
  fs::remove(d.dir / "conf.d/c.toml");
  LoadResult third = load_config(d.main(), {test::catalogue()}, &cache);
  EXPECT_EQ(third.files_parsed, 0u);
  EXPECT_EQ(dump(third).find("org c "), std::string::npos);
  EXPECT_EQ(dump(third), dump(load_config(d.main(), {test::catalogue()})));
}

TEST(LoadCache, ReusedFileKeepsItsOwnPositionsWhenAnEarlierFileIsAdded) {
  CacheDir d;
  LoadCache cache;
  LoadResult first = load_config(d.main(), {test::catalogue()}, &cache);
  // b.toml: an unknown key (found while reading) and an unknown person (found when joining).
  ASSERT_EQ(first.diagnostics.error_count(), 2u);
  // a.toml sorts before b.toml, so b.toml's index in the file list moves.
  d.write("conf.d/a.toml", R"([[person]]
id = "pa"
name = "甲某"
)");
  LoadResult second = load_config(d.main(), {test::catalogue()}, &cache);
  EXPECT_EQ(second.files_parsed, 1u);
  EXPECT_EQ(dump(second), dump(load_config(d.main(), {test::catalogue()})));
  ASSERT_EQ(second.diagnostics.error_count(), 2u);
  for (const auto& diag : second.diagnostics.items()) {
    EXPECT_EQ(fs::path(diag.file).filename(), "b.toml") << format(diag);
    EXPECT_TRUE((diag.line == 18 && diag.column == 10) || (diag.line == 22 && diag.column == 1))
        << format(diag);
  }
}

TEST(LoadCache, DuplicateAcrossFilesIsFoundWhenOnlyOneChanged) {
  CacheDir d;
  LoadCache cache;
  ASSERT_TRUE(load_config(d.main(), {test::catalogue()}, &cache).diagnostics.error_count() == 2u);
  d.write("conf.d/d.toml",
          "[[org]]\nid = \"c\"\nname = \"重复\"\nkind = \"party-committee\"\nlevel = \"county\"\n");
  LoadResult r = load_config(d.main(), {test::catalogue()}, &cache);
  EXPECT_EQ(r.files_parsed, 1u);
  ASSERT_EQ(r.diagnostics.error_count(), 3u);
  EXPECT_NE(dump(r).find("d.toml:2:6: error: duplicate id 'c'"), std::string::npos) << dump(r);
}

}  // namespace
}  // namespace dutyd
