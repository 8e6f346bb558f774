"""Annual reports through `dutyd report` (table, csv, json) and GET /api/v1/reports against the
real daemon, on the hand-checked scenario of tests/daemon/report/ (scenario.toml, catalogue.toml).

The scenario (year 2026, time zone Asia/Shanghai, default grace period 5 days):

  中共测试市委 (c)        principal 甲某 (p-jia) to 2026-04-30, then 乙某 (p-yi); member 丙某 (p-bing)
    中共测试市委组织部 (c-zzb)  principal 戊某; no duty in this catalogue: no row
    中共测试县委 (x)      principal 丁某 (p-ding); member 甲某 from 2026-05-01

  duties per committee (catalogue.toml): a6.16.report-jan (team, due 01-31, 第二十七条 item 5),
  a6.1.plan (team, 03-31, item 2), a6.1.analysis (team, 06-30 and 12-31, item 2),
  a7.6.meetings (principal, 12-31, twice), a8.6.research (member, 12-31, item 2).
  So each committee has 6 occurrences in 2026 (the team and principal duties are the
  principal's on the due date, 第二十六条), 12 in all.

What happens (the daemon is started at each of these days; flags only for duties due on or after
the first start, 2026-01-02):
  2026-01-20  c  report-jan done (甲)                     -> on time
  2026-02-06  x  report-jan still open after grace (02-05): flag #1, 6 days late -> 较轻 (light)
  2026-04-03  c  plan done (甲), grace ends 04-05         -> late, no flag
  2026-05-20  x  plan done (丁), grace ended 04-05        -> late, and flagged at the next pass
  2026-03-01, 2026-06-01  x  meetings done twice (min 2)  -> on time (done before the due date)
  2026-06-30  x  analysis H1 done on its due date         -> on time
  2026-09-01  c  meetings done once of twice              -> still open
  2026-11-27  pass: c analysis H1 (乙, due 06-30, 150 days late) flag #2 -> 严重 (grave);
              x plan (丁, 241 days late) flag #3 -> 严重; flag #3 is then dismissed (late
              completion justified) and flag #1 advanced to 决定 with 诫勉谈话 decided 2026-11-20.

As of 2026-11-27 (upcoming: due after that day and not done):
  c: 6 = on time 1 (report-jan) + late 1 (plan) + missed 1 (H1) + upcoming 3 (H2, meetings,
     丙's research); assessed 3; completion 2/3 = 0.6667; on time 1/3 = 0.3333;
     open flags 1 (#2: item 2, grave)
  x: 6 = on time 2 (H1, meetings) + late 1 (plan) + missed 1 (report-jan) + upcoming 2 (H2,
     甲's research); assessed 4; completion 3/4 = 0.75; on time 2/4 = 0.5;
     open flags 1 (#1, decided: item 5, light), dismissed 1 (#3), measure 诫勉谈话
  total: 12 = 3 + 2 + 2 + 5; assessed 7; completion 5/7 = 0.7143; on time 3/7 = 0.4286;
     open 2 (item 2: 1, item 5: 1; light 1, grave 1)
  posts: 甲@c (report-jan on time, plan late: 2, rate 1.0, on time 0.5);
         乙@c (H1 missed, H2 and meetings upcoming: 3, assessed 1, rate 0.0, open flag 1);
         丙@c (research upcoming: 1, rates null); 丁@x (5: on time 2, late 1, missed 1,
         upcoming 1; rate 0.75; on time 0.5; open 1; measure); 甲@x (research upcoming: 1)
As of 2027-01-03 (final): the five December duties not done are inside grace: overdue 5,
  upcoming 0; assessed 12; completion 5/12 = 0.4167; on time 3/12 = 0.25.
"""
import csv
import io
import json
import os
import subprocess
import threading
import unittest

import harness
from harness import Daemon, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "report", "scenario.toml")
CATALOGUE = os.path.join(HERE, "report", "catalogue.toml")
PASS_LINE = "flags: pass over "
AS_OF = "2026-11-27"

# (total, assessed, on_time, late, missed, overdue, upcoming, done), completion, on-time rate,
# open flags, by 第二十七条 item 1-5, by grade (light, serious, grave)
EXPECTED_ORGS = {
    "c": ((6, 3, 1, 1, 1, 0, 3, 2), 0.6667, 0.3333, 1, (0, 1, 0, 0, 0), (0, 0, 1)),
    "x": ((6, 4, 2, 1, 1, 0, 2, 3), 0.75, 0.5, 1, (0, 0, 0, 0, 1), (1, 0, 0)),
}
EXPECTED_TOTAL = ((12, 7, 3, 2, 2, 0, 5, 5), 0.7143, 0.4286, 2, (0, 1, 0, 0, 1), (1, 0, 1))
EXPECTED_PERSONS = [
    # (person, org, role, counts, completion, on time, open flags)
    ("p-jia", "c", "principal", (2, 2, 1, 1, 0, 0, 0, 2), 1.0, 0.5, 0),
    ("p-yi", "c", "principal", (3, 1, 0, 0, 1, 0, 2, 0), 0.0, 0.0, 1),
    ("p-bing", "c", "member", (1, 0, 0, 0, 0, 0, 1, 0), None, None, 0),
    ("p-ding", "x", "principal", (5, 4, 2, 1, 1, 0, 1, 3), 0.75, 0.5, 1),
    ("p-jia", "x", "member", (1, 0, 0, 0, 0, 0, 1, 0), None, None, 0),
]
COUNT_KEYS = ("total", "assessed", "on_time", "late", "missed", "overdue", "upcoming", "done")


def counts_of(row):
    return tuple(row["counts"][k] for k in COUNT_KEYS)


class ReportsTest(unittest.TestCase):
    maxDiff = 6000

    @classmethod
    def setUpClass(cls):
        d = cls.d = Daemon({"DUTYD_CATALOGUE": CATALOGUE})
        with open(SCENARIO, encoding="utf-8") as f:
            d.write_config(f.read())
        try:
            cls.build_scenario()
        except BaseException:
            d.cleanup()
            raise

    @classmethod
    def run_until_pass(cls, now):
        cls.d.start(now=now)
        run = cls.d.runs
        wait_until(lambda: cls.d.stderr(run).count(PASS_LINE) >= 1, 30, "a flag pass")

    @classmethod
    def complete(cls, uid, done_on):
        cls.d.cli_ok("complete", "--occurrence", uid, "--done-on", done_on,
                     "--now", done_on + "T18:00:00", "--note", "report test")

    @classmethod
    def build_scenario(cls):
        d = cls.d
        cls.run_until_pass("2026-01-02T09:00:00")   # flags.since = 2026-01-02
        d.stop()
        cls.complete("a6.16.report-jan/c/2026@dutyd", "2026-01-20")
        cls.run_until_pass("2026-02-06T09:00:00")   # flag #1: x report-jan
        d.stop()
        cls.complete("a6.1.plan/c/2026@dutyd", "2026-04-03")
        cls.complete("a7.6.meetings/x/2026@dutyd", "2026-03-01")
        cls.complete("a6.1.plan/x/2026@dutyd", "2026-05-20")
        cls.complete("a7.6.meetings/x/2026@dutyd", "2026-06-01")
        cls.complete("a6.1.analysis/x/2026H1@dutyd", "2026-06-30")
        cls.complete("a7.6.meetings/c/2026@dutyd", "2026-09-01")
        cls.run_until_pass(AS_OF + "T09:00:00")     # flags #2 (c H1) and #3 (x plan)
        flags = {f["occurrence"]: f for f in
                 (json.loads(l) for l in d.cli_ok("flags", "--format", "json").splitlines())}
        cls.flag_ids = {k: v["id"] for k, v in flags.items()}
        assert sorted(flags) == ["a6.1.analysis/c/2026H1@dutyd", "a6.1.plan/x/2026@dutyd",
                                 "a6.16.report-jan/x/2026@dutyd"], sorted(flags)
        jan = cls.flag_ids["a6.16.report-jan/x/2026@dutyd"]
        now = ("--now", AS_OF + "T10:00:00")
        d.cli_ok("flag", "dismiss", "--id", str(cls.flag_ids["a6.1.plan/x/2026@dutyd"]),
                 "--reason", "逾期完成理由正当", *now)
        for _ in range(2):
            d.cli_ok("flag", "advance", "--id", str(jan), "--reason", "报批、调查", *now)
        d.cli_ok("flag", "advance", "--id", str(jan), "--measure", "诫勉谈话",
                 "--decided-on", "2026-11-20", "--reason", "决定", *now)
        cls.admin = d.api_token(admin=True)
        cls.org_token = d.cli_ok("token", "issue", "--org", "x", "--kind", "api").strip()
        cls.person_token = d.api_token(person="p-ding")

    @classmethod
    def tearDownClass(cls):
        d = cls.d
        try:
            if d.alive():
                rc, _ = d.stop()
                assert rc == 0, "dutyd exit code after SIGTERM: %r" % rc
            for marker in harness.SANITIZER_MARKERS:
                assert marker not in d.stderr(), "sanitizer report in dutyd's stderr"
        finally:
            d.cleanup()

    def report_lines(self, *args):
        out = self.d.cli_ok("report", "--year", "2026", "--format", "json", *args)
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def check_row(self, row, expected):
        counts, rate, on_time, open_flags, items, grades = expected
        self.assertEqual(counts_of(row), counts)
        self.assertEqual(row["completion_rate"], rate)
        self.assertEqual(row["on_time_rate"], on_time)
        self.assertEqual(row["open_flags"], open_flags)
        self.assertEqual(tuple(row["open_flags_by_art27"][str(i)] for i in range(1, 6)), items)
        self.assertEqual(tuple(row["open_flags_by_severity"][g] for g in ("light", "serious", "grave")),
                         grades)

    def check_document(self, summary, orgs, persons):
        self.assertEqual((summary["year"], summary["as_of"], summary["final"]), (2026, AS_OF, False))
        self.check_row(summary, EXPECTED_TOTAL)
        self.assertEqual(summary["dismissed_flags"], 1)
        self.assertEqual([o["org"] for o in orgs], ["c", "x"])  # c-zzb has nothing: no row
        for o in orgs:
            self.check_row(o, EXPECTED_ORGS[o["org"]])
        c, x = orgs
        self.assertEqual([(m["uid"], m["flag"]) for m in c["missed"]],
                         [("a6.1.analysis/c/2026H1@dutyd", self.flag_ids["a6.1.analysis/c/2026H1@dutyd"])])
        self.assertEqual(c["missed"][0]["citation"], "第六条第（一）项")
        self.assertEqual([m["uid"] for m in x["missed"]], ["a6.16.report-jan/x/2026@dutyd"])
        self.assertEqual(x["dismissed_flags"], 1)
        # 诫勉谈话 decided 2026-11-20: six months without promotion to 2027-05-20 (the decision
        # day does not count), no excellence rating that year (to 2026-12-31).
        self.assertEqual(len(x["measures"]), 1)
        m = x["measures"][0]
        self.assertEqual((m["measure"], m["measure_zh"], m["decided_on"]), ("admonishment", "诫勉谈话", "2026-11-20"))
        self.assertEqual(sorted(i["until"] for i in m["impacts"]), ["2026-12-31", "2027-05-20"])
        got = [(p["person"], p["org"], p["role"], counts_of(p), p["completion_rate"],
                p["on_time_rate"], p["open_flags"]) for p in persons]
        self.assertEqual(got, EXPECTED_PERSONS)
        self.assertEqual((persons[0]["post_from"], persons[0]["post_until"]), ("2024-01-01", "2026-04-30"))
        self.assertEqual((persons[4]["post_from"], persons[4]["post_until"]), ("2026-05-01", None))
        self.assertEqual(persons[1]["name"], "乙某")
        self.assertEqual([mm["uid"] for mm in persons[1]["missed"]], ["a6.1.analysis/c/2026H1@dutyd"])
        self.assertEqual(len(persons[3]["measures"]), 1)

    # --- CLI -----------------------------------------------------------------------------
    def test_cli_json(self):
        rows = self.report_lines("--today", AS_OF)
        self.assertEqual([r["type"] for r in rows], ["summary", "org", "org"] + ["person"] * 5)
        self.check_document(rows[0], rows[1:3], rows[3:])
        # --now gives the same as-of day as --today.
        self.assertEqual(self.report_lines("--now", AS_OF + "T23:00:00"), rows)

    def test_cli_csv(self):
        raw = self.cli_bytes("report", "--year", "2026", "--format", "csv", "--today", AS_OF)
        self.assertTrue(raw.startswith(b"\xef\xbb\xbf"), raw[:20])
        self.assertEqual(raw.count(b"\n"), raw.count(b"\r\n"))
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
        self.assertEqual([r["类别"] for r in rows], ["合计", "领导班子", "领导班子"] + ["领导干部"] * 5)
        heads = ("应履行", "已到期", "按时完成", "逾期完成", "未履行", "已逾期未完成", "未到期")
        def ints(r):
            return tuple(int(r[h]) for h in heads)
        # The json's order: total, assessed, on_time, late, missed, overdue, upcoming.
        self.assertEqual(ints(rows[0]), EXPECTED_TOTAL[0][:7])
        self.assertEqual(ints(rows[1]), EXPECTED_ORGS["c"][0][:7])
        self.assertEqual(ints(rows[2]), EXPECTED_ORGS["x"][0][:7])
        self.assertEqual([(r["人员编号"], r["组织编号"]) for r in rows[3:]],
                         [(p[0], p[1]) for p in EXPECTED_PERSONS])
        self.assertEqual([ints(r) for r in rows[3:]], [p[3][:7] for p in EXPECTED_PERSONS])
        self.assertEqual((rows[0]["完成率"], rows[0]["按时完成率"]), ("71.4%", "42.9%"))
        self.assertEqual(rows[5]["完成率"], "-")   # 丙: nothing due yet
        self.assertEqual(rows[1]["组织"], "中共测试市委")
        self.assertEqual((rows[0]["第二十七条第（二）项"], rows[0]["第二十七条第（五）项"], rows[0]["情节严重"]),
                         ("1", "1", "1"))
        self.assertIn("【第六条第（一）项】", rows[1]["未履行事项"])
        self.assertIn("诫勉谈话（2026-11-20决定", rows[2]["已决定的问责措施"])
        self.assertEqual((rows[3]["任职起"], rows[3]["任职止"], rows[3]["职务"]), ("2024-01-01", "2026-04-30", "主要负责人"))

    def cli_bytes(self, *args):
        env = self.d.env()
        env.pop("NOTIFY_SOCKET", None)
        p = subprocess.run([harness.DUTYD, *args, "-c", self.d.config], capture_output=True,
                           env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_cli_table(self):
        out = self.d.cli_ok("report", "--year", "2026", "--today", AS_OF)
        self.assertIn("全面从严治党主体责任履行情况年度报告（2026年度）", out)
        self.assertIn("截至：2026-11-27（年度未结束", out)
        lines = out.splitlines()
        head = next(l for l in lines if l.startswith("组织 "))
        city = next(l for l in lines if l.startswith("中共测试市委 "))
        total = next(l for l in lines if l.startswith("合计 "))
        self.assertEqual(city.split()[1:8], ["6", "3", "1", "1", "1", "0", "3"])
        self.assertEqual(total.split()[1:10], ["12", "7", "3", "2", "2", "0", "5", "71.4%", "42.9%"])
        # Aligned: every column of the organisations' table ends at the same display column.
        def width(s):
            return sum(2 if ord(ch) >= 0x1100 else 1 for ch in s)
        self.assertEqual(width(head), width(city))
        self.assertEqual(width(head), width(total))
        self.assertIn("中共测试市委  【第六条第（一）项】", out)
        self.assertIn("责任人：乙某", out)
        self.assertIn("诫勉谈话（2026-11-20决定", out)
        # After the year and its grace periods' start: final, five December duties overdue.
        out = self.d.cli_ok("report", "--year", "2026", "--today", "2027-01-03")
        self.assertIn("年度已结束", out)
        total = next(l for l in out.splitlines() if l.startswith("合计 "))
        self.assertEqual(total.split()[1:10], ["12", "12", "3", "2", "2", "5", "0", "41.7%", "25.0%"])

    def test_cli_subtree_and_errors(self):
        rows = self.report_lines("--today", AS_OF, "--org", "x")
        self.assertEqual([(r["type"], r["org"]) for r in rows],
                         [("summary", "x"), ("org", "x"), ("person", "x"), ("person", "x")])
        self.assertEqual(counts_of(rows[0]), EXPECTED_ORGS["x"][0])
        rc, out, err = self.d.cli("report", "--year", "2026", "--org", "nope")
        self.assertEqual(rc, 1)
        self.assertIn("unknown org 'nope'", err)
        rc, out, err = self.d.cli("report", "--year", "26")
        self.assertEqual(rc, 64)
        self.assertIn("--year '26' is not a year", err)
        rc, out, err = self.d.cli("report", "--format", "xml")
        self.assertEqual(rc, 64)
        self.assertIn("--format 'xml' is not one of: table, csv, json", err)
        rc, out, err = self.d.cli("report", "--today", AS_OF, "--now", AS_OF)
        self.assertEqual(rc, 64)

    # --- API -----------------------------------------------------------------------------
    def test_api_json_matches_cli(self):
        r = self.d.api("GET", "/api/v1/reports?year=2026", self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json")
        doc = r.json()
        self.assertEqual((doc["year"], doc["as_of"], doc["final"], doc["org"]), (2026, AS_OF, False, None))
        self.check_document(doc["summary"], doc["orgs"], doc["persons"])
        cli = self.report_lines("--today", AS_OF)
        self.assertEqual([doc["summary"]] + doc["orgs"] + doc["persons"], cli)

    def test_api_csv(self):
        r = self.d.api("GET", "/api/v1/reports?year=2026&org=c&format=csv", self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "text/csv; charset=utf-8")
        self.assertTrue(r.body.startswith(b"\xef\xbb\xbf"))
        self.assertEqual(r.body, self.cli_bytes("report", "--year", "2026", "--org", "c",
                                                "--format", "csv", "--today", AS_OF))
        rows = list(csv.DictReader(io.StringIO(r.body.decode("utf-8-sig"), newline="")))
        self.assertEqual(rows[0]["应履行"], "12")

    def test_api_org_token_sees_its_subtree(self):
        r = self.d.api("GET", "/api/v1/reports?year=2026", self.org_token)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["org"], "x")
        self.assertEqual([o["org"] for o in doc["orgs"]], ["x"])
        self.check_row(doc["summary"], EXPECTED_ORGS["x"])
        r = self.d.api("GET", "/api/v1/reports?year=2026&org=c", self.org_token)
        self.assertEqual(r.status, 403)
        self.assertIn("own subtree", r.json()["error"])

    def test_api_errors(self):
        cases = [
            ("/api/v1/reports?year=2026", None, 401),
            ("/api/v1/reports?year=2026", self.person_token, 403),
            ("/api/v1/reports", self.admin, 400),
            ("/api/v1/reports?year=20x6", self.admin, 400),
            ("/api/v1/reports?year=2026&format=xml", self.admin, 400),
            ("/api/v1/reports?year=2026&colour=red", self.admin, 400),
            ("/api/v1/reports?year=2026&org=nope", self.admin, 404),
            ("/api/v1/reports?year=%zz", self.admin, 400),
        ]
        for path, token, status in cases:
            r = self.d.api("GET", path, token)
            self.assertEqual(r.status, status, (path, r))
            self.assertIn("error", r.json())
        r = self.d.api("POST", "/api/v1/reports?year=2026", self.admin, payload={})
        self.assertEqual((r.status, r.header("Allow")), (405, "GET"))
        # A year outside the daemon's horizon is derived for the request: 2030 is all upcoming.
        r = self.d.api("GET", "/api/v1/reports?year=2030", self.admin)
        self.assertEqual(r.status, 200)
        self.assertEqual(counts_of(r.json()["summary"]), (12, 0, 0, 0, 0, 0, 12, 0))


class ReportsOffTheLoopTest(unittest.TestCase):
    """A report is made on a thread of its own (a province's takes seconds): the daemon answers
    everything else meanwhile, refuses reports beyond four at once (503, Retry-After), and a stop
    waits for the report being made and answers it. DUTYD_REPORT_DELAY_MS makes each report take
    1.5 s longer, so that "meanwhile" does not depend on this machine's speed."""
    DELAY_MS = 1500
    MAKING = "making the report of 2026"

    @classmethod
    def setUpClass(cls):
        d = cls.d = Daemon({"DUTYD_CATALOGUE": CATALOGUE, "DUTYD_REPORT_DELAY_MS": str(cls.DELAY_MS)})
        with open(SCENARIO, encoding="utf-8") as f:
            d.write_config(f.read())
        try:
            d.start(now=AS_OF + "T09:00:00")
            cls.admin = d.api_token(admin=True)
        except BaseException:
            d.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.d.alive():
                cls.d.stop()
            for marker in harness.SANITIZER_MARKERS:
                assert marker not in cls.d.stderr(), "sanitizer report in dutyd's stderr"
        finally:
            cls.d.cleanup()

    def report_in_background(self, results, path="/api/v1/reports?year=2026"):
        def run():
            try:
                results.append(self.d.api("GET", path, self.admin, timeout=60))
            except Exception as e:  # noqa: BLE001 - reported by the assertions below
                results.append(e)
        t = threading.Thread(target=run)
        t.start()
        return t

    def making_count(self):
        return self.d.stderr().count(self.MAKING)

    def test_1_the_daemon_answers_while_a_report_is_made(self):
        before = self.making_count()
        results = []
        t = self.report_in_background(results)
        wait_until(lambda: self.making_count() > before, 20, "the report thread to begin")
        # The report takes at least DELAY_MS from here: these are answered before it is.
        self.assertEqual(self.d.get("/healthz").status, 200)
        occ = self.d.api("GET", "/api/v1/occurrences?org=c", self.admin)
        self.assertEqual(occ.status, 200, occ)
        self.assertEqual(results, [], "the report was answered before the requests that came after it")
        t.join(60)
        self.assertEqual(len(results), 1)
        r = results[0]
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["year"], 2026)
        self.assertIn("made the report of 2026 for every organisation in ", self.d.stderr())

    def test_2_more_than_four_at_once_are_refused(self):
        results, threads = [], []
        for i in range(7):
            threads.append(self.report_in_background(results, "/api/v1/reports?year=2026&org=%s" % "cx"[i % 2]))
        for t in threads:
            t.join(90)
        self.assertEqual(len(results), 7)
        statuses = sorted(r.status for r in results)
        # One being made and three waiting are taken; the others are told to come back.
        self.assertEqual(statuses, [200] * 4 + [503] * 3, results)
        for r in results:
            if r.status == 503:
                self.assertEqual(r.header("Retry-After"), "5")
                self.assertIn("try again", r.json()["error"])
            else:
                self.assertIn(r.json()["org"], ("c", "x"))

    def test_3_a_stop_answers_the_report_being_made(self):
        before = self.making_count()
        results = []
        t = self.report_in_background(results)
        wait_until(lambda: self.making_count() > before, 20, "the report thread to begin")
        rc, took = self.d.stop()
        t.join(60)
        self.assertEqual(rc, 0)
        self.assertEqual(len(results), 1)
        self.assertEqual(results[0].status, 200, results[0])
        self.assertGreaterEqual(took, 0.0)


if __name__ == "__main__":
    unittest.main()
