//! `/health`, `/ready` and the request id.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use questpath::ports::cache::Cache;
use questpath::ports::{PortError, PortResult};
use serde_json::Value;

use questpath_test_support::{spawn_app, spawn_app_with};

#[actix_web::test]
async fn health_answers_without_touching_backends() {
    let app = spawn_app().await;

    let response = app.get("/health").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[actix_web::test]
async fn ready_is_200_when_every_backend_answers() {
    let app = spawn_app().await;

    let response = app.get("/ready").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let checks = body["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "store",
            "cache",
            "rate_limiter",
            "bus",
            "leaderboard",
            "job_queue"
        ]
    );
    assert!(checks.iter().all(|c| c["ok"] == true));
    assert_eq!(checks[0]["backend"], "embedded");
}

/// A cache whose backend is down.
struct DeadCache;

#[async_trait]
impl Cache for DeadCache {
    fn backend(&self) -> &'static str {
        "redis"
    }
    async fn ping(&self) -> PortResult<()> {
        Err(PortError::new("redis", "ping", "connection refused"))
    }
    async fn get(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
        Err(PortError::new("redis", "get", "connection refused"))
    }
    async fn set(&self, _: &str, _: &[u8], _: Duration) -> PortResult<()> {
        Err(PortError::new("redis", "set", "connection refused"))
    }
    async fn set_if_absent(&self, _: &str, _: &[u8], _: Duration) -> PortResult<bool> {
        Err(PortError::new("redis", "set", "connection refused"))
    }
    async fn take(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
        Err(PortError::new("redis", "take", "connection refused"))
    }
    async fn delete(&self, _: &str) -> PortResult<()> {
        Err(PortError::new("redis", "delete", "connection refused"))
    }
}

/// A cache that never answers.
struct HungCache;

#[async_trait]
impl Cache for HungCache {
    fn backend(&self) -> &'static str {
        "redis"
    }
    async fn ping(&self) -> PortResult<()> {
        std::future::pending().await
    }
    async fn get(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
        std::future::pending().await
    }
    async fn set(&self, _: &str, _: &[u8], _: Duration) -> PortResult<()> {
        std::future::pending().await
    }
    async fn set_if_absent(&self, _: &str, _: &[u8], _: Duration) -> PortResult<bool> {
        std::future::pending().await
    }
    async fn take(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
        std::future::pending().await
    }
    async fn delete(&self, _: &str) -> PortResult<()> {
        std::future::pending().await
    }
}

#[actix_web::test]
async fn ready_is_503_naming_the_failing_backend() {
    let app = spawn_app_with(&[], |mut b| {
        b.cache = Arc::new(DeadCache);
        b
    })
    .await;

    let response = app.get("/ready").await;

    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["failing"], serde_json::json!(["cache"]));
    let cache = &body["checks"][1];
    assert_eq!(cache["ok"], false);
    assert!(
        cache["error"]
            .as_str()
            .unwrap()
            .contains("connection refused")
    );
    // Liveness does not depend on backends.
    assert_eq!(app.get("/health").await.status(), 200);
}

#[actix_web::test]
async fn ready_does_not_hang_on_a_backend_that_never_answers() {
    let app = spawn_app_with(&[], |mut b| {
        b.cache = Arc::new(HungCache);
        b
    })
    .await;

    let response = app.get("/ready").await;

    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["checks"][1]["error"]
            .as_str()
            .unwrap()
            .contains("no answer")
    );
}

#[actix_web::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;

    let first = app.get("/health").await;
    let second = app.get("/nope").await;

    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(second.status(), 404);
    assert!(!id(&first).is_empty());
    assert_ne!(id(&first), id(&second));
}

#[actix_web::test]
async fn a_plain_incoming_request_id_is_kept_and_a_forged_one_replaced() {
    let app = spawn_app().await;

    let kept = app
        .client
        .get(app.url("/health"))
        .header("X-Request-Id", "lb-1234.abc")
        .send()
        .await
        .unwrap();
    let replaced = app
        .client
        .get(app.url("/health"))
        .header("X-Request-Id", "bad id\" injected")
        .send()
        .await
        .unwrap();

    assert_eq!(kept.headers()["x-request-id"], "lb-1234.abc");
    let new_id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(!new_id.contains(' '));
    assert!(!new_id.is_empty());
}
