//! `room`: one multiplayer room of N players and a host, playing Q questions.
//!
//! The host (a registered learner) creates the room over HTTP with questions of its
//! own (`POST /api/v1/rooms`, `max_players` N), connects and sends `room.join`. The
//! players then join on a schedule (`--join-rate`, at most `--join-concurrency` in
//! flight): a guest pass (`POST /api/v1/rooms/{code}/guests`, with `--guests`) or a
//! websocket ticket for their own account, the upgrade, and `room.join`. Once every
//! join has succeeded or failed the host starts the game (`room.start`), and after each
//! `room.question_closed` and a reveal pause (`--reveal`) sends `room.next`; the
//! `room.next` after the last question ends the game (`room.final`, `room.ended`).
//! Every player answers every question with a random option after a random delay of
//! up to `--answer-delay` seconds from receiving it.
//!
//! What is measured, all on the generator's one monotonic clock:
//!
//! - **Question fan-out**: from the moment the host *sent* `room.start` / `room.next`
//!   to each player's receipt of that `room.question`; per question, the time to the
//!   *last* player. This includes the host's own hop to the server and every player's
//!   hop back, and the generator's time to read 10,000 sockets on the same cores: an
//!   upper bound of what the server's fan-out costs. The server's own view,
//!   `questpath_room_fanout_seconds` (from the room actor publishing a question to the
//!   instance having queued it for every local socket), is scraped from `/metrics`
//!   before and after the game and reported beside it.
//! - **Answer ingest**: `room.answer` to `room.answer_ack`, from the answer's scheduled
//!   time (coordinated omission accounted for) and from its actual send; acks per second
//!   at the peak (best 1 s window, in 100 ms steps); refusals by error code.
//! - **Completeness**: every joined player must receive every question, one
//!   `room.your_result` per question, `room.final` and `room.ended`; the host one
//!   new seat in its `room.roster` frames. Anything missing is counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Ctx, Outcome, classify, cpu_figures};
use crate::accounts::Learner;
use crate::api::{Api, PromHistogram, parse_counter_by, parse_histogram};
use crate::cli::RoomArgs;
use crate::report::{SelfUsage, TargetCheck};
use crate::stats::{Latency, Samples, Tally, from_schedule};
use crate::target::Target;
use crate::ws::{self, RawEvent, Socket};

/// Each step of a join (pass or ticket, upgrade, `room.join` to `room.joined`) must
/// finish within this; a whole join within [`JOIN_TIMEOUT`].
const JOIN_STEP_TIMEOUT: Duration = Duration::from_secs(20);
const JOIN_TIMEOUT: Duration = Duration::from_secs(100);
/// A socket that has sent nothing for this long sends an application `ping` (the
/// server drops a connection silent for 30 s).
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Pause between the last join and `room.start`: the lobby's coalesced updates settle.
const SETTLE: Duration = Duration::from_secs(2);
/// After the host's last command, how long players have to receive their results and
/// the end before they are let go (counted as missing).
const END_WAIT: Duration = Duration::from_secs(30);
/// The host gives up on a question that has not closed this long after its deadline.
const STUCK_AFTER_DEADLINE: Duration = Duration::from_secs(30);
/// The server refuses an answer later than the deadline plus this grace.
const LATE_GRACE: Duration = Duration::from_millis(500);
/// Histogram of the server's own fan-out time.
const FANOUT_METRIC: &str = "questpath_room_fanout_seconds";
const ANSWERS_METRIC: &str = "questpath_room_answers_total";
/// Resolution of the acks-per-second series.
const BIN: Duration = Duration::from_millis(100);
/// Letters of the four options every generated question has.
const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// Checks the flags against the server's ranges and the run's bounds.
pub fn check(args: &RoomArgs) -> anyhow::Result<()> {
    if args.players == 0 || args.players > 50_000 {
        bail!("--players must be 1 to 50,000");
    }
    if args.questions == 0 || args.questions > 100 {
        bail!("--questions must be 1 to 100 (the server's limit per room)");
    }
    if !(5..=300).contains(&args.question_time) {
        bail!("--question-time must be 5 to 300 seconds (the server's range)");
    }
    if !(args.answer_delay >= 0.0 && args.answer_delay + 0.5 <= args.question_time as f64) {
        bail!("--answer-delay must be 0 to --question-time minus 0.5 seconds");
    }
    if !(0.0..=60.0).contains(&args.reveal) {
        bail!("--reveal must be 0 to 60 seconds");
    }
    if !(args.join_rate > 0.0 && args.join_rate <= 100_000.0) {
        bail!("--join-rate must be above 0 and at most 100,000");
    }
    if args.join_concurrency == 0 || args.join_concurrency > 10_000 {
        bail!("--join-concurrency must be 1 to 10,000");
    }
    if args.duration == 0 || args.duration > crate::MAX_DURATION {
        bail!("--duration must be 1 to {} seconds", crate::MAX_DURATION);
    }
    for url in &args.player_urls {
        Target::parse(url)?;
    }
    Ok(())
}

/// The body of `POST /api/v1/rooms`: `questions` of four options each, the right one
/// rotating, `max_players` the run's players.
pub fn room_body(args: &RoomArgs) -> Value {
    let questions: Vec<Value> = (0..args.questions)
        .map(|i| {
            json!({
                "question": format!("Load question {}: which option is right?", i + 1),
                "options": ["Alpha", "Bravo", "Charlie", "Delta"],
                "correct_option": LETTERS[i % 4],
                "explanation": "Generated by questpath-load.",
            })
        })
        .collect();
    json!({
        "title": format!("questpath-load room of {}", args.players),
        "questions": questions,
        "question_time_secs": args.question_time,
        "max_players": args.players,
        "allow_guests": args.guests,
    })
}

/// The fields of room frames the scenario reads (`question` is a text in
/// `room.question` and an index elsewhere, hence a `Value`).
#[derive(Debug, Deserialize)]
struct RoomFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    re: Option<String>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    question: Option<Value>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    answered: Option<Value>,
    #[serde(default)]
    room: Option<Value>,
    /// Seats taken, in `room.roster`.
    #[serde(default)]
    joined: Option<Vec<Value>>,
}

impl RoomFrame {
    /// New seats a `room.roster` announces (reconnects are not counted).
    fn new_seats(&self) -> u64 {
        self.joined
            .iter()
            .flatten()
            .filter(|entry| entry["returning"] != Value::Bool(true))
            .count() as u64
    }

    fn question_index(&self) -> Option<u32> {
        self.question
            .as_ref()
            .and_then(Value::as_u64)
            .and_then(|q| u32::try_from(q).ok())
    }
}

/// The next frame, decoded; `None` when the server closed the socket (its close code
/// in the error position).
async fn next_frame(socket: &mut Socket) -> anyhow::Result<Result<RoomFrame, Option<u16>>> {
    match ws::next_text(socket).await? {
        RawEvent::Text(text) => {
            let frame = serde_json::from_str::<RoomFrame>(text.as_str())
                .with_context(|| format!("not a protocol frame: {}", text.as_str()))?;
            Ok(Ok(frame))
        }
        RawEvent::Closed(code) => Ok(Err(code)),
    }
}

/// Waits for the answer to a `room.join` sent with id `re`: `room.joined` (returns its
/// `room`), or the refusal's code as the error.
async fn await_joined(socket: &mut Socket, re: &str) -> anyhow::Result<Value> {
    loop {
        match next_frame(socket).await? {
            Ok(f) if f.re.as_deref() == Some(re) && f.kind == "room.joined" => {
                return Ok(f.room.unwrap_or(Value::Null));
            }
            Ok(f) if f.re.as_deref() == Some(re) && f.kind == "error" => {
                bail!("room.join refused: {}", f.code.unwrap_or_default())
            }
            Ok(_) => continue,
            Err(code) => bail!("closed before room.joined (code {code:?})"),
        }
    }
}

/// A small deterministic generator (splitmix64) per player: delays and options.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How one join went.
enum JoinReport {
    Joined {
        /// From the scheduled start to `room.joined`.
        total: Duration,
        /// Guest pass or ticket `POST`.
        pass: Duration,
        /// Upgrade to `hello`.
        upgrade: Duration,
        /// `room.join` to `room.joined`.
        join: Duration,
    },
    Failed(String),
}

/// What one player saw of the game.
struct PlayerOut {
    joined: bool,
    /// When each `room.question` arrived, by index.
    question_at: Vec<Option<Instant>>,
    /// Questions received twice (a repeated event).
    duplicate_questions: u64,
    /// `room.your_result` received, by question.
    results: Vec<bool>,
    final_received: bool,
    ended: Option<String>,
    answers_sent: u64,
    acked: u64,
    /// Answer (from its scheduled time) to ack.
    ack_latency: Samples,
    /// Answer (from its actual send) to ack.
    ack_service: Samples,
    /// Acked answers: the question, when sent, when acked.
    ack_times: Vec<(u32, Instant, Instant)>,
    /// Refusals of answers, by error code.
    refused: Tally,
    /// Questions that closed before this player's answer was due.
    not_answered: u64,
    /// Other errors, unexpected closes, failures.
    errors: Tally,
    failed: bool,
}

impl PlayerOut {
    fn new(questions: usize) -> PlayerOut {
        PlayerOut {
            joined: false,
            question_at: vec![None; questions],
            duplicate_questions: 0,
            results: vec![false; questions],
            final_received: false,
            ended: None,
            answers_sent: 0,
            acked: 0,
            ack_latency: Samples::default(),
            ack_service: Samples::default(),
            ack_times: Vec::new(),
            refused: Tally::default(),
            not_answered: 0,
            errors: Tally::default(),
            failed: false,
        }
    }
}

/// What the host did and saw.
#[derive(Default)]
struct HostOut {
    /// When `room.start` / `room.next` was sent, by the question it opened.
    sent_at: Vec<Option<Instant>>,
    /// When the host's own `room.question` arrived.
    received_at: Vec<Option<Instant>>,
    /// When each question closed (the host's receipt of `room.question_closed`).
    closed_at: Vec<Option<Instant>>,
    /// `answered` in each `room.question_closed`.
    answered: Vec<Option<u64>>,
    /// When the command that ends the game was sent.
    end_sent: Option<Instant>,
    ended: Option<String>,
    ended_at: Option<Instant>,
    seats_announced: u64,
    errors: Tally,
    /// The server closed the host's socket with this code before `room.ended`.
    closed_with: Option<u16>,
    /// The game was cut short (duration cap, stop, a stuck question).
    cut_short: Option<String>,
}

pub async fn run(ctx: &Ctx, args: &RoomArgs, learners: &[Learner]) -> anyhow::Result<Outcome> {
    let mut notes = Vec::new();
    let host = learners.first().context("no host account")?;
    let accounts: Vec<Learner> = if args.guests {
        Vec::new()
    } else {
        learners.iter().skip(1).cloned().collect()
    };
    if !args.guests && accounts.len() < args.players {
        bail!(
            "{} player accounts for {} players",
            accounts.len(),
            args.players
        );
    }

    // Where players connect: --player-urls round robin, else --url.
    let pool = args
        .join_concurrency
        .div_ceil(ctx.sources.all().len())
        .max(1);
    let mut instances: Vec<(Target, Arc<Api>)> = Vec::new();
    for url in &args.player_urls {
        let target = Target::parse(url)?;
        let api = if target.base == ctx.target.base {
            ctx.api.clone()
        } else {
            Arc::new(
                ctx.api
                    .for_target(&target, &ctx.sources, pool, Duration::from_secs(30))?,
            )
        };
        instances.push((target, api));
    }
    if instances.is_empty() {
        instances.push((ctx.target.clone(), ctx.api.clone()));
    }

    // The room.
    let created = ctx
        .api
        .create_room(0, &host.access_token, &room_body(args))
        .await
        .with_context(|| {
            format!(
                "creating a room of {} players (the server must run with QUESTPATH_ROOM_MAX_PLAYERS >= {})",
                args.players, args.players
            )
        })?;
    let code = created.code.clone();
    eprintln!(
        "  room {} (code {code}): {} questions, {} seats, {} s per question",
        created.room_id, created.question_count, created.max_players, args.question_time
    );

    // The host joins first.
    let ticket = ctx.api.ticket(0, &host.access_token).await?;
    let mut host_socket = ws::connect(ctx.sources.nth(0), ctx.target.addr, &ticket, JOIN_TIMEOUT)
        .await
        .context("the host's websocket")?;
    ws::send(
        &mut host_socket,
        json!({"type": "room.join", "id": "host-join", "code": code}).to_string(),
    )
    .await?;
    let room = tokio::time::timeout(JOIN_TIMEOUT, await_joined(&mut host_socket, "host-join"))
        .await
        .context("the host's room.join got no answer")??;
    let role = room.get("role").and_then(Value::as_str).unwrap_or("");
    if role != "host" {
        bail!("the host joined its room as {role:?}, not as host");
    }

    let questions = args.questions;
    let (start_tx, start_rx) = oneshot::channel::<()>();
    // Cancelled when the players must stop waiting (END_WAIT after the host is done).
    let release = CancellationToken::new();
    let host_task = {
        let stop = ctx.stop.clone();
        let reveal = Duration::from_secs_f64(args.reveal);
        let question_time = Duration::from_secs(args.question_time);
        let cap = Duration::from_secs(args.duration);
        tokio::spawn(async move {
            let mut out = HostOut {
                sent_at: vec![None; questions],
                received_at: vec![None; questions],
                closed_at: vec![None; questions],
                answered: vec![None; questions],
                ..HostOut::default()
            };
            let mut socket = host_socket;
            if let Err(e) = run_host(
                &mut socket,
                questions,
                question_time,
                reveal,
                cap,
                start_rx,
                stop,
                &mut out,
            )
            .await
            {
                out.errors.add(classify("host", &e));
            }
            ws::close(socket).await;
            out
        })
    };

    // The players join on a schedule.
    let n = args.players;
    eprintln!(
        "  joining {n} {} at {} per second, {} in flight, over {} instance(s)",
        if args.guests { "guests" } else { "learners" },
        args.join_rate,
        args.join_concurrency,
        instances.len()
    );
    let (report_tx, mut report_rx) = mpsc::unbounded_channel::<JoinReport>();
    let semaphore = Arc::new(Semaphore::new(args.join_concurrency));
    let interval = Duration::from_secs_f64(1.0 / args.join_rate);
    let ramp_start = Instant::now() + Duration::from_millis(50);
    let seed = chrono::Utc::now().timestamp_micros() as u64;
    let answer_delay = args.answer_delay;
    let mut tasks = JoinSet::new();
    let mut scheduled = 0usize;
    for i in 0..n {
        let due = ramp_start + interval.mul_f64(i as f64);
        tokio::select! {
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(due)) => {}
            _ = ctx.stop.cancelled() => break,
        }
        let permit = tokio::select! {
            p = semaphore.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = ctx.stop.cancelled() => break,
        };
        scheduled += 1;
        let (target, api) = instances[i % instances.len()].clone();
        let token = accounts.get(i).map(|l| l.access_token.clone());
        let source = ctx.sources.nth(i + 1);
        let code = code.clone();
        let report_tx = report_tx.clone();
        let release = release.clone();
        tasks.spawn(async move {
            let mut out = PlayerOut::new(questions);
            let name = format!("p{i}");
            let joined = tokio::time::timeout(
                JOIN_TIMEOUT,
                join(
                    &api,
                    &target,
                    source,
                    i,
                    token.as_deref(),
                    &code,
                    &name,
                    due,
                ),
            )
            .await
            .unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "no room.joined within {} s",
                    JOIN_TIMEOUT.as_secs()
                ))
            });
            drop(permit);
            let mut socket = match joined {
                Ok((socket, report)) => {
                    let _ = report_tx.send(report);
                    socket
                }
                Err(e) => {
                    let _ = report_tx.send(JoinReport::Failed(classify("join", &e)));
                    return out;
                }
            };
            out.joined = true;
            let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let result = tokio::select! {
                r = play(&mut socket, answer_delay, &mut rng, &mut out) => r,
                _ = release.cancelled() => Ok(()),
            };
            if let Err(e) = result {
                out.failed = true;
                out.errors.add(classify("player", &e));
            }
            ws::close(socket).await;
            out
        });
    }
    drop(report_tx);

    // Every join succeeds or fails (each is bounded by JOIN_TIMEOUT).
    let mut join_total = Latency::new();
    let mut join_pass = Latency::new();
    let mut join_upgrade = Latency::new();
    let mut join_join = Latency::new();
    let mut join_failures = Tally::default();
    let mut joined = 0usize;
    let mut last_join = ramp_start;
    let mut reported = 0usize;
    while reported < scheduled {
        let report = tokio::select! {
            r = report_rx.recv() => r,
            _ = ctx.stop.cancelled() => None,
        };
        let Some(report) = report else { break };
        reported += 1;
        match report {
            JoinReport::Joined {
                total,
                pass,
                upgrade,
                join,
            } => {
                joined += 1;
                join_total.record(total);
                join_pass.record(pass);
                join_upgrade.record(upgrade);
                join_join.record(join);
                last_join = Instant::now();
            }
            JoinReport::Failed(why) => join_failures.add(why),
        }
        if reported.is_multiple_of((n / 10).max(1)) {
            eprintln!("  joins: {reported}/{n} done, {joined} in the room");
        }
    }
    let join_secs = last_join
        .saturating_duration_since(ramp_start)
        .as_secs_f64();
    eprintln!(
        "  {joined} of {n} players in the room after {join_secs:.1} s ({} failed)",
        join_failures.total()
    );
    if !join_failures.is_empty() {
        notes.push(format!("joins that failed: {}", join_failures.line()));
    }

    // The game.
    let mut server_before = Default::default();
    let mut self_before = SelfUsage::now();
    let mut metrics_before = Vec::new();
    let mut game_started = Instant::now();
    let started = if joined > 0 && !ctx.stop.is_cancelled() {
        ctx.sleep(SETTLE).await;
        metrics_before = scrape(&instances, ctx, &mut notes).await;
        server_before = ctx.sample(&mut notes).await;
        self_before = SelfUsage::now();
        eprintln!("  game: {questions} questions, answers within {answer_delay} s");
        game_started = Instant::now();
        start_tx.send(()).is_ok()
    } else {
        drop(start_tx);
        false
    };

    // The host ends the game by itself (last question, --duration, stop); the players
    // then have END_WAIT to see the end.
    let host_out = match host_task.await {
        Ok(out) => out,
        Err(e) => {
            notes.push(format!("the host task failed: {e}"));
            HostOut::default()
        }
    };
    let game_secs = host_out
        .ended_at
        .or(host_out.end_sent)
        .map(|t| t.saturating_duration_since(game_started).as_secs_f64());
    let end_wait = async {
        let mut players = Vec::with_capacity(n);
        while let Some(joined) = tasks.join_next().await {
            if let Ok(p) = joined {
                players.push(p);
            }
        }
        players
    };
    let releaser = {
        let release = release.clone();
        tokio::spawn(async move {
            tokio::time::sleep(END_WAIT).await;
            release.cancel();
        })
    };
    let players = end_wait.await;
    releaser.abort();
    let server_after = ctx.sample(&mut notes).await;
    let self_after = SelfUsage::now();
    let metrics_after = if started {
        scrape(&instances, ctx, &mut notes).await
    } else {
        Vec::new()
    };

    // Fan-out: host command -> each player's receipt.
    let played: Vec<usize> = (0..questions)
        .filter(|q| host_out.sent_at[*q].is_some() && host_out.closed_at[*q].is_some())
        .collect();
    let mut fanout = Latency::new();
    let mut last_player = Latency::new();
    let mut per_question = Vec::new();
    let mut missing_questions = 0u64;
    let in_room: Vec<&PlayerOut> = players.iter().filter(|p| p.joined).collect();
    // Per question: acks, the first answer's send, the last ack.
    let mut ingest: Vec<(u64, Option<Instant>, Option<Instant>)> = vec![(0, None, None); questions];
    for p in &in_room {
        for (q, sent, acked_at) in &p.ack_times {
            if let Some((n, first, last)) = ingest.get_mut(*q as usize) {
                *n += 1;
                *first = Some(first.map_or(*sent, |f| f.min(*sent)));
                *last = Some(last.map_or(*acked_at, |l| l.max(*acked_at)));
            }
        }
    }
    for &q in &played {
        let Some(sent) = host_out.sent_at[q] else {
            continue;
        };
        let mut this = Latency::new();
        let mut first: Option<Instant> = None;
        let mut last: Option<Instant> = None;
        for p in &in_room {
            match p.question_at[q] {
                Some(at) => {
                    let d = at.saturating_duration_since(sent);
                    this.record(d);
                    fanout.record(d);
                    first = Some(first.map_or(at, |f| f.min(at)));
                    last = Some(last.map_or(at, |l| l.max(at)));
                }
                None => missing_questions += 1,
            }
        }
        let to_last = last.map(|l| l.saturating_duration_since(sent));
        if let Some(d) = to_last {
            last_player.record(d);
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let s = this.summary();
        per_question.push(json!({
            "index": q,
            "received_by": s.count,
            "from_host_command": s,
            "to_last_player_ms": to_last.map(ms),
            "first_to_last_player_ms": first.zip(last).map(|(f, l)| ms(l.saturating_duration_since(f))),
            "host_own_receipt_ms": host_out.received_at[q].map(|r| ms(r.saturating_duration_since(sent))),
            "open_ms": host_out.closed_at[q].map(|c| ms(c.saturating_duration_since(sent))),
            "answered": host_out.answered[q],
            "answers_acked": ingest[q].0,
            "first_answer_to_last_ack_ms": ingest[q].1.zip(ingest[q].2).map(|(f, l)| ms(l.saturating_duration_since(f))),
            "acks_per_second_over_that": ingest[q].1.zip(ingest[q].2).and_then(|(f, l)| {
                let secs = l.saturating_duration_since(f).as_secs_f64();
                (secs > 0.0).then(|| ingest[q].0 as f64 / secs)
            }),
        }));
    }
    let fanout = fanout.summary();
    let last_player = last_player.summary();

    // Answers.
    let mut ack_latency = Latency::new();
    let mut ack_service = Latency::new();
    let mut refused = Tally::default();
    let mut errors = Tally::default();
    let mut answers_sent = 0u64;
    let mut acked = 0u64;
    let mut not_answered = 0u64;
    let mut failed_players = 0u64;
    let mut duplicates = 0u64;
    let mut missing_results = 0u64;
    let mut missing_finals = 0u64;
    let mut missing_ended = 0u64;
    let mut ended_reasons = Tally::default();
    let mut bins: Vec<u64> = Vec::new();
    for p in &in_room {
        p.ack_latency.add_to(&mut ack_latency);
        p.ack_service.add_to(&mut ack_service);
        refused.merge(&p.refused);
        errors.merge(&p.errors);
        answers_sent += p.answers_sent;
        acked += p.acked;
        not_answered += p.not_answered;
        failed_players += u64::from(p.failed);
        duplicates += p.duplicate_questions;
        for &q in &played {
            missing_results += u64::from(!p.results[q]);
        }
        if started {
            missing_finals += u64::from(!p.final_received);
            match &p.ended {
                Some(reason) => ended_reasons.add(reason.clone()),
                None => missing_ended += 1,
            }
        }
        for (_, _, t) in &p.ack_times {
            let bin =
                (t.saturating_duration_since(game_started).as_nanos() / BIN.as_nanos()) as usize;
            if bins.len() <= bin {
                bins.resize(bin + 1, 0);
            }
            bins[bin] += 1;
        }
    }
    let per_second = (Duration::from_secs(1).as_nanos() / BIN.as_nanos()) as usize;
    let peak_answers = bins
        .windows(per_second.min(bins.len()).max(1))
        .map(|w| w.iter().sum::<u64>())
        .max()
        .unwrap_or(0);
    let peak_100ms = bins.iter().max().copied().unwrap_or(0) * per_second as u64;
    let ack_latency = ack_latency.summary();
    let ack_service = ack_service.summary();
    let expected_joins = joined as u64;
    let lost_join_events = expected_joins.saturating_sub(host_out.seats_announced);

    // The server's own fan-out histogram and answer outcomes over the game.
    let server_fanout = server_fanout(&metrics_before, &metrics_after);
    let server_answers = server_answers(&metrics_before, &metrics_after);

    let join_figures = json!({
        "joined": joined,
        "failures": join_failures,
        "seconds": join_secs,
        "per_second": if join_secs > 0.0 { joined as f64 / join_secs } else { 0.0 },
        "latency_from_schedule": join_total.summary(),
        "pass_or_ticket": join_pass.summary(),
        "upgrade": join_upgrade.summary(),
        "room_join": join_join.summary(),
        "host_seats_announced": host_out.seats_announced,
    });
    let fanout_figures = json!({
        "from_host_command": fanout,
        "to_last_player": last_player,
        "per_question": per_question,
        "server_metric": server_fanout,
    });
    let answer_figures = json!({
        "sent": answers_sent,
        "acked": acked,
        "refused": refused,
        "not_answered_in_time": not_answered,
        "ack_latency_from_schedule": ack_latency,
        "ack_service_time": ack_service,
        "peak_acks_per_second": peak_answers,
        "peak_acks_per_second_in_100ms": peak_100ms,
        "server_outcomes": server_answers,
    });
    let completeness = json!({
        "missing_questions": missing_questions,
        "duplicate_questions": duplicates,
        "missing_your_results": missing_results,
        "missing_finals": missing_finals,
        "missing_ended": missing_ended,
        "ended_reasons": ended_reasons,
        "seats_not_announced": lost_join_events,
        "players_failed": failed_players,
        "player_errors": errors,
        "host_errors": host_out.errors,
        "host_closed_by_server_with": host_out.closed_with,
    });
    let figures = json!({
        "room_id": created.room_id,
        "players": n,
        "guests": args.guests,
        "instances": instances.iter().map(|(t, _)| t.base.clone()).collect::<Vec<_>>(),
        "join": join_figures,
        "questions": questions,
        "questions_played": played.len(),
        "game_seconds": game_secs,
        "game_cut_short": host_out.cut_short,
        "room_ended": host_out.ended,
        "question_fanout": fanout_figures,
        "answers": answer_figures,
        "completeness": completeness,
        "cpu": cpu_figures(server_before, server_after, self_before, self_after, acked),
    });

    let mut lines = vec![
        format!(
            "joined: {joined} of {n} players in {join_secs:.1} s ({} failed); join from schedule {}",
            join_failures.total(),
            join_total.summary().line()
        ),
        format!(
            "questions: {} of {questions} played in {}",
            played.len(),
            game_secs.map_or("?".into(), |s| format!("{s:.1} s"))
        ),
        format!("fan-out, host command -> player: {}", fanout.line()),
        format!(
            "fan-out, time to the last player per question: {}",
            last_player.line()
        ),
    ];
    if let Some(s) = &server_fanout {
        lines.push(format!(
            "server fan-out (questpath_room_fanout_seconds, {} observations): p50 {} p99 {} mean {}",
            s.count,
            fmt_ms(s.p50_ms),
            fmt_ms(s.p99_ms),
            fmt_ms(s.mean_ms)
        ));
    }
    lines.push(format!(
        "answers: {answers_sent} sent, {acked} acked, refused: {}; peak {peak_answers} acks per second (best 1 s), {peak_100ms} per second over the best 100 ms",
        refused.line()
    ));
    lines.push(format!(
        "answer -> ack (from schedule): {}",
        ack_latency.line()
    ));
    lines.push(format!(
        "answer -> ack (service time):  {}",
        ack_service.line()
    ));
    lines.push(format!(
        "missing: questions {missing_questions}, your_result {missing_results}, final {missing_finals}, ended {missing_ended}, seats not announced to the host {lost_join_events}; errors: {}; host errors: {}; players failed: {failed_players}",
        errors.line(),
        host_out.errors.line()
    ));
    if let Some(code) = host_out.closed_with {
        let why = match code {
            4008 => " (4008: slow consumer, its outgoing queue filled)",
            4009 => " (4009: flood)",
            4010 => " (4010: silent for 30 s)",
            1012 => " (1012: server restarting)",
            _ => "",
        };
        notes.push(format!(
            "the server closed the host's socket with code {code}{why} after {} seats were announced",
            host_out.seats_announced
        ));
    }
    if let Some(why) = &host_out.cut_short {
        notes.push(format!("the game was cut short: {why}"));
    }

    let mut targets = Vec::new();
    if n >= 10_000 {
        targets.push(TargetCheck::new(
            "room of 10,000 players: question fan-out p99 (host command to player receipt)",
            "< 200 ms",
            if fanout.count == 0 {
                format!("nothing: no question was played ({joined} players joined; see the notes)")
            } else {
                format!(
                    "{:.1} ms over {} receipts of {} questions by {joined} players (to the last player: max {:.1} ms)",
                    fanout.p99_ms,
                    fanout.count,
                    played.len(),
                    last_player.max_ms
                )
            },
            fanout.count > 0 && fanout.p99_ms < 200.0 && joined >= 10_000,
        ));
    } else {
        notes.push(format!(
            "the fan-out target (p99 < 200 ms) is set for a room of 10,000 players; this one has {n}"
        ));
    }

    let expected_answers = (played.len() * joined) as u64;
    Ok(Outcome {
        figures,
        lines,
        targets,
        notes,
        succeeded: acked,
        failed: join_failures.total()
            + refused.total()
            + failed_players
            + missing_questions
            + missing_results
            + missing_finals
            + missing_ended
            + expected_answers.saturating_sub(acked + refused.total()),
    })
}

fn fmt_ms(ms: Option<f64>) -> String {
    ms.map_or("?".into(), |v| format!("{v:.2} ms"))
}

/// One join: a guest pass or a ticket, the upgrade, `room.join` until `room.joined`.
#[allow(clippy::too_many_arguments)]
async fn join(
    api: &Api,
    target: &Target,
    source: std::net::Ipv4Addr,
    i: usize,
    token: Option<&str>,
    code: &str,
    name: &str,
    due: Instant,
) -> anyhow::Result<(Socket, JoinReport)> {
    let started = Instant::now();
    let ticket = tokio::time::timeout(JOIN_STEP_TIMEOUT, async {
        match token {
            Some(token) => api.ticket(i, token).await,
            None => api.guest_ticket(i, code, name).await,
        }
    })
    .await
    .with_context(|| {
        format!(
            "no guest pass or ticket within {} s",
            JOIN_STEP_TIMEOUT.as_secs()
        )
    })??;
    let passed = Instant::now();
    let mut socket = ws::connect(source, target.addr, &ticket, JOIN_STEP_TIMEOUT).await?;
    let upgraded = Instant::now();
    let mut join = json!({"type": "room.join", "id": "join", "code": code});
    if token.is_some() {
        // A learner's name would be read from the store; name the player instead.
        join["name"] = json!(name);
    }
    ws::send(&mut socket, join.to_string()).await?;
    if tokio::time::timeout(JOIN_STEP_TIMEOUT, await_joined(&mut socket, "join"))
        .await
        .is_err()
    {
        return Err(diagnose_missing_join(&mut socket).await);
    }
    let done = Instant::now();
    Ok((
        socket,
        JoinReport::Joined {
            total: from_schedule(due, started, done),
            pass: passed - started,
            upgrade: upgraded - passed,
            join: done - upgraded,
        },
    ))
}

/// After a `room.join` unanswered for [`JOIN_STEP_TIMEOUT`]: keeps reading as long
/// again, and says whether the answer was late or lost, and what arrived meanwhile (a
/// `room.lobby` means the server had put the connection in the room's relay).
async fn diagnose_missing_join(socket: &mut Socket) -> anyhow::Error {
    let mut seen = std::collections::BTreeSet::new();
    let watch = async {
        loop {
            match next_frame(socket).await {
                Ok(Ok(f)) if f.kind == "room.joined" && f.re.as_deref() == Some("join") => {
                    return Some("it came late");
                }
                Ok(Ok(f)) => {
                    seen.insert(f.kind);
                }
                Ok(Err(_)) => return Some("then closed"),
                Err(_) => return Some("then the socket failed"),
            }
        }
    };
    let verdict = tokio::time::timeout(JOIN_STEP_TIMEOUT, watch)
        .await
        .ok()
        .flatten()
        .unwrap_or("nor in as long again");
    let seen = if seen.is_empty() {
        "nothing".to_string()
    } else {
        seen.into_iter().collect::<Vec<_>>().join(" ")
    };
    // Short: error tallies keep 90 characters.
    anyhow::anyhow!(
        "no room.joined in {} s, {verdict}; got: {seen}",
        JOIN_STEP_TIMEOUT.as_secs()
    )
}

/// A player from `room.joined` to `room.ended`: answers each question once after a
/// random delay, records what arrives.
async fn play(
    socket: &mut Socket,
    answer_delay: f64,
    rng: &mut Rng,
    out: &mut PlayerOut,
) -> anyhow::Result<()> {
    // The question to answer and when.
    let mut pending: Option<(u32, Instant)> = None;
    // The answer waiting for its ack: id, question, due, sent.
    let mut in_flight: Option<(String, u32, Instant, Instant)> = None;
    let mut last_sent = Instant::now();
    let mut id = 0u64;
    loop {
        let heartbeat_at = last_sent + HEARTBEAT;
        let wake = pending.map_or(heartbeat_at, |(_, due)| due.min(heartbeat_at));
        tokio::select! {
            frame = next_frame(socket) => {
                let f = match frame? {
                    Ok(f) => f,
                    Err(code) => {
                        if out.ended.is_none() {
                            // Unmasked (classify would hide a 4008 as #).
                            out.errors.add(format!("closed by the server before room.ended (code {})", code.map_or("none".into(), |c| c.to_string())));
                            out.failed = true;
                        }
                        return Ok(());
                    }
                };
                let now = Instant::now();
                match f.kind.as_str() {
                    "room.question" => {
                        let Some(index) = f.index else { continue };
                        match out.question_at.get_mut(index as usize) {
                            Some(slot @ None) => *slot = Some(now),
                            Some(Some(_)) => {
                                out.duplicate_questions += 1;
                                continue;
                            }
                            None => {
                                out.errors.add("question index out of range");
                                continue;
                            }
                        }
                        if pending.is_some() {
                            out.not_answered += 1;
                        }
                        let delay = Duration::from_secs_f64(rng.unit() * answer_delay);
                        pending = Some((index, now + delay));
                    }
                    "room.answer_ack" | "error"
                        if in_flight.as_ref().is_some_and(|(re, _, _, _)| f.re.as_deref() == Some(re.as_str())) =>
                    {
                        let Some((_, question, due, sent)) = in_flight.take() else { continue };
                        if f.kind == "room.answer_ack" {
                            out.acked += 1;
                            out.ack_latency.record(from_schedule(due, sent, now));
                            out.ack_service.record(now - sent);
                            out.ack_times.push((question, sent, now));
                        } else {
                            out.refused.add(f.code.unwrap_or_default());
                        }
                    }
                    "error" => out.errors.add(f.code.unwrap_or_default()),
                    "room.question_closed" => {
                        if let (Some((q, _)), Some(closed)) = (pending, f.question_index())
                            && q == closed
                        {
                            pending = None;
                            out.not_answered += 1;
                        }
                    }
                    "room.your_result" => {
                        if let Some(slot) = f.question_index().and_then(|q| out.results.get_mut(q as usize)) {
                            *slot = true;
                        }
                    }
                    "room.final" => out.final_received = true,
                    "room.ended" => {
                        out.ended = Some(f.reason.unwrap_or_default());
                        return Ok(());
                    }
                    "room.kicked" => bail!("kicked from the room"),
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                let now = Instant::now();
                match pending {
                    Some((question, due)) if due <= now => {
                        pending = None;
                        id += 1;
                        let re = format!("a{id}");
                        let option = LETTERS[(rng.next_u64() % 4) as usize];
                        let sent = Instant::now();
                        ws::send(
                            socket,
                            json!({"type": "room.answer", "id": re, "question": question, "option": option}).to_string(),
                        )
                        .await?;
                        out.answers_sent += 1;
                        in_flight = Some((re, question, due, sent));
                        last_sent = sent;
                    }
                    _ if heartbeat_at <= now => {
                        ws::send(socket, json!({"type": "ping"}).to_string()).await?;
                        last_sent = now;
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The host: waits in the lobby for the signal (reading the `room.roster`
/// frames), starts, moves on after each question closes, ends after the last.
#[allow(clippy::too_many_arguments)]
async fn run_host(
    socket: &mut Socket,
    questions: usize,
    question_time: Duration,
    reveal: Duration,
    cap: Duration,
    start: oneshot::Receiver<()>,
    stop: CancellationToken,
    out: &mut HostOut,
) -> anyhow::Result<()> {
    let mut id = 0u64;
    let mut last_sent = Instant::now();
    let far = || Instant::now() + Duration::from_secs(86_400);

    // The lobby.
    let mut start = std::pin::pin!(start);
    loop {
        let heartbeat_at = last_sent + HEARTBEAT;
        tokio::select! {
            signal = &mut start => {
                if signal.is_err() {
                    // No game (nobody joined, or stopped): end the room cleanly.
                    out.cut_short = Some("no game was started".into());
                    ws::send(socket, json!({"type": "room.end", "id": "end"}).to_string()).await?;
                    out.end_sent = Some(Instant::now());
                    return wait_end(socket, out).await;
                }
                break;
            }
            frame = next_frame(socket) => match frame? {
                Ok(f) if f.kind == "room.roster" => out.seats_announced += f.new_seats(),
                Ok(_) => {}
                Err(code) => {
                    out.closed_with = Some(code.unwrap_or(0));
                    bail!("the server closed the host's socket in the lobby (code {code:?})")
                }
            },
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(heartbeat_at)) => {
                ws::send(socket, json!({"type": "ping"}).to_string()).await?;
                last_sent = Instant::now();
            }
        }
    }

    // The game.
    let game_start = Instant::now();
    let cap_at = game_start + cap;
    id += 1;
    out.sent_at[0] = Some(Instant::now());
    ws::send(
        socket,
        json!({"type": "room.start", "id": format!("h{id}")}).to_string(),
    )
    .await?;
    last_sent = Instant::now();
    // The question whose close we wait for, and by when it must close.
    let mut open: usize = 0;
    let mut stuck_at = game_start + question_time + LATE_GRACE + STUCK_AFTER_DEADLINE;
    // When to send the next `room.next`.
    let mut next_at: Option<Instant> = None;
    loop {
        let heartbeat_at = last_sent + HEARTBEAT;
        let wake = next_at
            .unwrap_or_else(far)
            .min(heartbeat_at)
            .min(cap_at)
            .min(stuck_at);
        tokio::select! {
            frame = next_frame(socket) => {
                let f = match frame? {
                    Ok(f) => f,
                    Err(code) => {
                        out.closed_with = Some(code.unwrap_or(0));
                        bail!("the server closed the host's socket (code {code:?})")
                    }
                };
                let now = Instant::now();
                match f.kind.as_str() {
                    "room.question" => {
                        if let Some(slot) = f.index.and_then(|i| out.received_at.get_mut(i as usize)) {
                            *slot = Some(now);
                        }
                    }
                    "room.question_closed" => {
                        let Some(q) = f.question_index() else { continue };
                        if let Some(slot) = out.closed_at.get_mut(q as usize) {
                            *slot = Some(now);
                        }
                        if let Some(slot) = out.answered.get_mut(q as usize) {
                            *slot = f.answered.as_ref().and_then(Value::as_u64);
                        }
                        if q as usize == open {
                            next_at = Some(now + reveal);
                            stuck_at = far();
                        }
                    }
                    "room.roster" => out.seats_announced += f.new_seats(),
                    "error" => out.errors.add(f.code.unwrap_or_default()),
                    "room.ended" => {
                        out.ended = f.reason;
                        out.ended_at = Some(now);
                        return Ok(());
                    }
                    _ => {}
                }
            }
            _ = stop.cancelled() => {
                out.cut_short = Some("the run was stopped".into());
                return end_now(socket, out).await;
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                let now = Instant::now();
                if now >= cap_at {
                    out.cut_short = Some(format!("--duration ({} s) reached", cap.as_secs()));
                    return end_now(socket, out).await;
                }
                if now >= stuck_at {
                    out.cut_short = Some(format!("question {open} did not close within {} s of its deadline", STUCK_AFTER_DEADLINE.as_secs()));
                    return end_now(socket, out).await;
                }
                if next_at.is_some_and(|t| t <= now) {
                    next_at = None;
                    id += 1;
                    let sent = Instant::now();
                    open += 1;
                    if open < questions {
                        out.sent_at[open] = Some(sent);
                        stuck_at = sent + question_time + LATE_GRACE + STUCK_AFTER_DEADLINE;
                    } else {
                        // After the last question `room.next` ends the game.
                        out.end_sent = Some(sent);
                        stuck_at = sent + END_WAIT;
                    }
                    ws::send(socket, json!({"type": "room.next", "id": format!("h{id}")}).to_string()).await?;
                    last_sent = Instant::now();
                } else if heartbeat_at <= now {
                    ws::send(socket, json!({"type": "ping"}).to_string()).await?;
                    last_sent = now;
                }
            }
        }
    }
}

/// Sends `room.end` and waits for `room.ended`.
async fn end_now(socket: &mut Socket, out: &mut HostOut) -> anyhow::Result<()> {
    ws::send(socket, json!({"type": "room.end", "id": "end"}).to_string()).await?;
    out.end_sent = Some(Instant::now());
    wait_end(socket, out).await
}

/// Reads until `room.ended` (bounded).
async fn wait_end(socket: &mut Socket, out: &mut HostOut) -> anyhow::Result<()> {
    let wait = async {
        loop {
            match next_frame(socket).await? {
                Ok(f) if f.kind == "room.ended" => {
                    out.ended = f.reason;
                    out.ended_at = Some(Instant::now());
                    return Ok(());
                }
                Ok(f) if f.kind == "room.roster" => out.seats_announced += f.new_seats(),
                Ok(f) if f.kind == "error" => out.errors.add(f.code.unwrap_or_default()),
                Ok(_) => {}
                Err(code) => {
                    out.closed_with = Some(code.unwrap_or(0));
                    bail!("the server closed the host's socket before room.ended (code {code:?})")
                }
            }
        }
    };
    tokio::time::timeout(END_WAIT, wait)
        .await
        .context("no room.ended for the host")?
}

/// `/metrics` of every instance the run used (an empty text, noted, where it fails).
async fn scrape(
    instances: &[(Target, Arc<Api>)],
    ctx: &Ctx,
    notes: &mut Vec<String>,
) -> Vec<String> {
    let mut texts = Vec::new();
    let mut seen = Vec::new();
    let all = std::iter::once(&ctx.api).chain(instances.iter().map(|(_, a)| a));
    for api in all {
        let base = api.target().base.clone();
        if seen.contains(&base) {
            continue;
        }
        seen.push(base.clone());
        match api.metrics_text().await {
            Ok(text) => texts.push(text),
            Err(e) => {
                let note = format!("metrics of {base} unavailable: {e:#}");
                if !notes.contains(&note) {
                    notes.push(note);
                }
                texts.push(String::new());
            }
        }
    }
    texts
}

/// The server's fan-out histogram over the game, every instance added up.
#[derive(Debug, serde::Serialize)]
struct ServerFanout {
    count: f64,
    mean_ms: Option<f64>,
    /// Estimated within the histogram's buckets (0.5, 1, 2.5, 5, 10, 25, 50, 100, 200,
    /// 500 ms, ...), like PromQL's `histogram_quantile`.
    p50_ms: Option<f64>,
    p90_ms: Option<f64>,
    p99_ms: Option<f64>,
    /// `(le seconds, observations in the game)`, cumulative.
    buckets: Vec<(String, f64)>,
}

fn server_fanout(before: &[String], after: &[String]) -> Option<ServerFanout> {
    if after.is_empty() {
        return None;
    }
    let mut total = PromHistogram::default();
    for (i, text) in after.iter().enumerate() {
        let now = parse_histogram(text, FANOUT_METRIC);
        let was = before
            .get(i)
            .map(|t| parse_histogram(t, FANOUT_METRIC))
            .unwrap_or_default();
        let delta = now.since(&was);
        for (le, n) in delta.buckets {
            match total.buckets.iter_mut().find(|(b, _)| *b == le) {
                Some((_, m)) => *m += n,
                None => total.buckets.push((le, n)),
            }
        }
        total.sum += delta.sum;
        total.count += delta.count;
    }
    total.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if total.buckets.is_empty() {
        return None;
    }
    let ms = |s: Option<f64>| s.map(|v| v * 1000.0);
    Some(ServerFanout {
        count: total.count,
        mean_ms: (total.count > 0.0).then(|| total.sum / total.count * 1000.0),
        p50_ms: ms(total.quantile(0.5)),
        p90_ms: ms(total.quantile(0.9)),
        p99_ms: ms(total.quantile(0.99)),
        buckets: total
            .buckets
            .iter()
            .map(|(le, n)| {
                (
                    if le.is_infinite() {
                        "+Inf".into()
                    } else {
                        le.to_string()
                    },
                    *n,
                )
            })
            .collect(),
    })
}

/// `questpath_room_answers_total` by outcome over the game, every instance added up.
fn server_answers(before: &[String], after: &[String]) -> Value {
    let mut out = std::collections::BTreeMap::<String, f64>::new();
    for (i, text) in after.iter().enumerate() {
        let was = before
            .get(i)
            .map(|t| parse_counter_by(t, ANSWERS_METRIC, "outcome"))
            .unwrap_or_default();
        for (outcome, n) in parse_counter_by(text, ANSWERS_METRIC, "outcome") {
            let d = n - was.get(&outcome).copied().unwrap_or(0.0);
            if d > 0.0 {
                *out.entry(outcome).or_insert(0.0) += d;
            }
        }
    }
    json!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> RoomArgs {
        let mut argv = vec!["questpath-load", "room"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::parse_from(argv).scenario {
            crate::cli::Scenario::Room(a) => a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn flags_are_checked_against_the_servers_ranges() {
        assert!(check(&args(&[])).is_ok());
        assert!(check(&args(&["--players", "0"])).is_err());
        assert!(check(&args(&["--question-time", "4"])).is_err());
        assert!(check(&args(&["--question-time", "5", "--answer-delay", "4.6"])).is_err());
        assert!(check(&args(&["--questions", "101"])).is_err());
        assert!(check(&args(&["--player-urls", "http://10.0.0.1:80"])).is_err());
        assert!(
            check(&args(&[
                "--player-urls",
                "http://127.0.0.1:80,http://127.0.0.2:80"
            ]))
            .is_ok()
        );
    }

    #[test]
    fn the_room_body_has_valid_questions_and_the_seats() {
        let body = room_body(&args(&[
            "--players",
            "10000",
            "--questions",
            "6",
            "--guests",
        ]));
        assert_eq!(body["max_players"], 10000);
        assert_eq!(body["allow_guests"], true);
        let questions = body["questions"].as_array().unwrap();
        assert_eq!(questions.len(), 6);
        assert_eq!(questions[4]["correct_option"], "A");
        assert_eq!(questions[0]["options"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn room_frames_read_the_question_both_ways() {
        let q: RoomFrame = serde_json::from_str(
            r#"{"type":"room.question","index":2,"total":5,"question":"Which?","options":[],"time_limit_ms":20000,"remaining_ms":20000,"points":1,"paused":false}"#,
        )
        .unwrap();
        assert_eq!(q.index, Some(2));
        assert_eq!(q.question_index(), None);
        let r: RoomFrame =
            serde_json::from_str(r#"{"type":"room.your_result","question":3,"answered":true}"#)
                .unwrap();
        assert_eq!(r.question_index(), Some(3));
    }

    #[test]
    fn the_generator_spreads_delays_over_the_range() {
        let mut rng = Rng::new(7);
        let draws: Vec<f64> = (0..1000).map(|_| rng.unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert!(draws.iter().any(|d| *d < 0.1) && draws.iter().any(|d| *d > 0.9));
    }
}
