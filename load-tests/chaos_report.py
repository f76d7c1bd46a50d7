#!/usr/bin/env python3
"""Judges a chaos run (load-tests/chaos.sh): the `mixed` report of questpath-load and the
faults that chaos.sh injected (faults.json: name, started_unix_ms, ended_unix_ms, detail).

Per fault it prints:
- whole again after: seconds from the fault's start to the first second after it from
  which WHOLE_SECONDS (3) seconds in a row had no failed operation and normal throughput
  (quiz and REST operations at least 80 % of the baseline: the median of the load's
  seconds outside every fault window); "not whole" when that never happened before the
  next fault (or the end of the load);
- requests failed: failed operations (every kind) in the fault's window;
- sessions moved: websocket reconnections in the fault's window.
A fault's window runs from one second before its start to its end plus the grace.

Checks (exit 1 if any fails): every failed operation falls inside a fault window; no quiz
or room was stuck at the end; no learner's XP total is below what its client was told,
nor above it with no result the client missed; `questpath audit xp` exited 0; the
generator exited 0.
"""

import argparse
import json
import statistics
import sys

WHOLE_SECONDS = 3
NORMAL_SHARE = 0.8
STEADY_KINDS = ("quiz", "http_read", "http_write")
KINDS = ("quiz", "room", "http_read", "http_write")


def windows(faults, start_ms, grace):
    """(name, first second, last second, start second, end second) per fault."""
    out = []
    for f in faults:
        s = (f["started_unix_ms"] - start_ms) / 1000.0
        e = (f["ended_unix_ms"] - start_ms) / 1000.0
        out.append((f["name"], int(s) - 1, int(e + grace), s, e))
    return out


def failed(row):
    return sum(row[k]["failed"] for k in KINDS)


def steady(row):
    return sum(row[k]["ok"] for k in STEADY_KINDS)


def judge(report, faults, grace):
    figures = report["figures"]
    timeline = figures["timeline"]
    load_seconds = figures["load_seconds"]
    start_ms = figures["load_started_unix_ms"]
    wins = windows(faults, start_ms, grace)

    def in_window(second):
        return any(lo <= second <= hi for _, lo, hi, _, _ in wins)

    load_rows = [r for r in timeline if r["second"] < load_seconds]
    calm = [steady(r) for r in load_rows if not in_window(r["second"]) and r["second"] >= 2]
    baseline = statistics.median(calm) if calm else 0.0

    per_fault = []
    for i, (name, lo, hi, s, e) in enumerate(wins):
        next_start = wins[i + 1][3] if i + 1 < len(wins) else load_seconds
        first = int(s) + 1
        whole_after = None
        for second in range(first, int(next_start) - WHOLE_SECONDS + 1):
            rows = [r for r in load_rows if second <= r["second"] < second + WHOLE_SECONDS]
            if len(rows) == WHOLE_SECONDS and all(
                failed(r) == 0 and steady(r) >= NORMAL_SHARE * baseline for r in rows
            ):
                whole_after = second - s
                break
        rows = [r for r in timeline if lo <= r["second"] <= hi]
        per_fault.append(
            {
                "name": name,
                "at_second": round(s, 1),
                "lasted_seconds": round(e - s, 1),
                "whole_after_seconds": None if whole_after is None else round(whole_after, 1),
                "failed": sum(failed(r) for r in rows),
                "failed_by_kind": {k: sum(r[k]["failed"] for r in rows) for k in KINDS},
                "sessions_moved": sum(r[k]["reconnects"] for r in rows for k in KINDS),
            }
        )
    outside = [
        {"second": r["second"], "failed": failed(r)}
        for r in timeline
        if failed(r) > 0 and not in_window(r["second"])
    ]
    return baseline, per_fault, outside


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--report", required=True)
    p.add_argument("--faults", required=True)
    p.add_argument("--grace", type=float, default=15.0)
    p.add_argument("--audit-exit", type=int, required=True)
    p.add_argument("--load-exit", type=int, default=0)
    p.add_argument("--markdown")
    a = p.parse_args()
    report = json.load(open(a.report))
    faults = json.load(open(a.faults))
    figures = report["figures"]
    baseline, per_fault, outside = judge(report, faults, a.grace)

    lines = [
        f"Chaos run of {report['started_at']} (commit {report.get('commit')}), "
        f"{figures['load_seconds']} s of load; baseline {baseline:.0f} quiz and REST operations a second, "
        f"fault windows from 1 s before each fault to {a.grace:g} s after its end.",
        "",
        "| fault | at (s) | lasted (s) | whole again after (s) | requests failed | sessions moved |",
        "|---|---|---|---|---|---|",
    ]
    for f in per_fault:
        whole = "not whole before the next fault" if f["whole_after_seconds"] is None else f"{f['whole_after_seconds']:.1f}"
        by_kind = ", ".join(f"{k} {v}" for k, v in f["failed_by_kind"].items() if v)
        lines.append(
            f"| {f['name']} | {f['at_second']:.1f} | {f['lasted_seconds']:.1f} | {whole} | "
            f"{f['failed']}{f' ({by_kind})' if by_kind else ''} | {f['sessions_moved']} |"
        )
    totals = figures["totals"]
    lines.append("")
    lines.append(
        "Totals: "
        + "; ".join(
            f"{k} {totals[k]['ok']} ok, {totals[k]['failed']} failed, {totals[k]['reconnects']} reconnects, p99 {totals[k]['latency']['p99_ms']:.1f} ms"
            for k in KINDS
        )
    )
    q, r, xp = figures["quizzes"], figures["rooms"], figures["xp"]
    lines.append(
        f"Quizzes: {q['finished']} finished, {q['resumed']} resumed on a new socket, {q['lost']} lost, "
        f"{q['results_missed']} results missed, {q['stuck']} stuck. Rooms: {r['hosts']['games_created']} games, "
        f"{r['hosts']['games_ended']} ended, {r['hosts']['games_lost']} lost, {r['stuck']} stuck. "
        f"XP told {xp['told']}, totals grew {xp['delta']}."
    )

    checks = [
        ("every failure inside a fault window", not outside,
         f"{len(outside)} seconds with failures outside: {outside[:10]}"),
        ("no quiz or room stuck", q["stuck"] == 0 and r["stuck"] == 0,
         f"{q['stuck']} quizzes, {r['stuck']} room games"),
        ("no XP lost (client told more than the total grew)", xp["lost_learners"] == 0 and xp["unread_learners"] == 0,
         f"{xp['lost_learners']} learners lost XP, {xp['unread_learners']} unread"),
        ("no XP unannounced (total grew more, nothing missed)", xp["unannounced_learners"] == 0,
         f"{xp['unannounced_learners']} learners"),
        ("questpath audit xp clean", a.audit_exit == 0, f"exit {a.audit_exit}"),
        ("the generator ran to its end", a.load_exit == 0, f"exit {a.load_exit}"),
    ]
    lines.append("")
    for name, ok, detail in checks:
        lines.append(f"- [{'pass' if ok else 'FAIL'}] {name}: {detail}")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as out:
            out.write(text)
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
