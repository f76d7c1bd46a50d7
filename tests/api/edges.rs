//! The API's edges: rate limits (per user, per IP, named, across instances, when the
//! limiter fails), CORS, security headers, versioning headers, and the 4xx answers of
//! requests no route takes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use questpath::adapters::embedded::EmbeddedStore;
use questpath::adapters::redis::Redis;
use questpath::ports::{PortError, PortResult, RateDecision, RateLimit, RateLimiter};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use questpath_test_support::{
    TestApp, TestUser, redis_settings, redis_url, spawn_app, spawn_app_with,
};

const FRONTEND: &str = "http://localhost:3000";

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn number(response: &Response, name: &str) -> u64 {
    header(response, name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

/// Asserts a problem+json body with `code`, and returns it.
async fn problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        header(&response, "content-type"),
        Some("application/problem+json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    body
}

/// A signed-in user's access token.
async fn signed_in(app: &TestApp) -> String {
    app.register(&TestUser::generate()).await.access
}

async fn assert_rate_limited(response: Response, limit: u64) -> Value {
    assert_eq!(response.status(), 429);
    assert_eq!(number(&response, "ratelimit-limit"), limit);
    assert_eq!(number(&response, "ratelimit-remaining"), 0);
    let retry_after = number(&response, "retry-after");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert!(number(&response, "ratelimit-reset") >= retry_after);
    problem(response, 429, "rate_limited").await
}

#[actix_web::test]
async fn the_read_after_the_last_allowed_one_gets_429_with_its_headers() {
    let app = spawn_app_with(&[("QUESTPATH_RATE_LIMIT_READS", "5")], |b| b).await;
    let token = signed_in(&app).await;

    for n in 1..=5u64 {
        let response = app.get_bearer("/api/v1/me", &token).await;
        assert_eq!(response.status(), 200, "read {n}");
        assert_eq!(number(&response, "ratelimit-limit"), 5);
        assert_eq!(number(&response, "ratelimit-remaining"), 5 - n);
        assert!((1..=60).contains(&number(&response, "ratelimit-reset")));
        assert_eq!(header(&response, "ratelimit-policy"), Some("5;w=60"));
        assert!(header(&response, "retry-after").is_none());
    }
    let refused = app.get_bearer("/api/v1/me", &token).await;
    // 5 per minute: one more is allowed every 12 seconds.
    assert!(number(&refused, "retry-after") <= 12);
    assert_rate_limited(refused, 5).await;

    // Writes have their own quota.
    let write = app
        .call(Method::PATCH, "/api/v1/me", &token, Some(&json!({})))
        .await;
    assert_eq!(write.status(), 200);
}

#[actix_web::test]
async fn the_write_after_the_last_allowed_one_gets_429_and_reads_go_on() {
    let app = spawn_app_with(&[("QUESTPATH_RATE_LIMIT_WRITES", "3")], |b| b).await;
    let token = signed_in(&app).await;
    let body = json!({"display_name": "Ada"});

    for n in 1..=3u64 {
        let response = app
            .call(Method::PATCH, "/api/v1/me", &token, Some(&body))
            .await;
        assert_eq!(response.status(), 200, "write {n}");
        assert_eq!(number(&response, "ratelimit-remaining"), 3 - n);
    }
    let refused = app
        .call(Method::PATCH, "/api/v1/me", &token, Some(&body))
        .await;
    assert_rate_limited(refused, 3).await;
    assert_eq!(app.get_bearer("/api/v1/me", &token).await.status(), 200);
}

#[actix_web::test]
async fn at_the_default_numbers_the_100th_read_passes_and_the_101st_is_refused() {
    let app = spawn_app().await;
    let token = signed_in(&app).await;
    let started = Instant::now();

    // Concurrently, so the hundred fit well within the 0.6 s in which GCRA at
    // 100/minute gives back one request.
    let reads = (0..100).map(|_| app.get_bearer("/api/v1/me", &token));
    let responses = futures_util::future::join_all(reads).await;
    let refused = app.get_bearer("/api/v1/me", &token).await;
    let elapsed = started.elapsed();

    assert!(responses.iter().all(|r| r.status() == 200));
    assert!(
        elapsed < Duration::from_millis(600),
        "too slow to test the 101st exactly: {elapsed:?}"
    );
    let mut remaining: Vec<u64> = responses
        .iter()
        .map(|r| number(r, "ratelimit-remaining"))
        .collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..100).collect::<Vec<_>>());
    assert_rate_limited(refused, 100).await;
}

#[actix_web::test]
async fn requests_without_a_valid_token_are_limited_per_ip() {
    let app = spawn_app_with(&[("QUESTPATH_RATE_LIMIT_ANONYMOUS", "3")], |b| b).await;
    // Registering is the first anonymous request.
    let token = signed_in(&app).await;

    let first = app.get("/api/v1/me").await;
    assert_eq!(first.status(), 401);
    assert_eq!(number(&first, "ratelimit-limit"), 3);
    assert_eq!(number(&first, "ratelimit-remaining"), 1);
    // A token that does not verify is no token.
    let forged = app.get_bearer("/api/v1/me", "not.a.token").await;
    assert_eq!(forged.status(), 401);
    assert_eq!(number(&forged, "ratelimit-remaining"), 0);
    assert_rate_limited(app.get("/api/v1/me").await, 3).await;

    // The signed-in user draws on their own quota, from the same address.
    let own = app.get_bearer("/api/v1/me", &token).await;
    assert_eq!(own.status(), 200);
    assert_eq!(number(&own, "ratelimit-limit"), 100);
}

#[actix_web::test]
async fn operational_endpoints_are_not_limited() {
    let app = spawn_app_with(&[("QUESTPATH_RATE_LIMIT_ANONYMOUS", "1")], |b| b).await;
    for path in [
        "/health", "/health", "/ready", "/ready", "/metrics", "/metrics",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(header(&response, "ratelimit-limit").is_none(), "{path}");
    }
}

#[actix_web::test]
async fn sign_in_has_a_stricter_limit_shared_by_both_api_versions() {
    let app = spawn_app_with(&[("QUESTPATH_RATE_LIMIT_LOGIN", "10")], |b| b).await;
    // Distinct unknown emails: no per-account lockout or delay gets involved.
    for n in 0..9 {
        let response = app
            .login_raw(&format!("nobody-{n}@example.org"), "wrong password")
            .await;
        assert_eq!(response.status(), 401, "attempt {n}");
        assert_eq!(number(&response, "ratelimit-limit"), 10);
        assert_eq!(number(&response, "ratelimit-remaining"), 9 - n);
    }
    let tenth = app
        .client
        .post(app.url("/auth/login"))
        .form(&[("username", "nobody-9@example.org"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(tenth.status(), 401);
    assert_eq!(number(&tenth, "ratelimit-remaining"), 0);

    let eleventh = app
        .login_raw("nobody-10@example.org", "wrong password")
        .await;
    assert_rate_limited(eleventh, 10).await;
    // The general anonymous quota (60) is far from used up.
    let other = app.get("/api/v1/me").await;
    assert_eq!(other.status(), 401);
    assert_eq!(number(&other, "ratelimit-limit"), 60);
}

#[actix_web::test]
async fn an_escaped_spelling_of_a_limited_path_counts_against_the_same_limit() {
    let app = spawn_app_with(&[("QUESTPATH_RATE_LIMIT_LOGIN", "2")], |b| b).await;
    // The router decodes percent-escapes, so each of these is the sign-in route.
    for (n, path) in ["/api/v1/auth/login", "/api/v1/auth/logi%6E"]
        .iter()
        .enumerate()
    {
        let response = app
            .client
            .post(app.url(path))
            .json(
                &json!({"email": format!("nobody-{n}@example.org"), "password": "wrong password"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(number(&response, "ratelimit-limit"), 2, "{path}");
    }
    let third = app
        .client
        .post(app.url("/api/v1/auth/%6Cogin"))
        .json(&json!({"email": "nobody-2@example.org", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_rate_limited(third, 2).await;
}

#[actix_web::test]
async fn legacy_routes_answer_429_in_their_own_shape() {
    let app = spawn_app_with(&[("QUESTPATH_RATE_LIMIT_ANONYMOUS", "2")], |b| b).await;
    for _ in 0..2 {
        assert_eq!(app.get("/auth/me").await.status(), 401);
    }

    let refused = app.get("/auth/me").await;

    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "content-type"), Some("application/json"));
    assert!(number(&refused, "retry-after") >= 1);
    assert_eq!(number(&refused, "ratelimit-limit"), 2);
    assert_eq!(header(&refused, "deprecation"), Some("true"));
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Too many requests")
    );
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
}

#[actix_web::test]
async fn two_instances_sharing_redis_share_one_limit() {
    let prefix = format!("edges_{}:", uuid::Uuid::new_v4().simple());
    let url = redis_url();
    let secret = "s".repeat(40);
    let settings: &[(&str, &str)] = &[
        ("QUESTPATH_REDIS_URL", &url),
        ("QUESTPATH_REDIS_PREFIX", &prefix),
        ("QUESTPATH_JWT_SECRET", &secret),
        ("QUESTPATH_RATE_LIMIT_READS", "4"),
    ];
    // One account store for both, so a token of one is a user of the other.
    let store_dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(store_dir.path()).await.unwrap());
    let mut connections = Vec::new();
    let mut apps = Vec::new();
    for _ in 0..2 {
        let redis = Redis::connect(&redis_settings(&prefix)).await.unwrap();
        let limiter = Arc::new(redis.rate_limiter());
        let store = store.clone();
        apps.push(
            spawn_app_with(settings, move |mut b| {
                b.store = store;
                b.rate_limiter = limiter;
                b
            })
            .await,
        );
        connections.push(redis);
    }
    let token = signed_in(&apps[0]).await;

    for n in 0..4u64 {
        let response = apps[(n % 2) as usize]
            .get_bearer("/api/v1/me", &token)
            .await;
        assert_eq!(response.status(), 200, "read {n}");
        assert_eq!(number(&response, "ratelimit-remaining"), 3 - n);
    }
    // Each instance alone has seen two reads of four, yet both refuse.
    assert_rate_limited(apps[0].get_bearer("/api/v1/me", &token).await, 4).await;
    assert_rate_limited(apps[1].get_bearer("/api/v1/me", &token).await, 4).await;

    for redis in connections {
        redis.shutdown().await;
    }
}

/// A rate limiter whose backend is down.
struct Failing;

#[async_trait]
impl RateLimiter for Failing {
    fn backend(&self) -> &'static str {
        "failing"
    }

    async fn ping(&self) -> PortResult<()> {
        Err(PortError::new("failing", "ping", "connection refused"))
    }

    async fn check(&self, _key: &str, _limit: RateLimit) -> PortResult<RateDecision> {
        Err(PortError::new("failing", "check", "connection refused"))
    }
}

#[actix_web::test]
async fn fail_open_serves_requests_and_counts_the_failures() {
    let app = spawn_app_with(
        &[
            ("QUESTPATH_RATE_LIMIT_FAILURE", "open"),
            ("QUESTPATH_RATE_LIMIT_READS", "1"),
        ],
        |mut b| {
            b.rate_limiter = Arc::new(Failing);
            b
        },
    )
    .await;
    let token = signed_in(&app).await;

    for _ in 0..3 {
        let response = app.get_bearer("/api/v1/me", &token).await;
        assert_eq!(response.status(), 200);
        assert!(header(&response, "ratelimit-limit").is_none());
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    // Registration and three reads.
    assert!(
        metrics.contains("rate_limiter_failures_total 4"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn fail_closed_answers_503() {
    let app = spawn_app_with(&[("QUESTPATH_RATE_LIMIT_FAILURE", "closed")], |mut b| {
        b.rate_limiter = Arc::new(Failing);
        b
    })
    .await;

    let v1 = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "a@example.org", "password": "long enough pw"}),
        )
        .await;
    assert!(header(&v1, "retry-after").is_some());
    problem(v1, 503, "unavailable").await;
    let legacy = app.get("/auth/me").await;
    assert_eq!(legacy.status(), 503);
    let body: Value = legacy.json().await.unwrap();
    assert!(body["detail"].is_string(), "{body}");
    // Outside the API scopes nothing is limited, so nothing fails.
    assert_eq!(app.get("/health").await.status(), 200);
}

#[actix_web::test]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let limits = ("QUESTPATH_RATE_LIMIT_ANONYMOUS", "2");
    let behind_proxy =
        spawn_app_with(&[limits, ("QUESTPATH_TRUSTED_PROXIES", "127.0.0.1")], |b| b).await;
    let direct = spawn_app_with(&[limits], |b| b).await;
    let from = |app: &TestApp, forwarded: &str| {
        app.client
            .get(app.url("/api/v1/me"))
            .header("x-forwarded-for", forwarded)
            .send()
    };

    // Behind the trusted proxy each forwarded client has its own quota...
    for _ in 0..2 {
        assert_eq!(
            from(&behind_proxy, "203.0.113.1").await.unwrap().status(),
            401
        );
    }
    assert_eq!(
        from(&behind_proxy, "203.0.113.1").await.unwrap().status(),
        429
    );
    assert_eq!(
        from(&behind_proxy, "203.0.113.2").await.unwrap().status(),
        401
    );
    // ...and what the client wrote left of the proxy's entry changes nothing.
    let forged = from(&behind_proxy, "198.51.100.77, 203.0.113.1")
        .await
        .unwrap();
    assert_eq!(forged.status(), 429);

    // Without trust the header is ignored: every "client" is the peer.
    assert_eq!(from(&direct, "203.0.113.1").await.unwrap().status(), 401);
    assert_eq!(from(&direct, "203.0.113.2").await.unwrap().status(), 401);
    assert_eq!(from(&direct, "203.0.113.3").await.unwrap().status(), 429);
}

#[actix_web::test]
async fn the_frontend_origin_passes_preflight_with_credentials_and_others_do_not() {
    let app = spawn_app_with(&[("QUESTPATH_RATE_LIMIT_ANONYMOUS", "1")], |b| b).await;
    let preflight = |origin: &str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/me"))
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };

    // Preflights are not counted against any limit (1 here).
    for _ in 0..3 {
        let allowed = preflight(FRONTEND).await.unwrap();
        assert_eq!(allowed.status(), 200);
        assert_eq!(
            header(&allowed, "access-control-allow-origin"),
            Some(FRONTEND)
        );
        assert_eq!(
            header(&allowed, "access-control-allow-credentials"),
            Some("true")
        );
        let methods = header(&allowed, "access-control-allow-methods").unwrap();
        assert!(methods.contains("PATCH"), "{methods}");
        let headers = header(&allowed, "access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        assert!(headers.contains("authorization") && headers.contains("content-type"));
        assert!(header(&allowed, "access-control-max-age").is_some());
    }

    let refused = preflight("https://evil.example").await.unwrap();
    assert!(header(&refused, "access-control-allow-origin").is_none());
    assert_eq!(header(&refused, "x-content-type-options"), Some("nosniff"));
    assert!(header(&refused, "x-request-id").is_some());
    problem(refused, 400, "cors_rejected").await;

    // The actual call: the page may read the answer and its rate-limit headers.
    let call = app
        .client
        .get(app.url("/api/v1/me"))
        .header("origin", FRONTEND)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&call, "access-control-allow-origin"), Some(FRONTEND));
    assert_eq!(
        header(&call, "access-control-allow-credentials"),
        Some("true")
    );
    let exposed = header(&call, "access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("ratelimit-remaining") && exposed.contains("retry-after"));
    // A foreign page's call is served (non-browser clients send any Origin) but
    // without CORS headers, so its browser hides the answer.
    let foreign = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 200);
    assert!(header(&foreign, "access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let token = signed_in(&app).await;
    let responses = [
        app.get("/health").await,
        app.get_bearer("/api/v1/me", &token).await,
        app.get("/no/such/thing").await,
        app.get("/auth/me").await,
    ];
    for response in &responses {
        assert_eq!(header(response, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(response, "x-frame-options"), Some("DENY"));
        assert_eq!(header(response, "referrer-policy"), Some("no-referrer"));
        assert!(header(response, "content-security-policy").is_some());
        // Not in development: it would pin localhost to HTTPS.
        assert!(header(response, "strict-transport-security").is_none());
    }

    let secret = "p".repeat(40);
    let production = spawn_app_with(
        &[
            ("QUESTPATH_ENV", "production"),
            ("QUESTPATH_JWT_SECRET", &secret),
        ],
        |b| b,
    )
    .await;
    let response = production.get("/health").await;
    assert_eq!(
        header(&response, "strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
}

#[actix_web::test]
async fn legacy_routes_announce_their_deprecation_and_successor() {
    let app = spawn_app().await;
    let session = app.register(&TestUser::generate()).await;

    let legacy = app.get_bearer("/auth/me", &session.access).await;
    assert_eq!(legacy.status(), 200);
    assert_eq!(header(&legacy, "deprecation"), Some("true"));
    let sunset = header(&legacy, "sunset").unwrap();
    assert!(sunset.ends_with(" GMT"), "{sunset}");
    assert_eq!(
        header(&legacy, "link"),
        Some(r#"</api/v1/me>; rel="successor-version""#)
    );
    assert_eq!(header(&legacy, "api-version"), Some("0"));

    let login = app
        .client
        .post(app.url("/auth/login"))
        .form(&[("username", "nobody@example.org"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401);
    assert_eq!(
        header(&login, "link"),
        Some(r#"</api/v1/auth/login>; rel="successor-version""#)
    );

    let v1 = app.get_bearer("/api/v1/me", &session.access).await;
    assert_eq!(header(&v1, "api-version"), Some("1"));
    for name in ["deprecation", "sunset", "link"] {
        assert!(header(&v1, name).is_none(), "{name} on v1");
    }
}

#[actix_web::test]
async fn an_unknown_api_version_is_refused_naming_the_supported_ones() {
    let app = spawn_app().await;
    let token = signed_in(&app).await;
    let with_version = |path: &str, version: &str| {
        app.client
            .get(app.url(path))
            .bearer_auth(&token)
            .header("api-version", version)
            .send()
    };

    let unknown = with_version("/api/v1/me", "7").await.unwrap();
    let body = problem(unknown, 400, "unsupported_api_version").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("\"7\"") && detail.contains("1, 0"),
        "{detail}"
    );

    assert_eq!(with_version("/api/v1/me", "1").await.unwrap().status(), 200);
    assert_eq!(with_version("/auth/me", "0").await.unwrap().status(), 200);

    // Version 1 asked of a legacy route: refused, in the legacy shape.
    let mismatch = with_version("/auth/me", "1").await.unwrap();
    assert_eq!(mismatch.status(), 400);
    let body: Value = mismatch.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("/api/v1"),
        "{body}"
    );
}

#[actix_web::test]
async fn unknown_routes_are_404_problems() {
    let app = spawn_app().await;

    problem(app.get("/api/v1/no-such-thing").await, 404, "not_found").await;
    problem(app.get("/no/such/thing").await, 404, "not_found").await;

    let legacy = app.get("/auth/no-such-thing").await;
    assert_eq!(legacy.status(), 404);
    let body: Value = legacy.json().await.unwrap();
    assert_eq!(body, json!({"detail": "Not Found"}));
}

#[actix_web::test]
async fn a_known_path_with_another_method_is_405_with_allow() {
    let app = spawn_app().await;
    let token = signed_in(&app).await;

    let wrong = app.call(Method::POST, "/api/v1/me", &token, None).await;
    assert_eq!(header(&wrong, "allow"), Some("GET, PATCH, DELETE"));
    problem(wrong, 405, "method_not_allowed").await;

    let health = app.client.put(app.url("/health")).send().await.unwrap();
    assert_eq!(header(&health, "allow"), Some("GET"));
    problem(health, 405, "method_not_allowed").await;

    // Asked twice (the second from the cache), same answer.
    let again = app.call(Method::PUT, "/api/v1/me", &token, None).await;
    assert_eq!(header(&again, "allow"), Some("GET, PATCH, DELETE"));

    let legacy = app.call(Method::DELETE, "/auth/me", &token, None).await;
    assert_eq!(legacy.status(), 405);
    assert_eq!(header(&legacy, "allow"), Some("GET, PATCH"));
    let body: Value = legacy.json().await.unwrap();
    assert_eq!(body, json!({"detail": "Method Not Allowed"}));
}

#[actix_web::test]
async fn bad_bodies_get_their_4xx_problems() {
    let app = spawn_app().await;
    let register = || app.client.post(app.url("/api/v1/auth/register"));

    let wrong_type = register()
        .header("content-type", "text/plain")
        .body("email=a")
        .send()
        .await
        .unwrap();
    problem(wrong_type, 415, "unsupported_media_type").await;

    let malformed = register()
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(malformed, 400, "malformed_json").await;

    let huge = register()
        .header("content-type", "application/json")
        .body(format!(r#"{{"email": "{}"}}"#, "a".repeat(200 * 1024)))
        .send()
        .await
        .unwrap();
    problem(huge, 413, "payload_too_large").await;
}
