#!/usr/bin/python3
"""`dutyd simulate` on the bundled example, as an administrator would run it: the timeline's
content (times, steps, recipients, channels, @mentions, the change of hands in Dalian, the
调休 Saturday), the filters, and the usage and configuration errors.
usage: simulate_test.py DUTYD SOURCE_DIR"""
import json
import os
import tempfile

from clitest import SRC, check, finish, run
EXAMPLE = os.path.join(SRC, "config/examples/province.toml")


def simulate_json(*extra):
    rc, out, err = run("simulate", "-c", EXAMPLE, "--format", "json", *extra)
    check("json exit", rc == 0, f"rc={rc} {err}")
    return [json.loads(line) for line in out.splitlines()]


# June-July 2026: the Dalian principal changes hands on 2026-06-16; half-year duties are due 06-30.
rows = simulate_json("--from", "2026-06-01", "--to", "2026-07-10")
deliveries = [r for r in rows if r["type"] == "delivery"]
check("some deliveries", len(deliveries) > 50, len(deliveries))
check("sorted by time", [r["at"] for r in rows] == sorted(r["at"] for r in rows))
for r in deliveries:
    check("keys", set(r) >= {"at", "ladder", "step", "offset", "relation", "person", "channel",
                             "channel_kind", "occurrence", "obligation", "org", "due"}, r)
    check("in range", "2026-06-01" <= r["at"][:10] <= "2026-07-10", r["at"])
    check("local time", r["at"].endswith("+08:00"), r["at"])


def find(**kw):
    return [r for r in deliveries if all(r.get(k) == v for k, v in kw.items())]


uid = "a6.1.analysis/dl/2026H1@dutyd"
# -30d falls on Sunday 2026-05-31: deferred to the next working morning, to 钱某 (in post then,
# although 欧阳明远 owes the duty on the due date).
first = find(occurrence=uid, step=0)
check("-30d deferred", [(r["at"], r["person"], r["channel"], r["deferred"]) for r in first] ==
      [("2026-06-01T08:00:00+08:00", "p-qian", "mail", True)], first)
# -7d: 欧阳明远 by e-mail and in the Dalian WeCom group, @mentioned by his WeCom id.
week = find(occurrence=uid, step=1)
check("-7d", sorted((r["person"], r["channel"]) for r in week) ==
      [("p-ouyang", "dl-wecom"), ("p-ouyang", "mail")], week)
check("-7d address", any(r.get("address") == "ouyang.mingyuan@example.gov.cn" for r in week), week)
check("-7d mention", any(r.get("mention") == "OuYangMingYuan" for r in week), week)
check("-7d time", all(r["at"] == "2026-06-23T09:00:00+08:00" for r in week), week)
# -1wd (Monday 06-29): chat only.
day_before = find(occurrence=uid, step=2)
check("-1wd", [(r["at"][:10], r["channel"]) for r in day_before] == [("2026-06-29", "dl-wecom")], day_before)
# +5wd (07-07): the discipline organ (陶𨭉, 4-byte name) and the organisation department (施某).
late = find(occurrence=uid, step=4)
check("+5wd", sorted({(r["person"], r["relation"]) for r in late}) ==
      [("p-shi", "organization-department"), ("p-tao", "discipline-organ")], late)
check("+5wd overdue", all(r["overdue"] for r in late), late)
check("4-byte name", any(r["name"] == "陶𨭉" for r in late), late)
# Wafangdian has no robot: its chat goes to the nearest covered ancestor's (Dalian's) group.
wfd = find(org="wfd", channel_kind="wecom")
check("wfd via dl-wecom", wfd and all(r["channel"] == "dl-wecom" for r in wfd), wfd[:2])
# A discipline organ's duties use the configured "discipline" ladder.
check("ladder_for", all(r["ladder"] == "discipline" for r in deliveries if r["org"].endswith("-jw")))

# A 调休 Saturday: a duty due Monday 2026-10-12 gets its -1wd step on Saturday 10-10. The example
# has none due then, so an event (15 days) is recorded in a copy of the example.
with tempfile.TemporaryDirectory() as tmp:
    main = os.path.join(tmp, "province.toml")
    with open(EXAMPLE, encoding="utf-8") as f:
        text = f.read().replace('include = ["conf.d/*.toml"]',
                                f'include = ["{os.path.join(SRC, "config/examples/conf.d")}/*.toml"]')
    text += '\n[[event]]\nobligation = "a6.9.review"\norg = "dl"\ndate = 2026-09-27\n'
    with open(main, "w", encoding="utf-8") as f:
        f.write(text)
    rc, out, err = run("simulate", "-c", main, "--from", "2026-10-09", "--to", "2026-10-10",
                       "--format", "json", "--org", "dl")
    rows = [json.loads(l) for l in out.splitlines()]
    sat = [r for r in rows if r["type"] == "delivery" and r["occurrence"].startswith("a6.9.review/dl/")]
    check("调休 Saturday", rc == 0 and sat and all(r["at"].startswith("2026-10-10T09:00") and r["offset"] == "-1wd"
                                                  for r in sat), (rc, err, sat))

# Filters: --person keeps that recipient only; --org that organisation's occurrences only.
only = simulate_json("--from", "2026-06-01", "--to", "2026-07-10", "--person", "p-tao")
check("--person", only and all(r["person"] == "p-tao" for r in only), only[:1])
dl_only = simulate_json("--from", "2026-06-01", "--to", "2026-07-10", "--org", "dl-zf")
check("--org", dl_only and all(r["org"] == "dl-zf" for r in dl_only), dl_only[:1])

# The table: Chinese relation names, the step, the channel, and a summary saying nothing was sent.
rc, out, err = run("simulate", "-c", EXAMPLE, "--from", "2026-06-23", "--to", "2026-06-23")
check("table exit", rc == 0, err)
check("table header", out.startswith("时间(Asia/Shanghai)"), out[:80])
check("table row", "2026-06-23 09:00  #2 -7d  dl-wecom(wecom)  欧阳明远（责任人） @OuYangMingYuan  中共大连市委" in out, out[:600])
check("table summary", out.rstrip().endswith("nothing was sent"), out[-200:])

# Errors: usage (64), unknown person (1), invalid configuration (2).
rc, _, err = run("simulate", "-c", EXAMPLE, "--from", "2026-06-01")
check("needs --to", rc == 64 and "--to" in err, (rc, err))
rc, _, err = run("simulate", "-c", EXAMPLE, "--from", "2026-06-01", "--to", "2026-05-01")
check("to before from", rc == 64, (rc, err))
rc, _, err = run("simulate", "-c", EXAMPLE, "--from", "2026-06-01", "--to", "2026-06-02", "--person", "p-nobody")
check("unknown person", rc == 1 and "p-nobody" in err, (rc, err))
broken = os.path.join(SRC, "tests/config/broken/channel-literal-secret.toml")
rc, _, err = run("simulate", "-c", broken, "--from", "2026-06-01", "--to", "2026-06-02")
check("broken config", rc == 2 and "credential file" in err, (rc, err))
rc, out, _ = run("--help")
check("usage lists simulate", "simulate -c FILE --from DATE --to DATE" in out, out[:200])

finish()
