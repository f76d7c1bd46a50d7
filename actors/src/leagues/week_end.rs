//! The end of a league week: each cohort's results decided once, stored, and handed
//! to the outcome hook; and cohort boards rebuilt from the ledger when lost.
//!
//! Once a week has ended and [`GRACE`] has passed (the grace the weekly archive
//! uses: time for grants recorded in the week's last moments to be applied), one
//! instance holding the [`LEASE`] closes it:
//!
//! 1. the week's standing of every learner with grants still pending is set (an
//!    instance that died between the ledger and the boards), placing them if needed;
//! 2. the week's cohort boards are rebuilt from the ledger unless complete (the rule of
//!    the weekly boards: marked by a rebuild, or started after the all-time board's
//!    last rebuild, so every grant reached them live);
//! 3. cohort by cohort, the board's order gives the ranks (deleted learners left out),
//!    [`rules::tier_after`] the next tier; the results are stored on each membership and
//!    handed to the hook;
//! 4. the week is marked closed, last. A week's end cut short is run again whole: the
//!    boards are final by then, so it stores the same results again; a closed week is
//!    not run again by [`Leagues::close_due`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, stream};
use uuid::Uuid;

use super::rules::{self, COHORT_SIZE, Zone};
use super::{LeagueError, LeagueOutcome, Leagues, cohort_board, week_mark};
use crate::domain::Tier;
use crate::leaderboard::standing::standing_on;
use crate::leaderboard::{ALL_TIME, Board, Week};
use crate::observe::league_move;
use crate::ports::store::{CohortId, LeagueResult, LeagueWeek};
use crate::ports::{ScoreUpdate, StoreError};

/// Name of the lease that keeps instances from closing the same week at once.
pub const LEASE: &str = "league-week-end";

/// Name of the lease that keeps instances from rebuilding cohort boards at once.
pub const REBUILD_LEASE: &str = "league-rebuild";

/// How long a week's end may hold its lease (only wasted work if it outlives it: both
/// store the same results).
pub const LEASE_TTL: Duration = Duration::from_secs(15 * 60);

/// How long after a week ends its league is decided.
pub const GRACE: chrono::Duration = crate::leaderboard::archive::GRACE;

/// Most learners with pending grants brought up to date before deciding a week.
const PENDING_USERS: usize = 10_000;

/// Ledgers read at once.
const CONCURRENT_READS: usize = 16;

/// What closing a week did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekEnd {
    pub week: LeagueWeek,
    /// Whether the cohort boards had to be rebuilt from the ledger first.
    pub rebuilt: bool,
    pub promoted: u64,
    pub demoted: u64,
    pub stayed: u64,
}

impl Leagues {
    /// Whether the week's cohort boards hold everything the ledger says.
    pub async fn week_complete(&self, week: Week) -> Result<bool, LeagueError> {
        let port = self.leaderboards.port();
        if port.built_at(&week_mark(week)).await?.is_some() {
            return Ok(true);
        }
        Ok(port
            .built_at(ALL_TIME)
            .await?
            .is_some_and(|built| built <= week.starts_at()))
    }

    /// The cohorts of a week, every tier, in order.
    pub async fn cohorts(&self, week: Week) -> Result<Vec<CohortId>, LeagueError> {
        let label = week.label();
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

    /// Rebuilds every cohort board of `week` from its learners' ledgers and marks the
    /// week's boards complete. Returns the standings written.
    pub async fn rebuild_week(&self, week: Week) -> Result<u64, LeagueError> {
        let started_at = self.now();
        let port = self.leaderboards.port();
        let mut written = 0;
        for cohort in self.cohorts(week).await? {
            let members = self.store.league_cohort_members(&cohort).await?;
            let deleted = self.store.deleted_users(&members).await?;
            let key = cohort_board(&cohort);
            let ledgers: Vec<Result<_, StoreError>> =
                stream::iter(members.into_iter().filter(|u| !deleted.contains(u)))
                    .map(|user_id| {
                        let store = Arc::clone(&self.store);
                        async move { Ok((user_id, store.xp_entries(user_id).await?)) }
                    })
                    .buffer_unordered(CONCURRENT_READS)
                    .collect()
                    .await;
            let mut updates = Vec::new();
            for ledger in ledgers {
                let (user_id, entries) = ledger?;
                if let Some(standing) = standing_on(Board::Weekly(week), &entries) {
                    updates.push(ScoreUpdate {
                        board: key.clone(),
                        user_id,
                        standing,
                        expires_at: Some(week.expires_at()),
                    });
                }
            }
            written += updates.len() as u64;
            port.apply(&updates).await?;
        }
        port.mark_built(&week_mark(week), started_at, Some(week.expires_at()))
            .await?;
        tracing::info!(week = %week.label(), standings = written, "league boards rebuilt from the XP ledger");
        Ok(written)
    }

    /// Rebuilds the cohort boards of the weeks still in play (this week, and last week
    /// until it is decided) that are not complete, unless another instance is at it.
    pub async fn rebuild_missing(&self) -> Result<Vec<Week>, LeagueError> {
        let now = self.now();
        let current = Week::of(now);
        let mut missing = Vec::new();
        for week in [current.previous(), current] {
            if !self.is_closed(week).await? && !self.week_complete(week).await? {
                missing.push(week);
            }
        }
        let port = self.leaderboards.port();
        if missing.is_empty() || !port.claim(REBUILD_LEASE, LEASE_TTL).await? {
            return Ok(Vec::new());
        }
        let mut result = Ok(());
        for &week in &missing {
            if let Err(e) = self.rebuild_week(week).await {
                result = Err(e);
                break;
            }
        }
        if let Err(e) = port.release(REBUILD_LEASE).await {
            tracing::warn!(error = %e, "could not release the league rebuild lease; it expires by itself");
        }
        result.map(|()| missing)
    }

    /// Closes the weeks due (ended [`GRACE`] ago, still on the boards, not closed),
    /// oldest first, unless another instance holds the lease.
    pub async fn close_due(&self) -> Result<Vec<WeekEnd>, LeagueError> {
        let now = self.now();
        let mut due = Vec::new();
        let mut week = Week::of(now).previous();
        while week.expires_at() > now {
            if week.ends_at() + GRACE <= now && !self.is_closed(week).await? {
                due.push(week);
            }
            week = week.previous();
        }
        let port = self.leaderboards.port();
        if due.is_empty() || !port.claim(LEASE, LEASE_TTL).await? {
            return Ok(Vec::new());
        }
        let mut ends = Vec::new();
        let mut result = Ok(());
        for week in due.into_iter().rev() {
            match self.close_week(week).await {
                Ok(end) => ends.push(end),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if let Err(e) = port.release(LEASE).await {
            tracing::warn!(error = %e, "could not release the league week-end lease; it expires by itself");
        }
        result.map(|()| ends)
    }

    /// Decides `week` (see the module documentation). Running it again over a closed
    /// week stores the same results again and keeps the week's mark; only the first
    /// run counts the moves in the metrics. Callers hold the [`LEASE`].
    pub async fn close_week(&self, week: Week) -> Result<WeekEnd, LeagueError> {
        let now = self.now();
        let label = week.label();
        if week.ends_at() > now {
            return Err(LeagueError::NotEnded(label));
        }
        let already = self.store.league_week(&label).await?;
        self.settle_pending(week).await?;
        let rebuilt = !self.week_complete(week).await?;
        if rebuilt {
            self.rebuild_week(week).await?;
        }
        let port = self.leaderboards.port();
        let cohorts = self.cohorts(week).await?;
        let (mut promoted, mut demoted, mut stayed, mut learners) = (0u64, 0u64, 0u64, 0u64);
        for cohort in &cohorts {
            let entries = port
                .range(&cohort_board(cohort), 0, 2 * COHORT_SIZE as usize)
                .await?;
            let ids: Vec<Uuid> = entries.iter().map(|e| e.user_id).collect();
            let deleted = self.store.deleted_users(&ids).await?;
            let ranked: Vec<_> = entries
                .iter()
                .filter(|e| !deleted.contains(&e.user_id))
                .collect();
            let size = ranked.len() as u32;
            let mut results = Vec::with_capacity(ranked.len());
            let mut outcomes = Vec::with_capacity(ranked.len());
            for (i, entry) in ranked.iter().enumerate() {
                let rank = i as u32 + 1;
                let tier_after = rules::tier_after(cohort.tier, rank, size);
                match rules::zone(cohort.tier, rank, size) {
                    Zone::Promotion => promoted += 1,
                    Zone::Demotion => demoted += 1,
                    Zone::Stay => stayed += 1,
                }
                results.push((
                    entry.user_id,
                    LeagueResult {
                        tier_after,
                        rank,
                        xp: entry.score,
                        cohort_size: size,
                    },
                ));
                outcomes.push(LeagueOutcome {
                    user_id: entry.user_id,
                    week,
                    tier_before: cohort.tier,
                    tier_after,
                    rank,
                    xp: entry.score,
                });
            }
            learners += u64::from(size);
            self.store.set_league_results(&label, &results).await?;
            if let Some(hook) = &self.outcomes
                && !outcomes.is_empty()
            {
                hook.league_outcomes(&outcomes).await?;
            }
        }
        let closed = match already {
            Some(closed) => closed,
            None => {
                let closed = LeagueWeek {
                    week: label.clone(),
                    cohorts: cohorts.len() as u32,
                    learners,
                    closed_at: now,
                };
                self.store.mark_league_week_closed(&closed).await?;
                if let Some(metrics) = &self.metrics {
                    metrics.league_moves(league_move::PROMOTED, promoted);
                    metrics.league_moves(league_move::DEMOTED, demoted);
                    metrics.league_moves(league_move::STAYED, stayed);
                }
                closed
            }
        };
        self.lock_closed().insert(week);
        tracing::info!(week = %label, cohorts = cohorts.len(), learners, promoted, demoted, rebuilt, "league week decided");
        Ok(WeekEnd {
            week: closed,
            rebuilt,
            promoted,
            demoted,
            stayed,
        })
    }

    /// Sets the week's cohort standing of the learners whose grants are still pending.
    async fn settle_pending(&self, week: Week) -> Result<(), LeagueError> {
        let users = self.store.xp_pending_users(PENDING_USERS).await?;
        for user_id in users {
            let entries = self.store.xp_entries(user_id).await?;
            if self.store.deleted_users(&[user_id]).await?.is_empty() {
                self.apply_week(user_id, &entries, week).await?;
            }
        }
        Ok(())
    }

    /// Rebuilds lost cohort boards and closes the weeks due, now and every `every`,
    /// until `stop`.
    pub async fn run_until_stopped(
        self,
        every: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        loop {
            if let Err(e) = self.rebuild_missing().await {
                tracing::warn!(error = %e, "league boards not rebuilt; will retry");
            }
            if let Err(e) = self.close_due().await {
                tracing::warn!(error = %e, "league week's end failed; will retry");
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
