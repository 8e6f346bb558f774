// The store: audit chain verification and tamper detection, schema versions, idempotent
// completions, token secrets that are never stored, and re-derivation (retire, reassign).
#include <fstream>
#include <sstream>

#include "daemon/crypto.hpp"
#include "daemon/service.hpp"
#include "daemon/snapshot.hpp"
#include "daemon/store.hpp"
#include "support/support.hpp"

namespace dutyd {
namespace {

std::string fresh_db(const std::string& name) {
  const std::string path = test::write_temp(name, "");
  std::filesystem::remove(path);
  return path;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

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
  { Store s(path); s.db().exec("PRAGMA user_version = 99"); }
  const std::string before = slurp(path);
  try {
    Store s(path);
    FAIL() << "a database from a newer dutyd was accepted";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not changed"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(path), before);
}

TEST(Store, RefusesAFileThatIsNotADatabase) {
  const std::string path = test::write_temp("garbage.db", std::string(4096, 'x'));
  EXPECT_THROW(Store s(path), StoreError);
  EXPECT_EQ(slurp(path), std::string(4096, 'x'));
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
  EXPECT_EQ(slurp(path).find(secret), std::string::npos);
  EXPECT_NE(slurp(path).find(sha256_hex(secret)), std::string::npos);
}

TEST(Store, LinkKeyIsCreatedOnce) {
  const std::string path = fresh_db("key.db");
  std::string key;
  { Store s(path); key = s.link_key("2026-11-27T01:00:00Z"); }
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
  while (q.executeStep()) by_action[q.getColumn(0).getString()].push_back(q.getColumn(1).getString() + " " + q.getColumn(2).getString());
  // Year-end 2026 duties move from a to b.
  bool lecture_moved = false;
  for (const auto& r : by_action["occurrence.reassign"])
    lecture_moved |= r == "a7.6.lecture/o/2026@dutyd from=a to=b";
  EXPECT_TRUE(lecture_moved);
  // Six half-years of analyses in 2025-2027 are retired, not deleted.
  const auto retired = store.retired();
  EXPECT_EQ(std::count_if(retired.begin(), retired.end(), [](const auto& r) { return r.obligation == "a6.1.analysis"; }), 6);
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
  ASSERT_GT(snap.expansion().occurrences.size(), 500u);
  for (const Occurrence& o : snap.expansion().occurrences) {
    const std::string uid = snap.expander().uid(o);
    ASSERT_EQ(uid_hash(snap.expander(), o), uid_hash(uid)) << uid;
    const auto found = snap.find(uid);
    ASSERT_TRUE(found) << uid;
    EXPECT_EQ(snap.expander().uid(snap.expansion().occurrences[*found]), uid);
  }
  EXPECT_FALSE(snap.find("a6.1.plan/nowhere/2026@dutyd"));
}

}  // namespace
}  // namespace dutyd

namespace dutyd {
namespace {

TEST(CleanText, RejectsInvalidUtf8AndDropsControls) {
  EXPECT_EQ(clean_text("会议纪要〔2026〕12号"), "会议纪要〔2026〕12号");
  EXPECT_EQ(clean_text("a\tb\nc"), "a\tb\nc");
  EXPECT_EQ(clean_text(std::string("x\0y\x07z\x1b\x7f", 7)), "xyz");
  EXPECT_EQ(clean_text("\xC2\x85"), "");           // C1 control NEL
  EXPECT_EQ(clean_text("𠮷"), "𠮷");
  EXPECT_FALSE(clean_text("\xFF\xFE"));
  EXPECT_FALSE(clean_text("\xC3\x28"));            // bad continuation
  EXPECT_FALSE(clean_text("\xED\xA0\x80"));        // surrogate
  EXPECT_FALSE(clean_text("\xC0\xAF"));            // overlong '/'
  EXPECT_FALSE(clean_text("\xF4\x90\x80\x80"));    // above U+10FFFF
  EXPECT_FALSE(clean_text("\xE4\xB8"));            // truncated
}

}  // namespace
}  // namespace dutyd
