//! Weekly leagues: each week, a learner who earns XP is placed in a cohort of about 30
//! learners of their tier, ranked by the week's XP; at the week's end the top of each
//! cohort moves up a tier and the bottom down one.
//!
//! - [`rules`]: tiers' zones and the week's outcome, pure.
//! - Placement (here): the first grant of a learner's week places them, through the
//!   store's atomic [`crate::ports::store::LeagueStore::place_in_league`] (once per learner and week; cohorts
//!   never pass [`rules::COHORT_SIZE`]; a new cohort opens when the open one is full,
//!   so nobody waits). The tier is the one their last week's result gave (Bronze at
//!   first). Until last week is decided (minutes into Monday) a learner who played it
//!   is not placed yet: their grant stays pending and the XP recovery places them once
//!   it is, in the right tier.
//! - Standings: a board per cohort on the leaderboard port (`league:2026-W48:gold:3`),
//!   set to the learner's weekly standing from the ledger, through the leaderboard
//!   actor that batches every grant ([`crate::leaderboard::Leaderboards::apply`]).
//!   The XP service calls [`Leagues::apply_ledger`] after the other boards and leaves
//!   the grant pending when it fails, so a crash never loses a league point and a retry
//!   never counts one twice (standings are set, not added).
//! - [`week_end`]: after the grace the weekly archive uses, one instance (under a
//!   lease) decides each cohort's results from its board (rebuilt from the ledger first
//!   when the board is not complete), stores them, hands them to the
//!   [`LeagueOutcomes`] hook, and marks the week closed.
//! - [`push`]: `league.standings` to the learners of a cohort whose standings changed,
//!   at most once a second per cohort.
//! - [`view`]: the current cohort with its zones and time left, and past results.

pub mod push;
pub mod rules;
pub mod view;
pub mod week_end;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::DateTime;
use chrono::Utc;
use uuid::Uuid;

use crate::clock::{Clock, SystemClock};
use crate::domain::Tier;
use crate::leaderboard::names::Names;
use crate::leaderboard::standing::standing_on;
use crate::leaderboard::{Board, Leaderboards, Week};
use crate::observe::GameMetrics;
use crate::ports::store::{CohortId, LeagueMembership};
use crate::ports::{Bus, PortError, ScoreUpdate, Store, StoreError, XpEntry};

pub use rules::{COHORT_SIZE, Zone, Zones};

/// Memberships remembered per instance, so a learner's later grants of the week cost no
/// store read.
const PLACED_CACHE: u64 = 200_000;

#[derive(Debug, thiserror::Error)]
pub enum LeagueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Board(#[from] PortError),
    /// The learner played the league of the week named, whose results are not decided
    /// yet: their next tier is unknown until then.
    #[error("the league week {0} is not decided yet")]
    NotSettled(String),
    #[error("the league week {0} has not ended")]
    NotEnded(String),
}

/// How one learner's league week ended, handed to the [`LeagueOutcomes`] hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeagueOutcome {
    pub user_id: Uuid,
    pub week: Week,
    pub tier_before: Tier,
    pub tier_after: Tier,
    /// Final place in the cohort, 1 is the top.
    pub rank: u32,
    /// XP earned in the week.
    pub xp: i64,
}

/// Where the week's end hands its outcomes (notifications, the weekly summary email).
///
/// Called once per cohort, after the cohort's results are stored. A week's end cut
/// short (a crash, a lost lease, an error from this hook) is run again and hands the
/// outcomes of the cohorts it redoes again, identical: a receiver deduplicates by
/// `(user_id, week)`. Should queue its work rather than do it, so the week's end is not
/// held up.
#[async_trait]
pub trait LeagueOutcomes: Send + Sync + 'static {
    /// An error leaves the week open, to be closed again (and this called again).
    async fn league_outcomes(&self, outcomes: &[LeagueOutcome]) -> Result<(), PortError>;
}

/// The board key of a cohort's standings: `league:2026-W48:gold:3`.
pub fn cohort_board(cohort: &CohortId) -> String {
    format!("league:{}:{}:{}", cohort.week, cohort.tier, cohort.number)
}

/// The key under which a week's cohort boards are marked complete (rebuilt from the
/// ledger): `league:2026-W48`. Holds no standings.
pub fn week_mark(week: Week) -> String {
    format!("league:{}", week.label())
}

/// Weekly leagues over the store, the leaderboard port (through the actor) and the bus.
#[derive(Clone)]
pub struct Leagues {
    store: Arc<dyn Store>,
    leaderboards: Leaderboards,
    clock: Arc<dyn Clock>,
    names: Names,
    metrics: Option<Arc<dyn GameMetrics>>,
    outcomes: Option<Arc<dyn LeagueOutcomes>>,
    placed: moka::future::Cache<(Uuid, Week), LeagueMembership>,
    /// Weeks known closed (a week is never reopened).
    closed: Arc<Mutex<std::collections::HashSet<Week>>>,
    pusher: push::Pusher,
}

impl Leagues {
    /// On the system clock. Inside a tokio runtime, starts the task that pushes
    /// standings (outside one, in tools, nothing is pushed).
    pub fn new(store: Arc<dyn Store>, leaderboards: Leaderboards, bus: Arc<dyn Bus>) -> Self {
        let names = Names::new(Arc::clone(&store));
        let pusher = push::Pusher::start(
            Arc::clone(leaderboards.port()),
            Arc::clone(&bus),
            names.clone(),
        );
        Leagues {
            store,
            leaderboards,
            clock: Arc::new(SystemClock),
            names,
            metrics: None,
            outcomes: None,
            placed: moka::future::Cache::builder()
                .max_capacity(PLACED_CACHE)
                .time_to_idle(Duration::from_secs(24 * 3600))
                .build(),
            closed: Arc::default(),
            pusher,
        }
    }

    /// Reads "now" from `clock` (tests drive a week with a manual clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Counts cohorts formed and the moves of each week's end.
    pub fn with_metrics(mut self, metrics: Arc<dyn GameMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Hands each week's outcomes to `hook`.
    pub fn with_outcomes(mut self, hook: Arc<dyn LeagueOutcomes>) -> Self {
        self.outcomes = Some(hook);
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Places the learner and sets their cohort standing for each week the grants
    /// being applied (`pending`) were earned in (the current week without any), from
    /// their ledger. Safe to repeat. A week already decided is left as it was.
    pub async fn apply_ledger(
        &self,
        user_id: Uuid,
        entries: &[XpEntry],
        pending: &[String],
    ) -> Result<(), LeagueError> {
        let now = self.now();
        let mut weeks: Vec<Week> = entries
            .iter()
            .filter(|e| pending.contains(&e.grant_id))
            .map(|e| Week::of(e.created_at))
            .collect();
        if weeks.is_empty() {
            weeks.push(Week::of(now));
        }
        weeks.sort();
        weeks.dedup();
        for week in weeks {
            if week.starts_at() <= now && !self.is_closed(week).await? {
                self.apply_week(user_id, entries, week).await?;
            }
        }
        Ok(())
    }

    /// [`Leagues::apply_ledger`] for one week, closed or not: the learner's weekly
    /// standing set on their cohort's board (placed first when they are not yet). The
    /// cohort, or `None` when the ledger has nothing of the week.
    pub(crate) async fn apply_week(
        &self,
        user_id: Uuid,
        entries: &[XpEntry],
        week: Week,
    ) -> Result<Option<CohortId>, LeagueError> {
        let Some(standing) = standing_on(Board::Weekly(week), entries) else {
            return Ok(None);
        };
        let membership = self.place(user_id, week).await?;
        let update = ScoreUpdate {
            board: cohort_board(&membership.cohort),
            user_id,
            standing,
            expires_at: Some(week.expires_at()),
        };
        let placements = self.leaderboards.apply(vec![update]).await?;
        if placements.iter().any(|p| p.applied) {
            self.pusher.changed(membership.cohort.clone());
        }
        Ok(Some(membership.cohort))
    }

    /// The learner's membership of `week`, placing them when they have none.
    async fn place(&self, user_id: Uuid, week: Week) -> Result<LeagueMembership, LeagueError> {
        if let Some(membership) = self.placed.get(&(user_id, week)).await {
            return Ok(membership);
        }
        let label = week.label();
        let tier = match self.store.league_membership(user_id, &label).await? {
            Some(existing) => existing.cohort.tier,
            None => self.tier_for(user_id, week).await?,
        };
        let placement = self
            .store
            .place_in_league(user_id, &label, tier, COHORT_SIZE, self.now())
            .await?;
        if placement.opened
            && let Some(metrics) = &self.metrics
        {
            metrics.league_cohort_formed(placement.membership.cohort.tier.as_str());
        }
        if placement.placed {
            tracing::debug!(%user_id, cohort = %cohort_board(&placement.membership.cohort), "placed in a league cohort");
        }
        self.placed
            .insert((user_id, week), placement.membership.clone())
            .await;
        Ok(placement.membership)
    }

    /// The tier the learner is placed in for `week`: the one their latest decided week
    /// gave, Bronze without one. Fails with [`LeagueError::NotSettled`] while the week
    /// before, which they played, is not decided.
    pub async fn tier_for(&self, user_id: Uuid, week: Week) -> Result<Tier, LeagueError> {
        let label = week.label();
        let latest = self
            .store
            .league_memberships(user_id, Some(&label), 1)
            .await?;
        let Some(latest) = latest.into_iter().next() else {
            return Ok(Tier::FIRST);
        };
        if let Some(result) = latest.result {
            return Ok(result.tier_after);
        }
        let previous = week.previous();
        if latest.cohort.week == previous.label() && !self.is_closed(previous).await? {
            return Err(LeagueError::NotSettled(previous.label()));
        }
        // A week decided without this learner (deleted from its board meanwhile) keeps
        // their tier.
        Ok(latest.cohort.tier)
    }

    /// Whether the week's results are decided.
    pub async fn is_closed(&self, week: Week) -> Result<bool, LeagueError> {
        if week.ends_at() > self.now() {
            return Ok(false);
        }
        if self.lock_closed().contains(&week) {
            return Ok(true);
        }
        let closed = self.store.league_week(&week.label()).await?.is_some();
        if closed {
            self.lock_closed().insert(week);
        }
        Ok(closed)
    }

    fn lock_closed(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<Week>> {
        // A set of weeks is always whole: a panic elsewhere cannot leave it half-changed.
        self.closed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets a deleted learner's leagues: off the cohort boards still kept, then every
    /// membership and result from the store. Safe to repeat. Returns the memberships
    /// removed.
    pub async fn forget(&self, user_id: Uuid) -> Result<u32, LeagueError> {
        let now = self.now();
        let memberships = self
            .store
            .league_memberships(user_id, None, usize::MAX)
            .await?;
        for membership in &memberships {
            if let Some(week) = Week::parse(&membership.cohort.week) {
                self.placed.invalidate(&(user_id, week)).await;
                if week.expires_at() > now {
                    self.leaderboards
                        .port()
                        .remove(&cohort_board(&membership.cohort), user_id)
                        .await?;
                }
            }
        }
        Ok(self.store.forget_league_learner(user_id).await?)
    }
}
