#!/usr/bin/env bash
# The daemon at province scale: start to READY (first start with an empty database, then a
# restart with the same configuration), RSS, a reload after changing one post, idle CPU.
# The province is laid out as an administrator would keep it (LAYOUT=split, the default): a
# main file and one file per county or city under conf.d/ (bench/gen_fixture.py --split);
# LAYOUT=single uses the one 25 MB file of bench/run.sh. Both are generated if missing.
# Loopback only; stops what it starts.
# usage: [LAYOUT=split|single] bench/daemon_bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-rel}
[[ -d $build ]] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDUTYD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target dutyd -j"$(nproc)" >/dev/null
layout=${LAYOUT:-split}
mkdir -p "$build/bench"
export DUTYD_CATALOGUE=$PWD/config/catalogue/obligations.toml
tmp=$(mktemp -d /tmp/dutyd-daemon-bench.XXXXXX)
case $layout in
  split)
    fixture=$build/bench/province-split
    [[ -f $fixture/province.toml ]] || /usr/bin/python3 bench/gen_fixture.py --split -o "$fixture"
    cp -r "$fixture/." "$tmp/"
    # The post to change: in the last county's file.
    edited=$(ls "$tmp"/conf.d/*.toml | tail -n 1) ;;
  single)
    fixture=$build/bench/province-fixture.toml
    [[ -f $fixture ]] || /usr/bin/python3 bench/gen_fixture.py -o "$fixture"
    cp "$fixture" "$tmp/province.toml"
    edited=$tmp/province.toml ;;
  *) echo "LAYOUT must be split or single" >&2; exit 64 ;;
esac
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '\n[daemon]\nlisten = "127.0.0.1:%s"\ndatabase = "%s/dutyd.db"\n' "$port" "$tmp" >>"$tmp/province.toml"

start() {  # $1: label; sets pid, prints seconds to READY (a notify socket would need PID 1 tools)
  local t0 t1
  t0=$(date +%s.%N)
  "$build/daemon/dutyd" run -c "$tmp/province.toml" 2>>"$tmp/log" &
  pid=$!
  until curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; do
    kill -0 "$pid" 2>/dev/null || { echo "dutyd died:"; cat "$tmp/log"; exit 1; }
    sleep 0.05
  done
  t1=$(date +%s.%N)
  printf '%-34s %6.2f s   RSS %s MiB (peak %s MiB)\n' "$1" "$(echo "$t1 - $t0" | bc)" \
    $(($(awk '/VmRSS/{print $2}' /proc/$pid/status) / 1024)) $(($(awk '/VmHWM/{print $2}' /proc/$pid/status) / 1024))
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=; }

echo "dutyd daemon at province scale ($(cat "$tmp"/province.toml "$tmp"/conf.d/*.toml 2>/dev/null | grep -c '^\[\[post\]\]') posts, $(cat "$tmp"/province.toml "$tmp"/conf.d/*.toml 2>/dev/null | grep -c '^\[\[org\]\]') orgs, layout $layout: $(ls "$tmp"/province.toml "$tmp"/conf.d/*.toml 2>/dev/null | wc -l) files; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg))"
start "first start (empty database)"
stop
start "restart, same configuration"
# Reload after changing one post: end the first post that has an end one day earlier (a
# one-day vacancy: valid, with a warning).
/usr/bin/python3 - "$edited" <<'PY'
import datetime, re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
m = re.search(r"^until = (\d{4}-\d{2}-\d{2})$", text, re.M)
earlier = datetime.date.fromisoformat(m.group(1)) - datetime.timedelta(days=1)
open(path, "w", encoding="utf-8").write(text[:m.start(1)] + earlier.isoformat() + text[m.end(1):])
PY
lines=$(wc -l <"$tmp/log")
t0=$(date +%s.%N)
kill -HUP "$pid"
until tail -n +$((lines + 1)) "$tmp/log" | grep -q -E "reloaded:|reload failed"; do sleep 0.05; done
t1=$(date +%s.%N)
printf '%-34s %6.2f s   RSS %s MiB   (%s)\n' "reload after changing one post" "$(echo "$t1 - $t0" | bc)" \
  $(($(awk '/VmRSS/{print $2}' /proc/$pid/status) / 1024)) "$(tail -n +$((lines + 1)) "$tmp/log" | grep -E 'reloaded:|reload failed' | sed 's/^<[0-9]>//')"
ticks0=$(awk '{print $14 + $15}' /proc/$pid/stat)
sleep 10
ticks1=$(awk '{print $14 + $15}' /proc/$pid/stat)
echo "idle CPU over 10 s: $((ticks1 - ticks0)) ticks (1 tick = 10 ms)"
stop
echo "targets: READY < 5 s, reload < 1 s, RSS < 500 MB, idle CPU ~0 %"
