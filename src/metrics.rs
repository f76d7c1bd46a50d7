//! Prometheus metrics, behind named methods so handlers never touch the registry.
//!
//! Each application owns its `Registry` (no global one): several servers in one test
//! process keep separate counts.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Latency buckets in seconds, with a boundary at the 0.25 s SLO threshold.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    http_in_flight: IntGauge,
    rate_limited: IntCounterVec,
    rate_limiter_failures: IntCounter,
}

impl Metrics {
    /// Registers every metric, process metrics included.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route template, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency, by route template and method",
            )
            .buckets(HTTP_BUCKETS.to_vec()),
            &["route", "method"],
        )?;
        let http_in_flight =
            IntGauge::new("http_requests_in_flight", "HTTP requests being served")?;
        let build_info = IntGaugeVec::new(
            Opts::new(
                "questpath_build_info",
                "Version of the running binary; value is always 1",
            ),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);

        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(http_in_flight.clone()))?;
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "rate_limited_total",
                "Requests refused with 429, by the limit that refused them",
            ),
            &["limit"],
        )?;
        let rate_limiter_failures = IntCounter::new(
            "rate_limiter_failures_total",
            "Rate-limit checks the limiter could not answer (the failure policy decided)",
        )?;
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(rate_limiter_failures.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;

        Ok(Metrics {
            registry,
            http_requests,
            http_duration,
            http_in_flight,
            rate_limited,
            rate_limiter_failures,
        })
    }

    /// A request was refused by the named limit (a fixed name, never a key).
    pub fn rate_limited(&self, limit: &'static str) {
        self.rate_limited.with_label_values(&[limit]).inc();
    }

    /// The rate limiter could not answer a check.
    pub fn rate_limiter_failed(&self) {
        self.rate_limiter_failures.inc();
    }

    /// A request started; pair with [`Metrics::http_finished`].
    pub fn http_started(&self) {
        self.http_in_flight.inc();
    }

    /// A request finished. `route` must be a route template or a fixed word, never a
    /// raw path, so the number of series stays bounded.
    pub fn http_finished(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.http_in_flight.dec();
        self.http_requests
            .with_label_values(&[route, method, status_label(status)])
            .inc();
        self.http_duration
            .with_label_values(&[route, method])
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(buffer).unwrap_or_default()
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

    #[test]
    fn finished_requests_are_counted_by_route_method_status() {
        let metrics = Metrics::new().unwrap();
        metrics.http_started();
        metrics.http_finished("/health", "GET", 200, Duration::from_millis(3));
        let text = metrics.render();
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="/health",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(
            r#"http_request_duration_seconds_bucket{method="GET",route="/health",le="0.005"} 1"#
        ));
        assert!(text.contains("http_requests_in_flight 0"));
        assert!(text.contains("questpath_build_info"));
    }

    #[test]
    fn odd_statuses_fold_into_classes() {
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(599), "5xx");
        assert_eq!(status_label(404), "404");
    }
}
