"""The dashboard (/dashboard/) of the real `dutyd run` under --now on the example configuration,
driven by Debian's headless Chromium through chromedriver (python3-selenium): sign in with a
token, read the grid's colours, drill into Dalian, open occurrences and read their evidence,
deliveries and flag; a wrong token is refused and Dalian's token cannot see the province.

The facts come from the example (see tests/daemon/test_flags.py): a6.1.plan is due on
28 February, a6.15.inspect-subordinates (Dalian's inspection of each unit it leads) on
31 March, a6.1.analysis on 30 June; the grace period is 5 days. The daemon starts first on
20 January (flags.since), then on 5 April, when a6.1.plan of Dalian is flagged and its notices
go out through a log channel; Dalian's inspection of dl-bgs was done on time, that of dl-zzb
late, the others are still open within grace.

Screenshots go to $DUTYD_ARTIFACTS (default: tests/artifacts in the working directory).
"""
import http.client
import os
import socket
import struct
import subprocess
import sys
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))

import harness  # noqa: E402
from harness import Daemon, wait_until  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ARTIFACTS = os.environ.get("DUTYD_ARTIFACTS") or os.path.join(os.getcwd(), "tests", "artifacts")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


def connectable(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PASS_LINE = "flags: pass over "
INSPECT = "a6.15.inspect-subordinates/dl/2026/%s@dutyd"
PLAN = "a6.1.plan/dl/2026@dutyd"
EVIDENCE = "整改台账<script>alert(1)</script>"
COLOURS = {  # the legend's colours in http/dashboard.cpp, as the browser computes them
    "missed": "rgba(224, 69, 58, 1)", "on_time": "rgba(143, 209, 143, 1)",
    "late": "rgba(201, 179, 230, 1)", "overdue": "rgba(255, 210, 127, 1)",
    "upcoming": "rgba(223, 231, 242, 1)"}


def check_png(path):
    """A real PNG: signature, an IHDR with a size, every chunk's CRC, an IDAT, IEND last."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, "bad CRC in chunk %r" % kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND", [c[0] for c in chunks]
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert width > 100 and height > 100, (width, height)
    assert any(k == b"IDAT" for k, _ in chunks)
    return width, height


TOWNS = 60  # township committees added under Wafangdian: its children need two pages of 50


class LogChannelDaemon(Daemon):
    def __init__(self):
        super().__init__()
        self.write_file("conf.d/towns.toml", "\n".join(
            '[[org]]\nid = "wfd-town%02d"\nname = "瓦房店第%d镇党委"\nkind = "party-committee"\n'
            'level = "township"\nparent = "wfd"\ndiscipline_organ = "wfd-jw"\n' % (i, i)
            for i in range(1, TOWNS + 1)))
        self.write_config(self.base_config, '\n[[channel]]\nid = "log"\nkind = "log"\n')


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = d = LogChannelDaemon()
        try:
            cls.start_at("2026-01-20T09:00:00")
            d.stop()
            d.cli_ok("complete", "--occurrence", INSPECT % "dl-bgs", "--done-on", "2026-03-30",
                     "--now", "2026-04-05T10:00:00", "--document-number", "大委办〔2026〕7号")
            d.cli_ok("complete", "--occurrence", INSPECT % "dl-zzb", "--done-on", "2026-04-04",
                     "--now", "2026-04-05T10:00:00", "--evidence", EVIDENCE)
            cls.start_at("2026-04-05T09:00:00")
            wait_until(lambda: any(r["status"] == "sent" for r in cls.notices()), 20, "the log channel's notices")
            cls.admin = cls.token("--admin")
            cls.dalian = cls.token("--org", "dl", "--kind", "api")
            cls.dalian_feed = cls.token("--org", "dl")  # a feed token: refused by the dashboard
            options = webdriver.ChromeOptions()
            options.binary_location = CHROMIUM
            for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                      "--window-size=1600,1000", "--lang=zh-CN"):
                options.add_argument(a)
            # chromedriver is started here on 127.0.0.1 rather than through selenium's Service,
            # which reaches it by the name "localhost": a minimal root without /etc/hosts (a
            # fresh debootstrap, some containers) cannot resolve that name.
            port = harness.free_port()
            cls.driver_log = open(os.path.join(d.tmp, "chromedriver.log"), "wb")
            cls.driver = subprocess.Popen([CHROMEDRIVER, "--port=%d" % port], stdout=cls.driver_log,
                                          stderr=subprocess.STDOUT)
            wait_until(lambda: connectable(port), 20, "chromedriver listening on 127.0.0.1:%d" % port)
            cls.browser = webdriver.Remote(command_executor="http://127.0.0.1:%d" % port, options=options)
            cls.browser.set_page_load_timeout(30)
        except BaseException:
            cls.stop_driver()
            d.cleanup()
            raise
        os.makedirs(ARTIFACTS, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "browser", None):
            cls.browser.quit()
        cls.stop_driver()
        rc, _ = cls.d.stop()
        err = cls.d.stderr()
        cls.d.cleanup()
        assert rc == 0, "dutyd exit code %r" % rc
        for marker in harness.SANITIZER_MARKERS:
            assert marker not in err, "sanitizer report in dutyd's stderr"
        for secret in (cls.admin, cls.dalian):
            assert secret not in err, "a token in dutyd's log"

    @classmethod
    def stop_driver(cls):
        if getattr(cls, "driver", None):
            cls.driver.terminate()
            try:
                cls.driver.wait(10)
            except subprocess.TimeoutExpired:
                cls.driver.kill()
                cls.driver.wait()
            cls.driver = None
            cls.driver_log.close()

    @classmethod
    def start_at(cls, now):
        cls.d.start(now=now)
        run = cls.d.runs
        wait_until(lambda: PASS_LINE in cls.d.stderr(run), 30, "a flag pass")

    @classmethod
    def token(cls, *args):
        out = cls.d.cli_ok("token", "issue", *args).strip()
        return out.rsplit("/", 1)[-1].removesuffix(".ics")

    @classmethod
    def notices(cls):
        import sqlite3
        con = sqlite3.connect(cls.d.database, timeout=10)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(
                "SELECT channel, status FROM deliveries WHERE occurrence = ?", (PLAN,))]
        finally:
            con.close()

    # --- helpers -----------------------------------------------------------------------
    def url(self, path):
        return self.d.public_url + path

    def follow(self, element):
        """Clicks a link or button and waits until its page has been replaced and loaded: a
        click returns before the navigation it starts has finished.

        The old page is marked on its window object, which a navigation replaces. Selenium's
        staleness_of is not used: while the old document is being torn down, chromedriver 156
        sometimes answers with a generic "Node with given id does not belong to the document"
        error instead of a stale-element one, which staleness_of lets through (CI failed so)."""
        b = self.browser
        b.execute_script("window.__dutydOldPage = true;")
        element.click()

        def replaced(driver):
            try:
                return driver.execute_script(
                    "return window.__dutydOldPage === undefined && document.readyState === 'complete';")
            except WebDriverException:
                return False  # between documents: ask again
        WebDriverWait(b, 20).until(replaced, "the page did not change after the click")

    def sign_in(self, token):
        b = self.browser
        b.delete_all_cookies()
        b.get(self.url("/dashboard/"))
        self.assertTrue(b.current_url.endswith("/dashboard/login"), b.current_url)
        b.find_element(By.ID, "token").send_keys(token)
        self.follow(b.find_element(By.ID, "login"))

    def chip(self, uid):
        return self.browser.find_element(By.CSS_SELECTOR, 'a.st[data-uid="%s"]' % uid)

    def screenshot(self, name):
        path = os.path.join(ARTIFACTS, "dashboard-%s.png" % name)
        self.assertTrue(self.browser.save_screenshot(path), path)
        check_png(path)
        return path

    def raw(self, path, cookie=None, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        try:
            conn.request(method, path, headers={"Cookie": "dutyd_dashboard=" + cookie} if cookie else {})
            r = conn.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read().decode("utf-8")
        finally:
            conn.close()

    # --- tests -------------------------------------------------------------------------
    def test_1_wrong_tokens_are_refused(self):
        b = self.browser
        for wrong in ("not-a-token", self.admin[:-2] + "xx", self.dalian_feed):
            self.sign_in(wrong)
            self.assertTrue(b.current_url.endswith("/dashboard/login"), b.current_url)
            self.assertIn("令牌无效", b.find_element(By.ID, "login-error").text)
            self.assertEqual(b.get_cookies(), [])
        # Without a cookie every page sends the browser to the sign-in form.
        b.get(self.url("/dashboard/occurrence?uid=" + PLAN))
        self.assertTrue(b.current_url.endswith("/dashboard/login"), b.current_url)
        status, headers, _ = self.raw("/dashboard/org?id=dl")
        self.assertEqual((status, headers["location"]), (303, "/dashboard/login"))
        status, _, body = self.raw("/dashboard/org?id=dl", cookie="bogus")
        self.assertEqual(status, 303)

    def test_2_admin_grid_drill_down_and_occurrence(self):
        b = self.browser
        self.sign_in(self.admin)
        cookie = b.get_cookie("dutyd_dashboard")
        self.assertTrue(cookie["httpOnly"])
        self.assertEqual((cookie["sameSite"], cookie["path"], cookie["secure"]), ("Strict", "/dashboard", False))
        # The province's page: 辽宁省委 itself and its children, Dalian among them.
        self.assertIn("中共辽宁省委", b.find_element(By.ID, "org-name").text)
        self.assertIn("2026年度", b.find_element(By.ID, "org-name").text)
        rows = [r.get_attribute("data-org") for r in b.find_elements(By.CSS_SELECTOR, "#grid tbody tr")]
        self.assertEqual(rows[0], "ln")
        self.assertIn("dl", rows)
        self.assertEqual(self.chip("a6.1.plan/ln/2026@dutyd").get_attribute("data-state"), "missed")
        self.screenshot("province")

        self.follow(b.find_element(By.CSS_SELECTOR, 'tr[data-org="dl"] a.drill'))
        self.assertIn("中共大连市委", b.find_element(By.ID, "org-name").text)
        self.assertIn("中共辽宁省委", b.find_element(By.CSS_SELECTOR, ".crumbs").text)
        expected = {PLAN: "missed", INSPECT % "dl-bgs": "on_time", INSPECT % "dl-zzb": "late",
                    INSPECT % "dl-xcb": "overdue"}
        for uid, state in expected.items():
            chip = self.chip(uid)
            self.assertEqual(chip.get_attribute("data-state"), state, uid)
            self.assertEqual(chip.value_of_css_property("background-color"), COLOURS[state], uid)
        upcoming = b.find_elements(By.CSS_SELECTOR, 'tr[data-org="dl"] a.st[data-state="upcoming"]')
        self.assertTrue(any(c.get_attribute("data-uid").startswith("a6.1.analysis/dl/2026") for c in upcoming))
        # The legend names the five states in Chinese.
        legend = b.find_element(By.CSS_SELECTOR, ".legend").text
        for zh in ("未到期", "已逾期", "未履行", "按时完成", "逾期完成"):
            self.assertIn(zh, legend)
        shot = self.screenshot("dalian")
        self.assertGreater(os.path.getsize(shot), 10000)

        # The missed plan: its duty, the responsible person, no completion, the flag, deliveries.
        self.follow(self.chip(PLAN))
        self.assertIn("研究制定年度全面从严治党工作计划", b.find_element(By.ID, "occurrence-title").text)
        text = b.find_element(By.TAG_NAME, "main").text
        self.assertIn("未履行", text)
        self.assertIn("2026-02-28", text)
        self.assertIn("钱某", text)  # Dalian's principal on the due date
        self.assertIn("尚无完成记录", text)
        flag = b.find_element(By.ID, "flag").text
        self.assertIn("提出", flag)
        self.assertIn("第二十七条第（二）项", flag)
        deliveries = b.find_elements(By.CSS_SELECTOR, "#deliveries tr[data-status]")
        statuses = {r.get_attribute("data-status") for r in deliveries}
        self.assertIn("sent", statuses)
        self.assertIn("陶", b.find_element(By.ID, "deliveries").text)  # the discipline organ's head
        self.assertIn("问责提示", b.find_element(By.ID, "deliveries").text)
        self.screenshot("occurrence-missed")

        # Back to Dalian and into the late inspection: its evidence, escaped, and no flag.
        b.back()
        self.follow(self.chip(INSPECT % "dl-zzb"))
        self.assertIn("逾期完成", b.find_element(By.TAG_NAME, "main").text)
        completions = b.find_element(By.ID, "completions").text
        self.assertIn("2026-04-04（逾期）", completions)
        self.assertIn(EVIDENCE, completions)  # shown as text, not run
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, "#completions script"), [])
        self.assertTrue(b.find_elements(By.ID, "no-flag"))
        b.back()
        self.follow(self.chip(INSPECT % "dl-bgs"))
        self.assertIn("大委办〔2026〕7号", b.find_element(By.ID, "completions").text)
        self.assertIn("按时完成", b.find_element(By.TAG_NAME, "main").text)

        # Another year: the 2027 grid has no completion yet.
        b.get(self.url("/dashboard/org?id=dl&year=2027"))
        self.assertIn("2027年度", b.find_element(By.ID, "org-name").text)
        states = {c.get_attribute("data-state") for c in b.find_elements(By.CSS_SELECTOR, "a.st")}
        self.assertEqual(states, {"upcoming"})

    def test_2b_children_are_paged(self):
        b = self.browser
        self.sign_in(self.admin)
        b.get(self.url("/dashboard/org?id=wfd&year=2026"))
        rows = [r.get_attribute("data-org") for r in b.find_elements(By.CSS_SELECTOR, "#grid tbody tr")]
        self.assertEqual(rows[0], "wfd")
        self.assertEqual(len(rows), 51)
        children = int(b.find_element(By.CSS_SELECTOR, "p.meta").text.split("下级组织 ")[1].split(" ")[0])
        self.assertGreaterEqual(children, TOWNS + 1)
        self.assertIn("第 1 / 2 页", b.find_element(By.CSS_SELECTOR, ".pages").text)
        self.follow(b.find_element(By.LINK_TEXT, "下一页"))
        rows2 = [r.get_attribute("data-org") for r in b.find_elements(By.CSS_SELECTOR, "#grid tbody tr")]
        self.assertEqual(len(rows2), children - 50)
        self.assertNotIn("wfd", rows2)
        self.assertEqual(set(rows[1:]) & set(rows2), set())
        self.assertIn("wfd-town%02d" % TOWNS, rows[1:] + rows2)
        self.follow(b.find_element(By.LINK_TEXT, "上一页"))
        self.assertEqual(b.find_element(By.CSS_SELECTOR, "#grid tbody tr").get_attribute("data-org"), "wfd")
        self.screenshot("paged")

    def test_3_org_token_sees_only_its_subtree(self):
        b = self.browser
        self.sign_in(self.dalian)
        self.assertIn("中共大连市委", b.find_element(By.ID, "org-name").text)
        self.assertNotIn("中共辽宁省委", b.find_element(By.CSS_SELECTOR, ".crumbs").text)
        self.assertEqual(self.chip(PLAN).get_attribute("data-state"), "missed")
        for path in ("/dashboard/org?id=ln", "/dashboard/org?id=ln-zzb",
                     "/dashboard/occurrence?uid=a6.1.plan/ln/2026@dutyd"):
            b.get(self.url(path))
            self.assertIn("无权查看", b.find_element(By.TAG_NAME, "main").text, path)
            status, _, _ = self.raw(path, cookie=self.dalian)
            self.assertEqual(status, 403, path)
        # Its own units are visible.
        status, _, body = self.raw("/dashboard/org?id=dl-zzb", cookie=self.dalian)
        self.assertEqual(status, 200)
        self.assertIn("中共大连市委组织部", body)
        self.screenshot("dalian-token")
        # Signing out clears the cookie.
        b.get(self.url("/dashboard/org?id=dl"))
        self.follow(b.find_element(By.CSS_SELECTOR, "header form button"))
        self.assertTrue(b.current_url.endswith("/dashboard/login"), b.current_url)
        self.assertIsNone(b.get_cookie("dutyd_dashboard"))

    def test_4_headers_and_bad_input(self):
        status, h, body = self.raw("/dashboard/org?id=dl", cookie=self.admin)
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertIn("default-src 'none'", h["content-security-policy"])
        self.assertEqual((h["x-content-type-options"], h["referrer-policy"], h["cache-control"]),
                         ("nosniff", "no-referrer", "no-store"))
        self.assertNotIn("<script", body)
        self.assertNotIn("http://", body.replace(self.d.public_url, ""))  # nothing from elsewhere
        for path, code, text in (("/dashboard/org?id=nope", 404, "组织不存在"),
                                 ("/dashboard/org?id=dl&year=1999", 400, "年度应在"),
                                 ("/dashboard/org?id=dl&year=abc", 400, "年度应在"),
                                 ("/dashboard/org?id=dl&page=9", 404, "只有 1 页"),
                                 ("/dashboard/org?id=dl&x=1", 400, "不认识的参数"),
                                 ("/dashboard/occurrence?uid=nope", 404, "事项不存在"),
                                 ("/dashboard/occurrence", 400, "缺少事项编号"),
                                 ("/dashboard/org?id=%zz", 400, "无法解析"),
                                 ("/dashboard/nothing", 404, "没有这个页面")):
            status, _, body = self.raw(path, cookie=self.admin)
            self.assertEqual(status, code, path)
            self.assertIn(text, body, path)
        # HEAD: the GET's headers, no body.
        status, head, nothing = self.raw("/dashboard/org?id=dl", cookie=self.admin, method="HEAD")
        self.assertEqual((status, nothing), (200, ""))
        self.assertEqual(head["content-length"], h["content-length"])
        self.assertEqual(head["content-security-policy"], h["content-security-policy"])
        for method, allow in (("POST", "GET, HEAD"), ("DELETE", "GET, HEAD")):
            status, h2, _ = self.raw("/dashboard/org?id=dl", cookie=self.admin, method=method)
            self.assertEqual((status, h2["allow"]), (405, allow))
        status, h2, _ = self.raw("/dashboard/logout", method="GET")
        self.assertEqual((status, h2["allow"]), (405, "POST"))
        status, h, css = self.raw("/dashboard/style.css")
        self.assertEqual((status, h["content-type"]), (200, "text/css; charset=utf-8"))
        self.assertIn(".st-missed", css)
        # A revoked token ends the session at once.
        tok = self.token("--admin", "--note", "to revoke")
        self.assertEqual(self.raw("/dashboard/", cookie=tok)[0], 200)
        ids = [l for l in self.d.cli_ok("token", "list", "--format", "json").splitlines() if "to revoke" in l]
        import json
        self.d.cli_ok("token", "revoke", "--id", str(json.loads(ids[0])["id"]))
        wait_until(lambda: self.raw("/dashboard/", cookie=tok)[0] == 303, 10, "the revocation")


if __name__ == "__main__":
    unittest.main(verbosity=2)
