#!/usr/bin/python3
"""`dutyd deliveries`, the outbox history, as an administrator runs it: the empty history, rows
the daemon would have written (inserted here with Python's sqlite3, as no command enqueues yet),
the filters, a completion by `dutyd complete` cancelling the queued rows, and usage, configuration
and database errors. usage: deliveries_test.py DUTYD SOURCE_DIR"""
import json
import os
import sqlite3
import tempfile

from clitest import SRC, check, finish, run
EXAMPLE = os.path.join(SRC, "config/examples/province.toml")
UID = "a6.1.analysis/dl/2026H1@dutyd"
T0 = 1782003600  # 2026-06-21T01:00:00Z, 09:00 in Asia/Shanghai


with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, "dutyd.db")

    def deliveries(*extra):
        return run("deliveries", "-c", EXAMPLE, "--database", db, *extra)

    def as_json(*extra):
        rc, out, err = deliveries("--format", "json", *extra)
        check("json exit", rc == 0, f"rc={rc} {err}")
        return [json.loads(line) for line in out.splitlines()]

    rc, out, err = deliveries()
    check("empty table", rc == 0 and out.startswith("计划时间(Asia/Shanghai)") and
          out.endswith("\n0 delivery(ies)\n"), (rc, out, err))
    rc, out, err = deliveries("--format", "json")
    check("empty json", rc == 0 and out == "", (rc, out, err))

    # Rows as the daemon writes them: step 0 sent, step 1 queued with a retry, another occurrence.
    con = sqlite3.connect(db)
    check("schema version 6", con.execute("PRAGMA user_version").fetchone()[0] == 6)
    con.executemany(
        "INSERT INTO deliveries(occurrence, step, person, channel, org, relation, send_at, status, "
        "attempts, next_attempt_at, last_error, sent_at, created_at, subject) "
        "VALUES (?, ?, ?, ?, 'dl', ?, ?, ?, ?, ?, ?, ?, ?, '')",
        [(UID, 0, "p-qian", "mail", "responsible", T0, "sent", 0, T0, "", T0 + 3, T0 - 60),
         (UID, 1, "p-ouyang", "dl-wecom", "responsible", T0 + 86400, "queued", 1, T0 + 86400 + 120,
          "HTTP 503", None, T0 - 60),
         ("a6.1.plan/dl/2026@dutyd", 0, "p-ouyang", "mail", "responsible", T0, "queued", 0, T0, "",
          None, T0 - 60)])
    con.commit()
    con.close()

    rows = as_json()
    check("three rows", len(rows) == 3, rows)
    check("json keys", rows and list(rows[0]) == [
        "id", "occurrence", "step", "person", "channel", "org", "relation", "send_at", "status",
        "attempts", "next_attempt_at", "last_error", "sent_at", "created_at", "subject", "purpose",
        "note"], rows[:1])
    check("ordered by planned time", [r["send_at"] for r in rows] == sorted(r["send_at"] for r in rows), rows)
    sent = [r for r in rows if r["status"] == "sent"]
    check("sent row", sent and sent[0]["sent_at"] == "2026-06-21T01:00:03Z" and
          sent[0]["send_at"] == "2026-06-21T01:00:00Z", sent)
    retry = [r for r in rows if r["step"] == 1]
    check("retry row", retry and retry[0]["sent_at"] is None and retry[0]["attempts"] == 1 and
          retry[0]["next_attempt_at"] == "2026-06-22T01:02:00Z" and retry[0]["last_error"] == "HTTP 503", retry)
    check("--occurrence", [r["step"] for r in as_json("--occurrence", UID)] == [0, 1])
    check("--status", [r["occurrence"] for r in as_json("--status", "queued")] ==
          ["a6.1.plan/dl/2026@dutyd", UID])
    check("--status=sent", len(as_json("--status=sent")) == 1)
    rc, out, err = deliveries("--occurrence", UID)
    check("table", rc == 0 and "2026-06-21 09:00  已发送(sent)  0  #1  mail  钱某（responsible）" in out and
          "2026-06-22 09:00  待发送(queued)  1  #2  dl-wecom  欧阳明远（responsible）" in out and
          "HTTP 503" in out and out.endswith("2 delivery(ies)\n"), out)

    # A completion cancels the occurrence's queued rows; the other occurrence's stay.
    rc, out, err = run("complete", "-c", EXAMPLE, "--database", db, "--occurrence", UID,
                       "--done-on", "2026-06-21", "--minutes", "纪要〔2026〕3号", "--now", "2026-06-21T10:00:00")
    check("complete", rc == 0 and out.startswith("recorded completion"), (rc, out, err))
    check("cancelled", [(r["step"], r["status"]) for r in as_json("--occurrence", UID)] ==
          [(0, "sent"), (1, "cancelled")])
    check("other untouched", [r["status"] for r in as_json("--occurrence", "a6.1.plan/dl/2026@dutyd")] == ["queued"])
    rc, out, err = run("audit", "verify", "-c", EXAMPLE, "--database", db)
    check("audit intact", rc == 0 and out == "audit log intact: 2 rows\n", (rc, out, err))

    # Errors.
    rc, out, err = deliveries("--status", "lost")
    check("bad status", rc == 64 and "--status 'lost' is not one of: queued, sending, sent, failed, "
          "cancelled, superseded" in err and "  deliveries -c FILE" in err, err)
    rc, out, err = deliveries("--format", "ics")
    check("bad format", rc == 64 and "--format 'ics'" in err, err)
    rc, out, err = deliveries("--bogus", "x")
    check("unknown option", rc == 64 and "unknown option" in err, err)
    rc, out, err = run("deliveries", "--database", db)
    check("needs -c", rc == 64 and "deliveries needs -c FILE" in err, err)
    rc, out, err = run("deliveries", "-c", os.path.join(tmp, "missing.toml"), "--database", db)
    check("broken config", rc == 2 and "check-config" in err, (rc, err))
    newer = os.path.join(tmp, "newer.db")
    con = sqlite3.connect(newer)
    con.execute("PRAGMA user_version = 7")  # one above this dutyd's schema
    con.close()
    before = open(newer, "rb").read()
    rc, out, err = run("deliveries", "-c", EXAMPLE, "--database", newer)
    check("newer database", rc == 2 and "newer than this dutyd understands" in err, (rc, err))
    check("newer database unchanged", open(newer, "rb").read() == before)
    rc, out, err = run("--help")
    check("usage lists deliveries", rc == 0 and "  deliveries -c FILE [--occurrence UID]" in out, out)

finish()
