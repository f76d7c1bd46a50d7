//! The unversioned routes the existing Next.js frontend speaks (the old Python
//! backend's contract): same paths, shapes and status codes, `{"detail": ...}` errors.

pub mod auth;
pub mod goals;
pub mod leaderboard;
pub mod levels;

use actix_web::middleware::from_fn;
use actix_web::web;

use crate::http::error::{form_error, json_error, legacy_detail};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(legacy_scope("/auth").configure(auth::configure))
        .service(legacy_scope("/goals").configure(goals::configure_goals))
        .service(legacy_scope("/progression").configure(goals::configure_progression))
        .service(legacy_scope("/levels").configure(levels::configure))
        .service(legacy_scope("/leaderboard").configure(leaderboard::configure));
}

/// A scope with the legacy error shape, rate limits and body limits.
fn legacy_scope(
    path: &str,
) -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope(path)
        // Inner to `legacy_detail`, so its 429s get the legacy shape.
        .wrap(from_fn(crate::http::rate_limit::limit))
        .wrap(from_fn(legacy_detail))
        .app_data(
            web::JsonConfig::default()
                .limit(64 * 1024)
                .error_handler(json_error),
        )
        .app_data(
            web::FormConfig::default()
                .limit(16 * 1024)
                .error_handler(form_error),
        )
}
