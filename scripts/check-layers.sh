#!/usr/bin/env bash
# Fails when the shape of the product code breaks one of its rules:
# - a file includes a header of a module on the same or a higher layer than its own (the table
#   below, lowest first: a module may include only its own headers and those of lower layers);
# - the files of one module include each other in a cycle (a file and its header, and a
#   NAME_internal.hpp with NAME, count as one);
# - a product file is longer than MAX_LINES, or one module holds more than MAX_SHARE percent of
#   the product's lines (.cpp and .hpp under the module folders; data files are not counted).
# Each module's README.md says the same in words.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 - "$@" <<'EOF'
import collections, re, subprocess, sys

# The layers, lowest first. Modules on one line share a layer and may not include each other.
LAYERS = [
    ["base"],       # dates, clock, crypto, text, Asio header, parallel loop
    ["config"],     # TOML -> validated model
    ["calendar"],   # occurrences, feeds, records and their rules, snapshot, reports
    ["notifiers"],  # working days, ladders, messages, senders, completion links
    ["store"],      # the SQLite store
    ["reminders", "http"],  # scheduler, channels, flagger | server, feeds, API, dashboard
    ["daemon"],     # main, command line, `dutyd run`
]
MAX_LINES = 700
MAX_SHARE = 20.0

layer = {m: i for i, ms in enumerate(LAYERS) for m in ms}
files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                        "*.cpp", "*.hpp"], capture_output=True, text=True, check=True).stdout.split()
files = [f for f in files if f.split("/")[0] in layer]
include = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
problems = []

def node(path):  # a file with its header, NAME_internal.hpp with NAME
    stem = path.rsplit(".", 1)[0]
    return stem[: -len("_internal")] if stem.endswith("_internal") else stem

graph = collections.defaultdict(set)
lines_of = {}
for f in files:
    mod = f.split("/")[0]
    with open(f, encoding="utf-8") as fh:
        text = fh.read().split("\n")
    lines_of[f] = len(text) - (1 if text and text[-1] == "" else 0)
    for no, line in enumerate(text, 1):
        m = include.match(line)
        if not m:
            continue
        target = m.group(1)
        tmod = target.split("/")[0]
        if tmod not in layer:
            continue
        if tmod != mod and layer[tmod] >= layer[mod]:
            where = "the same layer as" if layer[tmod] == layer[mod] else "a higher layer than"
            problems.append(f"{f}:{no}: includes {target}, a header of {tmod}/ ({where} "
                            f"{mod}/) — move what it needs down, or the code that needs it up")
        if tmod == mod and node(target) != node(f):
            graph[node(f)].add(node(target))

# Cycles inside a module: depth-first search over its files' nodes.
state = {}
def visit(n, stack):
    state[n] = 1
    stack.append(n)
    for m in sorted(graph[n]):
        if state.get(m) == 1:
            cyc = stack[stack.index(m):] + [m]
            problems.append("include cycle: " + " -> ".join(cyc) +
                            " — move what they share into a file both include")
        elif m not in state:
            visit(m, stack)
    stack.pop()
    state[n] = 2
for n in sorted(list(graph)):
    if n not in state:
        visit(n, [])

total = sum(lines_of.values())
by_module = collections.Counter()
for f, n in lines_of.items():
    by_module[f.split("/")[0]] += n
    if n > MAX_LINES:
        problems.append(f"{f}: {n} lines (at most {MAX_LINES}) — split it by what it does")
for mod, n in sorted(by_module.items()):
    share = 100.0 * n / total
    if share > MAX_SHARE:
        problems.append(f"{mod}/: {share:.1f} % of the product's {total} lines (at most "
                        f"{MAX_SHARE:.0f} %) — give part of it a module of its own")

if problems:
    print(f"check-layers: {len(problems)} problem(s):", file=sys.stderr)
    for p in problems:
        print("  " + p, file=sys.stderr)
    sys.exit(1)
shares = ", ".join(f"{m} {100.0 * n / total:.0f}%" for m, n in
                   sorted(by_module.items(), key=lambda x: -x[1]))
print(f"check-layers: OK ({len(files)} files, {total} lines: {shares})")
EOF
