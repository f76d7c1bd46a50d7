//! Security headers on every response, errors and CORS refusals included.
//!
//! The API answers JSON, never pages, so the strictest values cost nothing: no MIME
//! sniffing (a JSON body must not be run as a script), no framing (clickjacking), no
//! referrer leaking ids in URLs, and a content security policy that allows nothing.
//! A response that sets one of these itself keeps its own value, so a page such as the
//! API docs can carry the policy it needs.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::config::Environment;
use crate::state::AppState;

/// One year, subdomains included: the usual production HSTS policy. Sent only in
/// production, where the server sits behind HTTPS; in development it would pin
/// `localhost` to HTTPS in the developer's browser.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Nothing may be loaded or framed by an API response rendered as a document.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

const ALWAYS: &[(HeaderName, &str)] = &[
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CONTENT_SECURITY_POLICY, API_CSP),
];

/// Adds the headers; see the module docs. An error still travelling up as `Err`
/// (rendered later by actix) gets them through a response mapper.
pub async fn add(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let production = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.settings.environment == Environment::Production);
    match next.call(req).await {
        Ok(mut res) => {
            apply(res.headers_mut(), production);
            Ok(res)
        }
        Err(mut err) => {
            err.add_response_mapper(move |mut res| {
                apply(res.headers_mut(), production);
                res
            });
            Err(err)
        }
    }
}

fn apply(headers: &mut HeaderMap, production: bool) {
    for (name, value) in ALWAYS {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
    }
    if production && !headers.contains_key(header::STRICT_TRANSPORT_SECURITY) {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}
