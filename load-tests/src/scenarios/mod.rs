//! The scenarios and what they share: the context a scenario runs in and the outcome it
//! hands back to the report.

pub mod connect;
pub mod http;
pub mod mixed;
pub mod quiz;
pub mod room;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::api::{Api, ServerSample};
use crate::net::Sources;
use crate::report::{SelfUsage, TargetCheck};
use crate::target::Target;

/// Everything a scenario needs besides its flags and learners.
pub struct Ctx {
    pub target: Target,
    pub api: Arc<Api>,
    pub sources: Arc<Sources>,
    /// Cancelled on ctrl-c or when the run's time bound is reached: scenarios stop
    /// early and still report what they measured.
    pub stop: CancellationToken,
    /// The `--backends` label; decides which targets apply.
    pub backends: String,
    /// The server's pid, when it runs here (`--server-pid`).
    pub server_pid: Option<u32>,
}

impl Ctx {
    /// True when the server runs on the embedded store with in-process state.
    pub fn embedded(&self) -> bool {
        self.backends.to_ascii_lowercase().contains("embedded")
    }

    /// The server's process figures: from /proc with `--server-pid`, else from its
    /// `/metrics` (an empty sample, noted, when that fails).
    pub async fn sample(&self, notes: &mut Vec<String>) -> ServerSample {
        let mut sample = match self.api.server_sample().await {
            Ok(s) => s,
            Err(e) => {
                let note = format!("server metrics unavailable: {e:#}");
                if !notes.contains(&note) {
                    notes.push(note);
                }
                ServerSample::default()
            }
        };
        if let Some(pid) = self.server_pid {
            let usage = SelfUsage::of(&pid.to_string());
            if usage.cpu_seconds.is_none() {
                let note = format!("no process {pid} here: --server-pid ignored");
                if !notes.contains(&note) {
                    notes.push(note);
                }
            } else {
                sample.cpu_seconds = usage.cpu_seconds;
                sample.rss_bytes = usage.rss_bytes.map(|b| b as f64);
            }
        }
        sample
    }

    /// Sleeps, unless the run is stopped first (then returns false).
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.stop.cancelled() => false,
        }
    }
}

/// What a scenario measured.
pub struct Outcome {
    pub figures: Value,
    /// Lines of the human summary.
    pub lines: Vec<String>,
    pub targets: Vec<TargetCheck>,
    pub notes: Vec<String>,
    /// Operations that succeeded and failed, for the exit status.
    pub succeeded: u64,
    pub failed: u64,
}

/// Server CPU and generator CPU over a measured window.
pub fn cpu_figures(
    server_before: ServerSample,
    server_after: ServerSample,
    self_before: SelfUsage,
    self_after: SelfUsage,
    operations: u64,
) -> Value {
    let server_cpu = match (server_before.cpu_seconds, server_after.cpu_seconds) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let generator_cpu = match (self_before.cpu_seconds, self_after.cpu_seconds) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    serde_json::json!({
        "server_cpu_seconds": server_cpu,
        "generator_cpu_seconds": generator_cpu,
        "operations_per_server_cpu_second": server_cpu.filter(|c| *c > 0.0).map(|c| operations as f64 / c),
        "server_rss_bytes_after": server_after.rss_bytes,
        "generator_rss_bytes_after": self_after.rss_bytes,
    })
}

/// Shortens an error to a stable category for tallies: the outermost context and the
/// root cause, without the run-specific parts (ids, ports).
pub fn classify(phase: &str, e: &anyhow::Error) -> String {
    let root: String = mask_numbers(&e.root_cause().to_string())
        .chars()
        .take(90)
        .collect();
    let top = mask_numbers(&e.to_string());
    let top: String = top
        .split(':')
        .next()
        .unwrap_or(&top)
        .chars()
        .take(50)
        .collect();
    if e.chain().count() == 1 {
        format!("{phase}: {root}")
    } else {
        format!("{phase}: {top}: {root}")
    }
}

/// Replaces runs of four or more digits (ports, counters) by `#`, keeping status codes
/// and errno values.
fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 4 {
            out.push('#');
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_fold_into_categories() {
        let e = anyhow::anyhow!("POST /api/v1/ws/ticket: 429 Too Many Requests");
        assert_eq!(
            classify("ticket", &e),
            "ticket: POST /api/v1/ws/ticket: 429 Too Many Requests"
        );
        let e = anyhow::Error::from(std::io::Error::other(
            "connection refused (os error 111) on port 45678",
        ))
        .context("connecting from 127.0.0.2 to 127.0.0.1:8080");
        assert_eq!(
            classify("connect", &e),
            "connect: connecting from 127.0.0.2 to 127.0.0.1: connection refused (os error 111) on port #"
        );
    }
}
