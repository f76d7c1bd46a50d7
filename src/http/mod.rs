//! HTTP transport: one module per feature, each with a `configure` function.

pub mod error;
pub mod health;
pub mod legacy;
pub mod metrics;
pub mod middleware;
pub mod users;
pub mod v1;

use actix_web::HttpRequest;
use actix_web::web::ServiceConfig;

/// Registers every route.
pub fn configure(cfg: &mut ServiceConfig) {
    health::configure(cfg);
    metrics::configure(cfg);
    v1::configure(cfg);
    legacy::configure(cfg);
}

/// The client's address, for per-address limits. The TCP peer: forwarded headers are
/// not trusted here (any client can send them).
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
