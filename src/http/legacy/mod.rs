//! The unversioned routes the existing Next.js frontend speaks (the old Python
//! backend's contract): same paths, shapes and status codes, `{"detail": ...}` errors.

pub mod auth;

use actix_web::middleware::from_fn;
use actix_web::web;

use crate::http::error::{form_error, json_error, legacy_detail};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/auth")
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
            .configure(auth::configure),
    );
}
