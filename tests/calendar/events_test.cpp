// Events recorded at run time: which duty a kind of event triggers for an organisation and person
// (on the example configuration), the checks a new event passes, the UID it predicts against the
// snapshot's, the merge into the configuration, the store's round trip with its audit rows and
// the cancelled reminders of a withdrawal, and the v4 -> v5 migration.
#include "calendar/events.hpp"

#include "calendar/snapshot.hpp"
#include "store/store.hpp"
#include "support/support.hpp"

namespace dutyd {
namespace {

using test::fresh_db;

const Day kToday = make_day(2026, 11, 27);
const std::string kNow = "2026-11-27T01:00:00Z";

class EventsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LoadResult r = load_config(test::example(), {test::catalogue()});
    ASSERT_TRUE(r.ok());
    config_ = r.config;
  }
  static const Config& c() { return *config_; }
  static std::int32_t org(const std::string& id) { return c().org_index.at(id); }
  static std::int32_t person(const std::string& id) { return c().person_index.at(id); }
  static std::string obligation_of(const EventTarget& t) {
    return c().obligations[static_cast<std::size_t>(t.obligation)].id;
  }
  static std::string org_of(const EventTarget& t) {
    return c().orgs[static_cast<std::size_t>(t.org)].id;
  }
  // The message of the EventError `f` throws, with its kind.
  template <typename F>
  static std::pair<EventError::Kind, std::string> error_of(F&& f) {
    try {
      f();
    } catch (const EventError& e) {
      return {e.kind, e.what()};
    }
    ADD_FAILURE() << "no EventError";
    return {EventError::invalid, ""};
  }
  static std::shared_ptr<Config> config_;
};
std::shared_ptr<Config> EventsTest::config_;

TEST_F(EventsTest, KindsMapToTheirArticleByOrganisationAndPost) {
  const Day d = make_day(2026, 11, 20);
  // 第六条第（九）项: the committee itself; a department's or party group's incident goes to the
  // committee above it.
  auto t = resolve_event_kind(c(), EventKind::incident, org("ln"), -1, d);
  EXPECT_EQ(std::make_pair(obligation_of(t), org_of(t)),
            std::make_pair(std::string("a6.9.review"), std::string("ln")));
  t = resolve_event_kind(c(), EventKind::incident, org("ln-xcb"), -1, d);
  EXPECT_EQ(org_of(t), "ln");
  t = resolve_event_kind(c(), EventKind::incident, org("ln-zf"), -1, d);
  EXPECT_EQ(org_of(t), "ln");
  // Family events: the principal's (第七条第（十一）项) or a member's (第八条第（九）项), by the
  // post held in that organisation on that day.
  t = resolve_event_kind(c(), EventKind::family_event, org("ln"), person("p-wang"), d);
  EXPECT_EQ(obligation_of(t), "a7.11.family-events");
  t = resolve_event_kind(c(), EventKind::family_event, org("ln"), person("p-li"), d);
  EXPECT_EQ(obligation_of(t), "a8.9.family-events");
  // 李某 is the principal of the government's party group (ln-zf): there 第七条 applies.
  t = resolve_event_kind(c(), EventKind::family_event, org("ln-zf"), person("p-li"), d);
  EXPECT_EQ(std::make_pair(obligation_of(t), org_of(t)),
            std::make_pair(std::string("a7.11.family-events"), std::string("ln-zf")));
  // Promotion: the organisation department of the committee, whichever org of it is named.
  for (const char* where : {"ln", "ln-xcb", "ln-zzb"}) {
    t = resolve_event_kind(c(), EventKind::promotion, org(where), -1, d);
    EXPECT_EQ(std::make_pair(obligation_of(t), org_of(t)),
              std::make_pair(std::string("a10.5.promotion-training"), std::string("ln-zzb")))
        << where;
  }
  // Dalian's organisation department for Dalian's committee.
  t = resolve_event_kind(c(), EventKind::promotion, org("dl"), -1, d);
  EXPECT_EQ(org_of(t), "dl-zzb");
}

TEST_F(EventsTest, FamilyEventsNeedAPersonWithAPostThatDay) {
  const Day d = make_day(2026, 11, 20);
  auto e = error_of([&] { resolve_event_kind(c(), EventKind::family_event, org("ln"), -1, d); });
  EXPECT_NE(e.second.find("needs --person"), std::string::npos) << e.second;
  e = error_of(
      [&] { resolve_event_kind(c(), EventKind::family_event, org("ln"), person("p-zhao"), d); });
  EXPECT_EQ(e.first, EventError::invalid);
  EXPECT_NE(e.second.find("holds no post in 'ln'"), std::string::npos) << e.second;
  // Before the post began: 2024-01-01 is the example's first day of every ln post.
  e = error_of([&] {
    resolve_event_kind(c(), EventKind::family_event, org("ln"), person("p-li"),
                       make_day(2023, 12, 31));
  });
  EXPECT_NE(e.second.find("holds no post"), std::string::npos) << e.second;
}

TEST_F(EventsTest, PrepareChecksEverythingAndPredictsTheSnapshotsUid) {
  EventRequest r{"family-event", "", "ln", "p-li", "2026-11-23", "婚礼"};
  const EventInput in = prepare_event(c(), r, kToday);
  EXPECT_EQ(in.occurrence, "a8.9.family-events/ln/2026-11-23/p-li@dutyd");
  EXPECT_EQ(std::make_tuple(in.obligation, in.org, in.person, in.kind, in.note),
            std::make_tuple(std::string("a8.9.family-events"), std::string("ln"),
                            std::string("p-li"), std::string("family-event"), std::string("婚礼")));
  // The merged configuration derives exactly that occurrence, due 7 days later.
  EventRecord stored;
  static_cast<EventInput&>(stored) = in;
  stored.id = 1;
  std::vector<std::string> skipped;
  const auto merged = with_stored_events(config_, {stored}, &skipped);
  EXPECT_TRUE(skipped.empty());
  EXPECT_EQ(merged->events.size(), c().events.size() + 1);
  const Snapshot snap(merged, kToday);
  const auto found = snap.find(in.occurrence);
  ASSERT_TRUE(found);
  EXPECT_EQ((*found)->due, make_day(2026, 11, 30));
  EXPECT_EQ(merged->persons[static_cast<std::size_t>((*found)->person)].id, "p-li");
  // A principal's duty has no person in its UID: the snapshot agrees.
  const EventInput principal =
      prepare_event(c(), {"", "a7.11.family-events", "ln", "p-wang", "2026-11-02", ""}, kToday);
  EXPECT_EQ(principal.occurrence, "a7.11.family-events/ln/2026-11-02@dutyd");
  // Now recorded: the same occurrence again is a duplicate, whoever asks.
  const auto dup = error_of([&] { prepare_event(*merged, r, kToday); });
  EXPECT_EQ(dup.first, EventError::conflict);
  EXPECT_NE(dup.second.find("duplicate event"), std::string::npos) << dup.second;

  struct Case {
    EventRequest request;
    EventError::Kind kind;
    const char* says;
  };
  const Case cases[] = {
      {{"incident", "", "nope", "", "2026-11-20", ""}, EventError::not_found, "unknown org 'nope'"},
      {{"family-event", "", "ln", "nobody", "2026-11-20", ""},
       EventError::not_found,
       "unknown person 'nobody'"},
      {{"", "a0.0.none", "ln", "", "2026-11-20", ""}, EventError::not_found, "unknown obligation"},
      {{"", "a6.1.plan", "ln", "", "2026-11-20", ""}, EventError::invalid, "not event-triggered"},
      {{"", "a8.9.family-events", "ln", "", "2026-11-20", ""}, EventError::invalid, "give person"},
      {{"", "a10.5.promotion-training", "ln", "", "2026-11-20", ""},
       EventError::invalid,
       "does not apply"},
      {{"incident", "a6.9.review", "ln", "", "2026-11-20", ""},
       EventError::invalid,
       "exactly one of"},
      {{"riot", "", "ln", "", "2026-11-20", ""}, EventError::invalid, "not one of"},
      {{"incident", "", "ln", "", "2026-11-31", ""}, EventError::invalid, "is not a date"},
      {{"incident", "", "ln", "", "2026-11-28", ""}, EventError::invalid, "in the future"},
      {{"incident", "", "ln", "", "2024-12-31", ""},
       EventError::invalid,
       "before the calendar's horizon"},
      {{"incident", "", "ln", "", "", ""}, EventError::invalid, "date is missing"},
  };
  for (const Case& k : cases) {
    const auto e = error_of([&] { prepare_event(c(), k.request, kToday); });
    EXPECT_EQ(e.first, k.kind) << k.says << ": " << e.second;
    EXPECT_NE(e.second.find(k.says), std::string::npos) << e.second;
  }
  // Due after the horizon's end (31 December 2027 with one year ahead): refused.
  Config narrow = c();
  narrow.daemon.horizon_years_ahead = 0;
  const auto late = error_of([&] {
    prepare_event(narrow, {"promotion", "", "ln", "", "2026-11-20", ""}, kToday);
  });
  EXPECT_NE(late.second.find("after the calendar's horizon"), std::string::npos) << late.second;
}

TEST_F(EventsTest, MergeLeavesOutWhatTheConfigurationNoLongerHasOrAlreadyHas) {
  EventRecord gone;
  gone.id = 1, gone.occurrence = "a6.9.review/zz/2026-11-20@dutyd", gone.obligation = "a6.9.review";
  gone.org = "zz", gone.date = make_day(2026, 11, 20);
  EventRecord withdrawn = gone;
  withdrawn.id = 2, withdrawn.org = "ln", withdrawn.withdrawn_at = kNow;
  std::vector<std::string> skipped;
  const auto merged = with_stored_events(config_, {gone, withdrawn}, &skipped);
  EXPECT_EQ(merged->events.size(), c().events.size());
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("no org 'zz'"), std::string::npos) << skipped[0];
  EXPECT_EQ(with_stored_events(config_, {}).get(), config_.get());  // nothing stored: no copy
}

EventInput sample(const std::string& occurrence = "a6.9.review/ln/2026-11-20@dutyd") {
  EventInput in;
  in.occurrence = occurrence;
  in.obligation = "a6.9.review";
  in.org = "ln";
  in.kind = "incident";
  in.date = make_day(2026, 11, 20);
  in.note = "媒体曝光";
  in.created_by = "cli:tester";
  return in;
}

TEST(EventStore, RoundTripAuditedWithdrawCancelsReminders) {
  Store s(fresh_db("events.db"));
  const EventRecord e = s.add_event(sample(), kNow);
  EXPECT_EQ(e.id, 1);
  EXPECT_EQ(
      std::make_tuple(e.occurrence, e.org, e.kind, e.date, e.note, e.created_by, e.created_at),
      std::make_tuple(sample().occurrence, std::string("ln"), std::string("incident"),
                      make_day(2026, 11, 20), std::string("媒体曝光"), std::string("cli:tester"),
                      kNow));
  EXPECT_FALSE(e.withdrawn_at);
  const std::string rev = s.events_revision();
  // One live event per occurrence.
  try {
    s.add_event(sample(), kNow);
    FAIL() << "a duplicate was stored";
  } catch (const EventError& err) {
    EXPECT_EQ(err.kind, EventError::conflict);
  }
  EXPECT_EQ(s.events_revision(), rev);
  OutboxEntry row;
  row.occurrence = e.occurrence, row.person = "p-wang", row.channel = "mail", row.org = "ln";
  row.relation = "responsible", row.send_at = 1764205200, row.subject = "提醒";
  EXPECT_EQ(s.enqueue_deliveries({row}, 1764205200).added, 1u);
  // Withdrawing needs a reason, happens once, and cancels the queued reminder with it.
  EXPECT_EQ(
      [&] {
        try {
          s.withdraw_event(e.id, "cli:tester", " ", kNow);
        } catch (const EventError& err) {
          return err.kind;
        }
        return EventError::not_found;
      }(),
      EventError::invalid);
  const EventRecord w = s.withdraw_event(e.id, "cli:tester", "录入错误", "2026-11-27T02:00:00Z");
  EXPECT_EQ(w.withdrawn_at, std::optional<std::string>("2026-11-27T02:00:00Z"));
  EXPECT_EQ(std::make_pair(w.withdrawn_by, w.withdraw_reason),
            std::make_pair(std::string("cli:tester"), std::string("录入错误")));
  EXPECT_NE(s.events_revision(), rev);
  EXPECT_EQ(s.deliveries({}).at(0).status, "cancelled");
  EXPECT_TRUE(s.events().empty());
  ASSERT_EQ(s.events(true).size(), 1u);
  for (std::int64_t id : {e.id, std::int64_t{7}}) {
    try {
      s.withdraw_event(id, "cli:tester", "again", kNow);
      FAIL() << "withdrew event " << id;
    } catch (const EventError& err) {
      EXPECT_EQ(err.kind, id == e.id ? EventError::conflict : EventError::not_found) << err.what();
    }
  }
  // The occurrence may be recorded again once the wrong event is withdrawn.
  EXPECT_EQ(s.add_event(sample(), kNow).id, 2);
  // Audited: add, withdraw (with its reason), the cancelled delivery, the second add.
  SQLite::Statement q(s.db(), "SELECT action, detail FROM audit ORDER BY id");
  std::vector<std::string> actions;
  std::string withdraw_detail;
  while (q.executeStep()) {
    actions.push_back(q.getColumn(0).getString());
    if (actions.back() == "event.withdraw") withdraw_detail = q.getColumn(1).getString();
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"event.add", "event.withdraw", "delivery.cancel",
                                               "event.add"}));
  EXPECT_NE(withdraw_detail.find("reason=录入错误"), std::string::npos) << withdraw_detail;
  EXPECT_FALSE(s.verify_audit().first_broken);
}

TEST(EventStore, MigratesAVersion4DatabaseInPlace) {
  const std::string path = fresh_db("events-v4.db");
  {
    Store s(path);
    s.audit("tester", "a", "x", "kept", kNow);
    s.db().exec("DROP TABLE delivery_claims");
    s.db().exec("DROP TABLE events");
    s.db().exec("PRAGMA user_version = 4");
  }
  Store s(path);
  EXPECT_EQ(s.db().execAndGet("PRAGMA user_version").getInt(), Store::kSchemaVersion);
  EXPECT_TRUE(s.db().tableExists("events"));
  EXPECT_EQ(s.verify_audit().rows, 1);
  EXPECT_EQ(s.add_event(sample(), kNow).id, 1);
}

}  // namespace
}  // namespace dutyd
