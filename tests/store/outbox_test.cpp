// The durable outbox in the store: idempotent enqueue, the claim / sent / retry / failed
// transitions, recovery of rows a crash left in flight, cancellation by a completion in the
// completion's own transaction, catch-up supersession, the v1 -> v2 migration, and the history
// `dutyd deliveries` prints from it.
#include <algorithm>
#include <sstream>

#include "daemon/cli.hpp"
#include "store/store.hpp"
#include "support/support.hpp"

namespace dutyd {
namespace {

using test::file_bytes;
using test::fresh_db;

constexpr std::int64_t kT0 = 1782003600;  // 2026-06-21T01:00:00Z
const std::string kOcc = "a6.1.analysis/dl/2026H1@dutyd";
const std::string kOther = "a6.1.plan/dl/2026@dutyd";

OutboxEntry entry(const std::string& occ, int step, const std::string& person,
                  const std::string& channel, std::int64_t send_at) {
  return {occ, step, person, channel, "dl", "responsible", send_at, "【提醒】分析研判"};
}

std::string status_of(Store& s, const std::string& occ, int step,
                      const std::string& channel = "mail") {
  DeliveryFilter f;
  f.occurrence = occ;
  for (const auto& d : s.deliveries(f))
    if (d.step == step && d.channel == channel) return d.status;
  return "missing";
}

std::int64_t count_actions(Store& s, const std::string& action) {
  SQLite::Statement q(s.db(), "SELECT count(*) FROM audit WHERE action = ?");
  q.bind(1, action);
  q.executeStep();
  return q.getColumn(0).getInt64();
}

CompletionInput completion_of(const std::string& uid) {
  CompletionInput in;
  in.uid = uid;
  in.done_on = make_day(2026, 6, 25);
  in.minutes_ref = "常委会纪要〔2026〕7号";
  in.recorded_by = "p-ouyang";
  in.channel = "api";
  return in;
}

TEST(Outbox, EnqueueIsIdempotent) {
  Store s(fresh_db("outbox-enqueue.db"));
  const std::vector<OutboxEntry> plan{entry(kOcc, 0, "p-qian", "mail", kT0),
                                      entry(kOcc, 1, "p-ouyang", "mail", kT0 + 86400),
                                      entry(kOcc, 1, "p-ouyang", "dl-wecom", kT0 + 86400)};
  EXPECT_EQ(s.enqueue_deliveries(plan, kT0 - 60).added, 3u);
  EXPECT_EQ(s.enqueue_deliveries(plan, kT0 - 30).added, 0u);  // a re-plan after a restart
  auto more = plan;
  more.push_back(entry(kOcc, 2, "p-ouyang", "dl-wecom", kT0 + 2 * 86400));
  EXPECT_EQ(s.enqueue_deliveries(more, kT0).added, 1u);
  const auto rows = s.deliveries({});
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& d : rows) {
    EXPECT_EQ(d.status, "queued");
    EXPECT_EQ(d.attempts, 0);
    EXPECT_EQ(d.next_attempt_at, d.send_at);
    EXPECT_FALSE(d.sent_at);
  }
  EXPECT_EQ(rows[0].created_at, kT0 - 60);  // the second enqueue did not touch it
  EXPECT_EQ(rows[0].subject, "【提醒】分析研判");
  EXPECT_EQ(rows[3].created_at, kT0);
  // Filters: status, occurrence, planned time, limit.
  DeliveryFilter f;
  f.from = kT0 + 86400;
  f.to = kT0 + 86400;
  EXPECT_EQ(s.deliveries(f).size(), 2u);
  f = {};
  f.limit = 1;
  EXPECT_EQ(s.deliveries(f).size(), 1u);
  f = {};
  f.occurrence = kOther;
  EXPECT_TRUE(s.deliveries(f).empty());
  f = {};
  f.status = "sent";
  EXPECT_TRUE(s.deliveries(f).empty());
}

TEST(Outbox, ClaimSentRetryFailed) {
  Store s(fresh_db("outbox-claim.db"));
  s.enqueue_deliveries(
      {entry(kOcc, 0, "p-qian", "mail", kT0), entry(kOcc, 1, "p-qian", "mail", kT0 + 100)},
      kT0 - 10);
  EXPECT_TRUE(s.claim_due_deliveries(kT0 - 1, 10).empty());  // nothing due yet
  auto claimed = s.claim_due_deliveries(kT0, 10);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].step, 0);
  EXPECT_EQ(claimed[0].status, "sending");
  EXPECT_EQ(status_of(s, kOcc, 0), "sending");
  EXPECT_TRUE(
      s.claim_due_deliveries(kT0 + 50, 10).empty());  // a row in flight is not claimed twice
  EXPECT_TRUE(s.mark_delivery_sent(claimed[0].id, kT0 + 2));
  EXPECT_FALSE(s.mark_delivery_sent(claimed[0].id, kT0 + 3));  // only a row in flight
  DeliveryFilter sent;
  sent.status = "sent";
  ASSERT_EQ(s.deliveries(sent).size(), 1u);
  EXPECT_EQ(s.deliveries(sent)[0].sent_at, kT0 + 2);

  // A transient failure: back to queued with the attempt counted and the next attempt later.
  claimed = s.claim_due_deliveries(kT0 + 100, 10);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_TRUE(s.mark_delivery_retry(
      claimed[0].id,
      "HTTP 503 from https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETKEY123&debug=1",
      kT0 + 160));
  DeliveryFilter f;
  f.occurrence = kOcc;
  auto row = s.deliveries(f)[1];
  EXPECT_EQ(row.status, "queued");
  EXPECT_EQ(row.attempts, 1);
  EXPECT_EQ(row.next_attempt_at, kT0 + 160);
  EXPECT_EQ(row.send_at, kT0 + 100);  // the planned time stays
  EXPECT_EQ(row.last_error.find("SECRETKEY123"), std::string::npos) << row.last_error;
  EXPECT_NE(row.last_error.find("key=***&debug=1"), std::string::npos) << row.last_error;
  EXPECT_TRUE(s.claim_due_deliveries(kT0 + 159, 10).empty());  // backing off
  claimed = s.claim_due_deliveries(kT0 + 160, 10);
  ASSERT_EQ(claimed.size(), 1u);
  // A permanent failure stops the row.
  EXPECT_TRUE(s.mark_delivery_failed(claimed[0].id, "errcode 93000: invalid webhook url"));
  row = s.deliveries(f)[1];
  EXPECT_EQ(row.status, "failed");
  EXPECT_EQ(row.attempts, 2);
  EXPECT_EQ(row.last_error, "errcode 93000: invalid webhook url");
  EXPECT_TRUE(s.claim_due_deliveries(kT0 + 100000, 10).empty());
  EXPECT_FALSE(s.mark_delivery_retry(claimed[0].id, "late", kT0 + 200000));
}

std::int64_t count_of(Store& s, const std::string& sql) {
  return s.db().execAndGet(sql).getInt64();
}

// A claim is one row of the claim journal (the ids, committed before anything is sent); the
// claimed rows themselves are not written until their answer. Readers and other connections see
// them as `sending`; answered or released rows leave the journal, and a claim with nothing left
// open is deleted.
TEST(Outbox, ClaimsAreOneJournalRowEach) {
  const std::string path = fresh_db("outbox-journal.db");
  Store s(path);
  std::vector<OutboxEntry> plan;
  for (int i = 0; i < 6; ++i) plan.push_back(entry(kOcc, i, "p-qian", "mail", kT0));
  s.enqueue_deliveries(plan, kT0 - 10);
  const auto a = s.claim_due_deliveries(kT0, 4);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(count_of(s, "SELECT count(*) FROM delivery_claims"), 1);
  EXPECT_EQ(count_of(s, "SELECT count(*) FROM deliveries WHERE status = 'queued'"),
            6);  // rows untouched
  EXPECT_EQ(s.db().execAndGet("SELECT ids FROM delivery_claims").getString(),
            "[" + std::to_string(a[0].id) + "," + std::to_string(a[1].id) + "," +
                std::to_string(a[2].id) + "," + std::to_string(a[3].id) + "]");
  {
    Store other(path);  // e.g. `dutyd deliveries` while the daemon sends
    DeliveryFilter f;
    f.status = "sending";
    EXPECT_EQ(other.count_deliveries(f), 4u);
    f.status = "queued";
    EXPECT_EQ(other.count_deliveries(f), 2u);
  }
  const auto b = s.claim_due_deliveries(kT0, 10);
  ASSERT_EQ(b.size(), 2u);  // the rest, not the rows in flight
  EXPECT_EQ(count_of(s, "SELECT count(*) FROM delivery_claims"), 2);
  // Answered in part: the claim lists what is still open.
  EXPECT_TRUE(s.mark_delivery_sent(a[0].id, kT0 + 1));
  EXPECT_TRUE(s.mark_delivery_retry(a[1].id, "HTTP 503", kT0 + 60));
  EXPECT_EQ(count_of(s, "SELECT count(*) FROM delivery_claims, json_each(delivery_claims.ids)"), 4);
  EXPECT_EQ(status_of(s, kOcc, a[1].step),
            "queued");  // waiting for its next attempt, not in flight
  s.release_deliveries({a[2].id, a[3].id});
  EXPECT_EQ(count_of(s, "SELECT count(*) FROM delivery_claims"), 1);  // a's claim is settled: gone
  EXPECT_FALSE(s.mark_delivery_sent(a[2].id, kT0 + 2));  // released: no longer answered here
  for (const auto& d : b) EXPECT_TRUE(s.mark_delivery_sent(d.id, kT0 + 2));
  EXPECT_EQ(count_of(s, "SELECT count(*) FROM delivery_claims"), 0);
  // The released rows are claimed again; the retried one when it is due.
  const auto c = s.claim_due_deliveries(kT0 + 60, 10);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].id, a[2].id);
  EXPECT_EQ(c[1].id, a[3].id);
  EXPECT_EQ(c[2].id, a[1].id);
}

// A claim reads on from where the last one of its channel stopped; a row due earlier that is
// queued meanwhile (behind that point) is claimed once the channel has nothing in flight, or a
// minute later at the latest, and never a row in flight twice.
TEST(Outbox, RowsQueuedBehindAClaimAreClaimedLater) {
  Store s(fresh_db("outbox-cursor.db"));
  std::vector<OutboxEntry> plan;
  for (int i = 0; i < 4; ++i) plan.push_back(entry(kOcc, i, "p-qian", "mail", kT0 + i));
  s.enqueue_deliveries(plan, kT0 - 10);
  const auto a = s.claim_due_deliveries(kT0 + 10, 2, "mail");
  ASSERT_EQ(a.size(), 2u);
  s.enqueue_deliveries({entry(kOther, 0, "p-qian", "mail", kT0 - 100)},
                       kT0 + 10);  // due before all
  const auto b = s.claim_due_deliveries(kT0 + 10, 10, "mail");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].step, 2);
  EXPECT_EQ(b[1].step, 3);
  EXPECT_TRUE(s.claim_due_deliveries(kT0 + 69, 10, "mail").empty());
  const auto late = s.claim_due_deliveries(kT0 + 70, 10, "mail");  // a minute on: from the start
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].occurrence, kOther);
  // Nothing in flight: from the start at once.
  for (const auto* batch : {&a, &b, &late})
    for (const auto& d : *batch) ASSERT_TRUE(s.mark_delivery_sent(d.id, kT0 + 71));
  s.enqueue_deliveries({entry(kOther, 1, "p-qian", "mail", kT0 - 50)}, kT0 + 72);
  const auto next = s.claim_due_deliveries(kT0 + 72, 10, "mail");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].step, 1);
}

TEST(Outbox, ClaimsEarliestFirstUpToTheLimit) {
  Store s(fresh_db("outbox-limit.db"));
  std::vector<OutboxEntry> plan;
  for (int i = 0; i < 5; ++i) plan.push_back(entry(kOcc, i, "p-qian", "mail", kT0 - 10 * i));
  s.enqueue_deliveries(plan, kT0 - 100);
  const auto first = s.claim_due_deliveries(kT0, 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].step, 4);
  EXPECT_EQ(first[1].step, 3);
  EXPECT_EQ(s.claim_due_deliveries(kT0, 10).size(), 3u);
}

// Written before sending: a crash between claim and outcome leaves the row `sending`; the
// daemon's start puts it back to `queued`, so it is sent again (the one duplicate possible).
TEST(Outbox, RowsInFlightAtACrashAreQueuedAgain) {
  const std::string path = fresh_db("outbox-crash.db");
  {
    Store s(path);
    s.enqueue_deliveries(
        {entry(kOcc, 0, "p-qian", "mail", kT0), entry(kOcc, 1, "p-qian", "mail", kT0),
         entry(kOcc, 2, "p-qian", "mail", kT0 + 3600)},
        kT0 - 10);
    const auto claimed = s.claim_due_deliveries(kT0, 10);
    ASSERT_EQ(claimed.size(), 2u);
    EXPECT_TRUE(s.mark_delivery_sent(claimed[0].id, kT0 + 1));
    // The process dies here: claimed[1] was in flight.
  }
  {
    Store cli(path);  // another command opening the store changes nothing
    EXPECT_EQ(status_of(cli, kOcc, 1), "sending");
  }
  Store s(path);
  EXPECT_EQ(s.requeue_interrupted_deliveries(kT0 + 60), 1u);
  EXPECT_EQ(status_of(s, kOcc, 0), "sent");
  EXPECT_EQ(status_of(s, kOcc, 1), "queued");
  EXPECT_EQ(status_of(s, kOcc, 2), "queued");
  const auto again = s.claim_due_deliveries(kT0 + 60, 10);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].step, 1);
  EXPECT_EQ(again[0].attempts, 0);  // a crash is not a failed attempt
  EXPECT_EQ(s.requeue_interrupted_deliveries(kT0 + 61), 1u);
  EXPECT_EQ(s.requeue_interrupted_deliveries(kT0 + 62), 0u);
  EXPECT_EQ(count_actions(s, "delivery.requeue"), 2);
  EXPECT_FALSE(s.verify_audit().first_broken);
}

TEST(Outbox, CompletionCancelsTheLadderInItsTransaction) {
  Store s(fresh_db("outbox-complete.db"));
  s.enqueue_deliveries(
      {entry(kOcc, 0, "p-qian", "mail", kT0), entry(kOcc, 1, "p-ouyang", "mail", kT0 + 10),
       entry(kOcc, 2, "p-ouyang", "mail", kT0 + 86400),
       entry(kOther, 0, "p-ouyang", "mail", kT0 + 20)},
      kT0 - 10);
  const auto claimed = s.claim_due_deliveries(kT0 + 10, 1);
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_TRUE(s.mark_delivery_sent(claimed[0].id, kT0 + 1));   // step 0: sent
  const auto in_flight = s.claim_due_deliveries(kT0 + 10, 1);  // step 1: being sent
  ASSERT_EQ(in_flight.size(), 1u);
  ASSERT_EQ(status_of(s, kOcc, 1), "sending");

  // If the completion's transaction fails, neither the completion nor the cancellation stays.
  s.db().exec(
      "CREATE TEMP TRIGGER refuse_cancel BEFORE INSERT ON audit WHEN NEW.action = "
      "'delivery.cancel' "
      "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  EXPECT_ANY_THROW(s.record_completion(completion_of(kOcc), false, "2026-06-25T02:00:00Z"));
  EXPECT_TRUE(s.completions_after(0).empty());
  EXPECT_EQ(status_of(s, kOcc, 1), "sending");
  EXPECT_EQ(status_of(s, kOcc, 2), "queued");
  s.db().exec("DROP TRIGGER refuse_cancel");

  const auto r = s.record_completion(completion_of(kOcc), false, "2026-06-25T02:00:00Z");
  EXPECT_TRUE(r.created);
  EXPECT_EQ(status_of(s, kOcc, 0), "sent");  // history is kept
  EXPECT_EQ(status_of(s, kOcc, 1), "cancelled");
  EXPECT_EQ(status_of(s, kOcc, 2), "cancelled");
  EXPECT_FALSE(s.mark_delivery_sent(in_flight[0].id, kT0 + 30));  // stays cancelled
  const auto still_due = s.claim_due_deliveries(kT0 + 2 * 86400, 10);
  ASSERT_EQ(still_due.size(), 1u);  // another occurrence's ladder runs on
  EXPECT_EQ(still_due[0].occurrence, kOther);
  SQLite::Statement q(s.db(),
                      "SELECT actor, subject, detail FROM audit WHERE action = 'delivery.cancel'");
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(q.getColumn(0).getString(), "p-ouyang");
  EXPECT_EQ(q.getColumn(1).getString(), kOcc);
  EXPECT_EQ(q.getColumn(2).getString(), "count=2 completion=" + std::to_string(r.completion.id));
  EXPECT_FALSE(q.executeStep());
  // The same completion again cancels nothing more and writes no cancel row.
  EXPECT_FALSE(s.record_completion(completion_of(kOcc), false, "2026-06-25T02:00:05Z").created);
  EXPECT_EQ(count_actions(s, "delivery.cancel"), 1);
  // A plan made before the completion and enqueued after it does not revive the ladder.
  EXPECT_EQ(
      s.enqueue_deliveries({entry(kOcc, 3, "p-ouyang", "mail", kT0 + 5 * 86400)}, kT0 + 20).added,
      0u);
  const AuditCheck check = s.verify_audit();
  EXPECT_FALSE(check.first_broken) << check.problem;
  EXPECT_EQ(check.rows, 2);  // completion.record, delivery.cancel
  EXPECT_EQ(s.cancel_deliveries(kOther, "admin:1", "2026-06-25T03:00:00Z"), 1u);
  EXPECT_FALSE(s.verify_audit().first_broken);
}

TEST(Outbox, CatchUpSupersedesEarlierUnsentSteps) {
  Store s(fresh_db("outbox-catchup.db"));
  // Before the outage: steps 0 and 1 by mail queued, step 1 in the chat group in flight.
  s.enqueue_deliveries(
      {entry(kOcc, 0, "p-ouyang", "mail", kT0), entry(kOcc, 1, "p-ouyang", "mail", kT0 + 86400),
       entry(kOcc, 1, "p-ouyang", "dl-wecom", kT0 + 86400),
       entry(kOther, 0, "p-ouyang", "mail", kT0)},
      kT0 - 10);
  {
    auto chat = s.claim_due_deliveries(kT0 + 86400, 10);
    for (const auto& d : chat)
      if (d.channel != "dl-wecom")
        s.mark_delivery_retry(d.id, "connection refused", kT0 - 1);  // back to queued
  }
  // Three days later the catch-up enqueues the latest step only.
  const auto r = s.enqueue_deliveries({entry(kOcc, 3, "p-ouyang", "mail", kT0 + 3 * 86400),
                                       entry(kOcc, 3, "p-ouyang", "dl-wecom", kT0 + 3 * 86400)},
                                      kT0 + 3 * 86400, true);
  EXPECT_EQ(r.added, 2u);
  EXPECT_EQ(r.superseded, 2u);  // mail steps 0 and 1
  EXPECT_EQ(status_of(s, kOcc, 0), "superseded");
  EXPECT_EQ(status_of(s, kOcc, 1), "superseded");
  EXPECT_EQ(status_of(s, kOcc, 1, "dl-wecom"), "sending");  // in flight: cannot be taken back
  EXPECT_EQ(status_of(s, kOther, 0), "queued");             // other occurrences untouched
  const auto due = s.claim_due_deliveries(kT0 + 3 * 86400, 10);
  ASSERT_EQ(due.size(), 3u);
  for (const auto& d : due)
    EXPECT_TRUE(d.occurrence == kOther || d.step == 3) << d.occurrence << " " << d.step;
  // Enqueued again (a second catch-up pass): nothing new, nothing more superseded.
  const auto again = s.enqueue_deliveries({entry(kOcc, 3, "p-ouyang", "mail", kT0 + 3 * 86400)},
                                          kT0 + 3 * 86400, true);
  EXPECT_EQ(again.added, 0u);
  EXPECT_EQ(again.superseded, 0u);
}

std::vector<std::string> schema_of(Store& s) {
  std::vector<std::string> out;
  SQLite::Statement q(
      s.db(),
      "SELECT type || ' ' || name || ': ' || ifnull(sql, '') FROM sqlite_master ORDER BY name");
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  return out;
}

// A version 1 database (as the previous dutyd left it: the same tables, without the outbox)
// gains the outbox in place; a database newer than this dutyd is refused untouched.
TEST(Outbox, MigratesAVersion1DatabaseInPlace) {
  std::vector<std::string> fresh_schema;
  {
    Store s(fresh_db("outbox-fresh.db"));
    fresh_schema = schema_of(s);
  }
  const std::string path = fresh_db("outbox-v1.db");
  std::string secret;
  {
    Store s(path);
    secret = s.issue_token("feed", "person", "p-qian", "", "2026-06-01T00:00:00Z").second;
    s.record_completion(completion_of(kOcc), false, "2026-06-25T02:00:00Z");
    // Back to schema version 1: migrations 2, 4, 5 and 6 only add tables and their indexes (3 adds
    // columns to the outbox).
    s.db().exec("DROP TABLE delivery_claims");
    s.db().exec("DROP TABLE events");
    s.db().exec("DROP TABLE flag_transitions");
    s.db().exec("DROP TABLE flags");
    s.db().exec("DROP TABLE deliveries");
    s.db().exec("PRAGMA user_version = 1");
  }
  {
    SQLite::Database raw(path);
    EXPECT_FALSE(raw.tableExists("deliveries"));
  }
  Store s(path);
  EXPECT_EQ(s.db().execAndGet("PRAGMA user_version").getInt(), Store::kSchemaVersion);
  EXPECT_EQ(schema_of(s), fresh_schema);
  EXPECT_TRUE(s.find_token(secret));
  EXPECT_EQ(s.completions_after(0).size(), 1u);
  const AuditCheck check = s.verify_audit();
  EXPECT_EQ(check.rows, 2);
  EXPECT_FALSE(check.first_broken) << check.problem;
  EXPECT_EQ(s.enqueue_deliveries({entry(kOther, 0, "p-qian", "mail", kT0)}, kT0).added, 1u);
}

TEST(Outbox, RefusesADatabaseOneVersionNewer) {
  const std::string path = fresh_db("outbox-newer.db");
  {
    Store s(path);
    s.db().exec("DROP TABLE deliveries");
    s.db().exec("PRAGMA user_version = " + std::to_string(Store::kSchemaVersion + 1));
  }
  const std::string before = file_bytes(path);
  EXPECT_THROW(Store s(path), StoreError);
  EXPECT_EQ(file_bytes(path), before);
  SQLite::Database raw(path);
  EXPECT_FALSE(raw.tableExists("deliveries"));
}

TEST(Outbox, ErrorsKeepNoSecrets) {
  EXPECT_EQ(
      redact_error(
          "POST https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=1&sign=xyz%3D "
          "failed"),
      "POST https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=*** failed");
  EXPECT_EQ(redact_error("smtp://dutyd:hunter2@mail.example.gov.cn:587: 535 auth failed"),
            "smtp://***@mail.example.gov.cn:587: 535 auth failed");
  EXPECT_EQ(redact_error("Authorization: Bearer dutyd_ABC rejected"),
            "Authorization: Bearer *** rejected");
  EXPECT_EQ(redact_error("errcode 310000: 关键词不匹配"), "errcode 310000: 关键词不匹配");
  const std::string long_text = std::string(499, 'x') + "错误";  // the cut falls inside 错
  EXPECT_EQ(redact_error(long_text), std::string(499, 'x'));
}

// `dutyd deliveries` prints what the store holds (the CLI test covers the empty history and
// the errors).
TEST(Outbox, DeliveriesCommandPrintsTheHistory) {
  const std::string path = fresh_db("outbox-cli.db");
  {
    Store s(path);
    s.enqueue_deliveries(
        {entry(kOcc, 0, "p-qian", "mail", kT0), entry(kOcc, 1, "p-ouyang", "dl-wecom", kT0 + 86400),
         entry(kOther, 0, "p-ouyang", "mail", kT0)},
        kT0 - 10);
    const auto claimed = s.claim_due_deliveries(kT0, 1);
    ASSERT_EQ(claimed.size(), 1u);
    s.mark_delivery_sent(claimed[0].id, kT0 + 5);
  }
  auto run = [&](std::vector<std::string> extra, std::string& out_text) {
    std::vector<std::string> args{
        "deliveries", "-c", test::example(), "--catalogue", test::catalogue(),
        "--database", path};  // as run_cli gets them from main()
    args.insert(args.end(), extra.begin(), extra.end());
    std::ostringstream out, err;
    const int rc = run_cli(args, out, err);
    out_text = out.str();
    EXPECT_EQ(err.str(), "");
    return rc;
  };
  std::string text;
  ASSERT_EQ(run({"--occurrence", kOcc}, text), 0);
  EXPECT_NE(text.find("2026-06-21 09:00  已发送(sent)  0  #1  mail  钱某（responsible）  " + kOcc),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("2026-06-22 09:00  待发送(queued)  0  #2  dl-wecom"), std::string::npos)
      << text;
  EXPECT_NE(text.find("2 delivery(ies)"), std::string::npos) << text;
  ASSERT_EQ(run({"--format", "json", "--status", "sent"}, text), 0);
  EXPECT_EQ(text, "{\"id\":1,\"occurrence\":\"" + kOcc +
                      "\",\"step\":0,\"person\":\"p-qian\",\"channel\":\"mail\",\"org\":\"dl\","
                      "\"relation\":\"responsible\","
                      "\"send_at\":\"2026-06-21T01:00:00Z\",\"status\":\"sent\",\"attempts\":0,"
                      "\"next_attempt_at\":\"2026-06-21T01:00:00Z\",\"last_error\":\"\",\"sent_"
                      "at\":\"2026-06-21T01:00:05Z\","
                      "\"created_at\":\"2026-06-21T00:59:50Z\",\"subject\":\"【提醒】分析研判\","
                      "\"purpose\":\"reminder\",\"note\":\"\"}\n");
}

// What the scheduler needs of the outbox: claims per channel, due counts, the next wake-up,
// results applied in one batch, release on stop and catch-up coalescing.
TEST(Outbox, SchedulerOperations) {
  Store s(fresh_db("outbox-scheduler.db"));
  s.enqueue_deliveries(
      {entry(kOcc, 0, "p-qian", "mail", kT0), entry(kOcc, 0, "p-ouyang", "dl-wecom", kT0),
       entry(kOcc, 0, "p-zhao", "dl-wecom", kT0 + 10),
       entry(kOther, 0, "p-qian", "mail", kT0 + 3600)},
      kT0 - 60);
  auto due = s.due_by_channel(kT0 + 10);
  std::sort(due.begin(), due.end());
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0], (std::pair<std::string, std::size_t>{"dl-wecom", 2}));
  EXPECT_EQ(due[1], (std::pair<std::string, std::size_t>{"mail", 1}));
  EXPECT_EQ(s.next_due({}), kT0);
  EXPECT_EQ(s.next_due({"mail", "dl-wecom"}), std::nullopt);
  EXPECT_EQ(s.next_due({"dl-wecom"}), kT0);

  const auto wecom = s.claim_due_deliveries(kT0 + 10, 10, "dl-wecom");
  ASSERT_EQ(wecom.size(), 2u);
  for (const auto& d : wecom) EXPECT_EQ(d.channel, "dl-wecom");
  const auto mail = s.claim_due_deliveries(kT0 + 10, 10, "mail");
  ASSERT_EQ(mail.size(), 1u);

  // One batch: sent, retry, failed; a cancelled row that is no longer sending is not applied.
  s.release_deliveries({mail[0].id});
  EXPECT_EQ(status_of(s, kOcc, 0, "mail"), "queued");
  const auto applied =
      s.record_outcomes({{wecom[0].id, DeliveryOutcome::sent, kT0 + 11, 0, ""},
                         {wecom[1].id, DeliveryOutcome::retry, 0, kT0 + 100, "HTTP 503 key=abcdef"},
                         {mail[0].id, DeliveryOutcome::failed, 0, 0, "550 no such user"}},
                        kT0 + 12);
  EXPECT_EQ(applied, (std::vector<bool>{true, true, false}));  // mail was released, not sending
  DeliveryFilter f;
  f.occurrence = kOcc;
  for (const auto& d : s.deliveries(f)) {
    if (d.id == wecom[0].id) {
      EXPECT_EQ(d.status, "sent");
      EXPECT_EQ(d.sent_at, kT0 + 11);
    } else if (d.id == wecom[1].id) {
      EXPECT_EQ(d.status, "queued");
      EXPECT_EQ(d.attempts, 1);
      EXPECT_EQ(d.next_attempt_at, kT0 + 100);
      EXPECT_EQ(d.last_error.find("abcdef"), std::string::npos) << d.last_error;  // redacted
    }
  }
  // A cancellation is audited with its reason.
  const auto again = s.claim_due_deliveries(kT0 + 20, 10, "mail");
  ASSERT_EQ(again.size(), 1u);
  const auto before = count_actions(s, "delivery.cancel");
  EXPECT_EQ(s.record_outcomes(
                {{again[0].id, DeliveryOutcome::cancelled, 0, 0, "no longer planned"}}, kT0 + 21),
            std::vector<bool>{true});
  EXPECT_EQ(count_actions(s, "delivery.cancel"), before + 1);
  EXPECT_EQ(status_of(s, kOcc, 0, "mail"), "cancelled");

  // Catch-up: three missed steps to one recipient and channel leave only the latest; a step
  // not yet due and another recipient's row are untouched.
  s.enqueue_deliveries({entry(kOther, 1, "p-ouyang", "mail", kT0 + 86400),
                        entry(kOther, 2, "p-ouyang", "mail", kT0 + 2 * 86400),
                        entry(kOther, 3, "p-ouyang", "mail", kT0 + 3 * 86400),
                        entry(kOther, 4, "p-ouyang", "mail", kT0 + 9 * 86400)},
                       kT0);
  EXPECT_EQ(s.coalesce_due_deliveries(kT0 + 4 * 86400), 2u);
  EXPECT_EQ(status_of(s, kOther, 1), "superseded");
  EXPECT_EQ(status_of(s, kOther, 2), "superseded");
  EXPECT_EQ(status_of(s, kOther, 3), "queued");
  EXPECT_EQ(status_of(s, kOther, 4), "queued");
  EXPECT_EQ(status_of(s, kOther, 0), "queued");  // p-qian's own row
  EXPECT_EQ(count_actions(s, "delivery.coalesce"), 1);

  EXPECT_EQ(s.meta("reminders.planned_until"), std::nullopt);
  s.set_meta("reminders.planned_until", "123");
  s.set_meta("reminders.planned_until", "456");
  EXPECT_EQ(s.meta("reminders.planned_until"), "456");
  EXPECT_FALSE(s.verify_audit().first_broken);
}

// Fallback and alert rows keep their purpose and note.
// A burst's results: sent rows of several seconds in one batch, each with its own time; a row no
// longer `sending` (cancelled by a completion meanwhile) is reported as not applied, in place.
TEST(Outbox, ManySentResultsInOneBatch) {
  Store s(fresh_db("outbox-many-sent.db"));
  std::vector<OutboxEntry> plan;
  for (int step = 0; step < 6; ++step)
    plan.push_back(entry(kOcc, step, "p-qian", "mail", kT0 + step));
  ASSERT_EQ(s.enqueue_deliveries(plan, kT0 - 60).added, 6u);
  const auto rows = s.claim_due_deliveries(kT0 + 10, 10, "mail");
  ASSERT_EQ(rows.size(), 6u);
  s.release_deliveries({rows[3].id});  // queued again: its result does not apply
  std::vector<DeliveryOutcome> outcomes;
  for (std::size_t i = 0; i < rows.size(); ++i)
    outcomes.push_back(
        {rows[i].id, DeliveryOutcome::sent, kT0 + 20 + static_cast<std::int64_t>(i % 2), 0, ""});
  outcomes[5] = {rows[5].id, DeliveryOutcome::retry, 0, kT0 + 100, "HTTP 503"};
  EXPECT_EQ(s.record_outcomes(outcomes, kT0 + 22),
            (std::vector<bool>{true, true, true, false, true, true}));
  DeliveryFilter f;
  f.occurrence = kOcc;
  for (const auto& d : s.deliveries(f)) {
    const auto i = static_cast<std::size_t>(
        std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.id == d.id; }) -
        rows.begin());
    ASSERT_LT(i, rows.size());
    if (i == 3) {
      EXPECT_EQ(d.status, "queued");
    } else if (i == 5) {
      EXPECT_EQ(d.status, "queued");
      EXPECT_EQ(d.attempts, 1);
    } else {
      EXPECT_EQ(d.status, "sent") << i;
      EXPECT_EQ(d.sent_at, kT0 + 20 + static_cast<std::int64_t>(i % 2)) << i;
    }
  }
}

TEST(Outbox, PurposeAndNoteAreKept) {
  Store s(fresh_db("outbox-purpose.db"));
  OutboxEntry e = entry(kOcc, 1, "p-qian", "mail", kT0);
  e.purpose = "fallback";
  e.note = "dl-wecom: errcode 93000";
  s.enqueue_deliveries({e}, kT0);
  const auto rows = s.deliveries({});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].purpose, "fallback");
  EXPECT_EQ(rows[0].note, "dl-wecom: errcode 93000");
}

}  // namespace
}  // namespace dutyd
