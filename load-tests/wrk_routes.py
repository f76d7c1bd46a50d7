#!/usr/bin/env python3
"""Closed-loop reads per route with wrk, and the server's own CPU for each: how issue 17
states the REST target (>= 20,000 requests per server CPU-second on every route).

    wrk_routes.py --url BASE --tokens FILE --server-pid PID --out REPORT.json
                  [--threads 2] [--connections 64] [--duration 20] [--routes NAME,...]

For each route: the server's utime + stime from /proc before and after
`wrk -t THREADS -c CONNECTIONS -d DURATION --latency`, wrk's requests per second and
latency percentiles, and any non-2xx answer or socket error (a route with either fails
the run: exit status 1). Requests carry `Authorization: Bearer` with the access tokens of
FILE (one a line) in turn: the server allows one learner at most 1,000,000 reads a
minute (16,667 a second), fewer than one route serves.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

# The four routes and their /api/v1 twins (the same as questpath-load's http mix).
ROUTES = [
    ("legacy-me", "/auth/me"),
    ("v1-me", "/api/v1/me"),
    ("legacy-leaderboard", "/leaderboard"),
    ("v1-leaderboard", "/api/v1/leaderboards/alltime"),
    ("legacy-stats", "/progression/stats"),
    ("v1-stats", "/api/v1/me/stats"),
    ("legacy-goals", "/goals/me"),
    ("v1-goals", "/api/v1/goals"),
    ("health", "/health"),
]

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def cpu_seconds(pid):
    """The process's user + system CPU time, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def to_ms(text):
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unreadable wrk duration {text!r}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def parse(output):
    """wrk's summary: requests/s, total requests, latency percentiles, errors."""
    figures = {"latency_ms": {}, "non_2xx": 0, "socket_errors": 0}
    for line in output.splitlines():
        line = line.strip()
        if m := re.match(r"Requests/sec:\s+([\d.]+)", line):
            figures["requests_per_second"] = float(m.group(1))
        elif m := re.match(r"(\d+) requests in", line):
            figures["requests"] = int(m.group(1))
        elif m := re.match(r"(50|75|90|99)%\s+(\S+)", line):
            figures["latency_ms"][f"p{m.group(1)}"] = to_ms(m.group(2))
        elif m := re.match(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", line):
            figures["latency_ms"]["mean"] = to_ms(m.group(1))
            figures["latency_ms"]["max"] = to_ms(m.group(3))
        elif m := re.match(r"Non-2xx or 3xx responses:\s+(\d+)", line):
            figures["non_2xx"] = int(m.group(1))
        elif m := re.match(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", line):
            figures["socket_errors"] = sum(int(g) for g in m.groups())
    if "requests_per_second" not in figures:
        raise ValueError("wrk printed no Requests/sec:\n" + output)
    return figures


def lua_script(tokens):
    """A wrk script that sends the requests with each token in turn, built once."""
    quoted = ", ".join(json.dumps(token) for token in tokens)
    return f"""local tokens = {{ {quoted} }}
local requests, next_one = {{}}, 0
function init(args)
  for i, token in ipairs(tokens) do
    requests[i] = wrk.format(nil, nil, {{ ["Authorization"] = "Bearer " .. token }})
  end
end
function request()
  next_one = next_one % #requests + 1
  return requests[next_one]
end
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--tokens", required=True, help="a file of access tokens, one a line")
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--routes", help="comma-separated names (default: all)")
    parser.add_argument("--commit", default="")
    parser.add_argument("--backends", default="embedded")
    args = parser.parse_args()

    chosen = ROUTES
    if args.routes:
        names = args.routes.split(",")
        unknown = set(names) - {name for name, _ in ROUTES}
        if unknown:
            parser.error(f"unknown routes {sorted(unknown)}")
        chosen = [route for route in ROUTES if route[0] in names]

    with open(args.tokens) as f:
        tokens = [line.strip() for line in f if line.strip()]
    if not tokens:
        sys.exit(f"no token in {args.tokens}")
    script = os.path.join(os.path.dirname(os.path.abspath(args.out)), ".wrk-tokens.lua")
    with open(script, "w") as f:
        f.write(lua_script(tokens))

    results, failed = [], False
    for name, path in chosen:
        command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
                   "--latency", "-s", script, args.url + path]
        before, started = cpu_seconds(args.server_pid), time.monotonic()
        run = subprocess.run(command, capture_output=True, text=True, check=False)
        cpu, wall = cpu_seconds(args.server_pid) - before, time.monotonic() - started
        if run.returncode != 0:
            print(run.stdout + run.stderr, file=sys.stderr)
            sys.exit(f"wrk exited with {run.returncode} on {path}")
        figures = parse(run.stdout)
        figures.update(route=name, path=path, server_cpu_seconds=round(cpu, 2),
                       wall_seconds=round(wall, 2),
                       server_cpus=round(cpu / wall, 3),
                       requests_per_server_cpu_second=round(figures["requests"] / max(cpu, 0.01)),
                       server_cpu_us_per_request=round(cpu * 1e6 / max(figures["requests"], 1), 1))
        bad = figures["non_2xx"] or figures["socket_errors"]
        failed |= bool(bad)
        results.append(figures)
        print(f"{path:32} {figures['requests_per_second']:>9,.0f}/s  "
              f"p50 {figures['latency_ms'].get('p50', 0):6.2f} ms  "
              f"p99 {figures['latency_ms'].get('p99', 0):6.2f} ms  "
              f"{figures['requests_per_server_cpu_second']:>7,} per server CPU-s  "
              f"({figures['server_cpu_us_per_request']} µs)"
              + ("  ERRORS" if bad else ""), flush=True)

    report = {
        "scenario": "wrk",
        "backends": args.backends,
        "commit": args.commit,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {"threads": args.threads, "connections": args.connections,
                     "learners": len(tokens),
                     "duration_seconds": args.duration, "cores": os.cpu_count()},
        "routes": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    os.remove(script)
    print(f"report: {args.out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
