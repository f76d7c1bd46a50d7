#!/usr/bin/env python3
"""Writes grafana/dashboards/*.json, QuestPath's Grafana dashboards, from the panel lists
below: the lists are short and reviewable, the JSON is what Grafana loads.

    python3 grafana/build_dashboards.py           # rewrite the JSON files
    python3 grafana/build_dashboards.py --check   # exit 1 if a file differs (CI)

Conventions every panel follows (scripts/observability/check_panels.py enforces them
and queries every expression against a real Prometheus):
- datasource `${datasource}` (a datasource variable; provisioning makes the pinned
  `prometheus` uid the default), on the panel and on each target;
- every selector carries `job=~"$job",instance=~"$instance"`;
- `rate`/`increase` windows are `$__rate_interval` or `$__range`, except in SLO panels
  whose description says "fixed window" (a burn rate is defined over its window);
- ratios whose numerator may have no series yet use `or ... * 0`, so they read 0 rather
  than "No data".
Standard library only.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"
SCOPE = 'job=~"$job",instance=~"$instance"'

# Matchers used inside f-strings (which cannot hold backslashes before Python 3.12).
S_5XX = 'status=~"5.."'
S_4XX_5XX = 'status=~"4..|5.."'
LE_SLO = 'le="0.25"'
PASSED = 'result="passed"'
GRADED = 'result=~"passed|failed"'
PROTECTION_CLOSES = 'reason=~"slow_consumer|rate_limited"'
NOT_OK = 'outcome!="ok"'
ERROR = 'outcome="error"'
HIT = 'result="hit"'
HIT_OR_MISS = 'result=~"hit|miss"'
ACCEPTED = 'outcome="accepted"'
OPEN_PHASES = 'phase!="ended"'

# The SLOs the overview and the alerts share (grafana/alerts/questpath.yml).
AVAILABILITY_SLO = 0.999  # non-5xx answers
LATENCY_SLO = 0.99  # answers within 250 ms
ERROR_BUDGET = round(1 - AVAILABILITY_SLO, 6)
LATENCY_BUDGET = round(1 - LATENCY_SLO, 6)


def m(name, extra=""):
    """A selector of `name` in the dashboard's job and instance (plus `extra` matchers)."""
    return f"{name}{{{SCOPE}{',' + extra if extra else ''}}}"


def rate(name, extra="", window=RI):
    return f"rate({m(name, extra)}[{window}])"


def quantile(q, bucket, by="", extra=""):
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) ({rate(bucket, extra)}))"


def http_error_ratio(window):
    errors = f'sum({rate("http_requests_total", S_5XX, window)})'
    total = f'sum({rate("http_requests_total", "", window)})'
    return f"({errors} or {total} * 0) / {total}"


def http_fast_ratio(window):
    fast = f'sum({rate("http_request_duration_seconds_bucket", LE_SLO, window)})'
    total = f'sum({rate("http_request_duration_seconds_count", "", window)})'
    return f"{fast} / {total}"


def http_slow_ratio(window):
    return f"1 - {http_fast_ratio(window)}"


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self):
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1
        self.panels = []

    def add(self, panel, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel = {"id": self.next_id, **panel, "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y}}
        self.next_id += 1
        self.x += w
        self.row_h = max(self.row_h, h)
        self.panels.append(panel)

    def row(self, title):
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        self.add({"type": "row", "title": title, "collapsed": False, "panels": []}, 24, 1)
        self.x, self.y, self.row_h = 0, self.y + 1, 0


def target(expr, legend="", ref="A", instant=False, table=False):
    t = {
        "refId": ref,
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }
    if table:
        t["format"] = "table"
    return t


def thresholds(steps):
    return {
        "mode": "absolute",
        "steps": [{"color": "green", "value": None}]
        + [{"color": c, "value": v} for v, c in steps],
    }


def timeseries(title, targets, unit="short", description="", stack=False, minimum=0):
    defaults = {
        "unit": unit,
        "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        },
        "thresholds": thresholds([]),
        "color": {"mode": "palette-classic"},
    }
    if minimum is not None:
        defaults["min"] = minimum
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(*t) if isinstance(t, tuple) else target(t) for t in targets],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(title, expr, unit="short", description="", steps=(), decimals=None):
    defaults = {"unit": unit, "thresholds": thresholds(list(steps)), "color": {"mode": "thresholds"}}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, instant=True)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
    }


def table(title, expr, description=""):
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, instant=True, table=True)],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"showHeader": True},
        "transformations": [
            {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True, "__name__": True}}}
        ],
    }


def dashboard(uid, title, description, layout):
    variables = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            # The uid grafana/provisioning/datasources/questpath.yaml pins.
            "current": {"selected": False, "text": "Prometheus", "value": "prometheus"},
            "hide": 0,
            "includeAll": False,
            "multi": False,
            "refresh": 1,
            "regex": "",
            "options": [],
        },
        {
            "name": "job",
            "label": "Job",
            "type": "query",
            "datasource": DS,
            "definition": "label_values(questpath_build_info, job)",
            "query": {"query": "label_values(questpath_build_info, job)", "refId": "job"},
            "current": {},
            "hide": 0,
            "includeAll": True,
            "allValue": ".+",
            "multi": True,
            "refresh": 2,
            "sort": 1,
            "regex": "",
            "options": [],
        },
        {
            "name": "instance",
            "label": "Instance",
            "type": "query",
            "datasource": DS,
            "definition": 'label_values(questpath_build_info{job=~"$job"}, instance)',
            "query": {"query": 'label_values(questpath_build_info{job=~"$job"}, instance)', "refId": "instance"},
            "current": {},
            "hide": 0,
            "includeAll": True,
            "allValue": ".+",
            "multi": True,
            "refresh": 2,
            "sort": 1,
            "regex": "",
            "options": [],
        },
    ]
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["questpath"],
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "timezone": "utc",
        "time": {"from": "now-3h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": variables},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "type": "dashboards",
                "tags": ["questpath"],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "title": "QuestPath",
            }
        ],
        "panels": layout.panels,
    }


# ---- overview ----------------------------------------------------------------------------


def overview():
    L = Layout()
    L.row("Service level")
    L.add(stat("Requests / s", f'sum({rate("http_requests_total")})', "reqps"), 4, 4)
    L.add(
        stat(
            "5xx ratio",
            http_error_ratio(RI),
            "percentunit",
            "Share of answers that were server errors. SLO: at most 0.1 %.",
            [(ERROR_BUDGET, "orange"), (ERROR_BUDGET * 10, "red")],
            decimals=3,
        ),
        4,
        4,
    )
    L.add(
        stat(
            "p99 latency",
            quantile(0.99, "http_request_duration_seconds_bucket"),
            "s",
            "SLO: 99 % of answers within 250 ms.",
            [(0.25, "orange"), (1, "red")],
        ),
        4,
        4,
    )
    L.add(
        stat(
            "Within 250 ms",
            http_fast_ratio(RI),
            "percentunit",
            "Share of answers within the 250 ms latency SLO (exact: a bucket ends at 0.25 s).",
            decimals=3,
        ),
        4,
        4,
    )
    L.add(
        stat(
            "Error budget left (30 d)",
            f"1 - ({http_error_ratio('30d')}) / {ERROR_BUDGET}",
            "percentunit",
            "Availability error budget (99.9 % non-5xx) left over a fixed window of 30 days; "
            "below 0 the SLO is broken.",
            [],
            decimals=1,
        ),
        4,
        4,
    )
    L.add(stat("Instances up", f'sum({m("up")})', "short"), 2, 4)
    L.add(stat("In flight", f'sum({m("http_requests_in_flight")})', "short"), 2, 4)

    L.row("Requests by route (RED)")
    L.add(
        timeseries(
            "Requests / s by route",
            [(f'sum by (route, method) ({rate("http_requests_total")})', "{{method}} {{route}}")],
            "reqps",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Errors / s by route and status",
            [
                (
                    f'sum by (route, status) ({rate("http_requests_total", S_4XX_5XX)})',
                    "{{status}} {{route}}",
                )
            ],
            "reqps",
            "4xx are the client's (refusals, validation, rate limits), 5xx ours.",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "p99 latency by route",
            [(quantile(0.99, "http_request_duration_seconds_bucket", "route"), "{{route}}")],
            "s",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Latency percentiles (all routes)",
            [
                (quantile(0.5, "http_request_duration_seconds_bucket"), "p50", "A"),
                (quantile(0.95, "http_request_duration_seconds_bucket"), "p95", "B"),
                (quantile(0.99, "http_request_duration_seconds_bucket"), "p99", "C"),
            ],
            "s",
        ),
        12,
        8,
    )

    L.row("Error budget")
    L.add(
        timeseries(
            "Availability burn rate",
            [
                (f"({http_error_ratio('5m')}) / {ERROR_BUDGET}", "5m", "A"),
                (f"({http_error_ratio('1h')}) / {ERROR_BUDGET}", "1h", "B"),
                (f"({http_error_ratio('6h')}) / {ERROR_BUDGET}", "6h", "C"),
            ],
            "short",
            "How fast the 0.1 % error budget burns over fixed windows (1 = exactly on budget). "
            "Pages at 14.4 (1 h and 5 m) or 6 (6 h and 30 m).",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Latency burn rate",
            [
                (f"({http_slow_ratio('5m')}) / {LATENCY_BUDGET}", "5m", "A"),
                (f"({http_slow_ratio('1h')}) / {LATENCY_BUDGET}", "1h", "B"),
                (f"({http_slow_ratio('6h')}) / {LATENCY_BUDGET}", "6h", "C"),
            ],
            "short",
            "How fast the latency budget (1 % of answers over 250 ms) burns over fixed windows.",
        ),
        12,
        8,
    )

    L.row("Process")
    L.add(timeseries("CPU", [(f'sum by (instance) ({rate("process_cpu_seconds_total")})', "{{instance}}")], "percentunit"), 8, 7)
    L.add(timeseries("Resident memory", [(f'sum by (instance) ({m("process_resident_memory_bytes")})', "{{instance}}")], "bytes"), 8, 7)
    L.add(
        timeseries(
            "Open file descriptors (of the limit)",
            [(f'sum by (instance) ({m("process_open_fds")}) / sum by (instance) ({m("process_max_fds")})', "{{instance}}")],
            "percentunit",
            "Every websocket holds one; near 1 new connections fail.",
        ),
        8,
        7,
    )
    L.add(
        table(
            "Builds running",
            f'sum by (instance, version, commit) ({m("questpath_build_info")})',
            "Version and commit per instance (questpath_build_info).",
        ),
        24,
        5,
    )
    return dashboard(
        "questpath-overview",
        "QuestPath / Overview",
        "Is it healthy and fast: requests, errors and latency per route, the SLOs' error budgets, process resources.",
        L,
    )


# ---- realtime ----------------------------------------------------------------------------


def realtime():
    L = Layout()
    L.row("Connections")
    L.add(stat("Open websockets", f'sum({m("questpath_ws_connections")})'), 6, 4)
    L.add(stat("Sessions", f'sum({m("questpath_sessions")})', description="Session actors (one per connected learner, kept 60 s after the last socket)."), 6, 4)
    L.add(stat("Connects / s", f'sum({rate("questpath_ws_connects_total")})', "ops"), 6, 4)
    L.add(stat("Disconnects / s", f'sum({rate("questpath_ws_disconnects_total")})', "ops"), 6, 4)
    L.add(
        timeseries(
            "Open websockets and sessions by instance",
            [
                (f'sum by (instance) ({m("questpath_ws_connections")})', "sockets {{instance}}", "A"),
                (f'sum by (instance) ({m("questpath_sessions")})', "sessions {{instance}}", "B"),
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Disconnects / s by reason",
            [(f'sum by (reason) ({rate("questpath_ws_disconnects_total")})', "{{reason}}")],
            "ops",
            "closed: the client said goodbye; abnormal: the connection broke; timeout: no heartbeat; "
            "slow_consumer: its queue filled (4008); rate_limited: flooding (4009); server_restart: a drain (1012).",
            stack=True,
        ),
        12,
        8,
    )
    L.row("Messages")
    L.add(
        timeseries(
            "Messages in / s by type",
            [(f'sum by (type) ({rate("questpath_ws_messages_received_total")})', "{{type}}")],
            "ops",
            stack=True,
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Messages out / s by type",
            [(f'sum by (type) ({rate("questpath_ws_messages_sent_total")})', "{{type}}")],
            "ops",
            stack=True,
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Handler latency p99 by type",
            [(quantile(0.99, "questpath_ws_message_handle_duration_seconds_bucket", "type"), "{{type}}")],
            "s",
            "From a frame's arrival to its session having handled it (mailbox wait included).",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Outgoing queue depth",
            [
                (quantile(0.5, "questpath_ws_outbound_queue_depth_bucket"), "p50", "A"),
                (quantile(0.99, "questpath_ws_outbound_queue_depth_bucket"), "p99", "B"),
            ],
            "short",
            "Messages still queued behind each one written. The queue holds 64; a full one closes the socket as a slow consumer.",
        ),
        12,
        8,
    )
    L.row("Protection")
    L.add(
        timeseries(
            "Slow-consumer and rate-limit closes / s",
            [
                (
                    f'sum by (reason) ({rate("questpath_ws_disconnects_total", PROTECTION_CLOSES)})',
                    "{{reason}}",
                )
            ],
            "ops",
        ),
        12,
        7,
    )
    L.add(
        timeseries(
            "Messages refused by the rate limit / s",
            [(f'sum({rate("questpath_ws_rate_limited_messages_total")})', "refused")],
            "ops",
            "Each is answered with an error; 20 in a row close the socket.",
        ),
        12,
        7,
    )
    L.row("Rooms")
    L.add(
        timeseries(
            "Players in rooms by instance",
            [(f'sum by (instance) ({m("questpath_room_players")})', "{{instance}}")],
            "short",
            "Connected players in the rooms whose actor runs on the instance (their sockets may be on any instance).",
        ),
        12,
        7,
    )
    L.add(
        timeseries(
            "Question fan-out p99 by instance",
            [(quantile(0.99, "questpath_room_fanout_seconds_bucket", "instance"), "{{instance}}")],
            "s",
            "From a room actor publishing a question to the instance having queued it for all its local "
            "sockets of that room. The game economy dashboard has the rest of the rooms.",
        ),
        12,
        7,
    )
    return dashboard(
        "questpath-realtime",
        "QuestPath / Realtime",
        "Websockets and sessions: connections, messages, queues, handler latency and why sockets close.",
        L,
    )


# ---- game economy ------------------------------------------------------------------------


def game():
    L = Layout()
    L.row("Quizzes")
    L.add(stat("Quizzes started", f'sum(increase({m("questpath_quizzes_started_total")}[$__range]))', description="In the dashboard's time range."), 6, 4)
    L.add(
        stat(
            "Pass rate",
            f'sum(increase({m("questpath_quizzes_finished_total", PASSED)}[$__range])) / '
            f'sum(increase({m("questpath_quizzes_finished_total", GRADED)}[$__range]))',
            "percentunit",
            "Passed among graded quizzes (abandoned ones excluded), in the time range.",
        ),
        6,
        4,
    )
    L.add(stat("XP granted", f'sum(increase({m("questpath_xp_granted_total")}[$__range]))', description="In the time range."), 6, 4)
    L.add(stat("Level-ups", f'sum(increase({m("questpath_level_ups_total")}[$__range]))', description="In the time range."), 6, 4)
    L.add(
        timeseries(
            "Quizzes / s",
            [
                (f'sum({rate("questpath_quizzes_started_total")})', "started", "A"),
                (f'sum by (result) ({rate("questpath_quizzes_finished_total")})', "{{result}}", "B"),
            ],
            "ops",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Time to answer",
            [
                (quantile(0.5, "questpath_quiz_answer_time_seconds_bucket"), "p50", "A"),
                (quantile(0.9, "questpath_quiz_answer_time_seconds_bucket"), "p90", "B"),
            ],
            "s",
            "From a question opening to the answer being accepted (the learner's thinking time).",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Answer to feedback p99",
            [(quantile(0.99, "questpath_quiz_feedback_duration_seconds_bucket"), "p99")],
            "s",
            "From an answer's arrival to its feedback being queued for the learner's sockets.",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Late answers and timed-out questions / s",
            [
                (f'sum({rate("questpath_quiz_late_answers_total")})', "late answers", "A"),
                (f'sum({rate("questpath_quiz_questions_timed_out_total")})', "timed out", "B"),
            ],
            "ops",
        ),
        12,
        8,
    )
    L.row("XP flow")
    L.add(
        timeseries(
            "XP / s by source",
            [(f'sum by (source) ({rate("questpath_xp_granted_total")})', "{{source}}")],
            "short",
            "XP written to the ledger (once per grant; retries do not count).",
            stack=True,
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Level-ups / s",
            [(f'sum({rate("questpath_level_ups_total")})', "level-ups")],
            "ops",
        ),
        12,
        8,
    )
    L.add(
        stat(
            "Stale XP marks dropped",
            f'sum(increase({m("questpath_xp_pending_dropped_total")}[$__range]))',
            description=(
                "Pending XP marks older than QUESTPATH_XP_PENDING_STALE_SECS whose grant never "
                "reached the ledger, dropped by recovery (each also logged as a warning). "
                "Anything but 0 is worth a look: run `questpath audit xp`."
            ),
            steps=((1, "orange"),),
        ),
        6,
        4,
    )
    L.row("Rooms")
    L.add(
        stat(
            "Rooms running",
            f'sum({m("questpath_rooms", OPEN_PHASES)})',
            description="Rooms in the lobby or playing, on all instances.",
        ),
        6,
        4,
    )
    L.add(stat("Players in rooms", f'sum({m("questpath_room_players")})', description="Connected players, on all instances."), 6, 4)
    L.add(
        stat(
            "Rooms created",
            f'sum(increase({m("questpath_rooms_created_total")}[$__range]))',
            description="In the time range.",
        ),
        6,
        4,
    )
    L.add(
        stat(
            "Room answers accepted",
            f'sum(increase({m("questpath_room_answers_total", ACCEPTED)}[$__range])) / '
            f'sum(increase({m("questpath_room_answers_total")}[$__range]))',
            "percentunit",
            "Accepted among all answers sent to rooms, in the time range; the rest were refused "
            "(late, twice, wrong question...).",
        ),
        6,
        4,
    )
    L.add(
        timeseries(
            "Rooms by phase",
            [(f'sum by (phase) ({m("questpath_rooms")})', "{{phase}}")],
            "short",
            "Room actors by phase: lobby (waiting for the host to start), question (one open), "
            "reveal (between questions), ended (results being saved).",
            stack=True,
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Players in rooms",
            [(f'sum({m("questpath_room_players")})', "players")],
            "short",
            "Connected players seated in rooms (hosts not counted).",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Rooms created and ended / s",
            [
                (f'sum({rate("questpath_rooms_created_total")})', "created", "A"),
                (f'sum by (reason) ({rate("questpath_rooms_ended_total")})', "ended: {{reason}}", "B"),
            ],
            "ops",
            "finished: played to the end; ended_by_host; host_left: the host did not come back in time; "
            "abandoned: nobody connected.",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Room answers / s by outcome",
            [(f'sum by (outcome) ({rate("questpath_room_answers_total")})', "{{outcome}}")],
            "ops",
            "accepted, or the error code it was refused with (late_answer, already_answered, wrong_question, "
            "joined_late, paused...).",
            stack=True,
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Question fan-out",
            [
                (quantile(0.5, "questpath_room_fanout_seconds_bucket"), "p50", "A"),
                (quantile(0.99, "questpath_room_fanout_seconds_bucket"), "p99", "B"),
            ],
            "s",
            "From a room actor publishing a question to an instance having queued it for all its local "
            "players (wall clocks: between instances their skew counts too). "
            "Alert QuestpathRoomFanoutSlow: p99 over 200 ms for 10 minutes.",
        ),
        24,
        8,
    )
    L.row("Engagement")
    L.add(
        timeseries(
            "Streak days / h",
            [
                (f'sum(increase({m("questpath_daily_goals_reached_total")}[1h]))', "days kept", "A"),
                (f'sum(increase({m("questpath_streaks_broken_total")}[1h]))', "streaks broken", "B"),
                (f'sum(increase({m("questpath_streak_freezes_used_total")}[1h]))', "freezes used", "C"),
                (f'sum(increase({m("questpath_streak_at_risk_notices_total")}[1h]))', "at-risk notices", "D"),
            ],
            "short",
            "Learners' local days that reached the daily goal, streaks lost to a missed day, freezes "
            "that saved one, and evening reminders, per hour (a fixed window: these come once a day per "
            "learner, so a rate per second reads as noise). A broken streak is counted at the learner's "
            "next write.",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "League moves per week",
            [
                (f'sum by (move) (increase({m("questpath_league_moves_total")}[7d]))', "{{move}}", "A"),
                (f'sum(increase({m("questpath_league_cohorts_formed_total")}[7d]))', "cohorts formed", "B"),
            ],
            "short",
            "Learners promoted, demoted or kept when their week was decided (Monday, minutes after 00:00 "
            "UTC), and cohorts opened as learners arrived, over the last 7 days (a fixed window: one "
            "league week).",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Notifications / s by kind",
            [(f'sum by (kind) ({rate("questpath_notifications_created_total")})', "{{kind}}")],
            "ops",
            "In-app notifications created (a repeat of a dedupe key is not counted).",
            stack=True,
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Emails / s",
            [
                (f'sum by (kind) ({rate("questpath_emails_sent_total")})', "sent {{kind}}", "A"),
                (f'sum by (failure) ({rate("questpath_emails_failed_total")})', "failed ({{failure}})", "B"),
                (f'sum({rate("questpath_emails_dead_lettered_total")})', "dead-lettered", "C"),
            ],
            "ops",
            "Mails handed to the SMTP server (or the outbox); transient failures are retried with backoff, "
            "then dead-lettered; permanent ones (5xx, bad address) are not retried.",
        ),
        12,
        8,
    )
    return dashboard(
        "questpath-game",
        "QuestPath / Game economy",
        "Is the game economy sane: quizzes, pass rate, answer times, XP flow, level-ups, multiplayer rooms, "
        "and what brings learners back (streaks, leagues, notifications, email).",
        L,
    )


# ---- dependencies ------------------------------------------------------------------------


def dependencies():
    L = Layout()
    L.row("Store")
    L.add(
        timeseries(
            "Store operations / s by operation",
            [(f'sum by (operation) ({rate("questpath_store_operations_total")})', "{{operation}}")],
            "ops",
            stack=True,
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Store p99 by operation",
            [(quantile(0.99, "questpath_store_operation_duration_seconds_bucket", "operation"), "{{operation}}")],
            "s",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Store errors and conflicts / s",
            [
                (
                    f'sum by (operation, outcome) ({rate("questpath_store_operations_total", NOT_OK)}) '
                    f'or sum({rate("questpath_store_operations_total")}) * 0',
                    "{{outcome}} {{operation}}",
                )
            ],
            "ops",
            "conflict is a refused duplicate (an email taken): normal. unavailable and error are failures.",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Store queries per request p95 by route",
            [(quantile(0.95, "questpath_store_queries_per_request_bucket", "route"), "{{route}}")],
            "short",
            "Store operations one HTTP request makes; a route whose count grows with data is an N+1.",
        ),
        12,
        8,
    )
    L.row("Redis")
    L.add(
        timeseries(
            "Redis operations / s by port and outcome",
            [(f'sum by (port, outcome) ({rate("questpath_redis_operations_total")})', "{{port}} {{outcome}}")],
            "ops",
            stack=True,
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Redis p99 by port",
            [
                (
                    quantile(0.99, "questpath_redis_operation_duration_seconds_bucket", "port", 'operation!="claim"'),
                    "{{port}}",
                )
            ],
            "s",
            "The job queue's claim is left out: it waits up to 2 s for a job on purpose.",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Redis errors / s",
            [
                (
                    f'sum by (port, operation) ({rate("questpath_redis_operations_total", ERROR)}) '
                    f'or sum({rate("questpath_redis_operations_total")}) * 0',
                    "{{port}} {{operation}}",
                )
            ],
            "ops",
        ),
        12,
        8,
    )
    L.row("Cache")
    L.add(
        timeseries(
            "Cache hit ratio by cache",
            [
                (
                    f'sum by (cache) ({rate("questpath_cache_requests_total", HIT)}) / '
                    f'sum by (cache) ({rate("questpath_cache_requests_total", HIT_OR_MISS)})',
                    "{{cache}}",
                )
            ],
            "percentunit",
            "ws-ticket and quiz reads are one-time or resume reads: low ratios there are expected.",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Cache reads / s by cache and result",
            [(f'sum by (cache, result) ({rate("questpath_cache_requests_total")})', "{{cache}} {{result}}")],
            "ops",
            stack=True,
        ),
        12,
        8,
    )
    L.row("Jobs and limits")
    L.add(
        timeseries(
            "Job queue depth",
            [(f'max by (queue) ({m("questpath_job_queue_depth")})', "{{queue}}")],
            "short",
            "Jobs waiting, sampled by every instance at scrape time (the queue is shared: max, not sum).",
        ),
        8,
        8,
    )
    L.add(
        timeseries(
            "Job attempts / s by outcome",
            [(f'sum by (outcome) ({rate("questpath_job_duration_seconds_count")})', "{{outcome}}")],
            "ops",
            stack=True,
        ),
        8,
        8,
    )
    L.add(
        timeseries(
            "Job duration p90 by outcome",
            [(quantile(0.9, "questpath_job_duration_seconds_bucket", "outcome"), "{{outcome}}")],
            "s",
        ),
        8,
        8,
    )
    L.add(
        timeseries(
            "Dead-lettered jobs (in the range)",
            [(f'sum by (queue) (increase({m("questpath_jobs_dead_lettered_total")}[$__range]))', "{{queue}}")],
            "short",
            "Jobs that used up their attempts: each is a learner's goal that was never generated.",
        ),
        8,
        8,
    )
    L.add(
        timeseries(
            "Rate-limit rejections / s by limit",
            [(f'sum by (limit) ({rate("rate_limited_total")})', "{{limit}}")],
            "reqps",
            stack=True,
        ),
        8,
        8,
    )
    L.add(
        timeseries(
            "Rate limiter failures / s",
            [(f'sum({rate("rate_limiter_failures_total")})', "failures")],
            "ops",
            "Checks the limiter (Redis) could not answer; QUESTPATH_RATE_LIMIT_FAILURE decided.",
        ),
        8,
        8,
    )
    return dashboard(
        "questpath-dependencies",
        "QuestPath / Dependencies",
        "What the server depends on: store, Redis, caches, the generation job queue and rate limits.",
        L,
    )


DASHBOARDS = {
    "overview.json": overview,
    "realtime.json": realtime,
    "game-economy.json": game,
    "dependencies.json": dependencies,
}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    OUT.mkdir(exist_ok=True)
    for name, build in DASHBOARDS.items():
        rendered = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        path = OUT / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != rendered:
                stale.append(name)
        else:
            path.write_text(rendered, encoding="utf-8")
    if stale:
        print(
            "grafana/dashboards out of date: " + ", ".join(stale)
            + " (run python3 grafana/build_dashboards.py)",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
