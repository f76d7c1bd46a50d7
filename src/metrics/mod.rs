//! Prometheus metrics, behind named methods so handlers never touch the registry.
//!
//! Each application owns its `Registry` (no global one): several servers in one test
//! process keep separate counts. [`Metrics`] is a set of handles onto that registry
//! (each an `Arc` inside), so cloning it is cheap and every clone counts into the same
//! series; it is shared as `Arc<Metrics>` all the same.
//!
//! Naming follows the Prometheus conventions: the `questpath_` prefix for everything of
//! ours, the generic `http_*` and `process_*` families for what every server exposes,
//! base units (seconds), `_total` on counters. Every label takes values from a fixed set
//! (route templates, operation names, reasons), never ids or raw paths, so the number of
//! series stays bounded. `grafana/README.md` lists the families with their dashboards.
//!
//! [`instrumented`] holds the decorators that time every port call; [`exporter`] serves
//! a registry over HTTP (the server's `/metrics` and `questpath worker`'s listener).

pub mod exporter;
mod game;
pub mod instrumented;

use std::time::Duration;

use prometheus::core::Collector;

use crate::realtime::protocol::{ClientMessage, RoomPhase, ServerMessage};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Latency buckets in seconds, with a boundary at the 0.25 s SLO threshold.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Store and Redis calls: sub-millisecond in-process, a few ms over the network.
const DEPENDENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Store operations one HTTP request makes (an N+1 query shows up as a long tail).
const QUERIES_PER_REQUEST_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0];

/// Websocket message handling: from the frame's arrival to the session having handled it.
const WS_HANDLE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Messages still queued for a connection; the default queue holds 64.
const QUEUE_DEPTH_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0, 64.0, 128.0];

/// A learner's time to answer a question (the default limit is 30 s).
const ANSWER_TIME_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// A generation job, from claim to acknowledgement (an LLM may take a minute or more).
const JOB_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Why a websocket closed; the label values of `questpath_ws_disconnects_total`.
pub mod disconnect {
    /// The client closed, the stream ended or a write failed.
    pub const CLOSED: &str = "closed";
    /// The connection broke without a close frame (network loss, a crashed client).
    pub const ABNORMAL: &str = "abnormal";
    /// No frame within the heartbeat timeout (4010).
    pub const TIMEOUT: &str = "timeout";
    /// Its outgoing queue filled up (4008).
    pub const SLOW_CONSUMER: &str = "slow_consumer";
    /// Repeated rate-limit violations (4009).
    pub const RATE_LIMITED: &str = "rate_limited";
    /// A frame over the size cap (1009).
    pub const FRAME_TOO_LARGE: &str = "frame_too_large";
    /// A websocket protocol error (1002).
    pub const PROTOCOL_ERROR: &str = "protocol_error";
    /// The server drained for a restart (1012).
    pub const SERVER_RESTART: &str = "server_restart";
    /// The session could not be reached or started.
    pub const SESSION_ERROR: &str = "session_error";
    /// Every reason, so each series exists (at 0) before its first event.
    pub const ALL: &[&str] = &[
        CLOSED,
        ABNORMAL,
        TIMEOUT,
        SLOW_CONSUMER,
        RATE_LIMITED,
        FRAME_TOO_LARGE,
        PROTOCOL_ERROR,
        SERVER_RESTART,
        SESSION_ERROR,
    ];
}

/// How a quiz ended; the label values of `questpath_quizzes_finished_total`.
pub use questpath_actors::observe::quiz_result;

/// How a generation job attempt ended; the label values of `questpath_job_duration_seconds`.
pub use questpath_actors::observe::job_outcome;

/// Phases of a room, as labels.
const ROOM_PHASES: [&str; 4] = ["lobby", "question", "reveal", "ended"];

fn phase_label(phase: RoomPhase) -> &'static str {
    match phase {
        RoomPhase::Lobby => ROOM_PHASES[0],
        RoomPhase::Question => ROOM_PHASES[1],
        RoomPhase::Reveal => ROOM_PHASES[2],
        RoomPhase::Ended => ROOM_PHASES[3],
    }
}

/// Fan-out of one question to up to 10,000 local sockets: milliseconds to a second.
const FANOUT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5,
];

/// The families `questpath worker` exposes (name prefixes): what a generation worker
/// does (jobs, the store, Redis, caches), its process and its build. The others (HTTP,
/// websockets, game, rooms) never move in a worker and would only add zeros.
const WORKER_FAMILIES: &[&str] = &[
    "questpath_build_info",
    "process_",
    "questpath_job_",
    "questpath_jobs_",
    "questpath_store_operation",
    "questpath_redis_operation",
    "questpath_cache_",
];

/// The server's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Name prefixes of the families [`Metrics::render`] exposes; `None`: all of them.
    exposed: Option<&'static [&'static str]>,
    // ---- HTTP ----
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    http_in_flight: IntGauge,
    store_queries_per_request: HistogramVec,
    rate_limited: IntCounterVec,
    rate_limiter_failures: IntCounter,
    // ---- realtime ----
    ws_connections: IntGauge,
    ws_connects: IntCounter,
    ws_disconnects: IntCounterVec,
    ws_received: IntCounterVec,
    ws_sent: IntCounterVec,
    ws_rate_limited: IntCounter,
    ws_queue_depth: Histogram,
    ws_handle: HistogramVec,
    sessions: IntGauge,
    // ---- game ----
    quizzes_started: IntCounter,
    quizzes_finished: IntCounterVec,
    quiz_answer_time: Histogram,
    quiz_feedback: Histogram,
    quiz_late_answers: IntCounter,
    quiz_timeouts: IntCounter,
    xp_granted: IntCounterVec,
    level_ups: IntCounter,
    // ---- rooms ----
    rooms: IntGaugeVec,
    room_players: IntGauge,
    rooms_created: IntCounter,
    rooms_adopted: IntCounter,
    rooms_ended: IntCounterVec,
    room_answers: IntCounterVec,
    room_fanout: Histogram,
    // ---- dependencies ----
    store_operations: IntCounterVec,
    store_duration: HistogramVec,
    redis_operations: IntCounterVec,
    redis_duration: HistogramVec,
    cache_requests: IntCounterVec,
    job_duration: HistogramVec,
    jobs_dead_lettered: IntCounterVec,
    job_queue_depth: IntGaugeVec,
}

/// Registers `collector` and hands it back, so construction reads as one list.
fn register<T: Collector + Clone + 'static>(
    registry: &Registry,
    collector: T,
) -> Result<T, prometheus::Error> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

fn counter(registry: &Registry, name: &str, help: &str) -> Result<IntCounter, prometheus::Error> {
    register(registry, IntCounter::new(name, help)?)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
    register(registry, IntGauge::new(name, help)?)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
) -> Result<Histogram, prometheus::Error> {
    register(
        registry,
        Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))?,
    )
}

fn histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
    labels: &[&str],
) -> Result<HistogramVec, prometheus::Error> {
    register(
        registry,
        HistogramVec::new(
            HistogramOpts::new(name, help).buckets(buckets.to_vec()),
            labels,
        )?,
    )
}

impl Metrics {
    /// Registers every metric, process metrics included.
    pub fn new() -> Result<Self, prometheus::Error> {
        Self::with_exposed(None)
    }

    /// The metrics of a `questpath worker` process: the same handles (the worker code
    /// and the port decorators call them as in the server), exposing only
    /// [`WORKER_FAMILIES`].
    pub fn for_worker() -> Result<Self, prometheus::Error> {
        Self::with_exposed(Some(WORKER_FAMILIES))
    }

    fn with_exposed(exposed: Option<&'static [&'static str]>) -> Result<Self, prometheus::Error> {
        let r = Registry::new();
        let build_info = register(
            &r,
            IntGaugeVec::new(
                Opts::new(
                    "questpath_build_info",
                    "Version and commit of the running binary; value is always 1",
                ),
                &["version", "commit"],
            )?,
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), env!("QUESTPATH_COMMIT")])
            .set(1);
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;

        let metrics = Metrics {
            http_requests: counter_vec(
                &r,
                "http_requests_total",
                "HTTP requests answered, by route template, method and status",
                &["route", "method", "status"],
            )?,
            http_duration: histogram_vec(
                &r,
                "http_request_duration_seconds",
                "HTTP request latency, by route template and method",
                HTTP_BUCKETS,
                &["route", "method"],
            )?,
            http_in_flight: gauge(&r, "http_requests_in_flight", "HTTP requests being served")?,
            store_queries_per_request: histogram_vec(
                &r,
                "questpath_store_queries_per_request",
                "Store operations made while serving one HTTP request, by route template",
                QUERIES_PER_REQUEST_BUCKETS,
                &["route"],
            )?,
            rate_limited: counter_vec(
                &r,
                "rate_limited_total",
                "Requests refused with 429, by the limit that refused them",
                &["limit"],
            )?,
            rate_limiter_failures: counter(
                &r,
                "rate_limiter_failures_total",
                "Rate-limit checks the limiter could not answer (the failure policy decided)",
            )?,
            ws_connections: gauge(&r, "questpath_ws_connections", "Websockets open now")?,
            ws_connects: counter(
                &r,
                "questpath_ws_connects_total",
                "Websockets opened (ticket redeemed, session joined)",
            )?,
            ws_disconnects: counter_vec(
                &r,
                "questpath_ws_disconnects_total",
                "Websockets closed, by reason",
                &["reason"],
            )?,
            ws_received: counter_vec(
                &r,
                "questpath_ws_messages_received_total",
                "Websocket messages received, by protocol type (invalid: unparsable)",
                &["type"],
            )?,
            ws_sent: counter_vec(
                &r,
                "questpath_ws_messages_sent_total",
                "Websocket messages written to sockets, by protocol type",
                &["type"],
            )?,
            ws_rate_limited: counter(
                &r,
                "questpath_ws_rate_limited_messages_total",
                "Websocket messages refused by the per-connection rate limit",
            )?,
            ws_queue_depth: histogram(
                &r,
                "questpath_ws_outbound_queue_depth",
                "Messages still queued for a connection each time one is written",
                QUEUE_DEPTH_BUCKETS,
            )?,
            ws_handle: histogram_vec(
                &r,
                "questpath_ws_message_handle_duration_seconds",
                "From a websocket message's arrival to its session having handled it, by type",
                WS_HANDLE_BUCKETS,
                &["type"],
            )?,
            sessions: gauge(
                &r,
                "questpath_sessions",
                "Session actors alive on this instance (one per connected learner, kept for a grace period)",
            )?,
            quizzes_started: counter(&r, "questpath_quizzes_started_total", "Quizzes started")?,
            quizzes_finished: counter_vec(
                &r,
                "questpath_quizzes_finished_total",
                "Quizzes ended, by result (passed, failed, abandoned)",
                &["result"],
            )?,
            quiz_answer_time: histogram(
                &r,
                "questpath_quiz_answer_time_seconds",
                "From a question opening to the learner's answer being accepted",
                ANSWER_TIME_BUCKETS,
            )?,
            quiz_feedback: histogram(
                &r,
                "questpath_quiz_feedback_duration_seconds",
                "From an answer's arrival to its feedback being queued for the learner's sockets",
                WS_HANDLE_BUCKETS,
            )?,
            quiz_late_answers: counter(
                &r,
                "questpath_quiz_late_answers_total",
                "Answers refused because they arrived after the deadline and its grace",
            )?,
            quiz_timeouts: counter(
                &r,
                "questpath_quiz_questions_timed_out_total",
                "Questions closed unanswered when their time ran out",
            )?,
            xp_granted: counter_vec(
                &r,
                "questpath_xp_granted_total",
                "XP written to the ledger, by source (each grant once, retries excluded)",
                &["source"],
            )?,
            level_ups: counter(
                &r,
                "questpath_level_ups_total",
                "Grants that moved a learner to a higher player level",
            )?,
            store_operations: counter_vec(
                &r,
                "questpath_store_operations_total",
                "Store calls, by operation and outcome (ok, conflict, unavailable, error)",
                &["operation", "outcome"],
            )?,
            store_duration: histogram_vec(
                &r,
                "questpath_store_operation_duration_seconds",
                "Store call latency, by operation",
                DEPENDENCY_BUCKETS,
                &["operation"],
            )?,
            redis_operations: counter_vec(
                &r,
                "questpath_redis_operations_total",
                "Calls to Redis-backed ports (usually one command, script or pipeline each), by port, operation and outcome",
                &["port", "operation", "outcome"],
            )?,
            redis_duration: histogram_vec(
                &r,
                "questpath_redis_operation_duration_seconds",
                "Latency of calls to Redis-backed ports, by port and operation",
                DEPENDENCY_BUCKETS,
                &["port", "operation"],
            )?,
            cache_requests: counter_vec(
                &r,
                "questpath_cache_requests_total",
                "Cache reads, by cache (key prefix) and result (hit, miss, error)",
                &["cache", "result"],
            )?,
            job_duration: histogram_vec(
                &r,
                "questpath_job_duration_seconds",
                "Generation job attempts, from claim to outcome, by queue and outcome",
                JOB_BUCKETS,
                &["queue", "outcome"],
            )?,
            jobs_dead_lettered: counter_vec(
                &r,
                "questpath_jobs_dead_lettered_total",
                "Jobs moved to the dead-letter list after their last attempt, by queue",
                &["queue"],
            )?,
            rooms: register(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "questpath_rooms",
                        "Multiplayer rooms whose actor runs on this instance, by phase (lobby, question, reveal, ended)",
                    ),
                    &["phase"],
                )?,
            )?,
            room_players: gauge(
                &r,
                "questpath_room_players",
                "Connected players in the rooms this instance runs",
            )?,
            rooms_created: counter(
                &r,
                "questpath_rooms_created_total",
                "Multiplayer rooms created on this instance",
            )?,
            rooms_adopted: counter(
                &r,
                "questpath_rooms_adopted_total",
                "Multiplayer rooms this instance took over from a saved game (their instance died or drained)",
            )?,
            rooms_ended: counter_vec(
                &r,
                "questpath_rooms_ended_total",
                "Multiplayer rooms ended, by reason (finished, ended_by_host, host_left, abandoned)",
                &["reason"],
            )?,
            room_answers: counter_vec(
                &r,
                "questpath_room_answers_total",
                "Answers in multiplayer rooms, by outcome (accepted, or the refusal's error code)",
                &["outcome"],
            )?,
            room_fanout: histogram(
                &r,
                "questpath_room_fanout_seconds",
                "From a room actor publishing a question to this instance having queued it for every local player",
                FANOUT_BUCKETS,
            )?,
            job_queue_depth: register(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "questpath_job_queue_depth",
                        "Jobs waiting (ready or delayed, not claimed), sampled at scrape time, by queue",
                    ),
                    &["queue"],
                )?,
            )?,
            registry: r,
            exposed,
        };
        metrics.initialise_known_series();
        Ok(metrics)
    }

    /// Creates the series of every known label value at 0, so a rate over them is 0
    /// rather than absent before the first event (alerts and dashboards need that).
    fn initialise_known_series(&self) {
        for reason in disconnect::ALL {
            self.ws_disconnects.with_label_values(&[reason]);
        }
        for result in quiz_result::ALL {
            self.quizzes_finished.with_label_values(&[result]);
        }
        for queue in [crate::goals::QUEUE, questpath_actors::room::grants::QUEUE] {
            self.jobs_dead_lettered.with_label_values(&[queue]);
        }
        for phase in ROOM_PHASES {
            self.rooms.with_label_values(&[phase]);
        }
        for reason in ["finished", "ended_by_host", "host_left", "abandoned"] {
            self.rooms_ended.with_label_values(&[reason]);
        }
        for outcome in ["accepted", "late_answer", "already_answered"] {
            self.room_answers.with_label_values(&[outcome]);
        }
    }

    // ---- HTTP -------------------------------------------------------------------------

    /// A request was refused by the named limit (a fixed name, never a key).
    pub fn rate_limited(&self, limit: &'static str) {
        self.rate_limited.with_label_values(&[limit]).inc();
    }

    /// The rate limiter could not answer a check.
    pub fn rate_limiter_failed(&self) {
        self.rate_limiter_failures.inc();
    }

    /// A request started; pair with [`Metrics::http_finished`].
    pub fn http_started(&self) {
        self.http_in_flight.inc();
    }

    /// A request finished. `route` must be a route template or a fixed word, never a
    /// raw path, so the number of series stays bounded.
    pub fn http_finished(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.http_in_flight.dec();
        let method = method_label(method);
        self.http_requests
            .with_label_values(&[route, method, status_label(status)])
            .inc();
        self.http_duration
            .with_label_values(&[route, method])
            .observe(elapsed.as_secs_f64());
    }

    /// The number of store operations one request made (`route` as in `http_finished`).
    pub fn store_queries_per_request(&self, route: &str, count: u32) {
        self.store_queries_per_request
            .with_label_values(&[route])
            .observe(f64::from(count));
    }

    // ---- realtime ---------------------------------------------------------------------

    /// A websocket joined its session; pair with [`Metrics::ws_disconnected`].
    pub fn ws_connected(&self) {
        self.ws_connections.inc();
        self.ws_connects.inc();
    }

    /// A websocket that [`Metrics::ws_connected`] counted closed, for `reason` (one of
    /// [`disconnect`]).
    pub fn ws_disconnected(&self, reason: &'static str) {
        self.ws_connections.dec();
        self.ws_disconnects.with_label_values(&[reason]).inc();
    }

    /// A websocket closed before it joined a session (not counted as open).
    pub fn ws_refused(&self, reason: &'static str) {
        self.ws_disconnects.with_label_values(&[reason]).inc();
    }

    /// A message of protocol type `kind` arrived (`invalid` when it did not parse).
    pub fn ws_received(&self, kind: &'static str) {
        self.ws_received.with_label_values(&[kind]).inc();
    }

    /// A message of protocol type `kind` was written; `still_queued` messages wait behind it.
    pub fn ws_sent(&self, kind: &'static str, still_queued: usize) {
        self.ws_sent.with_label_values(&[kind]).inc();
        self.ws_queue_depth.observe(still_queued as f64);
    }

    /// A message was refused by the per-connection rate limit.
    pub fn ws_rate_limited(&self) {
        self.ws_rate_limited.inc();
    }

    /// A session handled a message of type `kind` that arrived `elapsed` ago.
    pub fn ws_handled(&self, kind: &'static str, elapsed: Duration) {
        self.ws_handle
            .with_label_values(&[kind])
            .observe(elapsed.as_secs_f64());
    }

    /// The number of live sessions on this instance.
    pub fn set_sessions(&self, count: usize) {
        self.sessions.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    // ---- rooms ------------------------------------------------------------------------

    pub fn room_created(&self) {
        self.rooms_created.inc();
    }

    pub fn room_adopted(&self) {
        self.rooms_adopted.inc();
    }

    /// A room's actor started (in the lobby).
    pub fn room_phase_changed_from_none(&self, phase: RoomPhase) {
        self.rooms.with_label_values(&[phase_label(phase)]).inc();
    }

    pub fn room_phase_changed(&self, from: RoomPhase, to: RoomPhase) {
        self.rooms.with_label_values(&[phase_label(from)]).dec();
        self.rooms.with_label_values(&[phase_label(to)]).inc();
    }

    /// A room's actor stopped.
    pub fn room_phase_changed_to_none(&self, phase: RoomPhase) {
        self.rooms.with_label_values(&[phase_label(phase)]).dec();
    }

    /// A room's connected players went from `from` to `to`.
    pub fn room_players_changed(&self, from: u32, to: u32) {
        self.room_players.add(i64::from(to) - i64::from(from));
    }

    /// A room ended for `reason` (a fixed name).
    pub fn room_ended(&self, reason: &'static str) {
        self.rooms_ended.with_label_values(&[reason]).inc();
    }

    /// An answer reached a room: `accepted` or a protocol error code.
    pub fn room_answer(&self, outcome: &'static str) {
        self.room_answers.with_label_values(&[outcome]).inc();
    }

    /// A question reached every local player's queue `elapsed` after it was published.
    pub fn room_fanout(&self, elapsed: Duration) {
        self.room_fanout.observe(elapsed.as_secs_f64());
    }

    // ---- game -------------------------------------------------------------------------

    pub fn quiz_started(&self) {
        self.quizzes_started.inc();
    }

    /// A quiz ended with `result`, one of [`quiz_result`].
    pub fn quiz_finished(&self, result: &'static str) {
        self.quizzes_finished.with_label_values(&[result]).inc();
    }

    /// An answer was accepted `since_open` after its question opened, and its feedback
    /// was queued `to_feedback` after the answer arrived.
    pub fn quiz_answered(&self, since_open: Duration, to_feedback: Duration) {
        self.quiz_answer_time.observe(since_open.as_secs_f64());
        self.quiz_feedback.observe(to_feedback.as_secs_f64());
    }

    pub fn quiz_late_answer(&self) {
        self.quiz_late_answers.inc();
    }

    pub fn quiz_question_timed_out(&self) {
        self.quiz_timeouts.inc();
    }

    /// `amount` XP was written to the ledger for `source` (a fixed rule name).
    pub fn xp_granted(&self, source: &'static str, amount: i64) {
        if let Ok(amount) = u64::try_from(amount) {
            self.xp_granted.with_label_values(&[source]).inc_by(amount);
        }
    }

    pub fn level_up(&self) {
        self.level_ups.inc();
    }

    // ---- dependencies -----------------------------------------------------------------

    /// One store call (`operation` is the port method's name).
    pub fn store_operation(
        &self,
        operation: &'static str,
        outcome: &'static str,
        elapsed: Duration,
    ) {
        self.store_operations
            .with_label_values(&[operation, outcome])
            .inc();
        self.store_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
    }

    /// One call to a Redis-backed port.
    pub fn redis_operation(
        &self,
        port: &'static str,
        operation: &'static str,
        outcome: &'static str,
        elapsed: Duration,
    ) {
        self.redis_operations
            .with_label_values(&[port, operation, outcome])
            .inc();
        self.redis_duration
            .with_label_values(&[port, operation])
            .observe(elapsed.as_secs_f64());
    }

    /// A cache read of `cache` (a key prefix from a bounded set) ended with `result`.
    pub fn cache_request(&self, cache: &str, result: &'static str) {
        self.cache_requests
            .with_label_values(&[cache, result])
            .inc();
    }

    /// A job attempt on `queue` ended with `outcome` (one of [`job_outcome`]).
    pub fn job_finished(&self, queue: &str, outcome: &'static str, elapsed: Duration) {
        self.job_duration
            .with_label_values(&[queue, outcome])
            .observe(elapsed.as_secs_f64());
    }

    /// A job of `queue` went to the dead-letter list.
    pub fn job_dead_lettered(&self, queue: &str) {
        self.jobs_dead_lettered.with_label_values(&[queue]).inc();
    }

    /// Jobs waiting on `queue` now.
    pub fn set_job_queue_depth(&self, queue: &str, depth: u64) {
        self.job_queue_depth
            .with_label_values(&[queue])
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        let mut families = self.registry.gather();
        if let Some(prefixes) = self.exposed {
            families.retain(|family| prefixes.iter().any(|p| family.name().starts_with(p)));
        }
        if let Err(e) = encoder.encode(&families, &mut buffer) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// The `type` label of a message from a client: its protocol name.
pub fn client_message_type(message: &ClientMessage) -> &'static str {
    match message {
        ClientMessage::Ping => "ping",
        ClientMessage::QuizStart { .. } => "quiz.start",
        ClientMessage::QuizAnswer { .. } => "quiz.answer",
        ClientMessage::QuizAbandon => "quiz.abandon",
        ClientMessage::SessionState => "session.state",
        ClientMessage::LeaderboardSubscribe { .. } => "leaderboard.subscribe",
        ClientMessage::LeaderboardUnsubscribe { .. } => "leaderboard.unsubscribe",
        ClientMessage::RoomJoin { .. } => "room.join",
        ClientMessage::RoomLeave => "room.leave",
        ClientMessage::RoomAnswer { .. } => "room.answer",
        ClientMessage::RoomState => "room.state",
        ClientMessage::RoomStart => "room.start",
        ClientMessage::RoomNext => "room.next",
        ClientMessage::RoomCloseQuestion => "room.close_question",
        ClientMessage::RoomSkip => "room.skip",
        ClientMessage::RoomKick { .. } => "room.kick",
        ClientMessage::RoomPause => "room.pause",
        ClientMessage::RoomResume => "room.resume",
        ClientMessage::RoomEnd => "room.end",
        // A message type added to the protocol counts here until it is named above;
        // the protocol grows while this stays correct.
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

/// The `type` label of a message to a client: its protocol name.
pub fn server_message_type(message: &ServerMessage) -> &'static str {
    match message {
        ServerMessage::Hello { .. } => "hello",
        ServerMessage::Pong { .. } => "pong",
        ServerMessage::Error { .. } => "error",
        ServerMessage::QuizQuestion { .. } => "quiz.question",
        ServerMessage::QuizFeedback { .. } => "quiz.feedback",
        ServerMessage::QuizResult { .. } => "quiz.result",
        ServerMessage::JobStatus { .. } => "job.status",
        ServerMessage::XpGranted { .. } => "xp.granted",
        ServerMessage::LeaderboardRank { .. } => "leaderboard.rank",
        ServerMessage::LeaderboardTop { .. } => "leaderboard.top",
        ServerMessage::RoomJoined { .. } => "room.joined",
        ServerMessage::RoomStateView { .. } => "room.state",
        ServerMessage::RoomLobby { .. } => "room.lobby",
        ServerMessage::RoomRoster { .. } => "room.roster",
        ServerMessage::RoomQuestion(_) => "room.question",
        ServerMessage::RoomAnswerAck { .. } => "room.answer_ack",
        ServerMessage::RoomAnswered { .. } => "room.answered",
        ServerMessage::RoomPaused { .. } => "room.paused",
        ServerMessage::RoomResumed { .. } => "room.resumed",
        ServerMessage::RoomQuestionClosed { .. } => "room.question_closed",
        ServerMessage::RoomYourResult { .. } => "room.your_result",
        ServerMessage::RoomKicked { .. } => "room.kicked",
        ServerMessage::RoomEnded { .. } => "room.ended",
        ServerMessage::RoomFinal { .. } => "room.final",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

/// Standard methods as they are; any other (clients may send anything) is `other`.
fn method_label(method: &str) -> &str {
    match method {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
        _ => "other",
    }
}

/// Status codes as static strings; anything unusual is folded so labels stay bounded.
fn status_label(status: u16) -> &'static str {
    const KNOWN: &[(u16, &str)] = &[
        (200, "200"),
        (201, "201"),
        (202, "202"),
        (204, "204"),
        (301, "301"),
        (302, "302"),
        (304, "304"),
        (307, "307"),
        (308, "308"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (410, "410"),
        (413, "413"),
        (415, "415"),
        (422, "422"),
        (423, "423"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    match KNOWN.iter().find(|(code, _)| *code == status) {
        Some((_, label)) => label,
        None => match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_requests_are_counted_by_route_method_status() {
        let metrics = Metrics::new().unwrap();
        metrics.http_started();
        metrics.http_finished("/health", "GET", 200, Duration::from_millis(3));
        metrics.store_queries_per_request("/health", 0);
        let text = metrics.render();
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="/health",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(
            r#"http_request_duration_seconds_bucket{method="GET",route="/health",le="0.005"} 1"#
        ));
        assert!(text.contains("http_requests_in_flight 0"));
        assert!(
            text.contains(
                r#"questpath_store_queries_per_request_bucket{route="/health",le="0"} 1"#
            )
        );
        assert!(text.contains("questpath_build_info{commit="));
    }

    #[test]
    fn message_type_labels_are_the_protocol_names() {
        let message = ServerMessage::Pong { re: None };
        let tagged = serde_json::to_value(&message).unwrap();
        assert_eq!(tagged["type"], server_message_type(&message));
        for text in [
            r#"{"type":"ping"}"#,
            r#"{"type":"quiz.answer","position":0,"option":"A"}"#,
            r#"{"type":"quiz.abandon"}"#,
            r#"{"type":"session.state"}"#,
            r#"{"type":"leaderboard.subscribe","board":"alltime"}"#,
        ] {
            let frame: crate::realtime::protocol::ClientFrame = serde_json::from_str(text).unwrap();
            let tagged: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(tagged["type"], client_message_type(&frame.message));
        }
    }

    #[test]
    fn odd_statuses_fold_into_classes() {
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(599), "5xx");
        assert_eq!(status_label(404), "404");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("BREW"), "other");
    }

    #[test]
    fn clones_count_into_the_same_series() {
        let metrics = Metrics::new().unwrap();
        let clone = metrics.clone();
        clone.ws_connected();
        metrics.ws_connected();
        clone.ws_disconnected(disconnect::SLOW_CONSUMER);
        let text = metrics.render();
        assert!(text.contains("questpath_ws_connections 1"), "{text}");
        assert!(text.contains("questpath_ws_connects_total 2"));
        assert!(text.contains(r#"questpath_ws_disconnects_total{reason="slow_consumer"} 1"#));
    }

    #[test]
    fn known_series_exist_before_their_first_event() {
        let text = Metrics::new().unwrap().render();
        for reason in disconnect::ALL {
            assert!(
                text.contains(&format!(
                    r#"questpath_ws_disconnects_total{{reason="{reason}"}} 0"#
                )),
                "{reason}: {text}"
            );
        }
        assert!(text.contains(r#"questpath_quizzes_finished_total{result="abandoned"} 0"#));
        assert!(text.contains(r#"questpath_jobs_dead_lettered_total{queue="roadmaps"} 0"#));
        assert!(text.contains("questpath_quiz_late_answers_total 0"));
    }

    #[test]
    fn a_worker_exposes_its_own_families_only() {
        let m = Metrics::for_worker().unwrap();
        m.job_finished("roadmaps", job_outcome::DONE, Duration::from_millis(30));
        m.store_operation("job", "ok", Duration::from_millis(1));
        m.set_job_queue_depth("roadmaps", 2);
        // Counted, but not a worker's business: not exposed.
        m.ws_connected();
        m.http_started();
        let text = m.render();
        for expected in [
            "questpath_build_info{commit=",
            r#"questpath_job_duration_seconds_count{outcome="done",queue="roadmaps"} 1"#,
            r#"questpath_jobs_dead_lettered_total{queue="roadmaps"} 0"#,
            r#"questpath_job_queue_depth{queue="roadmaps"} 2"#,
            r#"questpath_store_operations_total{operation="job",outcome="ok"} 1"#,
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
        for absent in [
            "http_",
            "questpath_ws_",
            "questpath_quiz",
            "questpath_room",
            "rate_limit",
        ] {
            assert!(
                !text.lines().any(|l| l
                    .trim_start_matches("# TYPE ")
                    .trim_start_matches("# HELP ")
                    .starts_with(absent)),
                "{absent} exposed by a worker:\n{text}"
            );
        }
        // The server's registry still exposes everything.
        assert!(
            Metrics::new()
                .unwrap()
                .render()
                .contains("questpath_ws_connections")
        );
    }

    #[test]
    fn game_and_realtime_methods_record_their_families() {
        let m = Metrics::new().unwrap();
        m.ws_received("quiz.answer");
        m.ws_sent("quiz.feedback", 3);
        m.ws_rate_limited();
        m.ws_handled("quiz.answer", Duration::from_micros(300));
        m.set_sessions(4);
        m.quiz_started();
        m.quiz_finished(quiz_result::PASSED);
        m.quiz_answered(Duration::from_secs(4), Duration::from_micros(200));
        m.quiz_late_answer();
        m.quiz_question_timed_out();
        m.xp_granted("level_first_pass", 100);
        m.xp_granted("level_repass", -5); // never negative on a counter
        m.level_up();
        m.job_finished("roadmaps", job_outcome::DONE, Duration::from_millis(30));
        m.job_dead_lettered("roadmaps");
        m.set_job_queue_depth("roadmaps", 7);
        let text = m.render();
        for expected in [
            r#"questpath_ws_messages_received_total{type="quiz.answer"} 1"#,
            r#"questpath_ws_messages_sent_total{type="quiz.feedback"} 1"#,
            r#"questpath_ws_outbound_queue_depth_bucket{le="4"} 1"#,
            "questpath_ws_rate_limited_messages_total 1",
            r#"questpath_ws_message_handle_duration_seconds_count{type="quiz.answer"} 1"#,
            "questpath_sessions 4",
            "questpath_quizzes_started_total 1",
            r#"questpath_quizzes_finished_total{result="passed"} 1"#,
            r#"questpath_quiz_answer_time_seconds_bucket{le="5"} 1"#,
            "questpath_quiz_feedback_duration_seconds_count 1",
            "questpath_quiz_late_answers_total 1",
            "questpath_quiz_questions_timed_out_total 1",
            r#"questpath_xp_granted_total{source="level_first_pass"} 100"#,
            "questpath_level_ups_total 1",
            r#"questpath_job_duration_seconds_count{outcome="done",queue="roadmaps"} 1"#,
            r#"questpath_jobs_dead_lettered_total{queue="roadmaps"} 1"#,
            r#"questpath_job_queue_depth{queue="roadmaps"} 7"#,
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
        assert!(!text.contains(r#"source="level_repass""#));
    }
}
