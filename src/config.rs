//! Configuration, read once at start-up from the environment and an optional `.env`.
//!
//! Every variable is listed in [`VARIABLES`] with its default and meaning; `.env.example`
//! is checked against that list by a test, so the two cannot drift apart. A bad value is a
//! [`ConfigError`] that names the variable; `main` prints it on one line and exits with 2.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One documented configuration variable.
pub struct Variable {
    pub name: &'static str,
    /// Default as written in `.env.example`; empty when unset means "off".
    pub default: &'static str,
    pub doc: &'static str,
}

/// Every variable the server reads. `.env.example` lists exactly these.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "QUESTPATH_ENV",
        default: "development",
        doc: "development or production; production requires real secrets and secure cookies",
    },
    Variable {
        name: "QUESTPATH_BIND",
        default: "127.0.0.1:8080",
        doc: "address the HTTP and websocket server listens on (host:port)",
    },
    Variable {
        name: "QUESTPATH_DATA_DIR",
        default: "./data",
        doc: "folder of the embedded store and of the development signing key",
    },
    Variable {
        name: "QUESTPATH_WORKERS",
        default: "",
        doc: "HTTP worker threads; empty means one per CPU core",
    },
    Variable {
        name: "QUESTPATH_SHUTDOWN_TIMEOUT_SECS",
        default: "30",
        doc: "seconds in-flight requests get to finish after SIGTERM or ctrl-c",
    },
    Variable {
        name: "QUESTPATH_LOG_FORMAT",
        default: "json",
        doc: "json (one object per line) or pretty (for a terminal)",
    },
    Variable {
        name: "QUESTPATH_LOG",
        default: "info",
        doc: "log filter in tracing's EnvFilter syntax, e.g. info,questpath=debug",
    },
    Variable {
        name: "QUESTPATH_SCYLLA_NODES",
        default: "",
        doc: "comma-separated host:port of ScyllaDB (or Cassandra) nodes; empty means the embedded store",
    },
    Variable {
        name: "QUESTPATH_SCYLLA_KEYSPACE",
        default: "questpath",
        doc: "keyspace holding QuestPath's tables (letters, digits, underscore)",
    },
    Variable {
        name: "QUESTPATH_SCYLLA_REPLICATION",
        default: "1",
        doc: "keyspace replication for `migrate`: N (NetworkTopologyStrategy, N per DC), dc1:3,dc2:3, or simple:N",
    },
    Variable {
        name: "QUESTPATH_SCYLLA_USERNAME",
        default: "",
        doc: "CQL user name, when the cluster requires authentication",
    },
    Variable {
        name: "QUESTPATH_SCYLLA_PASSWORD",
        default: "",
        doc: "CQL password, when the cluster requires authentication",
    },
    Variable {
        name: "QUESTPATH_REDIS_URL",
        default: "",
        doc: "redis://host:port/db; empty means in-process leaderboard, cache, rate limits, bus and job queue",
    },
    Variable {
        name: "QUESTPATH_REDIS_PREFIX",
        default: "qp:",
        doc: "prefix of every Redis key and channel, so several deployments can share one Redis",
    },
    Variable {
        name: "QUESTPATH_JWT_SECRET",
        default: "",
        doc: "HS256 signing key for access tokens, at least 32 bytes; required in production, generated and kept in the data folder in development",
    },
    Variable {
        name: "QUESTPATH_METRICS_TOKEN",
        default: "",
        doc: "when set, GET /metrics requires `Authorization: Bearer <token>`; leave empty only where /metrics is not reachable from outside",
    },
    Variable {
        name: "QUESTPATH_WORKER_METRICS_BIND",
        default: "127.0.0.1:8081",
        doc: "where `questpath worker` serves GET /metrics (host:port; port 0 picks one; off for none); QUESTPATH_METRICS_TOKEN applies; each worker on a host needs its own port",
    },
    Variable {
        name: "QUESTPATH_COOKIE_SECURE",
        default: "",
        doc: "true or false: mark the refresh-token cookie Secure (HTTPS only); empty means true in production, false in development",
    },
    Variable {
        name: "QUESTPATH_ACCESS_TOKEN_TTL_SECS",
        default: "900",
        doc: "lifetime of an access token in seconds (1 to 86400); clients refresh after it",
    },
    Variable {
        name: "QUESTPATH_REFRESH_GRACE_SECS",
        default: "30",
        doc: "seconds (0 to 300) during which a just-rotated refresh token still yields an access token (two tabs refreshing at once); reuse later revokes the family",
    },
    Variable {
        name: "QUESTPATH_GOOGLE_CLIENT_ID",
        default: "",
        doc: "OAuth client id that Google ID tokens must be issued for (aud); empty disables Google sign-in",
    },
    Variable {
        name: "QUESTPATH_GOOGLE_JWKS_URL",
        default: "https://www.googleapis.com/oauth2/v3/certs",
        doc: "where Google's token signing keys are fetched from (tests point it at a local server)",
    },
    Variable {
        name: "QUESTPATH_LEGACY_OAUTH_LOGIN",
        default: "false",
        doc: "true re-enables the old POST /auth/oauth-login, which trusts any posted email; unsafe, for migration only",
    },
    Variable {
        name: "QUESTPATH_LLM_BASE_URL",
        default: "",
        doc: "OpenAI-compatible API base URL (e.g. https://api.openai.com/v1); empty means the built-in offline catalog generates roadmaps",
    },
    Variable {
        name: "QUESTPATH_LLM_API_KEY",
        default: "",
        doc: "API key sent as a bearer token to the LLM API",
    },
    Variable {
        name: "QUESTPATH_LLM_MODEL",
        default: "gpt-4o-mini",
        doc: "chat-completions model used to generate roadmaps",
    },
    Variable {
        name: "QUESTPATH_LLM_TIMEOUT_SECS",
        default: "60",
        doc: "seconds one LLM request may take before it is abandoned and retried",
    },
    Variable {
        name: "QUESTPATH_GENERATION_WORKERS",
        default: "2",
        doc: "roadmap-generation workers inside `serve` (0 leaves generation to separate `questpath worker` processes)",
    },
    Variable {
        name: "QUESTPATH_LEGACY_GOAL_WAIT_SECS",
        default: "60",
        doc: "how long the legacy POST /goals waits for its roadmap before answering 504",
    },
    Variable {
        name: "QUESTPATH_CORS_ORIGINS",
        default: "http://localhost:3000",
        doc: "comma-separated origins (scheme://host[:port]) whose pages may call the API with credentials; none allows no cross-origin calls",
    },
    Variable {
        name: "QUESTPATH_TRUSTED_PROXIES",
        default: "",
        doc: "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed; empty means the TCP peer is the client",
    },
    Variable {
        name: "QUESTPATH_RATE_LIMIT_READS",
        default: "100",
        doc: "reads (GET, HEAD) per signed-in user per minute",
    },
    Variable {
        name: "QUESTPATH_RATE_LIMIT_WRITES",
        default: "20",
        doc: "writes (POST, PUT, PATCH, DELETE) per signed-in user per minute",
    },
    Variable {
        name: "QUESTPATH_RATE_LIMIT_LOGIN",
        default: "10",
        doc: "sign-in attempts per client IP per minute (raise it for classrooms behind one address)",
    },
    Variable {
        name: "QUESTPATH_RATE_LIMIT_REGISTER",
        default: "5",
        doc: "account registrations per client IP per minute",
    },
    Variable {
        name: "QUESTPATH_RATE_LIMIT_ANONYMOUS",
        default: "60",
        doc: "requests per client IP per minute without a valid bearer token",
    },
    Variable {
        name: "QUESTPATH_RATE_LIMIT_FAILURE",
        default: "open",
        doc: "when the rate limiter (Redis) cannot answer: open lets requests through (logged and counted), closed answers 503",
    },
    Variable {
        name: "QUESTPATH_WS_HEARTBEAT_SECS",
        default: "15",
        doc: "seconds between the server's websocket pings",
    },
    Variable {
        name: "QUESTPATH_WS_TIMEOUT_SECS",
        default: "30",
        doc: "a websocket silent this long (no frame, not even a pong) is closed with 4010; more than the heartbeat",
    },
    Variable {
        name: "QUESTPATH_WS_MAX_FRAME_BYTES",
        default: "4096",
        doc: "largest websocket frame accepted; larger ones close the socket with 1009",
    },
    Variable {
        name: "QUESTPATH_WS_RATE_PER_SEC",
        default: "10",
        doc: "messages per second a websocket may send, sustained (the burst is twice that)",
    },
    Variable {
        name: "QUESTPATH_WS_OUTBOUND_QUEUE",
        default: "64",
        doc: "messages waiting for a slow websocket reader before it is closed with 4008",
    },
    Variable {
        name: "QUESTPATH_WS_GRACE_SECS",
        default: "60",
        doc: "how long a learner's session (and quiz) outlives their last websocket",
    },
    Variable {
        name: "QUESTPATH_QUIZ_QUESTION_SECS",
        default: "60",
        doc: "time to answer one quiz question",
    },
    Variable {
        name: "QUESTPATH_ROOM_MAX_PLAYERS",
        default: "1000",
        doc: "most players one multiplayer room may seat (a host may ask for fewer); tested up to 10000",
    },
    Variable {
        name: "QUESTPATH_ROOMS_PER_INSTANCE",
        default: "500",
        doc: "most multiplayer rooms one instance runs at once; more are refused with 503",
    },
    Variable {
        name: "QUESTPATH_ROOM_LEASE_SECS",
        default: "15",
        doc: "life of a room's entry in the code directory without a refresh: a dead instance's rooms disappear within it",
    },
    Variable {
        name: "QUESTPATH_ROOM_HOST_GRACE_SECS",
        default: "60",
        doc: "how long a room waits for a host who dropped before ending (results are kept)",
    },
    Variable {
        name: "QUESTPATH_ROOM_EMPTY_GRACE_SECS",
        default: "60",
        doc: "how long a room with nobody connected lives before it ends",
    },
    Variable {
        name: "QUESTPATH_SLOW_REQUEST_MS",
        default: "1000",
        doc: "requests slower than this many milliseconds are logged as a warning with their route, status and user (0 turns the warning off)",
    },
    Variable {
        name: "QUESTPATH_SENTRY_DSN",
        default: "",
        doc: "Sentry DSN (https://key@host/project): errors and panics are reported there; empty sends nothing anywhere",
    },
];

/// Which deployment this is; production refuses insecure defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// How `migrate` creates the keyspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replication {
    /// `SimpleStrategy` with one replication factor (single data centre, tests).
    Simple(u32),
    /// `NetworkTopologyStrategy` with the same factor in every data centre.
    NetworkTopology(u32),
    /// `NetworkTopologyStrategy` with a factor per named data centre.
    PerDataCenter(Vec<(String, u32)>),
}

impl Replication {
    /// The CQL map literal of a `CREATE KEYSPACE ... WITH replication = ...`.
    pub fn to_cql(&self) -> String {
        match self {
            Replication::Simple(n) => {
                format!("{{'class': 'SimpleStrategy', 'replication_factor': {n}}}")
            }
            Replication::NetworkTopology(n) => {
                format!("{{'class': 'NetworkTopologyStrategy', 'replication_factor': {n}}}")
            }
            Replication::PerDataCenter(dcs) => {
                let parts: Vec<String> = dcs.iter().map(|(dc, n)| format!("'{dc}': {n}")).collect();
                format!(
                    "{{'class': 'NetworkTopologyStrategy', {}}}",
                    parts.join(", ")
                )
            }
        }
    }

    fn parse(value: &str) -> Result<Self, String> {
        let factor = |s: &str| -> Result<u32, String> {
            match s.trim().parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!(
                    "{s:?} is not a replication factor (a whole number from 1)"
                )),
            }
        };
        let value = value.trim();
        if let Some(n) = value.strip_prefix("simple:") {
            return Ok(Replication::Simple(factor(n)?));
        }
        if !value.contains(':') {
            return Ok(Replication::NetworkTopology(factor(value)?));
        }
        let mut dcs = Vec::new();
        for part in value.split(',') {
            let (dc, n) = part
                .split_once(':')
                .ok_or_else(|| format!("{part:?} is not dc:factor"))?;
            let dc = dc.trim();
            if dc.is_empty()
                || !dc
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!("{dc:?} is not a data centre name"));
            }
            dcs.push((dc.to_string(), factor(n)?));
        }
        Ok(Replication::PerDataCenter(dcs))
    }
}

/// Settings of the distributed store.
#[derive(Debug, Clone)]
pub struct ScyllaSettings {
    pub nodes: Vec<String>,
    pub keyspace: String,
    pub replication: Replication,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

/// What to do with a request when the rate limiter cannot answer (Redis down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitFailure {
    /// Let the request through: availability over protection, with a log line and a metric.
    Open,
    /// Answer 503: protection over availability.
    Closed,
}

/// The general request limits (the named stricter ones are constants in
/// `http::rate_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Reads per signed-in user per minute.
    pub reads: u32,
    /// Writes per signed-in user per minute.
    pub writes: u32,
    /// Requests per client IP per minute without a valid bearer token.
    pub anonymous: u32,
    /// Sign-in attempts per client IP per minute.
    pub login: u32,
    /// Registrations per client IP per minute.
    pub register: u32,
    pub failure: RateLimitFailure,
}

/// Settings of the shared Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: Secret,
    pub prefix: String,
}

/// A string that must never be printed (passwords, keys, URLs with credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub workers: Option<usize>,
    pub shutdown_timeout: Duration,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub scylla: Option<ScyllaSettings>,
    pub redis: Option<RedisSettings>,
    /// `None` in development means: generate one and keep it in the data folder.
    pub jwt_secret: Option<Secret>,
    pub metrics_token: Option<Secret>,
    /// Where `questpath worker` serves its metrics; `None` (`off`): nowhere.
    pub worker_metrics_bind: Option<SocketAddr>,
    /// Whether the refresh-token cookie carries `Secure`.
    pub cookie_secure: bool,
    /// How long an access token is valid.
    pub access_token_ttl: Duration,
    /// How long a rotated refresh token still answers with an access token.
    pub refresh_grace: Duration,
    /// Google sign-in, when a client id is configured.
    pub google: Option<GoogleSettings>,
    /// Whether the unverified legacy `POST /auth/oauth-login` is enabled.
    pub legacy_oauth_login: bool,
    /// The LLM that generates roadmaps; `None` means the offline catalog.
    pub llm: Option<LlmSettings>,
    /// Generation workers run inside `serve`.
    pub generation_workers: usize,
    /// How long the legacy goal creation waits for its roadmap.
    pub legacy_goal_wait: Duration,
    /// Websocket and quiz timings and limits (defaults; tests shorten them).
    pub realtime: crate::realtime::RealtimeSettings,
    /// Multiplayer room limits and timings.
    pub rooms: questpath_actors::room::RoomSettings,
    /// Browser origins allowed to call the API with credentials (exact `scheme://host[:port]`).
    pub cors_origins: Vec<String>,
    /// Networks of reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub rate_limits: RateLimitSettings,
    /// Requests slower than this are logged as a warning; `None` turns that off.
    pub slow_request: Option<Duration>,
    /// Where errors and panics are reported; `None` (the default) reports nothing.
    pub sentry_dsn: Option<Secret>,
}

/// An OpenAI-compatible chat-completions API.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// Base URL without the trailing `/chat/completions`.
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub model: String,
    pub timeout: Duration,
}

/// Google sign-in settings.
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    pub client_id: String,
    pub jwks_url: String,
}

/// A configuration variable with a value the server cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl Settings {
    /// Reads the process environment, after loading `.env` if there is one (variables
    /// already set in the environment win over `.env`).
    pub fn from_env() -> Result<Self, ConfigError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => {
                return Err(ConfigError {
                    variable: ".env",
                    problem: format!("cannot be read: {e}"),
                });
            }
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any source of variables; tests pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| -> Option<String> {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let or_default = |name: &'static str| -> String {
            get(name).unwrap_or_else(|| default_of(name).to_string())
        };
        let bad = |variable: &'static str, problem: String| ConfigError { variable, problem };

        let environment = match or_default("QUESTPATH_ENV").to_ascii_lowercase().as_str() {
            "development" | "dev" => Environment::Development,
            "production" | "prod" => Environment::Production,
            other => {
                return Err(bad(
                    "QUESTPATH_ENV",
                    format!("{other:?} is not an environment (expected development or production)"),
                ));
            }
        };

        let bind_text = or_default("QUESTPATH_BIND");
        let bind: SocketAddr = bind_text.parse().map_err(|_| {
            bad(
                "QUESTPATH_BIND",
                format!("{bind_text:?} is not a socket address (expected host:port, e.g. 127.0.0.1:8080)"),
            )
        })?;

        let data_dir = PathBuf::from(or_default("QUESTPATH_DATA_DIR"));

        let workers = match get("QUESTPATH_WORKERS") {
            None => None,
            Some(w) => match w.parse::<usize>() {
                Ok(n) if (1..=1024).contains(&n) => Some(n),
                _ => {
                    return Err(bad(
                        "QUESTPATH_WORKERS",
                        format!("{w:?} is not a worker count (1 to 1024)"),
                    ));
                }
            },
        };

        let timeout_text = or_default("QUESTPATH_SHUTDOWN_TIMEOUT_SECS");
        let shutdown_timeout = match timeout_text.parse::<u64>() {
            Ok(n) if n <= 3600 => Duration::from_secs(n),
            _ => {
                return Err(bad(
                    "QUESTPATH_SHUTDOWN_TIMEOUT_SECS",
                    format!("{timeout_text:?} is not a number of seconds (0 to 3600)"),
                ));
            }
        };

        let log_format = match or_default("QUESTPATH_LOG_FORMAT")
            .to_ascii_lowercase()
            .as_str()
        {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => {
                return Err(bad(
                    "QUESTPATH_LOG_FORMAT",
                    format!("{other:?} is not a log format (expected json or pretty)"),
                ));
            }
        };

        // Each directive trimmed: tracing-subscriber 0.3.23 slices a directive with offsets
        // from its trimmed form, so `info, é=debug` panicked instead of parsing.
        let log_filter = or_default("QUESTPATH_LOG")
            .split(',')
            .map(str::trim)
            .filter(|directive| !directive.is_empty())
            .collect::<Vec<_>>()
            .join(",");
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log_filter) {
            return Err(bad(
                "QUESTPATH_LOG",
                format!("{log_filter:?} is not a log filter: {e}"),
            ));
        }

        let scylla = match get("QUESTPATH_SCYLLA_NODES") {
            None => None,
            Some(nodes_text) => {
                let mut nodes = Vec::new();
                for node in nodes_text
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                {
                    if !is_host_port(node) {
                        return Err(bad(
                            "QUESTPATH_SCYLLA_NODES",
                            format!("{node:?} is not host:port"),
                        ));
                    }
                    nodes.push(node.to_string());
                }
                // Only commas: the cluster would have no node to connect to.
                if nodes.is_empty() {
                    return Err(bad(
                        "QUESTPATH_SCYLLA_NODES",
                        format!("{nodes_text:?} names no host:port"),
                    ));
                }
                let keyspace = or_default("QUESTPATH_SCYLLA_KEYSPACE");
                if !is_cql_identifier(&keyspace) {
                    return Err(bad(
                        "QUESTPATH_SCYLLA_KEYSPACE",
                        format!(
                            "{keyspace:?} is not a keyspace name (a letter, then letters, digits or underscores, at most 48)"
                        ),
                    ));
                }
                let replication = Replication::parse(&or_default("QUESTPATH_SCYLLA_REPLICATION"))
                    .map_err(|p| bad("QUESTPATH_SCYLLA_REPLICATION", p))?;
                let username = get("QUESTPATH_SCYLLA_USERNAME");
                let password = get("QUESTPATH_SCYLLA_PASSWORD").map(Secret);
                if username.is_some() != password.is_some() {
                    return Err(bad(
                        "QUESTPATH_SCYLLA_PASSWORD",
                        "QUESTPATH_SCYLLA_USERNAME and QUESTPATH_SCYLLA_PASSWORD must be set together".into(),
                    ));
                }
                Some(ScyllaSettings {
                    nodes,
                    keyspace,
                    replication,
                    username,
                    password,
                })
            }
        };

        let redis = match get("QUESTPATH_REDIS_URL") {
            None => None,
            Some(url) => {
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    return Err(bad(
                        "QUESTPATH_REDIS_URL",
                        "is not a Redis URL (expected redis://host:port/db or rediss:// for TLS)"
                            .into(),
                    ));
                }
                if let Err(e) = fred::types::config::Config::from_url(&url) {
                    return Err(bad(
                        "QUESTPATH_REDIS_URL",
                        format!("is not a usable Redis URL: {}", e.details()),
                    ));
                }
                let prefix = or_default("QUESTPATH_REDIS_PREFIX");
                if prefix.len() > 64 || prefix.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(bad(
                        "QUESTPATH_REDIS_PREFIX",
                        format!("{prefix:?} must be at most 64 characters without spaces"),
                    ));
                }
                Some(RedisSettings {
                    url: Secret(url),
                    prefix,
                })
            }
        };

        let jwt_secret = get("QUESTPATH_JWT_SECRET").map(Secret);
        match (&jwt_secret, environment) {
            (Some(s), _) if s.0.len() < 32 => {
                return Err(bad(
                    "QUESTPATH_JWT_SECRET",
                    format!("is {} bytes long; at least 32 are required", s.0.len()),
                ));
            }
            (None, Environment::Production) => {
                return Err(bad(
                    "QUESTPATH_JWT_SECRET",
                    "is required when QUESTPATH_ENV=production (at least 32 random bytes)".into(),
                ));
            }
            _ => {}
        }

        let metrics_token = get("QUESTPATH_METRICS_TOKEN").map(Secret);
        let worker_metrics_text = or_default("QUESTPATH_WORKER_METRICS_BIND");
        let worker_metrics_bind = if worker_metrics_text.eq_ignore_ascii_case("off") {
            None
        } else {
            Some(worker_metrics_text.parse::<SocketAddr>().map_err(|_| {
                bad(
                    "QUESTPATH_WORKER_METRICS_BIND",
                    format!(
                        "{worker_metrics_text:?} is not a socket address (expected host:port, e.g. 127.0.0.1:8081, or off)"
                    ),
                )
            })?)
        };

        let llm = match get("QUESTPATH_LLM_BASE_URL") {
            None => None,
            Some(base_url) => {
                if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
                    return Err(bad(
                        "QUESTPATH_LLM_BASE_URL",
                        format!("{base_url:?} is not an http(s) URL"),
                    ));
                }
                let timeout_text = or_default("QUESTPATH_LLM_TIMEOUT_SECS");
                let timeout = match timeout_text.parse::<u64>() {
                    Ok(n) if (1..=600).contains(&n) => Duration::from_secs(n),
                    _ => {
                        return Err(bad(
                            "QUESTPATH_LLM_TIMEOUT_SECS",
                            format!("{timeout_text:?} is not a number of seconds (1 to 600)"),
                        ));
                    }
                };
                Some(LlmSettings {
                    base_url: base_url.trim_end_matches('/').to_string(),
                    api_key: get("QUESTPATH_LLM_API_KEY").map(Secret),
                    model: or_default("QUESTPATH_LLM_MODEL"),
                    timeout,
                })
            }
        };
        let workers_text = or_default("QUESTPATH_GENERATION_WORKERS");
        let generation_workers = match workers_text.parse::<usize>() {
            Ok(n) if n <= 64 => n,
            _ => {
                return Err(bad(
                    "QUESTPATH_GENERATION_WORKERS",
                    format!("{workers_text:?} is not a worker count (0 to 64)"),
                ));
            }
        };
        let wait_text = or_default("QUESTPATH_LEGACY_GOAL_WAIT_SECS");
        let legacy_goal_wait = match wait_text.parse::<u64>() {
            Ok(n) if (1..=600).contains(&n) => Duration::from_secs(n),
            _ => {
                return Err(bad(
                    "QUESTPATH_LEGACY_GOAL_WAIT_SECS",
                    format!("{wait_text:?} is not a number of seconds (1 to 600)"),
                ));
            }
        };

        let cookie_secure = match get("QUESTPATH_COOKIE_SECURE") {
            None => environment == Environment::Production,
            Some(v) => parse_bool(&v).ok_or_else(|| {
                bad(
                    "QUESTPATH_COOKIE_SECURE",
                    format!("{v:?} is not true or false"),
                )
            })?,
        };

        let google = match get("QUESTPATH_GOOGLE_CLIENT_ID") {
            None => None,
            Some(client_id) => {
                let jwks_url = or_default("QUESTPATH_GOOGLE_JWKS_URL");
                let is_url = jwks_url.starts_with("https://")
                    || (jwks_url.starts_with("http://") && environment == Environment::Development);
                if !is_url {
                    return Err(bad(
                        "QUESTPATH_GOOGLE_JWKS_URL",
                        format!(
                            "{jwks_url:?} is not an https:// URL (http:// is allowed in development only)"
                        ),
                    ));
                }
                Some(GoogleSettings {
                    client_id,
                    jwks_url,
                })
            }
        };

        let legacy_text = or_default("QUESTPATH_LEGACY_OAUTH_LOGIN");
        let legacy_oauth_login = parse_bool(&legacy_text).ok_or_else(|| {
            bad(
                "QUESTPATH_LEGACY_OAUTH_LOGIN",
                format!("{legacy_text:?} is not true or false"),
            )
        })?;

        let cors_origins = parse_origins(&or_default("QUESTPATH_CORS_ORIGINS"))
            .map_err(|p| bad("QUESTPATH_CORS_ORIGINS", p))?;
        let trusted_proxies = parse_networks(&or_default("QUESTPATH_TRUSTED_PROXIES"))
            .map_err(|p| bad("QUESTPATH_TRUSTED_PROXIES", p))?;
        let per_minute = |name: &'static str| -> Result<u32, ConfigError> {
            let text = or_default(name);
            match text.parse::<u32>() {
                Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
                _ => Err(bad(
                    name,
                    format!("{text:?} is not a number of requests per minute (1 to 1000000)"),
                )),
            }
        };
        let failure_text = or_default("QUESTPATH_RATE_LIMIT_FAILURE");
        let failure = match failure_text.to_ascii_lowercase().as_str() {
            "open" => RateLimitFailure::Open,
            "closed" => RateLimitFailure::Closed,
            _ => {
                return Err(bad(
                    "QUESTPATH_RATE_LIMIT_FAILURE",
                    format!("{failure_text:?} is not a policy (expected open or closed)"),
                ));
            }
        };
        let rate_limits = RateLimitSettings {
            reads: per_minute("QUESTPATH_RATE_LIMIT_READS")?,
            writes: per_minute("QUESTPATH_RATE_LIMIT_WRITES")?,
            anonymous: per_minute("QUESTPATH_RATE_LIMIT_ANONYMOUS")?,
            login: per_minute("QUESTPATH_RATE_LIMIT_LOGIN")?,
            register: per_minute("QUESTPATH_RATE_LIMIT_REGISTER")?,
            failure,
        };

        let number = |name: &'static str,
                      range: std::ops::RangeInclusive<u64>|
         -> Result<u64, ConfigError> {
            let text = or_default(name);
            match text.parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(bad(
                    name,
                    format!(
                        "{text:?} is not a number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )),
            }
        };
        let access_token_ttl =
            Duration::from_secs(number("QUESTPATH_ACCESS_TOKEN_TTL_SECS", 1..=86_400)?);
        let refresh_grace = Duration::from_secs(number("QUESTPATH_REFRESH_GRACE_SECS", 0..=300)?);
        let heartbeat = Duration::from_secs(number("QUESTPATH_WS_HEARTBEAT_SECS", 1..=300)?);
        let client_timeout = Duration::from_secs(number("QUESTPATH_WS_TIMEOUT_SECS", 2..=3600)?);
        if client_timeout <= heartbeat {
            return Err(bad(
                "QUESTPATH_WS_TIMEOUT_SECS",
                "must be longer than QUESTPATH_WS_HEARTBEAT_SECS, or live clients are dropped between pings".into(),
            ));
        }
        let rate = number("QUESTPATH_WS_RATE_PER_SEC", 1..=10_000)? as f64;
        let realtime = crate::realtime::RealtimeSettings {
            heartbeat,
            client_timeout,
            max_frame: number("QUESTPATH_WS_MAX_FRAME_BYTES", 256..=1_048_576)? as usize,
            grace: Duration::from_secs(number("QUESTPATH_WS_GRACE_SECS", 0..=3600)?),
            outbound_queue: number("QUESTPATH_WS_OUTBOUND_QUEUE", 1..=100_000)? as usize,
            rate_per_sec: rate,
            rate_burst: rate * 2.0,
            question_time: Duration::from_secs(number("QUESTPATH_QUIZ_QUESTION_SECS", 5..=3600)?),
            ..crate::realtime::RealtimeSettings::default()
        };
        let rooms = questpath_actors::room::RoomSettings {
            max_players: number("QUESTPATH_ROOM_MAX_PLAYERS", 1..=100_000)? as usize,
            max_rooms: number("QUESTPATH_ROOMS_PER_INSTANCE", 1..=100_000)? as usize,
            lease: Duration::from_secs(number("QUESTPATH_ROOM_LEASE_SECS", 3..=3600)?),
            host_grace: Duration::from_secs(number("QUESTPATH_ROOM_HOST_GRACE_SECS", 0..=3600)?),
            empty_grace: Duration::from_secs(number("QUESTPATH_ROOM_EMPTY_GRACE_SECS", 0..=3600)?),
            ..questpath_actors::room::RoomSettings::default()
        };
        let slow_text = or_default("QUESTPATH_SLOW_REQUEST_MS");
        let slow_request = match slow_text.parse::<u64>() {
            Ok(0) => None,
            Ok(ms) if ms <= 600_000 => Some(Duration::from_millis(ms)),
            _ => {
                return Err(bad(
                    "QUESTPATH_SLOW_REQUEST_MS",
                    format!("{slow_text:?} is not a number of milliseconds (0 to 600000)"),
                ));
            }
        };
        let sentry_dsn = match get("QUESTPATH_SENTRY_DSN") {
            None => None,
            Some(dsn) => match dsn.parse::<sentry::types::Dsn>() {
                Ok(_) => Some(Secret(dsn)),
                // The parser's message may quote the DSN, which holds a key: not repeated.
                Err(_) => {
                    return Err(bad(
                        "QUESTPATH_SENTRY_DSN",
                        "is not a Sentry DSN (expected https://<key>@<host>/<project id>)".into(),
                    ));
                }
            },
        };

        Ok(Settings {
            slow_request,
            sentry_dsn,
            realtime,
            rooms,
            cors_origins,
            trusted_proxies,
            rate_limits,
            llm,
            generation_workers,
            legacy_goal_wait,
            metrics_token,
            worker_metrics_bind,
            cookie_secure,
            access_token_ttl,
            refresh_grace,
            google,
            legacy_oauth_login,
            environment,
            bind,
            data_dir,
            workers,
            shutdown_timeout,
            log_format,
            log_filter,
            scylla,
            redis,
            jwt_secret,
        })
    }

    /// One line naming the backends in use, for the first log line.
    pub fn backends_summary(&self) -> String {
        let store = match &self.scylla {
            Some(s) => format!("scylla({}, keyspace {})", s.nodes.join(","), s.keyspace),
            None => format!(
                "embedded({})",
                self.data_dir.join("questpath.redb").display()
            ),
        };
        let shared = match &self.redis {
            Some(_) => "redis".to_string(),
            None => "in-process".to_string(),
        };
        format!(
            "store={store} leaderboard={shared} cache={shared} rate_limiter={shared} bus={shared} job_queue={shared}"
        )
    }
}

fn default_of(name: &str) -> &'static str {
    VARIABLES
        .iter()
        .find(|v| v.name == name)
        .map(|v| v.default)
        .unwrap_or("")
}

/// Comma-separated browser origins. Each must be exactly what a browser sends in
/// `Origin` (`scheme://host[:port]`, no path), because CORS compares them as strings;
/// `*` is refused since credentials are allowed. `none` means no origin at all.
fn parse_origins(value: &str) -> Result<Vec<String>, String> {
    if value.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut origins = Vec::new();
    for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let plain = host.is_some_and(|h| {
            !h.is_empty()
                && h.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
        });
        if !plain {
            return Err(format!(
                "{origin:?} is not an origin (expected scheme://host[:port] without a path, e.g. https://app.example.org)"
            ));
        }
        origins.push(origin.to_string());
    }
    Ok(origins)
}

/// Comma-separated IP addresses or CIDR networks; a bare address is a one-address network.
fn parse_networks(value: &str) -> Result<Vec<ipnet::IpNet>, String> {
    let mut networks = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let network = match part.parse::<ipnet::IpNet>() {
            Ok(network) => network,
            Err(_) => part
                .parse::<std::net::IpAddr>()
                .map(ipnet::IpNet::from)
                .map_err(|_| format!("{part:?} is not an IP address or CIDR network"))?,
        };
        networks.push(network.trunc());
    }
    Ok(networks)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// CQL unquoted identifier rules (keyspace and table names).
pub fn is_cql_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && s.len() <= 48
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_give_the_embedded_development_server() {
        let s = settings(&[]).expect("defaults are valid");
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert!(s.scylla.is_none());
        assert!(s.redis.is_none());
        assert!(s.jwt_secret.is_none());
        assert!(s.backends_summary().contains("store=embedded"));
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("QUESTPATH_BIND", "not-an-address"),
            ("QUESTPATH_ENV", "staging"),
            ("QUESTPATH_LOG_FORMAT", "xml"),
            ("QUESTPATH_WORKERS", "0"),
            ("QUESTPATH_SHUTDOWN_TIMEOUT_SECS", "-1"),
            ("QUESTPATH_SCYLLA_NODES", "localhost"),
            // Found by the property tests: only separators gave a cluster of no nodes.
            ("QUESTPATH_SCYLLA_NODES", ", ,"),
            ("QUESTPATH_REDIS_URL", "http://localhost"),
            ("QUESTPATH_JWT_SECRET", "short"),
            ("QUESTPATH_COOKIE_SECURE", "maybe"),
            ("QUESTPATH_LEGACY_OAUTH_LOGIN", "sure"),
            ("QUESTPATH_LLM_BASE_URL", "ftp://models"),
            ("QUESTPATH_GENERATION_WORKERS", "lots"),
            ("QUESTPATH_LEGACY_GOAL_WAIT_SECS", "0"),
            ("QUESTPATH_WS_HEARTBEAT_SECS", "0"),
            ("QUESTPATH_WS_TIMEOUT_SECS", "10"),
            ("QUESTPATH_WS_MAX_FRAME_BYTES", "lots"),
            ("QUESTPATH_WS_OUTBOUND_QUEUE", "0"),
            ("QUESTPATH_QUIZ_QUESTION_SECS", "1"),
            ("QUESTPATH_ROOM_MAX_PLAYERS", "0"),
            ("QUESTPATH_ROOMS_PER_INSTANCE", "many"),
            ("QUESTPATH_ROOM_LEASE_SECS", "1"),
            ("QUESTPATH_ROOM_HOST_GRACE_SECS", "-1"),
            ("QUESTPATH_ROOM_EMPTY_GRACE_SECS", "7200"),
            ("QUESTPATH_CORS_ORIGINS", "*"),
            ("QUESTPATH_CORS_ORIGINS", "http://localhost:3000/app"),
            ("QUESTPATH_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("QUESTPATH_TRUSTED_PROXIES", "proxy.internal"),
            ("QUESTPATH_RATE_LIMIT_READS", "0"),
            ("QUESTPATH_RATE_LIMIT_WRITES", "many"),
            ("QUESTPATH_RATE_LIMIT_ANONYMOUS", "-5"),
            ("QUESTPATH_RATE_LIMIT_FAILURE", "ajar"),
            ("QUESTPATH_SLOW_REQUEST_MS", "fast"),
            ("QUESTPATH_SLOW_REQUEST_MS", "600001"),
            ("QUESTPATH_SENTRY_DSN", "not a dsn"),
            ("QUESTPATH_WORKER_METRICS_BIND", "9100"),
        ];
        for (name, value) in cases {
            let err = settings(&[(name, value)]).expect_err(name);
            assert_eq!(err.variable, *name, "{err}");
        }
    }

    #[test]
    fn edge_settings_parse() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.cors_origins, vec!["http://localhost:3000".to_string()]);
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(
            s.rate_limits,
            RateLimitSettings {
                reads: 100,
                writes: 20,
                anonymous: 60,
                login: 10,
                register: 5,
                failure: RateLimitFailure::Open,
            }
        );
        let s = settings(&[
            (
                "QUESTPATH_CORS_ORIGINS",
                "https://app.example.org, http://localhost:3000",
            ),
            ("QUESTPATH_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1, ::1"),
            ("QUESTPATH_RATE_LIMIT_FAILURE", "closed"),
        ])
        .unwrap();
        assert_eq!(s.cors_origins.len(), 2);
        assert_eq!(s.trusted_proxies.len(), 3);
        assert!(
            s.trusted_proxies
                .iter()
                .any(|n| n.contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()))
        );
        assert_eq!(s.rate_limits.failure, RateLimitFailure::Closed);
        assert!(
            settings(&[("QUESTPATH_CORS_ORIGINS", "none")])
                .unwrap()
                .cors_origins
                .is_empty()
        );
    }

    #[test]
    fn observability_settings_parse() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.slow_request, Some(Duration::from_secs(1)));
        assert!(s.sentry_dsn.is_none());
        let dsn = "https://public@o1.ingest.example.org/42";
        let s = settings(&[
            ("QUESTPATH_SLOW_REQUEST_MS", "0"),
            ("QUESTPATH_SENTRY_DSN", dsn),
        ])
        .unwrap();
        assert_eq!(s.slow_request, None);
        assert_eq!(s.sentry_dsn.as_ref().map(Secret::expose), Some(dsn));
        assert!(!format!("{s:?}").contains("public@"));
    }

    #[test]
    fn worker_metrics_listen_on_loopback_unless_turned_off() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.worker_metrics_bind,
            Some("127.0.0.1:8081".parse().unwrap())
        );
        let s = settings(&[("QUESTPATH_WORKER_METRICS_BIND", "0.0.0.0:9100")]).unwrap();
        assert_eq!(s.worker_metrics_bind, Some("0.0.0.0:9100".parse().unwrap()));
        let s = settings(&[("QUESTPATH_WORKER_METRICS_BIND", "OFF")]).unwrap();
        assert_eq!(s.worker_metrics_bind, None);
    }

    #[test]
    fn production_requires_a_signing_key() {
        let err = settings(&[("QUESTPATH_ENV", "production")]).unwrap_err();
        assert_eq!(err.variable, "QUESTPATH_JWT_SECRET");
        let key = "k".repeat(32);
        let ok = settings(&[
            ("QUESTPATH_ENV", "production"),
            ("QUESTPATH_JWT_SECRET", &key),
        ]);
        assert!(ok.is_ok());
    }

    #[test]
    fn bad_keyspace_and_replication_are_refused() {
        let nodes = ("QUESTPATH_SCYLLA_NODES", "127.0.0.1:9042");
        let err = settings(&[nodes, ("QUESTPATH_SCYLLA_KEYSPACE", "1bad-name")]).unwrap_err();
        assert_eq!(err.variable, "QUESTPATH_SCYLLA_KEYSPACE");
        let err = settings(&[nodes, ("QUESTPATH_SCYLLA_REPLICATION", "0")]).unwrap_err();
        assert_eq!(err.variable, "QUESTPATH_SCYLLA_REPLICATION");
        let err = settings(&[nodes, ("QUESTPATH_SCYLLA_REPLICATION", "dc1:x")]).unwrap_err();
        assert_eq!(err.variable, "QUESTPATH_SCYLLA_REPLICATION");
    }

    #[test]
    fn log_directives_with_spaces_and_any_characters_parse() {
        // Found by the `config` fuzz target: a directive after ", " holding a multi-byte
        // character made tracing-subscriber slice inside it and panic.
        let s = settings(&[("QUESTPATH_LOG", "info, é=debug ,\t0$*4\u{fffd}=")]);
        assert!(s.is_ok() || s.as_ref().is_err_and(|e| e.variable == "QUESTPATH_LOG"));
        let s = settings(&[("QUESTPATH_LOG", "info, questpath=debug")]).unwrap();
        assert_eq!(s.log_filter, "info,questpath=debug");
    }

    #[test]
    fn replication_renders_cql() {
        assert_eq!(
            Replication::parse("3").unwrap().to_cql(),
            "{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}"
        );
        assert_eq!(
            Replication::parse("simple:1").unwrap().to_cql(),
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        );
        assert_eq!(
            Replication::parse("dc1:3, dc2:2").unwrap().to_cql(),
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let key = "s".repeat(40);
        let s = settings(&[
            ("QUESTPATH_JWT_SECRET", &key),
            ("QUESTPATH_REDIS_URL", "redis://:hunter2@127.0.0.1:6379"),
        ])
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains(&key));
        assert!(!printed.contains("hunter2"));
    }

    #[test]
    fn env_example_lists_every_variable() {
        let example = include_str!("../.env.example");
        for var in VARIABLES {
            let line = format!("{}={}", var.name, var.default);
            assert!(
                example
                    .lines()
                    .any(|l| l.trim_start_matches("# ").trim() == line),
                ".env.example lacks `{line}`"
            );
        }
        for line in example.lines().filter(|l| l.contains("QUESTPATH_")) {
            let name = line
                .trim_start_matches("# ")
                .split('=')
                .next()
                .unwrap()
                .trim();
            if name.starts_with("QUESTPATH_") && !name.contains(' ') {
                assert!(
                    VARIABLES.iter().any(|v| v.name == name),
                    ".env.example names unknown {name}"
                );
            }
        }
    }

    mod properties {
        //! Any value of any variable gives settings or an error that names the variable
        //! (or the one it must agree with), never a panic, and never echoes a secret.

        use proptest::prelude::*;

        use super::*;
        use crate::proptest_strategies::hostile_string;

        /// Sound values that make the server read every variable: a cluster with
        /// credentials, Redis, Google sign-in, an LLM, a signing key.
        fn base() -> HashMap<String, String> {
            let mut map: HashMap<String, String> = VARIABLES
                .iter()
                .map(|v| (v.name.to_string(), v.default.to_string()))
                .collect();
            for (name, value) in [
                ("QUESTPATH_SCYLLA_NODES", "10.0.0.1:9042,scylla-2:9042"),
                ("QUESTPATH_SCYLLA_USERNAME", "questpath"),
                ("QUESTPATH_SCYLLA_PASSWORD", "cql-password"),
                ("QUESTPATH_REDIS_URL", "redis://:hunter2@127.0.0.1:6379/0"),
                ("QUESTPATH_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
                ("QUESTPATH_METRICS_TOKEN", "metrics-token"),
                (
                    "QUESTPATH_GOOGLE_CLIENT_ID",
                    "client.apps.googleusercontent.com",
                ),
                ("QUESTPATH_LLM_BASE_URL", "https://llm.example.org/v1"),
                ("QUESTPATH_LLM_API_KEY", "sk-test"),
                (
                    "QUESTPATH_SENTRY_DSN",
                    "https://public@o1.ingest.example.org/42",
                ),
            ] {
                map.insert(name.into(), value.into());
            }
            map
        }

        fn load(map: &HashMap<String, String>) -> Result<Settings, ConfigError> {
            Settings::from_lookup(|name| map.get(name).cloned())
        }

        /// Variables whose error may name another: the one it must agree with.
        fn partner(name: &str) -> Option<&'static str> {
            match name {
                "QUESTPATH_WS_HEARTBEAT_SECS" => Some("QUESTPATH_WS_TIMEOUT_SECS"),
                "QUESTPATH_SCYLLA_USERNAME" => Some("QUESTPATH_SCYLLA_PASSWORD"),
                "QUESTPATH_ENV" => Some("QUESTPATH_GOOGLE_JWKS_URL"),
                _ => None,
            }
        }

        /// Values near what each variable takes, and anything else.
        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => hostile_string(),
                1 => any::<u64>().prop_map(|n| n.to_string()),
                1 => (0u64..5000).prop_map(|n| n.to_string()),
                1 => any::<i64>().prop_map(|n| n.to_string()),
                1 => "(redis|rediss|https?|ftp)://[a-z:@0-9.\\[\\]%/?=,-]{0,30}",
                1 => "[a-z0-9.:\\[\\]/,-]{0,30}",
                1 => prop::sample::select(&[
                    "true", "off", "none", "json", "pretty", "open", "closed", "production",
                    "simple:0", "dc1:3,dc2", "info,questpath=debug", "[{", "::1", "0.0.0.0:0",
                    ",", " , ", "10.0.0.0/8", "*", "info, é=debug",
                ][..]).prop_map(str::to_string),
            ]
        }

        proptest! {
            #[test]
            fn any_value_of_any_one_variable_is_accepted_or_named(value in value()) {
                for variable in VARIABLES.iter().map(|v| v.name) {
                    let mut map = base();
                    map.insert(variable.to_string(), value.clone());
                    match load(&map) {
                        Ok(settings) => {
                            // What was accepted is usable: a cluster has nodes.
                            if let Some(scylla) = &settings.scylla {
                                prop_assert!(
                                    !scylla.nodes.is_empty(),
                                    "{} = {:?} gave no nodes", variable, value
                                );
                            }
                        }
                        Err(error) => {
                            prop_assert!(
                                error.variable == variable
                                    || Some(error.variable) == partner(variable),
                                "{} = {:?}: {}", variable, value, error
                            );
                            prop_assert!(!error.problem.is_empty());
                        }
                    }
                }
            }

            #[test]
            fn any_values_of_all_variables_are_accepted_or_named(
                values in prop::collection::vec(prop::option::of(value()), VARIABLES.len()),
            ) {
                let map: HashMap<String, String> = VARIABLES
                    .iter()
                    .zip(values)
                    .filter_map(|(v, value)| Some((v.name.to_string(), value?)))
                    .collect();
                if let Err(error) = load(&map) {
                    prop_assert!(VARIABLES.iter().any(|v| v.name == error.variable), "{}", error);
                }
            }

            #[test]
            fn secrets_never_show_in_errors_or_settings(
                secret in "[A-Za-z0-9]{12,24}",
                variable in prop::sample::select(&[
                    "QUESTPATH_JWT_SECRET", "QUESTPATH_METRICS_TOKEN", "QUESTPATH_SCYLLA_PASSWORD",
                    "QUESTPATH_REDIS_URL", "QUESTPATH_LLM_API_KEY", "QUESTPATH_SENTRY_DSN",
                ][..]),
                around in ("[a-z:/@.?#%\\[\\]-]{0,12}", "[a-z:/@.?#%\\[\\]0-9-]{0,12}"),
            ) {
                let (before, after) = around;
                let value = match variable {
                    // The secret where a password or key sits in these URLs.
                    "QUESTPATH_REDIS_URL" => format!("redis://user:{secret}@{before}{after}"),
                    "QUESTPATH_SENTRY_DSN" => format!("https://{secret}@{before}{after}"),
                    _ => format!("{before}{secret}{after}"),
                };
                let mut map = base();
                map.insert(variable.to_string(), value);
                let printed = match load(&map) {
                    Ok(settings) => format!("{settings:?}"),
                    Err(error) => format!("{error} {error:?}"),
                };
                prop_assert!(!printed.contains(&secret), "{}", printed);
            }
        }
    }
}
