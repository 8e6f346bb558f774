#!/usr/bin/env python3
"""Prints the table for bench/serve_bench.sh from its results directory.

usage: serve_bench_report.py RESULTS_DIR

RESULTS_DIR holds `meta` (key=value lines), and for each target and round NAME.ROUND.wrk (the
output of `wrk --latency`) and NAME.ROUND.info (server CPU ticks during the run; for dutyd also
the deltas of its feed counters).
"""
import re
import statistics
import sys
from pathlib import Path

TARGET_RATIO = 0.8
TARGETS = [
    ("dutyd-200", "dutyd            200"),
    ("nginx1-200", "nginx w=1        200"),
    ("nginxauto-200", "nginx w=auto({w}) 200"),
    ("dutyd-304", "dutyd            304"),
    ("nginx1-304", "nginx w=1        304"),
    ("nginxauto-304", "nginx w=auto({w}) 304"),
]
SIZE = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
TIME = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def kv(path):
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def size(text):
    m = re.fullmatch(r"([\d.]+)([KMGT]?B)", text)
    return float(m.group(1)) * SIZE[m.group(2)]


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * TIME[m.group(2)]


def parse_wrk(text):
    r = {"errors": 0, "non_2xx_3xx": 0}
    for line in text.splitlines():
        s = line.strip()
        if m := re.match(r"(50|99)(?:\.\d+)?%\s+(\S+)$", s):
            r["p" + m.group(1)] = ms(m.group(2))
        elif m := re.match(r"(\d+) requests in ([\d.]+)(\w+), (\S+) read", s):
            r["requests"] = int(m.group(1))
            r["seconds"] = ms(m.group(2) + m.group(3)) / 1e3
            r["read_bytes"] = size(m.group(4))
        elif m := re.match(r"Requests/sec:\s+([\d.]+)", s):
            r["rps"] = float(m.group(1))
        elif m := re.match(r"Transfer/sec:\s+(\S+)", s):
            r["transfer"] = m.group(1)
            r["transfer_bytes"] = size(m.group(1))
        elif m := re.match(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", s):
            r["errors"] = sum(int(x) for x in m.groups())
        elif m := re.match(r"Non-2xx or 3xx responses: (\d+)", s):
            r["non_2xx_3xx"] = int(m.group(1))
    missing = {"p50", "p99", "requests", "rps", "transfer"} - r.keys()
    if missing:
        raise SystemExit(f"serve_bench_report: wrk output lacks {sorted(missing)}:\n{text}")
    return r


def fmt_ms(v):
    return f"{v * 1e3:.0f}us" if v < 1 else f"{v:.2f}ms"


def main():
    res = Path(sys.argv[1])
    meta = kv(res / "meta")
    clk = float(meta.get("clk_tck", "100"))
    runs = {}
    for name, _ in TARGETS:
        rounds = []
        for wrk in sorted(res.glob(f"{name}.*.wrk")):
            r = parse_wrk(wrk.read_text())
            info = wrk.with_suffix(".info")
            if info.exists():
                r.update({k: int(v) for k, v in kv(info).items()})
            rounds.append(r)
        if not rounds:
            raise SystemExit(f"serve_bench_report: no results for {name} in {res}")
        # the median round by requests/s (the upper median for an even count)
        rounds.sort(key=lambda r: r["rps"])
        chosen = rounds[len(rounds) // 2]
        chosen["all_rps"] = [r["rps"] for r in rounds]
        runs[name] = chosen

    w = meta.get("nginx_auto_workers", "?")
    print()
    print(f"dutyd feed vs nginx static file — person {meta['person']}, {meta['events']} events, "
          f"{meta['feed_bytes']} bytes; wrk {meta.get('wrk_version', '?')} -t{meta['threads']} "
          f"-c{meta['connections']} -d{meta['duration']}s --latency; {meta['nproc']} CPUs; "
          f"nginx {meta.get('nginx_version', '?')}; 127.0.0.1")
    if "loadavg_before" in meta:
        print(f"load average before the runs: {meta['loadavg_before']}; after: {meta.get('loadavg_after', '?')} "
              "(wrk, dutyd and nginx share these CPUs; other load skews the figures)")
    rounds = int(meta.get("rounds", "1"))
    if rounds > 1:
        print(f"({rounds} rounds, dutyd and nginx alternating; each row is the median round by req/s)")
    print()
    head = f"{'target':<22}{'req/s':>11}{'p50':>10}{'p99':>10}{'transfer/s':>12}{'B/resp':>8}{'srv CPU':>9}{'errors':>8}"
    print(head)
    print("-" * len(head))
    for name, label in TARGETS:
        r = runs[name]
        cpu = ""
        if "server_cpu_ticks" in r and r.get("seconds"):
            cpu = f"{100 * r['server_cpu_ticks'] / clk / r['seconds']:.0f}%"
        bad = r["errors"] + r["non_2xx_3xx"]
        print(f"{label.format(w=w):<22}{r['rps']:>11,.0f}{fmt_ms(r['p50']):>10}{fmt_ms(r['p99']):>10}"
              f"{r['transfer']:>10}/s{r['read_bytes'] / max(r['requests'], 1):>8.0f}{cpu:>9}{bad:>8}")
    print("(srv CPU: the server's CPU time during the run as a share of one CPU; errors: socket "
          "errors + non-2xx/3xx)")
    if rounds > 1:
        for name, label in TARGETS:
            print(f"  {label.format(w=w):<22} all rounds: " +
                  ", ".join(f"{x:,.0f}" for x in runs[name]["all_rps"]))

    print()
    print(f"{'dutyd / nginx (req/s)':<24}{'vs w=1':>10}{f'vs w=auto({w})':>16}{'target':>10}")
    verdicts = []
    for code in ("200", "304"):
        d = runs[f"dutyd-{code}"]["rps"]
        r1 = d / runs[f"nginx1-{code}"]["rps"]
        ra = d / runs[f"nginxauto-{code}"]["rps"]
        ok1 = "ok" if r1 >= TARGET_RATIO else "BELOW"
        oka = "ok" if ra >= TARGET_RATIO else "BELOW"
        print(f"{code:<24}{r1:>7.2f}x {ok1:<2}{ra:>13.2f}x {oka:<2}{f'>= {TARGET_RATIO}x':>8}")
        verdicts += [(code, "1", r1), (code, f"auto({w})", ra)]

    d200, d304 = runs["dutyd-200"], runs["dutyd-304"]
    if "feeds_served" in d200:
        print(f"\ndutyd's counters: {d200['feeds_served']:,} feeds served during the 200 run "
              f"(wrk completed {d200['requests']:,}), {d304['feeds_not_modified']:,} answered 304 "
              f"during the 304 run (wrk completed {d304['requests']:,})")

    ticks = int(meta["idle_ticks"])
    secs = float(meta["idle_seconds"])
    print()
    print(f"dutyd process: {meta.get('dutyd_threads', '?')} threads; VmRSS {int(meta['rss_start_kb']) / 1024:.1f} MiB "
          f"after start, {int(meta['rss_after_kb']) / 1024:.1f} MiB after the load, "
          f"{int(meta['rss_idle_kb']) / 1024:.1f} MiB after the idle period; VmHWM {int(meta['hwm_kb']) / 1024:.1f} MiB")
    print(f"dutyd idle CPU after the load: {ticks} ticks (utime+stime, {clk:.0f}/s) = {ticks / clk:.2f} s "
          f"over {secs:.1f} s = {100 * ticks / clk / secs:.2f}% of one CPU")

    below = [(c, wk, r) for c, wk, r in verdicts if r < TARGET_RATIO]
    print()
    if below:
        print("RESULT: dutyd is BELOW the 0.8x target: " +
              "; ".join(f"{c} vs nginx w={wk}: {r:.2f}x" for c, wk, r in below))
    else:
        print(f"RESULT: dutyd meets the {TARGET_RATIO}x target for 200 and 304 against both nginx set-ups")


if __name__ == "__main__":
    main()
