//! Granting XP through the ledger: written once under a deterministic id, then applied
//! to the profile and the leaderboards by setting both to the ledger's sum. Setting
//! (not adding) makes every step safe to repeat, so a crash anywhere is completed by
//! running the same steps again: `recover` does that for pending grants.
//!
//! The boards are written by the leaderboard actor (`crate::leaderboard::actor`), which
//! batches grants from every session; `apply` waits for the actor's answer and only
//! then clears the pending marks, so a grant the boards did not take stays pending.
//!
//! A deleted learner's XP is forgotten ([`XpService::forget`]): their ledger is retired
//! (moved under an anonymous id, so the XP ever granted still adds up) and they leave
//! every board. The store refuses their grants from the moment the account is marked
//! deleted; an apply that was already running when it was checks the mark after writing
//! the boards and takes back what it wrote, so no board keeps a deleted learner.
//!
//! A grant that moves the learner up a level notifies them ([`crate::notifications`])
//! from `apply`, before the pending marks are cleared: a crash before the notification
//! leaves the grant pending and recovery notifies, and the notification's key
//! (`level_up:{level}`) makes the repeat harmless.
//!
//! A pending mark whose ledger write never happened (the CQL store writes the mark
//! before the ledger's lightweight transaction, and a crash or a timeout between them
//! leaves the mark alone) covers nothing, so `apply` never clears it. Recovery notes
//! when it first sees such a mark and drops it once it has stayed without a ledger
//! entry for [`XpService::with_stale_pending_after`] (an hour by default), with a
//! warning and `questpath_xp_pending_dropped_total`. The time is noted in memory: the
//! mark has no time of its own in the store, and a grant still in flight is at most
//! seconds behind its mark, so an hour seen by one instance is proof enough; an
//! instance that restarts starts counting again (another instance may drop it first).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::rules::xp::{XpGrant, player_level};
use uuid::Uuid;

use crate::clock::{Clock, SystemClock};

use crate::events::XpGranted;
use crate::leaderboard::{LeaderboardError, Leaderboards};
use crate::leagues::{LeagueError, LeagueOutcomes, Leagues};
use crate::notifications::{LevelUp, NewNotification, Notifications};
use crate::observe::GameMetrics;
use crate::ports::bus::{UserEvent, user_topic};
use crate::ports::store::RetiredXp;
use crate::ports::{Bus, Leaderboard, Store, StoreError, XpEntry};
use crate::streaks::Streaks;

/// The all-time leaderboard.
pub use crate::leaderboard::ALL_TIME;

/// Result of a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantOutcome {
    /// XP this call added: the grant's amount, or 0 when it had been granted before.
    pub earned: i64,
    pub total_xp: i64,
}

impl GrantOutcome {
    /// Whether the grant moved the learner to a higher player level.
    pub fn level_up(&self) -> bool {
        self.earned > 0 && player_level(self.total_xp) > player_level(self.total_xp - self.earned)
    }
}

#[derive(Clone)]
pub struct XpService {
    store: Arc<dyn Store>,
    leaderboards: Leaderboards,
    /// Weekly leagues, written after the boards from the same ledger read.
    leagues: Leagues,
    bus: Arc<dyn Bus>,
    /// XP granted by source and level-ups; `None` in tools and tests that do not scrape.
    metrics: Option<Arc<dyn GameMetrics>>,
    /// Level-up notifications; `None` in tools and tests that do not notify.
    notifications: Option<Notifications>,
    /// The time a grant is recorded at (decides the learner's day it counts for).
    clock: Arc<dyn Clock>,
    /// Counts applied grants into the learners' days; `None` where no streak is kept.
    streaks: Option<Streaks>,
    /// How long a pending mark may stay without its ledger entry before recovery drops it.
    stale_pending_after: Duration,
    /// The pending marks without a ledger entry recovery has seen.
    orphans: Arc<Mutex<FirstSeen>>,
}

/// When recovery first saw each pending mark without a ledger entry, by (user, grant).
type FirstSeen = HashMap<(Uuid, String), DateTime<Utc>>;

/// Default of [`XpService::with_stale_pending_after`].
pub const STALE_PENDING_AFTER: Duration = Duration::from_secs(3600);

impl XpService {
    /// Starts the leaderboard actor too, when called inside an actix system (see
    /// [`Leaderboards::start`]).
    pub fn new(
        store: Arc<dyn Store>,
        leaderboard: Arc<dyn Leaderboard>,
        bus: Arc<dyn Bus>,
    ) -> Self {
        let leaderboards = Leaderboards::start(Arc::clone(&store), leaderboard, Arc::clone(&bus));
        Self::over(store, leaderboards, bus)
    }

    /// Without the leaderboard actor: board writes go straight to the port and no
    /// background upkeep runs (tools that run once, such as the audit's repair).
    pub fn direct(
        store: Arc<dyn Store>,
        leaderboard: Arc<dyn Leaderboard>,
        bus: Arc<dyn Bus>,
    ) -> Self {
        let leaderboards = Leaderboards::direct(Arc::clone(&store), leaderboard);
        Self::over(store, leaderboards, bus)
    }

    fn over(store: Arc<dyn Store>, leaderboards: Leaderboards, bus: Arc<dyn Bus>) -> Self {
        XpService {
            leagues: Leagues::new(Arc::clone(&store), leaderboards.clone(), Arc::clone(&bus)),
            leaderboards,
            store,
            bus,
            metrics: None,
            notifications: None,
            clock: Arc::new(SystemClock),
            streaks: None,
            stale_pending_after: STALE_PENDING_AFTER,
            orphans: Arc::default(),
        }
    }

    /// Drops a pending mark that has had no ledger entry for `after` (see the module
    /// documentation).
    pub fn with_stale_pending_after(mut self, after: Duration) -> Self {
        self.stale_pending_after = after;
        self
    }

    /// Notifies learners of the levels their grants reach.
    pub fn with_notifications(mut self, notifications: Notifications) -> Self {
        self.notifications = Some(notifications);
        self
    }

    /// Records grants, and places and decides league weeks, at `clock`'s time (tests
    /// drive it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.leagues = self.leagues.with_clock(Arc::clone(&clock));
        self.clock = clock;
        self
    }

    /// Counts every applied grant into the learner's streak days, before the grant's
    /// pending mark is cleared (so the XP recovery completes it after a crash).
    pub fn with_streaks(mut self, streaks: Streaks) -> Self {
        self.streaks = Some(streaks);
        self
    }

    /// The streaks the grants reach, if any.
    pub fn streaks(&self) -> Option<&Streaks> {
        self.streaks.as_ref()
    }

    /// Counts grants (by source) and level-ups in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn GameMetrics>) -> Self {
        self.leagues = self.leagues.with_metrics(Arc::clone(&metrics));
        self.metrics = Some(metrics);
        self
    }

    /// Hands every league week's outcomes to `hook` (see [`LeagueOutcomes`]).
    pub fn with_league_outcomes(mut self, hook: Arc<dyn LeagueOutcomes>) -> Self {
        self.leagues = self.leagues.with_outcomes(hook);
        self
    }

    /// The weekly leagues the grants reach.
    pub fn leagues(&self) -> &Leagues {
        &self.leagues
    }

    /// The leaderboards the grants reach (reads for routes, subscriptions for sessions).
    pub fn leaderboards(&self) -> &Leaderboards {
        &self.leaderboards
    }

    /// Grants `grant` to the user exactly once, whatever retries happen.
    pub async fn grant(&self, user_id: Uuid, grant: &XpGrant) -> Result<GrantOutcome, StoreError> {
        let entry = XpEntry {
            user_id,
            grant_id: grant.grant_id.clone(),
            amount: grant.amount,
            source: grant.source.as_str().to_string(),
            created_at: self.clock.now(),
        };
        let written = self.store.record_xp(&entry).await?;
        crate::fault::point("xp.after_ledger");
        let total_xp = self.apply(user_id).await?;
        let earned = if written { grant.amount } else { 0 };
        if written && let Some(metrics) = &self.metrics {
            metrics.xp_granted(grant.source.as_str(), grant.amount);
            if (GrantOutcome { earned, total_xp }).level_up() {
                metrics.level_up();
            }
        }
        if written {
            tracing::info!(%user_id, grant_id = %grant.grant_id, amount = grant.amount, total_xp, "xp granted");
            let event = UserEvent::XpGranted(XpGranted {
                amount: grant.amount,
                total_xp,
                player_level: player_level(total_xp),
            });
            if let Err(e) = self
                .bus
                .publish(&user_topic(user_id), &event.encode())
                .await
            {
                tracing::warn!(error = %e, "could not publish xp event");
            }
        }
        Ok(GrantOutcome { earned, total_xp })
    }

    /// Brings the profile and the leaderboards to the ledger's sum and clears the
    /// pending grants that sum covers. Returns the total.
    pub async fn apply(&self, user_id: Uuid) -> Result<i64, StoreError> {
        let pending = self.store.xp_pending(user_id).await?;
        let mut entries = self.store.xp_entries(user_id).await?;
        let mut applied: Vec<XpEntry>;
        let mut total: i64;
        // Two applies for one user may overlap; whichever writes last must have read the
        // latest ledger, so re-read after writing and write again if it grew (the
        // ledger only grows, so the same number of entries is the same ledger). The
        // boards also ignore a standing older than theirs; the profile has no version,
        // hence this loop.
        let mut attempts = 0;
        let mut league_done;
        loop {
            total = entries.iter().map(|e| e.amount).sum();
            self.store.set_total_xp(user_id, total).await?;
            crate::fault::point("xp.after_profile");
            if let Err(e) = self
                .leaderboards
                .apply_ledger(user_id, &entries, &pending)
                .await
            {
                // Left pending: recovery completes it when the leaderboard is back.
                tracing::warn!(%user_id, error = %e, "leaderboard update failed; grant stays pending");
                return Ok(total);
            }
            // A league that cannot take the grant yet keeps it pending (recovery places
            // the learner later) but holds nothing else up: the learner's day and level
            // are told now, and both are counted once however often this runs.
            match self.leagues.apply_ledger(user_id, &entries, &pending).await {
                Ok(()) => league_done = true,
                // Last week's league is being decided (minutes into Monday).
                Err(LeagueError::NotSettled(week)) => {
                    tracing::debug!(%user_id, %week, "league placement waits for last week's end; grant stays pending");
                    league_done = false;
                }
                Err(e) => {
                    tracing::warn!(%user_id, error = %e, "league update failed; grant stays pending");
                    league_done = false;
                }
            }
            applied = entries;
            entries = self.store.xp_entries(user_id).await?;
            attempts += 1;
            if entries.len() == applied.len() || attempts == 3 {
                break;
            }
        }
        // Only grants the profile and boards were written with; one that arrived after
        // the last write stays pending for its own apply (or recovery).
        let covered: Vec<String> = pending
            .into_iter()
            .filter(|id| applied.iter().any(|e| &e.grant_id == id))
            .collect();
        if !self
            .notify_level_up(user_id, &applied, &covered, total)
            .await
        {
            // Left pending: recovery notifies when the store takes it.
            return Ok(total);
        }
        if let Some(streaks) = &self.streaks {
            let granted: Vec<&XpEntry> = applied
                .iter()
                .filter(|e| covered.contains(&e.grant_id))
                .collect();
            if !granted.is_empty()
                && let Err(e) = streaks.record_grants(user_id, &granted).await
            {
                // Left pending: recovery counts it (by grant id, once).
                tracing::warn!(%user_id, error = %e, "streak update failed; grant stays pending");
                return Ok(total);
            }
        }
        if !league_done {
            return Ok(total);
        }
        self.store.clear_xp_pending(user_id, &covered).await?;
        if !self.store.deleted_users(&[user_id]).await?.is_empty() {
            // The account was deleted while this ran: take back what it wrote.
            if let Err(e) = self.forget(user_id).await {
                tracing::warn!(%user_id, error = %e, "xp of a deleted learner not yet forgotten");
            }
            return Ok(0);
        }
        Ok(total)
    }

    /// Notifies the level the `covered` grants brought the learner to, if they moved
    /// them up. The level before them leaves out every grant still pending too (written
    /// after this apply began, waiting for its own), so two grants applied at once
    /// cannot each take the other's XP for the level already held. False when the
    /// notification could not be stored: the grants then stay pending for recovery.
    async fn notify_level_up(
        &self,
        user_id: Uuid,
        applied: &[XpEntry],
        covered: &[String],
        total: i64,
    ) -> bool {
        let Some(notifications) = &self.notifications else {
            return true;
        };
        if covered.is_empty() {
            return true;
        }
        let pending_now = match self.store.xp_pending(user_id).await {
            Ok(pending) => pending,
            Err(e) => {
                tracing::warn!(%user_id, error = %e, "level-up not checked; grant stays pending");
                return false;
            }
        };
        let not_yet: i64 = applied
            .iter()
            .filter(|e| covered.contains(&e.grant_id) || pending_now.contains(&e.grant_id))
            .map(|e| e.amount)
            .sum();
        let (before, after) = (player_level(total - not_yet), player_level(total));
        if after <= before {
            return true;
        }
        let level_up = NewNotification::level_up(LevelUp {
            level: after,
            previous_level: before,
            total_xp: total,
        });
        match notifications.notify(user_id, level_up).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(%user_id, error = %e, "level-up notification failed; grant stays pending");
                false
            }
        }
    }

    /// Forgets a deleted learner's XP: retires their ledger (see
    /// [`crate::ports::XpStore::retire_xp`]) and takes them off every board. Call it
    /// once the account is marked deleted; repeating it is harmless. Returns what was
    /// retired (`None` when the ledger was already empty).
    pub async fn forget(&self, user_id: Uuid) -> Result<Option<RetiredXp>, LeaderboardError> {
        let retired = self.store.retire_xp(user_id).await?;
        if let Some(streaks) = &self.streaks {
            streaks.forget(user_id).await?;
        }
        let boards = self.leaderboards.remove_user(user_id).await?;
        let leagues = self.leagues.forget(user_id).await.map_err(|e| match e {
            LeagueError::Store(e) => LeaderboardError::Store(e),
            LeagueError::Board(e) => LeaderboardError::Board(e),
            other => LeaderboardError::Board(crate::ports::PortError::new(
                "leagues",
                "forget",
                other.to_string(),
            )),
        })?;
        tracing::info!(
            %user_id,
            entries = retired.map_or(0, |r| r.entries),
            boards,
            leagues,
            "xp of a deleted learner retired"
        );
        Ok(retired)
    }

    /// Completes every grant a crash left half-applied. Returns how many users were
    /// brought up to date.
    /// Marks left without a ledger entry for longer than the bound are dropped.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        let users = self.store.xp_pending_users(1000).await?;
        let mut orphans = Vec::new();
        for user in &users {
            self.apply(*user).await?;
            orphans.extend(self.orphan_marks(*user).await?);
        }
        self.drop_stale(orphans).await?;
        if !users.is_empty() {
            tracing::info!(users = users.len(), "pending xp grants recovered");
        }
        Ok(users.len())
    }

    /// The user's pending marks that name no ledger entry (after `apply` ran, so a mark
    /// with its entry was cleared unless a step is still failing).
    async fn orphan_marks(&self, user_id: Uuid) -> Result<Vec<(Uuid, String)>, StoreError> {
        let pending = self.store.xp_pending(user_id).await?;
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let entries = self.store.xp_entries(user_id).await?;
        Ok(pending
            .into_iter()
            .filter(|id| !entries.iter().any(|e| &e.grant_id == id))
            .map(|id| (user_id, id))
            .collect())
    }

    /// Notes when each of `orphans` (every mark without a ledger entry this round) was
    /// first seen, forgets the marks no longer among them, and drops those seen for
    /// longer than the bound. The ledger is read once more just before a drop: an entry
    /// written meanwhile keeps its mark.
    async fn drop_stale(&self, orphans: Vec<(Uuid, String)>) -> Result<(), StoreError> {
        let now = self.clock.now();
        let bound =
            chrono::Duration::from_std(self.stale_pending_after).unwrap_or(chrono::Duration::MAX);
        let stale: Vec<((Uuid, String), DateTime<Utc>)> = {
            let mut seen = self.orphans.lock().unwrap_or_else(|e| e.into_inner());
            let mut kept = HashMap::with_capacity(orphans.len());
            for mark in orphans {
                let first = seen.get(&mark).copied().unwrap_or(now);
                kept.insert(mark, first);
            }
            *seen = kept;
            seen.iter()
                .filter(|(_, first)| now - **first >= bound)
                .map(|(mark, first)| (mark.clone(), *first))
                .collect()
        };
        for ((user_id, grant_id), first_seen) in stale {
            let entries = self.store.xp_entries(user_id).await?;
            if entries.iter().any(|e| e.grant_id == grant_id) {
                // The ledger write landed after all: the next apply completes it.
                self.apply(user_id).await?;
            } else {
                self.store
                    .clear_xp_pending(user_id, std::slice::from_ref(&grant_id))
                    .await?;
                tracing::warn!(
                    %user_id,
                    %grant_id,
                    first_seen = %first_seen.to_rfc3339(),
                    "pending xp mark dropped: its grant never reached the ledger"
                );
                if let Some(metrics) = &self.metrics {
                    metrics.xp_pending_dropped();
                }
            }
            self.orphans
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(user_id, grant_id));
        }
        Ok(())
    }

    /// Runs [`XpService::recover`] now and then every `every` until `stop`.
    pub async fn recover_until_stopped(
        self,
        every: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        loop {
            if let Err(e) = self.recover().await {
                tracing::warn!(error = %e, "xp recovery failed; will retry");
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
