//! The access log's budget: at 20,000 requests a second a line per request is gigabytes
//! an hour, so successful requests faster than the slow threshold get at most
//! `QUESTPATH_ACCESS_LOG` lines a second, and those left out are counted and reported in
//! one line. Errors and slow requests are never left out (the middleware does not ask).
//! The request counts per route and status are exact in the metrics either way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub use crate::config::AccessLogPolicy;

/// Decides which successful, fast requests get a line; shared by every worker.
#[derive(Debug)]
pub struct AccessLog {
    policy: AccessLogPolicy,
    started: Instant,
    /// The current one-second window: its number (high 32 bits) and the lines written in
    /// it (low 32 bits), in one word so that a window change is one compare-and-swap.
    window: AtomicU64,
    /// Requests left out since the last report.
    left_out: AtomicU64,
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// Whether this request gets its line.
    pub write: bool,
    /// Requests left out since the previous report, to be reported now (0: nothing to say).
    pub report_left_out: u64,
}

impl AccessLog {
    pub fn new(policy: AccessLogPolicy) -> Self {
        AccessLog {
            policy,
            started: Instant::now(),
            window: AtomicU64::new(0),
            left_out: AtomicU64::new(0),
        }
    }

    /// Called once per successful, fast request.
    pub fn admit(&self) -> Admission {
        let second = self.started.elapsed().as_secs() + 1;
        self.admit_at(second)
    }

    /// [`AccessLog::admit`] in window `second` (counted from 1), for tests.
    fn admit_at(&self, second: u64) -> Admission {
        let limit = match self.policy {
            AccessLogPolicy::All => {
                return Admission {
                    write: true,
                    report_left_out: 0,
                };
            }
            AccessLogPolicy::PerSecond(limit) => u64::from(limit),
        };
        let second = second & 0xFFFF_FFFF;
        loop {
            let current = self.window.load(Ordering::Relaxed);
            let (window, written) = (current >> 32, current & 0xFFFF_FFFF);
            if window != second {
                // The first request of a new window writes the report of the last one.
                let written = u64::from(limit > 0);
                let next = (second << 32) | written;
                if self
                    .window
                    .compare_exchange(current, next, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
                let report_left_out = self.left_out.swap(0, Ordering::Relaxed);
                if written == 0 {
                    self.left_out.fetch_add(1, Ordering::Relaxed);
                }
                return Admission {
                    write: written == 1,
                    report_left_out,
                };
            }
            if written >= limit {
                self.left_out.fetch_add(1, Ordering::Relaxed);
                return Admission {
                    write: false,
                    report_left_out: 0,
                };
            }
            if self
                .window
                .compare_exchange(current, current + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                return Admission {
                    write: true,
                    report_left_out: 0,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(log: &AccessLog, second: u64, requests: usize) -> (usize, u64) {
        let mut written = 0;
        let mut reported = 0;
        for _ in 0..requests {
            let admission = log.admit_at(second);
            written += usize::from(admission.write);
            reported += admission.report_left_out;
        }
        (written, reported)
    }

    #[test]
    fn a_second_gets_at_most_its_lines_and_the_rest_are_reported_in_the_next() {
        let log = AccessLog::new(AccessLogPolicy::PerSecond(3));
        assert_eq!(run(&log, 1, 10), (3, 0));
        // The next second's first request reports the 7 left out, then 3 lines again.
        assert_eq!(run(&log, 2, 5), (3, 7));
        // A quiet gap changes nothing: the 2 are reported whenever the next request comes.
        assert_eq!(run(&log, 9, 1), (1, 2));
    }

    #[test]
    fn all_writes_every_line_and_off_writes_none_but_still_counts() {
        let all = AccessLog::new(AccessLogPolicy::All);
        assert_eq!(run(&all, 1, 1000), (1000, 0));
        let off = AccessLog::new(AccessLogPolicy::PerSecond(0));
        assert_eq!(run(&off, 1, 4), (0, 0));
        // The first request of the next second is left out too, and reports the 4 before it.
        assert_eq!(run(&off, 2, 1), (0, 4));
        assert_eq!(run(&off, 3, 1), (0, 1));
    }

    #[test]
    fn threads_together_never_exceed_the_budget() {
        let log = std::sync::Arc::new(AccessLog::new(AccessLogPolicy::PerSecond(50)));
        let written: usize = (0..4)
            .map(|_| {
                let log = log.clone();
                std::thread::spawn(move || run(&log, 1, 1000).0)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum();
        assert_eq!(written, 50);
        assert_eq!(run(&log, 2, 1), (1, 3950));
    }
}
