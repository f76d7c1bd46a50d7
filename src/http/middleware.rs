//! The outermost middleware: request id, request span, access log line (with the user
//! id once authenticated, and a warning over `QUESTPATH_SLOW_REQUEST_MS`; successful
//! fast requests within the `QUESTPATH_ACCESS_LOG` budget, see [`crate::telemetry::access_log`]) and
//! HTTP metrics, including the number of store operations the request made.
//!
//! Written here rather than taken from tracing-actix-web because the three must share
//! one timer and the route template, and an incoming `X-Request-Id` from a trusted
//! load balancer is kept so one id follows a request across services.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use tracing::Instrument;

use crate::metrics::instrumented::count_store_operations;
use crate::state::AppState;

/// Header carrying the request id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, in the request's extensions for handlers that need it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Accepts a client's id only when it is short and plain, so logs cannot be forged.
fn incoming_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&REQUEST_ID)?.to_str().ok()?;
    let plain = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    plain.then(|| value.to_string())
}

/// Wraps every request; see the module docs.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let request_id = incoming_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let (metrics, slow_after) = match &state {
        Some(state) => (Some(state.metrics.clone()), state.settings.slow_request),
        None => (None, None),
    };
    let span = tracing::info_span!(
        "http_request",
        request_id = %request_id,
        method = %method,
        path = %req.path(),
        route = tracing::field::Empty,
        user_id = tracing::field::Empty,
    );
    if let Some(m) = &metrics {
        m.http_started();
    }
    // The auth extractor records `user_id` on this span, so the log lines below carry it.
    let (result, store_operations) =
        count_store_operations(next.call(req).instrument(span.clone())).await;
    let elapsed = started.elapsed();
    let (status, route) = match &result {
        Ok(res) => (
            res.status().as_u16(),
            res.request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".into()),
        ),
        Err(e) => (
            e.as_response_error().status_code().as_u16(),
            "unmatched".into(),
        ),
    };
    span.record("route", route.as_str());
    if let Some(m) = &metrics {
        m.http_finished(&route, &method, status, elapsed);
        m.store_queries_per_request(&route, store_operations);
    }
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let slow_threshold = slow_after.filter(|t| elapsed > *t);
    let write_line = if status >= 400 || slow_threshold.is_some() {
        true
    } else {
        match &state {
            Some(state) => {
                let admission = state.access_log.admit();
                if admission.report_left_out > 0 {
                    tracing::info!(
                        left_out = admission.report_left_out,
                        "access log: successful requests left out since the last report (QUESTPATH_ACCESS_LOG)"
                    );
                }
                admission.write
            }
            None => true,
        }
    };
    span.in_scope(|| {
        if write_line {
            tracing::info!(status, latency_ms, store_operations, "request completed");
        }
        if let Some(threshold) = slow_threshold {
            tracing::warn!(
                status,
                latency_ms,
                store_operations,
                threshold_ms = threshold.as_millis() as u64,
                "slow request"
            );
        }
    });
    let mut res = result?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}
