// The store: audit chain verification and tamper detection, schema versions, idempotent
// completions, token secrets that are never stored, and re-derivation (retire, reassign).
#include <fstream>
#include <functional>
#include <sstream>

#include "base/crypto.hpp"
#include "base/text.hpp"
#include "calendar/snapshot.hpp"
#include "http/service.hpp"
#include "store/store.hpp"
#include "support/support.hpp"

namespace dutyd {
namespace {

using test::file_bytes;
using test::fresh_db;

TEST(Store, AuditChainDetectsTampering) {
  const std::string path = fresh_db("audit.db");
  {
    Store s(path);
    s.audit("tester", "a", "x", "one", "2026-01-01T00:00:00Z");
    s.audit("tester", "b", "y", "two", "2026-01-01T00:00:01Z");
    s.audit("tester", "c", "z", "three", "2026-01-01T00:00:02Z");
    const AuditCheck ok = s.verify_audit();
    EXPECT_EQ(ok.rows, 3);
    EXPECT_FALSE(ok.first_broken);
    s.db().exec("UPDATE audit SET detail = 'forged' WHERE id = 2");
    const AuditCheck bad = s.verify_audit();
    ASSERT_TRUE(bad.first_broken);
    EXPECT_EQ(*bad.first_broken, 2);
  }
  {
    Store s(path);
    s.db().exec("UPDATE audit SET detail = 'two' WHERE id = 2");  // repaired
    EXPECT_FALSE(s.verify_audit().first_broken);
    s.db().exec("DELETE FROM audit WHERE id = 2");
    const AuditCheck gap = s.verify_audit();
    ASSERT_TRUE(gap.first_broken);
    EXPECT_EQ(*gap.first_broken, 2);
  }
}

TEST(Store, RefusesNewerSchemaWithoutChangingIt) {
  const std::string path = fresh_db("newer.db");
  {
    Store s(path);
    s.db().exec("PRAGMA user_version = 99");
  }
  const std::string before = file_bytes(path);
  try {
    Store s(path);
    FAIL() << "a database from a newer dutyd was accepted";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not changed"), std::string::npos) << e.what();
  }
  EXPECT_EQ(file_bytes(path), before);
}

TEST(Store, RefusesAFileThatIsNotADatabase) {
  const std::string path = test::write_temp("garbage.db", std::string(4096, 'x'));
  EXPECT_THROW(Store s(path), StoreError);
  EXPECT_EQ(file_bytes(path), std::string(4096, 'x'));
}

TEST(Store, CompletionsAreIdempotent) {
  Store s(fresh_db("completions.db"));
  CompletionInput in;
  in.uid = "a6.1.analysis/dl/2026H2@dutyd";
  in.done_on = make_day(2026, 11, 20);
  in.minutes_ref = "常委会纪要〔2026〕12号";
  in.recorded_by = "p-a";
  in.channel = "api";
  const auto first = s.record_completion(in, false, "2026-11-27T01:00:00Z");
  const auto again = s.record_completion(in, false, "2026-11-27T01:00:05Z");
  EXPECT_TRUE(first.created);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(first.completion.id, again.completion.id);
  in.done_on = make_day(2026, 11, 21);  // a second meeting is a second completion
  EXPECT_TRUE(s.record_completion(in, false, "2026-11-27T01:00:06Z").created);
  EXPECT_EQ(s.completions_after(0).size(), 2u);
  EXPECT_EQ(s.verify_audit().rows, 2);  // one audit row per recorded completion
}

TEST(Store, TokenSecretsAreNeverStored) {
  const std::string path = fresh_db("tokens.db");
  std::string secret;
  {
    Store s(path);
    auto [rec, sec] = s.issue_token("feed", "person", "p-a", "", "2026-11-27T01:00:00Z");
    secret = sec;
    EXPECT_GE(secret.size(), 32u);  // >= 160 bits in base32
    ASSERT_TRUE(s.find_token(secret));
    EXPECT_EQ(s.find_token(secret)->subject, "p-a");
    EXPECT_FALSE(s.find_token(secret + "x"));
    EXPECT_TRUE(s.revoke_token(rec.id, "cli", "2026-11-27T02:00:00Z"));
    EXPECT_FALSE(s.revoke_token(rec.id, "cli", "2026-11-27T02:00:00Z"));
    EXPECT_TRUE(s.find_token(secret)->revoked_at);
    s.db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  EXPECT_EQ(file_bytes(path).find(secret), std::string::npos);
  EXPECT_NE(file_bytes(path).find(sha256_hex(secret)), std::string::npos);
}

TEST(Store, LinkKeyIsCreatedOnce) {
  const std::string path = fresh_db("key.db");
  std::string key;
  {
    Store s(path);
    key = s.link_key("2026-11-27T01:00:00Z");
  }
  Store s(path);
  EXPECT_EQ(s.link_key("2026-11-28T01:00:00Z"), key);
  EXPECT_GE(key.size(), 50u);
}

// Re-derivation against the store: a post changing hands is audited as a reassignment, a
// disabled duty retires its occurrences, and nothing is lost across a restart.
TEST(Derivation, RetiresAndReassigns) {
  const char* base = R"(
[[org]]
id = "o"
name = "中共戊县委"
kind = "party-committee"
level = "county"
[[person]]
id = "a"
name = "甲"
[[person]]
id = "b"
name = "乙"
[[post]]
person = "a"
org = "o"
role = "principal"
from = 2024-01-01
)";
  const std::string db = fresh_db("derive.db");
  const Day today = make_day(2026, 11, 27);
  Store store(db);
  Service service(store, Clock{}, "key");
  auto first = test::load_inline("derive1.toml", base);
  service.install(std::make_shared<const Snapshot>(first.config, today), "config.load");
  // a hands over to b on 2026-12-01; the half-yearly analysis is switched off.
  auto second = test::load_inline("derive2.toml", std::string(base) + R"(until = 2026-11-30
[[post]]
person = "b"
org = "o"
role = "principal"
from = 2026-12-01
[[override]]
obligation = "a6.1.analysis"
disable = true
)");
  service.install(std::make_shared<const Snapshot>(second.config, today), "config.reload");
  SQLite::Statement q(store.db(), "SELECT action, subject, detail FROM audit ORDER BY id");
  std::map<std::string, std::vector<std::string>> by_action;
  while (q.executeStep())
    by_action[q.getColumn(0).getString()].push_back(q.getColumn(1).getString() + " " +
                                                    q.getColumn(2).getString());
  // Year-end 2026 duties move from a to b.
  bool lecture_moved = false;
  for (const auto& r : by_action["occurrence.reassign"])
    lecture_moved |= r == "a7.6.lecture/o/2026@dutyd from=a to=b";
  EXPECT_TRUE(lecture_moved);
  // Six half-years of analyses in 2025-2027 are retired, not deleted.
  const auto retired = store.retired();
  EXPECT_EQ(std::count_if(retired.begin(), retired.end(),
                          [](const auto& r) { return r.obligation == "a6.1.analysis"; }),
            6);
  EXPECT_EQ(by_action["occurrence.retire"].size(), retired.size());
  EXPECT_FALSE(store.verify_audit().first_broken);
  // Installing the same configuration again changes nothing.
  const auto rows = store.verify_audit().rows;
  service.install(std::make_shared<const Snapshot>(second.config, today), "config.reload");
  EXPECT_EQ(store.verify_audit().rows, rows + 1);  // only the reload's own summary row
}

}  // namespace
}  // namespace dutyd

namespace dutyd {
namespace {

TEST(Snapshot, StreamedUidHashEqualsHashOfTheString) {
  LoadResult r = load_config(test::example(), {test::catalogue()});
  ASSERT_TRUE(r.ok());
  const Snapshot snap(r.config, make_day(2026, 11, 27));
  ASSERT_GT(snap.occurrence_count(), 500u);
  std::size_t seen = 0;
  snap.for_each_occurrence([&](const Occurrence& o, const Expansion&) {
    ++seen;
    const std::string uid = snap.expander().uid(o);
    ASSERT_EQ(uid_hash(snap.expander(), o), uid_hash(uid)) << uid;
    const auto found = snap.find(uid);
    ASSERT_TRUE(found) << uid;
    EXPECT_EQ(found->occurrence, &o) << uid;
  });
  EXPECT_EQ(seen, snap.occurrence_count());
  EXPECT_FALSE(snap.find("a6.1.plan/nowhere/2026@dutyd"));
  EXPECT_FALSE(snap.find("a6.1.plan/dl/1999@dutyd"));
  EXPECT_FALSE(snap.find("no-slash"));
}

// One line per occurrence, in order, naming everything by id (indices differ between
// configurations), with the UID hash; then the block's digest.
std::vector<std::string> describe_block(const Snapshot& s, std::int32_t org) {
  const Config& c = s.config();
  const OrgBlock& b = s.block(org);
  auto person = [&](std::int32_t i) {
    return i < 0 ? std::string("-") : c.persons[static_cast<std::size_t>(i)].id;
  };
  auto org_id = [&](std::int32_t i) {
    return i < 0 ? std::string("-") : c.orgs[static_cast<std::size_t>(i)].id;
  };
  std::vector<std::string> out;
  EXPECT_EQ(b.uid_hashes.size(), b.expansion.occurrences.size());
  for (std::size_t k = 0; k < b.expansion.occurrences.size(); ++k) {
    const Occurrence& o = b.expansion.occurrences[k];
    std::string line = s.expander().uid(o) + " org=" + org_id(o.org) +
                       " person=" + person(o.person) + " member=" + person(o.member) +
                       " with=" + person(o.counterpart_person) + "/" + org_id(o.counterpart_org) +
                       " window=" + format_day(o.window_start) + " due=" + format_day(o.due) +
                       " preds=";
    for (std::int32_t p : b.expansion.predecessors(o)) line += person(p) + ",";
    if (o.event >= 0) {
      const Event& ev = c.events[static_cast<std::size_t>(o.event)];
      line += " event=" + c.obligations[static_cast<std::size_t>(ev.obligation)].id + "@" +
              format_day(ev.date) + "/" + org_id(ev.org) + "/" + person(ev.person);
    }
    EXPECT_EQ(b.uid_hashes[k], uid_hash(s.expander().uid(o))) << line;
    out.push_back(line);
  }
  out.push_back("digest " + b.digest);
  return out;
}

// A snapshot's feeds hold exactly what one global expansion filtered by person or organisation
// holds, in the same order.
TEST(Snapshot, FeedsEqualTheGlobalExpansion) {
  LoadResult r = load_config(test::example(), {test::catalogue()});
  ASSERT_TRUE(r.ok());
  const Snapshot snap(r.config, make_day(2026, 11, 27));
  const Expander& ex = snap.expander();
  auto lines = [&](const Expansion& e) {
    std::vector<std::string> out;
    for (const Occurrence& o : e.occurrences) {
      std::string l =
          ex.uid(o) + " " + std::to_string(o.person) + " " + format_day(o.window_start) + " ";
      for (std::int32_t p : e.predecessors(o)) l += std::to_string(p) + ",";
      out.push_back(l);
    }
    return out;
  };
  const Config& c = snap.config();
  const Expansion all = ex.expand(snap.horizon_from(), snap.horizon_to());
  EXPECT_EQ(all.occurrences.size(), snap.occurrence_count());
  for (std::size_t p = 0; p < c.persons.size(); ++p) {
    const auto person = static_cast<std::int32_t>(p);
    EXPECT_EQ(lines(snap.for_person(person)),
              lines(ex.expand(snap.horizon_from(), snap.horizon_to(), {person, -1})))
        << c.persons[p].id;
  }
  for (std::size_t o = 0; o < c.orgs.size(); ++o) {
    const auto org = static_cast<std::int32_t>(o);
    EXPECT_EQ(lines(snap.for_org(org)),
              lines(ex.expand(snap.horizon_from(), snap.horizon_to(), {-1, org})))
        << c.orgs[o].id;
  }
}

// A snapshot derived from the previous one (reusing the blocks of organisations whose inputs
// did not change) equals one derived from scratch, edit after edit of the example.
TEST(Snapshot, IncrementalEqualsFromScratch) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(test::write_temp("incremental/.keep", "")).parent_path();
  fs::create_directories(dir);
  fs::copy(test::source_dir() / "config/examples", dir,
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const std::string main_file = (dir / "province.toml").string();
  auto edit = [&](const std::string& file, const std::string& from, const std::string& to) {
    const fs::path path = dir / file;
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << file << ": " << from;
    text.replace(at, from.size(), to);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  };
  const Day today = make_day(2026, 11, 27);
  auto load = [&] {
    LoadResult r = load_config(main_file, {test::catalogue()});
    for (const auto& d : r.diagnostics.items())
      if (d.severity == Severity::error) ADD_FAILURE() << format(d);
    return r.config;
  };
  auto previous = std::make_shared<const Snapshot>(load(), today);
  struct Step {
    const char* what;
    std::function<void()> apply;
    bool everything_derived;  // the obligations changed: nothing can be reused
    bool renumbers = false;   // persons or organisations move: some blocks are copied
  };
  const std::vector<Step> steps{
      {"nothing changed", [] {}, false},
      {"a post's until",
       [&] { edit("conf.d/dalian.toml", "until = 2026-06-15", "until = 2026-06-10"); }, false},
      {"a new person and post (later persons move)",
       [&] {
         edit("conf.d/dalian.toml", "[[person]]\nid = \"p-qian\"",
              "[[person]]\nid = \"p-new\"\nname = \"新某\"\n\n[[post]]\nperson = \"p-new\"\norg = "
              "\"dl-zzb\"\n"
              "role = \"member\"\nfrom = 2026-03-01\n\n[[person]]\nid = \"p-qian\"");
       },
       false, true},
      {"an organisation removed (later organisations move)",
       [&] {
         edit("conf.d/wafangdian.toml",
              "[[org]]\nid = \"wfd-bgs\"\nname = \"中共瓦房店市委办公室\"\nkind = \"department\"\n"
              "department = \"office\"\nlevel = \"county\"\nparent = \"wfd\"\ndiscipline_organ = "
              "\"wfd-jw\"\n",
              "");
         edit("conf.d/wafangdian.toml", "in_charge_of = [\"wfd-bgs\"]",
              "in_charge_of = [\"wfd-zzb\"]");
         edit("conf.d/wafangdian.toml",
              "[[post]]\nperson = \"p-hua\"\norg = \"wfd-bgs\"\nrole = \"principal\"\nfrom = "
              "2024-01-01\n",
              "");
       },
       false, true},
      {"a parent's discipline organ",
       [&] {
         edit("conf.d/dalian.toml", "discipline_organ = \"dl-jw\"    # 同级纪检监察机关", "");
       },
       false},
      {"a new event",
       [&] {
         edit("province.toml", "[[event]]\n",
              "[[event]]\nobligation = \"a6.9.review\"\norg = \"wfd\"\ndate = "
              "2026-09-02\n\n[[event]]\n");
       },
       false},
      {"an override", [&] { edit("province.toml", "due = \"02-28\"", "due = \"03-15\""); }, true},
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(step.what);
    step.apply();
    const auto config = load();
    ASSERT_TRUE(config);
    const auto incremental = std::make_shared<const Snapshot>(config, today, previous.get());
    const Snapshot scratch(config, today);
    EXPECT_EQ(incremental->occurrence_count(), scratch.occurrence_count());
    for (std::size_t o = 0; o < config->orgs.size(); ++o) {
      const auto org = static_cast<std::int32_t>(o);
      EXPECT_EQ(describe_block(*incremental, org), describe_block(scratch, org))
          << config->orgs[o].id;
      EXPECT_EQ(incremental->org_body(org), scratch.org_body(org)) << config->orgs[o].id;
      EXPECT_EQ(incremental->block(org).inputs, scratch.block(org).inputs) << config->orgs[o].id;
    }
    const auto& stats = incremental->derive_stats();
    EXPECT_EQ(stats.built + stats.shared + stats.remapped, config->orgs.size());
    if (step.everything_derived) {
      EXPECT_EQ(stats.built, config->orgs.size());
    } else {
      EXPECT_GT(stats.shared, config->orgs.size() / 2)
          << "built " << stats.built << ", remapped " << stats.remapped;
      EXPECT_LT(stats.built, config->orgs.size() / 4);
    }
    if (step.renumbers) {
      EXPECT_GT(stats.remapped, 0u);
    }
    previous = incremental;
  }
}

}  // namespace
}  // namespace dutyd

namespace dutyd {
namespace {

TEST(CleanText, RejectsInvalidUtf8AndDropsControls) {
  EXPECT_EQ(clean_text("会议纪要〔2026〕12号"), "会议纪要〔2026〕12号");
  EXPECT_EQ(clean_text("a\tb\nc"), "a\tb\nc");
  EXPECT_EQ(clean_text(std::string("x\0y\x07z\x1b\x7f", 7)), "xyz");
  EXPECT_EQ(clean_text("\xC2\x85"), "");  // C1 control NEL
  EXPECT_EQ(clean_text("𠮷"), "𠮷");
  EXPECT_FALSE(clean_text("\xFF\xFE"));
  EXPECT_FALSE(clean_text("\xC3\x28"));          // bad continuation
  EXPECT_FALSE(clean_text("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(clean_text("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(clean_text("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(clean_text("\xE4\xB8"));          // truncated
}

}  // namespace
}  // namespace dutyd
