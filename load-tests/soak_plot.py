#!/usr/bin/env python3
"""Draws and judges a soak run of load-tests/bench.sh (step `soak`).

    soak_plot.py SOAK.csv [--reports WORK] [--backends LABEL] [--window-min 20] [--note TEXT]

Writes SOAK.png (memory, descriptors, threads, sockets and actors, CPU over time) and SOAK.md
(the figures for RESULTS.md), prints the latter, and exits 1 when the server's resident memory,
descriptors, threads or session actors grew by 5 % or more over the last --window-min
minutes of load.
Growth is read from a least-squares line through the window's samples (its rise over the
window divided by its value at the window's start); descriptors, threads and session actors
from the samples where every socket of the load is open (not while a segment reconnects).
"""

import argparse
import csv
import glob
import json
import os
import sys

LIMIT_PERCENT = 5.0
# (column, label, judged on steady samples only). Counts that follow the sockets are read
# only from samples where every socket of the load is open: a segment that reconnects
# its thousand players drops them for a moment, and such a dip near the window's start
# reads as growth. Memory is read from every sample.
JUDGED = [("rss_kib", "resident memory", False), ("fds", "open descriptors", True),
          ("threads", "threads", True), ("session_actors", "session actors", True)]


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            if key != "phase":
                row[key] = float(value) if value not in ("", None) else 0.0
    return rows


def growth(points):
    """Percent rise of the least-squares line over the points' span (x in seconds)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    x0, x1 = points[0][0], points[-1][0]
    start = my + slope * (x0 - mx)
    return 100.0 * slope * (x1 - x0) / start if start else 0.0


def load_reports(work):
    """Per scenario of the soak: runs, work done, errors by kind, from the generator's reports."""
    out = {}
    for name in ("quiz", "http", "room"):
        runs = done = 0
        kinds = {}

        def add(counts, prefix=""):
            for kind, count in (counts or {}).items():
                kinds[prefix + kind] = kinds.get(prefix + kind, 0) + count

        for path in sorted(glob.glob(os.path.join(work, f"soak-{name}", "*.json"))):
            try:
                f = json.load(open(path, encoding="utf-8")).get("figures", {})
            except (OSError, ValueError):
                continue
            runs += 1
            if name == "quiz":
                done += f.get("answers", 0)
                add(f.get("errors"))
                add(f.get("connect_failures"), "connect ")
                add({"players failed": f.get("players_failed", 0),
                     "slots not sent": f.get("slots_not_sent", 0)})
            elif name == "http":
                done += f.get("ok", 0)
                add(f.get("errors"))
                add({"not sent": f.get("not_sent", 0)})
            else:
                answers, complete = f.get("answers", {}), f.get("completeness", {})
                done += answers.get("acked", 0)
                add(f.get("join", {}).get("failures"), "join ")
                add(answers.get("refused"), "answer refused ")
                add(complete.get("player_errors"), "player ")
                add(complete.get("host_errors"), "host ")
                add({k: complete.get(k, 0) for k in (
                    "players_failed", "missing_questions", "missing_finals", "missing_ended",
                    "missing_your_results", "duplicate_questions")})
        kinds = {k: v for k, v in kinds.items() if v}
        out[name] = {"runs": runs, "done": done, "errors": sum(kinds.values()), "kinds": kinds}
    return out


def plot(rows, png, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    load = [r for r in rows if r["phase"] == "load"]
    minutes = [r["elapsed_s"] / 60 for r in load]
    fig, axes = plt.subplots(4, 1, figsize=(9, 11), sharex=True)
    axes[0].plot(minutes, [r["rss_kib"] / 1024 for r in load], marker=".")
    axes[0].set_ylabel("resident MiB")
    axes[1].plot(minutes, [r["fds"] for r in load], marker=".", label="open descriptors")
    axes[1].plot(minutes, [r["ws_connections"] for r in load], marker=".", label="websockets")
    axes[1].legend(loc="lower right")
    axes[2].plot(minutes, [r["session_actors"] for r in load], marker=".", label="session actors")
    axes[2].plot(minutes, [r["room_actors"] for r in load], marker=".", label="room actors")
    axes[2].plot(minutes, [r["threads"] for r in load], marker=".", label="threads")
    axes[2].legend(loc="center right")
    cores = []
    for a, b in zip(load, load[1:]):
        span = b["elapsed_s"] - a["elapsed_s"]
        cores.append((b["cpu_s"] - a["cpu_s"]) / span if span else 0.0)
    axes[3].plot(minutes[1:], cores, marker=".")
    axes[3].set_ylabel("server CPU (cores)")
    axes[3].set_xlabel("minutes of load")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png, dpi=80)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--reports", help="the run's work folder (soak-quiz/, soak-http/, soak-room/)")
    ap.add_argument("--backends", default="")
    ap.add_argument("--window-min", type=float, default=20.0)
    ap.add_argument("--note", default="")
    args = ap.parse_args()

    rows = read_rows(args.csv)
    load = [r for r in rows if r["phase"] == "load"]
    if len(load) < 3:
        print(f"{args.csv}: fewer than 3 samples under load", file=sys.stderr)
        return 1
    end = load[-1]["elapsed_s"]
    window = [r for r in load if r["elapsed_s"] >= end - args.window_min * 60]
    idle = [r for r in rows if r["phase"] == "idle"]
    stem = os.path.splitext(args.csv)[0]

    lines = [f"Soak, {args.backends or 'server'}: {end / 60:.0f} min of load"
             + (f" ({args.note})" if args.note else "") + ".", ""]
    lines.append("| | at start | start of the window | end | growth over the last "
                 f"{args.window_min:g} min | verdict |")
    lines.append("|---|---|---|---|---|---|")
    most_sockets = max(r["ws_connections"] for r in window)
    steady = [r for r in window if r["ws_connections"] >= 0.95 * most_sockets]
    failed = []
    for key, label, steady_only in JUDGED:
        samples = steady if steady_only else window
        g = growth([(r["elapsed_s"], r[key]) for r in samples])
        ok = g < LIMIT_PERCENT
        if not ok:
            failed.append(label)
        unit = (lambda v: f"{v / 1024:.1f} MiB") if key == "rss_kib" else (lambda v: f"{v:.0f}")
        lines.append(f"| {label} | {unit(load[0][key])} | {unit(window[0][key])} | "
                     f"{unit(window[-1][key])} | {g:+.1f} % | {'flat' if ok else 'GROWING'} |")
    cpu = (load[-1]["cpu_s"] - load[0]["cpu_s"]) / (end - load[0]["elapsed_s"])
    lines.append("")
    lines.append(f"{len(window)} samples in the window; descriptors, threads and session actors "
                 f"are read from the {len(steady)} with every socket open (at least 95 % of "
                 f"{most_sockets:.0f}).")
    lines.append(f"Server CPU: {cpu:.2f} cores on average (of 2, shared with the generator). "
                 f"Websockets {min(r['ws_connections'] for r in window):.0f}–"
                 f"{max(r['ws_connections'] for r in window):.0f}, session actors "
                 f"{min(r['session_actors'] for r in window):.0f}–"
                 f"{max(r['session_actors'] for r in window):.0f} in the window; "
                 f"{load[-1]['quizzes_finished'] - load[0]['quizzes_finished']:.0f} quizzes finished, "
                 f"{load[-1]['http_requests'] - load[0]['http_requests']:.0f} HTTP requests served.")
    if idle:
        last = idle[-1]
        lines.append(f"After the load (90 s idle): {last['rss_kib'] / 1024:.1f} MiB resident, "
                     f"{last['fds']:.0f} descriptors (at the start: {load[0]['fds']:.0f}), "
                     f"{last['threads']:.0f} threads, "
                     f"{last['ws_connections']:.0f} websockets, {last['session_actors']:.0f} session "
                     f"and {last['room_actors']:.0f} room actors.")
    if args.reports:
        reports = load_reports(args.reports)
        parts = []
        what = {"quiz": "answers", "http": "requests", "room": "room answers"}
        for name, r in reports.items():
            kinds = ", ".join(f"{k}: {v}" for k, v in sorted(r["kinds"].items())) or "none"
            parts.append(f"{name}: {r['runs']} runs, {r['done']:.0f} {what[name]} measured, "
                         f"{r['errors']} errors ({kinds})")
        lines.append("Generator: " + "; ".join(parts) + ".")
    lines.append("")
    lines.append(f"Verdict: {'FAIL, growing: ' + ', '.join(failed) if failed else 'flat'} "
                 f"(limit {LIMIT_PERCENT:g} % over the last {args.window_min:g} min).")
    text = "\n".join(lines) + "\n"
    with open(stem + ".md", "w", encoding="utf-8") as f:
        f.write(text)
    try:
        plot(rows, stem + ".png", f"QuestPath soak, {args.backends}")
        text += f"\nPlot: {stem}.png\n"
    except ImportError:
        text += "\nNo plot: matplotlib is missing (python3 -m pip install matplotlib).\n"
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
