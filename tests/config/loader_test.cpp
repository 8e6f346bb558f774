// The configuration loader: the example is clean, and every file of the broken corpus
// (tests/config/broken) yields the diagnostics its `# expect-...` header lines name.
#include <fstream>
#include <regex>
#include <sstream>

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
    EXPECT_TRUE(std::any_of(c.orgs.begin(), c.orgs.end(), [&](const Org& o) { return o.kind == kind; }))
        << to_string(kind);
  }
  for (const char* group : {"npc", "government", "cppcc", "court", "procuratorate", "inspection"})
    EXPECT_TRUE(std::any_of(c.orgs.begin(), c.orgs.end(), [&](const Org& o) { return o.subtype == group; })) << group;
  for (const char* dept : {"office", "organization", "propaganda", "united-front", "political-legal"})
    EXPECT_TRUE(std::any_of(c.orgs.begin(), c.orgs.end(), [&](const Org& o) { return o.subtype == dept; })) << dept;
  // The override in the example moved a6.1.plan to 28 February.
  EXPECT_EQ(c.find_obligation("a6.1.plan")->rrule, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28");
}

TEST(Loader, CorpusIsLargeEnough) { EXPECT_GE(corpus().size(), 25u); }

class BrokenConfig : public ::testing::TestWithParam<fs::path> {};

TEST_P(BrokenConfig, ReportsExpectedDiagnostics) {
  const fs::path file = GetParam();
  const auto expected = expectations(file);
  ASSERT_FALSE(expected.empty()) << file << " has no # expect- lines";
  LoadResult r = load_config(file.string(), {test::catalogue()});
  const bool wants_error = std::any_of(expected.begin(), expected.end(),
                                       [](const Expectation& e) { return e.severity == Severity::error; });
  EXPECT_EQ(r.ok(), !wants_error);
  std::string all;
  for (const auto& d : r.diagnostics.items()) all += format(d) + "\n";
  for (const auto& e : expected) {
    const std::string want_file = e.file_suffix.empty() ? file.string() : (file.parent_path() / e.file_suffix).string();
    const bool found = std::any_of(r.diagnostics.items().begin(), r.diagnostics.items().end(), [&](const Diagnostic& d) {
      return d.severity == e.severity && d.file == want_file && d.line == e.line &&
             (e.column == 0 || d.column == e.column) && d.message.find(e.text) != std::string::npos;
    });
    EXPECT_TRUE(found) << "expected " << (e.severity == Severity::error ? "error" : "warning") << " at "
                       << want_file << ":" << e.line << ":" << e.column << " containing '" << e.text
                       << "'; got:\n" << all;
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
)"), {test::catalogue()});
  ASSERT_EQ(r.diagnostics.error_count(), 1u);
  EXPECT_NE(r.diagnostics.items()[0].message.find("did you mean 'parent'?"), std::string::npos);
  EXPECT_EQ(r.diagnostics.items()[0].line, 7u);
}

TEST(Loader, IdsMustBeSafeForUidsAndUrls) {
  LoadResult r = load_config(test::write_temp("ids.toml", R"(
[[person]]
id = "王 某"
name = "王某"
)"), {test::catalogue()});
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
)"), {test::catalogue()});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.diagnostics.items()[0].message.find("use [[override]]"), std::string::npos);
}

TEST(Loader, DueOverrideRefusesMultiDateRule) {
  LoadResult r = load_config(test::write_temp("due-multi.toml", R"(
[[override]]
obligation = "a6.1.analysis"
due = "05-31"
)"), {test::catalogue()});
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

}  // namespace
}  // namespace dutyd
