//! The archive of past weekly boards, kept for good in the store.
//!
//! A week's board stays in Redis (or in memory) four weeks after it ends; its final
//! standings are kept in the store, read-only. Once a week has ended and [`GRACE`] has
//! passed, one instance (holding the [`LEASE`]) archives it:
//!
//! 1. it makes sure the board holds what the ledger says: complete by the rule the
//!    rebuild uses ([`rebuild::is_complete`]), or else rebuilt from the ledger first (a
//!    week past its retention is built for an hour, the time to read it);
//! 2. it sets the week's standing of every learner with grants still pending (an
//!    instance that died between the ledger and the board), so none is missing;
//! 3. it reads the board page by page, ranks and tie-break times as the board gives
//!    them, and writes each page to the store;
//! 4. if the board did not change while it was read, it marks the week archived, last:
//!    a half-written archive is never served, and running again rewrites the same rows;
//! 5. it makes the learners it copied whose accounts were deleted meanwhile anonymous
//!    on the week (a deletion forgets the learner on the weeks already archived).
//!
//! After that, reads of the week are served from the archive, identical to the board
//! (see [`super::Leaderboards::view`]). Grants are dated when they are recorded, so no
//! grant of a week can reach the ledger long after it ended: by [`GRACE`] later, the
//! week is final.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use uuid::Uuid;

use super::board::{Board, Week};
use super::rebuild::{self, RebuildError};
use super::standing;
use crate::ports::store::{ArchivedEntry, ArchivedWeek};
use crate::ports::{Leaderboard, PortError, Store, StoreError};

/// Name of the lease that keeps instances from archiving at the same time.
pub const LEASE: &str = "archive";

/// How long an archiver may hold the lease before another instance may start (only
/// wasted work, if a long archive outlives it: both write the same rows).
pub const LEASE_TTL: Duration = Duration::from_secs(15 * 60);

/// How long after a week ends it is archived: time for grants recorded in its last
/// moments to be applied.
pub const GRACE: chrono::Duration = chrono::Duration::minutes(10);

/// Standings read from the board and written to the store at a time.
const PAGE: usize = 1_000;

/// Most learners with pending grants brought up to date before archiving.
const PENDING_USERS: usize = 10_000;

/// Ledgers read at once for those learners.
const CONCURRENT_READS: usize = 16;

/// Reads of the board before giving up on one that keeps changing.
const ATTEMPTS: usize = 3;

/// How long a week past its retention stays on the board once built for archiving.
const BUILT_FOR: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Board(#[from] PortError),
    #[error(transparent)]
    Rebuild(#[from] RebuildError),
    #[error("week {0} has not ended")]
    NotEnded(String),
    #[error("the board of week {0} kept changing while it was read")]
    Unsettled(String),
}

/// What archiving a week did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    /// The ISO week, `2026-W47`.
    pub period: String,
    /// Learners archived.
    pub total: u64,
    /// Whether the board had to be rebuilt from the ledger first.
    pub rebuilt: bool,
}

/// Which weeks are archived, as far as this instance knows: asked of the store until
/// it says yes, then remembered (an archive is never undone), so serving an archived
/// week costs no extra read.
#[derive(Clone)]
pub struct ArchivedWeeks {
    store: Arc<dyn Store>,
    known: Arc<Mutex<HashMap<Week, ArchivedWeek>>>,
}

impl ArchivedWeeks {
    pub fn new(store: Arc<dyn Store>) -> Self {
        ArchivedWeeks {
            store,
            known: Arc::default(),
        }
    }

    /// The week's archive, when it is complete.
    pub async fn get(&self, week: Week) -> Result<Option<ArchivedWeek>, StoreError> {
        if let Some(known) = self.lock().get(&week) {
            return Ok(Some(known.clone()));
        }
        let found = self.store.archived_week(&week.label()).await?;
        if let Some(archived) = &found {
            self.lock().insert(week, archived.clone());
        }
        Ok(found)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Week, ArchivedWeek>> {
        // The map is always whole: a panic elsewhere cannot leave it half-changed.
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The weeks to archive at `now`: still kept on the board, ended [`GRACE`] ago.
pub fn due_weeks(now: DateTime<Utc>) -> Vec<Week> {
    let mut due = Vec::new();
    let mut week = Week::of(now).previous();
    while week.expires_at() > now {
        if week.ends_at() + GRACE <= now {
            due.push(week);
        }
        week = week.previous();
    }
    due
}

/// Archives `week` (see the module documentation). Safe to run again: it writes the
/// same rows and marks the week again.
pub async fn archive_week(
    store: Arc<dyn Store>,
    port: &dyn Leaderboard,
    week: Week,
) -> Result<ArchiveReport, ArchiveError> {
    let now = Utc::now();
    let period = week.label();
    if week.ends_at() > now {
        return Err(ArchiveError::NotEnded(period));
    }
    let board = Board::Weekly(week);
    let key = board.key();
    // A week past its retention has no board left, whatever the all-time board's mark
    // says: only its own mark (from an earlier build for archiving) counts.
    let kept = week.expires_at() > now;
    let complete = if kept {
        rebuild::is_complete(port, board).await?
    } else {
        port.built_at(&key).await?.is_some()
    };
    let expires_at =
        move |board: Board| board.expires_at().map(|at| at.max(Utc::now() + BUILT_FOR));
    if !complete {
        tracing::info!(week = %period, "building the week's board from the XP ledger to archive it");
        rebuild::rebuild_until(Arc::clone(&store), port, &[board], expires_at).await?;
    }
    settle_pending(&store, port, board, expires_at(board)).await?;
    let mut copied = HashSet::new();
    for _ in 0..ATTEMPTS {
        if let Some(total) = copy_board(&store, port, &key, &period, &mut copied).await? {
            store
                .mark_week_archived(&ArchivedWeek {
                    period: period.clone(),
                    total,
                    archived_at: Utc::now(),
                })
                .await?;
            forget_deleted(&store, &period, copied).await?;
            tracing::info!(week = %period, learners = total, rebuilt = !complete, "weekly board archived");
            return Ok(ArchiveReport {
                period,
                total,
                rebuilt: !complete,
            });
        }
    }
    Err(ArchiveError::Unsettled(period))
}

/// Sets the week's standing of the learners whose grants are still pending, from
/// their ledgers: the board then holds every grant of the week.
async fn settle_pending(
    store: &Arc<dyn Store>,
    port: &dyn Leaderboard,
    board: Board,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), ArchiveError> {
    let users = store.xp_pending_users(PENDING_USERS).await?;
    let ledgers: Vec<Result<_, StoreError>> = stream::iter(users)
        .map(|user_id| {
            let store = Arc::clone(store);
            async move { Ok((user_id, store.xp_entries(user_id).await?)) }
        })
        .buffer_unordered(CONCURRENT_READS)
        .collect()
        .await;
    let mut updates = Vec::new();
    for ledger in ledgers {
        let (user_id, entries) = ledger?;
        updates.extend(
            standing::updates(user_id, &entries, &[board])
                .into_iter()
                .map(|mut update| {
                    update.expires_at = expires_at;
                    update
                }),
        );
    }
    if !updates.is_empty() {
        port.apply(&updates).await?;
    }
    Ok(())
}

/// Makes the learners of `copied` whose accounts are deleted anonymous on the week.
/// Run once the week is marked: a deletion that listed the archived weeks before the
/// mark did not see this one, but it marked the account before, so this sees it.
/// Learners a failed attempt copied count too: their rows stay in the store.
async fn forget_deleted(
    store: &Arc<dyn Store>,
    period: &str,
    copied: HashSet<Uuid>,
) -> Result<(), ArchiveError> {
    let copied: Vec<Uuid> = copied.into_iter().collect();
    for chunk in copied.chunks(PAGE) {
        for user in store.deleted_users(chunk).await? {
            store.forget_archived_learner(period, user).await?;
        }
    }
    Ok(())
}

/// Copies the board to the store page by page, noting every learner written in
/// `copied`; the number of learners copied, or `None` when the board changed meanwhile
/// (its size, or a rank out of place).
async fn copy_board(
    store: &Arc<dyn Store>,
    port: &dyn Leaderboard,
    key: &str,
    period: &str,
    copied_users: &mut HashSet<Uuid>,
) -> Result<Option<u64>, ArchiveError> {
    let total = port.len(key).await?;
    let mut copied: u64 = 0;
    loop {
        let page = port.range(key, copied, PAGE).await?;
        let in_place = page
            .iter()
            .enumerate()
            .all(|(i, e)| e.rank == copied + i as u64 + 1);
        if !in_place {
            return Ok(None);
        }
        let entries: Vec<ArchivedEntry> = page
            .iter()
            .map(|e| ArchivedEntry {
                rank: e.rank,
                user_id: e.user_id,
                score: e.score,
                reached_at: e.reached_at,
            })
            .collect();
        if !entries.is_empty() {
            copied_users.extend(entries.iter().map(|e| e.user_id));
            store.write_archive_entries(period, &entries).await?;
        }
        copied += entries.len() as u64;
        if entries.len() < PAGE {
            break;
        }
    }
    let settled = copied == total && port.len(key).await? == total;
    Ok(settled.then_some(copied))
}

/// Archives the weeks due at `now` that are not archived yet, unless another instance
/// holds the lease. Returns what was archived (nothing when nothing was due or
/// someone else is at it).
pub async fn archive_due(
    store: Arc<dyn Store>,
    port: &dyn Leaderboard,
    archived: &ArchivedWeeks,
    now: DateTime<Utc>,
) -> Result<Vec<ArchiveReport>, ArchiveError> {
    let mut due = Vec::new();
    for week in due_weeks(now) {
        if archived.get(week).await?.is_none() {
            due.push(week);
        }
    }
    if due.is_empty() || !port.claim(LEASE, LEASE_TTL).await? {
        return Ok(Vec::new());
    }
    let mut reports = Vec::new();
    let mut result = Ok(());
    // Oldest first: the week closest to leaving the board goes first.
    for week in due.into_iter().rev() {
        match archive_week(Arc::clone(&store), port, week).await {
            Ok(report) => reports.push(report),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if let Err(e) = port.release(LEASE).await {
        tracing::warn!(error = %e, "could not release the archive lease; it expires by itself");
    }
    result.map(|()| reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn labels(weeks: Vec<Week>) -> Vec<String> {
        weeks.into_iter().map(Week::label).collect()
    }

    #[test]
    fn weeks_are_due_once_ended_and_settled_while_kept() {
        // Monday 2026-11-30 starts W49: W48 ended at 00:00, when W44 left the board.
        assert_eq!(
            labels(due_weeks(at("2026-11-30T00:05:00Z"))),
            vec!["2026-W47", "2026-W46", "2026-W45"],
            "W48 waits for its grace"
        );
        assert_eq!(
            labels(due_weeks(at("2026-11-30T00:10:00Z"))),
            vec!["2026-W48", "2026-W47", "2026-W46", "2026-W45"]
        );
        assert_eq!(
            labels(due_weeks(at("2026-11-26T10:00:00Z"))),
            vec!["2026-W47", "2026-W46", "2026-W45", "2026-W44"]
        );
    }
}
