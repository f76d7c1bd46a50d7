//! The streak service: counts applied XP grants into the learner's days, changes their
//! settings, and runs the streak-at-risk checks. Every write is a compare-and-set of the
//! learner's one record, so concurrent grants (two devices, a recovery) never lose one
//! another; and counting is by grant id, so a retried or recovered grant changes nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::rules::{
    DEFAULT_GOAL, DEFAULT_ZONE, Noted, SettingsError, StreakView, check_goal, local_date,
    parse_zone,
};
use super::{AtRisk, AtRiskHook};
use crate::clock::Clock;
use crate::events::{DailyGoalReached, StreakAtRisk, StreakUpdated};
use crate::observe::GameMetrics;
use crate::ports::bus::{UserEvent, user_topic};
use crate::ports::store::{StreakCheck, StreakRecord, VersionedStreak, due_hour};
use crate::ports::{Bus, Leaderboard, Store, StoreError, XpEntry};

/// Compare-and-set rounds before giving up (each lost round means another write won).
const CAS_ATTEMPTS: usize = 16;
/// Hours of the at-risk index looked at on each pass: a check missed while no instance
/// ran is still sent if the learner's evening is not over.
const LOOKBACK_HOURS: i64 = 6;
/// Checks read at once from one hour.
const CHECK_PAGE: usize = 500;
/// Pages handled per hour and pass (the next pass goes on).
const MAX_PAGES: usize = 20;
/// The lease that keeps the at-risk pass to one instance at a time.
pub const AT_RISK_LEASE: &str = "streaks:at-risk";
const AT_RISK_LEASE_TTL: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum StreakError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A written change: the record before and after, at `now`.
struct Written<R> {
    before: StreakRecord,
    after: StreakRecord,
    now: DateTime<Utc>,
    result: R,
}

#[derive(Clone)]
pub struct Streaks {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    metrics: Option<Arc<dyn GameMetrics>>,
}

impl Streaks {
    pub fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>, clock: Arc<dyn Clock>) -> Self {
        Streaks {
            store,
            bus,
            clock,
            metrics: None,
        }
    }

    /// Counts days kept, streaks broken, freezes used and at-risk notices in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn GameMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The clock "today" is read from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The learner's record, or the defaults (UTC, goal 20) when none was written.
    async fn load(&self, user_id: Uuid) -> Result<(StreakRecord, Option<i64>), StoreError> {
        Ok(or_defaults(self.store.streak(user_id).await?))
    }

    /// The stored record, if any (for the learner's export).
    pub async fn record(&self, user_id: Uuid) -> Result<Option<StreakRecord>, StoreError> {
        Ok(self.store.streak_to_show(user_id).await?.map(|s| s.record))
    }

    /// The learner's streak and today's progress now (to show: a write still being
    /// decided may be missing, see [`crate::ports::store::StreakStore::streak_to_show`]).
    pub async fn view(&self, user_id: Uuid) -> Result<StreakView, StoreError> {
        let (record, _) = or_defaults(self.store.streak_to_show(user_id).await?);
        Ok(record.view(self.clock.now()))
    }

    /// Applies `change` to the learner's record by compare-and-set, with the old days
    /// folded, the metrics noted and the at-risk check rescheduled. The new check is
    /// indexed before the record names it (a crash leaves a stale entry, which the
    /// checker drops, never a record whose check is missing), the old one removed after.
    async fn update<R>(
        &self,
        user_id: Uuid,
        mut change: impl FnMut(&mut StreakRecord, DateTime<Utc>) -> R,
    ) -> Result<Option<Written<R>>, StoreError> {
        for _ in 0..CAS_ATTEMPTS {
            let now = self.clock.now();
            let (before, version) = self.load(user_id).await?;
            let mut after = before.clone();
            let result = change(&mut after, now);
            after.fold(local_date(after.tz(), now));
            let noted = after.note(now);
            after.check = after.next_check(user_id, now);
            if after == before {
                return Ok(None);
            }
            if let Some(check) = &after.check
                && after.check != before.check
            {
                self.store.schedule_streak_check(check).await?;
            }
            if !self.store.put_streak(user_id, &after, version).await? {
                continue;
            }
            if let Some(old) = &before.check
                && after.check.as_ref() != Some(old)
            {
                self.store.unschedule_streak_check(old).await?;
            }
            self.count(noted);
            return Ok(Some(Written {
                before,
                after,
                now,
                result,
            }));
        }
        Err(StoreError::Unavailable(format!(
            "streak record of {user_id} kept changing"
        )))
    }

    fn count(&self, noted: Noted) {
        if let Some(metrics) = &self.metrics {
            if noted.broken > 0 {
                metrics.streaks_broken(noted.broken);
            }
            if noted.frozen > 0 {
                metrics.streak_freezes_used(noted.frozen);
            }
        }
    }

    /// Counts applied grants into the learner's days (called by the XP service before
    /// it clears their pending marks, so a crash is completed by the recovery). Grants
    /// counted before change nothing.
    pub async fn record_grants(
        &self,
        user_id: Uuid,
        grants: &[&XpEntry],
    ) -> Result<(), StoreError> {
        let written = self
            .update(user_id, |record, _| {
                grants
                    .iter()
                    .filter_map(|g| record.add_grant(&g.grant_id, g.amount, g.created_at))
                    .filter_map(|(date, newly)| newly.then_some(date))
                    .collect::<Vec<NaiveDate>>()
            })
            .await?;
        if let Some(written) = written {
            self.announce(user_id, &written).await;
        }
        Ok(())
    }

    /// Changes the learner's zone and/or daily goal (validated first; nothing is written
    /// when one is refused). Returns the streak as it then is.
    pub async fn update_settings(
        &self,
        user_id: Uuid,
        time_zone: Option<&str>,
        daily_goal: Option<u32>,
    ) -> Result<StreakView, StreakError> {
        if let Some(name) = time_zone {
            parse_zone(name)?;
        }
        if let Some(goal) = daily_goal {
            check_goal(goal)?;
        }
        let written = self
            .update(user_id, |record, now| {
                if let Some(name) = time_zone {
                    record.set_zone(name, now);
                }
                match daily_goal {
                    Some(goal) if record.set_goal(goal, now) => {
                        vec![local_date(record.tz(), now)]
                    }
                    _ => Vec::new(),
                }
            })
            .await?;
        match written {
            Some(written) => {
                self.announce(user_id, &written).await;
                Ok(written.after.view(written.now))
            }
            None => Ok(self.view(user_id).await?),
        }
    }

    /// Tells the learner's devices what a write changed: each day newly reached, then
    /// the streak if its view moved.
    async fn announce(&self, user_id: Uuid, written: &Written<Vec<NaiveDate>>) {
        let before = written.before.view(written.now);
        let after = written.after.view(written.now);
        for date in &written.result {
            if let Some(metrics) = &self.metrics {
                metrics.streak_day_kept();
            }
            let xp = written.after.days.get(date).map_or(0, |d| d.xp);
            tracing::info!(%user_id, %date, xp, streak = after.streak, "daily goal reached");
            self.publish(
                user_id,
                UserEvent::DailyGoalReached(DailyGoalReached {
                    date: *date,
                    xp,
                    daily_goal: written.after.daily_goal,
                    streak: after.streak,
                }),
            )
            .await;
        }
        if before != after {
            self.publish(
                user_id,
                UserEvent::StreakUpdated(StreakUpdated {
                    streak: after.streak,
                    longest: after.longest,
                    freezes: after.freezes,
                    today: after.today,
                    today_xp: after.today_xp,
                    daily_goal: after.daily_goal,
                    goal_reached: after.goal_reached,
                }),
            )
            .await;
        }
    }

    async fn publish(&self, user_id: Uuid, event: UserEvent) {
        if let Err(e) = self
            .bus
            .publish(&user_topic(user_id), &event.encode())
            .await
        {
            // The bus is at-most-once anyway; `GET /api/v1/me` has the same state.
            tracing::warn!(%user_id, error = %e, "could not publish a streak event");
        }
    }

    /// Removes everything kept about the learner's streak (account deletion). Safe to
    /// repeat; true when there was a record.
    pub async fn forget(&self, user_id: Uuid) -> Result<bool, StoreError> {
        let Some(stored) = self.store.streak(user_id).await? else {
            return Ok(false);
        };
        if let Some(check) = &stored.record.check {
            self.store.unschedule_streak_check(check).await?;
        }
        self.store.delete_streak(user_id).await
    }

    // ---- streak at risk ----

    /// One pass of the at-risk checks due by now, in the hours of the index since six
    /// hours ago (a check missed while no instance ran is still sent while the
    /// learner's evening lasts). The caller holds the lease ([`Self::run_at_risk_pass`]).
    /// Returns how many learners were told.
    pub async fn check_due(&self, hook: &dyn AtRiskHook) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let hour = due_hour(now);
        let mut told = 0;
        for bucket in hour - LOOKBACK_HOURS..=hour {
            for _ in 0..MAX_PAGES {
                let due: Vec<StreakCheck> = self
                    .store
                    .streak_checks_due(bucket, now, CHECK_PAGE)
                    .await?;
                let mut progressed = false;
                for check in &due {
                    match self.run_check(check, hook).await {
                        Ok(outcome) => {
                            progressed = true;
                            told += usize::from(outcome);
                        }
                        // Left in the index: the next pass tries again.
                        Err(e) => {
                            tracing::warn!(user_id = %check.user_id, error = %e, "streak check failed")
                        }
                    }
                }
                if due.len() < CHECK_PAGE || !progressed {
                    break;
                }
            }
        }
        Ok(told)
    }

    /// Handles one due check: tells the learner if their streak is at risk, and moves
    /// the check on. True when the learner was told.
    async fn run_check(
        &self,
        check: &StreakCheck,
        hook: &dyn AtRiskHook,
    ) -> Result<bool, StoreError> {
        let user_id = check.user_id;
        let Some(stored) = self.store.streak(user_id).await? else {
            self.store.unschedule_streak_check(check).await?;
            return Ok(false);
        };
        if stored.record.check.as_ref() != Some(check) {
            // Replaced since (a grant, a zone change): the record's own check stands.
            self.store.unschedule_streak_check(check).await?;
            return Ok(false);
        }
        let now = self.clock.now();
        let mut told = false;
        let mut date = None;
        if let Some((streak, local_date)) = stored.record.at_risk(now) {
            let view = stored.record.view(now);
            // The hook first: a crash before the mark is written tells the learner
            // again (the hook's notification is idempotent by user and date), never
            // not at all.
            hook.at_risk(&AtRisk {
                user_id,
                streak,
                local_date,
            })
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            self.publish(
                user_id,
                UserEvent::StreakAtRisk(StreakAtRisk {
                    streak,
                    local_date,
                    today_xp: view.today_xp,
                    daily_goal: view.daily_goal,
                    freezes: view.freezes,
                }),
            )
            .await;
            if let Some(metrics) = &self.metrics {
                metrics.streak_at_risk();
            }
            tracing::info!(%user_id, streak, %local_date, "streak at risk");
            told = true;
            date = Some(local_date);
        }
        let written = self
            .update(user_id, |record, _| {
                if let Some(date) = date
                    && record.at_risk_sent.is_none_or(|sent| sent < date)
                {
                    record.at_risk_sent = Some(date);
                }
            })
            .await?;
        let check_now = match written {
            Some(w) => w.after.check,
            None => self.load(user_id).await?.0.check,
        };
        if check_now.as_ref() != Some(check) {
            self.store.unschedule_streak_check(check).await?;
        }
        Ok(told)
    }

    /// One pass under the lease `lease` (one instance at a time); nothing when another
    /// instance holds it.
    pub async fn run_at_risk_pass(
        &self,
        lease: &dyn Leaderboard,
        hook: &dyn AtRiskHook,
    ) -> Result<usize, StoreError> {
        match lease.claim(AT_RISK_LEASE, AT_RISK_LEASE_TTL).await {
            Ok(true) => {}
            Ok(false) => return Ok(0),
            Err(e) => return Err(StoreError::Unavailable(e.to_string())),
        }
        let result = self.check_due(hook).await;
        if let Err(e) = lease.release(AT_RISK_LEASE).await {
            tracing::warn!(error = %e, "could not release the streak lease; it expires by itself");
        }
        result
    }

    /// Runs [`Self::run_at_risk_pass`] every `every` until `stop`.
    pub async fn check_at_risk_until_stopped(
        self,
        lease: Arc<dyn Leaderboard>,
        hook: Arc<dyn AtRiskHook>,
        every: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        loop {
            if let Err(e) = self.run_at_risk_pass(lease.as_ref(), hook.as_ref()).await {
                tracing::warn!(error = %e, "streak at-risk pass failed; will retry");
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// A stored record and its version, or the defaults (UTC, goal 20) and none.
fn or_defaults(stored: Option<VersionedStreak>) -> (StreakRecord, Option<i64>) {
    match stored {
        Some(stored) => (stored.record, Some(stored.version)),
        None => (StreakRecord::new(DEFAULT_ZONE, DEFAULT_GOAL), None),
    }
}
