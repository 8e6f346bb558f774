"""What the command-line tests share: the dutyd binary and source folder from argv, running
dutyd, collecting failed checks, and the exit status. usage in a test: from clitest import ..."""
import subprocess
import sys

DUTYD, SRC = sys.argv[1], sys.argv[2]
failures = []
passed = 0


def run(*args, timeout=60):
    p = subprocess.run([DUTYD, *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def check(name, condition, detail=""):
    global passed
    if condition:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


def finish():
    for f in failures:
        print("FAIL", f)
    print(f"{passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)
