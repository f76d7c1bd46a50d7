#!/usr/bin/env python3
"""The capacity run's backend report: what the mixed load cost each tier, and the probe's
unit costs (chaos.sh with CHAOS_FAULTS=none writes it as
results/mixed-capacity-<stamp>-backends.json; docs/capacity.md quotes it).

    capacity_report.py --report R.json --start S.json --end E.json --probe P.json

The operations in the measured window are the generator's own counts, per second of its
timeline, for the seconds between the two snapshots: quiz messages answered, room
operations acknowledged, REST reads and writes answered.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backend_stats import diff  # noqa: E402


def window_ops(report, start_at, end_at):
    figures = report["figures"]
    started = figures["load_started_unix_ms"] / 1000
    first, last = start_at - started, end_at - started
    ops = {}
    for second in figures["timeline"]:
        # Whole seconds inside the window only: the snapshots fall within a second.
        if first <= second["second"] and second["second"] + 1 <= last:
            for kind, counts in second.items():
                if isinstance(counts, dict):
                    ops[kind] = ops.get(kind, 0) + counts["ok"]
    whole = int(last) - int(first) - 1
    return ops, max(whole, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--probe", required=True)
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args()
    with open(args.report) as f:
        report = json.load(f)
    with open(args.start) as f:
        start = json.load(f)
    with open(args.end) as f:
        end = json.load(f)
    with open(args.probe) as f:
        probe = json.load(f)
    ops, seconds = window_ops(report, start["at"], end["at"])
    mixed = diff(start, end, ops)
    mixed["ops_per_second"] = {kind: round(n / seconds, 1) for kind, n in ops.items()}
    # The probe's idle rate (measured after the load) taken off, per group.
    idle = probe.get("idle", {}).get("cores_busy", {})
    mixed["net_cores_busy"] = {
        group: round(max(cores - idle.get(group, 0.0), 0.0), 3)
        for group, cores in mixed["cores_busy"].items()
    }
    out = {
        "tool": "load-tests/capacity_report.py",
        "commit": report.get("commit"),
        "started_at": report.get("started_at"),
        "mixed_report": os.path.basename(args.report),
        "parameters": report.get("parameters"),
        "machine": report.get("machine"),
        "mixed_window": mixed,
        "probe": probe,
    }
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
