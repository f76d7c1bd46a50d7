//! Configuration, read once at start-up from the environment and an optional `.env`.
//!
//! Every variable is listed in [`VARIABLES`] with its default and meaning; `.env.example`
//! is checked against that list by a test, so the two cannot drift apart. A bad value is a
//! [`ConfigError`] that names the variable; `main` prints it on one line and exits with 2.
//!
//! # Layout
//!
//! - `variables`: the documented list of variables and their defaults.
//! - `lookup`: reading one variable (blank as unset, defaults) and typed parsing.
//! - `secret`: [`Secret`], a value that never prints.
//! - one file per section, each reading its variables: `server` (address, workers,
//!   origins, proxies), `telemetry` (logs, metrics, errors), `store` (ScyllaDB, Redis),
//!   `auth` (keys, tokens, Google), `limits` (HTTP rate limits), `generation` (the LLM),
//!   `realtime` (websocket, quiz and room timings).

mod auth;
mod generation;
mod limits;
mod lookup;
mod mail;
mod realtime;
mod secret;
mod server;
mod store;
mod telemetry;
mod variables;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use auth::GoogleSettings;
pub use generation::LlmSettings;
pub use limits::{RateLimitFailure, RateLimitSettings};
pub use mail::{EmailSettings, SmtpSettings, SmtpTls};
pub use realtime::RealtimeSettings;
pub use secret::Secret;
pub use server::Environment;
pub use store::{RedisSettings, Replication, ScyllaSettings, is_cql_identifier};
pub use telemetry::{AccessLogPolicy, LogFormat};
pub use variables::{VARIABLES, Variable};

use lookup::Vars;

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
    /// Time between passes of the streak-at-risk check.
    pub streak_check_every: Duration,
    /// Time between passes that rebuild lost league boards and decide ended weeks.
    pub league_check_every: Duration,
    /// How long a pending XP mark may stay without its ledger entry before recovery
    /// drops it.
    pub xp_pending_stale_after: Duration,
    /// How long the legacy goal creation waits for its roadmap.
    pub legacy_goal_wait: Duration,
    /// Websocket and quiz timings and limits (defaults; tests shorten them).
    pub realtime: RealtimeSettings,
    /// Multiplayer room limits and timings.
    pub rooms: realtime::RoomSettings,
    /// Browser origins allowed to call the API with credentials (exact `scheme://host[:port]`).
    pub cors_origins: Vec<String>,
    /// Networks of reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub rate_limits: RateLimitSettings,
    /// Requests slower than this are logged as a warning; `None` turns that off.
    pub slow_request: Option<Duration>,
    /// Which successful, fast requests get an access-log line.
    pub access_log: telemetry::AccessLogPolicy,
    /// Where errors and panics are reported; `None` (the default) reports nothing.
    pub sentry_dsn: Option<Secret>,
    /// Email: SMTP or the outbox, the sender, links, workers.
    pub email: EmailSettings,
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
    ///
    /// The fields are read in the order written here, which decides the variable named
    /// when several are wrong: keep it when adding one.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars::new(&lookup);
        let environment = server::environment(&vars)?;
        let bind = server::bind(&vars)?;
        let data_dir = server::data_dir(&vars);
        Ok(Settings {
            environment,
            bind,
            workers: server::workers(&vars)?,
            shutdown_timeout: server::shutdown_timeout(&vars)?,
            log_format: telemetry::log_format(&vars)?,
            log_filter: telemetry::log_filter(&vars)?,
            scylla: store::scylla(&vars)?,
            redis: store::redis(&vars)?,
            jwt_secret: auth::jwt_secret(&vars, environment)?,
            metrics_token: telemetry::metrics_token(&vars),
            worker_metrics_bind: telemetry::worker_metrics_bind(&vars)?,
            llm: generation::llm(&vars)?,
            generation_workers: generation::generation_workers(&vars)?,
            legacy_goal_wait: generation::legacy_goal_wait(&vars)?,
            cookie_secure: auth::cookie_secure(&vars, environment)?,
            google: auth::google(&vars, environment)?,
            legacy_oauth_login: auth::legacy_oauth_login(&vars)?,
            cors_origins: server::cors_origins(&vars, environment)?,
            trusted_proxies: server::trusted_proxies(&vars)?,
            rate_limits: limits::rate_limits(&vars)?,
            access_token_ttl: auth::access_token_ttl(&vars)?,
            refresh_grace: auth::refresh_grace(&vars)?,
            streak_check_every: vars.seconds("QUESTPATH_STREAK_CHECK_SECS", 1..=3600)?,
            league_check_every: vars.seconds("QUESTPATH_LEAGUE_CHECK_SECS", 1..=3600)?,
            xp_pending_stale_after: vars
                .seconds("QUESTPATH_XP_PENDING_STALE_SECS", 60..=604_800)?,
            realtime: realtime::realtime(&vars)?,
            rooms: realtime::rooms(&vars)?,
            slow_request: telemetry::slow_request(&vars)?,
            access_log: telemetry::access_log(&vars)?,
            sentry_dsn: telemetry::sentry_dsn(&vars)?,
            email: mail::email(&vars, bind, &data_dir)?,
            data_dir,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Settings from exactly these variables (the rest unset).
    pub(super) fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
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
            ("QUESTPATH_SMTP_TLS", "ssl"),
            ("QUESTPATH_SMTP_PORT", "0"),
            ("QUESTPATH_SMTP_HOST", "smtp://mail.example.org"),
            ("QUESTPATH_SMTP_TIMEOUT_SECS", "0"),
            ("QUESTPATH_SMTP_USERNAME", "only-a-user"),
            ("QUESTPATH_MAIL_FROM", "not a mailbox"),
            ("QUESTPATH_PUBLIC_URL", "example.org"),
            ("QUESTPATH_EMAIL_WORKERS", "many"),
            ("QUESTPATH_EMAIL_RETRY_SECS", "-1"),
        ];
        for (name, value) in cases {
            let err = settings(&[(name, value)]).expect_err(name);
            assert_eq!(err.variable, *name, "{err}");
        }
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
        let example = include_str!("../../.env.example");
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
                ("QUESTPATH_SMTP_HOST", "smtp.example.org"),
                ("QUESTPATH_SMTP_USERNAME", "questpath"),
                ("QUESTPATH_SMTP_PASSWORD", "smtp-password"),
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
                "QUESTPATH_SMTP_USERNAME" => Some("QUESTPATH_SMTP_PASSWORD"),
                "QUESTPATH_SMTP_PASSWORD" => Some("QUESTPATH_SMTP_USERNAME"),
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
                    "QUESTPATH_SMTP_PASSWORD",
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
