"""Non-compliance flags raised by the real `dutyd run` (with --now) on the example configuration,
and their procedure through `dutyd flag` and the API.

What is expected comes from the example's hand-checked facts: Dalian's principal 钱某 (p-qian)
holds the post until 2026-06-15 and 欧阳明远 (p-ouyang) from 2026-06-16; Dalian's discipline organ
is led by 陶𨭉 (p-tao) and its organisation department by 施某 (p-shi); a6.1.plan is due on
28 February (the example's override), a6.15.inspect-subordinates on 31 March, a6.1.analysis on
30 June and 31 December, a7.11.personal-matters and a8.9.personal-matters on 31 January,
a6.16.report-jul on 31 July. The default grace period is 5 days.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import tomllib
import unittest

import harness
from harness import Daemon, wait_until

PASS_LINE = "flags: pass over "


def example_parents(root):
    """{org id: parent id} of the example configuration in `root`, read with Python's own TOML
    parser."""
    files = [os.path.join(root, "province.toml")] + sorted(
        os.path.join(root, "conf.d", n) for n in os.listdir(os.path.join(root, "conf.d")) if n.endswith(".toml"))
    parents = {}
    for path in files:
        with open(path, "rb") as f:
            for org in tomllib.load(f).get("org", []):
                parents[org["id"]] = org.get("parent")
    return parents


class FlagsTestCase(harness.DaemonTestCase):
    """Each test starts its own daemon at the times it needs."""
    start_daemon = False

    def start_at(self, now, passes=1):
        """Starts the daemon as if at `now` and waits until the flagger has finished `passes`
        passes in this run."""
        self.d.start(now=now)
        self.wait_passes(passes)

    def wait_passes(self, n, timeout=30):
        run = self.d.runs
        wait_until(lambda: self.d.stderr(run).count(PASS_LINE) >= n, timeout, "%d flag pass(es)" % n)

    def restart_at(self, now, passes=1):
        rc, _ = self.d.stop()
        self.assertEqual(rc, 0)
        self.start_at(now, passes)

    def flags(self, *args):
        out = self.d.cli_ok("flags", "--format", "json", *args)
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def by_occurrence(self):
        return {f["occurrence"]: f for f in self.flags()}

    def sql(self, query, *params):
        con = sqlite3.connect(self.d.database, timeout=10)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(query, params)]
        finally:
            con.close()

    def complete(self, uid, done_on, now):
        self.d.cli_ok("complete", "--occurrence", uid, "--done-on", done_on, "--now", now,
                      "--note", "test")


class RaisingTest(FlagsTestCase):
    def test_flag_after_the_grace_period_none_for_on_time_or_late_within_grace(self):
        self.start_at("2026-02-01T09:00:00")
        self.assertIn("flags: first start; only occurrences due on or after 2026-02-01 are flagged",
                      self.d.stderr())
        self.assertEqual(self.flags(), [])
        self.d.stop()
        insp = "a6.15.inspect-subordinates/dl/2026/%s@dutyd"
        self.complete(insp % "dl-bgs", "2026-03-30", "2026-04-05T10:00:00")  # on time
        self.complete(insp % "dl-zzb", "2026-04-04", "2026-04-05T10:00:00")  # late, within grace

        # 5 April is the last day of grace for 31 March: only a6.1.plan (28 February) is flagged;
        # nothing due before the first start (31 January) is.
        self.start_at("2026-04-05T09:00:00")
        flags = self.by_occurrence()
        self.assertEqual(sorted(flags), ["a6.1.plan/dl/2026@dutyd", "a6.1.plan/ln/2026@dutyd",
                                         "a6.1.plan/wfd/2026@dutyd"])
        plan = flags["a6.1.plan/dl/2026@dutyd"]
        self.assertEqual((plan["due"], plan["raised_on"], plan["days_late"], plan["status"]),
                         ("2026-02-28", "2026-04-05", 36, "raised"))
        self.assertEqual(plan["transitions"][0]["reason"], "截止2026-02-28，宽限期5天届满（2026-03-05）仍未完成")
        self.assertEqual(plan["art27"], 2)
        self.assertEqual(plan["art27_citation"], "第二十七条第（二）项")
        self.assertEqual(plan["art27_clause"], "职责范围发生区域性、系统性严重违纪违法案件。")

        # Just before midnight: the pass after midnight (6 April) flags the inspections still
        # open, not the one done on time nor the one done within grace.
        self.restart_at("2026-04-05T23:59:55")
        self.assertEqual(len(self.flags()), 3)  # the same flags: raising is idempotent
        self.wait_passes(2)
        flags = self.by_occurrence()
        inspections = sorted(u for u in flags if u.startswith("a6.15.inspect-subordinates/dl/"))
        self.assertEqual(inspections, sorted(insp % o for o in
                                             ("dl-xcb", "dl-tzb", "dl-zfw", "dl-zf", "dl-rd", "wfd")))
        xcb = flags[insp % "dl-xcb"]
        self.assertEqual((xcb["raised_on"], xcb["days_late"]), ("2026-04-06", 6))
        self.assertIn("flags: pass over 2026-04-06 done:", self.d.stderr(self.d.runs))
        self.assertNotIn("a6.16.report-jan/dl/2026@dutyd", flags)

    def test_first_start_flags_no_history_grace_override_and_reload(self):
        extra = ('\n[accountability]\ngrace_days = 3\n\n[[override]]\nobligation = "a6.16.report-jul"\n'
                 'grace_days = 20\n')
        self.d.write_config(self.d.base_config, extra)
        self.start_at("2026-07-10T09:00:00")
        self.assertIn("only occurrences due on or after 2026-07-10 are flagged", self.d.stderr())
        # Many occurrences are long overdue (nothing was ever completed), none is flagged.
        self.assertEqual(self.flags(), [])
        self.assertEqual(self.sql("SELECT value FROM meta WHERE key = 'flags.since'"),
                         [{"value": "2026-07-10"}])
        # 10 August: a6.16.report-jul (31 July) is still within its own 20 days.
        self.restart_at("2026-08-10T09:00:00")
        self.assertEqual(self.flags(), [])
        self.assertEqual(self.sql("SELECT value FROM meta WHERE key = 'flags.since'"),
                         [{"value": "2026-07-10"}])
        # The override goes: the global 3 days apply, and a reload looks again.
        self.d.write_config(self.d.base_config, "\n[accountability]\ngrace_days = 3\n")
        self.d.reload()
        self.wait_passes(2)
        flags = self.flags()
        self.assertEqual(sorted(f["occurrence"] for f in flags),
                         ["a6.16.report-jul/%s/2026@dutyd" % o for o in ("dl", "ln", "wfd")])
        self.assertTrue(all(f["due"] >= "2026-07-10" for f in flags))
        self.assertEqual(flags[0]["transitions"][0]["reason"],
                         "截止2026-07-31，宽限期3天届满（2026-08-03）仍未完成")


    def test_a_ladder_step_raises_the_flag_before_grace_ends(self):
        # a6.16.report-jul is due Friday 31 July 2026; its own ladder's +3wd step (5 August)
        # raises the flag although its grace period would run 20 days.
        extra = ('\n[[ladder]]\nid = "strict"\nsteps = [\n'
                 '  { at = "-1wd", notify = ["responsible"], via = ["email"] },\n'
                 '  { at = "+3wd", notify = ["responsible", "principal"], via = ["email"], flag = true },\n]\n'
                 '\n[[override]]\nobligation = "a6.16.report-jul"\nladder = "strict"\ngrace_days = 20\n')
        self.d.write_config(self.d.base_config, extra)
        self.start_at("2026-07-10T09:00:00")
        jul = "a6.16.report-jul/dl/2026@dutyd"
        self.restart_at("2026-08-04T09:00:00")
        self.assertNotIn(jul, self.by_occurrence())
        self.restart_at("2026-08-05T09:00:00")
        flag = self.by_occurrence()[jul]
        self.assertEqual((flag["raised_on"], flag["days_late"]), ("2026-08-05", 5))
        reason = self.sql("SELECT reason FROM flag_transitions WHERE flag = ?", flag["id"])
        self.assertEqual(reason, [{"reason": "截止2026-07-31，到督办第2步（+3wd，2026-08-05）仍未完成"}])
        # Obligations without such a step keep their grace period: none of them was flagged
        # before 5 days after its due date.
        for f in self.flags():
            if f["obligation"] == "a6.16.report-jul":
                self.assertEqual((f["raised_on"], f["days_late"]), ("2026-08-05", 5), f["occurrence"])
            else:
                self.assertGreater(f["days_late"], 5, f["occurrence"])


class AttributionTest(FlagsTestCase):
    def test_predecessor_incumbent_and_collective_responsibility(self):
        # 吕某 (p-lv), a member of Dalian's team, is also in charge of the Wafangdian committee.
        dalian = self.d.read_file("conf.d/dalian.toml")
        self.d.write_file("conf.d/dalian.toml", dalian.replace(
            'in_charge_of = ["dl-bgs", "dl-xcb", "dl-tzb", "dl-rd"]',
            'in_charge_of = ["dl-bgs", "dl-xcb", "dl-tzb", "dl-rd", "wfd"]'))
        self.start_at("2026-01-20T09:00:00")
        self.restart_at("2026-07-07T09:00:00")
        flags = self.by_occurrence()

        # An individual duty of the principal due before the change of hands: 钱某 answers for
        # it (前任), 欧阳明远 holds the post now (现任).
        pm = flags["a7.11.personal-matters/dl/2026@dutyd"]
        self.assertEqual((pm["scope"], pm["responsible"], pm["incumbent"], pm["responsible_moved_on"]),
                         ("individual", "p-qian", "p-ouyang", True))
        self.assertEqual((pm["team_org"], pm["principal"], pm["in_charge"]), (None, None, []))
        # A team duty due before the change: collective, the team and its principal then.
        plan = flags["a6.1.plan/dl/2026@dutyd"]
        self.assertEqual((plan["scope"], plan["responsible"], plan["incumbent"], plan["responsible_moved_on"],
                          plan["team_org"], plan["principal"], plan["in_charge"]),
                         ("collective", "p-qian", "p-ouyang", True, "dl", "p-qian", []))
        # Due after the change: the successor, who is also today's holder.
        analysis = flags["a6.1.analysis/dl/2026H1@dutyd"]
        self.assertEqual((analysis["responsible"], analysis["incumbent"], analysis["responsible_moved_on"],
                          analysis["principal"]), ("p-ouyang", "p-ouyang", False, "p-ouyang"))
        # A team with a member in charge of it (第二十八条第（五）项): team, principal, in-charge.
        wfd = flags["a6.1.plan/wfd/2026@dutyd"]
        self.assertEqual((wfd["scope"], wfd["team_org"], wfd["principal"], wfd["in_charge"]),
                         ("collective", "wfd", "p-you", ["p-lv"]))
        self.assertTrue(set(wfd["suggested_measures"]) <= {"责令作出书面检查", "通报批评", "调整处理"}, wfd)
        # A member's own duty: individual, the member.
        he = flags["a8.9.personal-matters/dl/2026/p-he@dutyd"]
        self.assertEqual((he["scope"], he["responsible"], he["incumbent"]), ("individual", "p-he", "p-he"))

        table = self.d.cli_ok("flags", "--org", "dl")
        self.assertTrue(table.startswith("编号  状态  情节  截止日期  逾期  组织  事项  责任人  建议措施（第二十八条）\n"), table)
        self.assertIn("个人责任：钱某（前任；现任欧阳明远）", table)
        self.assertIn("集体责任：钱某（前任；现任欧阳明远）", table)
        self.assertIn("领导班子：中共大连市委；主要负责人：钱某；分管领导：无", table)
        wfd_table = self.d.cli_ok("flags", "--org", "wfd")
        self.assertIn("分管领导：吕某", wfd_table)
        self.assertTrue(table.endswith(" flag(s)\n"), table)


class SeverityTest(FlagsTestCase):
    def test_grades_by_lateness_and_repeats(self):
        # Open flags elsewhere in the organisation do not count here.
        self.d.write_config(self.d.base_config, "\n[accountability]\nserious_open = 10000\n")
        self.start_at("2026-01-20T09:00:00")
        self.restart_at("2026-06-01T09:00:00")
        flags = self.by_occurrence()

        def grade(uid):
            f = flags[uid]
            return f["severity"], f["severity_zh"], f["severity_reason"], f["suggested_measures"]

        self.assertEqual(grade("a7.11.personal-matters/dl/2026@dutyd"),
                         ("grave", "严重", "逾期121天", ["党纪政纪处分", "调整职务、责令辞职、免职和降职等组织处理"]))
        self.assertEqual(grade("a6.1.plan/dl/2026@dutyd"), ("grave", "严重", "逾期93天", ["调整处理"]))
        self.assertEqual(grade("a6.15.inspect-subordinates/dl/2026/dl-bgs@dutyd"),
                         ("serious", "较重", "逾期62天", ["通报批评"]))
        self.assertEqual(grade("a6.9.review/dl/2026-05-10@dutyd"),
                         ("light", "较轻", "逾期7天", ["责令作出书面检查"]))

        # The second half-year's miss follows the first half-year's: one grade up.
        self.restart_at("2027-01-06T09:00:00")
        flags = self.by_occurrence()
        self.assertEqual(grade("a6.1.analysis/dl/2026H1@dutyd")[:3], ("grave", "严重", "逾期190天"))
        self.assertEqual(grade("a6.1.analysis/dl/2026H2@dutyd")[:3],
                         ("serious", "较重", "逾期6天；此前同一事项已被标记1次"))

    def test_open_flags_of_the_organisation_raise_the_grade(self):
        self.start_at("2026-01-20T09:00:00")
        self.restart_at("2026-03-06T09:00:00")
        flags = self.by_occurrence()
        # Dalian has six flags from January when a6.1.plan (6 days late) is raised.
        plan = flags["a6.1.plan/dl/2026@dutyd"]
        self.assertEqual((plan["severity"], plan["severity_reason"]), ("serious", "逾期6天；本组织另有6项未办结标记"))
        january = [f for f in flags.values() if f["org"] == "dl" and f["due"] == "2026-01-31"]
        self.assertEqual(len(january), 6)
        bumped = [f for f in january if "未办结标记" in f["severity_reason"]]
        self.assertEqual(len(bumped), 3)  # the 4th, 5th and 6th of the organisation
        self.assertTrue(all(f["severity"] == "grave" for f in bumped))


class WorkflowTest(FlagsTestCase):
    def setUp(self):
        super().setUp()
        self.start_at("2026-01-20T09:00:00")
        self.restart_at("2026-07-07T09:00:00")
        self.admin = self.d.api_token(admin=True)
        self.flag_ids = {f["occurrence"]: f["id"] for f in self.flags()}

    def api(self, method, path, payload=None, token=None, raw=None):
        return self.d.api(method, path, token=self.admin if token is None else token, payload=payload, raw=raw)

    def test_every_transition_with_its_audit_row(self):
        a = self.flag_ids["a6.1.plan/dl/2026@dutyd"]
        b = self.flag_ids["a7.11.personal-matters/dl/2026@dutyd"]
        user = "cli:" + (os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown")

        out = self.d.cli_ok("flag", "advance", "--id", str(a), "--reason", "报市委审批")
        self.assertEqual(out, "flag %d: 提出 (raised) -> 报批 (submitted)\n" % a)
        r = self.api("POST", "/api/v1/flags/%d/advance" % a, {"reason": "市纪委启动调查"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["flag"]["status"], "investigating")
        # 决定 needs the measure and the day.
        r = self.api("POST", "/api/v1/flags/%d/advance" % a, {"reason": "x"})
        self.assertEqual(r.status, 400, r)
        self.assertIn("admonishment", r.json()["error"])
        rc, out, err = self.d.cli("flag", "advance", "--id", str(a), "--measure", "诫勉谈话")
        self.assertEqual(rc, 64, err)
        r = self.api("POST", "/api/v1/flags/%d/advance" % a,
                     {"reason": "常委会研究决定", "measure": "诫勉谈话", "decided_on": "2026-07-01"})
        self.assertEqual(r.status, 200, r)
        f = r.json()["flag"]
        self.assertEqual((f["status"], f["measure"], f["measure_zh"], f["decided_on"]),
                         ("decided", "admonishment", "诫勉谈话", "2026-07-01"))
        # 诫勉谈话: six months without promotion (counted as the Civil Code counts periods: to
        # 2027-01-01), no excellence rating that year.
        self.assertEqual(f["impacts"], [{"what": "不得提拔或者重用", "until": "2027-01-01"},
                                        {"what": "取消当年年度考核评优评先资格", "until": "2026-12-31"}])
        self.assertEqual(f["impact_until"], "2027-01-01")
        out = self.d.cli_ok("flag", "advance", "--id", str(a), "--reason", "已谈话")
        self.assertTrue(out.startswith("flag %d: 决定 (decided) -> 实施 (implemented): 诫勉谈话 decided on 2026-07-01; "
                                       "不得提拔或者重用 until 2027-01-01" % a), out)
        # The procedure has ended.
        rc, out, err = self.d.cli("flag", "advance", "--id", str(a))
        self.assertEqual(rc, 1)
        self.assertIn("flag %d is 实施 (implemented): it cannot be advanced — allowed from there: nothing" % a, err)
        r = self.api("POST", "/api/v1/flags/%d/dismiss" % a, {"reason": "情况说明"})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json()["status"], "implemented")

        # 撤销 with a reason.
        rc, out, err = self.d.cli("flag", "dismiss", "--id", str(b))
        self.assertEqual(rc, 64)
        self.assertIn("flag dismiss needs --reason TEXT", err)
        r = self.api("POST", "/api/v1/flags/%d/dismiss" % b, {})
        self.assertEqual(r.status, 400, r)
        r = self.api("POST", "/api/v1/flags/%d/dismiss" % b, {"reason": "情况说明已采纳：按期报送，系统漏登"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["flag"]["status"], r.json()["flag"]["dismiss_reason"]),
                         ("dismissed", "情况说明已采纳：按期报送，系统漏登"))
        rc, out, err = self.d.cli("flag", "dismiss", "--id", str(b), "--reason", "again")
        self.assertEqual(rc, 1)
        self.assertIn("is 撤销 (dismissed): it cannot be dismissed", err)
        r = self.api("POST", "/api/v1/flags/%d/advance" % b, {})
        self.assertEqual(r.status, 409, r)

        # Every step: a transition (who, when, why) and an audit row, in order.
        listed = {f["id"]: f for f in self.api("GET", "/api/v1/flags?org=dl").json()["flags"]}
        steps = [(t["from"], t["to"], t["actor"], t["reason"]) for t in listed[a]["transitions"]]
        admin_actor = steps[2][2]
        self.assertTrue(admin_actor.startswith("admin:token-"), steps)
        self.assertEqual(steps, [
            (None, "raised", "dutyd", "截止2026-02-28，宽限期5天届满（2026-03-05）仍未完成"),
            ("raised", "submitted", user, "报市委审批"),
            ("submitted", "investigating", admin_actor, "市纪委启动调查"),
            ("investigating", "decided", admin_actor, "常委会研究决定"),
            ("decided", "implemented", user, "已谈话")])
        self.assertTrue(all(t["at"].endswith("Z") for t in listed[a]["transitions"]))
        audit = self.sql("SELECT actor, action, detail FROM audit WHERE subject = ? ORDER BY id", "flag:%d" % a)
        self.assertEqual([(r["actor"], r["action"]) for r in audit],
                         [("dutyd", "flag.raise"), (user, "flag.advance"), (admin_actor, "flag.advance"),
                          (admin_actor, "flag.advance"), (user, "flag.advance")])
        self.assertIn("to=decided measure=admonishment decided_on=2026-07-01 impact_until=2027-01-01 "
                      "reason=常委会研究决定", audit[3]["detail"])
        audit = self.sql("SELECT action, detail FROM audit WHERE subject = ? ORDER BY id", "flag:%d" % b)
        self.assertEqual([r["action"] for r in audit], ["flag.raise", "flag.dismiss"])
        self.assertIn("reason=情况说明已采纳：按期报送，系统漏登", audit[1]["detail"])
        self.assertEqual(self.d.cli_ok("audit", "verify").split(":")[0], "audit log intact")

        # Until when a decision applies, in the table.
        table = self.d.cli_ok("flags", "--status", "implemented")
        self.assertIn("决定：诫勉谈话（2026-07-01）；不得提拔或者重用至2027-01-01；取消当年年度考核评优评先资格至2026-12-31",
                      table)
        table = self.d.cli_ok("flags", "--status", "dismissed")
        self.assertIn("撤销理由：情况说明已采纳：按期报送，系统漏登", table)

    def test_open_flags_of_subordinates_in_the_parent_organisations_feed(self):
        a = self.flag_ids["a6.1.plan/dl/2026@dutyd"]
        own = self.flag_ids["a6.1.plan/ln/2026@dutyd"]
        province, city = self.d.feed_token(org="ln"), self.d.feed_token(org="dl")

        def flag_events(path):
            r = self.d.get(path)
            self.assertEqual(r.status, 200, r)
            _, events = harness.parse_ics(r.text)
            return {uid: ev for uid, ev in events.items() if uid.startswith("flag/")}

        # Dalian (dl) is directly under the province (ln): its open flags show in ln's feed, not
        # in its own (where the duty itself already shows 【逾期】); ln's own flag is not there.
        shown = flag_events(province)
        self.assertIn("flag/%d@dutyd" % a, shown)
        self.assertNotIn("flag/%d@dutyd" % own, shown)
        # Dalian's feed shows the open flags of its own subordinates (its departments, its
        # districts), exactly those.
        parent = example_parents(self.d.confdir)
        expected = {"flag/%d@dutyd" % f["id"] for f in self.flags()
                    if parent.get(f["org"]) == "dl" and f["status"] == "raised"}
        self.assertTrue(expected)
        self.assertEqual(set(flag_events(city)), expected)
        # The feed with flag events still parses in two real calendar parsers.
        body = self.d.get(province).text
        path = os.path.join(self.d.tmp, "ln-with-flags.ics")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(body)
        feeds = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "feeds")
        for cmd in (["/usr/bin/python3", os.path.join(feeds, "check_pyicalendar.py"), path],
                    [shutil.which("node") or "node", os.path.join(feeds, "check_icaljs.mjs"), path]):
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        ev = shown["flag/%d@dutyd" % a]
        self.assertTrue(ev["SUMMARY"].startswith("【下级问责提示·提出】中共大连市委：【第六条第（一）项】"), ev["SUMMARY"])
        self.assertEqual(ev["DTSTART"], "20260707")
        self.assertEqual(ev["SEQUENCE"], "0")
        self.assertIn("责任人：领导班子集体；主要负责人钱某（前任；现任欧阳明远）", ev["DESCRIPTION"])
        self.assertIn("处理进度（第二十九条）：提出", ev["DESCRIPTION"])

        # A step shows, with a higher SEQUENCE; a dismissed flag leaves the feed.
        self.assertEqual(self.api("POST", "/api/v1/flags/%d/advance" % a, {"reason": "报批"}).status, 200)
        ev = flag_events(province)["flag/%d@dutyd" % a]
        self.assertTrue(ev["SUMMARY"].startswith("【下级问责提示·报批】"), ev["SUMMARY"])
        self.assertEqual(ev["SEQUENCE"], "1")
        self.d.cli_ok("flag", "dismiss", "--id", str(a), "--reason", "情况说明已采纳")
        self.assertNotIn("flag/%d@dutyd" % a, flag_events(province))

    def test_impact_periods_of_dismissal_and_demotion(self):
        for uid, measure, impacts in [
                ("a8.9.personal-matters/dl/2026/p-he@dutyd", "免职",
                 [{"what": "不安排职务", "until": "2027-06-30"},
                  {"what": "不得担任高于原任职务层次的职务", "until": "2028-06-30"}]),
                ("a8.9.personal-matters/dl/2026/p-lv@dutyd", "demotion",
                 [{"what": "不得提升职务", "until": "2028-06-30"}]),
                ("a8.9.personal-matters/dl/2026/p-shi@dutyd", "通报批评", [])]:
            fid = self.flag_ids[uid]
            for _ in range(2):
                self.assertEqual(self.api("POST", "/api/v1/flags/%d/advance" % fid, {}).status, 200)
            r = self.api("POST", "/api/v1/flags/%d/advance" % fid, {"measure": measure, "decided_on": "2026-06-30"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["flag"]["impacts"], impacts, uid)
            self.assertEqual(r.json()["flag"]["impact_until"], impacts[-1]["until"] if impacts else None)

    def test_api_errors(self):
        fid = self.flag_ids["a6.1.plan/dl/2026@dutyd"]
        person = self.d.api_token(person="p-qian")
        self.assertEqual(self.api("GET", "/api/v1/flags", token=person).status, 403)
        self.assertEqual(self.d.api("GET", "/api/v1/flags").status, 401)
        self.assertEqual(self.d.api("POST", "/api/v1/flags/%d/advance" % fid, payload={}).status, 401)
        self.assertEqual(self.api("POST", "/api/v1/flags/%d/advance" % fid, {}, token=person).status, 403)
        r = self.api("GET", "/api/v1/flags?status=open")
        self.assertEqual(r.status, 400)
        self.assertIn("raised, submitted, investigating, decided, implemented, dismissed", r.json()["error"])
        self.assertEqual(self.api("GET", "/api/v1/flags?person=p-qian").status, 400)
        r = self.api("POST", "/api/v1/flags")
        self.assertEqual((r.status, r.header("Allow")), (405, "GET"))
        r = self.api("GET", "/api/v1/flags/%d/advance" % fid)
        self.assertEqual((r.status, r.header("Allow")), (405, "POST"))
        self.assertEqual(self.api("POST", "/api/v1/flags/99999/advance", {}).status, 404)
        self.assertEqual(self.api("POST", "/api/v1/flags/%d/close" % fid, {}).status, 404)
        self.assertEqual(self.api("POST", "/api/v1/flags/x/advance", {}).status, 404)
        for body in (b"not json", b"[1]", json.dumps({"reason": 5}).encode(), json.dumps({"why": "x"}).encode()):
            r = self.api("POST", "/api/v1/flags/%d/advance" % fid, raw=body)
            self.assertEqual(r.status, 400, (body, r))
        r = self.api("POST", "/api/v1/flags/%d/dismiss" % fid, {"reason": "x", "measure": "免职"})
        self.assertEqual(r.status, 400, r)
        for _ in range(2):
            self.assertEqual(self.api("POST", "/api/v1/flags/%d/advance" % fid, {}).status, 200)
        r = self.api("POST", "/api/v1/flags/%d/advance" % fid, {"measure": "罚款", "decided_on": "2026-07-01"})
        self.assertEqual(r.status, 400)
        self.assertIn("unknown measure '罚款'", r.json()["error"])
        r = self.api("POST", "/api/v1/flags/%d/advance" % fid, {"measure": "免职", "decided_on": "2026-07-08"})
        self.assertEqual(r.status, 400)
        self.assertIn("future", r.json()["error"])
        rc, out, err = self.d.cli("flag", "advance", "--id", "99999")
        self.assertEqual(rc, 1)
        self.assertIn("no flag 99999", err)
        rc, out, err = self.d.cli("flags", "--status", "open")
        self.assertEqual(rc, 64)
        r = self.api("GET", "/api/v1/flags?status=raised&org=dl")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertEqual(r.json()["count"], len(r.json()["flags"]))
        self.assertTrue(all(f["status"] == "raised" and f["org"] == "dl" for f in r.json()["flags"]))


class NoticeDaemon(Daemon):
    """The example with a log channel (every organisation's messages, written to stderr) and,
    after point_mail_at(), its e-mail channel pointed at a loopback port nobody answers on, with
    its password in a credentials folder: e-mail rows are then tried (and fail for now). Before,
    no channel but the log has credentials: their rows wait in the outbox."""

    def __init__(self):
        self.creds = None
        super().__init__()
        self.log_channel = '\n[[channel]]\nid = "log"\nkind = "log"\n'
        self.write_config(self.base_config, self.log_channel)

    def point_mail_at(self, port):
        self.creds = os.path.join(self.tmp, "credentials")
        os.makedirs(self.creds)
        with open(os.path.join(self.creds, "smtp_password"), "w") as f:
            f.write("pw")
        main = self.base_config.replace('url = "smtp://mail.example.gov.cn:587"',
                                        'url = "smtp://127.0.0.1:%d"' % port)
        self.write_config(main, self.log_channel)

    def daemon_table(self):
        creds = getattr(self, "creds", None)  # the base class writes a first config before it exists
        return super().daemon_table() + ('credentials_dir = "%s"\n' % creds if creds else "")


class NoticeTest(FlagsTestCase):
    def setUp(self):
        super().setUp()
        self.d.cleanup()
        self.d = NoticeDaemon()
        self._daemons = [self.d]

    def notices(self, uid):
        return self.sql("SELECT person, channel, relation, status, purpose, step, last_error FROM deliveries "
                        "WHERE occurrence = ? AND purpose = 'flag' ORDER BY id", uid)

    def test_discipline_organ_and_organisation_department_are_told(self):
        self.start_at("2026-01-20T09:00:00")
        self.restart_at("2026-03-06T09:00:00")
        uid = "a6.1.plan/dl/2026@dutyd"
        rows = self.notices(uid)
        self.assertEqual(sorted((r["person"], r["channel"], r["relation"]) for r in rows), [
            ("p-shi", "dl-wecom", "organization-department"), ("p-shi", "log", "organization-department"),
            ("p-shi", "mail", "organization-department"),
            ("p-tao", "dl-ding", "discipline-organ"), ("p-tao", "log", "discipline-organ"),
            ("p-tao", "mail", "discipline-organ")])
        self.assertTrue(all(r["step"] == -1 for r in rows))
        # The provincial committee's flags go to the provincial organs.
        ln = self.notices("a6.1.plan/ln/2026@dutyd")
        self.assertEqual(sorted({(r["person"], r["relation"]) for r in ln}),
                         [("p-liu", "organization-department"), ("p-zhao", "discipline-organ")])
        # The log channel sends at once, rendered from the flag templates.
        wait_until(lambda: all(r["status"] == "sent" for r in self.notices(uid) if r["channel"] == "log"), 20,
                   "the log channel's notices")
        err = self.d.stderr(self.d.runs)
        line = [l for l in err.splitlines() if "致 陶𨭉：【问责提示】中共大连市委“研究制定年度全面从严治党工作计划（2026年度）”" in l]
        self.assertEqual(len(line), 1, err[-3000:])
        for fact in ("逾期未完成（第二十七条第（二）项，情节较重）", "陶𨭉同志（同级纪检监察机关）", "已逾期 6 天",
                     "集体责任，责任人：钱某", "领导班子：中共大连市委；主要负责人：钱某；分管领导：无",
                     "逾期6天；本组织另有6项未办结标记", "建议措施：通报批评", "问责提示编号", "第二十九条"):
            self.assertIn(fact, line[0])
        table = self.d.cli_ok("deliveries", "--occurrence", uid)
        self.assertIn("  -  mail（问责提示）  陶𨭉（discipline-organ）", table)
        # Chat robots without credentials and the mail channel wait in the outbox.
        self.assertTrue(all(r["status"] == "queued" for r in self.notices(uid) if r["channel"] != "log"))

        # A completion recorded late does not withdraw the flag's notices.
        self.complete(uid, "2026-03-06", "2026-03-06T10:00:00")
        self.assertTrue(all(r["status"] == "queued" for r in self.notices(uid) if r["channel"] != "log"))

        # Dismissed before its notices go out: they are cancelled when they come due; another
        # flag's are tried.
        self.d.stop()
        fid = {f["occurrence"]: f["id"] for f in self.flags()}[uid]
        self.d.cli_ok("flag", "dismiss", "--id", str(fid), "--reason", "情况说明已采纳")
        self.d.point_mail_at(harness.free_port())
        self.start_at("2026-03-06T11:00:00")

        def mail_rows(u):
            return [r for r in self.notices(u) if r["channel"] == "mail"]

        wait_until(lambda: all(r["status"] == "cancelled" for r in mail_rows(uid)), 20, "cancelled notices")
        self.assertTrue(all(r["last_error"] == "the flag was dismissed (撤销): 情况说明已采纳" for r in mail_rows(uid)),
                        mail_rows(uid))
        other = "a6.1.plan/ln/2026@dutyd"
        wait_until(lambda: any(r["status"] != "queued" or r["last_error"] for r in mail_rows(other)), 20,
                   "an attempt at another flag's notice")
        self.assertFalse(any(r["status"] == "cancelled" for r in mail_rows(other)), mail_rows(other))
        self.assertEqual(self.d.cli_ok("audit", "verify").split(":")[0], "audit log intact")


if __name__ == "__main__":
    unittest.main()
