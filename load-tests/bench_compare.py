#!/usr/bin/env python3
"""The quick bench's regression guard: each figure of this run beside the last committed
report of the same kind, as a ratio, flagging any figure more than 20 % worse.

    bench_compare.py REPORT.json [REPORT.json ...] [--results DIR] [--threshold 0.2]

A report's kind is its file name without the time stamp (`quick-quiz-embedded`); the
baseline is the newest report of that kind that git tracks in DIR (load-tests/results),
so a run compares with what was committed, not with an uncommitted earlier try.
Exit status: 0 nothing worse than the threshold, 1 a figure is, 2 bad input.
"""

import argparse
import json
import os
import re
import subprocess
import sys

# (scenario, label, path in `figures` or a function of them, True when higher is better,
# whether a worse figure is flagged). The connect ramp of the quick run lasts 1-2 s, so
# its wall-clock rate swung 2x between identical runs while the server's CPU per connect
# did not: the rate is shown, the CPU figure is judged.
FIGURES = [
    ("connect", "connects/s (shown only)", ("connect_rate_per_second",), True, False),
    (
        "connect",
        "connects/server CPU-s",
        lambda f: f["connected"]
        / max(f["server_at_n"]["cpu_seconds"] - f["server_before"]["cpu_seconds"], 0.01),
        True,
        True,
    ),
    ("connect", "server bytes/socket", ("server_rss_bytes_per_connection",), False, True),
    ("quiz", "answers/s", ("answers_per_second",), True, True),
    ("quiz", "answer p99 ms", ("answer_feedback_latency", "p99_ms"), False, True),
    ("quiz", "answers/server CPU-s", ("cpu", "operations_per_server_cpu_second"), True, True),
    ("http", "reads/s", ("requests_per_second",), True, True),
    ("http", "read p99 ms", ("latency", "p99_ms"), False, True),
    ("http", "reads/server CPU-s", ("cpu", "operations_per_server_cpu_second"), True, True),
    ("room", "fan-out p99 ms", ("question_fanout", "from_host_command", "p99_ms"), False, True),
    ("room", "room ops/server CPU-s", ("cpu", "operations_per_server_cpu_second"), True, True),
]

STAMP = re.compile(r"-\d{8}T\d{6}\.json$")


def kind_of(path):
    return STAMP.sub("", os.path.basename(path))


def figure(report, path):
    if callable(path):
        try:
            return float(path(report.get("figures", {})))
        except (KeyError, TypeError, ValueError):
            return None
    value = report.get("figures", {})
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if isinstance(value, (int, float)) else None


def committed(results, kind, this):
    """The newest tracked report of `kind` in `results` other than `this`, or None."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--", f"{kind}-*.json"],
            cwd=results,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    listed = [
        name
        for name in listed
        if STAMP.search(name) and kind_of(name) == kind and name != os.path.basename(this)
    ]
    return os.path.join(results, sorted(listed)[-1]) if listed else None


def compare(path, results, threshold):
    with open(path) as f:
        report = json.load(f)
    kind = kind_of(path)
    baseline_path = committed(results, kind, path)
    rows, worse = [], 0
    baseline = None
    if baseline_path:
        with open(baseline_path) as f:
            baseline = json.load(f)
    for scenario, label, key, higher_better, judged in FIGURES:
        if report.get("scenario") != scenario:
            continue
        now = figure(report, key)
        before = figure(baseline, key) if baseline else None
        if now is None:
            rows.append((label, "-", fmt(before), "-", "missing in this run"))
            continue
        if before in (None, 0):
            rows.append((label, fmt(now), fmt(before), "-", "no baseline"))
            continue
        ratio = now / before
        bad = judged and (ratio < 1 - threshold if higher_better else ratio > 1 + threshold)
        worse += bad
        note = f"WORSE by more than {threshold:.0%}" if bad else ""
        rows.append((label, fmt(now), fmt(before), f"{ratio:.2f}", note))
    return kind, baseline_path, rows, worse


def fmt(value):
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+")
    parser.add_argument(
        "--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    )
    parser.add_argument("--threshold", type=float, default=0.2)
    args = parser.parse_args()
    total_worse = 0
    print(f"{'figure':<24} {'now':>12} {'committed':>12} {'ratio':>6}  note")
    for path in args.reports:
        try:
            kind, baseline, rows, worse = compare(path, args.results, args.threshold)
        except (OSError, ValueError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 2
        total_worse += worse
        print(f"-- {kind} (baseline: {os.path.basename(baseline) if baseline else 'none committed'})")
        for label, now, before, ratio, note in rows:
            print(f"{label:<24} {now:>12} {before:>12} {ratio:>6}  {note}")
    if total_worse:
        print(f"{total_worse} figure(s) more than {args.threshold:.0%} worse than committed")
        return 1
    print(f"no figure more than {args.threshold:.0%} worse than committed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
