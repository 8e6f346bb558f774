"""Reminders sent by the real `dutyd run` (with --now) to real receivers on loopback: aiosmtpd
with STARTTLS and AUTH, and HTTP receivers that check WeCom, DingTalk and Feishu bodies and
signatures as the services do (tests/notifiers/loopback_servers.py).

What is expected comes from `dutyd simulate` on the same configuration (the plan) and from
hand-checked facts of the example (who holds which post, the 2026 holidays); what arrived is
read back from the receivers and decoded with Python's email package.
"""
import datetime
import email
import email.policy
import glob
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import unittest
import urllib.parse

import harness
from harness import Daemon, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = os.path.join(HERE, "..", "notifiers", "loopback_servers.py")
PYTHON = "/usr/bin/python3"

# The loopback receivers' secrets (see loopback_servers.py).
CREDENTIALS = {"smtp_password": "s3cret 密码", "dl_wecom_key": "dl-key", "dl_ding_token": "dl-token",
               "dl_ding_secret": "SECding", "ln_feishu_token": "ln-token", "ln_feishu_secret": "feishu-secret"}


class Receivers:
    def __init__(self, delay=0.0):
        self.dir = os.path.join(harness.tempfile.mkdtemp(prefix="dutyd-rx-"))
        env = dict(os.environ, LOOPBACK_DELAY=str(delay))
        self.proc = subprocess.Popen([PYTHON, SERVERS, self.dir], stdout=subprocess.PIPE, env=env, text=True)
        ports = {}
        for line in self.proc.stdout:
            if line.strip() == "ready":
                break
            k, v = line.split()
            ports[k] = int(v)
        self.smtp, self.http = ports["smtp"], ports["http"]

    def close(self):
        self.proc.kill()
        self.proc.wait()
        harness.shutil.rmtree(self.dir, ignore_errors=True)

    def set_outage(self, on):
        path = os.path.join(self.dir, "outage")
        if on:
            open(path, "w").close()
        elif os.path.exists(path):
            os.remove(path)

    def mails(self):
        """[(envelope dict, email.message.EmailMessage)] in arrival order."""
        out = []
        for p in glob.glob(os.path.join(self.dir, "mail-*.eml")):
            with open(p, "rb") as f:
                head, raw = f.read().split(b"\n", 1)
            out.append((json.loads(head), email.message_from_bytes(raw, policy=email.policy.default)))
        return sorted(out, key=lambda m: m[0]["t"])

    def robots(self):
        try:
            with open(os.path.join(self.dir, "http.jsonl"), encoding="utf-8") as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def count(self):
        return len(glob.glob(os.path.join(self.dir, "mail-*.eml"))) + len(self.robots())


def robot_text(r):
    b = r["body"]
    if "text" in b and isinstance(b["text"], dict):
        return b["text"].get("content", "")
    if "markdown" in b:
        return b["markdown"].get("text", b["markdown"].get("content", ""))
    if "content" in b:
        return json.dumps(b["content"], ensure_ascii=False)
    return json.dumps(b, ensure_ascii=False)


class ReminderDaemon(Daemon):
    """The example with its channels pointed at the loopback receivers and credentials in a
    private folder."""

    def __init__(self, rx, extra_main=""):
        super().__init__()
        self.rx = rx
        self.creds = os.path.join(self.tmp, "credentials")
        os.makedirs(self.creds)
        for name, value in CREDENTIALS.items():
            self.set_credential(name, value)
        main = self.base_config.replace(
            'url = "smtp://mail.example.gov.cn:587"',
            'url = "smtp://127.0.0.1:%d"\nca_file = "%s"' % (rx.smtp, os.path.join(rx.dir, "cert.pem")))
        main = main.replace("https://open.feishu.cn/open-apis/bot/v2/hook", "http://127.0.0.1:%d/feishu/hook" % rx.http)
        self.base_config = main + extra_main
        self.write_config(self.base_config)
        dalian = self.read_file("conf.d/dalian.toml")
        dalian = dalian.replace("https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "http://127.0.0.1:%d/wecom/send" % rx.http)
        dalian = dalian.replace("https://oapi.dingtalk.com/robot/send", "http://127.0.0.1:%d/dingtalk/send" % rx.http)
        self.write_file("conf.d/dalian.toml", dalian)

    def start(self, *args, **kwargs):
        """Starts and waits until the first plan is in the outbox (it is written on a thread of
        its own after READY=1)."""
        super().start(*args, **kwargs)
        run = self.runs
        wait_until(lambda: "reminders: planned through" in self.stderr(run) or not self.alive(), 60,
                   "the first plan")
        return self

    def set_credential(self, name, value):
        with open(os.path.join(self.creds, name), "w", encoding="utf-8") as f:
            f.write(value)

    def daemon_table(self):
        creds = getattr(self, "creds", None)  # the base class writes a first config before it exists
        return super().daemon_table() + ('credentials_dir = "%s"\n' % creds if creds else "")

    def plan(self, day):
        """The deliveries `dutyd simulate` plans for one day."""
        out = self.cli_ok("simulate", "--from", day, "--to", day, "--format", "json")
        return [r for r in map(json.loads, out.splitlines()) if r["type"] == "delivery"]

    def outbox(self):
        con = sqlite3.connect(self.database, timeout=10)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute("SELECT * FROM deliveries ORDER BY id")]
        finally:
            con.close()


class Base(unittest.TestCase):
    delay = 0.0

    def setUp(self):
        self.rx = Receivers(self.delay)
        self.addCleanup(self.rx.close)

    def daemon(self, extra_main=""):
        d = ReminderDaemon(self.rx, extra_main)
        self.addCleanup(d.cleanup)
        return d

    def assertNoSanitizerReports(self, d):
        err = d.stderr()
        for m in harness.SANITIZER_MARKERS:
            self.assertNotIn(m, err)


class StepsAndRecipients(Base):
    def test_a_day_of_steps_reaches_exactly_the_planned_recipients(self):
        d = self.daemon()
        plan = d.plan("2026-07-07")  # +5wd of the half-year duties due 06-30, and more
        d.start(now="2026-07-07T08:59:58")
        wait_until(lambda: self.rx.count() >= len(plan), 60, "%d deliveries" % len(plan))
        time.sleep(1.5)  # nothing more may come
        mails, robots = self.rx.mails(), self.rx.robots()
        self.assertEqual(len(mails) + len(robots), len(plan), d.stderr()[-3000:])

        # E-mail: one transfer per recipient, to exactly the planned addresses, over TLS + AUTH.
        want_mail = sorted(r["address"] for r in plan if r["channel_kind"] == "email")
        self.assertEqual(sorted(env["to"][0] for env, _ in mails), want_mail)
        for env, m in mails:
            self.assertEqual(len(env["to"]), 1)
            self.assertTrue(env["tls"] and env["auth"], env)
            self.assertEqual(m.get_content_type(), "text/plain")
            body = m.get_content()
            self.assertIn("已逾期", m["subject"])  # +5wd: overdue
            self.assertIn("《实施细则》第", body)
            self.assertIn("/complete?o=", body)
            self.assertIn("2026-06-30", body)  # the due date
        # The discipline organ (陶𨭉, a 4-byte character) is told and hears who else was told.
        tao = [m for env, m in mails if m["to"].addresses[0].display_name == "陶𨭉"]
        self.assertTrue(tao, [m["to"] for _, m in mails])
        self.assertTrue(any("施某（组织部门）" in m.get_content() for m in tao), tao[0].get_content())

        # Robots: per channel the planned count; every WeCom message @mentions its person.
        by_path = {}
        for r in robots:
            by_path.setdefault(r["path"].split("/")[1], []).append(r)
        planned = {}
        for r in plan:
            planned.setdefault(r["channel"], []).append(r)
        self.assertEqual(len(by_path.get("wecom", [])), len(planned.get("dl-wecom", [])))
        self.assertEqual(len(by_path.get("feishu", [])), len(planned.get("ln-feishu", [])))
        want_mentions = sorted(r["mention"] for r in planned.get("dl-wecom", []) if r["mention"])
        got_mentions = sorted(m for r in by_path.get("wecom", [])
                              for m in r["body"]["text"].get("mentioned_list", []) +
                              r["body"]["text"].get("mentioned_mobile_list", []))
        self.assertEqual(got_mentions, want_mentions)
        for r in robots:
            self.assertIn("已逾期", robot_text(r))
        for r in by_path.get("wecom", []):  # one message, not a title line repeating it
            self.assertTrue(robot_text(r).startswith("【逾期督办】"), robot_text(r)[:80])
            self.assertEqual(robot_text(r).count("【逾期督办】"), 1)
        # Feishu: at most 5 a second (the robot's limit).
        times = sorted(r["t"] for r in by_path.get("feishu", []))
        for i in range(len(times) - 5):
            self.assertGreater(times[i + 5] - times[i], 1.0 - 0.05, times)

        rows = d.outbox()
        self.assertEqual(len(rows), len(plan))
        self.assertTrue(all(r["status"] == "sent" for r in rows), [r for r in rows if r["status"] != "sent"][:3])
        # Secrets are nowhere in the log.
        err = d.stderr()
        for secret in CREDENTIALS.values():
            self.assertNotIn(secret, err)
        self.assertEqual(d.stop()[0], 0)
        self.assertNoSanitizerReports(d)

    def test_wecom_rate_limit_is_never_exceeded(self):
        # A ladder of 25 identical chat steps for the example's incident review (due Monday
        # 2026-05-25): 25 WeCom messages planned for the same minute; 20 may go at once, the
        # rest a minute later.
        steps = ",\n".join('  { at = "-1wd", notify = ["responsible"], via = ["chat"] }' for _ in range(25))
        d = self.daemon('\n[[ladder]]\nid = "burst"\nsteps = [\n%s\n]\n\n[[override]]\n'
                        'obligation = "a6.9.review"\nladder = "burst"\n' % steps)
        plan = [r for r in d.plan("2026-05-22") if r["channel"] == "dl-wecom"]
        self.assertGreaterEqual(len(plan), 25)
        d.start(now="2026-05-22T08:59:58")
        wait_until(lambda: len([r for r in self.rx.robots() if r["path"] == "/wecom/send"]) >= len(plan), 150,
                   "%d WeCom messages" % len(plan))
        times = sorted(r["t"] for r in self.rx.robots() if r["path"] == "/wecom/send")
        self.assertEqual(len(times), len(plan))
        for i in range(len(times) - 20):
            self.assertGreater(times[i + 20] - times[i], 60.0 - 0.05, "21 messages within a minute")
        self.assertGreater(times[-1] - times[0], 59.0)
        self.assertEqual(d.stop()[0], 0)


    def test_log_channel_and_metrics(self):
        d = self.daemon('\n[[channel]]\nid = "demo-log"\nkind = "log"\n')  # every organisation's chat
        plan = d.plan("2026-06-29")
        logged = [r for r in plan if r["channel"] == "demo-log"]
        self.assertTrue(logged)
        d.start(now="2026-06-29T08:59:58")
        wait_until(lambda: len([r for r in d.outbox() if r["status"] == "sent"]) >= len(plan), 30, "every row sent")
        lines = [l for l in d.stderr().splitlines() if l.startswith("<6>提醒[demo-log] 致 ")]
        self.assertEqual(len(lines), len(logged), lines[:3])
        self.assertTrue(any("欧阳明远" in l and "2026-06-30" in l for l in lines), lines[:3])
        _, metrics = d.metrics()
        self.assertEqual(metrics.get(("dutyd_deliveries_total", frozenset({("result", "sent")}))), len(plan))
        self.assertEqual(metrics.get(("dutyd_deliveries_total", frozenset({("result", "failed")}))), 0)
        self.assertEqual(metrics.get(("dutyd_channels_unavailable", frozenset())), 0)
        self.assertEqual(d.stop()[0], 0)


class CredentialsFolder(Base):
    def test_a_folder_loaded_by_systemd_serves_every_channel_and_the_link_key(self):
        # dutyd.service loads /etc/dutyd/credentials with LoadCredential=dutyd:/etc/dutyd/credentials;
        # systemd 252 puts each file F there into $CREDENTIALS_DIRECTORY as dutyd_F. Here the
        # folder is made by hand the same way and handed over in CREDENTIALS_DIRECTORY, without
        # [daemon] credentials_dir.
        d = self.daemon()
        d.creds = None  # no credentials_dir in the configuration
        d.write_config(d.base_config)
        folder = os.path.join(d.tmp, "run-credentials")
        os.makedirs(folder)
        secrets = dict(CREDENTIALS, link_key="folder-link-key")
        for name, value in secrets.items():
            with open(os.path.join(folder, "dutyd_" + name), "w", encoding="utf-8") as f:
                f.write(value + "\n")
        d.extra_env["CREDENTIALS_DIRECTORY"] = folder
        plan = d.plan("2026-07-07")
        kinds = {r["channel_kind"] for r in plan}
        self.assertTrue({"email", "wecom", "feishu"} <= kinds, kinds)
        d.start(now="2026-07-07T08:59:58")
        wait_until(lambda: self.rx.count() >= len(plan), 60, "%d deliveries" % len(plan))
        rows = d.outbox()
        self.assertTrue(all(r["status"] == "sent" for r in rows), [r for r in rows if r["status"] != "sent"][:3])
        _, metrics = d.metrics()
        self.assertEqual(metrics.get(("dutyd_channels_unavailable", frozenset())), 0)
        # Completion links are signed with the folder's link_key, not the database's own key.
        env, m = self.rx.mails()[0]
        link = next(w for w in m.get_content().split() if "/complete?o=" in w)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
        want = hmac.new(b"folder-link-key", ("%s\n%s\n%s" % (q["o"], q["p"], q["x"])).encode(),
                        hashlib.sha256).hexdigest()
        self.assertEqual(q["s"], want)
        self.assertEqual(d.stop()[0], 0)


class FailuresAndFallback(Base):
    def test_permanent_error_falls_back_to_email_and_alerts_once(self):
        d = self.daemon()
        d.set_credential("dl_wecom_key", "bad")  # the receiver answers 93000, as WeCom does
        plan = d.plan("2026-06-29")  # -1wd: chat only
        wecom = [r for r in plan if r["channel"] == "dl-wecom"]
        self.assertTrue(wecom)
        d.start(now="2026-06-29T08:59:58")
        with_email = {r["person"] for r in wecom}
        wait_until(lambda: len(self.rx.mails()) >= len(wecom) + 1, 30, "fallback e-mails and the alert")
        time.sleep(1.0)
        rows = d.outbox()
        failed = [r for r in rows if r["channel"] == "dl-wecom"]
        self.assertEqual({r["status"] for r in failed}, {"failed"})
        self.assertTrue(all("93000" in r["last_error"] for r in failed), failed[0])
        fallbacks = [r for r in rows if r["purpose"] == "fallback"]
        self.assertEqual(len(fallbacks), len(wecom))
        self.assertEqual({r["person"] for r in fallbacks}, with_email)
        self.assertTrue(all(r["status"] == "sent" and r["channel"] == "mail" for r in fallbacks))
        alerts = [r for r in rows if r["purpose"] == "alert"]
        self.assertEqual(len(alerts), 1, alerts)
        mails = self.rx.mails()
        admin = [m for env, m in mails if env["to"] == ["dutyd-admin@example.gov.cn"]]
        self.assertEqual(len(admin), 1)
        text = admin[0]["subject"] + admin[0].get_content()
        self.assertIn("dl-wecom", text)
        self.assertIn("93000", text)
        self.assertNotIn("key=bad", text)  # the robot's key is a secret
        # The fallback mail says the same as the chat message would have.
        ouyang = [m for env, m in mails if env["to"] == ["ouyang.mingyuan@example.gov.cn"]]
        self.assertTrue(ouyang)
        self.assertIn("2026-06-30", ouyang[0]["subject"])
        # Feishu was fine and went out normally.
        self.assertEqual(len([r for r in self.rx.robots() if r["path"].startswith("/feishu/")]),
                         len([r for r in plan if r["channel"] == "ln-feishu"]))
        self.assertEqual(d.stop()[0], 0)

    def test_outage_then_recovery_delivers_everything_once_with_backoff(self):
        d = self.daemon()
        plan = d.plan("2026-06-23")
        self.rx.set_outage(True)
        d.start(now="2026-06-23T08:59:58")
        time.sleep(7)
        self.assertEqual(self.rx.count(), 0)
        rows = d.outbox()
        self.assertEqual(len(rows), len(plan))
        self.assertTrue(all(r["status"] in ("queued", "sending") and r["attempts"] >= 2 for r in rows),
                        [(r["status"], r["attempts"]) for r in rows])
        self.assertTrue(all(r["last_error"] for r in rows))
        # Backoff: the gaps between one row's attempts grow.
        retries = [l for l in d.stderr().splitlines() if "delivery #1 " in l and "retrying at" in l]
        self.assertGreaterEqual(len(retries), 2, retries)
        self.rx.set_outage(False)
        wait_until(lambda: self.rx.count() >= len(plan), 90, "delivery after recovery")
        time.sleep(1.5)
        self.assertEqual(self.rx.count(), len(plan))  # nothing twice, nothing lost
        self.assertTrue(all(r["status"] == "sent" for r in d.outbox()))
        self.assertEqual(d.stop()[0], 0)


class CompletionAndCalendar(Base):
    def test_completion_stops_the_ladder(self):
        d = self.daemon()
        uid = "a6.1.analysis/dl/2026H1@dutyd"
        d.start(now="2026-06-23T08:59:50")
        # The first plan is written on the scheduler's own thread, after READY.
        wait_until(lambda: any(r["occurrence"] == uid for r in d.outbox()), 20, "the first plan")
        mine = [r for r in d.outbox() if r["occurrence"] == uid]
        self.assertTrue(mine and all(r["status"] == "queued" for r in mine), mine)
        d.cli_ok("complete", "--occurrence", uid, "--done-on", "2026-06-22", "--minutes", "常委会纪要〔2026〕12号")
        plan = d.plan("2026-06-23")
        others = [r for r in plan if r["occurrence"] != uid]
        wait_until(lambda: self.rx.count() >= len(others), 40, "the other deliveries")
        time.sleep(1.5)
        self.assertEqual(self.rx.count(), len(others))
        self.assertEqual({r["status"] for r in d.outbox() if r["occurrence"] == uid}, {"cancelled"})
        for _, m in self.rx.mails():
            self.assertNotIn("a6.1.analysis%2Fdl%2F2026H1", m.get_content())
        self.assertEqual(d.stop()[0], 0)
        # Later steps are not even written: a week later, nothing for it.
        d.start(now="2026-06-29T08:59:58")
        time.sleep(1)
        self.assertFalse([r for r in d.outbox() if r["occurrence"] == uid and r["step"] > 1])
        self.assertEqual(d.stop()[0], 0)

    def test_holidays_and_a_make_up_saturday_move_working_day_steps(self):
        # Review meetings (15 days after an incident): one due Thursday 2026-10-08 right after the
        # National Day holiday (10-01..10-07), one due Monday 2026-10-12 after the make-up
        # working Saturday 10-10 (国办发明电〔2025〕7号).
        events = ('\n[[event]]\nobligation = "a6.9.review"\norg = "dl"\ndate = 2026-09-23\n'
                  '\n[[event]]\nobligation = "a6.9.review"\norg = "dl"\ndate = 2026-09-27\n')
        d = self.daemon(events)

        def review_rows(due):
            return [r for r in d.outbox() if r["occurrence"].startswith("a6.9.review/dl/") and r["subject"].endswith(due)]

        # -1wd before 10-08 is Wednesday 09-30, not the holiday 10-07.
        d.start(now="2026-09-30T08:59:58")
        wait_until(lambda: any(r["status"] == "sent" for r in review_rows("2026-10-08")), 30, "the -1wd step on 09-30")
        step = [r for r in review_rows("2026-10-08") if r["status"] == "sent"]
        self.assertTrue(all(r["channel"] == "dl-wecom" for r in step), step)
        self.assertTrue(any("2026-10-08" in robot_text(r) for r in self.rx.robots()))
        self.assertEqual(d.stop()[0], 0)
        # On 10-07 (holiday) nothing of it is planned; on Saturday 10-10 the step of the duty due
        # 10-12 goes out.
        os.remove(d.database)
        d.start(now="2026-10-07T08:59:58")
        time.sleep(1)
        oct8 = int(datetime.datetime(2026, 10, 8, tzinfo=datetime.timezone(datetime.timedelta(hours=8))).timestamp())
        self.assertFalse([r for r in review_rows("2026-10-08") if r["send_at"] < oct8])
        self.assertEqual(d.stop()[0], 0)
        os.remove(d.database)
        d.start(now="2026-10-10T08:59:58")
        wait_until(lambda: any(r["status"] == "sent" for r in review_rows("2026-10-12")), 30, "the -1wd step on Saturday 10-10")
        self.assertEqual(d.stop()[0], 0)


class Downtime(Base):
    def test_three_days_down_sends_only_the_latest_missed_step(self):
        d = self.daemon()
        # Sunday 06-28: a first start plans Monday 06-29 (the -1wd steps), then stops.
        d.start(now="2026-06-28T10:00:00")
        self.assertTrue([r for r in d.outbox() if r["send_at"] > 0])
        self.assertEqual(d.stop()[0], 0)
        self.assertEqual(self.rx.count(), 0)
        # Back on Wednesday 07-01 at 10:00: -1wd (06-29) and +1wd (07-01 09:00) were both missed.
        missed = [r for r in d.plan("2026-06-29") + d.plan("2026-06-30") + d.plan("2026-07-01")
                  if r["at"] <= "2026-07-01T10:00:00+08:00"]
        latest = {}
        for r in missed:
            key = (r["occurrence"], r["person"], r["channel"])
            if key not in latest or r["step"] > latest[key]["step"]:
                latest[key] = r
        self.assertLess(len(latest), len(missed))  # some recipients missed two steps
        d.start(now="2026-07-01T10:00:00")
        wait_until(lambda: self.rx.count() >= len(latest), 60, "%d catch-up messages" % len(latest))
        time.sleep(1.5)
        self.assertEqual(self.rx.count(), len(latest))  # one message per recipient and channel
        rows = d.outbox()
        sent = {(r["occurrence"], r["person"], r["channel"]): r["step"] for r in rows if r["status"] == "sent"}
        self.assertEqual(sent, {k: v["step"] for k, v in latest.items()})
        superseded = [r for r in rows if r["status"] == "superseded"]
        self.assertEqual(len(superseded), len(missed) - len(latest))
        # 欧阳明远's Dalian group message is the overdue one, not yesterday's reminder.
        texts = [robot_text(r) for r in self.rx.robots() if r["path"] == "/wecom/send"
                 and "a6.1.analysis%2Fdl%2F2026H1" in robot_text(r)]
        self.assertEqual(len(texts), 1, texts)
        self.assertIn("已逾期 1 天", texts[0])
        self.assertIn("catching up since", d.stderr(2))
        self.assertEqual(d.stop()[0], 0)


class Drills(Base):
    delay = 0.15  # every receiver answers slowly, so that a burst is in flight when killed

    def test_sigkill_during_a_burst_loses_nothing(self):
        d = self.daemon()
        plan = d.plan("2026-07-07")
        keys = sorted((r["occurrence"], r["step"], r["person"], r["channel"]) for r in plan)
        d.start(now="2026-07-07T08:59:59")
        wait_until(lambda: self.rx.count() >= 5, 30, "the burst to start")
        d.kill()
        con = sqlite3.connect(d.database)
        # In flight: claimed (listed in the claim journal, committed before sending) and not answered.
        in_flight = con.execute("SELECT count(*) FROM deliveries WHERE status = 'queued' AND id IN "
                                "(SELECT value FROM delivery_claims, json_each(delivery_claims.ids))").fetchone()[0]
        con.close()
        self.assertLess(self.rx.count(), len(plan), "the burst was over before the kill")
        self.assertGreater(in_flight, 0, "nothing was claimed at the kill")
        d.start(now="2026-07-07T09:00:30")
        self.assertIn("interrupted by the last stop", d.stderr(2))
        wait_until(lambda: all(r["status"] == "sent" for r in d.outbox()), 90, "every row sent")
        time.sleep(1.0)
        rows = d.outbox()
        self.assertEqual(sorted((r["occurrence"], r["step"], r["person"], r["channel"]) for r in rows), keys)
        received = self.rx.count()
        self.assertGreaterEqual(received, len(plan))              # zero lost
        self.assertLessEqual(received - len(plan), in_flight)     # duplicates only what was in flight
        self.assertEqual(d.stop()[0], 0)
        self.assertNoSanitizerReports(d)

    def test_sigterm_during_a_burst_records_every_result_before_exit(self):
        # The results are written on the scheduler's store-writer thread: a stop waits for them.
        d = self.daemon()
        plan = d.plan("2026-07-07")
        d.start(now="2026-07-07T08:59:59")
        wait_until(lambda: self.rx.count() >= 5, 30, "the burst to start")
        self.assertEqual(d.stop()[0], 0)
        received = self.rx.count()
        self.assertLess(received, len(plan), "the burst was over before the stop")
        rows = d.outbox()
        self.assertEqual([r["id"] for r in rows if r["status"] == "sending"], [])  # released or recorded
        con = sqlite3.connect(d.database)
        self.assertEqual(con.execute("SELECT count(*) FROM delivery_claims").fetchone()[0], 0, "claims left open")
        con.close()
        self.assertEqual(sum(r["status"] == "sent" for r in rows), received)  # each transfer recorded
        d.start(now="2026-07-07T09:00:30")
        self.assertNotIn("interrupted by the last stop", d.stderr(2))
        wait_until(lambda: all(r["status"] == "sent" for r in d.outbox()), 90, "every row sent")
        time.sleep(1.0)
        self.assertEqual(self.rx.count(), len(plan))  # none lost, none sent twice
        self.assertEqual(d.stop()[0], 0)
        self.assertNoSanitizerReports(d)


if __name__ == "__main__":
    unittest.main()
