//! Prometheus metrics, behind named methods so handlers never touch the registry.
//!
//! Each application owns its `Registry` (no global one): several servers in one test
//! process keep separate counts. [`Metrics`] is a set of handles onto that registry
//! (each an `Arc` inside), so cloning it is cheap and every clone counts into the same
//! series; it is shared as `Arc<Metrics>` all the same.
//!
//! Naming follows the Prometheus conventions: the `questpath_` prefix for everything of
//! ours, the generic `http_*` and `process_*` families for what every server exposes,
//! base units (seconds), `_total` on counters. Every label takes values from a fixed set
//! (route templates, operation names, reasons), never ids or raw paths, so the number of
//! series stays bounded. `grafana/README.md` lists the families with their dashboards.
//!
//! This module knows no other part of the server but `config` and the ports: label
//! values (protocol message types, room phases, queue names) come from the callers.
//!
//! # Layout
//!
//! - one file per family, each with its handles, their registration and the methods
//!   that record them: `http`, `websocket` (and sessions), `game` (solo quizzes and
//!   XP), `rooms`, `jobs`, `mail` (emails sent, failed, dead-lettered), `dependencies`
//!   (store, Redis, cache);
//! - `collectors`: registering one metric in one call;
//! - [`instrumented`]: the decorators that time every port call;
//! - [`exporter`]: serving a registry over HTTP (the server's `/metrics` and `questpath
//!   worker`'s listener).

mod collectors;
mod dependencies;
pub mod exporter;
mod game;
mod http;
pub mod instrumented;
mod jobs;
mod leagues;
mod mail;
mod observe;
mod rooms;
mod websocket;

use prometheus::{Encoder, Registry, TextEncoder};

pub use game::quiz_result;
pub use jobs::job_outcome;
pub use mail::MAIL_KINDS;
pub use rooms::ROOM_PHASES;
pub use websocket::disconnect;

/// The families `questpath worker` exposes (name prefixes): what a generation worker
/// does (jobs, the store, Redis, caches), its process and its build. The others (HTTP,
/// websockets, game, rooms) never move in a worker and would only add zeros.
const WORKER_FAMILIES: &[&str] = &[
    "questpath_build_info",
    "process_",
    "questpath_job_",
    "questpath_jobs_",
    "questpath_store_operation",
    "questpath_redis_operation",
    "questpath_cache_",
];

/// The server's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Name prefixes of the families [`Metrics::render`] exposes; `None`: all of them.
    exposed: Option<&'static [&'static str]>,
    http: http::HttpMetrics,
    websocket: websocket::WebsocketMetrics,
    game: game::GameMetrics,
    rooms: rooms::RoomMetrics,
    dependencies: dependencies::DependencyMetrics,
    jobs: jobs::JobMetrics,
    leagues: leagues::LeagueMetrics,
    mail: mail::MailMetrics,
}

impl Metrics {
    /// Registers every metric, process metrics included. `job_queues` names the job
    /// queues: their series exist from the start and the exporter samples their depth.
    pub fn new(job_queues: &'static [&'static str]) -> Result<Self, prometheus::Error> {
        Self::with_exposed(job_queues, None)
    }

    /// The metrics of a `questpath worker` process: the same handles (the worker code
    /// and the port decorators call them as in the server), exposing only
    /// `WORKER_FAMILIES` (build, process, job, store and Redis families).
    pub fn for_worker(job_queues: &'static [&'static str]) -> Result<Self, prometheus::Error> {
        Self::with_exposed(job_queues, Some(WORKER_FAMILIES))
    }

    fn with_exposed(
        job_queues: &'static [&'static str],
        exposed: Option<&'static [&'static str]>,
    ) -> Result<Self, prometheus::Error> {
        let r = Registry::new();
        collectors::register_build_and_process(&r)?;
        Ok(Metrics {
            http: http::HttpMetrics::register(&r)?,
            websocket: websocket::WebsocketMetrics::register(&r)?,
            game: game::GameMetrics::register(&r)?,
            rooms: rooms::RoomMetrics::register(&r)?,
            dependencies: dependencies::DependencyMetrics::register(&r)?,
            jobs: jobs::JobMetrics::register(&r, job_queues)?,
            leagues: leagues::LeagueMetrics::register(&r)?,
            mail: mail::MailMetrics::register(&r)?,
            registry: r,
            exposed,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        let mut families = self.registry.gather();
        if let Some(prefixes) = self.exposed {
            families.retain(|family| prefixes.iter().any(|p| family.name().starts_with(p)));
        }
        if let Err(e) = encoder.encode(&families, &mut buffer) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    /// The queues of the tests: the names the server uses.
    pub(crate) const QUEUES: &[&str] = &["roadmaps", "room-xp"];

    /// A server's metrics with [`QUEUES`].
    pub(crate) fn metrics() -> Metrics {
        Metrics::new(QUEUES).unwrap()
    }

    #[test]
    fn clones_count_into_the_same_series() {
        let metrics = metrics();
        let clone = metrics.clone();
        clone.ws_connected();
        metrics.ws_connected();
        clone.ws_disconnected(disconnect::SLOW_CONSUMER);
        let text = metrics.render();
        assert!(text.contains("questpath_ws_connections 1"), "{text}");
        assert!(text.contains("questpath_ws_connects_total 2"));
        assert!(text.contains(r#"questpath_ws_disconnects_total{reason="slow_consumer"} 1"#));
    }

    #[test]
    fn a_worker_exposes_its_own_families_only() {
        let m = Metrics::for_worker(QUEUES).unwrap();
        m.job_finished("roadmaps", job_outcome::DONE, Duration::from_millis(30));
        m.store_operation("job", "ok", Duration::from_millis(1));
        m.set_job_queue_depth("roadmaps", 2);
        // Counted, but not a worker's business: not exposed.
        m.ws_connected();
        m.http_started();
        let text = m.render();
        for expected in [
            "questpath_build_info{commit=",
            r#"questpath_job_duration_seconds_count{outcome="done",queue="roadmaps"} 1"#,
            r#"questpath_jobs_dead_lettered_total{queue="roadmaps"} 0"#,
            r#"questpath_job_queue_depth{queue="roadmaps"} 2"#,
            r#"questpath_store_operations_total{operation="job",outcome="ok"} 1"#,
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
        for absent in [
            "http_",
            "questpath_ws_",
            "questpath_quiz",
            "questpath_room",
            "rate_limit",
        ] {
            assert!(
                !text.lines().any(|l| l
                    .trim_start_matches("# TYPE ")
                    .trim_start_matches("# HELP ")
                    .starts_with(absent)),
                "{absent} exposed by a worker:\n{text}"
            );
        }
        // The server's registry still exposes everything.
        assert!(metrics().render().contains("questpath_ws_connections"));
    }
}
