//! Versioned API, `/api/v1`.

pub mod auth;
pub mod me;

use actix_web::web;

use crate::http::error::{form_error, json_error};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
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
            .configure(auth::configure)
            .configure(me::configure),
    );
}
