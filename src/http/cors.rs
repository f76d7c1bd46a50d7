//! CORS for browser clients on other origins (the web frontend on
//! `http://localhost:3000` in development): exact origins from
//! `QUESTPATH_CORS_ORIGINS`, with credentials (the refresh cookie) and preflights.
//!
//! Built on `actix-cors`. A request from an origin not on the list is still served
//! (non-browser clients may send any `Origin`) but its response carries no CORS
//! headers, so a browser will not let the page read it; a preflight from such an
//! origin is refused with 400, rendered as problem+json by [`problem_on_rejection`].

use actix_cors::{Cors, CorsError};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use crate::config::Settings;
use crate::http::error::ApiError;

/// How long a browser may cache a preflight answer: one preflight per endpoint per hour
/// instead of one per call (Chromium caps this at two hours anyway).
pub const PREFLIGHT_MAX_AGE_SECS: usize = 3600;

/// Request headers a page may send beyond the CORS-safelisted ones.
const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "api-version",
    "x-request-id",
    "if-match",
    "if-none-match",
];

/// Response headers a page may read beyond the CORS-safelisted ones: the rate-limit
/// numbers, versioning and deprecation hints, the request id for support requests.
const EXPOSED_HEADERS: &[&str] = &[
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-policy",
    "retry-after",
    "x-request-id",
    "api-version",
    "deprecation",
    "sunset",
    "link",
    "location",
    "etag",
];

/// The CORS middleware for the configured origins. Built per worker, as actix builds
/// its middleware.
pub fn cors(settings: &Settings) -> Cors {
    let header_names = |names: &[&'static str]| -> Vec<HeaderName> {
        names
            .iter()
            .map(|name| HeaderName::from_static(name))
            .collect()
    };
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allowed_headers(header_names(ALLOWED_HEADERS))
        .expose_headers(header_names(EXPOSED_HEADERS))
        .supports_credentials()
        .max_age(PREFLIGHT_MAX_AGE_SECS);
    for origin in &settings.cors_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Wraps the CORS middleware: a refused preflight (foreign origin, method or header not
/// allowed) is answered as problem+json like every other error, instead of
/// actix-cors's plain text. The refusal keeps actix-cors's status (400).
pub async fn problem_on_rejection(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let res = next.call(req).await?;
    let refusal = res
        .response()
        .error()
        .and_then(|e| e.as_error::<CorsError>())
        .map(|e| e.to_string());
    let Some(message) = refusal else {
        return Ok(res.map_into_left_body());
    };
    let problem = ApiError::bad_request("cors_rejected", message);
    let (req, old) = res.into_parts();
    let mut new = problem.error_response();
    // Keep `Vary: Origin` and friends, so caches do not reuse the refusal for others.
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(req, new).map_into_right_body())
}
