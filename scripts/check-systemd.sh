#!/usr/bin/env bash
# Usage: scripts/check-systemd.sh DUTYD_BINARY
#
# Checks the unit files in systemd/ the way CI does; works without systemd as PID 1 (a
# container or chroot). Copies dutyd.service and dutyd.socket to a temporary directory with
# ExecStart= pointing at DUTYD_BINARY (systemd-analyze verify needs the ExecStart binary to
# exist), then
#   1. systemd-analyze verify --man=no on both units: fails on a non-zero exit code AND on any
#      output on stderr (verify exits 0 for unknown keys and bad values, it only warns);
#   2. systemd-analyze security --offline=true --threshold=$THRESHOLD on the service: fails when
#      the exposure score is above the threshold (0-100 scale: 15 means 1.5).
# Prints the exposure score. Installs the Debian package systemd if systemd-analyze is missing.
set -euo pipefail

THRESHOLD=15   # exposure 1.5; the unit measures 1.1

die() { echo "check-systemd: $*" >&2; exit 1; }

[ $# -eq 1 ] || { echo "usage: $0 DUTYD_BINARY" >&2; exit 64; }
binary=$(realpath -e -- "$1" 2>/dev/null) || die "$1: no such file — build dutyd first"
if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then die "$binary is not an executable file"; fi
case "$binary" in
  *[[:space:]\"\\%]*) die "$binary: the path contains whitespace, a quote, a backslash or %; use another build directory" ;;
esac

units_src="$(cd "$(dirname "$0")/.." && pwd)/systemd"
for u in dutyd.service dutyd.socket; do
  [ -f "$units_src/$u" ] || die "$units_src/$u is missing"
done

if ! command -v systemd-analyze >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "systemd-analyze is missing; run as root to install the systemd package"
  echo "check-systemd: installing systemd (for systemd-analyze)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends systemd
  command -v systemd-analyze >/dev/null 2>&1 || die "systemd-analyze is still missing after installing systemd"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The same units, with the installed path of ExecStart replaced by the binary under test.
installed=/usr/bin/dutyd
replaced=0
while IFS= read -r line || [ -n "$line" ]; do
  if [[ $line == "ExecStart=$installed "* ]]; then
    line="ExecStart=$binary ${line#"ExecStart=$installed "}"
    replaced=$((replaced + 1))
  fi
  printf '%s\n' "$line"
done <"$units_src/dutyd.service" >"$work/dutyd.service"
[ "$replaced" -eq 1 ] || die "expected exactly one 'ExecStart=$installed ...' line in dutyd.service, found $replaced"
cp "$units_src/dutyd.socket" "$work/dutyd.socket"

cd "$work"
failed=0

echo "== systemd-analyze verify --man=no dutyd.service dutyd.socket"
rc=0
systemd-analyze verify --man=no dutyd.service dutyd.socket >verify.out 2>verify.err || rc=$?
cat verify.out
if [ -s verify.err ]; then
  # Name the repository's file, not the temporary copy (the line numbers are the same).
  sed "s|$work/|$units_src/|g; s/^/  /" verify.err
  echo "check-systemd: FAIL: systemd-analyze verify printed the warnings above" >&2
  failed=1
fi
if [ "$rc" -ne 0 ]; then
  echo "check-systemd: FAIL: systemd-analyze verify exited with $rc" >&2
  failed=1
fi
[ "$failed" -eq 0 ] && echo "verify: no warnings"

echo "== systemd-analyze security --offline=true --threshold=$THRESHOLD dutyd.service"
rc=0
systemd-analyze security --offline=true --threshold="$THRESHOLD" --no-pager dutyd.service \
  >security.out 2>security.err || rc=$?
score=$(sed -n 's/.*Overall exposure level for dutyd\.service: *//p' security.out)
if [ -n "$score" ]; then
  echo "exposure: $score (threshold $THRESHOLD, i.e. $((THRESHOLD / 10)).$((THRESHOLD % 10)))"
else
  cat security.out
fi
if [ -s security.err ]; then
  sed "s|$work/|$units_src/|g; s/^/  /" security.err
  echo "check-systemd: FAIL: systemd-analyze security printed the messages above" >&2
  failed=1
fi
if [ "$rc" -ne 0 ] || [ -z "$score" ]; then
  cat security.out   # every setting with its contribution: the ✗ lines are what is exposed
  echo "check-systemd: FAIL: exposure above the threshold $THRESHOLD (exit code $rc)" >&2
  failed=1
fi

if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "check-systemd: OK"
