#!/usr/bin/python3
"""Byte-level checks for iCalendar feeds produced by dutyd (stdlib only).

Usage: /usr/bin/python3 tests/feeds/check_bytes.py FILE_OR_DIR [...]

A directory argument means every *.ics file directly inside it.
For each file checks:
  - no UTF-8 BOM, starts with "BEGIN:VCALENDAR\\r\\n"
  - every line ends with CRLF; no bare LF or bare CR
  - every physical line is <= 75 octets (CRLF excluded)
  - the file is valid UTF-8 and every physical line decodes on its own
    (so no fold splits a UTF-8 sequence)
  - ends with "END:VCALENDAR\\r\\n"
  - no "/freeassociation.sourceforge.net" (libical's built-in zone prefix)
  - a VTIMEZONE exists for every TZID= parameter used
Prints "PATH: problem" per problem and "N passed, M failed" at the end.
Exit status: 0 when every file passes, 1 when any fails, 2 on usage error.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from feedfiles import collect_paths  # noqa: E402

MAX_OCTETS = 75
MAX_REPORTS_PER_KIND = 5  # per file, per kind of problem; the rest is summarised
LIBICAL_PREFIX = b"/freeassociation.sourceforge.net"




class Problems:
    def __init__(self):
        self.items = []
        self.counts = {}

    def add(self, kind, msg):
        n = self.counts.get(kind, 0) + 1
        self.counts[kind] = n
        if n <= MAX_REPORTS_PER_KIND:
            self.items.append(msg)

    def finish(self):
        for kind, n in self.counts.items():
            if n > MAX_REPORTS_PER_KIND:
                self.items.append("%s: %d more occurrence(s) not shown"
                                  % (kind, n - MAX_REPORTS_PER_KIND))
        return self.items


def split_params(head):
    """Split 'NAME;P1=a;P2="b;c"' into (NAME, [(P1, [a]), (P2, [b;c])]).

    Parameter values may be quoted and may be comma-separated lists.
    """
    parts = []
    cur = []
    in_q = False
    for ch in head:
        if ch == '"':
            in_q = not in_q
            cur.append(ch)
        elif ch == ';' and not in_q:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    name = parts[0]
    params = []
    for p in parts[1:]:
        if "=" not in p:
            params.append((p.upper(), []))
            continue
        pname, pval = p.split("=", 1)
        vals = []
        cur = []
        in_q = False
        for ch in pval:
            if ch == '"':
                in_q = not in_q
            elif ch == ',' and not in_q:
                vals.append("".join(cur))
                cur = []
            else:
                cur.append(ch)
        vals.append("".join(cur))
        params.append((pname.upper(), vals))
    return name, params


def split_content_line(line):
    """Split an unfolded content line at the first ':' outside quotes."""
    in_q = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_q = not in_q
        elif ch == ':' and not in_q:
            return line[:i], line[i + 1:]
    return line, None


def check_tzids(text, probs):
    """text: decoded file content. Every TZID= parameter needs a VTIMEZONE."""
    # Unfold: CRLF followed by one space or tab (tolerate bare LF so that
    # this check still reports something useful on otherwise broken files).
    unfolded = text.replace("\r\n", "\n").replace("\r", "\n")
    unfolded = unfolded.replace("\n ", "").replace("\n\t", "")
    used = {}       # tzid -> first line number (logical line index)
    defined = set()
    stack = []
    for lineno, line in enumerate(unfolded.split("\n"), 1):
        if not line:
            continue
        head, value = split_content_line(line)
        if value is None:
            continue
        name, params = split_params(head)
        uname = name.upper()
        if uname == "BEGIN":
            stack.append(value.strip().upper())
            continue
        if uname == "END":
            if stack:
                stack.pop()
            continue
        if uname == "TZID" and stack and stack[-1] == "VTIMEZONE":
            defined.add(value)
        for pname, vals in params:
            if pname == "TZID":
                for v in vals:
                    used.setdefault(v, lineno)
    for tzid, lineno in sorted(used.items(), key=lambda kv: kv[1]):
        if tzid not in defined:
            probs.add("tzid", "TZID=%s used (logical line %d) but no VTIMEZONE with TZID:%s"
                      % (tzid, lineno, tzid))


def check_file(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return ["cannot read: %s" % e]
    probs = Problems()
    if not data:
        return ["file is empty"]

    if data.startswith(b"\xef\xbb\xbf"):
        probs.add("bom", "starts with a UTF-8 BOM")
    if not data.startswith(b"BEGIN:VCALENDAR\r\n"):
        probs.add("start", "does not start with 'BEGIN:VCALENDAR\\r\\n' (first bytes: %r)"
                  % data[:20])
    if not data.endswith(b"END:VCALENDAR\r\n"):
        probs.add("end", "does not end with 'END:VCALENDAR\\r\\n' (last bytes: %r)"
                  % data[-20:])

    # Line structure: every terminator must be CRLF.
    lineno = 1
    for m in re.finditer(rb"\r\n|\n|\r", data):
        if m.group() == b"\n":
            probs.add("lf", "line %d: bare LF (line ending is not CRLF)" % lineno)
        elif m.group() == b"\r":
            probs.add("cr", "line %d: bare CR" % lineno)
        lineno += 1
    if not data.endswith((b"\r\n", b"\n", b"\r")):
        probs.add("eof", "last line is not terminated by CRLF")

    # For the length/UTF-8 checks use physical lines split on any line break
    # so that an LF-only file still yields sensible per-line diagnostics.
    physical = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if physical and physical[-1] == b"":
        physical = physical[:-1]
    for i, line in enumerate(physical, 1):
        if len(line) > MAX_OCTETS:
            probs.add("long", "line %d: %d octets (> %d, excluding CRLF)"
                      % (i, len(line), MAX_OCTETS))

    # UTF-8: the whole file must decode, and so must every physical line on
    # its own (a fold inside a multi-byte sequence breaks both; if the file
    # decodes once unfolded, the fold is the culprit).
    unfolded_bytes = re.sub(rb"\r?\n[ \t]", b"", data)
    try:
        unfolded_bytes.decode("utf-8")
        unfolded_ok = True
    except UnicodeDecodeError:
        unfolded_ok = False
    text = None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        if not unfolded_ok:
            probs.add("utf8", "invalid UTF-8 at byte offset %d: %s" % (e.start, e.reason))
    for i, line in enumerate(physical, 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as e:
            if unfolded_ok:
                probs.add("fold", "line %d: fold splits a UTF-8 sequence "
                          "(line does not decode on its own at octet %d)" % (i, e.start))
            else:
                probs.add("lineutf8", "line %d: invalid UTF-8 at octet %d" % (i, e.start))

    # libical's built-in zone id, in raw bytes or across a fold.
    if LIBICAL_PREFIX in data or LIBICAL_PREFIX in unfolded_bytes:
        probs.add("libical", "contains '/freeassociation.sourceforge.net' "
                  "(libical built-in timezone id)")

    check_tzids(text if text is not None else data.decode("utf-8", "replace"), probs)
    return probs.finish()


def main(argv):
    args = [a for a in argv[1:]]
    if not args or any(a in ("-h", "--help") for a in args):
        sys.stderr.write(__doc__)
        return 2
    passed = failed = 0
    for path, err in collect_paths(args):
        problems = [err] if err else check_file(path)
        if problems:
            failed += 1
            for p in problems:
                print("%s: %s" % (path, p))
        else:
            passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
