//! Versioned API, `/api/v1`.

pub mod account;
pub mod auth;
pub mod catalog;
pub mod email;
pub mod goals;
pub mod leaderboards;
pub mod leagues;
pub mod me;
pub mod notifications;
pub mod quizzes;
pub mod room_qr;
pub mod rooms;

use actix_web::web;

use crate::http::error::{form_error, json_error, path_error, query_error};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(actix_web::middleware::from_fn(
                crate::http::rate_limit::limit,
            ))
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
            // Unreadable query strings and path segments answer problem+json too.
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .configure(auth::configure)
            .configure(me::configure)
            .configure(email::configure)
            .configure(goals::configure)
            .configure(leaderboards::configure)
            .configure(leagues::configure)
            .configure(rooms::configure)
            .configure(quizzes::configure)
            .configure(notifications::configure)
            .configure(catalog::configure)
            .configure(room_qr::configure)
            .configure(crate::http::websocket::configure),
    );
}
