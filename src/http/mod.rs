//! HTTP transport: one module per feature, each with a `configure` function.

pub mod cors;
pub mod error;
pub mod extractor;
pub mod fallback;
pub mod forwarded;
pub mod goals_view;
pub mod health;
pub mod json;
pub mod legacy;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod rate_limit;
pub mod security_headers;
pub mod server;
pub mod users;
pub mod v1;
pub mod versioning;
pub mod web;
pub mod websocket;

use actix_web::HttpRequest;
use actix_web::web::ServiceConfig;

/// Registers every route.
pub fn configure(cfg: &mut ServiceConfig) {
    health::configure(cfg);
    metrics::configure(cfg);
    openapi::configure(cfg); // before v1: the /api/v1 scope would 404 the document
    v1::configure(cfg);
    legacy::configure(cfg);
    web::configure(cfg);
}

/// A path id that is not a UUID names nothing: 404 "`what` not found", like an
/// unknown id, rather than a type error.
pub fn path_id(raw: &str, what: &str) -> Result<uuid::Uuid, error::ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| error::ApiError::not_found(format!("{what} not found")))
}

/// The client's address, for per-address limits and lockouts: the TCP peer, or, when
/// the peer is a trusted proxy (`QUESTPATH_TRUSTED_PROXIES`), the right-most untrusted
/// address of `X-Forwarded-For` (see [`forwarded`]; any client can send the header, so
/// it is never believed from anyone else).
pub fn client_ip(req: &HttpRequest) -> String {
    let trusted = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|state| state.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    req.peer_addr()
        .map(|peer| forwarded::client_addr(peer.ip(), req.headers(), trusted).to_string())
        .unwrap_or_else(|| "unknown".into())
}
