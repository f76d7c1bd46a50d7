//! The XP audit (`questpath audit xp`): the ledger is the truth, and everything derived
//! from it is compared with what it says, learner by learner: the profile's total (and
//! so the level), the all-time board, the current week's board and the current week's
//! league cohort board. Then the boards are read page by page for entries of learners
//! the ledger does not have (deleted, retired, or written by hand).
//!
//! Learners are read a page of [`PAGE`] at a time ([`crate::ports::XpStore::xp_users`]),
//! never all at once.
//!
//! # Grants in flight
//! A grant is written to the ledger (with its pending mark) before the profile and the
//! boards, so a learner read mid-grant looks wrong for a moment. Each learner is read
//! in this order: ledger, profile, boards, pending marks, ledger again. A learner whose
//! ledger grew between the two reads is read again (up to three times); one with a
//! pending mark is counted as *in flight* and not compared (the XP recovery completes
//! it, or drops the mark when its grant never reached the ledger). Anything else that
//! differs is a difference.
//!
//! # Repair
//! [`repair`] brings every learner who differed back to the ledger through
//! [`XpService::apply`] (the grants' own path: profile, boards, league, streak days),
//! after taking their wrong board entries off (a board ignores a standing older than its
//! own, and a hand-written one may claim to be newer), removes entries of learners
//! without a ledger, and rebuilds the kept boards from the ledger
//! ([`crate::leaderboard::rebuild`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use uuid::Uuid;

use crate::domain::Tier;
use crate::leaderboard::rebuild::{self, RebuildError};
use crate::leaderboard::standing::{standing, standing_on};
use crate::leaderboard::{Board, Week};
use crate::leagues::cohort_board;
use crate::ports::store::CohortId;
use crate::ports::{Leaderboard, LeaderboardEntry, PortError, Standing, Store, StoreError};
use crate::rules::xp::player_level;
use crate::xp::XpService;

/// Learners (and board entries) read per page.
pub const PAGE: usize = 1000;

/// Learners read at once.
const CONCURRENT_READS: usize = 16;

/// Differences kept in a report (all are counted).
const MAX_LISTED: usize = 10_000;

/// Reads of one learner before they count as in flight.
const ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Board(#[from] PortError),
    #[error(transparent)]
    Rebuild(#[from] RebuildError),
}

/// One thing that is not what the ledger says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Difference {
    pub user_id: Uuid,
    /// `total_xp`, a board key (`alltime`, `weekly:2026-W49`, `league:2026-W49:gold:0`) or
    /// `league` (the placement).
    pub what: String,
    pub expected: String,
    pub found: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: expected {}, found {}",
            self.user_id, self.what, self.expected, self.found
        )
    }
}

/// What an audit found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditReport {
    /// Learners with a ledger that were compared.
    pub learners: u64,
    /// Learners with grants pending (or a ledger growing while read): not compared.
    pub in_flight: u64,
    /// Board entries read while looking for learners without a ledger.
    pub board_entries: u64,
    /// Every difference found; at most `MAX_LISTED` (10,000) are listed.
    pub differences: Vec<Difference>,
    pub difference_count: u64,
    /// Boards compared (empty when the boards could not be read).
    pub boards: Vec<String>,
    /// What the audit could not check, and why.
    pub notes: Vec<String>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.difference_count == 0
    }

    fn push(&mut self, difference: Difference) {
        self.difference_count += 1;
        if self.differences.len() < MAX_LISTED {
            self.differences.push(difference);
        }
    }

    /// The learners who differ (from the listed differences).
    pub fn learners_differing(&self) -> BTreeSet<Uuid> {
        self.differences.iter().map(|d| d.user_id).collect()
    }

    /// One line: what was checked and what was found.
    pub fn summary(&self) -> String {
        format!(
            "audit xp: {} learners checked, {} with grants in flight (not compared), {} board entries read, {} difference{}",
            self.learners,
            self.in_flight,
            self.board_entries,
            self.difference_count,
            if self.difference_count == 1 { "" } else { "s" }
        )
    }
}

/// What [`repair`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RepairReport {
    /// Learners brought back to their ledger.
    pub learners: u64,
    /// Board entries taken off (wrong, or of learners without a ledger).
    pub removed: u64,
    /// Boards rebuilt from the ledger.
    pub rebuilt: Vec<String>,
}

/// Compares the ledger with what is derived from it.
pub struct XpAudit {
    store: Arc<dyn Store>,
    /// `None` when the boards live in another process (the embedded default's
    /// in-process boards while no server runs).
    boards: Option<Arc<dyn Leaderboard>>,
    week: Week,
}

/// One learner's derived state, as read.
struct Found {
    total: Option<i64>,
    alltime: Option<LeaderboardEntry>,
    weekly: Option<LeaderboardEntry>,
    /// The current week's cohort and the learner's entry on its board.
    league: Option<(CohortId, Option<LeaderboardEntry>)>,
}

impl XpAudit {
    pub fn new(
        store: Arc<dyn Store>,
        boards: Option<Arc<dyn Leaderboard>>,
        now: DateTime<Utc>,
    ) -> Self {
        XpAudit {
            store,
            boards,
            week: Week::of(now),
        }
    }

    fn board_keys(&self) -> Vec<String> {
        vec![Board::AllTime.key(), Board::Weekly(self.week).key()]
    }

    pub async fn run(&self) -> Result<AuditReport, AuditError> {
        let mut report = AuditReport::default();
        match &self.boards {
            Some(port) => {
                report.boards = self.board_keys();
                report.boards.push(format!("league:{}:*", self.week.label()));
                for board in [Board::AllTime, Board::Weekly(self.week)] {
                    if !rebuild::is_complete(port.as_ref(), board).await? {
                        report.notes.push(format!(
                            "{} is not marked complete: a rebuild from the ledger is due (servers start one by themselves)",
                            board.key()
                        ));
                    }
                }
            }
            None => report.notes.push(
                "boards and leagues not checked: they are in-process (no QUESTPATH_REDIS_URL), in a server's memory out of this command's reach, and each server builds its own from the ledger when it starts".into(),
            ),
        }
        let mut after = None;
        loop {
            let page = self.store.xp_users(after, PAGE).await?;
            let deleted = self.store.deleted_users(&page).await?;
            let results: Vec<Result<Option<Vec<Difference>>, AuditError>> =
                stream::iter(page.iter().copied().filter(|u| !deleted.contains(u)))
                    .map(|user_id| self.learner(user_id))
                    .buffer_unordered(CONCURRENT_READS)
                    .collect()
                    .await;
            for result in results {
                match result? {
                    None => report.in_flight += 1,
                    Some(differences) => {
                        report.learners += 1;
                        for d in differences {
                            report.push(d);
                        }
                    }
                }
            }
            if page.len() < PAGE {
                break;
            }
            after = page.last().copied();
        }
        if let Some(port) = &self.boards {
            for key in self.board_keys() {
                self.strays(port.as_ref(), &key, None, &mut report).await?;
            }
            for cohort in self.cohorts().await? {
                let members = self.store.league_cohort_members(&cohort).await?;
                self.strays(
                    port.as_ref(),
                    &cohort_board(&cohort),
                    Some(&members),
                    &mut report,
                )
                .await?;
            }
        }
        Ok(report)
    }

    /// The learner's differences; `None` while a grant of theirs is in flight.
    async fn learner(&self, user_id: Uuid) -> Result<Option<Vec<Difference>>, AuditError> {
        for _ in 0..ATTEMPTS {
            let entries = self.store.xp_entries(user_id).await?;
            let found = self.found(user_id).await?;
            let pending = self.store.xp_pending(user_id).await?;
            let again = self.store.xp_entries(user_id).await?;
            if again.len() != entries.len() {
                continue;
            }
            if !pending.is_empty() {
                return Ok(None);
            }
            return Ok(Some(self.compare(user_id, &entries, found)));
        }
        Ok(None)
    }

    async fn found(&self, user_id: Uuid) -> Result<Found, AuditError> {
        let total = self.store.user_by_id(user_id).await?.map(|u| u.total_xp);
        let Some(port) = &self.boards else {
            return Ok(Found {
                total,
                alltime: None,
                weekly: None,
                league: None,
            });
        };
        let alltime = port.entry(&Board::AllTime.key(), user_id).await?;
        let weekly = port.entry(&Board::Weekly(self.week).key(), user_id).await?;
        let league = match self
            .store
            .league_membership(user_id, &self.week.label())
            .await?
        {
            Some(membership) => {
                let entry = port
                    .entry(&cohort_board(&membership.cohort), user_id)
                    .await?;
                Some((membership.cohort, entry))
            }
            None => None,
        };
        Ok(Found {
            total,
            alltime,
            weekly,
            league,
        })
    }

    fn compare(
        &self,
        user_id: Uuid,
        entries: &[crate::ports::XpEntry],
        found: Found,
    ) -> Vec<Difference> {
        let mut differences = Vec::new();
        let mut differ = |what: String, expected: String, found: String| {
            differences.push(Difference {
                user_id,
                what,
                expected,
                found,
            })
        };
        let sum: i64 = entries.iter().map(|e| e.amount).sum();
        match found.total {
            Some(total) if total == sum => {}
            Some(total) => differ("total_xp".into(), with_level(sum), with_level(total)),
            None => differ("total_xp".into(), with_level(sum), "no account".into()),
        }
        if self.boards.is_none() {
            return differences;
        }
        let weekly = standing_on(Board::Weekly(self.week), entries);
        for (key, expected, entry) in [
            (Board::AllTime.key(), standing(entries), found.alltime),
            (Board::Weekly(self.week).key(), weekly, found.weekly),
        ] {
            if let Some((expected, found)) = board_difference(expected, entry) {
                differ(key, expected, found);
            }
        }
        match (weekly, found.league) {
            (None, None) => {}
            (Some(standing), None) => differ(
                "league".into(),
                format!(
                    "placed in a {} cohort with {} XP",
                    self.week.label(),
                    standing.score
                ),
                "not placed".into(),
            ),
            (standing, Some((cohort, entry))) => {
                if let Some((expected, found)) = board_difference(standing, entry) {
                    differ(cohort_board(&cohort), expected, found);
                }
            }
        }
        differences
    }

    /// The current week's cohorts.
    async fn cohorts(&self) -> Result<Vec<CohortId>, AuditError> {
        let label = self.week.label();
        let mut cohorts = Vec::new();
        for tier in Tier::ALL {
            let count = self.store.league_cohort_count(&label, tier).await?;
            cohorts.extend((0..count).map(|number| CohortId {
                week: label.clone(),
                tier,
                number,
            }));
        }
        Ok(cohorts)
    }

    /// Entries of `key` whose learner has no ledger (or is deleted), or (a cohort board)
    /// is not a member of the cohort: none of them should be there.
    async fn strays(
        &self,
        port: &dyn Leaderboard,
        key: &str,
        members: Option<&[Uuid]>,
        report: &mut AuditReport,
    ) -> Result<(), AuditError> {
        let mut offset = 0u64;
        loop {
            let page = port.range(key, offset, PAGE).await?;
            report.board_entries += page.len() as u64;
            let users: Vec<Uuid> = page.iter().map(|e| e.user_id).collect();
            let deleted = self.store.deleted_users(&users).await?;
            let ledgers: Vec<Result<(LeaderboardEntry, bool), StoreError>> =
                stream::iter(page.iter().copied())
                    .map(|entry| async move {
                        let empty = self.store.xp_entries(entry.user_id).await?.is_empty();
                        Ok((entry, empty))
                    })
                    .buffer_unordered(CONCURRENT_READS)
                    .collect()
                    .await;
            for ledger in ledgers {
                let (entry, empty) = ledger?;
                let why = if deleted.contains(&entry.user_id) {
                    "absent (account deleted)"
                } else if empty {
                    "absent (no ledger)"
                } else if members.is_some_and(|m| !m.contains(&entry.user_id)) {
                    "absent (not a member of this cohort)"
                } else {
                    continue;
                };
                report.push(Difference {
                    user_id: entry.user_id,
                    what: key.to_string(),
                    expected: why.into(),
                    found: format!("{} XP", entry.score),
                });
            }
            if page.len() < PAGE {
                return Ok(());
            }
            offset += PAGE as u64;
        }
    }
}

fn with_level(total: i64) -> String {
    format!("{total} XP (level {})", player_level(total))
}

/// How a board entry differs from the ledger's standing, if it does: the score, or the
/// time it was reached (the tie-break) to the millisecond.
fn board_difference(
    expected: Option<Standing>,
    found: Option<LeaderboardEntry>,
) -> Option<(String, String)> {
    match (expected, found) {
        (None, None) => None,
        (Some(s), None) => Some((format!("{} XP", s.score), "absent".into())),
        (None, Some(e)) => Some(("absent".into(), format!("{} XP", e.score))),
        (Some(s), Some(e)) if s.score != e.score => {
            Some((format!("{} XP", s.score), format!("{} XP", e.score)))
        }
        (Some(s), Some(e))
            if s.reached_at.timestamp_millis() != e.reached_at.timestamp_millis() =>
        {
            Some((
                format!("{} XP reached at {}", s.score, s.reached_at.to_rfc3339()),
                format!("{} XP reached at {}", e.score, e.reached_at.to_rfc3339()),
            ))
        }
        _ => None,
    }
}

/// Brings what `report` found wrong back to the ledger (see the module documentation):
/// `xp` must write to the boards audited (`port`, `None` when they were not).
pub async fn repair(
    xp: &XpService,
    store: Arc<dyn Store>,
    port: Option<&dyn Leaderboard>,
    report: &AuditReport,
    now: DateTime<Utc>,
) -> Result<RepairReport, AuditError> {
    let mut repaired = RepairReport::default();
    if let Some(port) = port {
        for d in &report.differences {
            let on_a_board = d.what.contains(':') || d.what == Board::AllTime.key();
            if on_a_board && port.remove(&d.what, d.user_id).await? {
                repaired.removed += 1;
            }
        }
    }
    for user_id in report.learners_differing() {
        if !store.xp_entries(user_id).await?.is_empty() {
            xp.apply(user_id).await?;
            repaired.learners += 1;
        }
    }
    if let Some(port) = port {
        let boards = rebuild::kept_boards(now);
        repaired.rebuilt = rebuild::rebuild(store, port, &boards).await?.boards;
        xp.leagues()
            .rebuild_week(Week::of(now))
            .await
            .map_err(|e| match e {
                crate::leagues::LeagueError::Store(e) => AuditError::Store(e),
                crate::leagues::LeagueError::Board(e) => AuditError::Board(e),
                other => AuditError::Board(PortError::new("leagues", "rebuild", other.to_string())),
            })?;
        repaired
            .rebuilt
            .push(crate::leagues::week_mark(Week::of(now)));
    }
    Ok(repaired)
}

/// An audit, and with `--repair` what the repair did and the audit after it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRun {
    pub found: AuditReport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<RepairReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<AuditReport>,
}

impl AuditRun {
    /// The state the run leaves: the audit after the repair, or the only one.
    pub fn last(&self) -> &AuditReport {
        self.after.as_ref().unwrap_or(&self.found)
    }
}

/// Audits, and when `repair` is set and something differs, repairs and audits again.
/// `port` is the boards `xp` writes to, `None` when they cannot be read here.
pub async fn audit_and_repair(
    xp: &XpService,
    store: Arc<dyn Store>,
    port: Option<Arc<dyn Leaderboard>>,
    repair_too: bool,
    now: DateTime<Utc>,
) -> Result<AuditRun, AuditError> {
    let audit = XpAudit::new(Arc::clone(&store), port.clone(), now);
    let found = audit.run().await?;
    if !repair_too || found.is_clean() {
        return Ok(AuditRun {
            found,
            repair: None,
            after: None,
        });
    }
    let repaired = repair(xp, store, port.as_deref(), &found, now).await?;
    tracing::warn!(
        differences = found.difference_count,
        learners = repaired.learners,
        removed = repaired.removed,
        "xp audit: derived state repaired from the ledger"
    );
    let after = audit.run().await?;
    Ok(AuditRun {
        found,
        repair: Some(repaired),
        after: Some(after),
    })
}
