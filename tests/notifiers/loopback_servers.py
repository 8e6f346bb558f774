"""Loopback receivers for the sender tests: a real SMTP server (aiosmtpd, STARTTLS required,
AUTH PLAIN/LOGIN) and an HTTP server that checks WeCom, DingTalk and Feishu requests as those
services do (signature, timestamp window, body code) and answers their real error codes.

  loopback_servers.py DIR     prints "smtp PORT", "http PORT" and "ready", then serves until
                              killed; writes each accepted mail to DIR/mail-N.eml and each
                              robot request to DIR/http.jsonl

Controls: a file DIR/outage makes every answer a failure (HTTP 503, SMTP 421) while it exists;
the environment variable LOOPBACK_DELAY (seconds) slows every answer down. Each record carries
"t", the time it arrived (time.time()). WeCom key "busy" -> -1, "freq" -> 45009, "bad" -> 93000; DingTalk token "fast" ->
130101; webhook path /webhook/429 -> 429 with Retry-After: 7; SMTP recipient full@... -> 452,
nobody@... -> 550. Only 127.0.0.1.
"""
import asyncio
import base64
import hashlib
import hmac
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

OUT = sys.argv[1]
USER, PASSWORD = "dutyd", "s3cret 密码"
DING_SECRET = "SECding"
FEISHU_SECRET = "feishu-secret"
lock = threading.Lock()


DELAY = float(os.environ.get("LOOPBACK_DELAY", "0"))


def outage():
    return os.path.exists(os.path.join(OUT, "outage"))


def record(entry):
    entry["t"] = time.time()
    with lock, open(os.path.join(OUT, "http.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


class Robots(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if DELAY:
            time.sleep(DELAY)
        if outage():
            return self.answer(503, {"error": "outage"})
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self.answer(200, {"errcode": 40008, "errmsg": "invalid json"})
        record({"path": url.path, "query": query, "body": body, "bytes": len(raw),
                "content_type": self.headers.get("Content-Type")})
        if url.path == "/wecom/send":
            key = query.get("key", [""])[0]
            codes = {"busy": (-1, "system busy"), "freq": (45009, "api freq out of limit"),
                     "bad": (93000, "invalid webhook url")}
            code, msg = codes.get(key, (0, "ok"))
            if code == 0 and len(body.get("text", body.get("markdown", {})).get("content", "").encode()) > 2048 and body["msgtype"] == "text":
                code, msg = 40058, "content exceed max length"
            return self.answer(200, {"errcode": code, "errmsg": msg})
        if url.path == "/dingtalk/send":
            if query.get("access_token", [""])[0] == "fast":
                return self.answer(200, {"errcode": 130101, "errmsg": "send too fast"})
            ts = query.get("timestamp", [""])[0]
            sign = query.get("sign", [""])[0]  # parse_qs decodes once, like the service
            expected = base64.b64encode(hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(),
                                                 hashlib.sha256).digest()).decode()
            if not ts.isdigit() or abs(int(ts) - time.time() * 1000) > 3600_000 or sign != expected:
                return self.answer(200, {"errcode": 310000, "errmsg": "sign not match"})
            return self.answer(200, {"errcode": 0, "errmsg": "ok"})
        if url.path.startswith("/feishu/hook/"):
            ts = body.get("timestamp", "")
            key = f"{ts}\n{FEISHU_SECRET}".encode()
            expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            if not isinstance(ts, str) or not ts.isdigit() or abs(int(ts) - time.time()) > 3600 \
                    or body.get("sign") != expected:
                return self.answer(200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"})
            return self.answer(200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"})
        if url.path == "/webhook/429":
            return self.answer(429, {}, [("Retry-After", "7")])
        return self.answer(200, {})


class Mailbox:
    count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if outage():
            return "421 4.3.2 service not available"
        if address.startswith("full@"):
            return "452 4.2.2 mailbox full"
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if DELAY:
            await asyncio.sleep(DELAY)
        with lock:
            Mailbox.count += 1
            path = os.path.join(OUT, f"mail-{Mailbox.count}.eml")
        with open(path, "wb") as f:
            f.write(json.dumps({"t": time.time(), "from": envelope.mail_from, "to": envelope.rcpt_tos,
                                "tls": session.ssl is not None,
                                "auth": session.authenticated}).encode() + b"\n")
            f.write(envelope.original_content)
        return "250 Message accepted"


def authenticator(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == PASSWORD.encode()
    # handled=False: aiosmtpd itself answers 535 on failure (its default handled=True answers nothing).
    return AuthResult(success=ok, handled=False, auth_data=data)


def main():
    cert, key = os.path.join(OUT, "cert.pem"), os.path.join(OUT, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=0, tls_context=ctx,
                      require_starttls=True, auth_required=True, authenticator=authenticator)
    # aiosmtpd 1.4 has no port 0 support in Controller: find a free port first.
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    smtp.port = s.getsockname()[1]
    s.close()
    smtp.start()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Robots)
    httpd.handle_error = lambda request, address: None  # a client that went away (a killed daemon)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(f"smtp {smtp.port}\nhttp {httpd.server_address[1]}\nready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        smtp.stop()


if __name__ == "__main__":
    main()
