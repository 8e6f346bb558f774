"""Test harness for `dutyd run`: starts the real daemon on loopback with a private copy of the
example configuration and database, listens on a NOTIFY_SOCKET like systemd does, and offers
helpers for the command line, tokens, HTTP and signals.

Environment: DUTYD (the binary; default: the build tree's), DUTYD_CATALOGUE (the catalogue).
Python 3 standard library only.
"""
import email.utils
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
DUTYD = os.environ.get("DUTYD") or os.path.join(SOURCE_DIR, "build", "daemon", "dutyd")
CATALOGUE = os.environ.get("DUTYD_CATALOGUE") or os.path.join(
    SOURCE_DIR, "config", "catalogue", "obligations.toml")
EXAMPLE_DIR = os.path.join(SOURCE_DIR, "config", "examples")
NOW = "2026-11-27T09:00:00"      # the daemon's clock starts here (Asia/Shanghai)
TODAY = "2026-11-27"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
HTTP_TIMEOUT = 10.0
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


def free_port():
    """A loopback TCP port nobody listens on (bind port 0, read it, release it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers      # list of (name, value)
        self.body = body            # bytes

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %d %s %r>" % (self.status, dict(self.headers), self.body[:300])


class Notifier:
    """An AF_UNIX datagram socket standing in for systemd's notification socket. Records every
    message (as received, and split into KEY=VALUE lines) with the time it arrived."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []          # (monotonic time, raw text)
        self.cond = threading.Condition()
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.cond:
                self.messages.append((time.monotonic(), data.decode("utf-8", "replace")))
                self.cond.notify_all()

    def lines(self):
        """Every KEY=VALUE line received so far, in order."""
        with self.cond:
            return [l for _, m in self.messages for l in m.split("\n") if l]

    def count(self):
        return len(self.lines())

    def wait_for(self, line, start=0, timeout=READY_TIMEOUT, alive=None):
        """Waits until `line` (exact KEY=VALUE) appears at index >= start of lines(); returns its
        index, or None after the timeout (or when alive() turns false)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                ls = [l for _, m in self.messages for l in m.split("\n") if l]
                for i in range(start, len(ls)):
                    if ls[i] == line:
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or (alive is not None and not alive()):
                    return None
                self.cond.wait(min(left, 0.2))

    def close(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


class Daemon:
    """One private dutyd installation: config copy, database, port, notify socket, process."""

    def __init__(self, extra_env=None):
        self.tmp = tempfile.mkdtemp(prefix="dutyd-it-")
        self.confdir = os.path.join(self.tmp, "config")
        shutil.copytree(EXAMPLE_DIR, self.confdir)
        self.config = os.path.join(self.confdir, "province.toml")
        with open(self.config, encoding="utf-8") as f:
            self.base_config = f.read()
        self.port = free_port()
        self.public_url = "http://127.0.0.1:%d" % self.port
        self.database = os.path.join(self.tmp, "dutyd.db")
        self.write_config(self.base_config)
        self.notify_path = os.path.join(self.tmp, "notify.sock")
        self.notifier = Notifier(self.notify_path)
        self.extra_env = dict(extra_env or {})
        self.proc = None
        self.runs = 0
        self.stderr_paths = []
        self.exit_code = None

    # --- configuration -------------------------------------------------------------------
    def daemon_table(self):
        return ('\n[daemon]\nlisten = "127.0.0.1:%d"\ndatabase = "%s"\npublic_url = "%s"\n'
                % (self.port, self.database, self.public_url))

    def write_config(self, body, extra=""):
        """Writes the MAIN config file: body + the [daemon] table + extra TOML (appended after
        [daemon], so it must start with an array-of-tables header). Replaced atomically."""
        text = body.rstrip("\n") + "\n" + self.daemon_table() + extra
        tmp = self.config + ".new"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.config)

    def read_config(self):
        with open(self.config, encoding="utf-8") as f:
            return f.read()

    def write_file(self, relpath, text):
        path = os.path.join(self.confdir, relpath)
        tmp = path + ".new"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)

    def read_file(self, relpath):
        with open(os.path.join(self.confdir, relpath), encoding="utf-8") as f:
            return f.read()

    # --- process -------------------------------------------------------------------------
    def env(self):
        env = dict(os.environ)
        env["DUTYD_CATALOGUE"] = CATALOGUE
        env["NOTIFY_SOCKET"] = self.notify_path
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_PID", None)
        env.update(self.extra_env)
        return env

    def start(self, wait_ready=True, extra_args=(), nofile=None, now=NOW):
        """Starts `dutyd run`; waits for READY=1 (20 s) and for /healthz to answer."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._close_logs()
        self.runs += 1
        err = os.path.join(self.tmp, "stderr.%d.log" % self.runs)
        self.stderr_paths.append(err)
        self._stderr = open(err, "wb")
        self._stdout = open(os.path.join(self.tmp, "stdout.%d.log" % self.runs), "wb")
        self.notify_start = self.notifier.count()
        self.exit_code = None
        self.proc = subprocess.Popen(
            [DUTYD, "run", "-c", self.config, "--now", now, *extra_args],
            stdin=subprocess.DEVNULL, stdout=self._stdout, stderr=self._stderr,
            env=self.env(), cwd=self.tmp,
            preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                   (nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1])))
            if nofile else None)
        if wait_ready:
            idx = self.notifier.wait_for("READY=1", self.notify_start, READY_TIMEOUT,
                                         alive=lambda: self.proc.poll() is None)
            if idx is None:
                rc = self.proc.poll()
                raise AssertionError(
                    "dutyd did not send READY=1 within %ds (exit code %r); notify: %r"
                    % (READY_TIMEOUT, rc, self.notifier.lines()[self.notify_start:]))
            port = None
            if "--listen" in extra_args:
                port = int(extra_args[list(extra_args).index("--listen") + 1].rsplit(":", 1)[1])
            self.wait_http(port=port)
        return self

    def wait_http(self, timeout=10.0, port=None):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                r = self.request("GET", "/healthz", timeout=2, port=port)
                if r.status == 200:
                    return
                last = r
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise AssertionError("dutyd sent READY=1 but /healthz does not answer 200: %r" % (last,))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        assert self.alive(), "dutyd is not running"
        self.proc.send_signal(sig)

    def reload(self, timeout=READY_TIMEOUT):
        """SIGHUP; waits for RELOADING=1 followed by READY=1. Returns (index of RELOADING=1,
        index of READY=1) in notifier.lines()."""
        start = self.notifier.count()
        self.send_signal(signal.SIGHUP)
        i = self.notifier.wait_for("RELOADING=1", start, timeout, alive=self.alive)
        if i is None:
            raise AssertionError("no RELOADING=1 after SIGHUP; notify: %r"
                                 % self.notifier.lines()[start:])
        j = self.notifier.wait_for("READY=1", i + 1, timeout, alive=self.alive)
        if j is None:
            raise AssertionError("no READY=1 after RELOADING=1; notify: %r"
                                 % self.notifier.lines()[start:])
        return i, j

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends sig and waits; returns (exit code, seconds taken). Kills after the timeout."""
        if not self.alive():
            return self.proc.returncode if self.proc else None, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        took = time.monotonic() - t0
        self._close_logs()
        self.exit_code = rc
        return rc, took

    def cpu_seconds(self):
        """User + system CPU time the daemon has used so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self):
        """SIGKILL, as a crash."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._close_logs()

    def _close_logs(self):
        for f in (getattr(self, "_stderr", None), getattr(self, "_stdout", None)):
            if f and not f.closed:
                f.close()

    def stderr(self, run=None):
        paths = self.stderr_paths if run is None else [self.stderr_paths[run - 1]]
        out = []
        for p in paths:
            try:
                with open(p, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    def cleanup(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self._close_logs()
        self.notifier.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- command line --------------------------------------------------------------------
    def cli(self, *args, timeout=60):
        """Runs `dutyd ARGS... -c CONFIG`; returns (exit code, stdout, stderr)."""
        argv = [DUTYD, *args, "-c", self.config]
        env = self.env()
        env.pop("NOTIFY_SOCKET", None)
        p = subprocess.run(argv, capture_output=True, timeout=timeout, env=env, cwd=self.tmp)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def cli_ok(self, *args):
        rc, out, err = self.cli(*args)
        if rc != 0:
            raise AssertionError("dutyd %s exited %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), rc, out, err))
        return out

    def feed_token(self, person=None, org=None, note=None):
        """Issues a feed token; returns the URL path /feeds/<token>.ics."""
        args = ["token", "issue"] + (["--person", person] if person else ["--org", org])
        if note:
            args += ["--note", note]
        out = self.cli_ok(*args).strip()
        lines = out.splitlines()
        assert len(lines) == 1, "token issue prints one line, got %r" % out
        url = lines[0]
        assert url.startswith(self.public_url + "/feeds/") and url.endswith(".ics"), url
        return urllib.parse.urlsplit(url).path

    def api_token(self, person=None, admin=False, note=None):
        args = ["token", "issue"] + (["--admin"] if admin else ["--person", person, "--kind", "api"])
        if note:
            args += ["--note", note]
        out = self.cli_ok(*args).strip()
        lines = out.splitlines()
        assert len(lines) == 1 and lines[0] and " " not in lines[0], \
            "token issue prints one bearer token, got %r" % out
        return lines[0]

    def tokens(self):
        out = self.cli_ok("token", "list", "--format", "json")
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def expand(self, person=None, org=None, frm="2026-01-01", to="2026-12-31"):
        args = ["expand", "--from", frm, "--to", to, "--format", "json", "--today", TODAY]
        if person:
            args += ["--person", person]
        if org:
            args += ["--org", org]
        out = self.cli_ok(*args)
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    # --- HTTP ----------------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT, port=None):
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.reason, r.getheaders(), data)
        finally:
            conn.close()

    def get(self, path, headers=None, **kw):
        return self.request("GET", path, headers=headers, **kw)

    def api(self, method, path, token=None, payload=None, raw=None, headers=None, **kw):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        body = raw
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        return self.request(method, path, body=body, headers=h, **kw)

    def raw(self, data, timeout=5.0, read_limit=1 << 20):
        """Sends raw bytes on a fresh connection; returns what came back (b"" when the server
        closed or reset without answering)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return recv_all(s, read_limit)
        finally:
            s.close()

    def metrics(self):
        r = self.get("/metrics")
        assert r.status == 200, r
        return r, parse_metrics(r.text)


def recv_all(s, limit=1 << 20):
    chunks = []
    total = 0
    while total < limit:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not b:
            break
        chunks.append(b)
        total += len(b)
        # One response is enough once its body (Content-Length) has arrived.
        data = b"".join(chunks)
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if m and len(rest) >= int(m.group(1)):
                break
    return b"".join(chunks)


def wait_until(cond, timeout, what):
    """Polls cond() every 0.1 s; raises AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def status_of(raw):
    """Status code of a raw HTTP response, or None when there is none."""
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(m.group(1)) if m else None


# --- iCalendar --------------------------------------------------------------------------
def unfold(body):
    return re.sub(r"\r\n[ \t]", "", body)


def parse_ics(text):
    """Returns (calendar properties, {uid: {NAME: value}}) of an unfolded iCalendar text."""
    cal, events, cur = {}, {}, None
    for line in unfold(text).split("\r\n"):
        if not line:
            continue
        name_part, _, value = line.partition(":")
        name = name_part.split(";", 1)[0].upper()
        if name == "BEGIN" and value == "VEVENT":
            cur = {}
        elif name == "END" and value == "VEVENT":
            events[cur.get("UID")] = cur
            cur = None
        elif cur is not None:
            cur[name] = value
        else:
            cal.setdefault(name, value)
    return cal, events


# --- Prometheus text format -------------------------------------------------------------
METRIC_LINE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})?'
    r' (-?(?:[0-9.]+(?:[eE][+-]?[0-9]+)?|NaN|\+Inf|-Inf))( -?[0-9]+)?$')


def parse_metrics(text):
    """{(name, frozenset(labels.items())): float}; raises ValueError on a malformed line."""
    out = {}
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        m = METRIC_LINE.match(line)
        if not m:
            raise ValueError("not Prometheus text format: %r" % line)
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def metric(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())))


def http_date(s):
    return email.utils.parsedate_to_datetime(s)


# --- test base class with pass/fail tally and stderr on failure --------------------------
TALLY = {"passed": 0, "failed": 0, "skipped": 0}


class DaemonTestCase(unittest.TestCase):
    """Each test gets its own daemon (self.d), started before the test and stopped (SIGTERM,
    exit code 0 within 5 s, no sanitizer report) after it. On failure the daemon's stderr is
    printed."""
    start_daemon = True
    extra_env = None
    maxDiff = 4000

    def setUp(self):
        self.d = Daemon(self.extra_env)
        self._daemons = [self.d]
        if self.start_daemon:
            self.d.start()

    def tearDown(self):
        d = self.d
        if d.alive():
            rc, took = d.stop()
            self.assertEqual(rc, 0, "dutyd exit code after SIGTERM (took %.1fs)" % took)
        for dd in self._daemons:
            err = dd.stderr()
            for marker in SANITIZER_MARKERS:
                self.assertNotIn(marker, err, "sanitizer report in dutyd's stderr")

    def run(self, result=None):
        if result is None:
            return super().run(result)
        bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
        skipped = len(result.skipped)
        t0 = time.monotonic()
        try:
            super().run(result)
        finally:
            now_bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
            if now_bad > bad:
                TALLY["failed"] += 1
                for dd in getattr(self, "_daemons", []):
                    sys.stderr.write("\n----- dutyd stderr (%s) -----\n%s\n----- notify: %r\n"
                                     % (self.id(), dd.stderr()[-20000:], dd.notifier.lines()))
            elif len(result.skipped) > skipped:
                TALLY["skipped"] += 1
            else:
                TALLY["passed"] += 1
            for dd in getattr(self, "_daemons", []):
                dd.cleanup()
            self._daemons = []
            if os.environ.get("DUTYD_IT_TIMES"):
                sys.stderr.write("[%.1fs %s]\n" % (time.monotonic() - t0, self.id()))


def print_tally():
    sys.stderr.flush()
    print("%d passed, %d failed" % (TALLY["passed"], TALLY["failed"])
          + (", %d skipped" % TALLY["skipped"] if TALLY["skipped"] else ""), flush=True)
