#!/usr/bin/env bash
# Serving benchmark: dutyd's person feed (200 and 304) against nginx serving the same bytes as a
# static file, with wrk, all on 127.0.0.1. Installs wrk and nginx (Debian packages) when missing;
# never starts nginx's system service: a private nginx runs from a temp dir and is stopped on exit.
# usage: bench/serve_bench.sh [BUILD_DIR]            (default build-rel; the dutyd target is built)
# env:   DURATION=10 (s per wrk run)  CONNECTIONS=64  THREADS=2  IDLE=10 (s of idle CPU sampling)
#        ROUNDS=1 (each round runs every target once; the median round by req/s is reported)
#        TARGET_EVENTS=50 (feed size to look for)  OUT=DIR (keep the raw wrk outputs there)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=${1:-build-rel}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
IDLE=${IDLE:-10}
ROUNDS=${ROUNDS:-1}
TARGET_EVENTS=${TARGET_EVENTS:-50}
OUT=${OUT:-}
py=/usr/bin/python3
say() { printf '%s\n' "$*" >&2; }
die() { say "serve_bench: $*"; exit 1; }
. bench/common.sh

# --- tools -------------------------------------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
if ((${#need[@]})); then
  [[ $(id -u) == 0 ]] || die "needs ${need[*]}: run as root or install them (apt-get install ${need[*]})"
  say "installing ${need[*]} ..."
  # Keep the package's postinst from starting nginx's system service (policy-rc.d 101 = "don't").
  policy_created=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    policy_created=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  install_rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >&2 || install_rc=$?
  [[ -n $policy_created ]] && rm -f /usr/sbin/policy-rc.d
  ((install_rc == 0)) || die "apt-get install ${need[*]} failed"
  # The postinst enables nginx.service (it was not started); undo that. systemctl disable also
  # works without a running systemd (it edits the unit symlinks).
  if [[ " ${need[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null; then
    systemctl disable nginx.service >/dev/null 2>&1 || true
  fi
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
for tool in curl "$py"; do command -v "$tool" >/dev/null || die "$tool not found"; done

# --- dutyd binary --------------------------------------------------------------------------------
dutyd=$(release_build "$build" dutyd)/daemon/dutyd
[[ -x $dutyd ]] || die "$dutyd was not built"
export DUTYD_CATALOGUE=$repo/config/catalogue/obligations.toml

# --- scratch space, cleanup ----------------------------------------------------------------------
tmp=$(mktemp -d /tmp/dutyd-serve-bench.XXXXXX)
chmod 711 "$tmp"  # nginx workers (user nobody when started as root) must reach www/
res=$tmp/results
mkdir -p "$res" "$tmp/state" "$tmp/config" "$tmp/www"
started=()  # pids of the servers this script started
wrk_pid=    # the wrk run in progress
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  if [[ -n $wrk_pid ]]; then kill -TERM "$wrk_pid" 2>/dev/null || true; wait "$wrk_pid" 2>/dev/null || true; fi
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((rc != 0)); then
    for f in "$tmp"/dutyd.log "$tmp"/nginx-*/error.log; do
      [[ -s $f ]] && { say "--- tail of $f"; tail -n 20 "$f" >&2; }
    done
  fi
  if [[ -n $OUT && -d $res ]]; then mkdir -p "$OUT" && cp -r "$res"/. "$OUT"/; fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Three free loopback ports, held open together so they differ.
read -r dport nport1 nportauto < <($py -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')

wait_http() {  # URL: wait until it answers, up to 30 s
  for _ in $(seq 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
cpu_ticks() {  # PID...: utime+stime of the processes, in clock ticks
  local p sum=0 t
  for p in "$@"; do
    t=$(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}') || continue
    sum=$((sum + t))
  done
  echo "$sum"
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }  # PID FIELD
meta() { printf '%s=%s\n' "$1" "$2" >>"$res/meta"; }

# --- dutyd on a copy of the example configuration ------------------------------------------------
cfg=$tmp/config/province.toml
cp config/examples/province.toml "$cfg"
cp -r config/examples/conf.d "$tmp/config/"  # include = ["conf.d/*.toml"] is relative to the file
cat >>"$cfg" <<EOF

# appended by bench/serve_bench.sh (after every top-level key, so TOML keeps them top-level)
[daemon]
listen = "127.0.0.1:$dport"
public_url = "http://127.0.0.1:$dport"
database = "$tmp/state/dutyd.db"
EOF
"$dutyd" check-config -c "$cfg" >/dev/null || die "the benchmark configuration is invalid"

"$dutyd" run -c "$cfg" 2>"$tmp/dutyd.log" &
dpid=$!
started+=("$dpid")
wait_http "http://127.0.0.1:$dport/healthz" || die "dutyd did not come up on 127.0.0.1:$dport"
[[ $(cat "/proc/$dpid/comm") == dutyd* ]] || die "pid $dpid is not dutyd"
meta rss_start_kb "$(status_kb "$dpid" VmRSS)"

# Find the person whose feed has about TARGET_EVENTS events: one survey token each, one fetch each.
"$dutyd" token issue -c "$cfg" --all >"$tmp/survey.tsv" 2>/dev/null
best= best_n= best_d= survey=
while IFS=$'\t' read -r person url; do
  n=$(curl -fsS "$url" | grep -c 'BEGIN:VEVENT' || true)
  survey+=" $person=$n"
  d=$((n > TARGET_EVENTS ? n - TARGET_EVENTS : TARGET_EVENTS - n))
  if [[ -z $best ]] || ((d < best_d)); then best=$person best_n=$n best_d=$d; fi
done <"$tmp/survey.tsv"
[[ -n $best ]] || die "no person feeds found"
say "events per person feed:$survey"
say "chosen: $best ($best_n events, target $TARGET_EVENTS)"

feed_url=$("$dutyd" token issue -c "$cfg" --person "$best" 2>/dev/null)
[[ $feed_url == http://127.0.0.1:$dport/feeds/*.ics ]] || die "unexpected token URL '$feed_url'"
feed_path=${feed_url#http://127.0.0.1:$dport}

# --- the same bytes as a static file for nginx ---------------------------------------------------
www=$tmp/www
mkdir -p "$www/feeds"
static=$www$feed_path
curl -fsS -D "$tmp/dutyd-200.headers" -o "$static" "$feed_url"
chmod 755 "$www" "$www/feeds" && chmod 644 "$static"
header() { tr -d '\r' <"$1" | awk -v h="$2" 'tolower($1) == tolower(h) ":" {sub(/^[^:]*: */, ""); print}'; }
detag=$(header "$tmp/dutyd-200.headers" ETag)
[[ -n $detag ]] || die "dutyd sent no ETag"
feed_bytes=$(stat -c %s "$static")
feed_events=$(grep -c 'BEGIN:VEVENT' "$static" || true)

start_nginx() {  # NAME PORT WORKERS: a private nginx instance; sets npid to its master pid
  local dir=$tmp/nginx-$1
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
worker_processes $3;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  types { }
  default_type text/calendar;
  charset utf-8;                # same Content-Type as dutyd: text/calendar; charset=utf-8
  charset_types text/calendar;
  etag on;
  sendfile on;
  server {
    listen 127.0.0.1:$2;
    root $www;
  }
}
EOF
  "$nginx_bin" -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >&2 || die "nginx config rejected"
  "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" </dev/null >"$dir/stdout.log" 2>&1 &
  npid=$!
  started+=("$npid")
}
start_nginx w1 "$nport1" 1; npid1=$npid
start_nginx wauto "$nportauto" auto; npidauto=$npid
nurl1=http://127.0.0.1:$nport1$feed_path
nurlauto=http://127.0.0.1:$nportauto$feed_path
wait_http "$nurl1" || die "nginx (worker_processes 1) did not come up"
wait_http "$nurlauto" || die "nginx (worker_processes auto) did not come up"
nginx_pids() { echo "$1" $(ps -o pid= --ppid "$1"); }  # master and workers
nworkers_auto=$(($(nginx_pids "$npidauto" | wc -w) - 1))

curl -fsS -D "$tmp/nginx-200.headers" "$nurl1" | cmp -s - "$static" || die "nginx serves different bytes"
netag=$(header "$tmp/nginx-200.headers" ETag)
[[ -n $netag ]] || die "nginx sent no ETag"
netagauto=$(curl -fsS -o /dev/null -D - "$nurlauto" | tr -d '\r' | awk 'tolower($1) == "etag:" {print $2}')
[[ $netagauto == "$netag" ]] || die "the two nginx instances disagree on the ETag"
code() { curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: $2" "$1"; }
[[ $(code "$feed_url" "$detag") == 304 ]] || die "dutyd does not answer 304 to If-None-Match: $detag"
[[ $(code "$nurl1" "$netag") == 304 ]] || die "nginx does not answer 304 to If-None-Match: $netag"

printf 'wrk.headers["If-None-Match"] = [[%s]]\n' "$detag" >"$tmp/inm-dutyd.lua"
printf 'wrk.headers["If-None-Match"] = [[%s]]\n' "$netag" >"$tmp/inm-nginx.lua"

meta person "$best"
meta events "$feed_events"
meta feed_bytes "$feed_bytes"
meta dutyd_etag "$detag"
meta nginx_etag "$netag"
meta duration "$DURATION"
meta connections "$CONNECTIONS"
meta threads "$THREADS"
meta rounds "$ROUNDS"
meta nproc "$(nproc)"
meta nginx_version "$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')"
meta wrk_version "$(wrk -v 2>&1 | head -n1 | awk '{print $2}')"
meta nginx_auto_workers "$nworkers_auto"
meta dutyd_threads "$(status_kb "$dpid" Threads)"
meta loadavg_before "$(cut -d' ' -f1-3 /proc/loadavg)"
say "feed: $feed_events events, $feed_bytes bytes; dutyd ETag $detag, nginx ETag $netag"

# --- load: one wrk at a time, dutyd and nginx alternating ---------------------------------------
metric() { curl -fsS "http://127.0.0.1:$dport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
bench() {  # NAME URL LUA|"" PID...: one wrk run, with the server's CPU time around it
  local name=$1 url=$2 lua=$3 out=$res/$1.$round
  shift 3
  say "round $round/$ROUNDS: $name ..."
  local served0 nm0 t0 t1
  if [[ $name == dutyd-* ]]; then served0=$(metric dutyd_feeds_served_total); nm0=$(metric dutyd_feeds_not_modified_total); fi
  t0=$(cpu_ticks "$@")
  # In the background and waited for, so that a signal stops the script (and wrk) at once.
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency ${lua:+-s "$lua"} "$url" >"$out.wrk" &
  wrk_pid=$!
  wait "$wrk_pid"
  wrk_pid=
  t1=$(cpu_ticks "$@")
  echo "server_cpu_ticks=$((t1 - t0))" >"$out.info"
  if [[ $name == dutyd-* ]]; then
    echo "feeds_served=$(($(metric dutyd_feeds_served_total) - served0))" >>"$out.info"
    echo "feeds_not_modified=$(($(metric dutyd_feeds_not_modified_total) - nm0))" >>"$out.info"
  fi
}
for round in $(seq "$ROUNDS"); do
  bench dutyd-200 "$feed_url" "" "$dpid"
  bench nginx1-200 "$nurl1" "" $(nginx_pids "$npid1")
  bench dutyd-304 "$feed_url" "$tmp/inm-dutyd.lua" "$dpid"
  bench nginx1-304 "$nurl1" "$tmp/inm-nginx.lua" $(nginx_pids "$npid1")
  bench nginxauto-200 "$nurlauto" "" $(nginx_pids "$npidauto")
  bench nginxauto-304 "$nurlauto" "$tmp/inm-nginx.lua" $(nginx_pids "$npidauto")
done

# --- dutyd at rest after the load ----------------------------------------------------------------
meta loadavg_after "$(cut -d' ' -f1-3 /proc/loadavg)"
meta rss_after_kb "$(status_kb "$dpid" VmRSS)"
meta hwm_kb "$(status_kb "$dpid" VmHWM)"
say "sampling dutyd's idle CPU for ${IDLE}s ..."
sleep 1  # let the last connections close
t0=$(cpu_ticks "$dpid"); s0=$(date +%s.%N)
sleep "$IDLE" & wait $!
t1=$(cpu_ticks "$dpid"); s1=$(date +%s.%N)
meta idle_ticks "$((t1 - t0))"
meta idle_seconds "$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.2f", b - a}')"
meta clk_tck "$(getconf CLK_TCK)"
meta rss_idle_kb "$(status_kb "$dpid" VmRSS)"
kill -0 "$dpid" 2>/dev/null || die "dutyd exited during the benchmark"

$py bench/serve_bench_report.py "$res"
