#!/usr/bin/python3
"""The dutyd command line as an administrator uses it: catalogue, check-config, expand and feed
on the bundled example, and clear usage errors. usage: cli_test.py DUTYD SOURCE_DIR"""
import json
import os
import re
import subprocess
import tempfile
import tomllib

from clitest import DUTYD, SRC, check, finish, run
EXAMPLE = os.path.join(SRC, "config/examples/province.toml")


# catalogue --format json: one object per line with the required fields.
rc, out, err = run("catalogue", "--format", "json")
check("catalogue rc", rc == 0, err)
entries = [json.loads(l) for l in out.splitlines()]
check("catalogue size", len(entries) >= 60, len(entries))
for e in entries:
    check("catalogue fields " + e.get("id", "?"),
          all(k in e for k in ("id", "article", "item", "actor", "quote")) and e["quote"], e)
check("catalogue ids unique", len({e["id"] for e in entries}) == len(entries))
rc, out, err = run("catalogue")
check("catalogue table", rc == 0 and "第六条第（十六）项" in out, out[:200])
rc, out, err = run("catalogue", "--format", "xml")
check("bad format is a usage error", rc == 64 and "--format" in err, err)

# --version: CMake's project version and the catalogue's revision and path (the one in use).
with open(os.path.join(SRC, "CMakeLists.txt"), encoding="utf-8") as f:
    project_version = re.search(r"project\(dutyd VERSION (\S+)", f.read()).group(1)
catalogue_path = os.environ["DUTYD_CATALOGUE"]
with open(catalogue_path, "rb") as f:
    catalogue_version = tomllib.load(f)["version"]
for form in ("--version", "version"):
    rc, out, err = run(form)
    check(form, rc == 0 and out == "dutyd %s\ncatalogue %s (%s)\n" % (project_version, catalogue_version,
                                                                      catalogue_path), (rc, out, err))
p = subprocess.run([DUTYD, "--version"], capture_output=True, text=True,
                   env=dict(os.environ, DUTYD_CATALOGUE="/nonexistent/obligations.toml"))
check("--version without a catalogue", p.returncode == 1 and p.stdout.startswith("dutyd ") and
      "/nonexistent/obligations.toml" in p.stderr and "DUTYD_CATALOGUE" in p.stderr, (p.returncode, p.stdout, p.stderr))
# A catalogue whose version is not a string is refused with where and what.
with tempfile.TemporaryDirectory() as tmp:
    with open(catalogue_path, encoding="utf-8") as f:
        text = f.read()
    bad = os.path.join(tmp, "obligations.toml")
    with open(bad, "w", encoding="utf-8") as f:
        f.write(text.replace('version = "%s"' % catalogue_version, "version = 3", 1))
    rc, out, err = run("check-config", "-c", EXAMPLE, "--catalogue", bad)
    check("catalogue version not a string", rc == 2 and bad + ":" in err and "version must be a string" in err, err)

# check-config on the example.
rc, out, err = run("check-config", "-c", EXAMPLE)
check("example valid", rc == 0 and "ok:" in out, out + err)
rc, out, err = run("check-config")
check("check-config without -c", rc == 64 and "-c FILE" in err, err)
rc, out, err = run("check-config", "-c", "/nonexistent.toml")
check("missing config", rc == 2 and "/nonexistent.toml:1:1: error: cannot open" in err, err)

# expand json: required fields, the post that changes hands in Dalian, stable uids.
rc, out, err = run("expand", "-c", EXAMPLE, "--from", "2026-01-01", "--to", "2026-12-31", "--format", "json")
check("expand rc", rc == 0, err)
occ = [json.loads(l) for l in out.splitlines()]
for o in occ:
    check("expand fields", all(k in o for k in ("uid", "obligation", "article", "item", "org", "person",
                                                "window_start", "due", "title")), o)
check("expand uids unique", len({o["uid"] for o in occ}) == len(occ))
h1 = [o for o in occ if o["uid"] == "a6.1.analysis/dl/2026H1@dutyd"]
check("handover H1", len(h1) == 1 and h1[0]["predecessors"] and h1[0]["person"] != h1[0]["predecessors"][0], h1)
jan = [o for o in occ if o["uid"] == "a6.16.report-jan/dl/2026@dutyd"]
check("handover Jan report by predecessor", len(jan) == 1 and h1 and jan[0]["person"] == h1[0]["predecessors"][0], jan)
check("event in example", any(o["obligation"] == "a6.9.review" for o in occ))
# Same uids when run again.
rc2, out2, _ = run("expand", "-c", EXAMPLE, "--from", "2026-01-01", "--to", "2026-12-31", "--format", "json")
check("expand deterministic", out == out2)

rc, out, err = run("expand", "-c", EXAMPLE, "--person", "nobody")
check("unknown person", rc == 1 and "unknown person 'nobody'" in err, err)
rc, out, err = run("expand", "-c", EXAMPLE, "--from", "2026-02-30")
check("bad date", rc == 64 and "YYYY-MM-DD" in err, err)
rc, out, err = run("expand", "-c", EXAMPLE, "--today", "2026-11-27")
check("expand table default window", rc == 0 and "2026-12-31" in out and "2027-03-31" not in out.split("\n")[-2], out[-300:])
rc, out, err = run("frobnicate")
check("unknown command", rc == 64 and "usage:" in err, err)

# feed to a file and --all into a folder.
with tempfile.TemporaryDirectory() as tmp:
    target = os.path.join(tmp, "dl.ics")
    rc, out, err = run("feed", "-c", EXAMPLE, "--org", "dl", "-o", target)
    data = open(target, "rb").read() if os.path.exists(target) else b""
    check("feed -o", rc == 0 and data.startswith(b"BEGIN:VCALENDAR\r\n") and b"UID:a6.16.report-jan/dl/" in data, err)
    rc, out, err = run("feed", "-c", EXAMPLE, "--all", "--out-dir", os.path.join(tmp, "all"))
    files = os.listdir(os.path.join(tmp, "all")) if rc == 0 else []
    check("feed --all", rc == 0 and "person-p-wang.ics" in files and "org-ln.ics" in files and
          not any(f.endswith(".tmp") for f in files), (rc, err, files))
    rc, out, err = run("feed", "-c", EXAMPLE)
    check("feed needs a subject", rc == 64 and "--person" in err, err)

# A broken config stops expand with exit 2 and FILE:LINE:COL errors.
with tempfile.TemporaryDirectory() as tmp:
    bad = os.path.join(tmp, "bad.toml")
    open(bad, "w").write('[[post]]\nperson = "x"\norg = "y"\nrole = "principal"\nfrom = 2025-01-01\n')
    rc, out, err = run("expand", "-c", bad)
    check("expand broken config", rc == 2 and f"{bad}:2:10: error: unknown person 'x'" in err, err)

finish()
