//! Rebuilding boards from the XP ledger.
//!
//! Redis may lose everything (many deployments keep nothing on disk). The ledger is the
//! truth, so a board is rebuilt by listing every user with a ledger and setting their
//! standing with the same computation live grants use ([`super::standing`]); the result
//! is the board that was lost, tie-breaks included. Standings carry their version
//! (entries summed), so a rebuild racing live grants, or another instance's rebuild,
//! never brings a score back. A board that finished a rebuild is marked with the time
//! the rebuild started: grants after that time reached it live.
//!
//! Deleted learners are skipped; one whose account is deleted while the rebuild reads
//! their ledger is taken off again once the page is written (the deletion marks the
//! account before it takes the learner off the boards, so one of the two removes what
//! the other wrote).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use uuid::Uuid;

use super::board::{Board, Week};
use super::standing;
use crate::ports::{Leaderboard, PortError, Store, StoreError};

/// Users listed per store read.
const PAGE: usize = 1000;

/// Ledgers read at once.
const CONCURRENT_READS: usize = 16;

/// Name of the lease that keeps instances from rebuilding at the same time.
pub const LEASE: &str = "rebuild";

/// How long a rebuild may hold the lease before another instance may start one
/// (harmless, only wasted work, if a long rebuild outlives it).
pub const LEASE_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Board(#[from] PortError),
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    pub started_at: DateTime<Utc>,
    /// Users whose ledger was read.
    pub users: u64,
    /// Standings written, over all boards.
    pub updates: u64,
    /// Keys of the boards rebuilt.
    pub boards: Vec<String>,
}

/// The boards Redis keeps at `now`: all-time and every week not yet expired.
pub fn kept_boards(now: DateTime<Utc>) -> Vec<Board> {
    let mut boards = vec![Board::AllTime];
    let mut week = Week::of(now);
    while week.expires_at() > now {
        boards.push(Board::Weekly(week));
        week = week.previous();
    }
    boards
}

/// Whether `board` holds everything the ledger says: it was marked by a rebuild, or (a
/// week) it began after the last rebuild of the all-time board, so every grant of it
/// was written live since.
pub async fn is_complete(port: &dyn Leaderboard, board: Board) -> Result<bool, PortError> {
    if port.built_at(&board.key()).await?.is_some() {
        return Ok(true);
    }
    match board {
        Board::AllTime => Ok(false),
        Board::Weekly(week) => Ok(port
            .built_at(&Board::AllTime.key())
            .await?
            .is_some_and(|built| built <= week.starts_at())),
    }
}

/// The boards among `boards` that are not complete.
pub async fn missing(port: &dyn Leaderboard, boards: &[Board]) -> Result<Vec<Board>, PortError> {
    let mut missing = Vec::new();
    for &board in boards {
        if !is_complete(port, board).await? {
            missing.push(board);
        }
    }
    Ok(missing)
}

/// Rebuilds `boards` from the ledger and marks them complete.
pub async fn rebuild(
    store: Arc<dyn Store>,
    port: &dyn Leaderboard,
    boards: &[Board],
) -> Result<RebuildReport, RebuildError> {
    rebuild_until(store, port, boards, Board::expires_at).await
}

/// [`rebuild`], the boards expiring at `expires_at(board)` instead of their own time:
/// the archiver builds a week past its retention for the time it takes to read it.
pub async fn rebuild_until(
    store: Arc<dyn Store>,
    port: &dyn Leaderboard,
    boards: &[Board],
    expires_at: impl Fn(Board) -> Option<DateTime<Utc>>,
) -> Result<RebuildReport, RebuildError> {
    let started_at = Utc::now();
    let mut report = RebuildReport {
        started_at,
        users: 0,
        updates: 0,
        boards: boards.iter().map(|b| b.key()).collect(),
    };
    if boards.is_empty() {
        return Ok(report);
    }
    let mut after: Option<Uuid> = None;
    loop {
        let page = store.xp_users(after, PAGE).await?;
        let deleted = store.deleted_users(&page).await?;
        let live = page.iter().copied().filter(|u| !deleted.contains(u));
        let ledgers: Vec<Result<_, StoreError>> = stream::iter(live)
            .map(|user_id| {
                let store = Arc::clone(&store);
                async move { Ok((user_id, store.xp_entries(user_id).await?)) }
            })
            .buffer_unordered(CONCURRENT_READS)
            .collect()
            .await;
        let mut updates = Vec::with_capacity(page.len() * boards.len());
        for ledger in ledgers {
            let (user_id, entries) = ledger?;
            for &board in boards {
                updates.extend(
                    standing::updates(user_id, &entries, &[board])
                        .into_iter()
                        .map(|mut update| {
                            update.expires_at = expires_at(board);
                            update
                        }),
                );
            }
        }
        port.apply(&updates).await?;
        for user in store.deleted_users(&page).await? {
            if !deleted.contains(&user) {
                for &board in boards {
                    port.remove(&board.key(), user).await?;
                }
            }
        }
        report.users += page.len() as u64;
        report.updates += updates.len() as u64;
        if page.len() < PAGE {
            break;
        }
        after = page.last().copied();
    }
    for &board in boards {
        port.mark_built(&board.key(), started_at, expires_at(board))
            .await?;
    }
    tracing::info!(
        users = report.users,
        updates = report.updates,
        boards = ?report.boards,
        "leaderboards rebuilt from the XP ledger"
    );
    Ok(report)
}

/// Rebuilds the kept boards that are not complete, unless another instance holds the
/// lease. Returns the report, or `None` when there was nothing to do or someone else
/// is doing it.
pub async fn rebuild_missing(
    store: Arc<dyn Store>,
    port: &dyn Leaderboard,
    now: DateTime<Utc>,
) -> Result<Option<RebuildReport>, RebuildError> {
    let missing = missing(port, &kept_boards(now)).await?;
    if missing.is_empty() || !port.claim(LEASE, LEASE_TTL).await? {
        return Ok(None);
    }
    let keys: Vec<String> = missing.iter().map(|b| b.key()).collect();
    // Missing boards are a loss only where boards outlive the process and the ledger
    // has something to rank; a fresh deployment or an in-process board is expected.
    if port.outlives_process() && !store.xp_users(None, 1).await?.is_empty() {
        tracing::warn!(
            boards = ?keys,
            "leaderboards missing (Redis lost its data?): rebuilding from the XP ledger"
        );
    } else {
        tracing::info!(boards = ?keys, "building the leaderboards from the XP ledger");
    }
    let result = rebuild(store, port, &missing).await;
    if let Err(e) = port.release(LEASE).await {
        tracing::warn!(error = %e, "could not release the rebuild lease; it expires by itself");
    }
    result.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_boards_are_all_time_and_the_retained_weeks() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let keys: Vec<String> = kept_boards(now).iter().map(|b| b.key()).collect();
        assert_eq!(
            keys,
            vec![
                "alltime",
                "weekly:2026-W48",
                "weekly:2026-W47",
                "weekly:2026-W46",
                "weekly:2026-W45",
                "weekly:2026-W44",
            ]
        );
    }
}
