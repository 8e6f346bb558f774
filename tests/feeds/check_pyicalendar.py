#!/usr/bin/python3
"""Parse dutyd iCalendar feeds with Debian's python3-icalendar (4.0.x).

Usage: /usr/bin/python3 tests/feeds/check_pyicalendar.py [--allow-empty] FILE_OR_DIR [...]

A directory argument means every *.ics file directly inside it.
For each file:
  - Calendar.from_ical must succeed and yield a VCALENDAR
  - VERSION is 2.0, PRODID present
  - at least one VEVENT (unless --allow-empty)
  - every VEVENT has UID, DTSTAMP, SUMMARY, DTSTART that is a date (not a
    datetime), DTEND that is a date equal to DTSTART + 1 day
  - UIDs are unique within the file
  - SUMMARY contains at least one CJK ideograph
  - every component's `errors` list (if the attribute exists) is empty
Prints "PATH: problem" per problem and "N passed, M failed" at the end.
Exit status: 0 when every file passes, 1 when any fails, 2 on usage error.
"""

import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from feedfiles import collect_paths  # noqa: E402

try:
    import icalendar
except ImportError as e:  # pragma: no cover
    sys.stderr.write("cannot import icalendar (apt-get install python3-icalendar; "
                     "run with /usr/bin/python3): %s\n" % e)
    sys.exit(2)

MAX_REPORTS = 20   # per file; the rest is summarised
MAX_MSG = 200      # icalendar error messages may embed the whole input




def short(msg):
    msg = str(msg).replace("\r", "\\r").replace("\n", "\\n")
    return msg if len(msg) <= MAX_MSG else msg[:MAX_MSG] + "..."


def has_cjk(s):
    for ch in s:
        c = ord(ch)
        if (0x4E00 <= c <= 0x9FFF          # CJK Unified Ideographs
                or 0x3400 <= c <= 0x4DBF   # Extension A
                or 0xF900 <= c <= 0xFAFF   # Compatibility Ideographs
                or 0x20000 <= c <= 0x3134F  # Extensions B..G
                or c == 0x3007):           # 〇
            return True
    return False


def as_text(v):
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return str(v)


def decoded(comp, name):
    """Decoded value, or raise ValueError with a readable reason."""
    if name not in comp:
        raise KeyError(name)
    raw = comp[name]
    if raw is None:
        raise ValueError("%s could not be parsed" % name)
    if isinstance(raw, list):
        raise ValueError("%s occurs %d times" % (name, len(raw)))
    return comp.decoded(name)


def is_pure_date(v):
    return isinstance(v, datetime.date) and not isinstance(v, datetime.datetime)


def check_event(ev, idx, probs):
    """Returns the UID (or None)."""
    uid = None
    label = "VEVENT #%d" % idx
    if "UID" in ev and ev["UID"] is not None and not isinstance(ev["UID"], list):
        uid = as_text(ev["UID"])
        label = "VEVENT #%d (UID %s)" % (idx, uid)
        if not uid.strip():
            probs.append("%s: empty UID" % label)
            uid = None
    else:
        probs.append("%s: missing or invalid UID" % label)

    for name in ("DTSTAMP", "SUMMARY"):
        try:
            decoded(ev, name)
        except KeyError:
            probs.append("%s: missing %s" % (label, name))
        except Exception as e:
            probs.append("%s: bad %s: %s" % (label, name, short(e)))

    try:
        summary = as_text(decoded(ev, "SUMMARY"))
        if summary is not None and not has_cjk(summary):
            probs.append("%s: SUMMARY has no CJK character: %r" % (label, short(summary)))
    except Exception:
        pass  # already reported

    start = end = None
    try:
        start = decoded(ev, "DTSTART")
        if not is_pure_date(start):
            probs.append("%s: DTSTART is %s, not a date (use VALUE=DATE)"
                         % (label, type(start).__name__))
            start = None
    except KeyError:
        probs.append("%s: missing DTSTART" % label)
    except Exception as e:
        probs.append("%s: bad DTSTART: %s" % (label, short(e)))
    try:
        end = decoded(ev, "DTEND")
        if not is_pure_date(end):
            probs.append("%s: DTEND is %s, not a date (use VALUE=DATE)"
                         % (label, type(end).__name__))
            end = None
    except KeyError:
        probs.append("%s: missing DTEND" % label)
    except Exception as e:
        probs.append("%s: bad DTEND: %s" % (label, short(e)))
    if start is not None and end is not None and end != start + datetime.timedelta(days=1):
        probs.append("%s: DTEND %s is not DTSTART %s + 1 day"
                     % (label, end.isoformat(), start.isoformat()))
    return uid


def check_file(path, allow_empty):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return ["cannot read: %s" % e]
    try:
        cal = icalendar.Calendar.from_ical(data)
    except Exception as e:
        return ["Calendar.from_ical failed: %s: %s" % (type(e).__name__, short(e))]

    probs = []
    if getattr(cal, "name", None) != "VCALENDAR":
        probs.append("top-level component is %r, not VCALENDAR" % getattr(cal, "name", None))

    for comp in cal.walk():
        errs = getattr(comp, "errors", None)
        if errs:
            for err in errs:
                probs.append("%s: parse error: %s" % (comp.name, short(err)))

    version = as_text(cal.get("VERSION"))
    if version is None:
        probs.append("missing VERSION")
    elif version.strip() != "2.0":
        probs.append("VERSION is %r, not 2.0" % version)
    prodid = cal.get("PRODID")
    if prodid is None or not as_text(prodid).strip():
        probs.append("missing PRODID")

    events = cal.walk("VEVENT")
    if not events and not allow_empty:
        probs.append("no VEVENT (use --allow-empty if that is expected)")

    seen = {}
    for idx, ev in enumerate(events, 1):
        uid = check_event(ev, idx, probs)
        if uid is not None:
            if uid in seen:
                probs.append("duplicate UID %s (VEVENT #%d and #%d)" % (uid, seen[uid], idx))
            else:
                seen[uid] = idx

    if len(probs) > MAX_REPORTS:
        extra = len(probs) - MAX_REPORTS
        probs = probs[:MAX_REPORTS] + ["%d more problem(s) not shown" % extra]
    return probs


def main(argv):
    args = argv[1:]
    allow_empty = False
    paths = []
    for a in args:
        if a == "--allow-empty":
            allow_empty = True
        elif a in ("-h", "--help"):
            sys.stderr.write(__doc__)
            return 2
        elif a.startswith("--"):
            sys.stderr.write("unknown option %s\n" % a)
            return 2
        else:
            paths.append(a)
    if not paths:
        sys.stderr.write(__doc__)
        return 2
    passed = failed = 0
    for path, err in collect_paths(paths):
        problems = [err] if err else check_file(path, allow_empty)
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
