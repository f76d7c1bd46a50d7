//! The result of a run: a JSON file (scenario, parameters, machine, commit, backends,
//! every figure, the targets and whether they were met) and a human summary.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

use crate::limits::FdLimit;

/// The machine the run happened on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub hostname: Option<String>,
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub memory_bytes: Option<u64>,
    pub kernel: Option<String>,
    pub load_average: Option<String>,
}

impl Machine {
    /// Read from /proc (best effort: a missing file leaves the field empty).
    pub fn detect() -> Machine {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
        };
        let cpu_model = read("/proc/cpuinfo").and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        });
        let memory_bytes = read("/proc/meminfo").and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
                .map(|kib| kib * 1024)
        });
        Machine {
            hostname: read("/proc/sys/kernel/hostname"),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_bytes,
            kernel: read("/proc/sys/kernel/osrelease"),
            load_average: read("/proc/loadavg"),
        }
    }
}

/// One target of the issue and how the run fared against it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub name: String,
    pub target: String,
    pub measured: String,
    pub met: bool,
}

impl TargetCheck {
    pub fn new(name: &str, target: &str, measured: String, met: bool) -> TargetCheck {
        TargetCheck {
            name: name.into(),
            target: target.into(),
            measured,
            met,
        }
    }
}

/// The generator's own resource use over the run.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct SelfUsage {
    pub cpu_seconds: Option<f64>,
    pub rss_bytes: Option<u64>,
}

impl SelfUsage {
    /// This process, from /proc/self.
    pub fn now() -> SelfUsage {
        SelfUsage::of("self")
    }

    /// A process on this machine by pid (or `self`), from /proc (Linux reports CPU in
    /// USER_HZ, 100 per second on every Linux ABI). Fields are empty when it is gone.
    pub fn of(pid: &str) -> SelfUsage {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let cpu_seconds = stat.and_then(|s| {
            // Fields after the command name (which may contain spaces) start at ") ".
            let after = s.rsplit_once(") ")?.1;
            let fields: Vec<&str> = after.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        });
        let rss_bytes = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse::<u64>().ok())
                    .map(|kib| kib * 1024)
            });
        SelfUsage {
            cpu_seconds,
            rss_bytes,
        }
    }
}

/// A run's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub scenario: String,
    pub started_at: String,
    pub finished_at: String,
    /// The flags of the run.
    pub parameters: Value,
    pub target: String,
    pub machine: Machine,
    pub commit: Option<String>,
    /// The label given with `--backends` (embedded, redis+cassandra, ...).
    pub backends: String,
    /// The server's `/ready` answer (names every backend it checked).
    pub server_ready: Value,
    pub fd_limit: Option<FdLimit>,
    pub setup: Value,
    pub figures: Value,
    pub targets: Vec<TargetCheck>,
    pub generator: Value,
    pub notes: Vec<String>,
}

impl Report {
    /// Writes the JSON file: `path` if given, else `<dir>/<scenario>-<time>.json`.
    pub fn write(&self, path: Option<&Path>, dir: &Path) -> anyhow::Result<PathBuf> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let stamp = self.started_at.replace([':', '-'], "");
                let stamp = stamp.split('.').next().unwrap_or(&stamp).to_string();
                dir.join(format!(
                    "{}-{}-{stamp}.json",
                    self.scenario,
                    slug(&self.backends)
                ))
            }
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let text = serde_json::to_string_pretty(self).context("encoding the report")?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// The human summary: header, the scenario's lines, the targets.
    pub fn summary(&self, lines: &[String]) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "\n== questpath-load {} against {} ({}), {} ==\n",
            self.scenario, self.target, self.backends, self.finished_at
        ));
        out.push_str(&format!(
            "machine: {} CPUs, {}, commit {}\n",
            self.machine.cpus,
            self.machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
            self.commit.as_deref().unwrap_or("unknown")
        ));
        for line in lines {
            out.push_str(line);
            out.push('\n');
        }
        if !self.targets.is_empty() {
            out.push_str("targets:\n");
            for t in &self.targets {
                out.push_str(&format!(
                    "  [{}] {}: target {}, measured {}\n",
                    if t.met { "met" } else { "NOT met" },
                    t.name,
                    t.target,
                    t.measured
                ));
            }
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The commit of the working tree the generator runs in (`git rev-parse`), if any.
pub fn detect_commit() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let mut commit = String::from_utf8(output.stdout).ok()?.trim().to_string();
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    if dirty {
        commit.push_str("-dirty");
    }
    Some(commit)
}

/// Bytes as KiB or MiB for summaries.
pub fn human_bytes(bytes: f64) -> String {
    if bytes.abs() >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
    } else {
        format!("{:.2} KiB", bytes / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_well() {
        assert_eq!(human_bytes(2048.0), "2.00 KiB");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
    }

    #[test]
    fn the_machine_and_this_process_are_described() {
        let m = Machine::detect();
        assert!(m.cpus >= 1);
        let u = SelfUsage::now();
        assert!(u.cpu_seconds.is_some());
        assert!(u.rss_bytes.unwrap_or(0) > 0);
        assert_eq!(slug("redis+cassandra"), "redis-cassandra");
    }
}
