#!/usr/bin/python3
"""Checks the Prometheus alert rules systemd/dutyd-alerts.yml.

1. `promtool check rules` accepts the file;
2. every rule is an alert with a `for:`, a severity label (critical or warning), a Chinese
   summary and a runbook line that ends by naming its section of the administrators' guide
   (见管理员手册“告警处理 › NAME”), and the guide has a section headed NAME;
3. every metric a rule reads (dutyd_*) is specified in docs/operations.md, where the daemon's
   metrics are defined;
4. the unit tests (tests/alerts/*_test.yml) hold, for every alert, a case where it fires and
   one where it must stay silent; then `promtool test rules` runs them.

usage: check_alerts.py PROMTOOL SOURCE_DIR          (python3-yaml)
"""
import glob
import os
import re
import subprocess
import sys

import yaml

promtool, src = sys.argv[1], sys.argv[2]
rules_file = os.path.join(src, "systemd", "dutyd-alerts.yml")
tests = sorted(glob.glob(os.path.join(src, "tests", "alerts", "*_test.yml")))
failures = []


def fail(msg):
    failures.append(msg)


def run(*args):
    p = subprocess.run([promtool, *args], capture_output=True, text=True)
    if p.returncode != 0:
        fail("promtool %s failed:\n%s%s" % (" ".join(args), p.stdout, p.stderr))
    return p


run("check", "rules", rules_file)

with open(rules_file, encoding="utf-8") as f:
    rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
alerts = []
for r in rules:
    name = r.get("alert")
    if not name:
        fail("a recording rule in the alerts file: %r" % r)
        continue
    alerts.append(name)
    if not r.get("for"):
        fail("%s: no for:" % name)
    if r.get("labels", {}).get("severity") not in ("critical", "warning"):
        fail("%s: severity must be critical or warning, not %r" % (name, r.get("labels", {}).get("severity")))
    ann = r.get("annotations", {})
    if not re.search(r"[\u4e00-\u9fff]", ann.get("summary", "")):
        fail("%s: no Chinese summary" % name)
    if not ann.get("runbook", "").endswith("见管理员手册“告警处理 › %s”" % name):
        fail("%s: the runbook line must end with 见管理员手册“告警处理 › %s”" % (name, name))
if len(set(alerts)) != len(alerts):
    fail("duplicate alert names: %r" % alerts)

with open(os.path.join(src, "docs", "operations.md"), encoding="utf-8") as f:
    spec = f.read()
for r in rules:
    for metric in set(re.findall(r"\bdutyd_[a-z_]+", r.get("expr", ""))):
        if not re.search(r"^\| `%s` \|" % metric, spec, re.M):
            fail("%s reads %s, which docs/operations.md does not specify" % (r.get("alert"), metric))

# The section each runbook line names: a heading in the administrators' guide (the lead folds
# docs/admin-guide.zh.d/ into docs/admin-guide.zh.md; either is read).
guide_files = glob.glob(os.path.join(src, "docs", "admin-guide.zh.md")) + \
    glob.glob(os.path.join(src, "docs", "admin-guide.zh.d", "*.md"))
headings = set()
for g in guide_files:
    with open(g, encoding="utf-8") as f:
        headings |= {m.group(1) for m in re.finditer(r"^#+ (\S+)$", f.read(), re.M)}
for name in alerts:
    if name not in headings:
        fail("%s: the administrators' guide has no section headed %s" % (name, name))

fires, silent = set(), set()
for t in tests:
    with open(t, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    for group in doc["tests"]:
        for case in group.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else silent).add(case["alertname"])
for name in alerts:
    if name not in fires:
        fail("%s: no unit test where it fires" % name)
    if name not in silent:
        fail("%s: no unit test where it stays silent" % name)
for name in (fires | silent) - set(alerts):
    fail("the unit tests name %s, which is not a rule" % name)

for t in tests:
    run("test", "rules", t)

for f in failures:
    print("FAIL", f)
print("%d alerts, %d unit-test files: %s" % (len(alerts), len(tests), "FAILED" if failures else "ok"))
sys.exit(1 if failures else 0)
