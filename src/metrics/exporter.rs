//! Serving a [`Metrics`] registry over HTTP: the bearer-token rule and the gauges sampled
//! at scrape time, shared by the server's `GET /metrics` (`http::metrics`) and the small
//! listener of `questpath worker` ([`WorkerMetricsListener`]).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use super::Metrics;
use crate::config::Secret;
use questpath_actors::ports::JobQueue;

/// The Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a scrape waits for a sampled value before exposing the previous one.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether `req` may read metrics: always without a token, else only with
/// `Authorization: Bearer <token>` (compared in constant time).
pub fn authorized(req: &HttpRequest, token: Option<&Secret>) -> bool {
    let Some(token) = token else { return true };
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|p| constant_time_eq(p.as_bytes(), token.expose().as_bytes()))
}

/// The answer to a scrape without the token.
pub fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
        .finish()
}

/// The exposition of `metrics`.
pub fn exposition(metrics: &Metrics) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(metrics.render())
}

/// Reads the values that live in a backend rather than in this process (the job queue
/// is shared by every instance and worker), so each scrape sees them fresh; a backend
/// that does not answer leaves the last value and shows up in the Redis error metrics.
pub async fn sample_gauges(metrics: &Metrics, queue: &dyn JobQueue) {
    for name in [crate::goals::QUEUE, questpath_actors::room::grants::QUEUE] {
        match tokio::time::timeout(SAMPLE_TIMEOUT, queue.depth(name)).await {
            Ok(Ok(depth)) => metrics.set_job_queue_depth(name, depth),
            Ok(Err(e)) => tracing::debug!(error = %e, "job queue depth not sampled"),
            Err(_) => tracing::debug!("job queue depth not sampled: timed out"),
        }
    }
}

/// Compares without an early exit, so the time taken does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the worker's listener serves from.
struct Exported {
    metrics: Arc<Metrics>,
    token: Option<Secret>,
    queue: Arc<dyn JobQueue>,
}

/// `questpath worker`'s metrics listener: `GET /metrics` only (anything else is 404),
/// one thread, under the server's token rule. Needs a running actix `System`.
pub struct WorkerMetricsListener {
    address: SocketAddr,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl WorkerMetricsListener {
    /// Binds `address` (port 0 picks a free one) and starts serving.
    pub fn start(
        address: SocketAddr,
        metrics: Arc<Metrics>,
        token: Option<Secret>,
        queue: Arc<dyn JobQueue>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address)?;
        let address = listener.local_addr()?;
        let exported = web::Data::new(Exported {
            metrics,
            token,
            queue,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(exported.clone())
                .route("/metrics", web::get().to(worker_metrics))
        })
        .workers(1)
        .shutdown_timeout(1)
        // The worker handles SIGTERM and ctrl-c itself, then stops this listener.
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        Ok(WorkerMetricsListener {
            address,
            handle,
            task: tokio::spawn(server),
        })
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting and waits (briefly) for a scrape in progress.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.task).await;
    }
}

async fn worker_metrics(req: HttpRequest, exported: web::Data<Exported>) -> HttpResponse {
    if !authorized(&req, exported.token.as_ref()) {
        return unauthorized();
    }
    sample_gauges(&exported.metrics, exported.queue.as_ref()).await;
    exposition(&exported.metrics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_token_rule() {
        let token = Secret::new("s3cret");
        let bare = TestRequest::default().to_http_request();
        let right = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer s3cret"))
            .to_http_request();
        let wrong = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer s3cres"))
            .to_http_request();
        let basic = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Basic s3cret"))
            .to_http_request();
        assert!(authorized(&bare, None), "no token configured: open");
        assert!(authorized(&right, Some(&token)));
        assert!(!authorized(&bare, Some(&token)));
        assert!(!authorized(&wrong, Some(&token)));
        assert!(!authorized(&basic, Some(&token)));
        assert_eq!(
            unauthorized()
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .unwrap(),
            "Bearer"
        );
    }
}
