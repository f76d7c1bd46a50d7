#!/usr/bin/env python3
"""Password sign-ins and the server's resident memory (issue 17: bounded argon2 memory).

    signin_memory.py --url URL --pid PID [--sign-ins 1000] [--accounts 50] [--concurrency 32]

Registers `--accounts` learners (outside the measurement), then signs them in
`--sign-ins` times in all, `--concurrency` at a time, each from its own address
(`X-Forwarded-For`; the server must trust the client's address as a proxy, or have
generous sign-in limits). Samples the server's resident set (VmRSS of PID) every 50 ms
and prints JSON: the resident set before, at its peak and after (each once it stops falling), the growth left behind
against the bound `cores x 19 MiB`, sign-ins per second, and the server's CPU per
sign-in and cores busy (one hash per core is the most it may use).
"""

import argparse
import http.client
import json
import os
import subprocess
import threading
import time
import urllib.parse
import uuid

ARGON2_MIB = 19  # m = 19,456 KiB (src/auth/password.rs)


def settled_rss(pid, quiet=12.0, longest=40.0):
    """The resident set once it stops falling (no drop over 1 MiB within `quiet` seconds,
    `longest` at most), and the seconds that took: an idle blocking-pool thread exits
    after 10 s, and the allocator gives its cached blocks back then."""
    t0 = time.time()
    samples = [(t0, rss_bytes(pid))]
    while time.time() - t0 < longest:
        time.sleep(0.5)
        now = time.time()
        samples.append((now, rss_bytes(pid)))
        window = [rss for at, rss in samples if now - at <= quiet]
        if now - t0 >= quiet and max(window) - window[-1] < 2**20 and window[0] - window[-1] < 2**20:
            break
    return samples[-1][1], round(samples[-1][0] - t0, 1)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def call(connection, method, path, body, address):
    headers = {"Content-Type": "application/json", "X-Forwarded-For": address}
    connection.request(method, path, body=json.dumps(body).encode(), headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--sign-ins", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    parsed = urllib.parse.urlsplit(args.url)
    connect = lambda: http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=60)  # noqa: E731

    password = "signin-memory-password-1"
    accounts = [f"signin-{uuid.uuid4().hex[:12]}@example.com" for _ in range(args.accounts)]
    c = connect()
    for i, email in enumerate(accounts):
        status = call(c, "POST", "/api/v1/auth/register", {"email": email, "password": password},
                      f"10.1.{i // 250}.{i % 250 + 1}")
        if status != 201:
            raise SystemExit(f"register: {status}")
    c.close()
    before, settled_before = settled_rss(args.pid)  # the registrations' memory

    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes(args.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    counter = iter(range(args.sign_ins))
    lock = threading.Lock()
    statuses = {}

    def worker():
        connection = connect()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            address = f"10.{2 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}"
            status = call(connection, "POST", "/api/v1/auth/login",
                          {"email": accounts[i % len(accounts)], "password": password}, address)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    t0 = time.time()
    cpu0 = cpu_seconds(args.pid)
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    cpu = cpu_seconds(args.pid) - cpu0
    after, settled_after = settled_rss(args.pid)
    done.set()
    sampler.join()
    cores = os.cpu_count() or 1
    bound = cores * ARGON2_MIB * 1024 * 1024
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                            text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    with open("/proc/loadavg") as f:
        load_average = f.read().strip()
    print(json.dumps({
        "tool": "load-tests/signin_memory.py",
        "scenario": "signin-memory",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
        "commit": commit or None,
        "url": args.url,
        "machine": {"cpus": os.cpu_count(), "load_average": load_average},
        "sign_ins": args.sign_ins,
        "statuses": statuses,
        "concurrency": args.concurrency,
        "seconds": round(elapsed, 2),
        "sign_ins_per_second": round(args.sign_ins / elapsed, 1),
        "server_cpu_ms_per_sign_in": round(cpu * 1000 / args.sign_ins, 2),
        "server_cores_busy": round(cpu / elapsed, 2),
        "cores": cores,
        "rss_before_mib": round(before / 2**20, 1),
        "rss_peak_mib": round(peak[0] / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "settled_seconds_before_and_after": [settled_before, settled_after],
        "growth_after_mib": round((after - before) / 2**20, 1),
        "growth_peak_mib": round((peak[0] - before) / 2**20, 1),
        "bound_mib": round(bound / 2**20, 1),
        # What the issue bounds: the resident set the sign-ins leave behind.
        "left_within_bound": after - before <= bound,
    }, indent=2))


if __name__ == "__main__":
    main()
