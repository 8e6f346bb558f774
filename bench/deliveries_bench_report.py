#!/usr/bin/env python3
"""Prints the table for bench/deliveries_bench.sh from its results directory.

usage: deliveries_bench_report.py RESULTS_DIR

RESULTS_DIR holds `meta` (key=value lines) and, per round R, dutyd.R.info, curl.R.info and
(when the loop with outbox writes ran) outbox.R.info:
requests, first and last ($msec of nginx's access log), body_mean; for dutyd also its CPU ticks
from its first to its last delivery; for the baseline also its own timer (own_seconds, own_rps,
own_cpu_seconds).
"""
import statistics
import sys
from pathlib import Path

from serve_bench_report import kv  # key=value lines (this folder is on sys.path)

TARGET_RATIO = 0.7


def load(res, name):
    rounds = {}
    for p in sorted(res.glob(f"{name}.*.info")):
        r = kv(p)
        span = float(r["last"]) - float(r["first"])
        r["span"] = span
        r["rate"] = int(r["requests"]) / span if span > 0 else float("inf")
        rounds[int(p.name.split(".")[1])] = r
    return rounds


def main():
    res = Path(sys.argv[1])
    meta = kv(res / "meta")
    clk = float(meta.get("clk_tck", "100"))
    dutyd, curl, outbox = load(res, "dutyd"), load(res, "curl"), load(res, "outbox")
    rounds = sorted(set(dutyd) & set(curl))
    if not rounds:
        raise SystemExit(f"deliveries_bench_report: no complete round in {res}")
    n = int(meta["deliveries"])
    print()
    print(f"dutyd reminder deliveries vs a bare libcurl loop — {n:,} webhook deliveries due at once "
          f"({meta['day']} 09:00, {meta['orgs']} organisations, N={meta['n_wanted']} wanted), "
          f"rate limiting off; {meta.get('libcurl', 'libcurl')}; receiver nginx {meta.get('nginx_version', '?')} "
          f"(worker_processes {meta['nginx_workers']}) on 127.0.0.1; baseline: {int(meta['baseline_n']):,} POSTs on {meta['workers']} threads, "
          f"one reused libcurl handle each; {meta['nproc']} CPUs")
    print(f"load average before the runs: {meta['loadavg_before']}; after: {meta.get('loadavg_after', '?')} "
          "(dutyd, the loop and nginx share these CPUs; other load skews the figures)")
    print("rates: requests / (last - first) of nginx's access log ($msec)")
    print()
    with_outbox = all(r in outbox for r in rounds)
    head = (f"{'round':<7}{'dutyd/s':>10}{'span':>9}{'CPU':>7}{'baseline/s':>12}{'span':>8}{'own/s':>9}"
            + (f"{'+outbox/s':>11}" if with_outbox else "") + f"{'body B':>8}{'ratio':>8}{'load':>7}")
    print(head)
    print("-" * len(head))
    ratios = []
    for r in rounds:
        d, c = dutyd[r], curl[r]
        cpu = int(d.get("cpu_ticks", 0)) / clk / d["span"] if d["span"] > 0 else 0
        ratio = d["rate"] / c["rate"]
        ratios.append(ratio)
        print(f"{r:<7}{d['rate']:>10,.0f}{d['span']:>8.2f}s{100 * cpu:>6.0f}%{c['rate']:>12,.0f}{c['span']:>7.2f}s"
              f"{float(c.get('own_rps', 0)):>9,.0f}" + (f"{outbox[r]['rate']:>11,.0f}" if with_outbox else "")
              + f"{float(d['body_mean']):>8.0f}{ratio:>7.2f}x"
              f"{d.get('loadavg', '?').split()[0]:>7}")
    print("(CPU: dutyd's CPU time from its first to its last delivery, as a share of one CPU; own/s: "
          "the loop's own timer, first request to last answer; "
          + ("+outbox/s: the loop with a durable outbox's claim and result writes (curl_loop --outbox); "
             if with_outbox else "")
          + "body B: dutyd's mean request body, which the loop posts too; load: the 1-minute load average "
          "when dutyd started)")
    md = statistics.median(dutyd[r]["rate"] for r in rounds)
    mc = statistics.median(curl[r]["rate"] for r in rounds)
    ratio = md / mc
    print()
    print(f"{'':<34}{'median':>12}")
    print(f"{'dutyd deliveries/s':<34}{md:>12,.0f}")
    print(f"{'bare libcurl loop requests/s':<34}{mc:>12,.0f}")
    print(f"{'dutyd / libcurl':<34}{ratio:>11.2f}x   (target >= {TARGET_RATIO}x; per round "
          f"{min(ratios):.2f}x-{max(ratios):.2f}x)")
    if with_outbox:
        mo = statistics.median(outbox[r]["rate"] for r in rounds)
        print(f"{'loop + outbox writes requests/s':<34}{mo:>12,.0f}")
        print(f"{'(loop + outbox writes) / libcurl':<34}{mo / mc:>11.2f}x   (the outbox alone, nothing rendered)")
        print(f"{'dutyd / (loop + outbox writes)':<34}{md / mo:>11.2f}x   (what dutyd's own work costs on top)")
    print()
    if ratio >= TARGET_RATIO:
        print(f"RESULT: dutyd meets the {TARGET_RATIO}x target ({ratio:.2f}x)")
    else:
        print(f"RESULT: dutyd is BELOW the {TARGET_RATIO}x target ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
