#!/usr/bin/env python3
"""Line coverage per crate from `cargo llvm-cov report --json --summary-only`, with the gates.

    summary.py REPORT.json [--min-crate 80] [--min-file 60] [--explained docs/testing.md]

Prints one line per crate and one summary line; fails (exit 1) when a gated crate is under
--min-crate, or a file under --min-file is not named in the "Coverage exceptions" section of
docs/testing.md (a file there is one whose untested lines are explained, not forgotten).
"""

import argparse
import json
import os
import re
import sys

# Gated crates: (name, folder relative to the repository root).
CRATES = [("questpath", "src"), ("questpath-actors", "actors/src")]
# Reported, not gated: helpers for tests and the load generator.
REPORTED = [("questpath-test-support", "test-support/src"), ("questpath-load", "load-tests/src")]


def explained_files(doc_path):
    """Paths that open a bullet (in backticks) in the doc's 'Coverage exceptions' section."""
    try:
        text = open(doc_path, encoding="utf-8").read()
    except OSError:
        return set()
    match = re.search(r"^#+ Coverage exceptions\s*$(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    if not match:
        return set()
    # Each exception is a bullet that starts with its path; paths named in the
    # explanations themselves are not exceptions.
    return set(re.findall(r"^- `([\w./-]+\.rs)`", match.group(1), re.M))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--root", default=os.getcwd())
    ap.add_argument("--min-crate", type=float, default=80.0)
    ap.add_argument("--min-file", type=float, default=60.0)
    ap.add_argument("--explained", default="docs/testing.md")
    args = ap.parse_args()

    data = json.load(open(args.report, encoding="utf-8"))["data"][0]
    root = os.path.realpath(args.root) + os.sep
    files = {}
    for entry in data["files"]:
        path = os.path.realpath(entry["filename"])
        if path.startswith(root):
            lines = entry["summary"]["lines"]
            files[path[len(root):]] = (lines["covered"], lines["count"])

    explained = explained_files(os.path.join(args.root, args.explained))
    failures = []
    totals = [0, 0]
    for name, folder, gated in [(n, f, True) for n, f in CRATES] + [(n, f, False) for n, f in REPORTED]:
        own = {p: v for p, v in files.items() if p.startswith(folder + "/")}
        covered = sum(c for c, _ in own.values())
        count = sum(n for _, n in own.values())
        if gated:
            totals[0] += covered
            totals[1] += count
        pct = 100.0 * covered / count if count else 0.0
        mark = ""
        if gated and pct < args.min_crate:
            mark = f"  UNDER {args.min_crate:g} %"
            failures.append(f"{name}: {pct:.1f} % of lines (gate {args.min_crate:g} %)")
        print(f"[coverage] {name:24} {pct:5.1f} % of {count:6} lines{'' if gated else '  (not gated)'}{mark}")
        if not gated:
            continue
        for path, (c, n) in sorted(own.items()):
            file_pct = 100.0 * c / n if n else 100.0
            if file_pct < args.min_file:
                status = "explained in " + args.explained if path in explained else "NOT EXPLAINED"
                print(f"[coverage]   {path}: {file_pct:.1f} % ({c}/{n}), {status}")
                if path not in explained:
                    failures.append(f"{path}: {file_pct:.1f} % < {args.min_file:g} % and not explained")
    stale = sorted(p for p in explained if p not in files or
                   100.0 * files[p][0] / max(files[p][1], 1) >= args.min_file)
    for path in stale:
        print(f"[coverage]   note: {path} is explained in {args.explained} but is at or above "
              f"{args.min_file:g} % (or gone): the exception can go")
    pct = 100.0 * totals[0] / totals[1] if totals[1] else 0.0
    print(f"[coverage] lines {pct:.1f} % ({totals[0]}/{totals[1]}) in the server and actors crates; "
          f"report: target/coverage/html/index.html")
    for failure in failures:
        print(f"[coverage] FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
