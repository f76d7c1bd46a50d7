//! `quiz`: N learners playing quizzes continuously over their own websockets.
//!
//! Each player sends on a fixed schedule: one message per slot, the slots evenly spaced
//! so that all players together send `--rate` answers per second. A quiz of five
//! questions takes six slots (`quiz.start` and five `quiz.answer`s), so a player's slot
//! rate is 6/5 of its answer rate; the server allows 10 messages per second per
//! connection, so a player sends at most 9.
//!
//! The player does not know the right answers (the server never reveals them before
//! answering) and always answers `A`: a realistic mix of right and wrong, and what
//! matters here is throughput and latency.
//!
//! Answer-to-feedback latency runs from the answer's *slot* to the `quiz.feedback`
//! frame. When the server is late with a feedback or the next question, the next slot
//! passes before the player can answer, and that wait is part of the next answer's
//! latency (no coordinated omission). The service time (from the actual send) is
//! reported beside it. A player that fell behind catches up no faster than the server's
//! per-connection limit allows, and gives up slots still unsent 10 s after the window
//! (counted). Throughput is the feedbacks received *within* the window; latency covers
//! the answers *due* in it, whenever they completed.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::task::JoinSet;

use super::{Ctx, Outcome, classify, cpu_figures};
use crate::accounts::Learner;
use crate::cli::QuizArgs;
use crate::report::{SelfUsage, TargetCheck};
use crate::stats::{Latency, Samples, Tally, from_schedule};
use crate::ws::{self, Event, Frame, Socket};

/// Messages per quiz per answer: one start for five answers.
const SLOTS_PER_ANSWER: f64 = 6.0 / 5.0;
/// Most messages per second a player sends (the server's limit is 10 sustained).
pub const MAX_PLAYER_RATE: f64 = 9.0;
/// A reply slower than this ends the player (counted): the server is stuck.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// Slots due in the window but not reached this long after it are given up (counted as
/// not sent): a server far behind makes the run report it, not last for ever.
const LATE_GRACE: Duration = Duration::from_secs(10);
/// A player catching up after a stall sends back to back; this bucket keeps it within
/// the server's per-connection limit (10 per second, burst 20) with a margin.
const BUCKET_RATE: f64 = 9.5;
const BUCKET_BURST: f64 = 10.0;

/// What one player measured.
#[derive(Default)]
struct PlayerStats {
    /// Slot to feedback, for answers whose slot fell in the measured window.
    feedback: Samples,
    /// Send to feedback (service time), same answers.
    feedback_service: Samples,
    /// Slot to first question, for starts in the window.
    start: Samples,
    /// Feedbacks received within the window (the throughput).
    answers: u64,
    /// Answers due in the window (the latency samples), whenever they completed.
    answers_due: u64,
    /// Slots due in the window never sent (the run gave up on them).
    not_sent: u64,
    correct: u64,
    quizzes: u64,
    passed: u64,
    /// Quizzes found open at a start (left by an earlier run) and resumed.
    resumed: u64,
    /// `error` frames by code, and other failures.
    errors: Tally,
    failed: bool,
}

/// The quiz state as the player knows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// No quiz in progress: start one.
    Idle,
    /// The question at this position is open.
    Open(u32),
    /// Not sure (after an error): ask with `session.state`.
    Unknown,
}

/// The measured window, in generator time.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    to: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.from && t < self.to
    }
}

/// The answer rate of a run.
pub fn rate_for(args: &QuizArgs) -> f64 {
    args.rate.unwrap_or(args.players as f64 * 5.0)
}

/// Refuses a rate the players cannot send within the server's per-connection limit.
pub fn check_rate(args: &QuizArgs) -> anyhow::Result<()> {
    let rate = rate_for(args);
    if !(rate > 0.0 && rate.is_finite()) {
        bail!("--rate must be a positive number");
    }
    let per_player = rate * SLOTS_PER_ANSWER / args.players.max(1) as f64;
    if per_player > MAX_PLAYER_RATE {
        let needed = (rate * SLOTS_PER_ANSWER / MAX_PLAYER_RATE).ceil();
        bail!(
            "{rate} answers per second over {} players is {per_player:.1} messages per second per connection; \
             the server allows 10, this generator sends at most {MAX_PLAYER_RATE}: use at least {needed} players",
            args.players
        );
    }
    Ok(())
}

pub async fn run(ctx: &Ctx, args: &QuizArgs, learners: &[Learner]) -> anyhow::Result<Outcome> {
    let rate = rate_for(args);
    let players = learners.len();
    let slot = Duration::from_secs_f64(players as f64 / (rate * SLOTS_PER_ANSWER));
    let mut notes = Vec::new();

    // Every player connects first; the schedule starts once all are in.
    eprintln!("  connecting {players} players");
    let mut sockets = Vec::with_capacity(players);
    let mut connect_failures = Tally::default();
    for (i, learner) in learners.iter().enumerate() {
        if ctx.stop.is_cancelled() {
            break;
        }
        let opened = async {
            let ticket = ctx.api.ticket(i, &learner.access_token).await?;
            ws::connect(
                ctx.sources.nth(i),
                ctx.target.addr,
                &ticket,
                Duration::from_secs(20),
            )
            .await
        };
        match opened.await {
            Ok(socket) => sockets.push((i, learner.clone(), socket)),
            Err(e) => connect_failures.add(classify("connect", &e)),
        }
    }
    if sockets.is_empty() {
        bail!("no player could connect: {}", connect_failures.line());
    }
    if !connect_failures.is_empty() {
        notes.push(format!(
            "players that could not connect: {}",
            connect_failures.line()
        ));
    }

    let start = Instant::now() + Duration::from_millis(100);
    let window = Window {
        from: start + Duration::from_secs(args.warmup),
        to: start + Duration::from_secs(args.warmup + args.duration),
    };
    eprintln!(
        "  playing: {} players, {rate} answers per second target, {} s warm-up, {} s measured",
        sockets.len(),
        args.warmup,
        args.duration
    );

    let mut tasks = JoinSet::new();
    for (i, learner, socket) in sockets {
        let level = learner.level_id.clone().unwrap_or_default();
        let phase = slot.mul_f64(i as f64 / players as f64);
        let stop = ctx.stop.clone();
        tasks.spawn(async move {
            let mut stats = PlayerStats::default();
            let mut socket = socket;
            let result = tokio::select! {
                r = play(&mut socket, &level, start + phase, slot, window, &mut stats) => r,
                _ = stop.cancelled() => Ok(()),
            };
            if let Err(e) = result {
                stats.failed = true;
                stats.errors.add(classify("player", &e));
            }
            // Leave no quiz behind for the next run with these accounts.
            let _ = ws::send(&mut socket, json!({"type": "quiz.abandon"}).to_string()).await;
            ws::close(socket).await;
            stats
        });
    }

    // Server and generator CPU over the measured window.
    let wait_until = |t: Instant| tokio::time::sleep_until(tokio::time::Instant::from_std(t));
    tokio::select! { _ = wait_until(window.from) => {}, _ = ctx.stop.cancelled() => {} }
    let server_before = ctx.sample(&mut notes).await;
    let self_before = SelfUsage::now();
    tokio::select! { _ = wait_until(window.to) => {}, _ = ctx.stop.cancelled() => {} }
    let server_after = ctx.sample(&mut notes).await;
    let self_after = SelfUsage::now();

    let mut total = PlayerStats::default();
    let mut feedback = Latency::new();
    let mut service = Latency::new();
    let mut start_latency = Latency::new();
    let mut failed_players = 0u64;
    while let Some(joined) = tasks.join_next().await {
        let Ok(s) = joined else {
            failed_players += 1;
            continue;
        };
        s.feedback.add_to(&mut feedback);
        s.feedback_service.add_to(&mut service);
        s.start.add_to(&mut start_latency);
        total.answers += s.answers;
        total.answers_due += s.answers_due;
        total.not_sent += s.not_sent;
        total.correct += s.correct;
        total.quizzes += s.quizzes;
        total.passed += s.passed;
        total.resumed += s.resumed;
        total.errors.merge(&s.errors);
        failed_players += u64::from(s.failed);
    }

    let window_secs = args.duration.max(1) as f64;
    let achieved = total.answers as f64 / window_secs;
    let feedback = feedback.summary();
    let service = service.summary();
    let start_latency = start_latency.summary();
    let errors = total.errors.total();
    let figures = json!({
        "players": players,
        "players_connected": players as u64 - connect_failures.total(),
        "players_failed": failed_players,
        "target_answers_per_second": rate,
        "answers_per_second": achieved,
        "answers": total.answers,
        "answers_due_in_window": total.answers_due,
        "slots_not_sent": total.not_sent,
        "correct": total.correct,
        "quizzes_finished": total.quizzes,
        "quizzes_passed": total.passed,
        "quizzes_resumed": total.resumed,
        "answer_feedback_latency": feedback,
        "answer_feedback_service_time": service,
        "start_question_latency": start_latency,
        "errors": total.errors,
        "connect_failures": connect_failures,
        "slot_ms": slot.as_secs_f64() * 1000.0,
        "window_seconds": window_secs,
        "cpu": cpu_figures(server_before, server_after, self_before, self_after, total.answers),
    });
    let lines = vec![
        format!(
            "answers: {achieved:.0} per second (target {rate:.0}), {} answers, {} quizzes finished ({} passed), {players} players",
            total.answers, total.quizzes, total.passed
        ),
        format!("answer -> feedback (from schedule): {}", feedback.line()),
        format!("answer -> feedback (service time):  {}", service.line()),
        format!(
            "start -> question (from schedule):  {}",
            start_latency.line()
        ),
        format!(
            "errors: {}; players failed: {failed_players}; slots not sent: {}",
            total.errors.line(),
            total.not_sent
        ),
    ];

    let (throughput_target, p99_target_ms, p99_rate) = if ctx.embedded() {
        (20_000.0, 10.0, 10_000.0)
    } else {
        (5_000.0, 25.0, 5_000.0)
    };
    let mut targets = vec![TargetCheck::new(
        "quiz answers per second",
        &format!(">= {throughput_target:.0}"),
        format!("{achieved:.0}"),
        achieved >= throughput_target,
    )];
    // The latency target applies at a given rate; judged only on a run at that rate.
    if (rate - p99_rate).abs() / p99_rate < 0.05 {
        targets.push(TargetCheck::new(
            &format!("p99 answer-to-feedback at {p99_rate:.0} per second"),
            &format!("< {p99_target_ms} ms (and the rate reached)"),
            format!("{:.2} ms at {achieved:.0} per second", feedback.p99_ms),
            feedback.p99_ms < p99_target_ms && achieved >= 0.95 * p99_rate,
        ));
    }
    Ok(Outcome {
        figures,
        lines,
        targets,
        notes,
        succeeded: total.answers,
        failed: errors + connect_failures.total() + total.not_sent,
    })
}

/// Waits for the next frame, bounded.
async fn next(socket: &mut Socket) -> anyhow::Result<Frame> {
    match tokio::time::timeout(REPLY_TIMEOUT, ws::next_event(socket))
        .await
        .context("no frame from the server within 30 s")??
    {
        Event::Frame(f) => Ok(f),
        Event::Closed(code) => bail!("the server closed the socket (code {code:?})"),
    }
}

/// One player's loop until the window ends.
async fn play(
    socket: &mut Socket,
    level_id: &str,
    first_slot: Instant,
    slot: Duration,
    window: Window,
    stats: &mut PlayerStats,
) -> anyhow::Result<()> {
    let mut state = State::Idle;
    let mut id: u64 = 0;
    let mut due = first_slot;
    let mut tokens = BUCKET_BURST;
    let mut refilled = Instant::now();
    while due < window.to {
        if Instant::now() > window.to + LATE_GRACE {
            let left = (window.to - due).as_secs_f64() / slot.as_secs_f64();
            stats.not_sent += left.ceil() as u64;
            break;
        }
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        let now = Instant::now();
        tokens = (tokens + (now - refilled).as_secs_f64() * BUCKET_RATE).min(BUCKET_BURST);
        refilled = now;
        if tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - tokens) / BUCKET_RATE);
            tokio::time::sleep(wait).await;
            tokens = 1.0;
            refilled = Instant::now();
        }
        tokens -= 1.0;
        id += 1;
        let re = id.to_string();
        let measured = window.contains(due);
        match state {
            State::Idle => {
                let sent = Instant::now();
                ws::send(
                    socket,
                    json!({"type": "quiz.start", "id": re, "level_id": level_id}).to_string(),
                )
                .await?;
                state = await_question(socket, &re, stats).await?;
                if measured && matches!(state, State::Open(_)) {
                    stats.start.record(from_schedule(due, sent, Instant::now()));
                }
            }
            State::Unknown => {
                ws::send(
                    socket,
                    json!({"type": "session.state", "id": re}).to_string(),
                )
                .await?;
                state = await_question(socket, &re, stats).await?;
            }
            State::Open(position) => {
                let sent = Instant::now();
                ws::send(
                    socket,
                    json!({"type": "quiz.answer", "id": re, "position": position, "option": "A"})
                        .to_string(),
                )
                .await?;
                state = await_feedback(socket, &re, due, sent, window, stats).await?;
            }
        }
        due += slot;
    }
    Ok(())
}

/// After `quiz.start` or `session.state`: the open question, or why there is none.
async fn await_question(
    socket: &mut Socket,
    re: &str,
    stats: &mut PlayerStats,
) -> anyhow::Result<State> {
    loop {
        let f = next(socket).await?;
        if f.re.as_deref() != Some(re) {
            continue; // xp.granted, job.status, a late frame of an earlier exchange
        }
        return Ok(match f.kind.as_str() {
            "quiz.question" => State::Open(f.position.unwrap_or(0)),
            "error" => {
                let code = f.code.unwrap_or_default();
                // Not errors: the state was not what the player thought, and it
                // recovers (a quiz left open by an earlier run is resumed).
                if code == "quiz_in_progress" {
                    stats.resumed += 1;
                } else if code != "no_quiz" {
                    stats.errors.add(code.clone());
                }
                match code.as_str() {
                    "no_quiz" => State::Idle,
                    "quiz_in_progress" => State::Unknown,
                    "not_found" | "level_locked" | "topics_incomplete" => {
                        bail!("the server refuses this learner's quiz ({code})")
                    }
                    _ => State::Unknown,
                }
            }
            other => bail!("unexpected {other} in reply to a quiz start"),
        });
    }
}

/// After an answer: the feedback (measured), then the next question or the result.
async fn await_feedback(
    socket: &mut Socket,
    re: &str,
    due: Instant,
    sent: Instant,
    window: Window,
    stats: &mut PlayerStats,
) -> anyhow::Result<State> {
    loop {
        let f = next(socket).await?;
        match f.kind.as_str() {
            "quiz.feedback" if f.re.as_deref() == Some(re) => {
                let now = Instant::now();
                if window.contains(due) {
                    stats.feedback.record(from_schedule(due, sent, now));
                    stats.feedback_service.record(now - sent);
                    stats.answers_due += 1;
                }
                if window.contains(now) {
                    stats.answers += 1;
                    stats.correct += u64::from(f.right());
                }
                break;
            }
            "error" if f.re.as_deref() == Some(re) => {
                stats.errors.add(f.code.unwrap_or_default());
                return Ok(State::Unknown);
            }
            _ => continue,
        }
    }
    // The feedback is followed by the next question or, after the last, the result.
    loop {
        let f = next(socket).await?;
        match f.kind.as_str() {
            "quiz.question" => return Ok(State::Open(f.position.unwrap_or(0))),
            "quiz.result" => {
                stats.quizzes += 1;
                stats.passed += u64::from(f.passed.unwrap_or(false));
                return Ok(State::Idle);
            }
            "error" if f.re.is_none() => {
                // `unavailable`: the result could not be saved; the quiz is over.
                stats.errors.add(f.code.unwrap_or_default());
                return Ok(State::Unknown);
            }
            _ => continue,
        }
    }
}
