//! HTTP: requests by route template, latency, requests in flight, store queries per
//! request, and the rate limiter's refusals and failures.

use std::time::Duration;

use prometheus::{HistogramVec, IntCounter, IntCounterVec, IntGauge, Registry};

use super::Metrics;
use super::collectors::{counter, counter_vec, gauge, histogram_vec};

/// Latency buckets in seconds, with a boundary at the 0.25 s SLO threshold.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Store operations one HTTP request makes (an N+1 query shows up as a long tail).
const QUERIES_PER_REQUEST_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0];

#[derive(Clone)]
pub(super) struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    in_flight: IntGauge,
    store_queries_per_request: HistogramVec,
    rate_limited: IntCounterVec,
    rate_limiter_failures: IntCounter,
}

impl HttpMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        Ok(HttpMetrics {
            requests: counter_vec(
                r,
                "http_requests_total",
                "HTTP requests answered, by route template, method and status",
                &["route", "method", "status"],
            )?,
            duration: histogram_vec(
                r,
                "http_request_duration_seconds",
                "HTTP request latency, by route template and method",
                HTTP_BUCKETS,
                &["route", "method"],
            )?,
            in_flight: gauge(r, "http_requests_in_flight", "HTTP requests being served")?,
            store_queries_per_request: histogram_vec(
                r,
                "questpath_store_queries_per_request",
                "Store operations made while serving one HTTP request, by route template",
                QUERIES_PER_REQUEST_BUCKETS,
                &["route"],
            )?,
            rate_limited: counter_vec(
                r,
                "rate_limited_total",
                "Requests refused with 429, by the limit that refused them",
                &["limit"],
            )?,
            rate_limiter_failures: counter(
                r,
                "rate_limiter_failures_total",
                "Rate-limit checks the limiter could not answer (the failure policy decided)",
            )?,
        })
    }
}

impl Metrics {
    /// A request was refused by the named limit (a fixed name, never a key).
    pub fn rate_limited(&self, limit: &'static str) {
        self.http.rate_limited.with_label_values(&[limit]).inc();
    }

    /// The rate limiter could not answer a check.
    pub fn rate_limiter_failed(&self) {
        self.http.rate_limiter_failures.inc();
    }

    /// A request started; pair with [`Metrics::http_finished`].
    pub fn http_started(&self) {
        self.http.in_flight.inc();
    }

    /// A request finished. `route` must be a route template or a fixed word, never a
    /// raw path, so the number of series stays bounded.
    pub fn http_finished(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.http.in_flight.dec();
        let method = method_label(method);
        self.http
            .requests
            .with_label_values(&[route, method, status_label(status)])
            .inc();
        self.http
            .duration
            .with_label_values(&[route, method])
            .observe(elapsed.as_secs_f64());
    }

    /// The number of store operations one request made (`route` as in `http_finished`).
    pub fn store_queries_per_request(&self, route: &str, count: u32) {
        self.http
            .store_queries_per_request
            .with_label_values(&[route])
            .observe(f64::from(count));
    }
}

/// Standard methods as they are; any other (clients may send anything) is `other`.
fn method_label(method: &str) -> &str {
    match method {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
        _ => "other",
    }
}

/// Status codes as static strings; anything unusual is folded so labels stay bounded.
fn status_label(status: u16) -> &'static str {
    const KNOWN: &[(u16, &str)] = &[
        (200, "200"),
        (201, "201"),
        (202, "202"),
        (204, "204"),
        (301, "301"),
        (302, "302"),
        (304, "304"),
        (307, "307"),
        (308, "308"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (410, "410"),
        (413, "413"),
        (415, "415"),
        (422, "422"),
        (423, "423"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    match KNOWN.iter().find(|(code, _)| *code == status) {
        Some((_, label)) => label,
        None => match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::metrics;

    #[test]
    fn finished_requests_are_counted_by_route_method_status() {
        let metrics = metrics();
        metrics.http_started();
        metrics.http_finished("/health", "GET", 200, Duration::from_millis(3));
        metrics.store_queries_per_request("/health", 0);
        let text = metrics.render();
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="/health",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(
            r#"http_request_duration_seconds_bucket{method="GET",route="/health",le="0.005"} 1"#
        ));
        assert!(text.contains("http_requests_in_flight 0"));
        assert!(
            text.contains(
                r#"questpath_store_queries_per_request_bucket{route="/health",le="0"} 1"#
            )
        );
        assert!(text.contains("questpath_build_info{commit="));
    }

    #[test]
    fn odd_statuses_fold_into_classes() {
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(599), "5xx");
        assert_eq!(status_label(404), "404");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("BREW"), "other");
    }
}
