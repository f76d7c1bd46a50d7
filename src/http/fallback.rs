//! What a request no route takes is answered: 404 when nothing lives at the path, 405
//! with `Allow` when something does but not for this method. Both in the error shape
//! of the path (problem+json, or `{"detail": ...}` on the legacy routes).
//!
//! actix registers `cfg.route(path, web::get()...)` as a resource whose method guard
//! fails for other methods, so it would answer them 404. Here the app's resource map
//! tells whether the path exists at all (`has_resource`, guards ignored). Which methods
//! it takes is not recorded anywhere actix exposes, so it is learnt by routing the
//! path, once per method, through a *probe*: the same routes in an app without any
//! state. A probe request that reaches a route fails in its first extractor (every
//! handler that does anything takes the state), so nothing runs; one that reaches no
//! route gets the probe's own default answer, marked by a header. Results are cached
//! per path, with a bound, so the probe runs once per distinct path.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use actix_service::IntoServiceFactory;
use actix_web::dev::{AppConfig, Service, ServiceFactory};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{App, HttpRequest, HttpResponse, ResponseError, web};
use tracing::instrument::WithSubscriber;

use crate::http::error::ApiError;
use crate::http::versioning;

/// Methods a route may take; `OPTIONS` preflights are answered by the CORS layer.
const CANDIDATES: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Marks the probe's "no route" answer.
const PROBE_MISS: HeaderName = HeaderName::from_static("x-questpath-probe-miss");

/// Paths whose methods are remembered; past it the cache starts over, so a client
/// sending endless distinct paths cannot grow memory.
const CACHE_LIMIT: usize = 4096;

/// Path → `Allow` value. Routes are compiled in, so the answers hold for every app in
/// the process.
static ALLOW_CACHE: LazyLock<Mutex<HashMap<String, String>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The app's default service; see the module docs.
pub async fn not_found_or_not_allowed(req: HttpRequest) -> HttpResponse {
    let path = req.path().to_string();
    let legacy = versioning::is_legacy(&path);
    if !req.resource_map().has_resource(&path) {
        let message = if legacy {
            "Not Found".to_string()
        } else {
            format!("No resource at {path}")
        };
        return render(&ApiError::not_found(message), legacy);
    }
    let allow = allowed_methods(&path).await;
    let message = if legacy {
        "Method Not Allowed".to_string()
    } else {
        format!(
            "{} is not allowed on {path}; allowed: {allow}",
            req.method()
        )
    };
    let error = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
    );
    let mut res = render(&error, legacy);
    if let Ok(value) = HeaderValue::from_str(&allow) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}

fn render(error: &ApiError, legacy: bool) -> HttpResponse {
    if legacy {
        HttpResponse::build(error.status).json(serde_json::json!({ "detail": error.message }))
    } else {
        error.error_response()
    }
}

/// The `Allow` value for `path`, e.g. `GET, PATCH`.
async fn allowed_methods(path: &str) -> String {
    let cached = ALLOW_CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(path)
        .cloned();
    if let Some(allow) = cached {
        return allow;
    }
    // The probe's handlers log their missing state as errors: not worth anyone's time.
    let methods = probe(path)
        .with_subscriber(tracing::subscriber::NoSubscriber::default())
        .await;
    let allow = methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut cache = ALLOW_CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(path.to_string(), allow.clone());
    allow
}

/// The methods some route takes at `path`, learnt from a stateless copy of the routes.
async fn probe(path: &str) -> Vec<Method> {
    let app = App::new()
        .configure(crate::http::configure)
        .default_service(web::to(|| async {
            HttpResponse::NotFound()
                .insert_header((PROBE_MISS, "1"))
                .finish()
        }));
    let Ok(service) = app.into_factory().new_service(AppConfig::default()).await else {
        tracing::error!("cannot build the route probe; answering 405 without methods");
        return Vec::new();
    };
    let mut allowed = Vec::new();
    for method in CANDIDATES {
        let request = actix_web::test::TestRequest::default()
            .method(method.clone())
            .uri(path)
            .to_request();
        let routed = match service.call(request).await {
            Ok(res) => !res.headers().contains_key(PROBE_MISS),
            // An error from a route's extractor: the route exists.
            Err(_) => true,
        };
        if routed {
            allowed.push(method);
        }
    }
    allowed
}
