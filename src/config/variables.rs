//! The list of every variable the server reads, with its default and meaning: the
//! source of the defaults in [`super::lookup`] and of `.env.example` (a test in
//! `config` keeps the two equal).

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
        doc: "redis://host:port/db (rediss:// for TLS), or a Redis Cluster: redis-cluster://host:port?node=host:port&node=host:port (rediss-cluster:// for TLS); empty means in-process leaderboard, cache, rate limits, bus and job queue",
    },
    Variable {
        name: "QUESTPATH_REDIS_PREFIX",
        default: "qp:",
        doc: "prefix of every Redis key and channel, so several deployments can share one Redis; no spaces or braces (braces would make it every key's cluster hash tag)",
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
        name: "QUESTPATH_STREAK_CHECK_SECS",
        default: "60",
        doc: "seconds (1 to 3600) between passes of the streak-at-risk check (one instance at a time, under a lease)",
    },
    Variable {
        name: "QUESTPATH_LEAGUE_CHECK_SECS",
        default: "30",
        doc: "seconds (1 to 3600) between passes that rebuild lost league boards and decide ended league weeks (one instance at a time, under a lease)",
    },
    Variable {
        name: "QUESTPATH_XP_PENDING_STALE_SECS",
        default: "3600",
        doc: "seconds (60 to 604800) a pending XP mark may stay without its ledger entry before recovery drops it with a warning (questpath_xp_pending_dropped_total)",
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
        doc: "comma-separated origins (scheme://host[:port]) whose pages may call the API with credentials; none allows no cross-origin calls; in production, unset means none",
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
        name: "QUESTPATH_QUIZ_LEASE_SECS",
        default: "10",
        doc: "life of a solo quiz's owner lease without a renewal: another instance of the learner takes a dead instance's quiz over within it",
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
        name: "QUESTPATH_ACCESS_LOG",
        default: "100",
        doc: "access-log lines a second for successful requests faster than QUESTPATH_SLOW_REQUEST_MS (all, off or a number; the rest are counted in one line a second); errors (4xx, 5xx) and slow requests are always logged",
    },
    Variable {
        name: "QUESTPATH_PUBLIC_URL",
        default: "",
        doc: "base URL of the web app (https://host[/path]) that links in emails open; empty means http://QUESTPATH_BIND",
    },
    Variable {
        name: "QUESTPATH_SMTP_HOST",
        default: "",
        doc: "SMTP server that sends email; empty writes each mail to <data>/outbox/*.eml and logs it",
    },
    Variable {
        name: "QUESTPATH_SMTP_PORT",
        default: "",
        doc: "SMTP port; empty means 587 for starttls, 465 for tls, 25 for none",
    },
    Variable {
        name: "QUESTPATH_SMTP_TLS",
        default: "starttls",
        doc: "none (plain text: a local relay only), starttls (required) or tls (implicit TLS); certificates are checked against the system's roots",
    },
    Variable {
        name: "QUESTPATH_SMTP_USERNAME",
        default: "",
        doc: "SMTP user name, when the server requires authentication (with QUESTPATH_SMTP_PASSWORD)",
    },
    Variable {
        name: "QUESTPATH_SMTP_PASSWORD",
        default: "",
        doc: "SMTP password, when the server requires authentication",
    },
    Variable {
        name: "QUESTPATH_SMTP_TIMEOUT_SECS",
        default: "10",
        doc: "seconds (1 to 300) connecting to the SMTP server and each of its commands may take; a timeout is retried",
    },
    Variable {
        name: "QUESTPATH_MAIL_FROM",
        default: "QuestPath <noreply@questpath.invalid>",
        doc: "From: mailbox of every email (Name <address>); its domain also ends the Message-IDs",
    },
    Variable {
        name: "QUESTPATH_EMAIL_WORKERS",
        default: "1",
        doc: "email workers inside `serve` (0 to 16; 0 leaves the email queue to another instance)",
    },
    Variable {
        name: "QUESTPATH_EMAIL_RETRY_SECS",
        default: "30",
        doc: "seconds before a failed mail is tried again, doubled per attempt (at most an hour); after the job queue's attempts it is dead-lettered",
    },
    Variable {
        name: "QUESTPATH_SENTRY_DSN",
        default: "",
        doc: "Sentry DSN (https://key@host/project): errors and panics are reported there; empty sends nothing anywhere",
    },
];

/// The documented default of `name` (empty for an unknown name).
pub(super) fn default_of(name: &str) -> &'static str {
    VARIABLES
        .iter()
        .find(|v| v.name == name)
        .map(|v| v.default)
        .unwrap_or("")
}
