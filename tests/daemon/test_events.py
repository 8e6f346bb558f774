"""Events recorded at run time (`dutyd event add`, POST /api/v1/events) against the real
`dutyd run` under --now, on the example configuration with a log channel.

Facts of the example used here: 辽宁省委 (ln) has the principal 王某 (p-wang) and the member
李某 (p-li); its organisation department is ln-zzb; 宣传部 (ln-xcb) is a department of ln; 赵某
(p-zhao) holds no post in ln. The daemon starts on Friday 2026-11-27 09:00 (harness.NOW); the
default grace period is 5 days. The config overrides a6.9.review's deadline_days to 10, so an
incident's review is due 10 days after it (the catalogue says 15).
"""
import json
import unittest

import harness
from harness import Daemon, parse_ics, wait_until

NOW = harness.NOW
LOG_CHANNEL = '\n[[channel]]\nid = "log"\nkind = "log"\n'
OVERRIDE = '\n[[override]]\nobligation = "a6.9.review"\ndeadline_days = 10\n'
FAMILY_UID = "a8.9.family-events/ln/2026-11-23/p-li@dutyd"
INCIDENT_UID = "a6.9.review/ln/2026-11-20@dutyd"
PROMOTION_UID = "a10.5.promotion-training/ln-zzb/2026-11-02@dutyd"


class EventsTestCase(harness.DaemonTestCase):
    start_daemon = False

    def setUp(self):
        super().setUp()
        self.d.write_config(self.d.base_config, LOG_CHANNEL + OVERRIDE)
        self.d.start()
        self.admin = self.d.api_token(admin=True)

    def event_cli(self, *args):
        return self.d.cli("event", *args, "--now", NOW)

    def feed_events(self, path):
        r = self.d.get(path)
        self.assertEqual(r.status, 200)
        return parse_ics(r.text)[1]

    def wait_in_feed(self, path, uid, present=True):
        wait_until(lambda: (uid in self.feed_events(path)) == present, 20,
                   "%s %s the feed" % (uid, "in" if present else "gone from"))
        return self.feed_events(path).get(uid)

    def deliveries(self, uid):
        out = self.d.cli_ok("deliveries", "--occurrence", uid, "--format", "json")
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def post_event(self, payload, token=None):
        return self.d.api("POST", "/api/v1/events", token=self.admin if token is None else token, payload=payload)


class AddTest(EventsTestCase):
    def test_cli_family_event_reaches_feeds_and_reminders(self):
        org_feed = self.d.feed_token(org="ln")
        li_feed = self.d.feed_token(person="p-li")
        self.assertNotIn(FAMILY_UID, self.feed_events(li_feed))
        rc, out, err = self.event_cli("add", "--org", "ln", "--person", "p-li", "--kind", "family-event",
                                      "--date", "2026-11-23", "--note", "女儿婚礼")
        self.assertEqual(rc, 0, err)
        self.assertIn("recorded event 1: " + FAMILY_UID, out)
        self.assertIn("due 2026-11-30", out)  # 7 days: the catalogue's deadline for 第八条第（九）项
        # The running daemon picks it up without a restart: the member's and the org's feeds.
        ev = self.wait_in_feed(li_feed, FAMILY_UID)
        self.assertEqual(ev["DTSTART"], "20261130")
        self.assertIn("报告婚丧喜庆等有关事项", ev["SUMMARY"])
        self.assertIn(FAMILY_UID, self.feed_events(org_feed))
        self.assertIn("events recorded at run time changed; deriving again", self.d.stderr())
        # Reminders are planned for it: the steps between the event and now are caught up (the
        # latest, one working day before the due date, Friday 27 November 09:00, had passed when
        # the event was recorded) and go to the member and the principal through the log channel.
        wait_until(lambda: any(r["channel"] == "log" and r["status"] == "sent" for r in self.deliveries(FAMILY_UID)),
                   30, "a reminder of the event's duty sent to the log channel")
        self.assertTrue(all(r["person"] in ("p-li", "p-wang") for r in self.deliveries(FAMILY_UID)))
        self.assertIn("提醒[log] 致 李某：【履责提醒】报告婚丧喜庆等有关事项（事件：2026年11月23日）", self.d.stderr())
        # The occurrence is known to the API like any other.
        r = self.d.api("GET", "/api/v1/occurrences?from=2026-11-30&to=2026-11-30", token=self.admin)
        self.assertEqual(r.status, 200)
        self.assertIn(FAMILY_UID, r.text)
        # And to the CLI, which reads the events recorded in the configured database as well.
        out = self.d.cli_ok("expand", "--person", "p-li", "--from", "2026-11-30", "--to", "2026-11-30",
                            "--format", "json")
        self.assertIn(FAMILY_UID, [json.loads(l)["uid"] for l in out.splitlines() if l.strip()])
        ics = self.d.cli_ok("feed", "--person", "p-li", "--today", "2026-11-27")
        self.assertIn(FAMILY_UID, parse_ics(ics)[1])
        # Without the database (another path that does not exist): the configuration's own duties.
        out = self.d.cli_ok("expand", "--person", "p-li", "--from", "2026-11-30", "--to", "2026-11-30",
                            "--format", "json", "--database", self.d.database + ".absent")
        self.assertNotIn(FAMILY_UID, out)

    def test_api_incident_uses_the_configured_deadline_and_flags_after_grace(self):
        wang_feed = self.d.feed_token(person="p-wang")
        # An incident in the propaganda department is reviewed by the committee's team.
        r = self.post_event({"kind": "incident", "org": "ln-xcb", "date": "2026-11-20", "note": "媒体曝光"})
        self.assertEqual(r.status, 201, r.text)
        ev = r.json()["event"]
        self.assertEqual((ev["occurrence"], ev["org"], ev["obligation"], ev["due"], ev["status"]),
                         (INCIDENT_UID, "ln", "a6.9.review", "2026-11-30", "active"))
        self.assertTrue(ev["created_by"].startswith("admin:token-"))
        item = self.wait_in_feed(wang_feed, INCIDENT_UID)
        self.assertEqual(item["DTSTART"], "20261130")  # 10 days: the [[override]], not the catalogue's 15
        listed = self.d.api("GET", "/api/v1/events", token=self.admin).json()
        self.assertEqual([e["occurrence"] for e in listed["events"]], [INCIDENT_UID])
        # Missed: flagged the day after the grace period, like a configured [[event]].
        rc, _ = self.d.stop()
        self.assertEqual(rc, 0)
        self.d.start(now="2026-12-07T09:00:00")
        wait_until(lambda: "flags: pass over " in self.d.stderr(self.d.runs), 30, "a flag pass")
        flags = [json.loads(l) for l in self.d.cli_ok("flags", "--format", "json").splitlines() if l.strip()]
        mine = [f for f in flags if f["occurrence"] == INCIDENT_UID]
        self.assertEqual(len(mine), 1, flags)
        self.assertEqual((mine[0]["due"], mine[0]["days_late"], mine[0]["scope"]), ("2026-11-30", 7, "collective"))

    def test_promotion_goes_to_the_organisation_department_and_org_tokens_stay_in_their_org(self):
        zzb = self.d.cli_ok("token", "issue", "--org", "ln-zzb", "--kind", "api").strip()
        # The committee's promotion lands on its organisation department: that token may record it.
        r = self.post_event({"kind": "promotion", "org": "ln", "date": "2026-11-02", "person": "p-li"}, token=zzb)
        self.assertEqual(r.status, 201, r.text)
        self.assertEqual((r.json()["event"]["occurrence"], r.json()["event"]["due"]), (PROMOTION_UID, "2027-11-02"))
        self.assertTrue(r.json()["event"]["created_by"].startswith("org:ln-zzb:token-"))
        # An incident is the committee's: not this token's.
        r = self.post_event({"kind": "incident", "org": "ln", "date": "2026-11-20"}, token=zzb)
        self.assertEqual(r.status, 403, r.text)
        self.assertIn("ln-zzb", r.json()["error"])
        # It lists only its own organisation's events.
        self.post_event({"kind": "incident", "org": "ln", "date": "2026-11-20"})
        seen = self.d.api("GET", "/api/v1/events", token=zzb).json()
        self.assertEqual([e["occurrence"] for e in seen["events"]], [PROMOTION_UID])
        self.assertEqual(self.d.api("GET", "/api/v1/events?org=ln", token=zzb).status, 403)
        zzb_feed = self.d.feed_token(org="ln-zzb")
        self.assertEqual(self.wait_in_feed(zzb_feed, PROMOTION_UID)["DTSTART"], "20271102")


class WithdrawTest(EventsTestCase):
    def test_withdraw_removes_the_occurrence_and_cancels_its_reminders(self):
        wang_feed = self.d.feed_token(person="p-wang")
        r = self.post_event({"kind": "family-event", "org": "ln", "person": "p-wang", "date": "2026-11-23"})
        self.assertEqual(r.status, 201, r.text)
        uid = r.json()["event"]["occurrence"]
        self.assertEqual(uid, "a7.11.family-events/ln/2026-11-23@dutyd")  # the principal's duty, 第七条
        self.wait_in_feed(wang_feed, uid)
        # The step one working day ahead is planned: the mail channel has no password, so its
        # row waits in the outbox.
        wait_until(lambda: any(d["status"] == "queued" for d in self.deliveries(uid)), 30, "a queued reminder")
        queued = sum(d["status"] == "queued" for d in self.deliveries(uid))
        rc, out, err = self.event_cli("withdraw", "1", "--reason", "录入错误：应为李某")
        self.assertEqual(rc, 0, err)
        self.assertIn("withdrew event 1: " + uid, out)
        statuses = [d["status"] for d in self.deliveries(uid)]
        self.assertNotIn("queued", statuses)
        self.assertEqual(statuses.count("cancelled"), queued)
        self.wait_in_feed(wang_feed, uid, present=False)
        listed = self.d.api("GET", "/api/v1/events?status=withdrawn", token=self.admin).json()["events"]
        self.assertEqual([(e["id"], e["withdraw_reason"]) for e in listed], [(1, "录入错误：应为李某")])
        # Audited, and the same occurrence can be recorded again, now correctly or by the API.
        audit = self.d.cli_ok("audit", "verify")
        self.assertTrue(audit.startswith("audit log intact"), audit)
        r = self.post_event({"kind": "family-event", "org": "ln", "person": "p-wang", "date": "2026-11-23"})
        self.assertEqual(r.status, 201, r.text)
        self.wait_in_feed(wang_feed, uid)
        r = self.d.api("POST", "/api/v1/events/2/withdraw", token=self.admin, payload={"reason": "重复"})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json()["event"]["status"], "withdrawn")
        self.assertEqual(self.d.api("POST", "/api/v1/events/2/withdraw", token=self.admin,
                                    payload={"reason": "重复"}).status, 409)
        self.assertEqual(self.d.api("POST", "/api/v1/events/9/withdraw", token=self.admin,
                                    payload={"reason": "x"}).status, 404)
        self.wait_in_feed(wang_feed, uid, present=False)


class BadRequestTest(EventsTestCase):
    def test_cli_errors_say_what_to_do(self):
        cases = [
            (["add", "--org", "nope", "--kind", "incident", "--date", "2026-11-20"], "unknown org 'nope'"),
            (["add", "--org", "ln", "--person", "p-zhao", "--kind", "family-event", "--date", "2026-11-20"],
             "holds no post in 'ln'"),
            (["add", "--org", "ln", "--kind", "family-event", "--date", "2026-11-20"], "needs --person"),
            (["add", "--org", "ln", "--kind", "incident", "--date", "2020-01-01"], "before the calendar's horizon"),
            (["add", "--org", "ln", "--kind", "incident", "--date", "2026-12-01"], "in the future"),
            (["add", "--org", "ln", "--obligation", "a6.1.plan", "--date", "2026-11-20"], "not event-triggered"),
        ]
        for args, message in cases:
            rc, out, err = self.event_cli(*args)
            self.assertEqual(rc, 1, (args, out, err))
            self.assertIn(message, err, args)
        rc, _, err = self.event_cli("add", "--org", "ln", "--kind", "incident")
        self.assertEqual(rc, 64)
        self.assertIn("--date", err)
        rc, _, err = self.event_cli("add", "--org", "ln", "--kind", "incident", "--obligation", "a6.9.review",
                                    "--date", "2026-11-20")
        self.assertEqual(rc, 64)
        self.assertEqual(self.event_cli("add", "--org", "ln", "--kind", "incident", "--date", "2026-11-20")[0], 0)
        rc, _, err = self.event_cli("add", "--org", "ln", "--kind", "incident", "--date", "2026-11-20")
        self.assertEqual(rc, 1)
        self.assertIn("duplicate event", err)
        rc, _, err = self.event_cli("withdraw", "1")
        self.assertEqual(rc, 64)
        self.assertIn("--reason", err)
        self.assertEqual(len(self.d.cli_ok("event", "list", "--format", "json").splitlines()), 1)

    def test_api_errors_are_json(self):
        ok = {"kind": "incident", "org": "ln", "date": "2026-11-20"}
        li = self.d.api_token(person="p-li")
        cases = [
            (self.d.api("POST", "/api/v1/events", payload=ok), 401),
            (self.post_event(ok, token=li), 403),
            (self.d.api("POST", "/api/v1/events", token=self.admin, raw=b"{not json"), 400),
            (self.post_event({"kind": "incident", "org": "ln"}), 400),
            (self.post_event({"kind": "incident", "org": "ln", "date": "2026-11-20", "colour": "red"}), 400),
            (self.post_event({"kind": "incident", "org": "ln", "date": 20261120}), 400),
            (self.post_event({"kind": "party", "org": "ln", "date": "2026-11-20"}), 400),
            (self.post_event({"kind": "incident", "org": "nope", "date": "2026-11-20"}), 404),
            (self.post_event({"kind": "family-event", "org": "ln", "person": "nobody", "date": "2026-11-20"}), 404),
            (self.post_event({"kind": "incident", "org": "ln", "date": "2026-13-01"}), 400),
            (self.d.api("DELETE", "/api/v1/events", token=self.admin), 405),
        ]
        for r, status in cases:
            self.assertEqual(r.status, status, r.text)
            self.assertTrue(r.json()["error"])
        self.assertEqual(self.post_event(ok).status, 201)
        dup = self.post_event(ok)
        self.assertEqual(dup.status, 409)
        self.assertIn("duplicate event", dup.json()["error"])
        self.assertEqual(self.d.api("GET", "/api/v1/events?colour=red", token=self.admin).status, 400)
        self.assertEqual(self.d.api("GET", "/api/v1/events", token=li).status, 403)
        # The daemon is still serving.
        self.assertEqual(self.d.get("/healthz").status, 200)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        harness.print_tally()
