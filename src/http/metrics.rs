//! `GET /metrics`: Prometheus text format. Protected by a bearer token when
//! `QUESTPATH_METRICS_TOKEN` is set, so it need not be public. Gauges whose value lives
//! in a backend (job queue depth) are sampled at scrape time.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(token) = &state.settings.metrics_token {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.expose().as_bytes())) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .finish();
        }
    }
    sample_gauges(&state).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

/// How long a scrape waits for a sampled value before exposing the previous one.
const SAMPLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads the values that live in a backend rather than in this process (the job queue
/// is shared by every instance), so each scrape sees them fresh; a backend that does not
/// answer leaves the last value and shows up in the Redis error metrics instead.
async fn sample_gauges(state: &AppState) {
    let queue = crate::goals::QUEUE;
    match tokio::time::timeout(SAMPLE_TIMEOUT, state.backends.job_queue.depth(queue)).await {
        Ok(Ok(depth)) => state.metrics.set_job_queue_depth(queue, depth),
        Ok(Err(e)) => tracing::debug!(error = %e, "job queue depth not sampled"),
        Err(_) => tracing::debug!("job queue depth not sampled: timed out"),
    }
}

/// Compares without an early exit, so the time taken does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
