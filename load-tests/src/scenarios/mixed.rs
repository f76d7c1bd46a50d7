//! `mixed`: the load of the chaos run. Solo quizzes, room games and REST reads and writes
//! at once, through one URL (nginx in front of several instances), for a fixed time.
//!
//! Unlike the measuring scenarios, every client here survives faults, as a real client
//! does (docs/protocol.md): a closed socket, a reply that never comes or a refused
//! request is counted as a failure, and the client reconnects with a new ticket after a
//! backoff (250 ms doubling to 4 s, jittered) and resumes:
//!
//! - a **quizzer** asks `session.state` on every new socket and answers the question it
//!   gets (the same quiz at the same question, if the server kept it); a quiz that is
//!   gone is counted as lost, one whose last answer was sent before the drop as a
//!   missed result (its XP is then unknown to the client);
//! - a **room player** sends `room.join` with the game's code again (every 2 s until it
//!   is answered: an adopted room may not answer the first) and answers the open
//!   question; the **host** re-joins the same way and carries on from the room's phase
//!   (start, next, or wait for the open question to close);
//! - a **REST worker** backs off after a failure and skips the slots that passed meanwhile.
//!
//! The report has a per-second timeline per operation kind (`quiz`, `room`, `http_read`,
//! `http_write`): operations that succeeded, failed, reconnections and the p99 latency;
//! second 0 is the start of the load, written to `--ready-file` in Unix milliseconds so
//! that faults timed by a script line up. After the load comes the final check: every
//! quizzer plays its open quiz to the result and must then hear `no_quiz`, every host's
//! game must reach `room.ended`; anything that does not within `--final-wait` is stuck.
//! Last, every learner's XP total is read back (`GET /api/v1/me`) and compared with the
//! XP its client was told (`quiz.result` and `room.final`): less on the server is XP
//! lost; more, with no result the client missed, is XP that was never announced (a
//! double grant, say).

use std::collections::{BTreeMap, HashSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::room::Rng;
use super::{Ctx, Outcome, classify};
use crate::accounts::Learner;
use crate::api::{Api, CreatedRoom};
use crate::cli::MixedArgs;
use crate::report::TargetCheck;
use crate::stats::{Latency, Samples, Tally, from_schedule};
use crate::ws::{self, RawEvent, Socket};

/// A reply slower than this counts as a failure, and the socket is given up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Ticket, upgrade and `hello`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// REST requests.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// A socket that sent nothing for this long sends a `ping` (the server drops one silent
/// for 30 s).
const HEARTBEAT: Duration = Duration::from_secs(10);
/// First wait after a failure, doubled per failure up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(4);
/// An unanswered `room.join` is sent again after this (a failure after
/// [`REPLY_TIMEOUT`]).
const JOIN_RETRY: Duration = Duration::from_secs(2);
/// A room question that has not closed this long after its deadline is stuck: the host
/// ends the game.
const STUCK_AFTER: Duration = Duration::from_secs(30);
/// A player in a game that sends nothing for a question's time plus this is stuck: more
/// than the server's 60 s before it ends a room whose host is gone (`host_left`).
const PLAYER_SILENCE: Duration = Duration::from_secs(75);
/// The host waits this long in the lobby for every player before starting anyway.
const LOBBY_WAIT: Duration = Duration::from_secs(10);
/// Seconds shown between a question's close and `room.next`.
const REVEAL: Duration = Duration::from_secs(1);
/// Failures listed one by one in the report (the timeline counts them all).
const MAX_FAILURE_EVENTS: usize = 5000;

/// The operation kinds of the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Quiz = 0,
    Room = 1,
    Read = 2,
    Write = 3,
}

const KINDS: [&str; 4] = ["quiz", "room", "http_read", "http_write"];

/// Learners the run needs: the quizzers, then per room a host and its players.
pub fn learners(args: &MixedArgs) -> usize {
    args.quizzers + args.rooms * (args.room_players + 1)
}

/// Checks the flags against the server's limits and the run's bounds.
pub fn check(args: &MixedArgs) -> anyhow::Result<()> {
    if args.duration == 0 || args.duration > crate::MAX_DURATION {
        bail!("--duration must be 1 to {} seconds", crate::MAX_DURATION);
    }
    if args.final_wait == 0 || args.final_wait > 300 {
        bail!("--final-wait must be 1 to 300 seconds");
    }
    if args.quizzers > 20_000 || args.rooms > 1_000 || args.room_players > 1_000 {
        bail!("at most 20,000 quizzers, 1,000 rooms and 1,000 players a room");
    }
    if args.quizzers + args.rooms == 0 {
        bail!("--quizzers or --rooms must be at least 1");
    }
    if args.rooms > 0 && args.room_players == 0 {
        bail!("--room-players must be at least 1");
    }
    if args.quizzers > 0 {
        let per_quizzer = args.quiz_rate / args.quizzers as f64;
        if !(per_quizzer.is_finite() && (0.1..=9.0).contains(&per_quizzer)) {
            bail!(
                "--quiz-rate {} over {} quizzers is {per_quizzer:.2} messages a second each: \
                 it must be 0.1 (a message every 10 s keeps the socket alive) to 9 (the server allows 10)",
                args.quiz_rate,
                args.quizzers
            );
        }
    }
    if !(1..=100).contains(&args.room_questions) {
        bail!("--room-questions must be 1 to 100");
    }
    if !(5..=300).contains(&args.question_time) {
        bail!("--question-time must be 5 to 300 seconds (the server's range)");
    }
    if !(args.http_rate >= 0.0 && args.http_rate <= 100_000.0) {
        bail!("--http-rate must be 0 to 100,000");
    }
    if !(0.0..=1.0).contains(&args.write_share) {
        bail!("--write-share is a fraction from 0 to 1");
    }
    if args.http_connections == 0 || args.http_connections > 4_096 {
        bail!("--http-connections must be 1 to 4,096");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The timeline

#[derive(Default)]
struct Cell {
    ok: u64,
    failed: u64,
    reconnects: u64,
    latency: Samples,
}

#[derive(Serialize)]
struct FailureEvent {
    /// Seconds since the start of the load.
    t: f64,
    kind: &'static str,
    what: String,
}

#[derive(Default)]
struct TimelineData {
    cells: Vec<[Cell; 4]>,
    failures: [Tally; 4],
    events: Vec<FailureEvent>,
    events_dropped: u64,
    latency: [Latency; 4],
}

/// Operations per second and kind, shared by every client task.
struct Timeline {
    start: Instant,
    data: Mutex<TimelineData>,
}

impl Timeline {
    fn new(start: Instant) -> Timeline {
        Timeline {
            start,
            data: Mutex::new(TimelineData::default()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut TimelineData, usize) -> R) -> R {
        let second = Instant::now()
            .saturating_duration_since(self.start)
            .as_secs() as usize;
        let mut data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        if data.cells.len() <= second {
            data.cells.resize_with(second + 1, Default::default);
        }
        f(&mut data, second)
    }

    fn ok(&self, kind: Kind, latency: Duration) {
        self.with(|d, s| {
            let cell = &mut d.cells[s][kind as usize];
            cell.ok += 1;
            cell.latency.record(latency);
            d.latency[kind as usize].record(latency);
        });
    }

    fn failed(&self, kind: Kind, what: impl Into<String>) {
        let what = what.into();
        let t = Instant::now()
            .saturating_duration_since(self.start)
            .as_secs_f64();
        self.with(|d, s| {
            d.cells[s][kind as usize].failed += 1;
            d.failures[kind as usize].add(what.clone());
            if d.events.len() < MAX_FAILURE_EVENTS {
                d.events.push(FailureEvent {
                    t: (t * 1000.0).round() / 1000.0,
                    kind: KINDS[kind as usize],
                    what,
                });
            } else {
                d.events_dropped += 1;
            }
        });
    }

    fn reconnect(&self, kind: Kind) {
        self.with(|d, s| d.cells[s][kind as usize].reconnects += 1);
    }
}

/// Doubling waits after failures, jittered so that clients dropped together do not
/// come back together.
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            next: BACKOFF_FIRST,
        }
    }

    fn wait(&mut self, rng: &mut Rng) -> Duration {
        let d = self.next.mul_f64(0.5 + 0.5 * rng.unit());
        self.next = (self.next * 2).min(BACKOFF_MAX);
        d
    }

    fn reset(&mut self) {
        self.next = BACKOFF_FIRST;
    }
}

// ---------------------------------------------------------------------------------------
// Websocket clients

/// The fields of server frames this scenario reads.
#[derive(Debug, Clone, Default, Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    re: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    quiz_id: Option<String>,
    #[serde(default)]
    position: Option<u32>,
    #[serde(default)]
    total: Option<u32>,
    #[serde(default)]
    xp_earned: Option<i64>,
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default)]
    xp: Option<i64>,
    #[serde(default)]
    index: Option<u32>,
    /// A text in `quiz.question` and `room.question`, an index elsewhere.
    #[serde(default)]
    question: Option<Value>,
    #[serde(default)]
    room: Option<Value>,
    #[serde(default)]
    reason: Option<String>,
    /// A count in `room.roster`, `room.lobby` and `room.ended`.
    #[serde(default)]
    players: Option<Value>,
}

impl Frame {
    fn question_index(&self) -> Option<u32> {
        self.question
            .as_ref()
            .and_then(Value::as_u64)
            .and_then(|q| u32::try_from(q).ok())
    }

    fn is_reply(&self, re: &str) -> bool {
        self.re.as_deref() == Some(re)
    }

    /// An answer to any `room.join` this client sent for the game `code` (their ids
    /// start with `prefix`; an adopted room may answer an earlier one), or the seat
    /// the server gives back on its own after `hello` (`room.joined` without `re`).
    fn answers_join(&self, prefix: &str, code: &str) -> bool {
        match (self.kind.as_str(), self.re.as_deref()) {
            ("room.joined" | "error", Some(re)) => re.starts_with(prefix),
            ("room.joined", None) => self
                .room
                .as_ref()
                .is_some_and(|room| room["code"].as_str() == Some(code)),
            _ => false,
        }
    }
}

/// The XP a learner's client was told about.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct XpSeen {
    /// `xp_earned` of every `quiz.result`.
    quiz_results: i64,
    /// `xp` of every `room.final`.
    room_finals: i64,
    /// `amount` of every `xp.granted` (the push to every device).
    granted_pushes: i64,
    /// Results the client may have missed: a quiz whose last answer went out before a
    /// drop, a room game played without its `room.final`.
    missed_results: u64,
}

impl XpSeen {
    fn observe(&mut self, f: &Frame) {
        match f.kind.as_str() {
            "quiz.result" => self.quiz_results += f.xp_earned.unwrap_or(0),
            "room.final" => self.room_finals += f.xp.unwrap_or(0),
            "xp.granted" => self.granted_pushes += f.amount.unwrap_or(0),
            _ => {}
        }
    }

    fn told(&self) -> i64 {
        self.quiz_results + self.room_finals
    }
}

/// What reading gave.
enum Got {
    Frame(Box<Frame>),
    /// Nothing before the deadline.
    Timeout,
    /// The socket is gone (counted already).
    Gone,
}

/// One learner's websocket, reconnected whenever it is lost.
struct Client {
    api: Arc<Api>,
    server: SocketAddrV4,
    source: Ipv4Addr,
    via: usize,
    token: String,
    kind: Kind,
    timeline: Arc<Timeline>,
    rng: Rng,
    socket: Option<Socket>,
    was_connected: bool,
    last_sent: Instant,
    backoff: Backoff,
    xp: XpSeen,
}

impl Client {
    /// `Some(true)` on a new socket (the client must resync), `Some(false)` when the
    /// socket is still there, `None` when no socket could be opened before `until`.
    async fn ensure(&mut self, until: Instant, stop: &CancellationToken) -> Option<bool> {
        if self.socket.is_some() {
            return Some(false);
        }
        loop {
            if Instant::now() >= until || stop.is_cancelled() {
                return None;
            }
            let opened = async {
                let ticket = self.api.ticket(self.via, &self.token).await?;
                ws::connect(self.source, self.server, &ticket, CONNECT_TIMEOUT).await
            };
            match opened.await {
                Ok(socket) => {
                    self.socket = Some(socket);
                    if self.was_connected {
                        self.timeline.reconnect(self.kind);
                    }
                    self.was_connected = true;
                    self.backoff.reset();
                    self.last_sent = Instant::now();
                    return Some(true);
                }
                Err(e) => {
                    self.timeline.failed(self.kind, classify("connect", &e));
                    let wait = self.backoff.wait(&mut self.rng);
                    let wake = (Instant::now() + wait).min(until);
                    tokio::select! {
                        _ = tokio::time::sleep_until(wake.into()) => {}
                        _ = stop.cancelled() => return None,
                    }
                }
            }
        }
    }

    /// Counts a failure and gives the socket up.
    fn lose(&mut self, what: impl Into<String>) {
        self.timeline.failed(self.kind, what);
        self.socket = None;
    }

    async fn send(&mut self, frame: Value) -> bool {
        let Some(socket) = self.socket.as_mut() else {
            return false;
        };
        // Bounded: a socket whose far end stopped reading (a proxy whose upstream died
        // with full buffers) would otherwise hold this client, and the run, for ever.
        match tokio::time::timeout(REPLY_TIMEOUT, ws::send(socket, frame.to_string())).await {
            Ok(Ok(())) => {
                self.last_sent = Instant::now();
                true
            }
            Ok(Err(e)) => {
                self.lose(classify("send", &e));
                false
            }
            Err(_) => {
                self.lose(format!(
                    "send: not taken within {} s",
                    REPLY_TIMEOUT.as_secs()
                ));
                false
            }
        }
    }

    /// The next frame before `deadline`, sending pings while waiting.
    async fn recv(&mut self, deadline: Instant) -> Got {
        enum Woke {
            Read(anyhow::Result<RawEvent>),
            Timer,
        }
        loop {
            let ping_at = self.last_sent + HEARTBEAT;
            let woke = {
                let Some(socket) = self.socket.as_mut() else {
                    return Got::Gone;
                };
                tokio::select! {
                    r = ws::next_text(socket) => Woke::Read(r),
                    _ = tokio::time::sleep_until(deadline.min(ping_at).into()) => Woke::Timer,
                }
            };
            match woke {
                Woke::Read(Ok(RawEvent::Text(text))) => {
                    // Frames of other shapes are nothing this client acts on.
                    if let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) {
                        self.xp.observe(&frame);
                        return Got::Frame(Box::new(frame));
                    }
                }
                Woke::Read(Ok(RawEvent::Closed(code))) => {
                    let code = code.map_or("none".to_string(), |c| c.to_string());
                    self.lose(format!("socket closed by the server (code {code})"));
                    return Got::Gone;
                }
                Woke::Read(Err(e)) => {
                    self.lose(classify("socket", &e));
                    return Got::Gone;
                }
                Woke::Timer => {
                    if Instant::now() >= deadline {
                        return Got::Timeout;
                    }
                    if !self.send(json!({"type": "ping"})).await {
                        return Got::Gone;
                    }
                }
            }
        }
    }

    /// The frame answering `re` (others are read and dropped); a timeout gives the
    /// socket up.
    async fn reply(&mut self, re: &str) -> Option<Frame> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            match self.recv(deadline).await {
                Got::Frame(f) if f.is_reply(re) => return Some(*f),
                Got::Frame(_) => continue,
                Got::Timeout => {
                    self.lose(format!("no reply within {} s", REPLY_TIMEOUT.as_secs()));
                    return None;
                }
                Got::Gone => return None,
            }
        }
    }

    async fn close(&mut self) {
        if let Some(socket) = self.socket.take() {
            ws::close(socket).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Quizzers

#[derive(Clone, Debug, PartialEq, Eq)]
enum QuizState {
    /// Not known (a new socket, an error): ask with `session.state`.
    Unknown,
    Idle,
    Open {
        quiz_id: String,
        position: u32,
        total: u32,
    },
}

/// What a quizzer saw.
#[derive(Default)]
struct QuizOut {
    finished: u64,
    /// New sockets that found their quiz again (same quiz, its question).
    resumed: u64,
    /// New sockets that found no quiz where one was open.
    lost: u64,
    /// The last answer went out, the socket dropped before the result.
    results_missed: u64,
    /// The final check could not bring the quiz to its result and `no_quiz`.
    stuck: bool,
    /// A quiz open when the socket dropped, to compare with what a new socket finds.
    interrupted: Option<(String, bool)>,
}

struct QuizPlan {
    level_id: String,
    first_due: Instant,
    slot: Duration,
    end: Instant,
    final_by: Instant,
}

async fn quizzer(mut c: Client, plan: QuizPlan, stop: CancellationToken) -> (QuizOut, XpSeen) {
    let mut out = QuizOut::default();
    let mut state = QuizState::Unknown;
    let mut id = 0u64;
    let mut due = plan.first_due;
    while Instant::now() < plan.end {
        match c.ensure(plan.end, &stop).await {
            None => break,
            Some(true) => note_new_socket(&mut state, &mut out),
            Some(false) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = stop.cancelled() => break,
        }
        // A quizzer that fell behind (a reconnect) does not catch up in a burst.
        due = (due + plan.slot).max(Instant::now());
        if Instant::now() >= plan.end {
            break;
        }
        id += 1;
        quiz_step(
            &mut c,
            &mut state,
            &mut out,
            &plan.level_id,
            &format!("q{id}"),
            true,
        )
        .await;
    }
    // The final check: the open quiz is played to its result, then `no_quiz`.
    out.stuck = true;
    while Instant::now() < plan.final_by {
        match c.ensure(plan.final_by, &CancellationToken::new()).await {
            None => break,
            Some(true) => note_new_socket(&mut state, &mut out),
            Some(false) => {}
        }
        if state == QuizState::Idle {
            state = QuizState::Unknown;
        }
        let asked = state == QuizState::Unknown;
        id += 1;
        quiz_step(
            &mut c,
            &mut state,
            &mut out,
            &plan.level_id,
            &format!("q{id}"),
            false,
        )
        .await;
        if asked && state == QuizState::Idle {
            out.stuck = false;
            break;
        }
        // Within the server's 10 messages a second.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    c.close().await;
    c.xp.missed_results += out.results_missed;
    (out, c.xp)
}

/// A new socket: the quiz that was open (if any) is remembered, and the state asked.
fn note_new_socket(state: &mut QuizState, out: &mut QuizOut) {
    if let QuizState::Open {
        quiz_id,
        position,
        total,
    } = state
    {
        // `position` is the question the client had not yet seen answered; the last
        // answer in flight shows as the last position.
        out.interrupted = Some((quiz_id.clone(), *position + 1 >= *total));
    }
    *state = QuizState::Unknown;
}

/// One exchange: `session.state`, `quiz.start` or `quiz.answer`, and its replies.
async fn quiz_step(
    c: &mut Client,
    state: &mut QuizState,
    out: &mut QuizOut,
    level_id: &str,
    re: &str,
    may_start: bool,
) {
    let sent = Instant::now();
    match state.clone() {
        QuizState::Unknown => {
            if !c.send(json!({"type": "session.state", "id": re})).await {
                return;
            }
            let Some(f) = c.reply(re).await else { return };
            match (f.kind.as_str(), f.code.as_deref()) {
                ("quiz.question", _) => {
                    c.timeline.ok(Kind::Quiz, sent.elapsed());
                    let quiz_id = f.quiz_id.clone().unwrap_or_default();
                    if let Some((was, _)) = out.interrupted.take() {
                        if was == quiz_id {
                            out.resumed += 1;
                        } else {
                            out.lost += 1;
                        }
                    }
                    *state = open_from(&f);
                }
                ("error", Some("no_quiz")) => {
                    c.timeline.ok(Kind::Quiz, sent.elapsed());
                    if let Some((_, last_answer_sent)) = out.interrupted.take() {
                        if last_answer_sent {
                            out.results_missed += 1;
                        } else {
                            out.lost += 1;
                        }
                    }
                    *state = QuizState::Idle;
                }
                (kind, code) => {
                    c.timeline.failed(
                        Kind::Quiz,
                        format!("session.state: {kind} {}", code.unwrap_or("")),
                    );
                }
            }
        }
        QuizState::Idle => {
            if !may_start {
                return;
            }
            let start = json!({"type": "quiz.start", "id": re, "level_id": level_id});
            if !c.send(start).await {
                return;
            }
            let Some(f) = c.reply(re).await else {
                // The start may have reached the server: ask on the next step.
                *state = QuizState::Unknown;
                return;
            };
            match f.kind.as_str() {
                "quiz.question" => {
                    c.timeline.ok(Kind::Quiz, sent.elapsed());
                    *state = open_from(&f);
                }
                _ => {
                    let code = f.code.unwrap_or_default();
                    c.timeline.failed(Kind::Quiz, format!("quiz.start: {code}"));
                    *state = QuizState::Unknown;
                }
            }
        }
        QuizState::Open { position, .. } => {
            let answer =
                json!({"type": "quiz.answer", "id": re, "position": position, "option": "A"});
            if !c.send(answer).await {
                return;
            }
            let Some(f) = c.reply(re).await else { return };
            if f.kind != "quiz.feedback" {
                let code = f.code.unwrap_or_default();
                c.timeline
                    .failed(Kind::Quiz, format!("quiz.answer: {code}"));
                *state = QuizState::Unknown;
                return;
            }
            c.timeline.ok(Kind::Quiz, sent.elapsed());
            // Then the next question, or the result after the last.
            let deadline = Instant::now() + REPLY_TIMEOUT;
            loop {
                match c.recv(deadline).await {
                    Got::Frame(f) if f.kind == "quiz.question" => {
                        *state = open_from(&f);
                        return;
                    }
                    Got::Frame(f) if f.kind == "quiz.result" => {
                        out.finished += 1;
                        *state = QuizState::Idle;
                        return;
                    }
                    Got::Frame(f) if f.kind == "error" && f.re.is_none() => {
                        // `unavailable`: the result could not be saved.
                        let code = f.code.unwrap_or_default();
                        c.timeline
                            .failed(Kind::Quiz, format!("after feedback: {code}"));
                        *state = QuizState::Unknown;
                        return;
                    }
                    Got::Frame(_) => continue,
                    Got::Timeout => {
                        c.lose("no question or result after a feedback");
                        return;
                    }
                    Got::Gone => return,
                }
            }
        }
    }
}

fn open_from(f: &Frame) -> QuizState {
    QuizState::Open {
        quiz_id: f.quiz_id.clone().unwrap_or_default(),
        position: f.position.unwrap_or(0),
        total: f.total.unwrap_or(5),
    }
}

// ---------------------------------------------------------------------------------------
// Rooms

/// A game the host has created, for its players.
#[derive(Clone, Debug)]
struct Game {
    number: u64,
    code: String,
}

#[derive(Default, Serialize)]
struct HostOut {
    games_created: u64,
    games_ended: u64,
    /// Games whose question did not close in time, or that did not end: ended by the
    /// host, or given up.
    games_stuck: u64,
    /// Games that were gone when the host came back (`room_not_found`, `room_ended`).
    games_lost: u64,
    /// `room.ended` reasons.
    ended: Tally,
    /// Re-joins after a new socket.
    rejoins: u64,
    /// `room.join` sent again because the first got no answer.
    joins_repeated: u64,
}

#[derive(Default, Serialize)]
struct PlayerOut {
    games_joined: u64,
    games_ended: u64,
    games_lost: u64,
    /// No frame for a question's time plus 45 s in a game.
    games_stuck: u64,
    answers_acked: u64,
    rejoins: u64,
    /// `room.join` sent again because the first got no answer.
    joins_repeated: u64,
    finals_missed: u64,
}

struct RoomPlan {
    questions: usize,
    question_time: Duration,
    players: usize,
    end: Instant,
    final_by: Instant,
}

fn room_body(plan: &RoomPlan, room: usize, game: u64) -> Value {
    let letters = ["A", "B", "C", "D"];
    let questions: Vec<Value> = (0..plan.questions)
        .map(|i| {
            json!({
                "question": format!("Mixed question {}: which option is right?", i + 1),
                "options": ["Alpha", "Bravo", "Charlie", "Delta"],
                "correct_option": letters[i % 4],
                "explanation": "Generated by questpath-load mixed.",
            })
        })
        .collect();
    json!({
        "title": format!("questpath-load mixed room {room} game {game}"),
        "questions": questions,
        "question_time_secs": plan.question_time.as_secs(),
        "max_players": plan.players.max(1),
        "allow_guests": false,
    })
}

/// A host: creates a room, runs its game to the end, and again until the load ends.
async fn host(
    mut c: Client,
    plan: RoomPlan,
    room: usize,
    games: watch::Sender<Option<Game>>,
    stop: CancellationToken,
) -> (HostOut, XpSeen) {
    let mut out = HostOut::default();
    let mut number = 0u64;
    while Instant::now() < plan.end && !stop.is_cancelled() {
        let sent = Instant::now();
        let created = async {
            let response = c
                .api
                .request(c.via, Method::POST, "/api/v1/rooms", Some(&c.token))
                .json(&room_body(&plan, room, number + 1))
                .send()
                .await
                .context("POST /api/v1/rooms")?;
            let status = response.status();
            if !status.is_success() {
                bail!("POST /api/v1/rooms: {status}");
            }
            response
                .json::<CreatedRoom>()
                .await
                .context("POST /api/v1/rooms: body")
        };
        let created = match created.await {
            Ok(created) => created,
            Err(e) => {
                c.timeline.failed(Kind::Room, classify("create", &e));
                let wait = c.backoff.wait(&mut c.rng);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => break,
                }
                continue;
            }
        };
        c.timeline.ok(Kind::Room, sent.elapsed());
        number += 1;
        out.games_created += 1;
        let game = Game {
            number,
            code: created.code,
        };
        run_game(&mut c, &plan, &game, &games, &mut out).await;
    }
    c.close().await;
    (out, c.xp)
}

/// Where the host's game stands.
#[derive(Debug, Clone, Copy)]
enum HostPhase {
    /// Waiting for players; `room.start` at this time.
    Lobby { start_at: Instant },
    /// A question is open; stuck if it has not closed by then.
    Question { index: u32, stuck_at: Instant },
    /// `room.next` at this time.
    Reveal { next_at: Instant },
    /// `room.next` went out; stuck if no question or end follows by then.
    Next { stuck_at: Instant },
    /// `room.end` went out after a stuck question; given up at this time.
    Ending { by: Instant },
}

async fn run_game(
    c: &mut Client,
    plan: &RoomPlan,
    game: &Game,
    games: &watch::Sender<Option<Game>>,
    out: &mut HostOut,
) {
    let never = CancellationToken::new();
    let mut phase = HostPhase::Lobby {
        start_at: Instant::now() + LOBBY_WAIT,
    };
    let mut published = false;
    let mut need_join = true;
    let mut fresh_socket = false;
    // The `room.join` waiting for its answer: its id and when it went out.
    let mut joining: Option<(String, Instant)> = None;
    // When the first of the `room.join`s still unanswered went out (resent every 2 s).
    let mut join_since: Option<Instant> = None;
    let mut command: Option<(String, Instant)> = None;
    let mut id = 0u64;
    let stuck_after = plan.question_time + STUCK_AFTER;
    loop {
        if Instant::now() >= plan.final_by {
            out.games_stuck += 1;
            c.timeline
                .failed(Kind::Room, "a game did not end by the final deadline");
            return;
        }
        match c.ensure(plan.final_by, &never).await {
            None => continue,
            Some(true) => {
                need_join = true;
                fresh_socket = true;
            }
            Some(false) => {}
        }
        if need_join {
            need_join = false;
            id += 1;
            let re = format!("hj{id}");
            if !c
                .send(json!({"type": "room.join", "id": re, "code": game.code}))
                .await
            {
                continue;
            }
            joining = Some((re, Instant::now()));
            join_since.get_or_insert_with(Instant::now);
        }
        let wake = match phase {
            HostPhase::Lobby { start_at } => start_at,
            HostPhase::Question { stuck_at, .. } | HostPhase::Next { stuck_at } => stuck_at,
            HostPhase::Reveal { next_at } => next_at,
            HostPhase::Ending { by } => by,
        };
        let wake = match &joining {
            Some((_, sent)) => wake.min(*sent + JOIN_RETRY),
            None => wake,
        };
        match c.recv(wake).await {
            Got::Gone => continue,
            Got::Frame(f) => {
                let now = Instant::now();
                if joining.is_some() && f.answers_join("hj", &game.code) {
                    let Some((_, sent)) = joining.take() else {
                        continue;
                    };
                    let sent = join_since.take().unwrap_or(sent);
                    if f.kind == "error" {
                        let code = f.code.unwrap_or_default();
                        c.timeline
                            .failed(Kind::Room, format!("host room.join: {code}"));
                        if matches!(code.as_str(), "room_not_found" | "room_ended") {
                            out.games_lost += 1;
                            return;
                        }
                        need_join = true;
                        continue;
                    }
                    c.timeline.ok(Kind::Room, now - sent);
                    if fresh_socket && published {
                        out.rejoins += 1;
                    }
                    fresh_socket = false;
                    let snapshot = f.room.unwrap_or(Value::Null);
                    match snapshot["phase"].as_str().unwrap_or("") {
                        "lobby" => {
                            if !published {
                                published = true;
                                games.send_replace(Some(game.clone()));
                            } else {
                                phase = HostPhase::Lobby { start_at: now };
                            }
                        }
                        "question" => phase = question_phase(&snapshot, now),
                        "reveal" => phase = HostPhase::Reveal { next_at: now },
                        "ended" => {
                            out.games_ended += 1;
                            out.ended.add("ended (seen on re-join)");
                            return;
                        }
                        other => {
                            c.timeline
                                .failed(Kind::Room, format!("host: unknown phase {other}"));
                        }
                    }
                    continue;
                }
                if command.as_ref().is_some_and(|(re, _)| f.is_reply(re)) {
                    let Some((_, sent)) = command.take() else {
                        continue;
                    };
                    if f.kind == "error" {
                        let code = f.code.unwrap_or_default();
                        // `no_players`: nobody seated yet; the start is tried again.
                        if code != "no_players" {
                            c.timeline
                                .failed(Kind::Room, format!("host command: {code}"));
                        }
                    } else {
                        c.timeline.ok(Kind::Room, now - sent);
                    }
                    continue;
                }
                match f.kind.as_str() {
                    // Sent when this host's instance missed some of the room's events.
                    "room.state" => {
                        let snapshot = f.room.unwrap_or(Value::Null);
                        match (snapshot["phase"].as_str().unwrap_or(""), phase) {
                            ("question", HostPhase::Question { index, .. })
                                if u64::from(index)
                                    == snapshot["question"]["index"].as_u64().unwrap_or(0) => {}
                            ("question", _) => phase = question_phase(&snapshot, now),
                            ("reveal", HostPhase::Question { .. }) => {
                                phase = HostPhase::Reveal { next_at: now }
                            }
                            ("ended", _) => {
                                out.games_ended += 1;
                                out.ended.add("ended (seen in a state)");
                                return;
                            }
                            _ => {}
                        }
                    }
                    "room.roster" => {
                        if let HostPhase::Lobby { start_at } = phase
                            && f.players.as_ref().and_then(Value::as_u64).unwrap_or(0)
                                >= plan.players as u64
                        {
                            phase = HostPhase::Lobby {
                                start_at: start_at.min(now + Duration::from_millis(300)),
                            };
                        }
                    }
                    "room.question" => {
                        phase = HostPhase::Question {
                            index: f.index.unwrap_or(0),
                            stuck_at: now + stuck_after,
                        };
                    }
                    "room.question_closed" => {
                        let closed = f.question_index();
                        let current = match phase {
                            HostPhase::Question { index, .. } => Some(index),
                            _ => None,
                        };
                        if current.is_none() || closed == current {
                            phase = HostPhase::Reveal {
                                next_at: now + REVEAL,
                            };
                        }
                    }
                    "room.ended" => {
                        out.games_ended += 1;
                        out.ended.add(f.reason.unwrap_or_default());
                        return;
                    }
                    _ => {}
                }
            }
            Got::Timeout => {
                let now = Instant::now();
                if let Some((_, sent)) = &joining
                    && now >= *sent + JOIN_RETRY
                {
                    // Sent again; a failure only once unanswered as long as any reply
                    // may take (a slow join in a busy second is not a lost one).
                    out.joins_repeated += 1;
                    if join_since.is_some_and(|since| now >= since + REPLY_TIMEOUT) {
                        c.timeline
                            .failed(Kind::Room, "host room.join unanswered for 10 s");
                        join_since = None;
                    }
                    need_join = true;
                    continue;
                }
                match phase {
                    HostPhase::Lobby { start_at } if now >= start_at => {
                        if !published {
                            continue;
                        }
                        id += 1;
                        let re = format!("hs{id}");
                        if c.send(json!({"type": "room.start", "id": re})).await {
                            command = Some((re, now));
                        }
                        phase = HostPhase::Lobby {
                            start_at: now + Duration::from_secs(3),
                        };
                    }
                    HostPhase::Reveal { next_at } if now >= next_at => {
                        id += 1;
                        let re = format!("hn{id}");
                        if c.send(json!({"type": "room.next", "id": re})).await {
                            command = Some((re, now));
                        }
                        phase = HostPhase::Next {
                            stuck_at: now + STUCK_AFTER,
                        };
                    }
                    HostPhase::Question { stuck_at, .. } | HostPhase::Next { stuck_at }
                        if now >= stuck_at =>
                    {
                        out.games_stuck += 1;
                        c.timeline
                            .failed(Kind::Room, "stuck: no close or next question in time");
                        let _ = c.send(json!({"type": "room.end", "id": "end"})).await;
                        phase = HostPhase::Ending {
                            by: now + STUCK_AFTER,
                        };
                    }
                    HostPhase::Ending { by } if now >= by => {
                        c.timeline
                            .failed(Kind::Room, "stuck: no room.ended after room.end");
                        return;
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The host's phase from a room snapshot in the question phase.
fn question_phase(snapshot: &Value, now: Instant) -> HostPhase {
    let index = snapshot["question"]["index"].as_u64().unwrap_or(0);
    let left = snapshot["question"]["remaining_ms"].as_u64().unwrap_or(0);
    HostPhase::Question {
        index: index as u32,
        stuck_at: now + Duration::from_millis(left) + STUCK_AFTER,
    }
}

/// A room player: joins each game its host publishes and answers every question.
async fn player(
    mut c: Client,
    plan: RoomPlan,
    mut games: watch::Receiver<Option<Game>>,
) -> (PlayerOut, XpSeen) {
    let mut out = PlayerOut::default();
    let mut last = 0u64;
    loop {
        let game = match games.has_changed() {
            // The host is done: no more games.
            Err(_) => break,
            Ok(_) => games.borrow_and_update().clone(),
        };
        match game {
            Some(game) if game.number > last => {
                last = game.number;
                play_game(&mut c, &plan, &game, &games, &mut out).await;
            }
            _ => {
                // Idle between games: keep the socket alive, read what comes.
                if c.socket.is_some() {
                    let _ = c.recv(Instant::now() + Duration::from_millis(300)).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                if Instant::now() >= plan.final_by {
                    break;
                }
            }
        }
    }
    // The last game's XP push (`xp.granted`) follows its end: read it before leaving.
    let drain = Instant::now() + Duration::from_secs(2);
    while c.socket.is_some() && Instant::now() < drain {
        let _ = c.recv(drain).await;
    }
    c.close().await;
    c.xp.missed_results += out.finals_missed;
    (out, c.xp)
}

async fn play_game(
    c: &mut Client,
    plan: &RoomPlan,
    game: &Game,
    games: &watch::Receiver<Option<Game>>,
    out: &mut PlayerOut,
) {
    let never = CancellationToken::new();
    let mut need_join = true;
    let mut fresh_socket = false;
    let mut joined_once = false;
    let mut joining: Option<(String, Instant)> = None;
    // When the first of the `room.join`s still unanswered went out (resent every 2 s).
    let mut join_since: Option<Instant> = None;
    // The question to answer and when; the answer waiting for its ack.
    let mut pending: Option<(u32, Instant)> = None;
    let mut in_flight: Option<(String, u32, Instant)> = None;
    let mut answered: HashSet<u32> = HashSet::new();
    let mut final_seen = false;
    let mut last_frame = Instant::now();
    let idle_limit = plan.question_time + PLAYER_SILENCE;
    let max_delay = (plan.question_time.as_secs_f64() - 1.5).clamp(0.3, 2.0);
    let mut id = 0u64;
    loop {
        if Instant::now() >= plan.final_by {
            out.games_stuck += 1;
            c.timeline.failed(
                Kind::Room,
                "player: the game did not end by the final deadline",
            );
            return;
        }
        if games
            .borrow()
            .as_ref()
            .is_some_and(|newer| newer.number > game.number)
        {
            // The host gave this game up (it was gone when the host came back) and
            // opened another: the player follows.
            out.games_lost += 1;
            if !answered.is_empty() && !final_seen {
                out.finals_missed += 1;
            }
            c.send(json!({"type": "room.leave"})).await;
            return;
        }
        match c.ensure(plan.final_by, &never).await {
            None => continue,
            Some(true) => {
                need_join = true;
                fresh_socket = true;
                in_flight = None;
            }
            Some(false) => {}
        }
        if need_join {
            need_join = false;
            id += 1;
            let re = format!("pj{id}");
            if !c
                .send(json!({"type": "room.join", "id": re, "code": game.code}))
                .await
            {
                continue;
            }
            joining = Some((re, Instant::now()));
            join_since.get_or_insert_with(Instant::now);
        }
        // At least once a second, to notice a newer game.
        let mut wake = (last_frame + idle_limit).min(Instant::now() + Duration::from_secs(1));
        if let Some((_, sent)) = &joining {
            wake = wake.min(*sent + JOIN_RETRY);
        }
        if let Some((_, due)) = pending {
            wake = wake.min(due);
        }
        match c.recv(wake).await {
            Got::Gone => continue,
            Got::Frame(f) => {
                let now = Instant::now();
                last_frame = now;
                if joining.is_some() && f.answers_join("pj", &game.code) {
                    let Some((_, sent)) = joining.take() else {
                        continue;
                    };
                    let sent = join_since.take().unwrap_or(sent);
                    if f.kind == "error" {
                        let code = f.code.unwrap_or_default();
                        if matches!(code.as_str(), "room_not_found" | "room_ended" | "kicked") {
                            // Ended while this player was away (or never seen).
                            if joined_once {
                                out.games_lost += 1;
                                if !answered.is_empty() && !final_seen {
                                    out.finals_missed += 1;
                                }
                            } else {
                                c.timeline
                                    .failed(Kind::Room, format!("player room.join: {code}"));
                            }
                            return;
                        }
                        c.timeline
                            .failed(Kind::Room, format!("player room.join: {code}"));
                        if code == "already_in_room" {
                            // Still seated in a game this player lost track of.
                            c.send(json!({"type": "room.leave"})).await;
                        }
                        need_join = true;
                        continue;
                    }
                    c.timeline.ok(Kind::Room, now - sent);
                    if !joined_once {
                        joined_once = true;
                        out.games_joined += 1;
                    } else if fresh_socket {
                        out.rejoins += 1;
                    }
                    fresh_socket = false;
                    let snapshot = f.room.unwrap_or(Value::Null);
                    match snapshot["phase"].as_str() {
                        Some("question") => {
                            let index = snapshot["question"]["index"].as_u64().unwrap_or(0) as u32;
                            let done = snapshot["you"]["answered"].as_bool().unwrap_or(false);
                            if !done && !answered.contains(&index) {
                                pending = Some((index, now));
                            }
                        }
                        Some("ended") => {
                            out.games_ended += 1;
                            return;
                        }
                        _ => {}
                    }
                    continue;
                }
                if in_flight.as_ref().is_some_and(|(re, _, _)| f.is_reply(re)) {
                    let Some((_, question, sent)) = in_flight.take() else {
                        continue;
                    };
                    if f.kind == "room.answer_ack" {
                        c.timeline.ok(Kind::Room, now - sent);
                        out.answers_acked += 1;
                        answered.insert(question);
                    } else {
                        let code = f.code.unwrap_or_default();
                        if code == "already_answered" {
                            // Sent again after a re-join: the first one counted.
                            answered.insert(question);
                        } else {
                            c.timeline
                                .failed(Kind::Room, format!("room.answer: {code}"));
                        }
                    }
                    continue;
                }
                match f.kind.as_str() {
                    "room.question" if f.index.is_some_and(|i| !answered.contains(&i)) => {
                        let delay = Duration::from_secs_f64(0.3 + c.rng.unit() * (max_delay - 0.3));
                        pending = f.index.map(|index| (index, now + delay));
                    }
                    "room.question_closed"
                        if pending.is_some_and(|(q, _)| Some(q) == f.question_index()) =>
                    {
                        pending = None;
                    }
                    // Sent when this player's instance missed some of the room's events.
                    "room.state" => {
                        let snapshot = f.room.as_ref().unwrap_or(&Value::Null);
                        let index = snapshot["question"]["index"].as_u64().unwrap_or(0) as u32;
                        let done = snapshot["you"]["answered"].as_bool().unwrap_or(false);
                        match snapshot["phase"].as_str() {
                            Some("question")
                                if !done && !answered.contains(&index) && pending.is_none() =>
                            {
                                pending = Some((index, now));
                            }
                            Some("reveal") => pending = None,
                            _ => {}
                        }
                    }
                    "room.final" => final_seen = true,
                    "room.ended" => {
                        out.games_ended += 1;
                        if !answered.is_empty() && !final_seen {
                            out.finals_missed += 1;
                        }
                        return;
                    }
                    "room.kicked" => {
                        c.timeline.failed(Kind::Room, "kicked");
                        return;
                    }
                    _ => {}
                }
            }
            Got::Timeout => {
                let now = Instant::now();
                if let Some((_, sent)) = &joining
                    && now >= *sent + JOIN_RETRY
                {
                    // Sent again; a failure only once unanswered as long as any reply
                    // may take (a slow join in a busy second is not a lost one).
                    out.joins_repeated += 1;
                    if join_since.is_some_and(|since| now >= since + REPLY_TIMEOUT) {
                        c.timeline
                            .failed(Kind::Room, "player room.join unanswered for 10 s");
                        join_since = None;
                    }
                    need_join = true;
                    continue;
                }
                if let Some((question, due)) = pending
                    && now >= due
                {
                    pending = None;
                    id += 1;
                    let re = format!("pa{id}");
                    let option = ["A", "B", "C", "D"][(c.rng.next_u64() % 4) as usize];
                    let answer = json!({"type": "room.answer", "id": re, "question": question, "option": option});
                    if c.send(answer).await {
                        in_flight = Some((re, question, now));
                    }
                    continue;
                }
                if now >= last_frame + idle_limit {
                    out.games_stuck += 1;
                    c.timeline
                        .failed(Kind::Room, "player: nothing from the room for too long");
                    return;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// REST

/// The REST mix: reads and the write.
const READS: [&str; 3] = [
    "/api/v1/me",
    "/api/v1/leaderboards/alltime",
    "/api/v1/goals",
];

#[derive(Default)]
struct HttpOut {
    skipped: u64,
}

#[allow(clippy::too_many_arguments)]
async fn http_worker(
    api: Arc<Api>,
    worker: usize,
    workers: usize,
    tokens: Arc<Vec<String>>,
    start: Instant,
    step: Duration,
    write_every: Option<u64>,
    end: Instant,
    timeline: Arc<Timeline>,
    stop: CancellationToken,
) -> HttpOut {
    let mut out = HttpOut::default();
    let mut rng = Rng::new(0x5eed ^ worker as u64);
    let mut backoff = Backoff::new();
    let mut g = worker as u64;
    loop {
        let due = start + step.mul_f64(g as f64);
        if due >= end || stop.is_cancelled() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = stop.cancelled() => break,
        }
        let write = write_every.is_some_and(|every| g % every == every - 1);
        let token = &tokens[g as usize % tokens.len()];
        let (kind, request) = if write {
            (
                Kind::Write,
                api.request(worker, Method::PATCH, "/api/v1/me", Some(token))
                    .json(&json!({"display_name": format!("Mixed learner {g}")})),
            )
        } else {
            let path = READS[(g as usize / workers) % READS.len()];
            (
                Kind::Read,
                api.request(worker, Method::GET, path, Some(token)),
            )
        };
        let sent = Instant::now();
        let result = async {
            let response = request.send().await?;
            let status = response.status();
            response.bytes().await?;
            Ok::<_, anyhow::Error>(status)
        }
        .await;
        let done = Instant::now();
        let failed = match result {
            Ok(status) if status.is_success() => {
                timeline.ok(kind, from_schedule(due, sent, done));
                backoff.reset();
                false
            }
            Ok(status) => {
                timeline.failed(kind, format!("{}: {status}", KINDS[kind as usize]));
                true
            }
            Err(e) => {
                timeline.failed(kind, classify(KINDS[kind as usize], &e));
                true
            }
        };
        g += workers as u64;
        if failed {
            let wait = backoff.wait(&mut rng);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => break,
            }
            // The slots that passed meanwhile are skipped, not sent in a burst.
            let now = Instant::now();
            while start + step.mul_f64(g as f64) < now && start + step.mul_f64(g as f64) < end {
                out.skipped += 1;
                g += workers as u64;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// XP totals

/// A learner's `total_xp` from `GET /api/v1/me`, tried a few times.
async fn total_xp(api: &Api, via: usize, token: &str) -> Option<i64> {
    for attempt in 0..5u32 {
        let response = api
            .request(via, Method::GET, "/api/v1/me", Some(token))
            .send()
            .await;
        if let Ok(response) = response
            && response.status().is_success()
            && let Ok(body) = response.json::<Value>().await
            && let Some(total) = body["total_xp"].as_i64()
        {
            return Some(total);
        }
        tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt + 1))).await;
    }
    None
}

async fn totals(api: &Api, learners: &[Learner]) -> Vec<Option<i64>> {
    futures_util::stream::iter(learners.iter().enumerate())
        .map(|(i, learner)| total_xp(api, i, &learner.access_token))
        .buffered(32)
        .collect()
        .await
}

// ---------------------------------------------------------------------------------------
// The run

fn write_ready_file(path: &Path, start_unix_ms: i64) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{start_unix_ms}\n"))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

pub async fn run(ctx: &Ctx, args: &MixedArgs, learners: &[Learner]) -> anyhow::Result<Outcome> {
    let mut notes = Vec::new();
    let api = Arc::new(
        ctx.api.for_target(
            &ctx.target,
            &ctx.sources,
            args.http_connections
                .div_ceil(ctx.sources.all().len())
                .max(4),
            HTTP_TIMEOUT,
        )?,
    );
    eprintln!("  reading every learner's XP before the load");
    let before = totals(&api, learners).await;

    let start = Instant::now() + Duration::from_millis(200);
    let start_unix_ms = chrono::Utc::now().timestamp_millis() + 200;
    let end = start + Duration::from_secs(args.duration);
    let final_by = end + Duration::from_secs(args.final_wait);
    let timeline = Arc::new(Timeline::new(start));
    if let Some(path) = &args.ready_file {
        write_ready_file(path, start_unix_ms)?;
    }
    eprintln!(
        "  mixed load for {} s: {} quizzers ({} messages/s), {} rooms of {} players, {} REST requests/s ({:.0} % writes)",
        args.duration,
        args.quizzers,
        args.quiz_rate,
        args.rooms,
        args.room_players,
        args.http_rate,
        args.write_share * 100.0
    );

    let client = |i: usize, kind: Kind| Client {
        api: api.clone(),
        server: ctx.target.addr,
        source: ctx.sources.nth(i),
        via: i,
        token: learners[i].access_token.clone(),
        kind,
        timeline: timeline.clone(),
        rng: Rng::new(0x9e37_79b9 ^ ((i as u64) << 8)),
        socket: None,
        was_connected: false,
        last_sent: Instant::now(),
        backoff: Backoff::new(),
        xp: XpSeen::default(),
    };

    // Quizzers: learners 0..quizzers.
    let mut quizzers = JoinSet::new();
    if args.quizzers > 0 {
        let slot = Duration::from_secs_f64(args.quizzers as f64 / args.quiz_rate);
        for (i, learner) in learners.iter().enumerate().take(args.quizzers) {
            let plan = QuizPlan {
                level_id: learner.level_id.clone().unwrap_or_default(),
                first_due: start + slot.mul_f64(i as f64 / args.quizzers as f64),
                slot,
                end,
                final_by,
            };
            let c = client(i, Kind::Quiz);
            let stop = ctx.stop.clone();
            quizzers.spawn(async move { (i, quizzer(c, plan, stop).await) });
        }
    }

    // Rooms: per room a host, then its players.
    let mut hosts = JoinSet::new();
    let mut players = JoinSet::new();
    for room in 0..args.rooms {
        let plan = || RoomPlan {
            questions: args.room_questions,
            question_time: Duration::from_secs(args.question_time),
            players: args.room_players,
            end,
            final_by,
        };
        let first = args.quizzers + room * (args.room_players + 1);
        let (tx, rx) = watch::channel(None);
        let c = client(first, Kind::Room);
        let stop = ctx.stop.clone();
        let host_plan = plan();
        hosts.spawn(async move { (first, host(c, host_plan, room, tx, stop).await) });
        for p in 1..=args.room_players {
            let c = client(first + p, Kind::Room);
            let rx = rx.clone();
            let player_plan = plan();
            players.spawn(async move { (first + p, player(c, player_plan, rx).await) });
        }
    }

    // REST.
    let mut http = JoinSet::new();
    if args.http_rate > 0.0 {
        let tokens: Arc<Vec<String>> =
            Arc::new(learners.iter().map(|l| l.access_token.clone()).collect());
        let step = Duration::from_secs_f64(1.0 / args.http_rate);
        let write_every =
            (args.write_share > 0.0).then(|| (1.0 / args.write_share).round().max(1.0) as u64);
        for w in 0..args.http_connections {
            http.spawn(http_worker(
                api.clone(),
                w,
                args.http_connections,
                tokens.clone(),
                start,
                step,
                write_every,
                end,
                timeline.clone(),
                ctx.stop.clone(),
            ));
        }
    }

    // Collect.
    let mut seen: BTreeMap<usize, XpSeen> = BTreeMap::new();
    let mut quiz = QuizOut::default();
    let mut quizzes_stuck = 0u64;
    while let Some(joined) = quizzers.join_next().await {
        let Ok((i, (q, xp))) = joined else {
            quizzes_stuck += 1;
            continue;
        };
        quiz.finished += q.finished;
        quiz.resumed += q.resumed;
        quiz.lost += q.lost;
        quiz.results_missed += q.results_missed;
        quizzes_stuck += u64::from(q.stuck);
        seen.insert(i, xp);
    }
    let mut host_total = HostOut::default();
    while let Some(joined) = hosts.join_next().await {
        let Ok((i, (h, xp))) = joined else {
            host_total.games_stuck += 1;
            continue;
        };
        host_total.games_created += h.games_created;
        host_total.games_ended += h.games_ended;
        host_total.games_stuck += h.games_stuck;
        host_total.games_lost += h.games_lost;
        host_total.ended.merge(&h.ended);
        host_total.rejoins += h.rejoins;
        host_total.joins_repeated += h.joins_repeated;
        seen.insert(i, xp);
    }
    let mut player_total = PlayerOut::default();
    while let Some(joined) = players.join_next().await {
        let Ok((i, (p, xp))) = joined else {
            player_total.games_stuck += 1;
            continue;
        };
        player_total.games_joined += p.games_joined;
        player_total.games_ended += p.games_ended;
        player_total.games_lost += p.games_lost;
        player_total.games_stuck += p.games_stuck;
        player_total.answers_acked += p.answers_acked;
        player_total.rejoins += p.rejoins;
        player_total.joins_repeated += p.joins_repeated;
        player_total.finals_missed += p.finals_missed;
        seen.insert(i, xp);
    }
    let mut skipped = 0u64;
    while let Some(joined) = http.join_next().await {
        if let Ok(h) = joined {
            skipped += h.skipped;
        }
    }
    let finished_at = start.elapsed().as_secs_f64();

    // XP: what the server holds against what each client was told.
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!("  reading every learner's XP after the load");
    let after = totals(&api, learners).await;
    let mut xp_rows = Vec::new();
    let (mut lost, mut unannounced, mut unread) = (0u64, 0u64, 0u64);
    let (mut told_sum, mut delta_sum) = (0i64, 0i64);
    for (i, learner) in learners.iter().enumerate() {
        let xp = seen.get(&i).copied().unwrap_or_default();
        let (b, a) = (before[i], after[i]);
        let delta = match (b, a) {
            (Some(b), Some(a)) => Some(a - b),
            _ => None,
        };
        let verdict = match delta {
            None => {
                unread += 1;
                "unread"
            }
            Some(d) if d < xp.told() => {
                lost += 1;
                "lost"
            }
            Some(d) if d > xp.told() && xp.missed_results == 0 => {
                unannounced += 1;
                "unannounced"
            }
            Some(_) => "ok",
        };
        told_sum += xp.told();
        delta_sum += delta.unwrap_or(0);
        xp_rows.push(json!({
            "learner": i,
            "email": learner.email,
            "before": b,
            "after": a,
            "delta": delta,
            "told": xp.told(),
            "seen": xp,
            "verdict": verdict,
        }));
    }

    // The timeline.
    let data = std::mem::take(&mut *timeline.data.lock().unwrap_or_else(|p| p.into_inner()));
    let seconds: Vec<Value> = data
        .cells
        .iter()
        .enumerate()
        .map(|(s, cells)| {
            let mut row = serde_json::Map::new();
            row.insert("second".into(), json!(s));
            for (k, cell) in cells.iter().enumerate() {
                let mut latency = Latency::new();
                cell.latency.add_to(&mut latency);
                let p99 = (latency.count() > 0).then(|| latency.summary().p99_ms);
                row.insert(
                    KINDS[k].into(),
                    json!({"ok": cell.ok, "failed": cell.failed, "reconnects": cell.reconnects, "p99_ms": p99}),
                );
            }
            Value::Object(row)
        })
        .collect();
    let mut totals_by_kind = serde_json::Map::new();
    let (mut ok_all, mut failed_all) = (0u64, 0u64);
    let mut lines = Vec::new();
    for (k, name) in KINDS.iter().enumerate() {
        let ok: u64 = data.cells.iter().map(|c| c[k].ok).sum();
        let failed: u64 = data.cells.iter().map(|c| c[k].failed).sum();
        let reconnects: u64 = data.cells.iter().map(|c| c[k].reconnects).sum();
        ok_all += ok;
        failed_all += failed;
        let latency = data.latency[k].summary();
        lines.push(format!(
            "{name:<10} ok {ok}, failed {failed}, reconnects {reconnects}; latency {}",
            latency.line()
        ));
        if !data.failures[k].is_empty() {
            lines.push(format!("           failures: {}", data.failures[k].line()));
        }
        totals_by_kind.insert(
            name.to_string(),
            json!({"ok": ok, "failed": failed, "reconnects": reconnects, "latency": latency, "failures": data.failures[k]}),
        );
    }
    let rooms_stuck = host_total.games_stuck + player_total.games_stuck;
    lines.push(format!(
        "quizzes: {} finished, {} resumed after a new socket, {} lost, {} results missed, {} stuck at the end",
        quiz.finished, quiz.resumed, quiz.lost, quiz.results_missed, quizzes_stuck
    ));
    lines.push(format!(
        "rooms: {} games created, {} ended ({}), {} lost, {} stuck; host re-joins {}, player re-joins {}, answers acked {}",
        host_total.games_created,
        host_total.games_ended,
        host_total.ended.line(),
        host_total.games_lost,
        rooms_stuck,
        host_total.rejoins,
        player_total.rejoins,
        player_total.answers_acked
    ));
    lines.push(format!(
        "XP: clients were told {told_sum}, totals grew by {delta_sum}; learners with XP lost {lost}, unannounced {unannounced}, unread {unread}"
    ));
    if skipped > 0 {
        lines.push(format!("REST slots skipped while backing off: {skipped}"));
    }
    if data.events_dropped > 0 {
        notes.push(format!(
            "{} failures beyond the first {MAX_FAILURE_EVENTS} are counted in the timeline but not listed",
            data.events_dropped
        ));
    }

    let targets = vec![
        TargetCheck::new(
            "XP lost (server total below what the client was told)",
            "0 learners",
            format!("{lost} learners"),
            lost == 0 && unread == 0,
        ),
        TargetCheck::new(
            "XP never announced (server total above, no result missed)",
            "0 learners",
            format!("{unannounced} learners"),
            unannounced == 0 && unread == 0,
        ),
        TargetCheck::new(
            "quizzes and rooms stuck at the end",
            "0",
            format!("{quizzes_stuck} quizzes, {rooms_stuck} room games"),
            quizzes_stuck == 0 && rooms_stuck == 0,
        ),
    ];
    let figures = json!({
        "load_started_unix_ms": start_unix_ms,
        "load_seconds": args.duration,
        "finished_after_seconds": finished_at,
        "timeline": seconds,
        "totals": totals_by_kind,
        "quizzes": {
            "finished": quiz.finished,
            "resumed": quiz.resumed,
            "lost": quiz.lost,
            "results_missed": quiz.results_missed,
            "stuck": quizzes_stuck,
        },
        "rooms": {
            "hosts": host_total,
            "players": player_total,
            "stuck": rooms_stuck,
        },
        "http_skipped": skipped,
        "xp": {
            "told": told_sum,
            "delta": delta_sum,
            "lost_learners": lost,
            "unannounced_learners": unannounced,
            "unread_learners": unread,
            "learners": xp_rows,
        },
        "failure_events": data.events,
    });
    Ok(Outcome {
        figures,
        lines,
        targets,
        notes,
        succeeded: ok_all,
        failed: failed_all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> MixedArgs {
        let mut argv = vec!["questpath-load", "mixed"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::parse_from(argv).scenario {
            crate::cli::Scenario::Mixed(a) => a,
            _ => unreachable!("parsed as mixed"),
        }
    }

    #[test]
    fn flags_are_checked() {
        assert!(check(&args(&[])).is_ok());
        assert_eq!(learners(&args(&[])), 20 + 2 * 5);
        // 10 quizzers at 100 messages a second is 10 each: over the server's limit.
        assert!(check(&args(&["--quizzers", "10", "--quiz-rate", "100"])).is_err());
        // One message a minute would let the server drop the socket.
        assert!(check(&args(&["--quizzers", "10", "--quiz-rate", "0.5"])).is_err());
        assert!(check(&args(&["--duration", "601"])).is_err());
        assert!(check(&args(&["--question-time", "4"])).is_err());
        assert!(check(&args(&["--write-share", "1.5"])).is_err());
        assert!(check(&args(&["--rooms", "1", "--room-players", "0"])).is_err());
        assert!(check(&args(&["--quizzers", "0", "--rooms", "0"])).is_err());
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut rng = Rng::new(7);
        let mut b = Backoff::new();
        let first = b.wait(&mut rng);
        assert!(first >= BACKOFF_FIRST / 2 && first <= BACKOFF_FIRST);
        for _ in 0..10 {
            assert!(b.wait(&mut rng) <= BACKOFF_MAX);
        }
        assert_eq!(b.next, BACKOFF_MAX);
        b.reset();
        assert_eq!(b.next, BACKOFF_FIRST);
    }

    #[test]
    fn the_timeline_counts_per_second_and_kind() {
        let t = Timeline::new(Instant::now() - Duration::from_millis(2500));
        t.ok(Kind::Read, Duration::from_millis(3));
        t.failed(Kind::Quiz, "x");
        t.reconnect(Kind::Quiz);
        let d = t.data.lock().unwrap();
        assert_eq!(d.cells.len(), 3);
        assert_eq!(d.cells[2][Kind::Read as usize].ok, 1);
        assert_eq!(d.cells[2][Kind::Quiz as usize].failed, 1);
        assert_eq!(d.cells[2][Kind::Quiz as usize].reconnects, 1);
        assert_eq!(d.events.len(), 1);
        assert!((d.events[0].t - 2.5).abs() < 0.2);
    }

    #[test]
    fn xp_told_counts_results_and_finals_not_pushes() {
        let mut xp = XpSeen::default();
        let frame = |text: &str| serde_json::from_str::<Frame>(text).unwrap();
        xp.observe(&frame(
            r#"{"type":"quiz.result","xp_earned":15,"total_xp":15,"passed":true}"#,
        ));
        xp.observe(&frame(
            r#"{"type":"xp.granted","amount":15,"total_xp":15,"player_level":1}"#,
        ));
        xp.observe(&frame(
            r#"{"type":"room.final","rank":1,"score":900,"correct":1,"answered":1,"xp":37}"#,
        ));
        assert_eq!(xp.told(), 52);
        assert_eq!(xp.granted_pushes, 15);
        // A room question's text and a closed question's index both parse.
        assert_eq!(
            frame(r#"{"type":"room.question_closed","question":2}"#).question_index(),
            Some(2)
        );
        assert_eq!(
            frame(r#"{"type":"room.question","index":0,"question":"Q?"}"#).question_index(),
            None
        );
    }

    #[test]
    fn a_join_is_answered_by_any_of_its_ids_or_the_seat_given_back() {
        let frame = |text: &str| serde_json::from_str::<Frame>(text).unwrap();
        let code = "K7XQ2M";
        assert!(
            frame(r#"{"type":"room.joined","re":"pj3","room":{"code":"K7XQ2M"}}"#)
                .answers_join("pj", code)
        );
        assert!(
            frame(r#"{"type":"error","re":"pj1","code":"room_ended"}"#).answers_join("pj", code)
        );
        assert!(
            frame(r#"{"type":"room.joined","room":{"code":"K7XQ2M","phase":"question"}}"#)
                .answers_join("pj", code)
        );
        // Another game's seat, another client's ids, other frames: no.
        assert!(
            !frame(r#"{"type":"room.joined","room":{"code":"AAAAAA"}}"#).answers_join("pj", code)
        );
        assert!(
            !frame(r#"{"type":"room.joined","re":"hj1","room":{"code":"K7XQ2M"}}"#)
                .answers_join("pj", code)
        );
        assert!(!frame(r#"{"type":"pong","re":"pj2"}"#).answers_join("pj", code));
    }
}
