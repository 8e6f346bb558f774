#!/usr/bin/env bash
# Sustained reminder deliveries per second: `dutyd run` sending a burst of N webhook reminders
# (a channel kind without rate limit) to nginx on 127.0.0.1, next to a bare libcurl loop
# (bench/curl_loop.cpp: as many threads as dutyd's sending pool, one reused handle each) posting
# as many bodies of the same mean size to the same nginx in the same run. Both rates come from
# nginx's access log ($msec of the first and the last request): requests / (last - first).
#
# The burst: a fixture of bench/gen_fixture.py (sized so that about N deliveries fall due), a
# one-step ladder replacing the default ({ at = "-1wd", notify = responsible, principal,
# in-charge, via = the webhook }), and `dutyd run --now DAY T08:59:(60-SLACK)` with a fresh
# database: every row of DAY is planned at start and falls due at 09:00 at once. DAY defaults to
# 2026-12-30, the last working day before the year-end duties. `dutyd simulate` counts N.
#
# Loopback only; never starts nginx's system service (a private nginx runs from a temp dir);
# stops what it starts.
# usage: bench/deliveries_bench.sh [BUILD_DIR]        (default build-rel; dutyd and curl_loop are built)
# env:   N=10000 (deliveries wanted; the fixture is sized to come close, the actual N is reported)
#        ROUNDS=3 (dutyd then the baseline, each round; the medians are compared)
#        BASELINE_N=N (the loop's POSTs; more gives the loop a longer measurement)
#        WORKERS=4 (the baseline's threads: dutyd's SchedulerOptions::workers)
#        NGINX_WORKERS=1  DAY=2026-12-30  SLACK=3 (s between dutyd's start and 09:00)
#        TIMEOUT=600 (s per dutyd burst)  OUT=DIR (keep the logs and per-round figures there)
#        OUTBOX=1 (also run the loop with a durable outbox's writes, curl_loop --outbox; 0: skip)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=${1:-build-rel}
N=${N:-10000}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-4}
NGINX_WORKERS=${NGINX_WORKERS:-1}
DAY=${DAY:-2026-12-30}
SLACK=${SLACK:-3}
TIMEOUT=${TIMEOUT:-600}
OUT=${OUT:-}
BASELINE_N=${BASELINE_N:-}
OUTBOX=${OUTBOX:-1}
py=/usr/bin/python3
say() { printf '%s\n' "$*" >&2; }
die() { say "deliveries_bench: $*"; exit 1; }
. bench/common.sh

((SLACK >= 1 && SLACK <= 50)) || die "SLACK must be 1..50 seconds"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $nginx_bin ]] || die "nginx not found (apt-get install --no-install-recommends nginx; bench/serve_bench.sh installs it too)"
for tool in curl "$py"; do command -v "$tool" >/dev/null || die "$tool not found"; done

# --- binaries ------------------------------------------------------------------------------------
build=$(release_build "$build" dutyd curl_loop)
dutyd=$build/daemon/dutyd
curl_loop=$build/bench/curl_loop
[[ -x $dutyd && -x $curl_loop ]] || die "dutyd or curl_loop was not built in $build"
export DUTYD_CATALOGUE=$repo/config/catalogue/obligations.toml

# --- scratch space, cleanup ----------------------------------------------------------------------
tmp=$(mktemp -d /tmp/dutyd-deliveries-bench.XXXXXX)
res=$tmp/results
mkdir -p "$res" "$tmp/nginx/tmp"
npid=  # nginx's master
dpid=  # the dutyd of the round in progress
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in $dpid $npid; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $dpid $npid; do wait "$pid" 2>/dev/null || true; done
  if ((rc != 0)); then
    for f in "$tmp"/dutyd-*.log "$tmp"/nginx/error.log; do
      [[ -s $f ]] && { say "--- tail of $f"; tail -n 15 "$f" >&2; }
    done
  fi
  if [[ -n $OUT && -d $res ]]; then
    mkdir -p "$OUT" && cp -r "$res"/. "$OUT"/ && cp "$tmp"/dutyd-*.log "$tmp"/nginx/access.log "$OUT"/ 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r nport dport < <($py -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')
meta() { printf '%s=%s\n' "$1" "$2" >>"$res/meta"; }
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }  # utime+stime of PID

# --- the receiver: nginx answering every POST under /hook/ ---------------------------------------
ndir=$tmp/nginx
cat >"$ndir/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $ndir/nginx.pid;
error_log $ndir/error.log warn;
events { worker_connections 1024; }
http {
  # \$msec: when the answer went out (ms); \$content_length: the body dutyd posted.
  log_format bench '\$msec \$status \$content_length \$uri';
  access_log $ndir/access.log bench buffer=256k flush=1s;
  client_body_temp_path $ndir/tmp/body;
  proxy_temp_path $ndir/tmp/proxy;
  fastcgi_temp_path $ndir/tmp/fastcgi;
  uwsgi_temp_path $ndir/tmp/uwsgi;
  scgi_temp_path $ndir/tmp/scgi;
  keepalive_requests 10000000;  # neither client reconnects during a run
  server {
    listen 127.0.0.1:$nport;
    location /hook/ {
      default_type application/json;
      return 200 '{"errcode":0,"errmsg":"ok"}';
    }
  }
}
EOF
"$nginx_bin" -t -q -p "$ndir" -c "$ndir/nginx.conf" -e "$ndir/error.log" >&2 || die "nginx config rejected"
"$nginx_bin" -p "$ndir" -c "$ndir/nginx.conf" -e "$ndir/error.log" </dev/null >"$ndir/stdout.log" 2>&1 &
npid=$!
for _ in $(seq 100); do
  [[ $(curl -sS -o /dev/null -w '%{http_code}' -X POST -d '{}' "http://127.0.0.1:$nport/hook/probe" 2>/dev/null) == 200 ]] && break
  sleep 0.1
done
[[ $(curl -sS -X POST -d '{}' "http://127.0.0.1:$nport/hook/probe") == '{"errcode":0,"errmsg":"ok"}' ]] ||
  die "nginx did not come up on 127.0.0.1:$nport"
nginx_pids() { echo "$npid" $(ps -o pid= --ppid "$npid"); }

# --- the fixture: sized so that about N deliveries fall due at DAY 09:00 -------------------------
config_for() {  # BASE_TOML URL DB: the fixture with the bench ladder, channel and [daemon] table
  cat "$1"
  cat <<EOF

# appended by bench/deliveries_bench.sh: one step, every recipient via the webhook, no rate limit
[[ladder]]
id = "default"
steps = [
  { at = "-1wd", notify = ["responsible", "principal", "in-charge"], via = ["bench-hook"] },
]

[[channel]]
id = "bench-hook"
kind = "webhook"
url = "$2"

[daemon]
listen = "127.0.0.1:$dport"
database = "$3"
EOF
}
base=$tmp/fixture.toml
count_due() {  # ORGS: generates the fixture; prints the deliveries dutyd simulate plans on DAY
  $py bench/gen_fixture.py --orgs "$1" --posts $(($1 * 15 / 2)) -o "$base" 2>/dev/null
  config_for "$base" "http://127.0.0.1:$nport/hook/simulate" "$tmp/simulate.db" >"$tmp/simulate.toml"
  "$dutyd" simulate -c "$tmp/simulate.toml" --from "$DAY" --to "$DAY" --format json |
    grep -c '"type":"delivery"' || true
}
orgs=$(((N + 59) / 60))
((orgs >= 20)) || orgs=20
for attempt in 1 2 3; do
  n=$(count_due "$orgs")
  ((n > 0)) || die "no deliveries planned on $DAY with $orgs organisations"
  # within 10%, or the size is not the problem
  if ((n * 10 >= N * 9 && n * 10 <= N * 11)) || ((attempt == 3)); then break; fi
  orgs=$((orgs * N / n))
  ((orgs >= 20)) || orgs=20
done
say "fixture: $orgs organisations; dutyd simulate plans $n deliveries on $DAY (N=$N wanted)"
"$dutyd" check-config -c "$tmp/simulate.toml" >/dev/null 2>&1 || die "the benchmark configuration is invalid"
deliveries=$n
baseline_n=${BASELINE_N:-$deliveries}

meta n_wanted "$N"
meta deliveries "$deliveries"
meta orgs "$orgs"
meta baseline_n "$baseline_n"
meta day "$DAY"
meta rounds "$ROUNDS"
meta workers "$WORKERS"
meta nginx_workers "$NGINX_WORKERS"
meta nproc "$(nproc)"
meta nginx_version "$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')"
meta libcurl "$(curl --version | head -n1 | grep -o 'libcurl/[^ ]*' || echo '?')"
meta loadavg_before "$(cut -d' ' -f1-3 /proc/loadavg)"

# --- one round: the dutyd burst, then the baseline -----------------------------------------------
# dutyd logs one line per batch of results: "reminders: sent N (TOTAL since start)".
sent_lines() { local n; n=$(grep -o '([0-9]* since start)' "$1" | tail -n1 | tr -dc 0-9); echo "${n:-0}"; }
# NAME ROUND URI EXPECTED: writes RESULTS/NAME.ROUND.info from the access log's lines for URI
# (requests, first and last $msec, mean body size); every request must have been answered 200.
record_span() {
  local info=$res/$1.$2.info cnt ok
  sleep 1.3  # nginx writes its log buffer at least once a second
  awk -v u="$3" '$4 == u { if (!n) f = $1; l = $1; n++; b += $3; if ($2 == 200) ok++ }
                 END { printf "requests=%d\nok=%d\nfirst=%.3f\nlast=%.3f\nbody_mean=%.1f\n", n, ok, f, l, n ? b / n : 0 }' \
    "$ndir/access.log" >"$info"
  cnt=$(sed -n 's/^requests=//p' "$info")
  ok=$(sed -n 's/^ok=//p' "$info")
  ((cnt == $4)) || die "round $2: nginx logged $cnt requests for $1, $4 expected${5:+ ($5)}"
  ((ok == cnt)) || die "round $2: nginx answered $((cnt - ok)) of $1's requests with a status other than 200"
}

run_dutyd() {  # ROUND
  local r=$1 state=$tmp/state-$1 log=$tmp/dutyd-$1.log cfg=$tmp/bench-$1.toml uri=/hook/dutyd-$1
  local now c_first c_last n0 nlog
  mkdir -p "$state"
  config_for "$base" "http://127.0.0.1:$nport$uri" "$state/dutyd.db" >"$cfg"
  now="${DAY}T08:59:$(printf '%02d' $((60 - SLACK)))"
  say "round $r/$ROUNDS: dutyd run --now $now ($deliveries deliveries due at 09:00) ..."
  n0=$(cut -d' ' -f1-3 /proc/loadavg)
  "$dutyd" run -c "$cfg" --now "$now" 2>"$log" &
  dpid=$!
  local deadline=$((SECONDS + SLACK + TIMEOUT)) quiet_until=$((SECONDS + SLACK + 15))
  c_first=
  local polls=0 nacc=0
  while :; do
    kill -0 "$dpid" 2>/dev/null || die "dutyd exited during round $r"
    nlog=$(sent_lines "$log")
    if [[ -z $c_first ]] && ((nlog > 0)); then c_first=$(ticks "$dpid"); fi
    # Should the log's wording change: what nginx has logged (its buffer is written every second).
    if ((++polls % 10 == 0)); then nacc=$(grep -c " $uri\$" "$ndir/access.log" || true); fi
    ((nlog >= deliveries || nacc >= deliveries)) && break
    grep -q -E 'failed for now|failed permanently' "$log" && die "dutyd reports failed deliveries (round $r)"
    ((SECONDS < deadline)) || die "round $r: only $nlog of $deliveries sent after ${TIMEOUT}s"
    # A first start plans from its own start on: steps due before it are never sent.
    ((nlog > 0 || nacc > 0 || SECONDS < quiet_until)) || die "round $r: nothing sent 15 s after 09:00 — did dutyd start after 09:00? raise SLACK"
    sleep 0.1
  done
  c_last=$(ticks "$dpid")
  [[ $(cat "/proc/$dpid/comm") == dutyd* ]] || die "pid $dpid is not dutyd"
  local threads rss
  threads=$(awk '$1 == "Threads:" {print $2}' "/proc/$dpid/status")
  rss=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$dpid/status")
  kill -TERM "$dpid"
  wait "$dpid" || true
  dpid=
  record_span dutyd "$r" "$uri" "$deliveries" "SLACK too small? dutyd must start before 09:00"
  {
    echo "cpu_ticks=$((c_last - ${c_first:-$c_last}))"
    echo "threads=$threads"
    echo "hwm_kb=$rss"
    echo "loadavg=$n0"
  } >>"$res/dutyd.$r.info"
  body_bytes=$(printf '%.0f' "$(sed -n 's/^body_mean=//p' "$res/dutyd.$r.info")")
}

run_baseline() {  # ROUND
  local r=$1 uri=/hook/curl-$1 line
  say "round $r/$ROUNDS: bare libcurl loop, $baseline_n POSTs of $body_bytes bytes on $WORKERS threads ..."
  line=$("$curl_loop" "http://127.0.0.1:$nport$uri" "$baseline_n" --threads "$WORKERS" --body-bytes "$body_bytes") ||
    die "the libcurl loop failed: $line"
  record_span curl "$r" "$uri" "$baseline_n"
  tr ' ' '\n' <<<"$line" | sed -n 's/^\(seconds\|rps\|cpu_seconds\)=/own_\1=/p' >>"$res/curl.$r.info"
}

# The loop again with a durable outbox's bookkeeping and nothing else (curl_loop --outbox: claim
# 1024 rows at a time and record each result, committed, in a table as wide as dutyd's): what the
# outbox the issue asks for costs by itself, next to which dutyd's own work can be judged.
run_outbox() {  # ROUND
  local r=$1 uri=/hook/outbox-$1 line
  say "round $r/$ROUNDS: libcurl loop with outbox writes, $baseline_n POSTs on $WORKERS threads ..."
  line=$("$curl_loop" "http://127.0.0.1:$nport$uri" "$baseline_n" --threads "$WORKERS" --body-bytes "$body_bytes" \
    --outbox "$tmp/outbox-$r.db") || die "the libcurl loop with outbox writes failed: $line"
  rm -f "$tmp/outbox-$r.db" "$tmp/outbox-$r.db-wal" "$tmp/outbox-$r.db-shm"
  record_span outbox "$r" "$uri" "$baseline_n"
}

for round in $(seq "$ROUNDS"); do
  run_dutyd "$round"
  run_baseline "$round"
  ((OUTBOX)) && run_outbox "$round"
done
meta loadavg_after "$(cut -d' ' -f1-3 /proc/loadavg)"
meta clk_tck "$(getconf CLK_TCK)"

$py bench/deliveries_bench_report.py "$res"
