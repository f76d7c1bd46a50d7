#!/usr/bin/env python3
"""What the backends did during a load run, for docs/capacity.md (issue 16, point 6).

    backend_stats.py snapshot --pid NAME=PID ... --redis HOST:PORT ... --cql ADDR ... > s.json
    backend_stats.py diff A.json B.json [--ops NAME=COUNT ...]
    backend_stats.py probe --url URL --learners N [snapshot options] > probe.json

`snapshot` records, at one moment:
  - the CPU time (user + system) of each named process, from /proc/PID/stat;
  - for each Redis node, `INFO cpu` and `INFO commandstats` (calls and microseconds per
    command, measured by Redis itself);
  - for each CQL node (Cassandra 4.1 or later), from its `system_views`: the replica
    (local) reads, writes and scans and the coordinator reads and writes it served, per
    keyspace, and the tasks its read and mutation stages completed. Paxos (lightweight
    transactions) writes its state to `system.paxos`, so those rows count the LWT rounds.

`diff` turns two snapshots into rates and per-operation costs: CPU seconds per second
per process group, Redis microseconds and calls per command, replica operations per
CQL core-second. `--ops` names what the load did between them (for example
`quiz_answers=12345`), and every CPU figure is also given per one of those operations.

`probe` measures the unit costs a mixed run cannot separate, through the given URL
(nginx in front of the instances): it signs up `--learners` learners and readies a level
for each (outside the measurement), then, each measured between two snapshots, refreshes
every learner's session once and passes every learner's level once (the quiz handed out
and a passing submit, which grants XP: a level pass with its grant).

The CQL counters need the Python driver (`cassandra-driver` from PyPI); chaos.sh
installs it into .services/cql-venv and runs this file with that Python.
"""

import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
import uuid

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- snapshots ----------------------------------------------------------------------


def process_cpu(pid):
    """CPU seconds (user + system) of a process and its waited-for children, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime 14, stime 15 (1-based, man proc).
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def redis_info(host, port, section):
    """One `INFO section` of a Redis node, as a dict of its lines."""
    with socket.create_connection((host, port), timeout=5) as s:
        command = f"*2\r\n$4\r\nINFO\r\n${len(section)}\r\n{section}\r\n".encode()
        s.sendall(command)
        data = b""
        while b"\r\n" not in data:
            data += s.recv(65536)
        header, rest = data.split(b"\r\n", 1)
        if not header.startswith(b"$"):
            raise RuntimeError(f"INFO {section} on {host}:{port}: {header!r}")
        length = int(header[1:])
        while len(rest) < length:
            rest += s.recv(65536)
    out = {}
    for line in rest[:length].decode().splitlines():
        if ":" in line and not line.startswith("#"):
            key, value = line.split(":", 1)
            out[key] = value
    return out


def redis_snapshot(address):
    host, port = address.rsplit(":", 1)
    cpu = redis_info(host, int(port), "cpu")
    commands = {}
    for key, value in redis_info(host, int(port), "commandstats").items():
        # cmdstat_evalsha:calls=1,usec=2,usec_per_call=2.00,rejected_calls=0,failed_calls=0
        name = key.removeprefix("cmdstat_")
        fields = dict(part.split("=", 1) for part in value.split(","))
        commands[name] = {"calls": int(fields["calls"]), "usec": int(fields["usec"])}
    return {
        "cpu_seconds": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
        "commands": commands,
    }


def cql_snapshot(addresses, keyspace):
    # Only this mode needs the driver.
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile  # noqa: PLC0415
    from cassandra.policies import WhiteListRoundRobinPolicy  # noqa: PLC0415

    nodes = {}
    for address in addresses:
        host, _, port = address.partition(":")
        # This node's own counters: every query goes to it and to no other.
        only_this = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([host]))
        cluster = Cluster(
            [host],
            port=int(port or 9042),
            execution_profiles={EXEC_PROFILE_DEFAULT: only_this},
            protocol_version=5,
        )
        session = cluster.connect()
        counts = {}
        for table in (
            "local_read_latency",
            "local_write_latency",
            "local_scan_latency",
            "coordinator_read_latency",
            "coordinator_write_latency",
        ):
            rows = session.execute(
                f"SELECT keyspace_name, table_name, count FROM system_views.{table}"
            )
            for row in rows:
                if row.keyspace_name == keyspace:
                    group = keyspace
                elif (row.keyspace_name, row.table_name) == ("system", "paxos"):
                    group = "paxos"
                else:
                    continue
                key = f"{table}:{group}"
                counts[key] = counts.get(key, 0) + int(row.count)
        for row in session.execute("SELECT name, completed_tasks FROM system_views.thread_pools"):
            if row.name in ("ReadStage", "MutationStage", "Native-Transport-Requests"):
                counts[f"stage:{row.name}"] = int(row.completed_tasks)
        cluster.shutdown()
        nodes[address] = counts
    return nodes


def snapshot(args):
    taken = {"at": time.time(), "cpu": {}, "redis": {}, "cql": {}}
    for item in args.pid or []:
        name, pid = item.split("=", 1)
        taken["cpu"][name] = process_cpu(int(pid))
    for address in args.redis or []:
        taken["redis"][address] = redis_snapshot(address)
    if args.cql:
        taken["cql"] = cql_snapshot(args.cql, args.keyspace)
    return taken


# --- differences --------------------------------------------------------------------


def group_of(name):
    """`server-1` and `server-2` are both `server`: CPU is summed per group."""
    return name.rsplit("-", 1)[0] if name.rsplit("-", 1)[-1].isdigit() else name


def diff(a, b, ops):
    seconds = b["at"] - a["at"]
    out = {"seconds": round(seconds, 3), "ops": ops, "cpu_seconds": {}, "cores_busy": {}}
    for name, end in b["cpu"].items():
        start = a["cpu"].get(name)
        if start is None or end is None:
            continue  # restarted or gone: left out rather than wrong
        group = group_of(name)
        out["cpu_seconds"][group] = out["cpu_seconds"].get(group, 0.0) + (end - start)
    redis_cpu = sum(
        b["redis"][n]["cpu_seconds"] - a["redis"][n]["cpu_seconds"]
        for n in b["redis"]
        if n in a["redis"]
    )
    if b["redis"]:
        out["cpu_seconds"]["redis"] = redis_cpu
    calls = {}
    for node, snap in b["redis"].items():
        before = a["redis"].get(node, {"commands": {}})["commands"]
        for command, c in snap["commands"].items():
            was = before.get(command, {"calls": 0, "usec": 0})
            entry = calls.setdefault(command, {"calls": 0, "usec": 0})
            entry["calls"] += c["calls"] - was["calls"]
            entry["usec"] += c["usec"] - was["usec"]
    out["redis_commands"] = {
        command: {
            "calls": c["calls"],
            "per_second": round(c["calls"] / seconds, 1),
            "usec_per_call": round(c["usec"] / c["calls"], 2) if c["calls"] else None,
            "share_of_redis_command_time": None,
        }
        for command, c in sorted(calls.items(), key=lambda kv: -kv[1]["usec"])
        if c["calls"] > 0
    }
    total_usec = sum(c["usec"] for c in calls.values())
    for command, c in calls.items():
        if command in out["redis_commands"] and total_usec:
            out["redis_commands"][command]["share_of_redis_command_time"] = round(
                c["usec"] / total_usec, 3
            )
    out["redis_command_seconds"] = round(total_usec / 1e6, 3)
    cql = {}
    for node, counts in b["cql"].items():
        before = a["cql"].get(node, {})
        for key, value in counts.items():
            cql[key] = cql.get(key, 0) + value - before.get(key, 0)
    out["cql"] = cql
    if cql:
        replica = sum(v for k, v in cql.items() if k.startswith("local_"))
        out["cql_replica_ops"] = replica
        out["cql_replica_ops_per_second"] = round(replica / seconds, 1)
        cassandra_cpu = out["cpu_seconds"].get("cassandra")
        if cassandra_cpu:
            out["cql_replica_ops_per_cpu_second"] = round(replica / cassandra_cpu, 1)
    for group, cpu in out["cpu_seconds"].items():
        out["cores_busy"][group] = round(cpu / seconds, 3)
        out["cpu_seconds"][group] = round(cpu, 3)
    out["cpu_us_per_op"] = {
        op: {
            group: round(cpu * 1e6 / count, 1)
            for group, cpu in out["cpu_seconds"].items()
        }
        for op, count in ops.items()
        if count
    }
    return out


# --- the probe ----------------------------------------------------------------------


class Api:
    """A keep-alive HTTP/1.1 client for one thread."""

    def __init__(self, url):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port or 80

    def call(self, method, path, token=None, body=None, cookie=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie:
            headers["Cookie"] = f"refresh_token={cookie}"
        payload = json.dumps(body).encode() if body is not None else None
        for attempt in range(3):
            connection = getattr(self, "_connection", None)
            if connection is None:
                connection = self._connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=30
                )
            try:
                connection.request(method, path, body=payload, headers=headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                connection.close()
                self._connection = None
                if attempt == 2:
                    raise
        set_cookie = None
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("refresh_token="):
                set_cookie = value.split(";", 1)[0].split("=", 1)[1]
        parsed = json.loads(data) if data else None
        return response.status, parsed, set_cookie


def expect(status, wanted, what, body):
    if status != wanted:
        raise RuntimeError(f"{what}: {status} {body}")


def ready_learner(api, run):
    """A new learner whose first level has every topic ticked: its token and cookie."""
    email = f"probe-{run}-{uuid.uuid4().hex[:12]}@example.com"
    status, body, cookie = api.call(
        "POST",
        "/api/v1/auth/register",
        body={"email": email, "password": "probe-password-123"},
    )
    expect(status, 201, "register", body)
    token = body["access_token"]
    status, body, _ = api.call(
        "POST", "/api/v1/goals", token, {"description": "Learn web development"}
    )
    expect(status, 202, "goal", body)
    job_id = body["job"]["id"]
    deadline = time.time() + 60
    while True:
        status, job, _ = api.call("GET", f"/api/v1/jobs/{job_id}", token)
        expect(status, 200, "job", job)
        if job["status"] == "done":
            break
        if job["status"] == "failed" or time.time() > deadline:
            raise RuntimeError(f"goal generation: {job}")
        time.sleep(0.05)
    goal_id = job["goal_id"]
    status, goal, _ = api.call("GET", f"/api/v1/goals/{goal_id}", token)
    expect(status, 200, "goal read", goal)
    level = goal["roadmap"]["levels"][0]
    for i in range(len(level["topics"])):
        status, body, _ = api.call(
            "PUT", f"/api/v1/levels/{level['id']}/topics/{i}", token, {"completed": True}
        )
        expect(status, 200, "topic", body)
    return {"token": token, "cookie": cookie, "level_id": level["id"]}


def in_threads(items, work, threads):
    """Runs `work(api, item)` for every item over `threads` threads; the results in order."""
    results = [None] * len(items)
    errors = []
    next_index = iter(range(len(items)))
    lock = threading.Lock()

    def run():
        api = Api(URL)
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            try:
                results[i] = work(api, items[i])
            except Exception as e:  # noqa: BLE001 (reported, counted)
                errors.append(str(e))

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        print(f"{len(errors)} errors, first: {errors[0]}", file=sys.stderr)
    return results, errors


def refresh(api, learner):
    status, body, cookie = api.call("POST", "/api/v1/auth/refresh", cookie=learner["cookie"])
    expect(status, 200, "refresh", body)
    learner["cookie"] = cookie or learner["cookie"]
    return True


def pass_level(api, learner):
    level = learner["level_id"]
    status, body, _ = api.call("GET", f"/levels/{level}/quiz", learner["token"])
    expect(status, 200, "quiz", body)
    status, body, _ = api.call(
        "POST",
        f"/levels/{level}/quiz/submit",
        learner["token"],
        {"score": 100, "passed": True, "time_taken": 30},
    )
    expect(status, 200, "submit", body)
    return body["xp_earned"]


READS = ("/api/v1/me", "/api/v1/leaderboards/alltime", "/api/v1/goals")


def read(api, item):
    learner, route = item
    status, body, _ = api.call("GET", route, learner["token"])
    expect(status, 200, route, body)
    return True


def write(api, item):
    learner, i = item
    status, body, _ = api.call(
        "PATCH", "/api/v1/me", learner["token"], {"display_name": f"Probe learner {i}"}
    )
    expect(status, 200, "PATCH /api/v1/me", body)
    return True


def probe(args):
    global URL
    URL = args.url
    run = uuid.uuid4().hex[:8]
    t0 = time.time()
    learners, errors = in_threads(
        list(range(args.learners)), lambda api, _: ready_learner(api, run), args.threads
    )
    learners = [learner for learner in learners if learner]
    out = {
        "url": args.url,
        "learners": len(learners),
        "setup_errors": len(errors),
        "setup_seconds": round(time.time() - t0, 1),
        "threads": args.threads,
        "phases": {},
    }
    # What the deployment burns doing nothing (heartbeats, gossip, compaction, leases),
    # taken off the phases below: they are short, so it would weigh on every figure.
    before = snapshot(args)
    time.sleep(args.idle_seconds)
    idle = diff(before, snapshot(args), {})
    out["idle"] = idle
    rounds = [learners] * args.refresh_rounds
    reads = [(learner, route) for route in READS for learner in learners] * 3
    writes = [(learner, i) for i in range(3) for learner in learners]
    for name, items, work, op in (
        ("rest_read", reads, read, "rest_reads"),
        ("rest_write", writes, write, "rest_writes"),
        ("refresh", [l for r in rounds for l in r], refresh, "refreshes"),
        ("level_pass", learners, pass_level, "level_passes"),
    ):
        before = snapshot(args)
        results, errors = in_threads(items, work, args.threads)
        after = snapshot(args)
        done = sum(1 for r in results if r is not None)
        phase = diff(before, after, {op: done})
        phase["errors"] = len(errors)
        phase["net_cpu_us_per_op"] = net_of_idle(phase, idle, op, done)
        if name == "level_pass":
            phase["xp_granted"] = sum(r for r in results if r)
            phase["grants"] = sum(1 for r in results if r)
        out["phases"][name] = phase
    return out


def net_of_idle(phase, idle, op, count):
    """CPU microseconds per operation once the idle rate over the same time is taken off."""
    if not count:
        return {}
    return {
        group: round(
            max(cpu - idle["cores_busy"].get(group, 0.0) * phase["seconds"], 0.0) * 1e6 / count,
            1,
        )
        for group, cpu in phase["cpu_seconds"].items()
    }


URL = None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)

    def add_sources(p):
        p.add_argument("--pid", action="append", help="NAME=PID (NAME-N sums into NAME)")
        p.add_argument("--redis", action="append", help="HOST:PORT of a Redis node")
        p.add_argument("--cql", action="append", help="ADDRESS[:PORT] of a CQL node")
        p.add_argument("--keyspace", default="questpath")

    add_sources(sub.add_parser("snapshot"))
    d = sub.add_parser("diff")
    d.add_argument("before")
    d.add_argument("after")
    d.add_argument("--ops", action="append", default=[], help="NAME=COUNT")
    p = sub.add_parser("probe")
    add_sources(p)
    p.add_argument("--url", required=True)
    p.add_argument("--learners", type=int, default=200)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--refresh-rounds", type=int, default=3)
    p.add_argument("--idle-seconds", type=float, default=10)
    args = parser.parse_args()

    if args.mode == "snapshot":
        json.dump(snapshot(args), sys.stdout)
    elif args.mode == "diff":
        with open(args.before) as f:
            a = json.load(f)
        with open(args.after) as f:
            b = json.load(f)
        ops = {k: int(v) for k, v in (item.split("=", 1) for item in args.ops)}
        json.dump(diff(a, b, ops), sys.stdout, indent=2)
    else:
        json.dump(probe(args), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
