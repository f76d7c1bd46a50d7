//! The browser client (`web/`), compiled into the binary and served at `/`, so the
//! server alone is a complete game on a classroom LAN: no CDN, no build step, no
//! second process. Release builds embed the files; debug builds read them from
//! `web/` at request time (rust-embed's default), so editing the app needs no rebuild.
//!
//! Paths are not fingerprinted, so every answer is `Cache-Control: no-cache` with a
//! strong `ETag` (the file's SHA-256): a browser revalidates with one cheap 304 and
//! never runs a stale script after an upgrade. The app's own Content-Security-Policy
//! allows this origin only: no inline script or style, no other host.

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::error::ApiError;
use crate::state::AppState;

#[derive(rust_embed::Embed)]
#[folder = "web/"]
// The browser tests and their node_modules live beside the app, never in the binary.
#[exclude = "tests/*"]
struct WebFiles;

/// Content-Security-Policy of the app: everything from this origin, nothing inline
/// (`connect-src 'self'` covers the same-origin websocket in current browsers).
pub const APP_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The same policy plus Google Identity Services' own paths (its script, its button's
/// frame and styles), sent only when Google sign-in is configured: a LAN-only server
/// without Google never names another host.
pub const APP_CSP_WITH_GOOGLE: &str = "default-src 'self'; \
     script-src 'self' https://accounts.google.com/gsi/client; \
     style-src 'self' https://accounts.google.com/gsi/style; img-src 'self' data:; \
     connect-src 'self' https://accounts.google.com/gsi/; \
     frame-src https://accounts.google.com/gsi/; manifest-src 'self'; worker-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The page every client route starts from.
const INDEX: &str = "index.html";

/// Top-level folders of the app; a file outside them (and the few named files below)
/// is never served, so nothing else in `web/` leaks by accident.
const FOLDERS: [&str; 4] = ["js", "css", "vendor", "icons"];
const ROOT_FILES: [&str; 2] = ["manifest.webmanifest", "sw.js"];

/// Registers the app's routes: `/`, `/join` (the short address a projector shows) and
/// `/join/{code}` (the link in a room's QR code),
/// the asset folders and the root files. API paths are untouched.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in ["/", "/index.html", "/join", "/join/{code}"] {
        cfg.service(file_resource(path.to_string(), index));
    }
    for folder in FOLDERS {
        cfg.service(file_resource(format!("/{folder}/{{file:.+}}"), asset));
    }
    for file in ROOT_FILES {
        cfg.service(file_resource(format!("/{file}"), asset));
    }
}

/// GET and HEAD of `path`, compressed, answered by `handler`.
fn file_resource<F, Args>(path: String, handler: F) -> impl actix_web::dev::HttpServiceFactory
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .wrap(Compress::default())
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
}

// Both handlers take the state first: the 405 probe (`fallback.rs`) routes requests
// through a state-less copy of the app and relies on handlers failing there.
async fn index(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    serve(INDEX, &req, csp(&state)).unwrap_or_else(|| missing(INDEX))
}

async fn asset(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let path = req.path().trim_start_matches('/');
    serve(path, &req, csp(&state)).unwrap_or_else(|| missing(path))
}

fn csp(state: &AppState) -> &'static str {
    if state.settings.google.is_some() {
        APP_CSP_WITH_GOOGLE
    } else {
        APP_CSP
    }
}

fn missing(path: &str) -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::not_found(format!("No file at /{path}")))
}

/// The embedded file at `path` (relative to `web/`), or a 304 when the client's copy
/// is current; `None` when there is no such file.
fn serve(path: &str, req: &HttpRequest, csp: &'static str) -> Option<HttpResponse> {
    if path
        .split('/')
        .any(|segment| segment == ".." || segment.is_empty())
    {
        return None;
    }
    let file = WebFiles::get(path)?;
    let etag = etag(&file.metadata.sha256_hash());
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, csp));
    if fresh {
        return Some(response.finish());
    }
    let mime = file.metadata.mimetype();
    let content_type = HeaderValue::from_str(&content_type(path, mime))
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Some(
        response
            .insert_header((header::CONTENT_TYPE, content_type))
            .body(file.data.into_owned()),
    )
}

/// The type a browser needs: ES modules must be `text/javascript`, the manifest its own
/// type; text types say UTF-8.
fn content_type(path: &str, guessed: &str) -> String {
    let mime = if path.ends_with(".js") || path.ends_with(".mjs") {
        "text/javascript"
    } else if path.ends_with(".webmanifest") {
        "application/manifest+json"
    } else {
        guessed
    };
    if mime.starts_with("text/") || mime.ends_with("json") || mime.ends_with("+xml") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

fn etag(hash: &[u8]) -> String {
    let hex: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_manifest_get_the_types_browsers_require() {
        assert_eq!(
            content_type("js/app.js", "application/javascript"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("manifest.webmanifest", "application/octet-stream"),
            "application/manifest+json; charset=utf-8"
        );
        assert_eq!(content_type("icons/icon-192.png", "image/png"), "image/png");
        assert_eq!(
            content_type("icons/icon.svg", "image/svg+xml"),
            "image/svg+xml; charset=utf-8"
        );
    }

    #[test]
    fn etag_is_a_quoted_prefix_of_the_hash() {
        assert_eq!(etag(&[0xab; 32]), format!("\"{}\"", "ab".repeat(16)));
    }
}
