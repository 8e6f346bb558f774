"""Debian's nginx with the shipped site example (systemd/nginx-dutyd.conf) in front of the real
`dutyd run`, all on loopback, TLS with a self-signed certificate the test makes with openssl.

Checked through the proxy: feeds (with 304 revalidation), the completion form (GET and POST),
the dashboard (sign-in, cookie, pages), the links dutyd writes (feed addresses, completion links,
the links in reminders) starting with the proxy's https address (public_url); /metrics and
/healthz never reaching dutyd from outside; the body limit; plain HTTP redirected; and, against
a recording upstream, the X-Forwarded-For, X-Forwarded-Proto and Host headers dutyd is sent.

The site file is used as shipped except for what an administrator edits (addresses, the
certificate) and the upstream's port; each edit must match exactly once, so the test fails when
the example's structure changes. Needs nginx and openssl (scripts/setup.sh test installs them).
"""
import grp
import http.client
import http.server
import json
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import unittest
import urllib.parse

import harness
from harness import Daemon, free_port, wait_until

SITE = os.path.join(harness.SOURCE_DIR, "systemd", "nginx-dutyd.conf")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
UID_FORM = "a6.16.report-jan/ln/2026@dutyd"  # open at the harness's NOW, for p-wang


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=dutyd-test",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def edit_once(text, pattern, replacement):
    new, n = re.subn(pattern, replacement, text, flags=re.M)
    if n != 1:
        raise AssertionError("systemd/nginx-dutyd.conf: expected exactly one match of %r, found %d"
                             % (pattern, n))
    return new


class Nginx:
    """nginx -p DIR with the shipped site, edited for loopback ports and the test certificate."""

    def __init__(self, directory, upstream_port, cert, key):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.https_port, self.http_port = free_port(), free_port()
        with open(SITE, encoding="utf-8") as f:
            site = f.read()
        site = edit_once(site, r"^(\s*)listen 80;$", r"\1listen 127.0.0.1:%d;" % self.http_port)
        site = edit_once(site, r"^\s*listen \[::\]:80;\n", "")
        site = edit_once(site, r"^(\s*)listen 443 ssl http2;$",
                         r"\1listen 127.0.0.1:%d ssl http2;" % self.https_port)
        site = edit_once(site, r"^\s*listen \[::\]:443 ssl http2;\n", "")
        site = edit_once(site, r"^(\s*)server 127\.0\.0\.1:8088;$", r"\1server 127.0.0.1:%d;" % upstream_port)
        site = edit_once(site, r"^(\s*)ssl_certificate\s+\S+;$", r"\1ssl_certificate %s;" % cert)
        site = edit_once(site, r"^(\s*)ssl_certificate_key\s+\S+;$", r"\1ssl_certificate_key %s;" % key)
        with open(os.path.join(directory, "site.conf"), "w", encoding="utf-8") as f:
            f.write(site)
        # As root, nginx's workers would switch to nobody and could not use the private
        # temporary folders: they keep the test's user instead.
        user = ""
        if os.geteuid() == 0:
            user = "user %s %s;" % (pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name)
        d = directory
        main = f"""{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/site.conf;
}}
"""
        self.conf = os.path.join(directory, "nginx.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(main)
        check = subprocess.run([NGINX, "-t", "-p", directory, "-e", os.path.join(d, "error.log"),
                                "-c", self.conf], capture_output=True, text=True)
        if check.returncode != 0:
            raise AssertionError("nginx -t rejects the site example:\n" + check.stderr)
        self.proc = subprocess.Popen([NGINX, "-p", directory, "-e", os.path.join(d, "error.log"),
                                      "-c", self.conf, "-g", "daemon off; master_process on;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: self._listening() or self.proc.poll() is not None, 10, "nginx listening")
        if self.proc.poll() is not None:
            raise AssertionError("nginx exited: " + self.proc.stderr.read().decode())
        self.context = ssl.create_default_context(cafile=cert)

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()

    def request(self, method, target, body=None, headers=None, tls=True):
        """One request to the outside listener (https, or the plain http one)."""
        if tls:
            conn = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=self.context, timeout=15)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=15)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            r = conn.getresponse()
            return harness.Response(r.status, r.reason, r.getheaders(), r.read())
        finally:
            conn.close()

    def get_url(self, url, headers=None):
        """GET of an absolute https URL, which must name this proxy."""
        u = urllib.parse.urlsplit(url)
        assert (u.scheme, u.hostname, u.port) == ("https", "127.0.0.1", self.https_port), url
        return self.request("GET", u.path + ("?" + u.query if u.query else ""), headers=headers)


class Recorder(http.server.ThreadingHTTPServer):
    """An upstream that answers every request with the headers it received, as JSON."""

    def __init__(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({k: v for k, v in self.headers.items()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()
        self.server_close()


class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.tls_dir = os.path.join(cls.d.tmp, "tls")
        os.makedirs(cls.tls_dir)
        cls.cert, cls.key = make_certificate(cls.tls_dir)
        cls.nginx = Nginx(os.path.join(cls.d.tmp, "nginx"), cls.d.port, cls.cert, cls.key)
        # What the administrator writes: public_url is the proxy's address.
        cls.d.public_url = "https://127.0.0.1:%d" % cls.nginx.https_port
        cls.d.write_config(cls.d.base_config)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()
        cls.d.stop()
        cls.d.cleanup()

    def dutyd_404s(self):
        _, m = self.d.metrics()
        return m.get(("dutyd_http_requests_total", frozenset({("code", "404")})), 0)

    def test_feed_address_points_at_the_proxy_and_is_served_through_it(self):
        path = self.d.feed_token(person="p-wang")  # asserts the URL starts with public_url
        url = self.d.public_url + path
        r = self.nginx.get_url(url)
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.header("Content-Type", ""), r"^text/calendar")
        self.assertTrue(r.body.startswith(b"BEGIN:VCALENDAR\r\n"), r.body[:80])
        self.assertIn(b"UID:" + UID_FORM.encode(), r.body.replace(b"\r\n ", b""))
        self.assertEqual(r.header("Strict-Transport-Security"), "max-age=31536000")
        etag = r.header("ETag")
        self.assertTrue(etag, r.headers)
        again = self.nginx.get_url(url, headers={"If-None-Match": etag})
        self.assertEqual(again.status, 304, again)
        unknown = self.nginx.request("GET", "/feeds/" + "x" * 43 + ".ics")
        self.assertEqual(unknown.status, 404)
        self.assertIn("没有这个日历订阅地址", unknown.text)  # dutyd's answer, passed through

    def test_completion_link_points_at_the_proxy_and_the_form_works_through_it(self):
        link = self.d.cli_ok("link", "--occurrence", UID_FORM, "--now", harness.NOW).strip()
        self.assertTrue(link.startswith(self.d.public_url + "/complete?o="), link)
        page = self.nginx.get_url(link)
        self.assertEqual(page.status, 200, page)
        self.assertIn("登记完成情况", page.text)
        self.assertRegex(page.text, r"(?i)<form[^>]*method=[\"']?post")
        _, before = self.d.metrics()
        u = urllib.parse.urlsplit(link)
        form = urllib.parse.urlencode({"done_on": "2026-01-20", "document_number": "辽委〔2026〕3号",
                                       "minutes_ref": "", "evidence_text": "经代理提交", "note": ""})
        done = self.nginx.request("POST", u.path + "?" + u.query, body=form.encode(),
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(done.status, 200, done)
        self.assertIn("已记录", done.text)
        _, after = self.d.metrics()
        key = ("dutyd_completions", frozenset({("channel", "form")}))
        self.assertEqual(after.get(key, 0), before.get(key, 0) + 1)

    def test_dashboard_sign_in_and_pages_through_the_proxy(self):
        token = self.d.api_token(admin=True)
        anonymous = self.nginx.request("GET", "/dashboard/")
        self.assertEqual((anonymous.status, anonymous.header("Location")), (303, "/dashboard/login"))
        bare = self.nginx.request("GET", "/dashboard")
        self.assertEqual(bare.status, 303, bare)
        login = self.nginx.request("GET", "/dashboard/login")
        self.assertEqual(login.status, 200, login)
        r = self.nginx.request("POST", "/dashboard/login", body=urllib.parse.urlencode({"token": token}).encode(),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((r.status, r.header("Location")), (303, "/dashboard/"), r)
        cookie = r.header("Set-Cookie")
        self.assertIn("Secure", cookie)  # public_url is https, so the session cookie is Secure
        session = cookie.split(";", 1)[0]
        page = self.nginx.request("GET", "/dashboard/", headers={"Cookie": session})
        self.assertEqual(page.status, 200, page)
        self.assertIn("中共辽宁省委", page.text)
        self.assertTrue(page.header("Content-Security-Policy", "").startswith("default-src 'none'"))

    def test_reminder_links_point_at_the_proxy(self):
        d = Daemon()
        self.addCleanup(d.cleanup)
        nginx = Nginx(os.path.join(d.tmp, "nginx"), d.port, self.cert, self.key)
        self.addCleanup(nginx.stop)
        d.public_url = "https://127.0.0.1:%d" % nginx.https_port
        d.write_config(d.base_config, '\n[[channel]]\nid = "demo-log"\nkind = "log"\n')
        d.start(now="2026-06-29T08:59:58")
        pattern = re.compile(r"https://127\.0\.0\.1:%d/complete\?o=[^\s，。）]+" % nginx.https_port)
        wait_until(lambda: pattern.search(d.stderr()), 30, "a reminder with a completion link")
        lines = [l for l in d.stderr().splitlines() if l.startswith("<6>提醒[demo-log]")]
        self.assertTrue(lines)
        self.assertNotIn("http://127.0.0.1:%d" % d.port, "\n".join(lines))  # never dutyd's own port
        link = pattern.search(d.stderr()).group(0)
        page = nginx.get_url(link)
        self.assertEqual(page.status, 200, (link, page))
        self.assertIn("登记完成情况", page.text)
        d.stop()

    def test_metrics_and_healthz_do_not_reach_the_outside_listener(self):
        before = self.dutyd_404s()
        for target in ("/metrics", "/healthz", "/metrics?x=1", "/feeds/../metrics", "/%6detrics",
                       "/dashboard/../healthz", "/api/../metrics", "//metrics"):
            r = self.nginx.request("GET", target)
            self.assertEqual(r.status, 404, (target, r))
            self.assertNotIn(b"dutyd_", r.body, target)
            self.assertNotIn(b"ok\n", r.body[:3], target)
        self.assertEqual(self.dutyd_404s(), before, "a probe reached dutyd")
        # dutyd answers them on its own (loopback) port, where Prometheus scrapes.
        self.assertEqual(self.d.get("/healthz").status, 200)
        # Plain HTTP only redirects to https.
        r = self.nginx.request("GET", "/metrics", tls=False)
        self.assertEqual(r.status, 301, r)
        self.assertTrue(r.header("Location", "").startswith("https://"), r.headers)

    def test_bodies_over_the_limit_stop_at_nginx(self):
        link = self.d.cli_ok("link", "--occurrence", UID_FORM, "--now", harness.NOW).strip()
        u = urllib.parse.urlsplit(link)
        r = self.nginx.request("POST", u.path + "?" + u.query, body=b"note=" + b"x" * (70 * 1024),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 413, r)

    def test_forwarded_headers(self):
        recorder = Recorder()
        self.addCleanup(recorder.close)
        nginx = Nginx(os.path.join(self.d.tmp, "nginx-recorder"), recorder.port, self.cert, self.key)
        self.addCleanup(nginx.stop)
        r = nginx.request("GET", "/feeds/x.ics", headers={"X-Forwarded-For": "203.0.113.9",
                                                          "X-Forwarded-Proto": "http"})
        self.assertEqual(r.status, 200, r)
        seen = {k.lower(): v for k, v in r.json().items()}
        self.assertEqual(seen.get("x-forwarded-for"), "127.0.0.1")  # the client's, not forged
        self.assertEqual(seen.get("x-forwarded-proto"), "https")
        self.assertEqual(seen.get("host"), "127.0.0.1")


if __name__ == "__main__":
    unittest.main()
