//! `connect`: ramp to N authenticated idle websockets, hold them with heartbeats.
//!
//! Each connection does what a client does: `POST /api/v1/ws/ticket` with its learner's
//! token, then the upgrade with the ticket, then waits for `hello`. Connections start on
//! a fixed schedule (`--rate` per second); at most `--concurrency` are between ticket
//! and hello at once. The connect latency is measured from the scheduled start, so a
//! ramp that falls behind shows in it.
//!
//! The server's resident memory is read from its `/metrics` before the ramp and once
//! every connection is open; the difference divided by the open connections is the
//! memory per connection. (Run it on a server that has not hashed passwords since it
//! started, i.e. with learners reused from an accounts file: argon2's 19 MiB buffers
//! stay in the allocator after use and would be reused by the connections, hiding
//! their cost.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Ctx, Outcome, classify};
use crate::accounts::Learner;
use crate::cli::ConnectArgs;
use crate::report::{SelfUsage, TargetCheck, human_bytes};
use crate::stats::{Latency, Tally, from_schedule};
use crate::ws::{self, Event};

/// How long one connection may take from ticket to hello.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause after the ramp before memory is read, so in-flight work settles.
const SETTLE: Duration = Duration::from_secs(2);

/// Counters shared by the connection tasks.
#[derive(Default)]
struct Shared {
    connected: AtomicU64,
    failed: AtomicU64,
    /// Connections the server closed (or that broke) after they were open.
    dropped: AtomicU64,
    pongs: AtomicU64,
    /// Latency from the scheduled start to hello.
    connect: std::sync::Mutex<Latency>,
    ticket: std::sync::Mutex<Latency>,
    handshake: std::sync::Mutex<Latency>,
    failures: std::sync::Mutex<Tally>,
    drops: std::sync::Mutex<Tally>,
    /// When the last connection finished its handshake (or failed).
    last_done: std::sync::Mutex<Option<Instant>>,
    /// Set when the rank push's grants start: standings from then on count.
    push_started: std::sync::atomic::AtomicBool,
    /// Connections that received a `league.standings` since the push started.
    pushed: AtomicU64,
    /// When the last connection got its first standings of the push.
    last_pushed: std::sync::Mutex<Option<Instant>>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Learners the connections are spread over.
pub fn users_for(args: &ConnectArgs) -> usize {
    args.users
        .unwrap_or_else(|| args.connections.div_ceil(25))
        .clamp(1, args.connections.max(1))
}

pub async fn run(ctx: &Ctx, args: &ConnectArgs, learners: &[Learner]) -> anyhow::Result<Outcome> {
    let n = args.connections;
    let mut notes = Vec::new();
    let per_user = n.div_ceil(learners.len().max(1));
    if per_user > 30 {
        notes.push(format!(
            "{per_user} connections per account: the server issues 30 tickets per account per minute, so some tickets will be refused (raise --users)"
        ));
    }
    let shared = Arc::new(Shared::default());
    let hold_stop = CancellationToken::new();
    let learners: Arc<Vec<Learner>> = Arc::new(learners.to_vec());
    let semaphore = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let heartbeat = Duration::from_secs(args.heartbeat.max(1));

    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = ctx.sample(&mut notes).await;
    let self_before = SelfUsage::now();
    eprintln!("  ramp: {n} connections at {} per second", args.rate);

    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = JoinSet::new();
    let mut scheduled = 0usize;
    for i in 0..n {
        let intended = start + interval.mul_f64(i as f64);
        tokio::select! {
            _ = tokio::time::sleep_until(intended) => {}
            _ = ctx.stop.cancelled() => break,
        }
        let permit = tokio::select! {
            p = semaphore.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = ctx.stop.cancelled() => break,
        };
        scheduled += 1;
        let learner = learners[i % learners.len()].clone();
        let api = ctx.api.clone();
        let source = ctx.sources.nth(i);
        let target = ctx.target.addr;
        let shared = shared.clone();
        let hold_stop = hold_stop.clone();
        tasks.spawn(async move {
            let ticket_started = Instant::now();
            let opened = async {
                let ticket = api
                    .ticket(i, &learner.access_token)
                    .await
                    .map_err(|e| ("ticket", e))?;
                let ticket_done = Instant::now();
                lock(&shared.ticket).record(ticket_done - ticket_started);
                let socket = ws::connect(source, target, &ticket, CONNECT_TIMEOUT)
                    .await
                    .map_err(|e| ("connect", e))?;
                lock(&shared.handshake).record(ticket_done.elapsed());
                Ok::<_, (&str, anyhow::Error)>(socket)
            };
            let opened = tokio::time::timeout(CONNECT_TIMEOUT, opened).await;
            let done = Instant::now();
            *lock(&shared.last_done) = Some(done);
            drop(permit);
            let mut socket = match opened {
                Ok(Ok(socket)) => socket,
                Ok(Err((phase, e))) => {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    lock(&shared.failures).add(classify(phase, &e));
                    return;
                }
                Err(_) => {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    lock(&shared.failures).add("timeout: no hello within 20 s");
                    return;
                }
            };
            shared.connected.fetch_add(1, Ordering::Relaxed);
            lock(&shared.connect).record(from_schedule(intended.into_std(), ticket_started, done));
            hold(&mut socket, i, heartbeat, &shared, &hold_stop).await;
            ws::close(socket).await;
        });
    }

    // Wait for every started connection to be open or failed.
    let ramp_bound = Instant::now() + CONNECT_TIMEOUT + Duration::from_secs(5);
    while shared.connected.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed)
        < scheduled as u64
        && Instant::now() < ramp_bound
    {
        if !ctx.sleep(Duration::from_millis(20)).await {
            break;
        }
    }
    let ramp_end = lock(&shared.last_done).unwrap_or_else(Instant::now);
    let ramp_secs = ramp_end
        .saturating_duration_since(start.into_std())
        .as_secs_f64()
        .max(1e-3);
    let connected = shared.connected.load(Ordering::Relaxed);
    let failed = shared.failed.load(Ordering::Relaxed);
    let rate = connected as f64 / ramp_secs;
    eprintln!(
        "  ramp done: {connected} open, {failed} failed in {ramp_secs:.2} s; holding {} s",
        args.hold
    );

    ctx.sleep(SETTLE).await;
    let at_n = ctx.sample(&mut notes).await;
    let self_at_n = SelfUsage::now();
    let open_at_n = connected - shared.dropped.load(Ordering::Relaxed);
    let hold_end = Instant::now() + Duration::from_secs(args.hold);
    let push = if args.push {
        Some(rank_push(ctx, &learners, &shared, hold_end).await)
    } else {
        None
    };
    ctx.sleep(hold_end.saturating_duration_since(Instant::now()))
        .await;
    let after_hold = ctx.sample(&mut notes).await;
    let open_after_hold =
        shared.connected.load(Ordering::Relaxed) - shared.dropped.load(Ordering::Relaxed);

    hold_stop.cancel();
    let closing = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(15), closing)
        .await
        .is_err()
    {
        notes.push("some connections did not close within 15 s".into());
    }

    let per_connection = match (before.rss_bytes, at_n.rss_bytes) {
        (Some(a), Some(b)) if open_at_n > 0 => Some((b - a) / open_at_n as f64),
        _ => None,
    };
    let generator_per_connection = match (self_before.rss_bytes, self_at_n.rss_bytes) {
        (Some(a), Some(b)) if open_at_n > 0 => Some((b as f64 - a as f64) / open_at_n as f64),
        _ => None,
    };
    let connect = lock(&shared.connect).summary();
    let ticket = lock(&shared.ticket).summary();
    let handshake = lock(&shared.handshake).summary();
    let failures = lock(&shared.failures).clone();
    let ticket_retries = ctx.api.ticket_retries();
    let drops = lock(&shared.drops).clone();
    let dropped = shared.dropped.load(Ordering::Relaxed);
    let users = learners.len();

    let figures = json!({
        "connections_requested": n,
        "connections_started": scheduled,
        "users": users,
        "connected": connected,
        "failed": failed,
        "failures": failures,
        "ticket_retries": ticket_retries,
        "dropped_while_held": dropped,
        "drops": drops,
        "open_at_n": open_at_n,
        "open_after_hold": open_after_hold,
        "ramp_seconds": ramp_secs,
        "connect_rate_per_second": rate,
        "connect_latency": connect,
        "ticket_latency": ticket,
        "handshake_latency": handshake,
        "pongs": shared.pongs.load(Ordering::Relaxed),
        "server_before": before,
        "server_at_n": at_n,
        "server_after_hold": after_hold,
        "server_rss_bytes_per_connection": per_connection,
        "generator_rss_bytes_per_connection": generator_per_connection,
        "generator_at_n": self_at_n,
        "push": push,
    });
    let mut lines = vec![
        format!(
            "connections: {connected} open of {n} requested ({failed} failed, {dropped} dropped while held), {users} accounts"
        ),
        format!("connect rate: {rate:.0} per second (ramp {ramp_secs:.2} s)"),
        format!("connect (from schedule): {}", connect.line()),
        format!("  ticket:    {}", ticket.line()),
        format!("  handshake: {}", handshake.line()),
    ];
    if let (Some(a), Some(b)) = (before.rss_bytes, at_n.rss_bytes) {
        lines.push(format!(
            "server memory: {} before, {} at N; {} per connection",
            human_bytes(a),
            human_bytes(b),
            per_connection.map_or("n/a".into(), human_bytes)
        ));
    }
    if let Some(g) = generator_per_connection {
        lines.push(format!(
            "generator memory per connection: {}",
            human_bytes(g)
        ));
    }
    if let Some(push) = &push {
        lines.push(push.line());
    }
    if !failures.is_empty() {
        lines.push(format!("failures: {}", failures.line()));
    }
    if ticket_retries > 0 {
        lines.push(format!(
            "ticket requests asked again (no answer, or 408): {ticket_retries}"
        ));
    }
    if !drops.is_empty() {
        lines.push(format!("drops: {}", drops.line()));
    }

    let targets = vec![
        TargetCheck::new(
            "concurrent authenticated sessions",
            ">= 100,000",
            format!("{open_at_n}"),
            open_at_n >= 100_000,
        ),
        TargetCheck::new(
            "server memory per idle session",
            "<= 10 KiB",
            per_connection.map_or("n/a".into(), human_bytes),
            per_connection.is_some_and(|b| b <= 10.0 * 1024.0),
        ),
        TargetCheck::new(
            "connect rate",
            ">= 5,000 per second",
            format!("{rate:.0} per second"),
            rate >= 5000.0,
        ),
    ];
    Ok(Outcome {
        figures,
        lines,
        targets,
        notes,
        succeeded: connected,
        failed: failed + dropped + push.as_ref().map_or(0, |p| p.missed()),
    })
}

/// How long connections may wait for the push's standings after the last grant.
const PUSH_WAIT: Duration = Duration::from_secs(30);
/// Tries of one learner's level pass.
const GRANT_ATTEMPTS: usize = 3;

/// The rank push: what was granted and who heard of it.
#[derive(serde::Serialize)]
struct Push {
    learners: usize,
    granted: usize,
    grant_failures: usize,
    /// Every failed try, by cause (a learner's later try may have passed).
    grant_errors: Tally,
    xp: i64,
    grants_seconds: f64,
    connections: u64,
    pushed: u64,
    /// From the first grant to the last connection's first standings.
    all_pushed_seconds: Option<f64>,
}

impl Push {
    fn missed(&self) -> u64 {
        self.connections.saturating_sub(self.pushed) + self.grant_failures as u64
    }

    fn line(&self) -> String {
        format!(
            "rank push: {} of {} learners granted {} XP in {:.1} s ({} failed; failed tries: {}); {} of {} open connections got a league.standings{}",
            self.granted,
            self.learners,
            self.xp,
            self.grants_seconds,
            self.grant_failures,
            if self.grant_errors.is_empty() {
                "none".to_string()
            } else {
                self.grant_errors.line()
            },
            self.pushed,
            self.connections,
            self.all_pushed_seconds.map_or(String::new(), |s| format!(
                ", all within {s:.1} s of the first grant"
            ))
        )
    }
}

/// Every learner passes its first level (one XP grant each, 16 at once), then the
/// connections get until `PUSH_WAIT` after the last grant (and the hold's end) to hear
/// a `league.standings`.
async fn rank_push(ctx: &Ctx, learners: &[Learner], shared: &Shared, hold_end: Instant) -> Push {
    let connections =
        shared.connected.load(Ordering::Relaxed) - shared.dropped.load(Ordering::Relaxed);
    eprintln!("  rank push: {} learners pass a level", learners.len());
    shared.push_started.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let errors = std::sync::Mutex::new(Tally::default());
    let grants = futures_util::stream::iter(learners.iter().enumerate())
        .map(|(i, learner)| {
            let api = ctx.api.clone();
            let errors = &errors;
            async move {
                let Some(level) = learner.level_id.as_deref() else {
                    lock(errors).add("no level (the learner has no goal)");
                    return None;
                };
                // A client tries again after a failure; each failure is counted.
                for attempt in 0..GRANT_ATTEMPTS {
                    match api.pass_level_legacy(i, &learner.access_token, level).await {
                        Ok(xp) => return Some(xp),
                        Err(e) => {
                            lock(errors).add(classify("grant", &e));
                            if attempt + 1 < GRANT_ATTEMPTS {
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                        }
                    }
                }
                None
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let grants_seconds = started.elapsed().as_secs_f64();
    let granted = grants.iter().filter(|g| g.is_some()).count();
    let xp = grants.iter().flatten().sum();
    let wait_until = (Instant::now() + PUSH_WAIT).max(hold_end);
    while shared.pushed.load(Ordering::Relaxed) < connections && Instant::now() < wait_until {
        if !ctx.sleep(Duration::from_millis(100)).await {
            break;
        }
    }
    let pushed = shared.pushed.load(Ordering::Relaxed);
    let all_pushed_seconds = (pushed >= connections)
        .then(|| *lock(&shared.last_pushed))
        .flatten()
        .map(|at| at.saturating_duration_since(started).as_secs_f64());
    Push {
        learners: learners.len(),
        granted,
        grant_failures: learners.len() - granted,
        grant_errors: errors.into_inner().unwrap_or_else(|p| p.into_inner()),
        xp,
        grants_seconds,
        connections,
        pushed,
        all_pushed_seconds,
    }
}

/// Keeps one connection alive: an application ping every `heartbeat` (first one at a
/// per-connection offset, so pings do not arrive in waves), reading everything the
/// server sends (tungstenite answers its pings), until `stop`.
async fn hold(
    socket: &mut ws::Socket,
    i: usize,
    heartbeat: Duration,
    shared: &Shared,
    stop: &CancellationToken,
) {
    let offset = heartbeat.mul_f64((i % 1000) as f64 / 1000.0);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + offset, heartbeat);
    // This connection heard the rank push.
    let mut heard = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {
                if let Err(e) = ws::send(socket, json!({"type": "ping"}).to_string()).await {
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                    lock(&shared.drops).add(classify("ping", &e));
                    return;
                }
            }
            event = ws::next_event(socket) => match event {
                Ok(Event::Frame(f)) if f.kind == "league.standings" => {
                    if !heard && shared.push_started.load(Ordering::SeqCst) {
                        heard = true;
                        shared.pushed.fetch_add(1, Ordering::Relaxed);
                        *lock(&shared.last_pushed) = Some(Instant::now());
                    }
                }
                Ok(Event::Frame(f)) if f.kind == "pong" => {
                    shared.pongs.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Event::Frame(_)) => {}
                Ok(Event::Closed(code)) => {
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                    lock(&shared.drops).add(format!("closed by the server (code {code:?})"));
                    return;
                }
                Err(e) => {
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                    lock(&shared.drops).add(classify("read", &e));
                    return;
                }
            }
        }
    }
}
