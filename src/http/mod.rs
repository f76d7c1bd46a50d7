//! HTTP transport: one module per feature, each with a `configure` function.

pub mod health;
pub mod metrics;
pub mod middleware;

use actix_web::web::ServiceConfig;

/// Registers every route.
pub fn configure(cfg: &mut ServiceConfig) {
    health::configure(cfg);
    metrics::configure(cfg);
}
