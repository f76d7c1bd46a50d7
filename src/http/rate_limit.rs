//! Request rate limits, on the API scopes (v1 and legacy; `/health`, `/ready` and
//! `/metrics` are outside them and never limited).
//!
//! Every request is counted against one general limit: per signed-in user, reads
//! (`GET`, `HEAD`, `OPTIONS`) and writes (everything else) separately
//! (`QUESTPATH_RATE_LIMIT_READS` / `_WRITES` per minute); without a valid bearer token,
//! per client IP (`QUESTPATH_RATE_LIMIT_ANONYMOUS`). The user is read from the access
//! token's signature alone (no store read), so a limit costs one limiter call. A few
//! expensive or abusable routes also count against a stricter [`Named`] limit.
//!
//! Answers carry `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and
//! `RateLimit-Policy` of the limit closest to exhaustion; a refusal is a 429
//! [`ApiError`] with `Retry-After`, so the legacy scopes' `legacy_detail` (outside this
//! middleware) gives it the old shape. The limiter is the shared [`RateLimiter`] port:
//! with Redis, every instance draws on the same quota.
//!
//! When the limiter cannot answer (Redis down or slow), `QUESTPATH_RATE_LIMIT_FAILURE`
//! decides: `open` serves the request without limits (a warning and
//! `rate_limiter_failures_total`), `closed` answers 503.
//!
//! [`RateLimiter`]: crate::ports::RateLimiter

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use uuid::Uuid;

use crate::config::{RateLimitFailure, RateLimitSettings};
use crate::http::error::ApiError;
use crate::state::AppState;
use questpath_actors::ports::{RateDecision, RateLimit};

pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// A limiter call slower than this counts as a failure: a request must not wait for the
/// Redis client's own five-second timeout while Redis is unreachable.
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(500);

/// Whose quota a named limit draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// The client IP: for routes used before there is an account or a session.
    Ip,
    /// The signed-in user (the client IP when the request has no valid token).
    User,
}

/// A stricter limit on one kind of action, on top of the general one.
#[derive(Debug, Clone, Copy)]
pub struct Named {
    /// Metric label and key part.
    pub name: &'static str,
    pub limit: RateLimit,
    pub per: Per,
    /// Whether the request also counts against the general limit (reads or writes).
    pub also_general: bool,
}

/// Account creation: 5 per minute per IP. Enough for a family behind one router, far
/// too few to mass-create accounts.
pub const REGISTER: Named = Named {
    name: "register",
    limit: RateLimit::per_minute(5),
    per: Per::Ip,
    also_general: true,
};

/// Sign-in (password, Google, legacy OAuth): 10 per minute per IP, on top of the
/// per-account lockouts, against password spraying across accounts.
pub const LOGIN: Named = Named {
    name: "login",
    limit: RateLimit::per_minute(10),
    per: Per::Ip,
    also_general: true,
};

/// Goal creation: 10 per hour per user. Each one queues an LLM roadmap generation,
/// the most expensive thing the server does.
pub const GOALS: Named = Named {
    name: "goals",
    limit: RateLimit {
        limit: 10,
        window: Duration::from_secs(3600),
    },
    per: Per::User,
    also_general: true,
};

/// Websocket tickets: 30 per minute per user. A client needs one per connection;
/// more means a reconnect loop. A ticket counts against this limit alone, not the
/// general writes: the socket it opens has limits of its own, a reconnect storm does
/// not use up the writes a learner needs, and a connection costs one limiter call.
pub const TICKETS: Named = Named {
    name: "tickets",
    limit: RateLimit::per_minute(30),
    per: Per::User,
    also_general: false,
};

/// Email links (verification, password reset, resending): 10 per minute per IP, or per
/// user when signed in. Each request may mail someone; reset mails are also limited per
/// address (`crate::auth::email::RESETS_PER_ADDRESS`).
pub const EMAIL: Named = Named {
    name: "email",
    limit: RateLimit::per_minute(10),
    per: Per::User,
    also_general: true,
};

/// `POST` paths with a named limit, in both API versions. Matched on the path, since
/// routing (and so the route template) comes after this middleware.
const NAMED_POSTS: &[(&str, Named)] = &[
    ("/api/v1/auth/register", REGISTER),
    ("/auth/register", REGISTER),
    ("/api/v1/auth/login", LOGIN),
    ("/auth/login", LOGIN),
    ("/api/v1/auth/google", LOGIN),
    ("/auth/oauth-login", LOGIN),
    ("/api/v1/goals", GOALS),
    ("/goals", GOALS),
    ("/api/v1/ws/ticket", TICKETS),
    ("/api/v1/auth/password-reset", EMAIL),
    ("/api/v1/auth/password-reset/confirm", EMAIL),
    ("/api/v1/auth/verify-email", EMAIL),
    ("/api/v1/me/email/verification", EMAIL),
];

/// The named limit of a request, if any.
pub fn named_limit(method: &Method, path: &str) -> Option<Named> {
    if method != Method::POST {
        return None;
    }
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    NAMED_POSTS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, named)| *named)
}

/// One limit a request is checked against.
struct Check {
    name: &'static str,
    key: String,
    limit: RateLimit,
}

/// The limits of one request: the named one first (it is the stricter, so a request it
/// refuses does not also use up general quota), then the general one unless the named
/// limit stands alone ([`Named::also_general`]).
fn checks(
    settings: &RateLimitSettings,
    method: &Method,
    path: &str,
    user: Option<Uuid>,
    ip: &str,
) -> Vec<Check> {
    let mut checks = Vec::with_capacity(2);
    let named = named_limit(method, path);
    if let Some(named) = named {
        let key = match (named.per, user) {
            (Per::User, Some(user)) => format!("{}:user:{user}", named.name),
            _ => format!("{}:ip:{ip}", named.name),
        };
        // Sign-in and registration limits are per address and configurable: many
        // people may share one address (a classroom behind NAT).
        let limit = match named.name {
            "login" => RateLimit::per_minute(settings.login),
            "register" => RateLimit::per_minute(settings.register),
            _ => named.limit,
        };
        checks.push(Check {
            name: named.name,
            key,
            limit,
        });
    }
    if named.is_some_and(|named| !named.also_general) {
        return checks;
    }
    let read = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    checks.push(match (user, read) {
        (Some(user), true) => Check {
            name: "reads",
            key: format!("reads:user:{user}"),
            limit: RateLimit::per_minute(settings.reads),
        },
        (Some(user), false) => Check {
            name: "writes",
            key: format!("writes:user:{user}"),
            limit: RateLimit::per_minute(settings.writes),
        },
        (None, _) => anonymous(settings, ip),
    });
    checks
}

/// The general limit of a request without a valid token: its client address's.
fn anonymous(settings: &RateLimitSettings, ip: &str) -> Check {
    Check {
        name: "anonymous",
        key: format!("anonymous:ip:{ip}"),
        limit: RateLimit::per_minute(settings.anonymous),
    }
}

/// Asks the limiter about one check, within [`CHECK_TIMEOUT`]; the error is why it
/// could not answer.
async fn ask(state: &AppState, check: &Check) -> Result<RateDecision, String> {
    let limiter = &state.backends.rate_limiter;
    match tokio::time::timeout(CHECK_TIMEOUT, limiter.check(&check.key, check.limit)).await {
        Ok(Ok(decision)) => Ok(decision),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
    }
}

/// The user of a valid access token, checked by signature and expiry only.
fn token_user(req: &ServiceRequest, state: &AppState) -> Option<Uuid> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    state
        .auth
        .keys()
        .verify_access(token.trim())
        .ok()
        .map(|(user, _)| user)
}

/// The middleware; see the module docs. Without the app state (the route probe behind
/// 405 answers) requests pass unlimited.
pub async fn limit<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    if is_upgrade(req.method(), req.match_info().as_str()) {
        return charge_refused_upgrade(req, next, &state).await;
    }
    let user = token_user(&req, &state);
    let ip = crate::http::client_ip(req.request());
    // The path the router matches: percent-escapes decoded (`/auth/logi%6E` is the
    // sign-in route), so an escaped spelling cannot step around a named limit.
    let checks = checks(
        &state.settings.rate_limits,
        req.method(),
        req.match_info().as_str(),
        user,
        &ip,
    );

    // The decision shown in the headers: the one with the least quota left.
    let mut shown: Option<(RateDecision, RateLimit)> = None;
    for check in checks {
        let decision = match ask(&state, &check).await {
            Ok(decision) => decision,
            Err(cause) => return limiter_failed(req, next, &state, &cause).await,
        };
        if !decision.allowed {
            state.metrics.rate_limited(check.name);
            let mut res = too_many(&decision);
            add_headers(res.headers_mut(), &decision, check.limit);
            return Ok(req.into_response(res).map_into_right_body());
        }
        let tighter = shown.is_none_or(|(best, _)| {
            (decision.remaining, decision.limit) < (best.remaining, best.limit)
        });
        if tighter {
            shown = Some((decision, check.limit));
        }
    }

    match next.call(req).await {
        Ok(mut res) => {
            if let Some((decision, limit)) = shown {
                add_headers(res.headers_mut(), &decision, limit);
            }
            Ok(res.map_into_left_body())
        }
        Err(mut err) => {
            if let Some((decision, limit)) = shown {
                err.add_response_mapper(move |mut res| {
                    add_headers(res.headers_mut(), &decision, limit);
                    res
                });
            }
            Err(err)
        }
    }
}

/// The websocket upgrade (`GET /api/v1/ws`).
fn is_upgrade(method: &Method, path: &str) -> bool {
    method == Method::GET && path == "/api/v1/ws"
}

/// An upgrade carries a ticket, already counted against its learner's ticket limit (or
/// a guest's room join) when issued: one that is redeemed costs no limiter call, and a
/// classroom behind one address opens all its sockets. An upgrade refused for its
/// ticket (none, forged, used) counts against the address's anonymous limit, checked
/// after the handler, and past it the refusal is a 429.
async fn charge_refused_upgrade<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    state: &AppState,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, Error> {
    let ip = crate::http::client_ip(req.request());
    let res = next.call(req).await?;
    if res.status() != actix_web::http::StatusCode::UNAUTHORIZED {
        return Ok(res.map_into_left_body());
    }
    let check = anonymous(&state.settings.rate_limits, &ip);
    let decision = match ask(state, &check).await {
        Ok(decision) => decision,
        Err(cause) => return Ok(refused_upgrade_unchecked(res, state, &cause)),
    };
    if decision.allowed {
        let mut res = res;
        add_headers(res.headers_mut(), &decision, check.limit);
        return Ok(res.map_into_left_body());
    }
    state.metrics.rate_limited(check.name);
    let mut refusal = too_many(&decision);
    add_headers(refusal.headers_mut(), &decision, check.limit);
    Ok(res.into_response(refusal).map_into_right_body())
}

/// A refused upgrade whose count the limiter could not take: refused either way, so the
/// failure policy changes nothing but the log and the metric.
fn refused_upgrade_unchecked<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
    state: &AppState,
    cause: &str,
) -> ServiceResponse<EitherBody<B, BoxBody>> {
    state.metrics.rate_limiter_failed();
    warn_now_and_then(cause, state.settings.rate_limits.failure);
    res.map_into_left_body()
}

/// The 429 of a refused request.
fn too_many(decision: &RateDecision) -> actix_web::HttpResponse {
    let retry_after = decision.retry_after.unwrap_or(decision.reset_after);
    ApiError::too_many(
        "rate_limited",
        format!(
            "Too many requests. Try again in {} seconds.",
            ceil_secs(retry_after).max(1)
        ),
        ceil_secs(retry_after),
    )
    .error_response()
}

/// The failure policy, when the limiter could not answer.
async fn limiter_failed<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    state: &AppState,
    cause: &str,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, Error> {
    state.metrics.rate_limiter_failed();
    let policy = state.settings.rate_limits.failure;
    warn_now_and_then(cause, policy);
    match policy {
        RateLimitFailure::Open => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        RateLimitFailure::Closed => {
            // Not `ApiError::unavailable`, which logs an error per request: during an
            // outage that would be every request.
            let error = ApiError::unavailable_quietly();
            Ok(req
                .into_response(error.error_response())
                .map_into_right_body())
        }
    }
}

/// Seconds since the epoch of the last limiter-failure log line.
static LAST_WARNING: AtomicU64 = AtomicU64::new(0);

/// One warning per ten seconds at most: during an outage every request fails the
/// check, and the metric already counts each one.
fn warn_now_and_then(cause: &str, policy: RateLimitFailure) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let last = LAST_WARNING.load(Ordering::Relaxed);
    if now >= last.saturating_add(10)
        && LAST_WARNING
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        match policy {
            RateLimitFailure::Open => tracing::warn!(
                error = %cause,
                "rate limiter unavailable; serving requests without limits (QUESTPATH_RATE_LIMIT_FAILURE=open)"
            ),
            RateLimitFailure::Closed => tracing::error!(
                error = %cause,
                "rate limiter unavailable; refusing requests with 503 (QUESTPATH_RATE_LIMIT_FAILURE=closed)"
            ),
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `RateLimit-*` headers of a decision (draft-ietf-httpapi-ratelimit-headers).
fn add_headers(headers: &mut HeaderMap, decision: &RateDecision, limit: RateLimit) {
    let pairs = [
        (RATELIMIT_LIMIT, decision.limit.to_string()),
        (RATELIMIT_REMAINING, decision.remaining.to_string()),
        (RATELIMIT_RESET, ceil_secs(decision.reset_after).to_string()),
        (
            RATELIMIT_POLICY,
            format!("{};w={}", limit.limit, limit.window.as_secs()),
        ),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateLimitFailure;

    const SETTINGS: RateLimitSettings = RateLimitSettings {
        reads: 100,
        writes: 20,
        anonymous: 60,
        login: 10,
        register: 5,
        failure: RateLimitFailure::Open,
    };

    #[test]
    fn named_limits_match_posts_to_their_paths_only() {
        assert_eq!(
            named_limit(&Method::POST, "/api/v1/auth/login").map(|n| n.name),
            Some("login")
        );
        assert_eq!(
            named_limit(&Method::POST, "/goals").map(|n| n.name),
            Some("goals")
        );
        assert_eq!(
            named_limit(&Method::POST, "/goals/").map(|n| n.name),
            Some("goals")
        );
        assert!(named_limit(&Method::GET, "/api/v1/goals").is_none());
        assert!(named_limit(&Method::POST, "/api/v1/goals/abc").is_none());
    }

    #[test]
    fn users_get_read_and_write_quotas_and_others_one_per_ip() {
        let user = Uuid::now_v7();
        let read = checks(&SETTINGS, &Method::GET, "/api/v1/me", Some(user), "1.2.3.4");
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].name, "reads");
        assert_eq!(read[0].limit.limit, 100);
        let write = checks(
            &SETTINGS,
            &Method::PATCH,
            "/api/v1/me",
            Some(user),
            "1.2.3.4",
        );
        assert_eq!(write[0].name, "writes");
        let goal = checks(
            &SETTINGS,
            &Method::POST,
            "/api/v1/goals",
            Some(user),
            "1.2.3.4",
        );
        assert_eq!(
            goal.iter().map(|c| c.name).collect::<Vec<_>>(),
            ["goals", "writes"]
        );
        assert!(goal[0].key.contains(&user.to_string()));
        let login = checks(&SETTINGS, &Method::POST, "/auth/login", None, "1.2.3.4");
        assert_eq!(
            login.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(),
            ["login:ip:1.2.3.4", "anonymous:ip:1.2.3.4"]
        );
        // A ticket counts against the ticket limit alone.
        let ticket = checks(
            &SETTINGS,
            &Method::POST,
            "/api/v1/ws/ticket",
            Some(user),
            "1.2.3.4",
        );
        assert_eq!(
            ticket.iter().map(|c| c.key.clone()).collect::<Vec<_>>(),
            [format!("tickets:user:{user}")]
        );
    }

    #[test]
    fn only_the_websocket_upgrade_is_charged_after_its_handler() {
        assert!(is_upgrade(&Method::GET, "/api/v1/ws"));
        assert!(!is_upgrade(&Method::POST, "/api/v1/ws"));
        assert!(!is_upgrade(&Method::GET, "/api/v1/ws/ticket"));
        assert!(!is_upgrade(&Method::GET, "/ws"));
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(60)), 60);
        assert_eq!(ceil_secs(Duration::ZERO), 0);
    }
}
