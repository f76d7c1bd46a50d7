#!/usr/bin/env python3
"""A short, bounded load on a QuestPath server, so every dashboard panel has data.

    load.py BASE_URL [--seconds N]

Standard library only (HTTP with urllib, the websocket by hand: RFC 6455 framing is a
few lines). What it does, in order, then reads in a loop until the time is up:
- health, readiness, an unknown path (404), a bad request;
- registers learners, one email twice (a store conflict), signs in, one wrong password;
- asks for goals and waits for their generation jobs; reads goals twice (cache miss,
  then hit) and stats;
- ticks every topic of the first level, then plays its quiz over a websocket, learning
  the answers from the feedback until it passes (XP, a level-up); abandons one quiz,
  sends a ping and a malformed frame;
- plays a multiplayer room: one learner hosts (custom questions, guests allowed), one
  learner and one guest play; start, answers (one refused as a duplicate), next, end;
- registers past the per-IP limit until a 429.
Exits non-zero if the server does not behave as expected, so a broken server cannot
pass as "a load ran".
"""

import argparse
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


class Http:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def call(self, method, path, body=None, token=None, expect=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        if expect is not None and status not in (expect if isinstance(expect, tuple) else (expect,)):
            raise SystemExit(f"load: {method} {path} answered {status}, expected {expect}: {raw[:300]!r}")
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


class WebSocket:
    """A minimal client of RFC 6455: text frames, masked, no extensions."""

    def __init__(self, base, path, protocol):
        url = urllib.parse.urlparse(base)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise SystemExit("load: websocket handshake: connection closed")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise SystemExit(f"load: websocket handshake refused: {head[:200]!r}")

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("load: websocket closed by the server")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _send_frame(self, opcode, payload):
        # The server allows 10 messages a second per connection (burst 20): stay under.
        time.sleep(0.12)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, message):
        self._send_frame(0x1, json.dumps(message).encode())

    def send_raw(self, text):
        self._send_frame(0x1, text.encode())

    def receive(self):
        """The next JSON message (pings are answered on the way)."""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack(">H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack(">Q", self._read(8))
            payload = self._read(n)
            if opcode == 0x9:
                self._send_frame(0xA, payload)
            elif opcode == 0x8:
                raise SystemExit(f"load: websocket closed by the server: {payload!r}")
            elif opcode == 0x1:
                return json.loads(payload)

    def next_of(self, kind):
        while True:
            message = self.receive()
            if message.get("type") == kind:
                return message
            if message.get("type") == "error" and kind != "error":
                raise SystemExit(f"load: websocket error while waiting for {kind}: {message}")

    def close(self):
        try:
            self._send_frame(0x8, struct.pack(">H", 1000))
        finally:
            self.sock.close()


def learner(http, tag):
    email = f"obs-{tag}-{uuid.uuid4().hex[:12]}@example.org"
    password = f"observability-{uuid.uuid4().hex}"
    _, body = http.call("POST", "/api/v1/auth/register", {"email": email, "password": password}, expect=201)
    return email, password, body["access_token"]


def goal_ready_for_quiz(http, token, description):
    _, created = http.call("POST", "/api/v1/goals", {"description": description}, token, expect=202)
    job_id = created["job"]["id"]
    for _ in range(200):
        _, job = http.call("GET", f"/api/v1/jobs/{job_id}", token=token, expect=200)
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    if job["status"] != "done":
        raise SystemExit(f"load: generation job ended {job['status']}: {job}")
    goal_id = job["goal_id"]
    for _ in range(2):  # a miss, then a hit of the roadmap cache
        _, goal = http.call("GET", f"/api/v1/goals/{goal_id}", token=token, expect=200)
    level = goal["roadmap"]["levels"][0]
    for index in range(len(level["topics"])):
        http.call(
            "PUT", f"/api/v1/levels/{level['id']}/topics/{index}", {"completed": True}, token, expect=200
        )
    return goal_id, level["id"]


def play_until_passed(http, base, token, level_id):
    """Plays the level's quiz, remembering every correct option the feedback reveals,
    until a quiz passes (the bank is small: a few rounds)."""
    ws = connect(http, base, token)
    ws.send({"type": "ping", "id": "p"})
    ws.next_of("pong")
    ws.send_raw('{"type": "no.such.type"}')
    ws.next_of("error")
    # One quiz given up.
    ws.send({"type": "quiz.start", "id": "s", "level_id": level_id})
    ws.next_of("quiz.question")
    ws.send({"type": "quiz.abandon", "id": "a"})
    ws.next_of("pong")
    known = {}
    for attempt in range(20):
        ws.send({"type": "quiz.start", "id": f"s{attempt}", "level_id": level_id})
        question = ws.next_of("quiz.question")
        while True:
            letter = known.get(question["question"], "A")
            ws.send({"type": "quiz.answer", "position": question["position"], "option": letter})
            feedback = ws.next_of("quiz.feedback")
            known[question["question"]] = feedback["correct_option"]
            message = ws.receive()
            while message.get("type") not in ("quiz.question", "quiz.result"):
                message = ws.receive()
            if message["type"] == "quiz.result":
                break
            question = message
        if message["passed"]:
            ws.close()
            return attempt + 1, message
    ws.close()
    raise SystemExit("load: no quiz passed in 20 attempts")


def connect(http, base, token):
    """A signed-in learner's websocket, past its `hello`."""
    _, ticket = http.call("POST", "/api/v1/ws/ticket", token=token, expect=(200, 201))
    ws = WebSocket(base, f"/api/v1/ws?ticket={ticket['ticket']}", "questpath.v1")
    ws.next_of("hello")
    return ws


def join_room(ws, code, name, role):
    ws.send({"type": "room.join", "id": "j", "code": code, "name": name})
    joined = ws.next_of("room.joined")
    if joined["room"]["role"] != role:
        raise SystemExit(f"load: {name} joined room {code} as {joined['room']['role']}, not {role}")
    return joined


def host_does(host, kind):
    """A host command, answered by a `pong` naming it (events may come first)."""
    host.send({"type": kind, "id": kind})
    while True:
        message = host.receive()
        if message.get("re") == kind:
            if message.get("type") != "pong":
                raise SystemExit(f"load: {kind} refused: {message}")
            return


def room_answer(ws, question, option):
    ws.send({"type": "room.answer", "id": f"a{question}", "question": question, "option": option})
    return ws.next_of("room.answer_ack")


def play_room(http, base, host_token, player_token):
    """A room game: questions, players over the bus relay, answers, scores and XP."""
    questions = [
        {
            "question": f"Room question {n}: which letter is second?",
            "options": ["A is first", "B is second", "C is third", "D is fourth"],
            "correct_option": "B",
            "explanation": "B follows A.",
            "time_limit_secs": 5,
        }
        for n in range(2)
    ]
    _, room = http.call(
        "POST",
        "/api/v1/rooms",
        {"title": "Observability", "questions": questions, "allow_guests": True},
        host_token,
        expect=201,
    )
    code = room["code"]
    host = connect(http, base, host_token)
    join_room(host, code, "Host", "host")
    player = connect(http, base, player_token)
    join_room(player, code, "Learner", "player")
    _, access = http.call("POST", f"/api/v1/rooms/{code}/guests", {"name": "Guest"}, expect=(200, 201))
    guest = WebSocket(base, f"/api/v1/ws?ticket={access['ticket']}", "questpath.v1")
    guest.next_of("hello")
    join_room(guest, code, "Guest", "player")

    host_does(host, "room.start")
    for ws in (player, guest):
        ws.next_of("room.question")
    room_answer(guest, 0, "A")
    guest.send({"type": "room.answer", "id": "again", "question": 0, "option": "B"})
    refusal = guest.next_of("error")
    if refusal.get("code") != "already_answered":
        raise SystemExit(f"load: a second answer was not refused as already_answered: {refusal}")
    room_answer(player, 0, "B")  # everyone answered: the question closes at once
    closed = player.next_of("room.question_closed")
    if closed["correct_option"] != "B":
        raise SystemExit(f"load: room question closed with {closed}")

    host_does(host, "room.next")
    player.next_of("room.question")
    room_answer(player, 1, "B")
    host_does(host, "room.end")
    final = player.next_of("room.final")
    ended = player.next_of("room.ended")
    if ended["reason"] != "ended_by_host" or final["rank"] != 1:
        raise SystemExit(f"load: room ended {ended} with {final}")
    for ws in (guest, player, host):
        ws.close()
    return final


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    http = Http(args.base)
    deadline = time.monotonic() + args.seconds

    http.call("GET", "/health", expect=200)
    http.call("GET", "/ready", expect=200)
    http.call("GET", "/no/such/path", expect=404)
    http.call("POST", "/api/v1/auth/register", {"email": "not-an-email", "password": "x"}, expect=(400, 422))

    learners = [learner(http, n) for n in range(2)]
    email, password, _ = learners[0]
    http.call("POST", "/api/v1/auth/register", {"email": email, "password": password}, expect=409)
    http.call("POST", "/api/v1/auth/login", {"email": email, "password": password}, expect=200)
    http.call("POST", "/api/v1/auth/login", {"email": email, "password": password + "x"}, expect=401)

    subjects = ["Learn the Rust programming language", "Learn web development with HTML and CSS"]
    quizzes = []
    for (_, _, token), subject in zip(learners, subjects):
        http.call("GET", "/api/v1/me", token=token, expect=200)
        _, level_id = goal_ready_for_quiz(http, token, subject)
        http.call("GET", "/api/v1/me/stats", token=token, expect=200)
        quizzes.append(play_until_passed(http, args.base, token, level_id))
    print(f"load: quizzes passed after {[n for n, _ in quizzes]} attempts; XP {[r['xp_earned'] for _, r in quizzes]}")
    final = play_room(http, args.base, learners[0][2], learners[1][2])
    print(f"load: room played (the learner ranked {final['rank']} with {final['score']} points, {final['xp']} XP)")

    refused = 0
    for n in range(20):
        status, _ = http.call(
            "POST",
            "/api/v1/auth/register",
            {"email": f"obs-limit-{n}-{uuid.uuid4().hex[:8]}@example.org", "password": f"pw-{uuid.uuid4().hex}"},
            expect=(201, 429),
        )
        if status == 429:
            refused += 1
            break
    if not refused:
        raise SystemExit("load: the registration limit never answered 429")

    reads = 0
    while time.monotonic() < deadline:
        for _, _, token in learners:
            http.call("GET", "/api/v1/me", token=token, expect=200)
            http.call("GET", "/api/v1/goals", token=token, expect=200)
            http.call("GET", "/api/v1/me/stats", token=token, expect=200)
            reads += 3
        http.call("GET", "/health", expect=200)
        time.sleep(0.25)
    print(f"load: done ({reads} reads in the steady phase)")


if __name__ == "__main__":
    try:
        main()
    except (OSError, KeyError, ValueError) as error:
        sys.exit(f"load: {type(error).__name__}: {error}")
