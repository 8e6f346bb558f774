#!/usr/bin/env bash
# The annual report at province scale: `dutyd report` for the whole tree (table, csv, json) and
# for one city's subtree, on the fixture of bench/gen_fixture.py --split (20,000 organisations,
# 150,000 posts; generated if missing) with a store that knows a completion for two of every
# three occurrences due by the as-of day (a quarter of them late) and nothing else.
# Wall time and peak RSS of each run (GNU time); the completions are written straight into a
# database the CLI created (a benchmark's shortcut: `dutyd complete` per row would take hours).
# usage: bench/report_bench.sh [BUILD_DIR]   (AS_OF=2026-11-27 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-rel}
[[ -d $build ]] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDUTYD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target dutyd -j"$(nproc)" >/dev/null
dutyd=$build/daemon/dutyd
as_of=${AS_OF:-2026-11-27}
year=${as_of:0:4}
export DUTYD_CATALOGUE=$PWD/config/catalogue/obligations.toml
fixture=$build/bench/province-split
[[ -f $fixture/province.toml ]] || /usr/bin/python3 bench/gen_fixture.py --split -o "$fixture"
tmp=$(mktemp -d /tmp/dutyd-report-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
db=$tmp/dutyd.db
cfg=$fixture/province.toml

"$dutyd" token list -c "$cfg" --database "$db" >/dev/null  # creates the schema
"$dutyd" expand -c "$cfg" --from "$year-01-01" --to "$as_of" --format json --today "$as_of" >"$tmp/due.json"
/usr/bin/python3 - "$tmp/due.json" "$db" <<'EOF'
import datetime, json, sqlite3, sys
rows = []
for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    if i % 3 == 2:
        continue
    o = json.loads(line)
    due = datetime.date.fromisoformat(o["due"])
    done = due + datetime.timedelta(days=12) if i % 4 == 0 else due - datetime.timedelta(days=3)
    done = max(done, datetime.date.fromisoformat(o["window_start"]))
    rows.append((o["uid"], done.isoformat(), int(done > due)))
    if o["min_count"] > 1:
        rows.append((o["uid"], (done - datetime.timedelta(days=1)).isoformat(), 0))
con = sqlite3.connect(sys.argv[2])
con.executemany("INSERT OR IGNORE INTO completions(uid, done_on, recorded_at, recorded_by, channel, late)"
                " VALUES (?, ?, '2026-11-27T00:00:00Z', 'bench', 'cli', ?)", rows)
con.commit()
print("completions in the store: %d" % con.execute("SELECT count(*) FROM completions").fetchone()[0])
EOF

# The first city: the first organisation of the second file under conf.d/ (gen_fixture's layout).
city=$(grep -m1 '^id = ' "$(ls "$fixture"/conf.d/*.toml | sed -n 2p)" | cut -d'"' -f2 || true)
run() {  # $1: label, rest: arguments
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$dutyd" report -c "$cfg" --database "$db" --year "$year" \
    --today "$as_of" "$@" >"$tmp/out"
  read -r secs kb <"$tmp/time"
  printf '%-28s %6.2f s  peak RSS %4d MiB  output %6d KiB\n' "$label" "$secs" $((kb / 1024)) \
    $(($(stat -c %s "$tmp/out") / 1024))
}
run "whole province, table" --format table
run "whole province, csv" --format csv
run "whole province, json" --format json
[[ -n $city ]] && run "one city ($city), json" --org "$city" --format json
/usr/bin/time -f "%e %M" -o "$tmp/time" "$dutyd" check-config -c "$cfg" >/dev/null 2>&1 || true
read -r secs kb <"$tmp/time"
printf '%-28s %6.2f s  peak RSS %4d MiB\n' "loading alone (check-config)" "$secs" $((kb / 1024))
