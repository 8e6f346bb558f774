#!/usr/bin/env bash
# Generates the province-scale fixture (once) and runs the expansion benchmark on it.
# usage: bench/run.sh [BUILD_DIR] [gen_fixture.py options...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}; shift || true
fixture=$build/bench/province-fixture.toml
if [[ ! -f $fixture ]]; then
  /usr/bin/python3 bench/gen_fixture.py -o "$fixture" "$@"
fi
cmake --build "$build" --target expand_bench -j"$(nproc)" >/dev/null
DUTYD_CATALOGUE=$PWD/config/catalogue/obligations.toml "$build/bench/expand_bench" "$fixture"
