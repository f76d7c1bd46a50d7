//! Command-line flags: one subcommand per scenario, flags shared by all of them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

/// Load generator for the QuestPath server: speaks the real protocol, targets loopback
/// only, stops by itself, writes a JSON report per run.
#[derive(Debug, Parser)]
#[command(name = "questpath-load", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// The scenarios.
#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// Ramp to N authenticated idle websockets, hold them with heartbeats; connect rate,
    /// failures and the server's resident memory per connection.
    Connect(ConnectArgs),
    /// N learners playing quizzes continuously; answers per second and
    /// answer-to-feedback latency.
    Quiz(QuizArgs),
    /// A mix of legacy and v1 reads at a target rate; latency percentiles and errors.
    Http(HttpArgs),
    /// One multiplayer room of N players and a host playing Q questions; question
    /// fan-out time to the last player and answer ingest.
    Room(RoomArgs),
    /// Solo quizzes, rooms and REST reads and writes at once, every client reconnecting
    /// and resuming through faults; a per-second timeline and the XP each client was told
    /// (the chaos run's load).
    Mixed(MixedArgs),
}

impl Scenario {
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Connect(_) => "connect",
            Scenario::Quiz(_) => "quiz",
            Scenario::Http(_) => "http",
            Scenario::Room(_) => "room",
            Scenario::Mixed(_) => "mixed",
        }
    }

    pub fn common(&self) -> &Common {
        match self {
            Scenario::Connect(a) => &a.common,
            Scenario::Quiz(a) => &a.common,
            Scenario::Http(a) => &a.common,
            Scenario::Room(a) => &a.common,
            Scenario::Mixed(a) => &a.common,
        }
    }
}

/// Flags every scenario takes.
#[derive(Debug, Clone, Args, Serialize)]
pub struct Common {
    /// The server: http://HOST:PORT with HOST localhost or 127.x.y.z (nothing else is
    /// accepted).
    #[arg(
        long,
        env = "QUESTPATH_LOAD_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// Client source addresses 127.0.0.2, 127.0.0.3, ...: each adds about 28,000 client
    /// ports towards the server.
    #[arg(long, default_value_t = 4)]
    pub sources: usize,
    /// What the server runs on, for the report (embedded, redis+cassandra, ...).
    #[arg(long, default_value = "embedded")]
    pub backends: String,
    /// Bearer token for /metrics when the server sets QUESTPATH_METRICS_TOKEN.
    #[arg(long, env = "QUESTPATH_METRICS_TOKEN", hide_env_values = true)]
    #[serde(skip)]
    pub metrics_token: Option<String>,
    /// Accounts file: learners are reused from it (and it is written back), so a repeated
    /// run skips registration and goal generation.
    #[arg(long)]
    pub accounts: Option<PathBuf>,
    /// Folder for the JSON report (named after scenario, backends and time).
    #[arg(long, default_value = "target/load-results")]
    pub out: PathBuf,
    /// Exact path of the JSON report (instead of a name in --out).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Concurrent requests while preparing learners (registration costs the server two
    /// argon2id hashes each).
    #[arg(long, default_value_t = 8)]
    pub setup_concurrency: usize,
    /// Hard bound on the whole run, setup included, in seconds (at most 3,600).
    #[arg(long, default_value_t = 900)]
    pub max_runtime: u64,
    /// Failed operations above this fraction make the exit status 3 (the report is
    /// written all the same).
    #[arg(long, default_value_t = 0.01)]
    pub max_error_rate: f64,
    /// Pid of the server when it runs on this machine: its CPU time and resident memory
    /// are then read from /proc (finer than the whole CPU seconds of /metrics).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Commit of the server under test, for the report (default: `git rev-parse HEAD`
    /// of the current folder).
    #[arg(long)]
    pub commit: Option<String>,
    /// A server setting that differs from its defaults (`QUESTPATH_X=value`), recorded
    /// in the report's parameters; repeat for several. Changes nothing on the server.
    #[arg(long = "server-setting", value_name = "NAME=VALUE")]
    pub server_settings: Vec<String>,
}

/// `connect` flags.
#[derive(Debug, Clone, Args, Serialize)]
pub struct ConnectArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Websockets to open (at most 200,000).
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub connections: usize,
    /// Accounts the connections are spread over (default: one per 25 connections; the
    /// server issues at most 30 tickets per account per minute).
    #[arg(long)]
    pub users: Option<usize>,
    /// Connections started per second during the ramp.
    #[arg(long, default_value_t = 5000.0)]
    pub rate: f64,
    /// Ticket requests and handshakes in flight at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Seconds to hold every connection once all are open (at most 600).
    #[arg(long, default_value_t = 10)]
    pub hold: u64,
    /// Seconds between application pings on each connection (the server drops a
    /// connection silent for 30 s).
    #[arg(long, default_value_t = 15)]
    pub heartbeat: u64,
    /// Once all are open, every learner passes its first level (one XP grant each, the
    /// old client's quiz submit) and every connection waits for a `league.standings`:
    /// the rank push to all of them. Learners get a goal at setup for it.
    #[arg(long)]
    pub push: bool,
    /// Give the learners a goal at setup, as `--push` does, without the push (to make
    /// them ahead of a run that pushes).
    #[arg(long)]
    pub with_goals: bool,
}

/// `quiz` flags.
#[derive(Debug, Clone, Args, Serialize)]
pub struct QuizArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Learners playing at once, one websocket each (at most 50,000).
    #[arg(long, short = 'n', default_value_t = 100)]
    pub players: usize,
    /// Target answers per second over all players (default: 5 per player). The server
    /// allows 10 messages per second per connection, so each player sends at most 9.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds measured (at most 600).
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Seconds played before measuring starts.
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
}

/// `http` flags.
#[derive(Debug, Clone, Args, Serialize)]
pub struct HttpArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Target requests per second (at most 200,000).
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Seconds measured (at most 600).
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Accounts the requests are spread over.
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    /// Keep-alive connections, each sending its share of the schedule in turn.
    #[arg(long, short = 'c', default_value_t = 64)]
    pub connections: usize,
    /// Routes of the mix, comma-separated names (see `--help`); default: all that the
    /// server serves. Names: v1-me, legacy-me, v1-stats, legacy-stats, v1-goals,
    /// legacy-goals, v1-leaderboard, legacy-leaderboard; and the write v1-rename (PATCH
    /// /api/v1/me), only when named.
    #[arg(long, value_delimiter = ',')]
    pub routes: Vec<String>,
}

/// `room` flags.
#[derive(Debug, Clone, Args, Serialize)]
pub struct RoomArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Players in the room besides the host, one websocket each (at most 50,000). The
    /// server must allow that many: QUESTPATH_ROOM_MAX_PLAYERS (default 1,000).
    #[arg(long, short = 'n', default_value_t = 100)]
    pub players: usize,
    /// Questions the host runs (1 to 100).
    #[arg(long, short = 'q', default_value_t = 5)]
    pub questions: usize,
    /// Seconds per question (5 to 300; the server's range).
    #[arg(long, default_value_t = 20)]
    pub question_time: u64,
    /// Each player answers each question after a random delay from 0 to this many
    /// seconds after receiving it (less than --question-time).
    #[arg(long, default_value_t = 3.0)]
    pub answer_delay: f64,
    /// Seconds the host waits after a question closes before `room.next` (the reveal).
    #[arg(long, default_value_t = 2.0)]
    pub reveal: f64,
    /// Players join as guests (`POST /api/v1/rooms/{code}/guests`, no account, no
    /// argon2 at setup) instead of as registered learners (one account each, reused
    /// from --accounts).
    #[arg(long)]
    pub guests: bool,
    /// Joins started per second (guest pass or ticket, upgrade, `room.join`).
    #[arg(long, default_value_t = 1000.0)]
    pub join_rate: f64,
    /// Joins in flight at once.
    #[arg(long, default_value_t = 256)]
    pub join_concurrency: usize,
    /// Server instances the players are spread over, round robin (comma-separated
    /// http://127.x.y.z:PORT; default: --url only). The host creates the room on --url.
    /// Instances must share Redis (QUESTPATH_REDIS_URL) to play one room; with
    /// registered players they must also share the store.
    #[arg(long, value_delimiter = ',')]
    pub player_urls: Vec<String>,
    /// Longest the game may run once started, in seconds (at most 600); the host then
    /// ends it with `room.end`.
    #[arg(long, default_value_t = 300)]
    pub duration: u64,
}

/// `mixed` flags.
#[derive(Debug, Clone, Args, Serialize)]
pub struct MixedArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Seconds of load (at most 600); the final check comes after.
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Learners playing solo quizzes back to back, one websocket each.
    #[arg(long, default_value_t = 20)]
    pub quizzers: usize,
    /// Quiz messages (starts and answers) per second over all quizzers; each quizzer
    /// sends at most 9 a second and at least one every 10 s.
    #[arg(long, default_value_t = 40.0)]
    pub quiz_rate: f64,
    /// Rooms, each a host and its players playing games back to back.
    #[arg(long, default_value_t = 2)]
    pub rooms: usize,
    /// Registered players per room, besides the host.
    #[arg(long, default_value_t = 4)]
    pub room_players: usize,
    /// Questions per room game (1 to 100).
    #[arg(long, default_value_t = 3)]
    pub room_questions: usize,
    /// Seconds per room question (5 to 300).
    #[arg(long, default_value_t = 8)]
    pub question_time: u64,
    /// REST requests per second over every learner: reads (GET /api/v1/me, the all-time
    /// leaderboard, /api/v1/goals) and writes (PATCH /api/v1/me).
    #[arg(long, default_value_t = 50.0)]
    pub http_rate: f64,
    /// Fraction of the REST requests that are writes.
    #[arg(long, default_value_t = 0.1)]
    pub write_share: f64,
    /// Keep-alive connections the REST schedule is spread over.
    #[arg(long, default_value_t = 16)]
    pub http_connections: usize,
    /// Seconds after the load for the final check: every open quiz played to its result,
    /// every room game ended (at most 300).
    #[arg(long, default_value_t = 60)]
    pub final_wait: u64,
    /// File written when the load starts, holding that moment in Unix milliseconds
    /// (chaos.sh times its faults from it).
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
}
