#!/usr/bin/env bash
# dutyd set-up for a fresh Debian 12 machine, run as root from the checkout.
#
#   bash scripts/setup.sh example   install what is missing, build, run dutyd on the bundled example
#   bash scripts/setup.sh test      install what is missing, build (warnings as errors), run every
#                                   test, then again in an ASan+UBSan build
#
# Only Debian packages and the npm registry are used. Packages already present are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in example|test) ;; *) echo "usage: bash scripts/setup.sh example|test" >&2; exit 64 ;; esac

build_pkgs=(g++ make cmake pkg-config libical-dev libtomlplusplus-dev nlohmann-json3-dev libssl-dev zlib1g-dev
            libsqlitecpp-dev libboost-dev libcurl4-openssl-dev libsystemd-dev libgtest-dev libjemalloc-dev tzdata)
# The dashboard's test drives Debian's chromium headless through chromedriver (python3-selenium);
# a CJK font makes its screenshots readable. nginx runs in front of dutyd in daemon.proxy;
# prometheus brings promtool for alerts.promtool (python3-yaml reads the rules there). The
# Debian package is built with debhelper and po-debconf and tested in a debootstrap root with
# lintian (scripts/test-package.sh).
test_pkgs=(clang-format python3 python3-icalendar python3-aiosmtpd openssl ca-certificates
           chromium chromium-driver python3-selenium fonts-wqy-zenhei nginx prometheus python3-yaml
           debhelper po-debconf debootstrap lintian)

missing=()
for p in "${build_pkgs[@]}" ${mode:+$( [[ $mode == test ]] && echo "${test_pkgs[@]}")}; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# ical.js runs on node; a machine that already has node and npm (e.g. from NodeSource) keeps them.
if [[ $mode == test ]]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)

if [[ $mode == example ]]; then
  cmake -S . -B build-example -DCMAKE_BUILD_TYPE=Release -DDUTYD_BUILD_TESTS=OFF \
    -DDUTYD_BUILD_BENCH=OFF >/dev/null
  cmake --build build-example -j"$jobs"
  dutyd=build-example/daemon/dutyd
  export DUTYD_CATALOGUE=$PWD/config/catalogue/obligations.toml
  config=config/examples/province.toml
  state=out/example
  mkdir -p "$state"
  db=$state/dutyd.db
  $dutyd check-config -c $config
  echo "== obligations due in the coming three months (example config)"
  $dutyd expand -c $config
  $dutyd feed -c $config --all --out-dir out/feeds >/dev/null
  # Feed URLs are shown only once when issued, so the first run keeps them in a file.
  if [[ ! -s $state/feed-urls.txt ]]; then
    $dutyd token issue -c $config --database "$db" --all >"$state/feed-urls.txt.new" 2>/dev/null
    mv "$state/feed-urls.txt.new" "$state/feed-urls.txt"
  fi
  echo "== each example official's calendar subscription (also in $state/feed-urls.txt):"
  cat "$state/feed-urls.txt"
  echo "== starting dutyd on http://127.0.0.1:8088 (database $db); Ctrl-C stops it"
  exec $dutyd run -c $config --database "$db"
fi

# test
# chromedriver reaches the browser it starts by the name "localhost". Every installed Debian has
# it in /etc/hosts; a bare debootstrap root or a minimal container may not, and then the
# dashboard's browser test cannot start. Only then the two standard lines are added.
if ! getent hosts localhost >/dev/null; then
  echo "== 'localhost' does not resolve: adding it to /etc/hosts (127.0.0.1 and ::1)"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >>/etc/hosts
fi
(cd tests/feeds && npm ci --no-audit --no-fund --loglevel=error)
echo "== code format"
bash scripts/check-format.sh
echo "== module layers"
bash scripts/check-layers.sh
echo "== build with warnings as errors"
cmake -S . -B build-ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUTYD_WERROR=ON >/dev/null
cmake --build build-ci -j"$jobs"
ctest --test-dir build-ci --output-on-failure -j"$jobs"
echo "== systemd units"
bash scripts/check-systemd.sh build-ci/daemon/dutyd
echo "== ASan+UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDUTYD_WERROR=ON -DDUTYD_SANITIZE=ON \
  -DDUTYD_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"
# The package: built from the tree, installed on a fresh Debian 12 root, lintian, purge
# (docs/operations.md). About ten minutes on two cores, most of it compiling and debootstrap.
echo "== Debian package"
bash scripts/test-package.sh

