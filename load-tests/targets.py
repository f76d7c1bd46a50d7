#!/usr/bin/env python3
"""The targets of load reports as one Markdown table, for a set in RESULTS.md.

    targets.py REPORT.json [REPORT.json ...]

Each questpath-load report judges its own targets (`targets`: name, target, measured,
met); this lists them with the report's file name, backends and commit, so a set can be
checked for coming from one commit. wrk reports (wrk_routes.py) have no judged targets:
their routes are listed with requests per server CPU-second against 20,000.
Exit status: 0 every target met, 1 one is not, 2 bad input.
"""

import json
import os
import sys

WRK_TARGET = 20_000  # requests per server CPU-second on every route (issue 17)


def rows(path):
    with open(path) as f:
        report = json.load(f)
    name = os.path.basename(path)
    commit = (report.get("commit") or "")[:12]
    backends = report.get("backends", "")
    if report.get("scenario") == "wrk":
        for route in report["routes"]:
            if route["route"] == "health":
                continue
            per_cpu = route["requests_per_server_cpu_second"]
            yield (name, backends, commit, f"wrk {route['path']}: requests per server CPU-second",
                   f">= {WRK_TARGET:,}",
                   f"{per_cpu:,} ({route['server_cpu_us_per_request']} µs; "
                   f"{route['requests_per_second']:,.0f}/s, p99 {route['latency_ms'].get('p99', 0):.2f} ms)",
                   per_cpu >= WRK_TARGET and not route["non_2xx"] and not route["socket_errors"])
        return
    for target in report.get("targets", []):
        yield (name, backends, commit, target["name"], target["target"], target["measured"],
               bool(target["met"]))


def main():
    paths = sys.argv[1:]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    all_met, commits = True, set()
    print("| report | backends | target | measured | met |")
    print("|---|---|---|---|---|")
    for path in paths:
        try:
            found = list(rows(path))
        except (OSError, ValueError, KeyError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 2
        for name, backends, commit, what, target, measured, met in found:
            commits.add(commit)
            all_met &= met
            print(f"| `{name}` | {backends} | {what}: {target} | {measured} | "
                  f"{'met' if met else '**not met**'} |")
    print(f"\ncommits: {', '.join(sorted(c or '?' for c in commits))}", file=sys.stderr)
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
