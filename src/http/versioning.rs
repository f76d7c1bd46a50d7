//! API versions at the edge.
//!
//! The version lives in the path: `/api/v1/...` is version 1, the unversioned routes
//! the old frontend speaks are "version 0", deprecated. A client may also name the
//! version it expects in an `API-Version` request header: an unknown version gets 400
//! naming the supported ones, and a known one that disagrees with the path gets 400
//! too, rather than being silently served by a version it did not ask for. Every
//! versioned response says which version answered it (`API-Version`).
//!
//! Legacy responses carry `Deprecation: true`, `Sunset: <date>` (RFC 8594) and
//! `Link: <v1 equivalent>; rel="successor-version"`, so clients and their logs learn
//! where to move before the date.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError};

use crate::http::error::ApiError;

/// Request and response header naming an API version.
pub const API_VERSION: HeaderName = HeaderName::from_static("api-version");

/// The current version.
pub const CURRENT: &str = "1";

/// The legacy, unversioned routes.
pub const LEGACY: &str = "0";

/// Versions a client may ask for, newest first.
pub const SUPPORTED: &[&str] = &[CURRENT, LEGACY];

/// When the legacy routes go away: one year after v1 shipped. An HTTP date (RFC 9110),
/// fixed here so every instance announces the same one; `docs/api-versioning.md` must
/// say the same.
pub const SUNSET: &str = "Wed, 01 Dec 2027 00:00:00 GMT";

/// `Deprecation` (draft-ietf-httpapi-deprecation-header): the legacy routes are
/// deprecated now.
pub const DEPRECATION: &str = "true";

const SUNSET_HEADER: HeaderName = HeaderName::from_static("sunset");
const DEPRECATION_HEADER: HeaderName = HeaderName::from_static("deprecation");

/// Legacy path prefix → the v1 path replacing it; the rest of the path is carried
/// over. Matched at segment boundaries, first match wins, so the specific entries come
/// before their parents.
const SUCCESSORS: &[(&str, &str)] = &[
    ("/auth/me", "/api/v1/me"),
    ("/auth/oauth-login", "/api/v1/auth/google"),
    ("/auth", "/api/v1/auth"),
    ("/goals/me", "/api/v1/goals"),
    ("/goals/levels", "/api/v1/levels"),
    ("/goals", "/api/v1/goals"),
    ("/progression/stats", "/api/v1/me/stats"),
    ("/levels", "/api/v1/levels"),
    ("/leaderboard", "/api/v1/leaderboards/alltime"),
];

/// The v1 path replacing a legacy path, or `None` when `path` is not a legacy path.
pub fn successor(path: &str) -> Option<String> {
    SUCCESSORS.iter().find_map(|(legacy, v1)| {
        let rest = path.strip_prefix(legacy)?;
        (rest.is_empty() || rest.starts_with('/')).then(|| format!("{v1}{rest}"))
    })
}

/// The version a path belongs to, if it belongs to one (not `/health`, `/metrics`...).
pub fn path_version(path: &str) -> Option<&'static str> {
    if path == "/api/v1" || path.starts_with("/api/v1/") {
        Some(CURRENT)
    } else if successor(path).is_some() {
        Some(LEGACY)
    } else {
        None
    }
}

/// Whether `path` is one of the legacy routes, whose errors use `{"detail": ...}`.
pub fn is_legacy(path: &str) -> bool {
    path_version(path) == Some(LEGACY)
}

/// `v1`, `V1` and `1` all name version 1.
fn normalise(requested: &str) -> &str {
    let trimmed = requested.trim();
    trimmed.strip_prefix(['v', 'V']).unwrap_or(trimmed)
}

/// Checks `API-Version` and adds the version headers; see the module docs.
pub async fn negotiate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    let path = req.path().to_string();
    let version = path_version(&path);
    if let Some(refusal) = check_requested(req.headers(), version) {
        let response = if is_legacy(&path) {
            legacy_error(&refusal)
        } else {
            refusal.error_response()
        };
        let mut res = req.into_response(response);
        apply(res.headers_mut(), &path, version);
        return Ok(res.map_into_right_body());
    }
    match next.call(req).await {
        Ok(mut res) => {
            apply(res.headers_mut(), &path, version);
            Ok(res.map_into_left_body())
        }
        Err(mut err) => {
            err.add_response_mapper(move |mut res| {
                apply(res.headers_mut(), &path, version);
                res
            });
            Err(err)
        }
    }
}

/// The refusal of a request's `API-Version`, if it must be refused.
fn check_requested(headers: &HeaderMap, path_version: Option<&'static str>) -> Option<ApiError> {
    let raw = headers.get(&API_VERSION)?;
    let requested = raw.to_str().map(normalise).unwrap_or("");
    let supported = supported_list();
    let Some(known) = SUPPORTED.iter().copied().find(|v| *v == requested) else {
        let shown = raw.to_str().unwrap_or("(not text)").trim();
        return Some(ApiError::bad_request(
            "unsupported_api_version",
            format!("API version {shown:?} is not supported; supported versions: {supported}"),
        ));
    };
    match path_version {
        Some(actual) if actual != known => Some(ApiError::bad_request(
            "api_version_mismatch",
            format!(
                "API-Version {known} was requested but this path belongs to version {actual}; \
                 version {CURRENT} lives under /api/v{CURRENT}. Supported versions: {supported}"
            ),
        )),
        _ => None,
    }
}

/// "1, 0 (deprecated)".
fn supported_list() -> String {
    SUPPORTED
        .iter()
        .map(|v| {
            if *v == LEGACY {
                format!("{v} (deprecated)")
            } else {
                (*v).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The version headers of a response to `path`.
fn apply(headers: &mut HeaderMap, path: &str, version: Option<&'static str>) {
    let Some(version) = version else {
        return;
    };
    headers.insert(API_VERSION, HeaderValue::from_static(version));
    if version != LEGACY {
        return;
    }
    headers.insert(DEPRECATION_HEADER, HeaderValue::from_static(DEPRECATION));
    headers.insert(SUNSET_HEADER, HeaderValue::from_static(SUNSET));
    let link = successor(path)
        .and_then(|v1| HeaderValue::from_str(&format!("<{v1}>; rel=\"successor-version\"")).ok());
    if let Some(link) = link {
        headers.append(header::LINK, link);
    }
}

/// An error in the legacy shape, for refusals made before the legacy scopes (whose
/// `legacy_detail` does this for their own errors) are reached.
fn legacy_error(error: &ApiError) -> HttpResponse {
    HttpResponse::build(error.status).json(serde_json::json!({ "detail": error.message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_paths_map_to_their_v1_successors() {
        assert_eq!(
            successor("/auth/login").as_deref(),
            Some("/api/v1/auth/login")
        );
        assert_eq!(successor("/auth/me").as_deref(), Some("/api/v1/me"));
        assert_eq!(successor("/goals").as_deref(), Some("/api/v1/goals"));
        assert_eq!(successor("/goals/me").as_deref(), Some("/api/v1/goals"));
        assert_eq!(
            successor("/goals/levels/7/topics/2").as_deref(),
            Some("/api/v1/levels/7/topics/2")
        );
        assert_eq!(
            successor("/goals/abc").as_deref(),
            Some("/api/v1/goals/abc")
        );
        assert_eq!(
            successor("/progression/stats").as_deref(),
            Some("/api/v1/me/stats")
        );
        assert_eq!(successor("/goalsfoo"), None);
        assert_eq!(successor("/api/v1/goals"), None);
        assert_eq!(successor("/health"), None);
    }

    #[test]
    fn requested_versions_are_checked_against_the_path() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(API_VERSION, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(check_requested(&HeaderMap::new(), Some(CURRENT)).is_none());
        assert!(check_requested(&with("1"), Some(CURRENT)).is_none());
        assert!(check_requested(&with("v1"), Some(CURRENT)).is_none());
        assert!(check_requested(&with("0"), None).is_none());
        let unknown = check_requested(&with("2"), Some(CURRENT)).unwrap();
        assert_eq!(unknown.code, "unsupported_api_version");
        assert!(
            unknown.message.contains("1, 0 (deprecated)"),
            "{}",
            unknown.message
        );
        let mismatch = check_requested(&with("1"), Some(LEGACY)).unwrap();
        assert_eq!(mismatch.code, "api_version_mismatch");
    }
}
