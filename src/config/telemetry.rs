//! Observability: log format and filter, who may read metrics and where a worker serves
//! them, the slow-request warning, and error reporting.

use std::net::SocketAddr;
use std::time::Duration;

use super::ConfigError;
use super::Secret;
use super::lookup::{Vars, bad};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

pub(super) fn log_format(vars: &Vars) -> Result<LogFormat, ConfigError> {
    match vars
        .or_default("QUESTPATH_LOG_FORMAT")
        .to_ascii_lowercase()
        .as_str()
    {
        "json" => Ok(LogFormat::Json),
        "pretty" => Ok(LogFormat::Pretty),
        other => Err(bad(
            "QUESTPATH_LOG_FORMAT",
            format!("{other:?} is not a log format (expected json or pretty)"),
        )),
    }
}

pub(super) fn log_filter(vars: &Vars) -> Result<String, ConfigError> {
    // Each directive trimmed: tracing-subscriber 0.3.23 slices a directive with offsets
    // from its trimmed form, so `info, é=debug` panicked instead of parsing.
    let log_filter = vars
        .or_default("QUESTPATH_LOG")
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    match tracing_subscriber::EnvFilter::try_new(&log_filter) {
        Ok(_) => Ok(log_filter),
        Err(e) => Err(bad(
            "QUESTPATH_LOG",
            format!("{log_filter:?} is not a log filter: {e}"),
        )),
    }
}

pub(super) fn metrics_token(vars: &Vars) -> Option<Secret> {
    vars.get("QUESTPATH_METRICS_TOKEN").map(Secret::new)
}

/// Where `questpath worker` serves its metrics; `None` for `off`.
pub(super) fn worker_metrics_bind(vars: &Vars) -> Result<Option<SocketAddr>, ConfigError> {
    let text = vars.or_default("QUESTPATH_WORKER_METRICS_BIND");
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let address = text.parse::<SocketAddr>().map_err(|_| {
        bad(
            "QUESTPATH_WORKER_METRICS_BIND",
            format!(
                "{text:?} is not a socket address (expected host:port, e.g. 127.0.0.1:8081, or off)"
            ),
        )
    })?;
    Ok(Some(address))
}

/// The slow-request threshold; `None` (0) turns the warning off.
pub(super) fn slow_request(vars: &Vars) -> Result<Option<Duration>, ConfigError> {
    let ms: u64 = vars.ranged(
        "QUESTPATH_SLOW_REQUEST_MS",
        0..=600_000,
        "a number of milliseconds (0 to 600000)",
    )?;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// Which successful requests faster than the slow threshold get an access-log line.
/// Errors and slow requests always get theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLogPolicy {
    /// Every request.
    All,
    /// At most this many lines a second (0: none); the rest are counted.
    PerSecond(u32),
}

pub(super) fn access_log(vars: &Vars) -> Result<AccessLogPolicy, ConfigError> {
    let text = vars.or_default("QUESTPATH_ACCESS_LOG");
    match text.trim().to_ascii_lowercase().as_str() {
        "all" => Ok(AccessLogPolicy::All),
        "off" => Ok(AccessLogPolicy::PerSecond(0)),
        number => number
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 1_000_000)
            .map(AccessLogPolicy::PerSecond)
            .ok_or_else(|| {
                bad(
                    "QUESTPATH_ACCESS_LOG",
                    format!("{text:?} is not an access-log policy (expected all, off or lines a second, 0 to 1000000)"),
                )
            }),
    }
}

pub(super) fn sentry_dsn(vars: &Vars) -> Result<Option<Secret>, ConfigError> {
    let Some(dsn) = vars.get("QUESTPATH_SENTRY_DSN") else {
        return Ok(None);
    };
    match dsn.parse::<sentry::types::Dsn>() {
        Ok(_) => Ok(Some(Secret::new(dsn))),
        // The parser's message may quote the DSN, which holds a key: not repeated.
        Err(_) => Err(bad(
            "QUESTPATH_SENTRY_DSN",
            "is not a Sentry DSN (expected https://<key>@<host>/<project id>)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::Secret;
    use crate::config::tests::settings;

    #[test]
    fn the_access_log_takes_all_off_or_a_rate() {
        use crate::config::telemetry::AccessLogPolicy;
        let policy = |v: &str| settings(&[("QUESTPATH_ACCESS_LOG", v)]).map(|s| s.access_log);
        assert_eq!(
            settings(&[]).unwrap().access_log,
            AccessLogPolicy::PerSecond(100)
        );
        assert_eq!(policy("ALL").unwrap(), AccessLogPolicy::All);
        assert_eq!(policy("off").unwrap(), AccessLogPolicy::PerSecond(0));
        assert_eq!(policy(" 250 ").unwrap(), AccessLogPolicy::PerSecond(250));
        for wrong in ["some", "-1", "1000001", "1.5"] {
            let error = policy(wrong).unwrap_err().to_string();
            assert!(error.contains("QUESTPATH_ACCESS_LOG"), "{wrong}: {error}");
        }
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
    fn log_directives_with_spaces_and_any_characters_parse() {
        // Found by the `config` fuzz target: a directive after ", " holding a multi-byte
        // character made tracing-subscriber slice inside it and panic.
        let s = settings(&[("QUESTPATH_LOG", "info, é=debug ,\t0$*4\u{fffd}=")]);
        assert!(s.is_ok() || s.as_ref().is_err_and(|e| e.variable == "QUESTPATH_LOG"));
        let s = settings(&[("QUESTPATH_LOG", "info, questpath=debug")]).unwrap();
        assert_eq!(s.log_filter, "info,questpath=debug");
    }
}
