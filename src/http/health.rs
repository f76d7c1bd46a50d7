//! `GET /health` (the process answers) and `GET /ready` (every backend answers).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        // The previous backend's paths, kept for its deployments' probes.
        .route("/health/live", web::get().to(health))
        .route("/health/ready", web::get().to(ready));
}

/// Liveness: no backend is touched, so a slow database never gets the process killed.
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "healthy",
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// Readiness: 200 when every configured backend answers, else 503 naming the failing ones.
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let checks = state.backends.check().await;
    let failing: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    if failing.is_empty() {
        HttpResponse::Ok().json(json!({ "status": "ready", "checks": checks }))
    } else {
        tracing::warn!(failing = ?failing, "readiness check failed");
        HttpResponse::ServiceUnavailable().json(json!({
            "status": "unavailable",
            "failing": failing,
            "checks": checks,
        }))
    }
}
