#!/usr/bin/python3
"""`dutyd check-config` on every file of the broken corpus: exit 2 (errors) or 0 (warnings
only), never a crash or hang; every diagnostic line is FILE:LINE:COL: error|warning: what — do.
usage: broken_configs_test.py DUTYD CORPUS_DIR"""
import pathlib
import re
import subprocess
import sys

LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning): .+ \u2014 .+$")
SUMMARY = re.compile(r"^.+: \d+ error\(s\), \d+ warning\(s\)$")


def main():
    dutyd, corpus = sys.argv[1], pathlib.Path(sys.argv[2])
    passed = failed = 0
    for path in sorted(corpus.glob("*.toml")):
        head = path.read_bytes().split(b"\n")
        wants_error = any(l.startswith(b"# expect-error:") for l in head)
        try:
            proc = subprocess.run([dutyd, "check-config", "-c", str(path)], capture_output=True, timeout=20)
        except subprocess.TimeoutExpired:
            print(f"{path.name}: hangs")
            failed += 1
            continue
        problems = []
        if proc.returncode < 0:
            problems.append(f"killed by signal {-proc.returncode}")
        expected_rc = 2 if wants_error else 0
        if proc.returncode != expected_rc:
            problems.append(f"exit {proc.returncode}, expected {expected_rc}")
        err = proc.stderr.decode("utf-8", "replace").splitlines()
        diags = [l for l in err if LINE.match(l)]
        for l in err:
            if not LINE.match(l) and not SUMMARY.match(l):
                problems.append(f"unexpected stderr line: {l!r}")
        if wants_error and not any(LINE.match(l).group("sev") == "error" for l in diags):
            problems.append("no error line")
        for l in diags:
            f = LINE.match(l).group("file")
            if not pathlib.Path(f).exists():
                problems.append(f"diagnostic names a file that does not exist: {f}")
        if problems:
            failed += 1
            for p in problems:
                print(f"{path.name}: {p}")
        else:
            passed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
