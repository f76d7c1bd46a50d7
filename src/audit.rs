//! `questpath audit xp`: where the audit runs. With the embedded store, a running
//! server holds the store's file and (without Redis) the boards in its memory, so the
//! server runs it, asked through the control socket in the data folder
//! ([`crate::adapters::embedded::control`]); with no server, the store is opened here
//! and in-process boards, which exist only inside a server, are not checked (the report
//! says so). With the CQL store and Redis it runs here, against them, next to the
//! servers. The audit itself is [`questpath_actors::audit`].

use questpath_actors::audit::{AuditRun, audit_and_repair};
use questpath_actors::xp::XpService;

use crate::adapters::embedded::control;
use crate::backends::{BackendError, Backends};
use crate::config::Settings;

/// Where the audit ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// In the running server, through its control socket.
    Server,
    /// In this process, against the configured backends.
    Direct,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditFailure {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("{0}")]
    Failed(String),
}

impl AuditFailure {
    /// True when the operator must fix the configuration (exit status 2).
    pub fn is_operator_error(&self) -> bool {
        matches!(self, AuditFailure::Backend(e) if e.is_operator_error())
    }
}

/// Audits the XP (and repairs with `repair`) where it can be done, see the module
/// documentation.
pub async fn run(settings: &Settings, repair: bool) -> Result<(AuditRun, Via), AuditFailure> {
    if settings.scylla.is_none() {
        let dir = settings.data_dir.clone();
        let asked = tokio::task::spawn_blocking(move || control::request_xp_audit(&dir, repair))
            .await
            .map_err(|e| AuditFailure::Failed(e.to_string()))?
            .map_err(|e| AuditFailure::Failed(e.to_string()))?;
        if let Some(run) = asked {
            return Ok((run, Via::Server));
        }
    }
    let backends = Backends::connect(settings).await?;
    // In-process boards are empty outside a server: nothing to compare.
    let port = backends
        .leaderboard
        .outlives_process()
        .then(|| backends.leaderboard.clone());
    let xp = XpService::direct(
        backends.store.clone(),
        backends.leaderboard.clone(),
        backends.bus.clone(),
    );
    let result = audit_and_repair(
        &xp,
        backends.store.clone(),
        port,
        repair,
        chrono::Utc::now(),
    )
    .await;
    drop(xp);
    backends.shutdown().await;
    result
        .map(|run| (run, Via::Direct))
        .map_err(|e| AuditFailure::Failed(e.to_string()))
}

/// The lines `questpath audit xp` prints for `run`: each difference, the notes, the
/// summary, and with a repair what it did and the audit after it; the last line is the
/// summary of the state left, which names where the audit ran.
pub fn lines(run: &AuditRun, via: Via) -> Vec<String> {
    let mut lines: Vec<String> = run
        .found
        .differences
        .iter()
        .map(|d| d.to_string())
        .collect();
    if run.found.difference_count > run.found.differences.len() as u64 {
        lines.push(format!(
            "... and {} more differences not listed",
            run.found.difference_count - run.found.differences.len() as u64
        ));
    }
    lines.extend(run.found.notes.iter().map(|n| format!("note: {n}")));
    lines.push(run.found.summary());
    if let (Some(repair), Some(after)) = (&run.repair, &run.after) {
        lines.push(format!(
            "repaired: {} learners brought back to their ledger, {} board entries removed, rebuilt {}",
            repair.learners,
            repair.removed,
            if repair.rebuilt.is_empty() {
                "no boards".to_string()
            } else {
                repair.rebuilt.join(", ")
            }
        ));
        lines.extend(
            after
                .differences
                .iter()
                .map(|d| format!("after repair: {d}")),
        );
        lines.push(format!("after repair: {}", after.summary()));
    }
    // The summary stays the last line.
    if let Some(last) = lines.last_mut() {
        last.push_str(match via {
            Via::Server => " (run by the running server)",
            Via::Direct => " (run in this process)",
        });
    }
    lines
}
