//! Latency recording: HDR histograms in microseconds, and the summary a report shows.
//!
//! Every latency a scenario records is measured from the moment the request was *meant*
//! to leave (its slot in the schedule), not from when it actually left. A server that
//! stalls for a second delays every request queued behind the stall; measuring from the
//! actual send would count one slow request and hide the others ("coordinated
//! omission"). Scenarios also record the service time (from the actual send) so the two
//! can be compared: a large gap means the generator or the server fell behind.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// tokio's timer fires on whole milliseconds, so a request is sent up to about 1 ms
/// after its slot even when nothing is behind. Lateness within this slack is the
/// generator's clock, not the server's, and is not counted; lateness beyond it is.
pub const TIMER_SLACK: Duration = Duration::from_millis(1);

/// The latency of a scheduled request: from its slot (plus [`TIMER_SLACK`]) or from the
/// actual send, whichever is earlier, to `done`.
pub fn from_schedule(
    due: std::time::Instant,
    sent: std::time::Instant,
    done: std::time::Instant,
) -> Duration {
    let start = sent.min(due + TIMER_SLACK);
    done.saturating_duration_since(start)
}

/// Longest latency a histogram records (longer ones are clamped to it, and counted).
const MAX_MICROS: u64 = 120_000_000;

/// A latency histogram with microsecond resolution up to two minutes, 3 significant
/// digits (about 30 KiB each).
#[derive(Clone)]
pub struct Latency {
    histogram: Histogram<u64>,
    clamped: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    pub fn new() -> Latency {
        // Constant bounds within what the crate accepts (low >= 1, high >= 2 * low,
        // 0..=5 significant figures): no input reaches this, and a test covers it.
        #[allow(clippy::expect_used)]
        let histogram = Histogram::new_with_bounds(1, MAX_MICROS, 3)
            .expect("constant histogram bounds are valid");
        Latency {
            histogram,
            clamped: 0,
        }
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if micros > MAX_MICROS {
            self.clamped += 1;
        }
        self.histogram
            .saturating_record(micros.clamp(1, MAX_MICROS));
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Latency) {
        // Both have the same bounds, so adding cannot fail; if it ever did, the samples
        // are recorded one value at a time instead.
        if self.histogram.add(&other.histogram).is_err() {
            for v in other.histogram.iter_recorded() {
                let _ = self
                    .histogram
                    .record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
        self.clamped += other.clamped;
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Percentiles in milliseconds.
    pub fn summary(&self) -> LatencySummary {
        let h = &self.histogram;
        let ms = |micros: u64| micros as f64 / 1000.0;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            over_max: self.clamped,
        }
    }
}

/// Raw latencies of one task, merged into a [`Latency`] at the end. A histogram with
/// this range takes about 150 KiB, so thousands of players each holding three would
/// cost the generator gigabytes; a sample is 4 bytes.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<u32>);

impl Samples {
    /// Records one latency (microseconds, saturating at about 71 minutes).
    pub fn record(&mut self, latency: Duration) {
        self.0
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds these samples to a histogram.
    pub fn add_to(&self, latency: &mut Latency) {
        for micros in &self.0 {
            latency.record(Duration::from_micros(u64::from(*micros)));
        }
    }
}

/// What a report shows of a histogram (milliseconds).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Samples longer than two minutes, recorded as two minutes.
    pub over_max: u64,
}

impl LatencySummary {
    /// `p50 1.23 ms, p90 ..., p99 ..., max ... (n = ...)` for the human summary.
    pub fn line(&self) -> String {
        format!(
            "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms  (n = {})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms, self.count
        )
    }
}

/// Counts by a name (an error code, a status), kept sorted for stable reports.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct Tally(BTreeMap<String, u64>);

impl Tally {
    pub fn add(&mut self, name: impl Into<String>) {
        *self.0.entry(name.into()).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Tally) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_default() += v;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `a: 1, b: 2`, or `none`.
    pub fn line(&self) -> String {
        if self.0.is_empty() {
            return "none".into();
        }
        self.0
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_out_in_milliseconds() {
        let mut l = Latency::new();
        for i in 1..=100 {
            l.record(Duration::from_millis(i));
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() < 0.1, "{s:?}");
        assert!((s.max_ms - 100.0).abs() < 0.1, "{s:?}");
    }

    #[test]
    fn merging_adds_samples_and_clamps_are_counted() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        a.record(Duration::from_micros(10));
        b.record(Duration::from_secs(600));
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.summary().over_max, 1);
        assert_eq!(Latency::new().summary().count, 0);
    }

    #[test]
    fn schedule_latency_forgives_only_the_timer_slack() {
        let due = std::time::Instant::now();
        let ms = Duration::from_millis;
        // Sent on time or within the slack: the service time.
        assert_eq!(from_schedule(due, due + ms(1), due + ms(3)), ms(2));
        // Sent 50 ms late: counted from the slot (less the slack).
        assert_eq!(from_schedule(due, due + ms(50), due + ms(52)), ms(51));
    }

    #[test]
    fn samples_fold_into_a_histogram() {
        let mut samples = Samples::default();
        samples.record(Duration::from_millis(2));
        samples.record(Duration::from_millis(4));
        let mut l = Latency::new();
        samples.add_to(&mut l);
        assert_eq!(samples.len(), 2);
        assert_eq!(l.count(), 2);
        assert!((l.summary().max_ms - 4.0).abs() < 0.01);
    }

    #[test]
    fn tallies_merge_and_print_sorted() {
        let mut t = Tally::default();
        t.add("b");
        t.add("a");
        let mut u = Tally::default();
        u.add("b");
        t.merge(&u);
        assert_eq!(t.line(), "a: 1, b: 2");
        assert_eq!(t.total(), 3);
    }
}
