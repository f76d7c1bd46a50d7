//! `/metrics`.

use questpath_test_support::{TestUser, spawn_app, spawn_app_with};

#[actix_web::test]
async fn requests_are_counted_by_route_template_method_and_status() {
    let app = spawn_app().await;
    app.get("/health").await;
    app.get("/health").await;
    app.get("/no/such/route/12345").await;

    let response = app.get("/metrics").await;

    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/health",status="200"} 2"#),
        "{text}"
    );
    // Unknown paths share one series instead of one per path.
    assert!(text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#));
    assert!(!text.contains("12345"));
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("process_resident_memory_bytes"));
}

#[actix_web::test]
async fn metrics_need_the_token_when_one_is_configured() {
    let app = spawn_app_with(&[("QUESTPATH_METRICS_TOKEN", "scrape-secret")], |b| b).await;

    let anonymous = app.get("/metrics").await;
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();

    assert_eq!(anonymous.status(), 401);
    assert_eq!(wrong.status(), 401);
    assert_eq!(right.status(), 200);
}

/// The scrape's value of one sample line (`name{labels}`), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[actix_web::test]
async fn dependency_families_are_exposed_after_some_traffic() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    let session = app.register(&user).await;
    assert_eq!(
        app.get_bearer("/api/v1/me", &session.access).await.status(),
        200
    );
    let goal_id = app
        .create_goal(&session.access, "Learn the Rust programming language")
        .await;
    // First read fills the roadmap cache, the second is served from it.
    for _ in 0..2 {
        let goal = app
            .get_bearer(&format!("/api/v1/goals/{goal_id}"), &session.access)
            .await;
        assert_eq!(goal.status(), 200);
    }

    let text = app.get("/metrics").await.text().await.unwrap();

    for family in [
        "questpath_store_operations_total",
        "questpath_store_operation_duration_seconds",
        "questpath_store_queries_per_request",
        "questpath_cache_requests_total",
        "questpath_job_duration_seconds",
        "questpath_job_queue_depth",
        "questpath_jobs_dead_lettered_total",
        "questpath_emails_sent_total",
        "questpath_emails_failed_total",
        "questpath_emails_dead_lettered_total",
        "questpath_ws_connections",
        "questpath_ws_disconnects_total",
        "questpath_quizzes_started_total",
        "questpath_quizzes_finished_total",
        "questpath_quiz_late_answers_total",
        "questpath_level_ups_total",
        "questpath_xp_pending_dropped_total",
        "questpath_daily_goals_reached_total",
        "questpath_streaks_broken_total",
        "questpath_streak_freezes_used_total",
        "questpath_streak_at_risk_notices_total",
        "questpath_build_info",
        "process_open_fds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} missing:\n{text}"
        );
    }
    assert!(
        sample(
            &text,
            r#"questpath_store_operations_total{operation="create_user",outcome="ok"}"#
        ) >= Some(1.0),
        "{text}"
    );
    // GET /api/v1/me reads the user for the extractor: at least one store operation.
    assert_eq!(
        sample(
            &text,
            r#"questpath_store_queries_per_request_bucket{route="/api/v1/me",le="0"}"#
        ),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"questpath_store_queries_per_request_count{route="/api/v1/me"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"questpath_job_duration_seconds_count{outcome="done",queue="roadmaps"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"questpath_job_queue_depth{queue="roadmaps"}"#),
        Some(0.0)
    );
    assert!(
        sample(
            &text,
            r#"questpath_cache_requests_total{cache="roadmap",result="hit"}"#
        ) >= Some(1.0),
        "{text}"
    );
    // In-process shared state is not Redis: no Redis series at all.
    assert!(!text.contains("questpath_redis_operations_total{"));
    // No ids or raw paths in any label.
    assert!(!text.contains(&goal_id));
    assert!(!text.contains(&user.email));
}

/// Collects what the server logs, for the log-line test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Captured {
    type Writer = Captured;
    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    /// Sends every log line of this process here. The server's workers are other
    /// threads, so the subscriber must be global; nextest runs each test in its own
    /// process. Under plain `cargo test` another test may have set one first: then there
    /// is nothing to read and the test says so (`None`).
    fn install() -> Option<Captured> {
        let captured = Captured::default();
        let subscriber = questpath::telemetry::subscriber(
            questpath::config::LogFormat::Json,
            "info",
            captured.clone(),
            false,
        );
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            eprintln!("a global subscriber was already set; log assertions skipped");
            return None;
        }
        Some(captured)
    }

    fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect()
    }
}

#[actix_web::test]
async fn access_log_lines_carry_route_status_latency_user_and_slow_warnings() {
    let Some(captured) = Captured::install() else {
        return;
    };
    // Registration hashes a password (tens of ms): always over a 1 ms threshold.
    let app = spawn_app_with(&[("QUESTPATH_SLOW_REQUEST_MS", "1")], |b| b).await;
    let user = TestUser::generate();
    let session = app.register(&user).await;
    let me = app.get_bearer("/api/v1/me", &session.access).await;
    let request_id = me.headers()["x-request-id"].to_str().unwrap().to_string();
    let me: serde_json::Value = me.json().await.unwrap();
    let user_id = me["id"].as_str().unwrap().to_string();

    let lines = captured.lines();
    let completed = lines
        .iter()
        .find(|l| l["message"] == "request completed" && l["span"]["request_id"] == request_id)
        .unwrap_or_else(|| panic!("no access line for {request_id}: {lines:#?}"));
    assert_eq!(completed["span"]["route"], "/api/v1/me");
    assert_eq!(completed["span"]["user_id"], user_id.as_str());
    assert_eq!(completed["status"], 200);
    assert!(completed["latency_ms"].as_f64().is_some());
    assert!(completed["store_operations"].as_u64() >= Some(1));
    let slow = lines
        .iter()
        .find(|l| l["message"] == "slow request" && l["span"]["route"] == "/api/v1/auth/register")
        .unwrap_or_else(|| panic!("no slow-request warning: {lines:#?}"));
    assert_eq!(slow["level"], "WARN");
    assert_eq!(slow["threshold_ms"], 1);
}

#[actix_web::test]
async fn successful_requests_are_logged_within_the_budget_and_errors_always() {
    let Some(captured) = Captured::install() else {
        return;
    };
    let app = spawn_app_with(
        &[
            ("QUESTPATH_ACCESS_LOG", "2"),
            ("QUESTPATH_SLOW_REQUEST_MS", "0"),
        ],
        |b| b,
    )
    .await;
    let second = std::time::Duration::from_millis(1100);
    // A request in a second of its own: written, and reporting anything the start left out.
    tokio::time::sleep(second).await;
    assert_eq!(app.get("/health").await.status(), 200);
    let before = accounted(&captured.lines());
    for _ in 0..10 {
        assert_eq!(app.get("/health").await.status(), 200);
    }
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/no-such-route").await.status(), 404);
    }
    // The first request of a later second gets its line and reports those left out.
    tokio::time::sleep(second).await;
    assert_eq!(app.get("/health").await.status(), 200);

    let lines = captured.lines();
    let completed = |status: u64| {
        lines
            .iter()
            .filter(|l| l["message"] == "request completed" && l["status"] == status)
            .count() as u64
    };
    assert_eq!(completed(404), 3, "every error is logged: {lines:#?}");
    let (written, left_out) = accounted(&lines);
    let (written, left_out) = (written - before.0, left_out - before.1);
    // Ten requests in the budget of 2 that the first one opened (or of the next second too), and the last one.
    assert!((2..=5).contains(&written), "{written} lines: {lines:#?}");
    assert!(left_out >= 6, "{left_out} left out: {lines:#?}");
    assert_eq!(
        written + left_out,
        11,
        "each request is written or counted once"
    );
}

/// Successful requests so far: (access lines written, left out and reported).
fn accounted(lines: &[serde_json::Value]) -> (u64, u64) {
    let written = lines
        .iter()
        .filter(|l| l["message"] == "request completed" && l["status"] == 200)
        .count() as u64;
    let left_out = lines.iter().filter_map(|l| l["left_out"].as_u64()).sum();
    (written, left_out)
}
