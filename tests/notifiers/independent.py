"""Independent reference computations for dutyd_notifier_tests: signatures with Python's hmac,
and e-mail decoding with Python's email package. The C++ tests compare their output with what
notifiers/ produced, so a bug shared by the builder and its test cannot hide.

  independent.py dingtalk-sign TIMESTAMP_MS SECRET   -> base64 sign, then the URL-encoded form
  independent.py feishu-sign TIMESTAMP_S SECRET      -> base64 sign
  independent.py email FILE                          -> JSON of the decoded message
"""
import base64
import email
import email.header
import email.policy
import hashlib
import hmac
import json
import re
import sys
import urllib.parse


def dingtalk(ts, secret):
    # DingTalk's documented recipe (Python sample in its docs).
    string_to_sign = f"{ts}\n{secret}".encode()
    sign = base64.b64encode(hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()).decode()
    print(sign)
    print(urllib.parse.quote_plus(sign))


def feishu(ts, secret):
    # Feishu's documented recipe: the key is timestamp + "\n" + secret, the message is empty.
    key = f"{ts}\n{secret}".encode()
    print(base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode())


def decode_email(path):
    raw = open(path, "rb").read()
    lines = raw.split(b"\r\n")
    bare_lf = b"\n" in raw.replace(b"\r\n", b"")
    header_block = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    words = re.findall(r"=\?[^?]+\?[BbQq]\?[^?]*\?=", header_block)
    words_ok = True
    for w in words:
        if len(w) > 75:
            words_ok = False
        # Each word must decode to whole characters on its own (no split UTF-8 sequence).
        for data, charset in email.header.decode_header(w):
            try:
                data.decode(charset or "ascii")
            except UnicodeDecodeError:
                words_ok = False
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    # RFC 2047's own reading (whitespace between encoded words ignored), for names longer than
    # one encoded word, which Python's address parser shows with a space at each word break.
    raw_from = email.message_from_bytes(raw)["From"]
    from_rfc2047 = str(email.header.make_header(email.header.decode_header(raw_from)))
    frm = msg["From"].addresses[0]
    to = msg["To"].addresses[0]
    body = msg.get_content().replace("\r\n", "\n")
    out = {
        "subject": str(msg["Subject"]),
        "from_name": frm.display_name,
        "from_addr": frm.addr_spec,
        "from_rfc2047": from_rfc2047,
        "to_name": to.display_name,
        "to_addr": to.addr_spec,
        "date_utc": msg["Date"].datetime.astimezone(__import__("datetime").timezone.utc).isoformat(),
        "message_id": str(msg["Message-ID"]),
        "content_type": msg.get_content_type(),
        "charset": msg.get_content_charset(),
        "cte": msg["Content-Transfer-Encoding"],
        "body": body,
        "max_line": max(len(l) for l in lines),
        "max_header_line": max(len(l) for l in header_block.split("\r\n")),
        "bare_lf": bare_lf,
        "encoded_words": len(words),
        "words_ok": words_ok,
        "defects": [str(d) for d in msg.defects] + [str(d) for p in msg.walk() for d in p.defects],
    }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "dingtalk-sign":
        dingtalk(sys.argv[2], sys.argv[3])
    elif cmd == "feishu-sign":
        feishu(sys.argv[2], sys.argv[3])
    elif cmd == "email":
        decode_email(sys.argv[2])
    else:
        sys.exit(f"unknown command {cmd}")
