"""Integration tests of `dutyd run` against the contract in daemon/README.md: feeds over HTTP,
completions (form, API, CLI), token revocation, reload, systemd notifications, hostile
requests, crash safety, metrics, the occurrences API and the deliveries API.

Run: DUTYD=build/daemon/dutyd DUTYD_CATALOGUE=config/catalogue/obligations.toml \
     /usr/bin/python3 -m unittest -v test_daemon        (in tests/daemon/)
"""
import datetime
import itertools
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import unittest
import urllib.parse

import harness
from harness import NOW, TODAY, DaemonTestCase, metric, parse_ics, status_of

# Occurrences of p-wang (principal of ln) used below; all min_count 1, due before TODAY.
UID_FORM = "a6.16.report-jan/ln/2026@dutyd"          # due 2026-01-31
UID_API = "a6.1.plan/ln/2026@dutyd"                  # due 2026-02-28
UID_CLI = "a7.11.personal-matters/ln/2026@dutyd"     # due 2026-01-31
UID_HANDOVER = "a6.1.analysis/dl/2026H1@dutyd"       # due 2026-06-30; dl changes hands 2026-06-16
DONE = "【已完成】"
LATE_DONE = "【逾期完成】"
OVERDUE = "【逾期】"
OCC_KEYS = {"uid", "obligation", "citation", "org", "person", "window_start", "due", "status",
            "completions", "min_count", "title"}
CJK = re.compile(r"[\u4e00-\u9fff]")

_expand_cache = {}


def expand(d, person=None, org=None, frm="2026-01-01", to="2026-12-31"):
    key = (person, org, frm, to)
    if key not in _expand_cache:
        _expand_cache[key] = d.expand(person=person, org=org, frm=frm, to=to)
    return _expand_cache[key]


def completions_count(o):
    c = o.get("completions")
    return len(c) if isinstance(c, list) else c


def tearDownModule():
    harness.print_tally()


class FeedMixin:
    def fetch(self, path, etag=None, expect=200):
        h = {"If-None-Match": etag} if etag else {}
        r = self.d.get(path, headers=h)
        self.assertEqual(r.status, expect, r)
        return r

    def next_fetch(self, path, old_etag, old_last_modified=None):
        """The next fetch after a state change: the old ETag must no longer match; a client that
        only sends the old Last-Modified must get the new body too."""
        r = self.fetch(path, old_etag, expect=200)
        etag = r.header("ETag")
        self.assertTrue(etag, "ETag missing")
        self.assertNotEqual(etag, old_etag, "ETag unchanged after a state change")
        if old_last_modified:
            lm = r.header("Last-Modified")
            self.assertGreater(harness.http_date(lm), harness.http_date(old_last_modified),
                               "Last-Modified did not move after a state change")
            r2 = self.d.get(path, headers={"If-Modified-Since": old_last_modified})
            self.assertEqual(r2.status, 200, "If-Modified-Since with the old Last-Modified")
            self.assertEqual(r2.header("ETag"), etag)
        return r, parse_ics(r.text)[1]

    def summary(self, events, uid):
        self.assertIn(uid, events, "UID %s not in the feed" % uid)
        return events[uid].get("SUMMARY", "")


# ---------------------------------------------------------------------------------------
# 1 and 3: feeds over HTTP, conditional requests, methods, unknown and revoked tokens
# ---------------------------------------------------------------------------------------
class FeedTests(FeedMixin, DaemonTestCase):
    def test_person_feed_conditional_get_head_and_methods(self):
        d = self.d
        path = d.feed_token(person="p-wang", note="feed test")
        r = self.fetch(path)
        ctype = r.header("Content-Type", "")
        self.assertRegex(ctype.lower().replace(" ", ""), r"^text/calendar;charset=utf-8$")
        etag, lm = r.header("ETag"), r.header("Last-Modified")
        self.assertTrue(etag and lm, r.headers)
        self.assertRegex(etag, r'^"[^"]+"$', "ETag must be strong and quoted")
        self.assertTrue(lm.endswith(" GMT"), lm)
        lm_dt = harness.http_date(lm)

        body = r.body
        self.assertTrue(body.startswith(b"BEGIN:VCALENDAR\r\n"), body[:40])
        self.assertTrue(body.endswith(b"END:VCALENDAR\r\n"), body[-40:])
        self.assertNotRegex(body, rb"(?<!\r)\n", "bare LF in the feed")
        self.assertNotRegex(body, rb"\r(?!\n)", "bare CR in the feed")
        for line in body.split(b"\r\n"):
            self.assertLessEqual(len(line), 75, line)
            line.decode("utf-8")
        cal, events = parse_ics(r.text)
        self.assertEqual(cal.get("VERSION"), "2.0")
        self.assertIn("X-WR-CALNAME", cal)
        self.assertNotIn("METHOD", cal)
        expected = expand(d, person="p-wang")
        self.assertTrue(expected)
        for o in expected:
            self.assertIn(o["uid"], events, "occurrence of p-wang missing from the served feed")
        # Nothing is completed yet: a past-due occurrence is overdue, a future one is plain.
        self.assertTrue(self.summary(events, UID_FORM).startswith(OVERDUE), events[UID_FORM])
        future = [o for o in expected if o["due"] > TODAY]
        self.assertTrue(future)
        fs = self.summary(events, future[0]["uid"])
        self.assertFalse(any(fs.startswith(p) for p in (DONE, LATE_DONE, OVERDUE, "【空缺】")), fs)
        self.assertTrue(fs.startswith("【第"), fs)  # the citation comes first

        # Same state, same validators.
        r2 = self.fetch(path)
        self.assertEqual(r2.header("ETag"), etag)
        self.assertEqual(r2.body, body)

        with self.subTest("If-None-Match"):
            r = self.fetch(path, etag, expect=304)
            self.assertEqual(r.body, b"")
            self.assertEqual(r.header("ETag"), etag, "304 must repeat the ETag")
        with self.subTest("If-None-Match list"):
            self.fetch(path, '"nope", ' + etag, expect=304)
        with self.subTest("If-None-Match stale"):
            self.fetch(path, '"stale-etag"', expect=200)
        with self.subTest("If-Modified-Since = Last-Modified"):
            r = d.get(path, headers={"If-Modified-Since": lm})
            self.assertEqual(r.status, 304, r)
            self.assertEqual(r.body, b"")
        with self.subTest("If-Modified-Since later"):
            later = (lm_dt + datetime.timedelta(days=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
            self.assertEqual(d.get(path, headers={"If-Modified-Since": later}).status, 304)
        with self.subTest("If-Modified-Since older"):
            older = (lm_dt - datetime.timedelta(seconds=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
            r = d.get(path, headers={"If-Modified-Since": older})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, body)
        with self.subTest("If-None-Match wins over If-Modified-Since"):
            r = d.get(path, headers={"If-None-Match": '"stale-etag"', "If-Modified-Since": lm})
            self.assertEqual(r.status, 200, r)

        with self.subTest("HEAD"):
            r = d.request("HEAD", path)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"")
            self.assertEqual(r.header("ETag"), etag)
            self.assertEqual(r.header("Last-Modified"), lm)
            self.assertTrue(r.header("Content-Type", "").startswith("text/calendar"))
            if r.header("Content-Length") is not None:
                self.assertEqual(int(r.header("Content-Length")), len(body))
            # The connection must not carry stray body bytes after a HEAD answer.
            raw = d.raw(("HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
            self.assertEqual(status_of(raw), 200, raw[:200])
            self.assertEqual(raw.partition(b"\r\n\r\n")[2], b"", "HEAD answer carries a body")
        with self.subTest("HEAD conditional"):
            self.assertEqual(d.request("HEAD", path, headers={"If-None-Match": etag}).status, 304)

        for method in ("PUT", "DELETE", "POST"):
            with self.subTest("405 " + method):
                r = d.request(method, path, body=b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
                              headers={"Content-Type": "text/calendar"})
                self.assertEqual(r.status, 405, r)
                allow = {m.strip().upper() for m in (r.header("Allow") or "").split(",")}
                self.assertTrue({"GET", "HEAD"} <= allow, r.headers)
                self.assertNotIn(method, allow)
        # PUT must not have changed the feed.
        self.fetch(path, etag, expect=304)

        with self.subTest("unknown token 404"):
            self.assertEqual(d.get("/feeds/" + "0" * 43 + ".ics").status, 404)
            tok = path[len("/feeds/"):-len(".ics")]
            self.assertEqual(d.get("/feeds/" + tok[:-1] + ("a" if tok[-1] != "a" else "b") + ".ics").status, 404)
            self.assertEqual(d.get("/feeds/" + tok).status, 404)  # without .ics

    def test_persistent_connection_and_pipelining(self):
        d = self.d
        path = d.feed_token(person="p-wang")
        conn = harness.http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        try:
            conn.request("GET", path)
            r1 = conn.getresponse()
            b1 = r1.read()
            self.assertEqual(r1.status, 200)
            self.assertEqual(len(b1), int(r1.getheader("Content-Length")))
            if conn.sock is not None:  # the server kept the connection open: it must serve on it
                conn.request("GET", path, headers={"If-None-Match": r1.getheader("ETag")})
                r2 = conn.getresponse()
                self.assertEqual(r2.read(), b"")
                self.assertEqual(r2.status, 304)
                conn.request("GET", "/healthz")
                r3 = conn.getresponse()
                self.assertEqual((r3.status, r3.read().strip()), (200, b"ok"))
        finally:
            conn.close()
        # Two requests in one write.
        raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        try:
            s.sendall(raw)
            data = b""
            while True:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    self.fail("pipelined requests: the server neither answered nor closed: %r" % data[:300])
                if not b:
                    break
                data += b
        finally:
            s.close()
        self.assertEqual(status_of(data), 200, data[:300])
        first_head = data.partition(b"\r\n\r\n")[0].lower()
        if b"connection: close" not in first_head:
            self.assertEqual(data.count(b"HTTP/1.1 200"), 2, data[:500])
            self.assertIn(b"dutyd_feeds_served_total", data)

    def test_org_feed(self):
        d = self.d
        path = d.feed_token(org="dl")
        r = self.fetch(path)
        _, events = parse_ics(r.text)
        for o in expand(d, org="dl"):
            self.assertIn(o["uid"], events)
        self.assertIn(UID_HANDOVER, events)
        # The predecessor keeps the occurrence in his own feed, marked as such.
        r = self.fetch(d.feed_token(person="p-qian"))
        _, events = parse_ics(r.text)
        self.assertIn(UID_HANDOVER, events)
        self.assertIn("【前任】", events[UID_HANDOVER]["SUMMARY"])

    def test_revoked_token_410(self):
        d = self.d
        path = d.feed_token(person="p-wang", note="to be revoked")
        keep = d.feed_token(person="p-wang", note="kept")
        self.fetch(path)
        toks = d.tokens()
        mine = [t for t in toks if t.get("note") == "to be revoked"]
        self.assertEqual(len(mine), 1, toks)
        t = mine[0]
        self.assertEqual((t["kind"], t["subject_kind"], t["subject"]), ("feed", "person", "p-wang"))
        self.assertIsNone(t["revoked_at"])
        secret = path[len("/feeds/"):-len(".ics")]
        listing = d.cli_ok("token", "list", "--format", "json") + d.cli_ok("token", "list")
        self.assertNotIn(secret, listing, "token list shows the secret")

        rc, out, err = d.cli("token", "revoke", "--id", str(t["id"]))
        self.assertEqual(rc, 0, out + err)
        r = d.get(path)
        self.assertEqual(r.status, 410, r)
        self.assertEqual(d.request("HEAD", path).status, 410)
        self.fetch(keep)  # another token of the same person still works
        revoked = [x for x in d.tokens() if x["id"] == t["id"]][0]
        self.assertIsNotNone(revoked["revoked_at"])
        rc, out, err = d.cli("token", "revoke", "--id", str(t["id"]))
        self.assertEqual(rc, 1, "revoking twice must fail: " + out + err)
        rc, out, err = d.cli("token", "revoke", "--id", "999999")
        self.assertEqual(rc, 1, out + err)

    def test_revoked_api_token_401(self):
        d = self.d
        tok = d.api_token(person="p-wang", note="api to revoke")
        body = {"occurrence": UID_API, "done_on": "2026-02-20", "document_number": "",
                "minutes_ref": "", "evidence_text": "", "note": "before revoke"}
        self.assertEqual(d.api("POST", "/api/v1/completions", tok, body).status, 201)
        t = [x for x in d.tokens() if x.get("note") == "api to revoke"][0]
        self.assertEqual(t["kind"], "api")
        d.cli_ok("token", "revoke", "--id", str(t["id"]))
        body["note"] = "after revoke"
        r = d.api("POST", "/api/v1/completions", tok, body)
        self.assertEqual(r.status, 401, r)

    def test_admin_feed_token_refused(self):
        rc, out, err = self.d.cli("token", "issue", "--admin", "--kind", "feed")
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("/feeds/", out)


# ---------------------------------------------------------------------------------------
# 2: completions through the form, the API and the CLI, visible in the next feed fetch
# ---------------------------------------------------------------------------------------
class CompletionTests(FeedMixin, DaemonTestCase):
    def setUp(self):
        super().setUp()
        occ = {o["uid"]: o for o in expand(self.d, person="p-wang")}
        for uid in (UID_FORM, UID_API, UID_CLI):
            self.assertIn(uid, occ)
            self.assertEqual(occ[uid]["person"], "p-wang")
            self.assertEqual(occ[uid]["min_count"], 1)
            self.assertLess(occ[uid]["due"], TODAY)
        self.feed = self.d.feed_token(person="p-wang")
        r = self.fetch(self.feed)
        self.etag0 = r.header("ETag")
        self.lm0 = r.header("Last-Modified")
        self.events0 = parse_ics(r.text)[1]
        # HTTP dates have whole seconds: let the daemon's clock leave the second of lm0 so that
        # a change must produce a later Last-Modified.
        time.sleep(1.1)

    def assert_state_changed(self, uid, prefix, events):
        s = self.summary(events, uid)
        self.assertTrue(s.startswith(prefix), "%s: SUMMARY %r, expected prefix %s" % (uid, s, prefix))
        before, after = self.events0[uid], events[uid]
        with self.subTest("SEQUENCE increases", uid=uid):
            self.assertGreater(int(after.get("SEQUENCE", "0")), int(before.get("SEQUENCE", "0")),
                               "SEQUENCE must increase when the state changes")
        with self.subTest("LAST-MODIFIED increases", uid=uid):
            self.assertIn("LAST-MODIFIED", after)
            self.assertGreater(after["LAST-MODIFIED"], before.get("LAST-MODIFIED", ""))
        # Other occurrences are untouched.
        for other in (UID_FORM, UID_API, UID_CLI):
            if other != uid:
                self.assertEqual(events[other].get("SUMMARY"), self.events0[other].get("SUMMARY"))

    def test_form(self):
        d = self.d
        out = d.cli_ok("link", "--occurrence", UID_FORM, "--now", NOW).strip()
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertTrue(out.startswith(d.public_url + "/complete?"), out)
        u = urllib.parse.urlsplit(out)
        q = urllib.parse.parse_qs(u.query)
        self.assertEqual(q.get("o"), [UID_FORM])
        self.assertEqual(q.get("p"), ["p-wang"])
        self.assertIn("x", q)
        self.assertIn("s", q)
        target = u.path + "?" + u.query

        r = d.get(target)
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.header("Content-Type", "").lower(), r"^text/html")
        html = r.text
        self.assertRegex(html, r"(?i)<form[^>]*method=[\"']?post")
        for field in ("done_on", "document_number", "minutes_ref", "evidence_text", "note"):
            self.assertRegex(html, r"name=[\"']?%s[\"' >]" % field)
        self.assertGreater(len(CJK.findall(html)), 10, "the form is not in Chinese")

        def with_param(key, value):
            qq = {k: v[0] for k, v in q.items()}
            qq[key] = value
            return u.path + "?" + urllib.parse.urlencode(qq)

        with self.subTest("bad signature 403"):
            s = q["s"][0]
            bad = s[:-1] + ("0" if s[-1] != "0" else "1")
            self.assertEqual(d.get(with_param("s", bad)).status, 403)
            self.assertEqual(d.get(with_param("p", "p-li")).status, 403)
            self.assertEqual(d.get(with_param("o", UID_API)).status, 403)
            self.assertEqual(d.request("POST", with_param("s", bad),
                                       body=b"done_on=2026-01-20",
                                       headers={"Content-Type": "application/x-www-form-urlencoded"}
                                       ).status, 403)
        with self.subTest("expired 410"):
            old = d.cli_ok("link", "--occurrence", UID_FORM, "--now", "2026-01-01T09:00:00").strip()
            ou = urllib.parse.urlsplit(old)
            self.assertEqual(d.get(ou.path + "?" + ou.query).status, 410)

        form = {"done_on": "2026-01-20", "document_number": "辽委〔2026〕1号",
                "minutes_ref": "", "evidence_text": "书面报告已报送", "note": "表单测试 & 验证"}
        hdr = {"Content-Type": "application/x-www-form-urlencoded"}
        with self.subTest("bad date 400"):
            bad = dict(form, done_on="2026-02-30")
            r = d.request("POST", target, body=urllib.parse.urlencode(bad).encode(), headers=hdr)
            self.assertEqual(r.status, 400, r)
        # Nothing recorded by the refused posts.
        self.fetch(self.feed, self.etag0, expect=304)

        r = d.request("POST", target, body=urllib.parse.urlencode(form).encode(), headers=hdr)
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.header("Content-Type", "").lower(), r"^text/html")
        self.assertIn("已记录", r.text)

        r1, events = self.next_fetch(self.feed, self.etag0, self.lm0)
        self.assert_state_changed(UID_FORM, DONE, events)
        # The same form posted again records nothing new.
        r = d.request("POST", target, body=urllib.parse.urlencode(form).encode(), headers=hdr)
        self.assertEqual(r.status, 200, r)
        self.fetch(self.feed, r1.header("ETag"), expect=304)

    def test_api(self):
        d = self.d
        wang = d.api_token(person="p-wang")
        li = d.api_token(person="p-li")
        body = {"occurrence": UID_API, "done_on": "2026-03-10", "document_number": "辽委〔2026〕5号",
                "minutes_ref": "", "evidence_text": "", "note": "API 测试"}
        url = "/api/v1/completions"

        with self.subTest("401 without token"):
            r = d.api("POST", url, None, body)
            self.assertEqual(r.status, 401, r)
            self.assertIn("error", r.json())
        with self.subTest("401 unknown token"):
            self.assertEqual(d.api("POST", url, "not-a-token", body).status, 401)
            self.assertEqual(d.api("POST", url, None, body,
                                   headers={"Authorization": "Basic " + wang}).status, 401)
        with self.subTest("403 another person's token"):
            r = d.api("POST", url, li, body)
            self.assertEqual(r.status, 403, r)
            self.assertIn("error", r.json())
        with self.subTest("feed token is not an API token"):
            feed_secret = self.feed[len("/feeds/"):-len(".ics")]
            self.assertIn(d.api("POST", url, feed_secret, body).status, (401, 403))
        with self.subTest("400 done before the window opened"):
            # a6.1.plan/ln/2026 has its window from 2026-01-01: earlier work is another period's.
            r = d.api("POST", url, wang, dict(body, done_on="2025-12-31"))
            self.assertEqual(r.status, 400, r)
            self.assertIn("window", r.json()["error"])
            rc, out, err = d.cli("complete", "--occurrence", UID_API, "--done-on", "2020-01-01")
            self.assertNotEqual(rc, 0, out)
            self.assertIn("window", err)
        with self.subTest("404 unknown occurrence"):
            r = d.api("POST", url, wang, dict(body, occurrence="a6.1.plan/ln/1999@dutyd"))
            self.assertEqual(r.status, 404, r)
            self.assertIn("error", r.json())
        # None of the refused requests recorded anything.
        self.fetch(self.feed, self.etag0, expect=304)

        r = d.api("POST", url, wang, body)
        self.assertEqual(r.status, 201, r)
        self.assertRegex(r.header("Content-Type", ""), r"^application/json")
        j = r.json()
        self.assertIs(j.get("created"), True, j)
        self.assertIsInstance(j.get("completion"), dict, j)
        r2 = d.api("POST", url, wang, body)
        self.assertEqual(r2.status, 200, r2)
        j2 = r2.json()
        self.assertIs(j2.get("created"), False, j2)
        if "id" in j["completion"]:
            self.assertEqual(j2["completion"].get("id"), j["completion"]["id"])

        r, events = self.next_fetch(self.feed, self.etag0, self.lm0)
        self.assert_state_changed(UID_API, LATE_DONE, events)
        # The repeat changed nothing.
        self.fetch(self.feed, r.header("ETag"), expect=304)

    def test_cli_while_running(self):
        d = self.d
        rc, out, err = d.cli("complete", "--occurrence", UID_CLI, "--done-on", "2026-01-15",
                             "--evidence", "已按时报告", "--now", NOW)
        self.assertEqual(rc, 0, out + err)
        m = re.search(r"recorded completion (\d+) of (\S+)", out)
        self.assertTrue(m, out)
        self.assertEqual(m.group(2), UID_CLI)

        r, events = self.next_fetch(self.feed, self.etag0, self.lm0)
        self.assert_state_changed(UID_CLI, DONE, events)

        rc, out2, err = d.cli("complete", "--occurrence", UID_CLI, "--done-on", "2026-01-15",
                              "--evidence", "已按时报告", "--now", NOW)
        self.assertEqual(rc, 0, out2 + err)
        self.assertIn("already recorded as completion %s" % m.group(1), out2)
        self.fetch(self.feed, r.header("ETag"), expect=304)
        rc, out3, err = d.cli("complete", "--occurrence", "nope/ln/2026@dutyd", "--done-on",
                              "2026-01-15", "--now", NOW)
        self.assertEqual(rc, 1, out3 + err)


# ---------------------------------------------------------------------------------------
# 4: reload
# ---------------------------------------------------------------------------------------
BROKEN_SYNTAX = '\n[[org]\nid = "x"\n'
BROKEN_TWO_ERRORS = '''
[[org]]
id = "t-bad"
name = "坏组织"
kind = "bogus-kind"
level = "county"
parent = "dl"

[[post]]
person = "p-nobody"
org = "ln"
role = "member"
from = 2026-01-01
'''
GOOD_CHANGE = '''
[[org]]
id = "t-new"
name = "中共测试县委"
kind = "party-committee"
level = "county"
parent = "dl"

[[person]]
id = "p-newbie"
name = "新某"

[[post]]
person = "p-newbie"
org = "t-new"
role = "principal"
from = 2026-01-01
'''


class ReloadTests(FeedMixin, DaemonTestCase):
    def occurrence(self, admin, uid, org):
        r = self.d.api("GET", "/api/v1/occurrences?org=%s&from=2026-01-01&to=2026-12-31" % org, admin)
        self.assertEqual(r.status, 200, r)
        found = [o for o in r.json()["occurrences"] if o["uid"] == uid]
        self.assertEqual(len(found), 1, uid)
        return found[0]

    def test_broken_then_good_config(self):
        d = self.d
        feed = d.feed_token(person="p-wang")
        admin = d.api_token(admin=True)
        r = self.fetch(feed)
        etag = r.header("ETag")
        self.assertEqual(self.occurrence(admin, UID_HANDOVER, "dl")["person"], "p-ouyang")

        # A syntax error: the old configuration keeps serving.
        d.write_config(d.base_config, BROKEN_SYNTAX)
        i, j = d.reload()
        self.assertLess(i, j)
        self.assertTrue(d.alive())
        self.fetch(feed, etag, expect=304)
        r = self.fetch(feed)
        self.assertEqual(r.header("ETag"), etag)
        self.assertEqual(d.get("/healthz").status, 200)
        _, m = d.metrics()
        self.assertEqual(metric(m, "dutyd_last_reload_success"), 0)
        self.assertEqual(metric(m, "dutyd_reloads_total", result="failed"), 1)

        # Two errors: both are logged.
        d.write_config(d.base_config, BROKEN_TWO_ERRORS)
        d.reload()
        err = d.stderr()
        self.assertIn("unknown kind 'bogus-kind'", err)
        self.assertIn("unknown person 'p-nobody'", err)
        self.assertRegex(err, r"(?m)^<[0-4]>.*bogus-kind", "errors need an error priority prefix")
        self.fetch(feed, etag, expect=304)
        _, m = d.metrics()
        self.assertEqual(metric(m, "dutyd_last_reload_success"), 0)
        self.assertEqual(metric(m, "dutyd_reloads_total", result="failed"), 2)

        # A good change: a new organisation with a new principal, and Dalian's hand-over moved
        # from 2026-06-16 to 2026-07-06 (so the H1 analysis, due 2026-06-30, stays p-qian's).
        d.write_config(d.base_config, GOOD_CHANGE)
        dalian = d.read_file("conf.d/dalian.toml")
        self.assertIn("until = 2026-06-15", dalian)
        self.assertIn("from = 2026-06-16", dalian)
        d.write_file("conf.d/dalian.toml", dalian.replace("until = 2026-06-15", "until = 2026-07-05")
                     .replace("from = 2026-06-16", "from = 2026-07-06"))
        rc, out, err = d.cli("check-config")
        self.assertEqual(rc, 0, out + err)
        newbie = d.feed_token(person="p-newbie")
        d.reload()
        _, m = d.metrics()
        self.assertEqual(metric(m, "dutyd_last_reload_success"), 1)
        self.assertEqual(metric(m, "dutyd_reloads_total", result="ok"), 1)
        self.assertEqual(metric(m, "dutyd_reloads_total", result="failed"), 2)

        r = self.fetch(newbie)
        _, events = parse_ics(r.text)
        self.assertIn("a6.1.plan/t-new/2026@dutyd", events)
        for o in expand(d, person="p-newbie"):
            self.assertIn(o["uid"], events)
        self.assertEqual(self.occurrence(admin, UID_HANDOVER, "dl")["person"], "p-qian")
        self.assertEqual(self.occurrence(admin, "a6.1.plan/t-new/2026@dutyd", "t-new")["person"],
                         "p-newbie")
        # The org feed of Dalian now holds the inspection of the new subordinate.
        dl = self.fetch(d.feed_token(org="dl"))
        self.assertIn("a6.15.inspect-subordinates/dl/2026/t-new@dutyd", parse_ics(dl.text)[1])
        # p-wang's feed is unaffected by the change in Dalian.
        self.fetch(feed)

        # Going back: t-new disappears; its completed occurrence is retired, not lost.
        newbie_api = d.api_token(person="p-newbie")
        r = d.api("POST", "/api/v1/completions", newbie_api,
                  {"occurrence": "a6.1.plan/t-new/2026@dutyd", "done_on": "2026-02-20",
                   "document_number": "", "minutes_ref": "", "evidence_text": "", "note": ""})
        self.assertEqual(r.status, 201, r)
        d.write_config(d.base_config)
        d.write_file("conf.d/dalian.toml", dalian)
        d.reload()
        _, m = d.metrics()
        self.assertEqual(metric(m, "dutyd_reloads_total", result="ok"), 2)
        self.assertGreaterEqual(metric(m, "dutyd_occurrences", status="retired"), 1)
        r = d.api("GET", "/api/v1/occurrences?status=retired", admin)
        self.assertEqual(r.status, 200, r)
        got = {o["uid"]: o for o in r.json()["occurrences"]}
        self.assertIn("a6.1.plan/t-new/2026@dutyd", got)
        retired = got["a6.1.plan/t-new/2026@dutyd"]
        self.assertEqual(retired["status"], "retired")
        with self.subTest("retired occurrence fields"):
            self.assertEqual(OCC_KEYS - set(retired), set(), "fields missing from a retired occurrence")
            self.assertEqual(completions_count(retired), 1, retired)
        self.assertEqual(self.occurrence(admin, UID_HANDOVER, "dl")["person"], "p-ouyang")
        self.fetch(feed, etag, expect=304)  # p-wang's feed never changed


# ---------------------------------------------------------------------------------------
# 5: systemd notifications and clean shutdown
# ---------------------------------------------------------------------------------------
class LifecycleTests(DaemonTestCase):
    def test_notify_reload_and_sigterm(self):
        d = self.d
        lines = d.notifier.lines()
        self.assertIn("READY=1", lines)
        self.assertTrue(any(l.startswith("STATUS=") for l in lines), lines)
        i, j = d.reload()
        self.assertLess(i, j)
        self.assertEqual(d.get("/healthz").text.strip(), "ok")
        start = d.notifier.count()
        rc, took = d.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, "exit code after SIGTERM")
        self.assertLess(took, 5.0)
        self.assertIsNotNone(d.notifier.wait_for("STOPPING=1", start, 2.0), d.notifier.lines())
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", d.port), timeout=2).close()

    def test_sigint(self):
        d = self.d
        start = d.notifier.count()
        rc, took = d.stop(signal.SIGINT)
        self.assertEqual(rc, 0)
        self.assertLess(took, 5.0)
        self.assertIsNotNone(d.notifier.wait_for("STOPPING=1", start, 2.0), d.notifier.lines())

    def test_sigterm_with_idle_and_slow_connections(self):
        # Idle keep-alive and half-sent requests must not delay the exit beyond 5 s.
        d = self.d
        socks = []
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        ka = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        ka.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status_of(harness.recv_all(ka)), 200)
        socks.append(ka)
        try:
            rc, took = d.stop(signal.SIGTERM)
            self.assertEqual(rc, 0)
            self.assertLess(took, 5.0)
        finally:
            for s in socks:
                s.close()

    def test_sigterm_finishes_inflight_request(self):
        d = self.d
        tok = d.api_token(person="p-wang")
        body = json.dumps({"occurrence": UID_API, "done_on": "2026-02-20", "document_number": "",
                           "minutes_ref": "", "evidence_text": "", "note": "in flight"}).encode()
        s = socket.create_connection(("127.0.0.1", d.port), timeout=8)
        try:
            s.sendall(("POST /api/v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                       % (tok, len(body))).encode() + body[:10])
            time.sleep(0.3)
            start = d.notifier.count()
            d.send_signal(signal.SIGTERM)
            self.assertIsNotNone(d.notifier.wait_for("STOPPING=1", start, 3.0))
            time.sleep(0.2)
            try:
                s.sendall(body[10:])
            except OSError:
                pass
            raw = harness.recv_all(s)
        finally:
            s.close()
        rc = d.proc.wait(5)
        self.assertEqual(rc, 0)
        self.assertEqual(status_of(raw), 201, "in-flight request not finished: %r" % raw[:300])
        # It was really recorded.
        d.start()
        r = d.api("POST", "/api/v1/completions", tok, raw=body)
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json()["created"], False)

    def test_reload_under_load(self):
        d = self.d
        feed = d.feed_token(person="p-wang")
        admin = d.api_token(admin=True)
        stop = threading.Event()
        results, errors = [], []

        def client(i):
            while not stop.is_set():
                try:
                    if i % 2:
                        r = d.get(feed, timeout=10)
                    else:
                        r = d.api("GET", "/api/v1/occurrences?org=dl", admin, timeout=10)
                    results.append(r.status)
                except OSError as e:
                    errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        try:
            for k in range(4):
                d.write_config(d.base_config, GOOD_CHANGE if k % 2 == 0 else "")
                d.reload()
        finally:
            stop.set()
            for t in threads:
                t.join(15)
        self.assertEqual(errors, [])
        self.assertTrue(results)
        self.assertEqual(set(results), {200})
        _, m = d.metrics()
        self.assertEqual(metric(m, "dutyd_reloads_total", result="ok"), 4)

    def test_sighup_storm(self):
        d = self.d
        start = d.notifier.count()
        for _ in range(5):
            d.send_signal(signal.SIGHUP)
            time.sleep(0.02)
        time.sleep(1.0)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ls = d.notifier.lines()[start:]
            last_reload = max((i for i, l in enumerate(ls) if l == "RELOADING=1"), default=-1)
            if last_reload >= 0 and "READY=1" in ls[last_reload:]:
                break
            time.sleep(0.1)
        ls = d.notifier.lines()[start:]
        self.assertIn("RELOADING=1", ls)
        last_reload = max(i for i, l in enumerate(ls) if l == "RELOADING=1")
        self.assertIn("READY=1", ls[last_reload:], ls)
        self.assertTrue(d.alive())
        self.assertEqual(d.get("/healthz").status, 200)
        _, m = d.metrics()
        self.assertGreaterEqual(metric(m, "dutyd_reloads_total", result="ok"), 1)
        self.assertEqual(metric(m, "dutyd_reloads_total", result="failed"), 0)

    def test_cli_and_api_write_concurrently(self):
        # The CLI and the daemon share the SQLite file: neither may fail with "database is locked".
        d = self.d
        tok = d.api_token(person="p-wang")
        past = [o for o in expand(d, person="p-wang", frm="2025-01-01", to="2026-11-26")]
        statuses, errors = [], []
        stop = threading.Event()

        counter = itertools.count()

        def poster():
            while not stop.is_set():
                k = next(counter)
                o = past[k % len(past)]
                try:
                    r = d.api("POST", "/api/v1/completions", tok,
                              {"occurrence": o["uid"], "done_on": o["due"], "document_number": "",
                               "minutes_ref": "", "evidence_text": "", "note": "并发 %d" % k})
                    statuses.append(r.status)
                except OSError as e:
                    errors.append(repr(e))

        threads = [threading.Thread(target=poster) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            cli = []
            for k in range(4):
                o = past[-1 - k]
                cli.append(d.cli("complete", "--occurrence", o["uid"], "--done-on", o["due"],
                                 "--note", "cli %d" % k, "--now", NOW))
                cli.append(d.cli("token", "issue", "--person", "p-li", "--note", "c%d" % k))
        finally:
            stop.set()
            for t in threads:
                t.join(15)
        for rc, out, err in cli:
            self.assertEqual(rc, 0, out + err)
        self.assertEqual(errors, [])
        self.assertTrue(statuses)
        self.assertEqual(set(statuses), {201})

    def test_logs_have_priority_prefixes(self):
        d = self.d
        d.write_config(d.base_config, BROKEN_TWO_ERRORS)
        d.reload()
        d.stop()
        lines = [l for l in d.stderr().splitlines() if l.strip()]
        self.assertTrue(lines, "dutyd logs nothing")
        for l in lines:
            self.assertRegex(l, r"^<[0-7]>", "log line without a priority prefix")


class OptionTests(DaemonTestCase):
    start_daemon = False

    def test_listen_and_database_options(self):
        d = self.d
        port2 = harness.free_port()
        db2 = os.path.join(d.tmp, "other.db")
        default_feed = d.feed_token(person="p-wang")  # in the configured database
        d.start(extra_args=["--listen", "127.0.0.1:%d" % port2, "--database", db2])
        self.assertEqual(d.get("/healthz", port=port2).status, 200)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", d.port), timeout=2).close()
        self.assertEqual(d.get(default_feed, port=port2).status, 404,
                         "a token of another database must be unknown")
        rc, out, err = d.cli("token", "issue", "--person", "p-wang", "--database", db2)
        self.assertEqual(rc, 0, out + err)
        path = urllib.parse.urlsplit(out.strip()).path
        r = d.get(path, port=port2)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(os.path.exists(db2))
        rc, out, err = d.cli("audit", "verify", "--database", db2)
        self.assertEqual(rc, 0, out + err)


class ClockTests(FeedMixin, DaemonTestCase):
    start_daemon = False

    def test_midnight_makes_an_occurrence_overdue(self):
        # An event on 2026-11-12 gives p-wang a duty due 2026-11-27. Starting three seconds before
        # midnight, the occurrence is open; after midnight (the clock runs on) it is overdue, and
        # the feed says so without any other change.
        d = self.d
        d.write_config(d.base_config, '\n[[event]]\nobligation = "a6.1.major-issue"\norg = "ln"\n'
                                      'date = 2026-11-12\nnote = "测试事件"\n')
        uid = "a6.1.major-issue/ln/2026-11-12@dutyd"
        feed = d.feed_token(person="p-wang")
        admin = d.api_token(admin=True)
        t0 = time.monotonic()
        d.start(now="2026-11-27T23:59:57")
        r = self.fetch(feed)
        s = self.summary(parse_ics(r.text)[1], uid)
        if time.monotonic() - t0 < 2.5:
            self.assertFalse(s.startswith(OVERDUE), s)
            o = d.api("GET", "/api/v1/occurrences?person=p-wang&from=2026-11-27&to=2026-11-27", admin).json()
            self.assertEqual([x["status"] for x in o["occurrences"] if x["uid"] == uid], ["open"])
        time.sleep(max(0.0, 4.0 - (time.monotonic() - t0)))
        r2, events = self.next_fetch(feed, r.header("ETag"))
        self.assertTrue(self.summary(events, uid).startswith(OVERDUE), events[uid])
        o = d.api("GET", "/api/v1/occurrences?person=p-wang&from=2026-11-27&to=2026-11-27", admin).json()
        self.assertEqual([x["status"] for x in o["occurrences"] if x["uid"] == uid], ["overdue"])
        # Recorded now (28 November) with done_on the due date: done, not late.
        tok = d.api_token(person="p-wang")
        r = d.api("POST", "/api/v1/completions", tok,
                  {"occurrence": uid, "done_on": "2026-11-28", "document_number": "",
                   "minutes_ref": "", "evidence_text": "", "note": ""})
        self.assertEqual(r.status, 201, "done_on = the daemon's today must be accepted: %r" % r)
        self.assertIs(r.json()["completion"].get("late", True), True)


class WatchdogTests(DaemonTestCase):
    extra_env = {"WATCHDOG_USEC": "1000000"}

    def test_watchdog_pings(self):
        d = self.d
        start = d.notifier.count()
        first = d.notifier.wait_for("WATCHDOG=1", start, 3.0)
        self.assertIsNotNone(first, "no WATCHDOG=1 with WATCHDOG_USEC=1s: %r" % d.notifier.lines())
        second = d.notifier.wait_for("WATCHDOG=1", first + 1, 3.0)
        self.assertIsNotNone(second, "only one WATCHDOG=1 in 3 s")


# ---------------------------------------------------------------------------------------
# 6: hostile requests
# ---------------------------------------------------------------------------------------
class HostileTests(DaemonTestCase):
    def tearDown(self):
        if self.d.alive():
            self.assertEqual(self.d.get("/healthz").status, 200, "daemon unhealthy afterwards")
        super().tearDown()

    def test_huge_header_line(self):
        d = self.d
        req = (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20480 + b"\r\n\r\n")
        raw = d.raw(req)
        if raw:
            self.assertEqual(status_of(raw), 431, raw[:200])
        # Many headers adding up to more than 8 KiB.
        req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(120)) + b"\r\n"
        raw = d.raw(req)
        if raw:
            self.assertEqual(status_of(raw), 431, raw[:200])
        self.assertTrue(d.alive())

    def post_huge(self, target, extra_headers, size, filler):
        """POSTs a body of `size` bytes on a raw socket, stopping to write when the server
        answers or closes early; returns the raw answer."""
        head = ("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n"
                % (target, extra_headers, size)).encode()
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        try:
            s.sendall(head)
            sent = 0
            try:
                while sent < size:
                    n = min(len(filler), size - sent)
                    s.sendall(filler[:n])
                    sent += n
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass
            return harness.recv_all(s)
        finally:
            s.close()

    def test_huge_body_413(self):
        d = self.d
        tok = d.api_token(person="p-wang")
        size = 1 << 20
        raw = self.post_huge("/api/v1/completions",
                             "Authorization: Bearer %s\r\nContent-Type: application/json\r\n" % tok,
                             size, b'{"x":"' + b"a" * 65536)
        self.assertEqual(status_of(raw), 413, raw[:200])
        # Also a form post to /complete.
        out = d.cli_ok("link", "--occurrence", UID_FORM, "--now", NOW).strip()
        u = urllib.parse.urlsplit(out)
        raw = self.post_huge(u.path + "?" + u.query,
                             "Content-Type: application/x-www-form-urlencoded\r\n", size,
                             b"done_on=2026-01-20&note=" + b"x" * 65536)
        self.assertEqual(status_of(raw), 413, raw[:200])
        # Just over the limit is refused too; a body the size of the limit is not "too large".
        raw = self.post_huge("/api/v1/completions",
                             "Authorization: Bearer %s\r\nContent-Type: application/json\r\n" % tok,
                             64 * 1024 + 1, b" " * 65537)
        self.assertEqual(status_of(raw), 413, raw[:200])
        raw = self.post_huge("/api/v1/completions",
                             "Authorization: Bearer %s\r\nContent-Type: application/json\r\n" % tok,
                             64 * 1024, b" " * 65536)
        self.assertEqual(status_of(raw), 400, raw[:200])  # all blanks: bad JSON, but read

    def test_slow_client_does_not_block_others(self):
        d = self.d
        slow = []
        try:
            for i in range(5):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
                s.sendall(b"GET /heal")          # half a request line, then silence
                slow.append(s)
            s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            s.sendall(b"POST /api/v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n"
                      b"Content-Type: application/json\r\n\r\n{\"occ")  # half a body
            slow.append(s)
            s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            slow.append(s)                        # connected, nothing sent
            time.sleep(0.3)
            for _ in range(3):
                t0 = time.monotonic()
                r = d.get("/healthz", timeout=3)
                self.assertEqual(r.status, 200)
                self.assertLess(time.monotonic() - t0, 2.0, "a slow client delays others")
            feed = d.feed_token(person="p-wang")
            self.assertEqual(d.get(feed, timeout=3).status, 200)
        finally:
            for s in slow:
                s.close()

    def test_connection_flood_with_systemd_fd_limit(self):
        # systemd's default LimitNOFILE soft limit is 1024: more connections than file
        # descriptors must neither crash the daemon nor make it spin.
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 1300 + 64
        if soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                self.skipTest("RLIMIT_NOFILE hard limit %d is too low" % hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        d = self.d
        d.stop()
        d.start(nofile=1024)
        socks = []
        try:
            for _ in range(1300):
                try:
                    socks.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
                except OSError:
                    break
            self.assertGreater(len(socks), 1100)
            time.sleep(0.3)
            cpu0, t0 = d.cpu_seconds(), time.monotonic()
            time.sleep(1.5)
            cpu = (d.cpu_seconds() - cpu0) / (time.monotonic() - t0)
            self.assertTrue(d.alive())
            self.assertLess(cpu, 0.5, "the daemon spins at %.0f%% CPU while connections are over "
                                      "its limits" % (cpu * 100))
        finally:
            for s in socks:
                s.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if d.get("/healthz", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        self.assertEqual(d.get("/healthz").status, 200)
        log = d.stderr()
        self.assertLess(log.count("\n"), 200, "log flood: %d lines" % log.count("\n"))

    def test_bad_paths(self):
        d = self.d
        cases = ["/../etc/passwd", "/feeds/../../etc/passwd", "/feeds/", "/feeds/%00.ics",
                 "/feeds/%2e%2e%2f%2e%2e%2fetc%2fpasswd.ics", "/feeds/.ics", "/feeds//.ics",
                 "/feeds/" + "a" * 7000 + ".ics", "/" + "x" * 7000, "/nope",
                 "/complete", "/complete?o=&p=&x=&s=", "/api/v1/nope", "/api/v1/completions/../occurrences"]
        for p in cases:
            with self.subTest(path=p[:60]):
                raw = d.raw(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % p).encode())
                code = status_of(raw)
                self.assertIsNotNone(code, raw[:200])
                self.assertTrue(400 <= code < 500, "%s -> %s" % (p[:60], raw[:200]))
                self.assertNotIn(b"root:", raw)
        with self.subTest("very long path"):
            raw = d.raw(("GET /feeds/%s.ics HTTP/1.1\r\nHost: x\r\n\r\n" % ("a" * 100000)).encode())
            if raw:
                self.assertTrue(400 <= (status_of(raw) or 0) < 500, raw[:200])
        for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
                     b"POST /api/v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
            with self.subTest(junk=junk[:30]):
                raw = d.raw(junk)
                if raw:
                    code = status_of(raw)
                    self.assertIsNotNone(code, raw[:200])
                    self.assertTrue(400 <= code < 600, raw[:200])
        self.assertTrue(d.alive())

    def test_evidence_cannot_inject_into_the_feed(self):
        d = self.d
        tok = d.api_token(person="p-wang")
        feed = d.feed_token(person="p-wang")
        before = parse_ics(d.get(feed).text)[1]
        evil = "x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil@x\r\nSUMMARY:伪造;,\\"
        r = d.api("POST", "/api/v1/completions", tok,
                  {"occurrence": UID_API, "done_on": "2026-02-20", "document_number": evil,
                   "minutes_ref": evil, "evidence_text": evil, "note": evil})
        self.assertEqual(r.status, 201, r)
        r = d.get(feed)
        self.assertEqual(r.status, 200)
        self.assertNotRegex(r.body, rb"(?<!\r)\n")
        lines = harness.unfold(r.text).split("\r\n")
        self.assertNotIn("UID:evil@x", lines)
        self.assertEqual(lines.count("BEGIN:VEVENT"), len(before))
        after = parse_ics(r.text)[1]
        self.assertEqual(set(after), set(before))

    def test_form_with_invalid_utf8(self):
        # Form fields are percent-encoded bytes: invalid UTF-8 must not reach the feed, which
        # must stay valid UTF-8 for every calendar client.
        d = self.d
        feed = d.feed_token(person="p-wang")
        out = d.cli_ok("link", "--occurrence", UID_API, "--now", NOW).strip()
        u = urllib.parse.urlsplit(out)
        r = d.request("POST", u.path + "?" + u.query,
                      body=b"done_on=2026-02-20&note=%FF%FE&evidence_text=%C3%28&document_number=%ED%A0%80",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        r2 = d.get(feed)
        self.assertEqual(r2.status, 200)
        try:
            r2.body.decode("utf-8")
        except UnicodeDecodeError as e:
            self.fail("the feed is not valid UTF-8 after a form post (%d): %r"
                      % (r.status, r2.body[max(0, e.start - 40):e.end + 10]))
        self.assertEqual(r.status, 400, r)

    def test_control_characters_do_not_reach_the_feed(self):
        # RFC 5545 TEXT admits no control characters but HTAB; a NUL must not cut the text short.
        d = self.d
        tok = d.api_token(person="p-wang")
        feed = d.feed_token(person="p-wang")
        r = d.api("POST", "/api/v1/completions", tok,
                  {"occurrence": UID_API, "done_on": "2026-02-20", "document_number": "",
                   "minutes_ref": "", "evidence_text": "bell\u0007esc\u001bdel\u007fend",
                   "note": "before-nul\u0000after-nul"})
        self.assertIn(r.status, (201, 400), r)
        body = d.get(feed).body
        self.assertEqual(re.findall(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", body), [],
                         "control characters in the served feed")
        if r.status == 201:
            self.assertIn(b"after-nul", harness.unfold(body.decode("utf-8")).encode(),
                          "the note was cut at a NUL")

    def test_bad_json_400(self):
        d = self.d
        tok = d.api_token(person="p-wang")
        url = "/api/v1/completions"
        good = {"occurrence": UID_API, "done_on": "2026-02-20", "document_number": "",
                "minutes_ref": "", "evidence_text": "", "note": ""}
        bad_bodies = [b'{"occurrence": ', b"not json", b"[]", b"null", b'"x"', b"",
                      b'{"occurrence": "' + UID_API.encode() + b'", "done_on": "2026-02-20"',
                      b"\xff\xfe{}",
                      json.dumps(dict(good, done_on="2026-02-30")).encode(),
                      json.dumps(dict(good, done_on="20260220")).encode(),
                      json.dumps(dict(good, done_on=20260220)).encode(),
                      json.dumps(dict(good, occurrence=5)).encode(),
                      json.dumps({k: v for k, v in good.items() if k != "done_on"}).encode(),
                      json.dumps({k: v for k, v in good.items() if k != "occurrence"}).encode(),
                      b'{"occurrence": "' + UID_API.encode() + b'", "done_on": "2026-02-20", "note": "\\ud800"}',
                      b"[" * 50000]
        for b in bad_bodies:
            with self.subTest(body=b[:50]):
                r = d.api("POST", url, tok, raw=b)
                self.assertEqual(r.status, 400, r)
                self.assertIsInstance(r.json().get("error"), str, r)
        # Deeply nested JSON (within 64 KiB) must not crash the daemon.
        r = d.api("POST", url, tok, raw=b"[" * 30000 + b"]" * 30000)
        self.assertEqual(r.status, 400, r)
        self.assertTrue(d.alive())
        # And a good one still works.
        self.assertEqual(d.api("POST", url, tok, good).status, 201)


# ---------------------------------------------------------------------------------------
# 7: SIGKILL during a burst of completions
# ---------------------------------------------------------------------------------------
class CrashTests(DaemonTestCase):
    def test_sigkill_during_burst(self):
        d = self.d
        tok = d.api_token(person="p-wang")
        admin = d.api_token(admin=True)
        past = expand(d, person="p-wang", frm="2025-01-01", to="2026-11-26")
        uids = [o["uid"] for o in past]
        dues = {o["uid"]: o["due"] for o in past}
        min_count = {o["uid"]: o["min_count"] for o in past}
        self.assertGreater(len(uids), 20)
        tasks = [(uids[k % len(uids)], "burst-%d" % k) for k in range(600)]
        lock = threading.Lock()
        state = {"next": 0, "dead": False}
        acked, failed = [], []

        def body_of(task):
            uid, note = task
            return {"occurrence": uid, "done_on": dues[uid], "document_number": "",
                    "minutes_ref": "", "evidence_text": "", "note": note}

        def worker():
            while True:
                with lock:
                    if state["dead"] or state["next"] >= len(tasks):
                        return
                    task = tasks[state["next"]]
                    state["next"] += 1
                try:
                    r = d.api("POST", "/api/v1/completions", tok, body_of(task), timeout=5)
                except ConnectionRefusedError:
                    with lock:
                        state["dead"] = True
                    return
                except OSError as e:
                    with lock:
                        failed.append((task, repr(e)))
                    continue
                with lock:
                    if 200 <= r.status < 300:
                        acked.append((task, r.status))
                    else:
                        failed.append((task, r.status))

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with lock:
                if len(acked) >= 40 or state["next"] >= len(tasks):
                    break
            time.sleep(0.005)
        d.kill()
        with lock:
            state["dead"] = True
        for t in threads:
            t.join(10)
        sys.stderr.write("[burst: %d sent, %d acknowledged, %d unanswered] "
                         % (state["next"], len(acked), len(failed)))
        self.assertGreaterEqual(len(acked), 40, "the burst did not get going: failed %r" % failed[:5])
        self.assertTrue(all(s == 201 for _, s in acked), acked[:5])
        non_network = [f for f in failed if isinstance(f[1], int)]
        self.assertEqual(non_network, [], "refused completions during the burst")

        d.start()
        r = d.api("GET", "/api/v1/occurrences?person=p-wang&from=2025-01-01&to=2026-11-26", admin)
        self.assertEqual(r.status, 200, r)
        occ = {o["uid"]: o for o in r.json()["occurrences"]}
        per_uid = {}
        for (uid, note), _ in acked:
            per_uid[uid] = per_uid.get(uid, 0) + 1
        for uid, n in per_uid.items():
            self.assertIn(uid, occ)
            self.assertGreaterEqual(completions_count(occ[uid]), n,
                                    "acknowledged completions of %s lost" % uid)
            if n >= min_count[uid]:
                self.assertEqual(occ[uid]["status"], "done", occ[uid])  # done on the due date
        for task, _ in acked:
            r = d.api("POST", "/api/v1/completions", tok, body_of(task))
            self.assertEqual(r.status, 200, "acknowledged completion %r missing after SIGKILL: %r"
                             % (task, r))
            self.assertIs(r.json().get("created"), False)
        rc, out, err = d.cli("audit", "verify")
        self.assertEqual(rc, 0, out + err)
        m = re.search(r"audit log intact: (\d+) rows", out)
        self.assertTrue(m, out)
        self.assertGreaterEqual(int(m.group(1)), len(acked))


class AuditTests(DaemonTestCase):
    def audit_rows(self):
        rc, out, err = self.d.cli("audit", "verify")
        self.assertEqual(rc, 0, out + err)
        m = re.search(r"audit log intact: (\d+) rows", out)
        self.assertTrue(m, out)
        return int(m.group(1))

    def test_completions_are_audited_and_tampering_is_detected(self):
        d = self.d
        tok = d.api_token(person="p-wang")
        n0 = self.audit_rows()
        body = {"occurrence": UID_API, "done_on": "2026-02-20", "document_number": "",
                "minutes_ref": "", "evidence_text": "", "note": "audited"}
        self.assertEqual(d.api("POST", "/api/v1/completions", tok, body).status, 201)
        n1 = self.audit_rows()
        self.assertGreater(n1, n0, "a completion left no audit row")
        self.assertEqual(d.api("POST", "/api/v1/completions", tok, body).status, 200)
        self.assertEqual(self.audit_rows(), n1, "a repeated completion changed the audit log")
        rc, took = d.stop()
        self.assertEqual(rc, 0)
        # Change one audit row behind dutyd's back: verify must notice.
        import sqlite3
        db = sqlite3.connect(d.database)
        try:
            row = db.execute("SELECT id FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            db.execute("UPDATE audit SET detail = detail || ' (edited)' WHERE id = ?", row)
            db.commit()
        finally:
            db.close()
        rc, out, err = d.cli("audit", "verify")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("audit log broken at row %d" % row[0], out + err)


# ---------------------------------------------------------------------------------------
# 8: metrics and the occurrences API
# ---------------------------------------------------------------------------------------
class MetricsTests(FeedMixin, DaemonTestCase):
    def test_metrics(self):
        d = self.d
        feed = d.feed_token(person="p-wang")
        tok = d.api_token(person="p-wang")
        admin = d.api_token(admin=True)
        r = self.fetch(feed)
        self.fetch(feed, r.header("ETag"), expect=304)
        self.assertEqual(d.get("/feeds/unknown-token.ics").status, 404)
        self.assertEqual(d.api("POST", "/api/v1/completions", tok,
                               {"occurrence": UID_API, "done_on": "2026-02-20", "document_number": "",
                                "minutes_ref": "", "evidence_text": "", "note": ""}).status, 201)
        d.cli_ok("complete", "--occurrence", UID_CLI, "--done-on", "2026-01-15", "--now", NOW)

        resp, m = d.metrics()
        self.assertRegex(resp.header("Content-Type", ""), r"^text/plain")
        names = {k[0] for k in m}
        for name in ("dutyd_occurrences", "dutyd_feeds_served_total", "dutyd_feeds_not_modified_total",
                     "dutyd_completions", "dutyd_reloads_total", "dutyd_last_reload_success",
                     "dutyd_http_requests_total"):
            self.assertIn(name, names)
        for name, typ in (("dutyd_feeds_served_total", "counter"),
                          ("dutyd_feeds_not_modified_total", "counter"),
                          ("dutyd_http_requests_total", "counter"),
                          ("dutyd_occurrences", "gauge"), ("dutyd_last_reload_success", "gauge")):
            self.assertRegex(resp.text, r"(?m)^# TYPE %s %s$" % (name, typ))
        statuses = {dict(k[1]).get("status") for k in m if k[0] == "dutyd_occurrences"}
        self.assertTrue(statuses <= {"open", "done", "late", "overdue", "retired"}, statuses)
        self.assertGreaterEqual(metric(m, "dutyd_feeds_served_total"), 1)
        self.assertGreaterEqual(metric(m, "dutyd_feeds_not_modified_total"), 1)
        self.assertEqual(metric(m, "dutyd_completions", channel="api"), 1)
        self.assertEqual(metric(m, "dutyd_completions", channel="cli"), 1)
        self.assertGreaterEqual(metric(m, "dutyd_http_requests_total", code="200"), 1)
        self.assertGreaterEqual(metric(m, "dutyd_http_requests_total", code="304"), 1)
        self.assertGreaterEqual(metric(m, "dutyd_http_requests_total", code="404"), 1)
        self.assertGreaterEqual(metric(m, "dutyd_http_requests_total", code="201"), 1)
        self.assertEqual(metric(m, "dutyd_last_reload_success"), 1)
        # Occurrence gauges agree with the API.
        for st in ("open", "overdue", "done", "late"):
            r = d.api("GET", "/api/v1/occurrences?status=" + st, admin)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(metric(m, "dutyd_occurrences", status=st) or 0, r.json()["count"], st)
        self.assertGreaterEqual(metric(m, "dutyd_occurrences", status="done"), 1)
        self.assertGreaterEqual(metric(m, "dutyd_occurrences", status="late"), 0)

        # Counters move by exactly what happened.
        served = metric(m, "dutyd_feeds_served_total")
        nm = metric(m, "dutyd_feeds_not_modified_total")
        r = self.fetch(feed)
        self.fetch(feed, r.header("ETag"), expect=304)
        self.fetch(feed, r.header("ETag"), expect=304)
        _, m2 = d.metrics()
        self.assertEqual(metric(m2, "dutyd_feeds_served_total"), served + 1)
        self.assertEqual(metric(m2, "dutyd_feeds_not_modified_total"), nm + 2)
        d.reload()
        _, m3 = d.metrics()
        self.assertEqual(metric(m3, "dutyd_reloads_total", result="ok"), 1)
        self.assertEqual(metric(m3, "dutyd_last_reload_success"), 1)


    def test_error_responses_counted(self):
        d = self.d
        _, m0 = d.metrics()
        self.assertEqual(status_of(d.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
                                         + b"a" * 9000 + b"\r\n\r\n")), 431)
        self.assertEqual(status_of(d.raw(b"\x00garbage\r\n\r\n")), 400)
        tok = d.api_token(person="p-wang")
        self.assertEqual(d.api("POST", "/api/v1/completions", tok, raw=b"{").status, 400)
        self.assertEqual(d.request("DELETE", "/feeds/x.ics").status, 405)
        _, m1 = d.metrics()

        def code(m, c):
            return metric(m, "dutyd_http_requests_total", code=c) or 0
        for c, n in (("431", 1), ("400", 2), ("405", 1), ("200", 1)):  # 200: the first /metrics
            with self.subTest(code=c):
                self.assertEqual(code(m1, c) - code(m0, c), n, "responses %s not counted" % c)


class OccurrencesApiTests(DaemonTestCase):
    def test_filters(self):
        d = self.d
        admin = d.api_token(admin=True)
        tok = d.api_token(person="p-wang")
        url = "/api/v1/occurrences"
        self.assertEqual(d.api("GET", url, None).status, 401)
        self.assertEqual(d.api("GET", url, "bogus").status, 401)
        self.assertIn(d.api("GET", url + "?person=p-wang", tok).status, (401, 403))

        r = d.api("GET", url + "?person=p-wang&from=2026-01-01&to=2026-12-31", admin)
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.header("Content-Type", ""), r"^application/json")
        j = r.json()
        occ = j["occurrences"]
        self.assertEqual(j["count"], len(occ))
        self.assertEqual({o["uid"] for o in occ}, {o["uid"] for o in expand(d, person="p-wang")})
        for o in occ:
            self.assertEqual(OCC_KEYS - set(o), set(), o)
            self.assertEqual(o["person"], "p-wang")
            self.assertTrue("2026-01-01" <= o["due"] <= "2026-12-31", o)
            self.assertEqual(o["status"], "overdue" if o["due"] < TODAY else "open", o)
            self.assertEqual(completions_count(o), 0)
        by_uid = {o["uid"]: o for o in occ}
        self.assertEqual(by_uid[UID_API]["due"], "2026-02-28")
        self.assertEqual(by_uid[UID_API]["org"], "ln")

        # Record one on time and one late; filter by status.
        for uid, day in ((UID_FORM, "2026-01-20"), (UID_API, "2026-03-10")):
            self.assertEqual(d.api("POST", "/api/v1/completions", tok,
                                   {"occurrence": uid, "done_on": day, "document_number": "",
                                    "minutes_ref": "", "evidence_text": "", "note": ""}).status, 201)
        for status, expect in (("done", {UID_FORM}), ("late", {UID_API})):
            r = d.api("GET", url + "?person=p-wang&status=" + status, admin)
            self.assertEqual(r.status, 200, r)
            got = r.json()["occurrences"]
            self.assertEqual({o["uid"] for o in got}, expect, status)
            for o in got:
                self.assertEqual(o["status"], status)
                self.assertEqual(completions_count(o), 1)
        r = d.api("GET", url + "?person=p-wang&status=overdue&from=2026-01-01&to=2026-12-31", admin)
        got = r.json()["occurrences"]
        self.assertEqual(len(got), len([o for o in occ if o["due"] < TODAY]) - 2)
        self.assertTrue(all(o["status"] == "overdue" and o["due"] < TODAY for o in got))
        r = d.api("GET", url + "?person=p-wang&status=open", admin)
        self.assertTrue(r.json()["occurrences"])
        self.assertTrue(all(o["status"] == "open" and o["due"] >= TODAY for o in r.json()["occurrences"]))

    def test_min_count_two(self):
        d = self.d
        admin = d.api_token(admin=True)
        tok = d.api_token(person="p-wang")
        url = "/api/v1/occurrences"
        # min_count 2 (不少于两次): one completion is not enough.
        twice = [o for o in expand(d, person="p-wang") if o["min_count"] == 2 and o["due"] >= TODAY]
        self.assertTrue(twice)
        uid = twice[0]["uid"]
        for n, note in ((1, "第一次"), (2, "第二次")):
            r = d.api("POST", "/api/v1/completions", tok,
                      {"occurrence": uid, "done_on": "2026-0%d-15" % (n + 2), "document_number": "",
                       "minutes_ref": "会议纪要%d" % n, "evidence_text": "", "note": note})
            self.assertEqual(r.status, 201, r)
            r = d.api("GET", url + "?person=p-wang&from=%s&to=%s" % (twice[0]["due"], twice[0]["due"]),
                      admin)
            o = [x for x in r.json()["occurrences"] if x["uid"] == uid][0]
            self.assertEqual(completions_count(o), n)
            self.assertEqual(o["status"], "open" if n == 1 else "done", o)

    def test_org_filter_and_handover(self):
        d = self.d
        admin = d.api_token(admin=True)
        url = "/api/v1/occurrences"
        # By organisation; the Dalian hand-over.
        r = d.api("GET", url + "?org=dl&from=2026-01-01&to=2026-12-31", admin)
        got = r.json()["occurrences"]
        self.assertTrue(got and all(o["org"] == "dl" for o in got))
        h1 = [o for o in got if o["uid"] == UID_HANDOVER]
        self.assertEqual(len(h1), 1)
        self.assertEqual(h1[0]["person"], "p-ouyang")
        # p-qian handed over on 2026-06-16: nothing due later is his (occurrences whose window he
        # shared may still be listed for him as predecessor, but with the successor responsible).
        r = d.api("GET", url + "?person=p-qian&from=2026-07-01&to=2026-12-31", admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([o["uid"] for o in r.json()["occurrences"] if o["person"] == "p-qian"], [])
        r = d.api("GET", url + "?person=p-qian&from=2026-01-01&to=2026-06-15", admin)
        self.assertTrue(r.json()["occurrences"])
        self.assertTrue(all(o["person"] == "p-qian" for o in r.json()["occurrences"]))
        # Filters combine: p-wang has nothing in Dalian.
        r = d.api("GET", url + "?person=p-wang&org=dl", admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["count"], 0, "person and org filters must both apply")
        r = d.api("GET", url + "?person=p-wang&org=ln-cwh&from=2026-01-01&to=2026-12-31", admin)
        got = r.json()["occurrences"]
        self.assertTrue(got)
        self.assertTrue(all(o["org"] == "ln-cwh" and o["person"] == "p-wang" for o in got))
        r = d.api("GET", url + "?person=p-nobody", admin)
        self.assertIn(r.status, (200, 404))
        if r.status == 200:
            self.assertEqual(r.json()["count"], 0)
        r = d.api("GET", url + "?from=2026-13-01", admin)
        self.assertEqual(r.status, 400, r)


# ---------------------------------------------------------------------------------------
# 9: the outbox's history over HTTP (GET /api/v1/deliveries)
# ---------------------------------------------------------------------------------------
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))     # the example's zone, no DST
DELIVERY_KEYS = ["id", "occurrence", "step", "person", "channel", "org", "relation", "send_at",
                 "status", "attempts", "next_attempt_at", "last_error", "sent_at", "created_at",
                 "subject", "purpose", "note"]
OCC_LN_2001 = "a6.1.plan/ln/2001@dutyd"
OCC_DL_2001 = "a6.1.plan/dl/2001@dutyd"
OCC_LN_2030 = "a6.1.plan/ln/2030@dutyd"
ACCEPTED = "occurrence, status, from, to, org, person, limit"


def local_unix(y, mo, d, h=0, mi=0, s=0):
    return int(datetime.datetime(y, mo, d, h, mi, s, tzinfo=SHANGHAI).timestamp())


def iso_z(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeliveriesApiTests(DaemonTestCase):
    """The rows are written straight into the outbox: planned in 2001 and 2002 with final
    statuses (sent, failed, cancelled, superseded), or queued for 2030, so a scheduler sending
    due rows or planning the horizon's reminders never touches them; assertions on whole lists
    use those years or the rows' own occurrences."""
    url = "/api/v1/deliveries"

    def seed(self, rows):
        """rows: dicts with occurrence, step, person, channel, org, send_at, status and optional
        relation, attempts, last_error, sent_at, subject. Returns their ids, in order."""
        import sqlite3
        db = sqlite3.connect(self.d.database, timeout=10)
        ids = []
        try:
            with db:
                for r in rows:
                    cur = db.execute(
                        "INSERT INTO deliveries(occurrence, step, person, channel, org, relation, "
                        "send_at, status, attempts, next_attempt_at, last_error, sent_at, "
                        "created_at, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (r["occurrence"], r["step"], r["person"], r["channel"], r["org"],
                         r.get("relation", "responsible"), r["send_at"], r["status"],
                         r.get("attempts", 0), r["send_at"], r.get("last_error", ""),
                         r.get("sent_at"), r["send_at"] - 86400, r.get("subject", "【提醒】测试")))
                    ids.append(cur.lastrowid)
        finally:
            db.close()
        return ids

    def setUp(self):
        super().setUp()
        d = self.d
        self.admin = d.api_token(admin=True)
        a, b, c, dd, e, f = self.seed([
            dict(occurrence=OCC_LN_2001, step=0, person="p-wang", channel="mail", org="ln",
                 send_at=local_unix(2001, 3, 1), status="sent",
                 sent_at=local_unix(2001, 3, 1, 0, 0, 5), subject="【提醒】制定年度工作计划"),
            dict(occurrence=OCC_LN_2001, step=1, person="p-wang", channel="wecom", org="ln",
                 send_at=local_unix(2001, 3, 1, 23, 59, 59), status="failed", attempts=3,
                 last_error="smtp: 550 mailbox unavailable"),
            dict(occurrence=OCC_DL_2001, step=0, person="p-li", channel="mail", org="dl",
                 send_at=local_unix(2001, 2, 28, 23, 59, 59), status="cancelled"),
            dict(occurrence=OCC_DL_2001, step=1, person="p-li", channel="mail", org="dl",
                 send_at=local_unix(2001, 3, 2), status="superseded"),
            dict(occurrence=OCC_LN_2030, step=0, person="p-wang", channel="mail", org="ln",
                 send_at=local_unix(2030, 6, 1, 9), status="queued"),
            dict(occurrence=OCC_DL_2001, step=2, person="p-wang", channel="mail", org="dl",
                 relation="principal", send_at=local_unix(2001, 3, 1, 12), status="sent",
                 sent_at=local_unix(2001, 3, 1, 12, 1)),
        ])
        self.ids = dict(a=a, b=b, c=c, d=dd, e=e, f=f)
        self.names = {v: k for k, v in self.ids.items()}

    def get(self, query="", token=None, expect=200):
        r = self.d.api("GET", self.url + query, self.admin if token is None else token)
        self.assertEqual(r.status, expect, r)
        self.assertRegex(r.header("Content-Type", ""), r"^application/json")
        return r

    def rows(self, query="", token=None):
        """The names (a..f) of the seeded rows listed, in order; other rows are left out."""
        j = self.get(query, token).json()
        return [self.names[x["id"]] for x in j["deliveries"] if x["id"] in self.names]

    def error(self, query, status=400, token=None):
        r = self.get(query, token, expect=status)
        return r.json()["error"]

    def test_authentication(self):
        d = self.d
        for token in (None, "bogus"):
            r = d.api("GET", self.url, token)
            self.assertEqual(r.status, 401, r)
            self.assertIn("token", r.json()["error"])
        feed = d.feed_token(person="p-wang")
        r = d.api("GET", self.url, feed[len("/feeds/"):-len(".ics")])
        self.assertEqual(r.status, 401, "a feed token is not an API token: %r" % r)
        r = d.api("GET", self.url, None, headers={"Authorization": "Basic " + d.api_token(person="p-wang")})
        self.assertEqual(r.status, 401, r)
        r = d.api("POST", self.url, self.admin, {"occurrence": OCC_LN_2001})
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.header("Allow"), "GET")

    def test_fields_match_the_command_line(self):
        d = self.d
        r = self.get("?occurrence=" + urllib.parse.quote(OCC_LN_2001, safe=""))
        self.assertEqual(r.header("Cache-Control"), "no-store")
        j = r.json()
        self.assertEqual(j["count"], 2)
        self.assertEqual([x["id"] for x in j["deliveries"]], [self.ids["a"], self.ids["b"]])
        for x in j["deliveries"]:
            self.assertEqual(list(x), DELIVERY_KEYS)
        a, b = j["deliveries"]
        self.assertEqual(a["send_at"], "2001-02-28T16:00:00Z")      # local midnight, in UTC
        self.assertEqual(a["sent_at"], "2001-02-28T16:00:05Z")
        self.assertEqual(a["created_at"], "2001-02-27T16:00:00Z")
        self.assertEqual(a["subject"], "【提醒】制定年度工作计划")
        self.assertEqual((a["status"], a["step"], a["person"], a["channel"], a["org"], a["relation"]),
                         ("sent", 0, "p-wang", "mail", "ln", "responsible"))
        self.assertEqual((b["status"], b["attempts"], b["last_error"], b["sent_at"]),
                         ("failed", 3, "smtp: 550 mailbox unavailable", None))
        self.assertEqual(b["next_attempt_at"], b["send_at"])
        # The very objects `dutyd deliveries --format json` prints.
        out = d.cli_ok("deliveries", "--occurrence", OCC_LN_2001, "--format", "json")
        self.assertEqual([json.loads(l) for l in out.splitlines() if l.strip()], j["deliveries"])

    def test_filters(self):
        year = "&from=2001-01-01&to=2001-12-31"
        self.assertEqual(self.rows("?occurrence=" + urllib.parse.quote(OCC_DL_2001, safe="")),
                         ["c", "f", "d"])
        # Days in the configured zone (Asia/Shanghai) on the planned time, both ends included.
        self.assertEqual(self.rows("?from=2001-03-01&to=2001-03-01"), ["a", "f", "b"])
        self.assertEqual(self.rows("?from=2001-03-02&to=2001-03-31"), ["d"])
        self.assertEqual(self.rows("?to=2001-02-28"), ["c"])
        self.assertEqual(self.rows("?from=2030-06-01"), ["e"])
        for status, expect in (("sent", ["a", "f"]), ("failed", ["b"]), ("cancelled", ["c"]),
                               ("superseded", ["d"]), ("queued", []), ("sending", [])):
            j = self.get("?status=%s%s" % (status, year)).json()
            self.assertTrue(all(x["status"] == status for x in j["deliveries"]), j)
            self.assertEqual(self.rows("?status=%s%s" % (status, year)), expect, status)
        self.assertEqual(self.rows("?status=queued&occurrence=" + urllib.parse.quote(OCC_LN_2030, safe="")),
                         ["e"])
        self.assertEqual(self.rows("?person=p-li" + year), ["c", "d"])
        self.assertEqual(self.rows("?org=dl" + year), ["c", "f", "d"])
        self.assertEqual(self.rows("?org=dl&person=p-wang" + year), ["f"], "filters must combine")
        self.assertEqual(self.rows("?org=ln&status=sent" + year), ["a"])
        j = self.get("?person=p-nobody").json()
        self.assertEqual((j["count"], j["deliveries"]), (0, []))
        # Every query reads the store: a row written meanwhile (by the scheduler or the CLI) is
        # in the next answer, nothing is served from a cache.
        q = "?occurrence=" + urllib.parse.quote(OCC_LN_2001, safe="")
        self.assertEqual(self.get(q).json()["count"], 2)
        (g,) = self.seed([dict(occurrence=OCC_LN_2001, step=2, person="p-wang", channel="mail",
                               org="ln", send_at=local_unix(2001, 3, 5), status="cancelled")])
        j = self.get(q).json()
        self.assertEqual(j["count"], 3)
        self.assertEqual(j["deliveries"][-1]["id"], g)

    def test_limit(self):
        year = "&from=2001-01-01&to=2001-12-31"
        j = self.get("?limit=2" + year).json()
        self.assertEqual(j["count"], 5, "count is every matching row, the list at most limit")
        self.assertEqual([self.names[x["id"]] for x in j["deliveries"]], ["c", "a"])
        # 1000 by default, at most 10000.
        self.seed([dict(occurrence="a6.1.plan/ln/2002-%d@dutyd" % i, step=0, person="p-zhang",
                        channel="mail", org="ln", send_at=local_unix(2002, 1, 1) + i * 60,
                        status="sent", sent_at=local_unix(2002, 1, 1) + i * 60)
                   for i in range(1001)])
        j = self.get("?from=2002-01-01&to=2002-12-31").json()
        self.assertEqual((j["count"], len(j["deliveries"])), (1001, 1000))
        j = self.get("?from=2002-01-01&to=2002-12-31&limit=10000").json()
        self.assertEqual((j["count"], len(j["deliveries"])), (1001, 1001))
        for bad in ("0", "10001", "abc", "-1", "1.5", "99999999999999999999"):
            self.assertIn("limit", self.error("?limit=" + bad), bad)

    def test_bad_parameters(self):
        msg = self.error("?status=delivered")
        for s in ("queued", "sending", "sent", "failed", "cancelled", "superseded"):
            self.assertIn(s, msg)
        for query, name in (("?from=2001-02-30", "'from'"), ("?to=20010301", "'to'"),
                            ("?from=2001-03-01T00:00:00", "'from'"), ("?to=today", "'to'")):
            msg = self.error(query)
            self.assertIn(name, msg, query)
            self.assertIn("YYYY-MM-DD", msg, query)
        self.assertIn("after", self.error("?from=2001-03-02&to=2001-03-01"))
        msg = self.error("?persn=p-wang")
        self.assertIn("'persn'", msg)
        self.assertIn(ACCEPTED, msg)
        self.assertIn(ACCEPTED, self.error("?occurrence=%s&since=2001-01-01"
                                           % urllib.parse.quote(OCC_LN_2001, safe="")))
        self.assertIn("malformed", self.error("?status=%zz"))

    def test_person_and_org_tokens(self):
        d = self.d
        wang = d.api_token(person="p-wang")
        li = d.api_token(person="p-li")
        # A person's token: that person's rows only, whatever else is asked.
        j = self.get("?limit=10000", wang).json()
        self.assertTrue(all(x["person"] == "p-wang" for x in j["deliveries"]), j)
        self.assertEqual(self.rows("?limit=10000", wang), ["a", "f", "b", "e"])
        self.assertEqual(self.rows("?from=2001-01-01&to=2001-12-31", li), ["c", "d"])
        self.assertEqual(self.rows("?person=p-li&status=cancelled", li), ["c"])
        self.assertEqual(self.rows("?occurrence=" + urllib.parse.quote(OCC_LN_2001, safe=""), li), [])
        self.assertEqual(self.rows("?org=ln", li), [])
        self.assertIn("person", self.error("?person=p-li", 403, wang))
        # An organisation's API token: the rows of its occurrences, whoever received them.
        out = d.cli_ok("token", "issue", "--org", "dl", "--kind", "api").strip()
        self.assertEqual(len(out.splitlines()), 1, out)
        dl = out
        j = self.get("?limit=10000", dl).json()
        self.assertTrue(all(x["org"] == "dl" for x in j["deliveries"]), j)
        self.assertEqual(self.rows("?from=2001-01-01&to=2001-12-31", dl), ["c", "f", "d"])
        self.assertEqual(self.rows("?person=p-wang&from=2001-01-01&to=2001-12-31", dl), ["f"])
        self.assertIn("organisation", self.error("?org=ln", 403, dl))
        # A revoked token is refused like any unknown one.
        tid = [t for t in d.tokens() if t["subject"] == "p-li" and t["kind"] == "api"][0]["id"]
        d.cli_ok("token", "revoke", "--id", str(tid))
        self.assertEqual(d.api("GET", self.url, li).status, 401)


if __name__ == "__main__":
    unittest.main(verbosity=2)
