//! Background jobs: attempts by queue and outcome with their duration, dead-lettered
//! jobs, and the depth of each queue (sampled at scrape time by the exporter).
//!
//! Queue names are the caller's ([`Metrics::new`] takes them): this module does not
//! know which queues exist.

use std::time::Duration;

use prometheus::{HistogramVec, IntCounterVec, IntGaugeVec, Registry};

use super::Metrics;
use super::collectors::{counter_vec, gauge_vec, histogram_vec};

/// A generation job, from claim to acknowledgement (an LLM may take a minute or more).
const JOB_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// How a generation job attempt ended; the label values of `questpath_job_duration_seconds`.
pub use questpath_actors::observe::job_outcome;

#[derive(Clone)]
pub(super) struct JobMetrics {
    /// The queues whose series exist from the start and whose depth is sampled.
    queues: &'static [&'static str],
    duration: HistogramVec,
    dead_lettered: IntCounterVec,
    queue_depth: IntGaugeVec,
}

impl JobMetrics {
    pub(super) fn register(
        r: &Registry,
        queues: &'static [&'static str],
    ) -> Result<Self, prometheus::Error> {
        let metrics = JobMetrics {
            queues,
            duration: histogram_vec(
                r,
                "questpath_job_duration_seconds",
                "Generation job attempts, from claim to outcome, by queue and outcome",
                JOB_BUCKETS,
                &["queue", "outcome"],
            )?,
            dead_lettered: counter_vec(
                r,
                "questpath_jobs_dead_lettered_total",
                "Jobs moved to the dead-letter list after their last attempt, by queue",
                &["queue"],
            )?,
            queue_depth: gauge_vec(
                r,
                "questpath_job_queue_depth",
                "Jobs waiting (ready or delayed, not claimed), sampled at scrape time, by queue",
                &["queue"],
            )?,
        };
        for queue in queues {
            metrics.dead_lettered.with_label_values(&[queue]);
        }
        Ok(metrics)
    }
}

impl Metrics {
    /// The job queues this process knows (as given to [`Metrics::new`]).
    pub fn job_queues(&self) -> &'static [&'static str] {
        self.jobs.queues
    }

    /// A job attempt on `queue` ended with `outcome` (one of [`job_outcome`]).
    pub fn job_finished(&self, queue: &str, outcome: &'static str, elapsed: Duration) {
        self.jobs
            .duration
            .with_label_values(&[queue, outcome])
            .observe(elapsed.as_secs_f64());
    }

    /// A job of `queue` went to the dead-letter list.
    pub fn job_dead_lettered(&self, queue: &str) {
        self.jobs.dead_lettered.with_label_values(&[queue]).inc();
    }

    /// Jobs waiting on `queue` now.
    pub fn set_job_queue_depth(&self, queue: &str, depth: u64) {
        self.jobs
            .queue_depth
            .with_label_values(&[queue])
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::metrics;

    #[test]
    fn job_methods_record_their_families() {
        let m = metrics();
        assert!(
            m.render()
                .contains(r#"questpath_jobs_dead_lettered_total{queue="roadmaps"} 0"#)
        );
        m.job_finished("roadmaps", job_outcome::DONE, Duration::from_millis(30));
        m.job_dead_lettered("roadmaps");
        m.set_job_queue_depth("roadmaps", 7);
        let text = m.render();
        for expected in [
            r#"questpath_job_duration_seconds_count{outcome="done",queue="roadmaps"} 1"#,
            r#"questpath_jobs_dead_lettered_total{queue="roadmaps"} 1"#,
            r#"questpath_job_queue_depth{queue="roadmaps"} 7"#,
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
    }
}
