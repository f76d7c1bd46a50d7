//! The general HTTP rate limits and what to do when the limiter cannot answer.

use super::ConfigError;
use super::lookup::{Vars, bad};

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

pub(super) fn rate_limits(vars: &Vars) -> Result<RateLimitSettings, ConfigError> {
    let failure_text = vars.or_default("QUESTPATH_RATE_LIMIT_FAILURE");
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
    let per_minute = |name: &'static str| {
        vars.ranged(
            name,
            1..=1_000_000,
            "a number of requests per minute (1 to 1000000)",
        )
    };
    Ok(RateLimitSettings {
        reads: per_minute("QUESTPATH_RATE_LIMIT_READS")?,
        writes: per_minute("QUESTPATH_RATE_LIMIT_WRITES")?,
        anonymous: per_minute("QUESTPATH_RATE_LIMIT_ANONYMOUS")?,
        login: per_minute("QUESTPATH_RATE_LIMIT_LOGIN")?,
        register: per_minute("QUESTPATH_RATE_LIMIT_REGISTER")?,
        failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::settings;

    #[test]
    fn limits_default_and_the_failure_policy_parses() {
        assert_eq!(
            settings(&[]).unwrap().rate_limits,
            RateLimitSettings {
                reads: 100,
                writes: 20,
                anonymous: 60,
                login: 10,
                register: 5,
                failure: RateLimitFailure::Open,
            }
        );
        let s = settings(&[("QUESTPATH_RATE_LIMIT_FAILURE", "closed")]).unwrap();
        assert_eq!(s.rate_limits.failure, RateLimitFailure::Closed);
    }
}
