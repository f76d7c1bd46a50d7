//! A league week's results: the week's end hands each cohort's outcomes to
//! [`LeagueResultsQueue`], which queues them as one job (so the week's end is not held
//! up by a million notifications); [`LeagueResultsWorker`], on every instance, tells
//! each learner of the job: a `league_result` notification, then the weekly summary
//! mail to those who turned it on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use questpath_actors::domain::Tier;
use questpath_actors::leagues::{LeagueOutcome, LeagueOutcomes};
use questpath_actors::notifications::{LeagueMove, LeagueResult, NewNotification, Notifications};
use questpath_actors::observe::{GameMetrics, job_outcome};
use questpath_actors::ports::{Job, JobQueue, PortError};
use questpath_actors::streaks::Streaks;

use crate::mail::service::MailService;
use crate::mail::templates::{LeagueLine, WeeklySummary};

/// The job queue of decided cohorts whose learners are still to be told.
pub const QUEUE: &str = "league-results";

/// How long a claim waits before looking at the stop signal again.
const CLAIM_WAIT: Duration = Duration::from_secs(1);

/// One learner's week, as a job carries it (tiers by their stored names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeJob {
    pub user_id: Uuid,
    /// The ISO week, `2026-W49`.
    pub week: String,
    pub tier_before: Tier,
    pub tier_after: Tier,
    pub rank: u32,
    pub xp: i64,
}

impl From<&LeagueOutcome> for OutcomeJob {
    fn from(o: &LeagueOutcome) -> Self {
        OutcomeJob {
            user_id: o.user_id,
            week: o.week.label(),
            tier_before: o.tier_before,
            tier_after: o.tier_after,
            rank: o.rank,
            xp: o.xp,
        }
    }
}

impl OutcomeJob {
    fn moved(&self) -> LeagueMove {
        match self.tier_after.cmp(&self.tier_before) {
            std::cmp::Ordering::Greater => LeagueMove::Promoted,
            std::cmp::Ordering::Less => LeagueMove::Demoted,
            std::cmp::Ordering::Equal => LeagueMove::Stayed,
        }
    }
}

/// The week's-end hook: queues a cohort's outcomes as one job.
#[derive(Clone)]
pub struct LeagueResultsQueue {
    pub queue: Arc<dyn JobQueue>,
}

#[async_trait]
impl LeagueOutcomes for LeagueResultsQueue {
    async fn league_outcomes(&self, outcomes: &[LeagueOutcome]) -> Result<(), PortError> {
        let jobs: Vec<OutcomeJob> = outcomes.iter().map(OutcomeJob::from).collect();
        let payload =
            serde_json::to_vec(&jobs).map_err(|e| PortError::new("league-results", "encode", e))?;
        self.queue.enqueue(QUEUE, &payload).await?;
        Ok(())
    }
}

/// Tells the learners of each queued cohort how their week ended.
pub struct LeagueResultsWorker {
    pub queue: Arc<dyn JobQueue>,
    pub notifications: Notifications,
    pub mail: MailService,
    pub streaks: Streaks,
    pub metrics: Arc<dyn GameMetrics>,
    pub consumer: String,
}

impl LeagueResultsWorker {
    pub async fn run_until_stopped(self, stop: CancellationToken) {
        loop {
            let claimed = tokio::select! {
                _ = stop.cancelled() => return,
                claimed = self.queue.claim(QUEUE, &self.consumer, CLAIM_WAIT) => claimed,
            };
            match claimed {
                Ok(Some(job)) => self.handle(job).await,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "league results queue unavailable");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }

    /// Handles one claimed job: acknowledged when every learner of it was told, retried
    /// with a growing delay otherwise (those told already are not told again).
    pub async fn handle(&self, job: Job) {
        let started = Instant::now();
        let Ok(outcomes) = serde_json::from_slice::<Vec<OutcomeJob>>(&job.payload) else {
            tracing::error!(job = %job.id, "unreadable league results job dropped");
            let _ = self.queue.ack(&job).await;
            return;
        };
        let mut failed = None;
        for outcome in &outcomes {
            if let Err(reason) = self.tell(outcome).await {
                tracing::warn!(user_id = %outcome.user_id, week = %outcome.week, %reason, "league result not told yet");
                failed = Some(reason);
            }
        }
        match failed {
            None => {
                if let Err(e) = self.queue.ack(&job).await {
                    tracing::warn!(error = %e, "league results told but not acknowledged; redone harmlessly");
                }
                self.metrics
                    .job_finished(QUEUE, job_outcome::DONE, started.elapsed());
            }
            Some(reason) => {
                let backoff = Duration::from_secs(2u64.saturating_pow(job.attempt).min(300));
                let outcome = match self.queue.retry(&job, backoff, &reason).await {
                    Ok(true) => job_outcome::RETRIED,
                    Ok(false) => {
                        self.metrics.job_dead_lettered(QUEUE);
                        job_outcome::FAILED
                    }
                    Err(_) => job_outcome::ERROR,
                };
                self.metrics.job_finished(QUEUE, outcome, started.elapsed());
            }
        }
    }

    /// The notification, then the summary mail (each once, however often called).
    async fn tell(&self, outcome: &OutcomeJob) -> Result<(), String> {
        let note = NewNotification::league_result(LeagueResult {
            week: outcome.week.clone(),
            tier_before: outcome.tier_before.as_str().to_string(),
            tier_after: outcome.tier_after.as_str().to_string(),
            outcome: outcome.moved(),
            rank: u64::from(outcome.rank),
            xp: outcome.xp,
        });
        self.notifications
            .notify(outcome.user_id, note)
            .await
            .map_err(|e| format!("notification: {e}"))?;
        let streak = self
            .streaks
            .view(outcome.user_id)
            .await
            .map(|view| view.streak)
            .map_err(|e| format!("streak: {e}"))?;
        let summary = WeeklySummary {
            week: outcome.week.clone(),
            xp: outcome.xp,
            league: Some(LeagueLine {
                tier_before: shown(outcome.tier_before),
                tier_after: shown(outcome.tier_after),
                rank: outcome.rank,
            }),
            streak: Some(streak),
        };
        self.mail
            .enqueue_weekly_summary(outcome.user_id, &summary)
            .await
            .map_err(|e| format!("mail: {e}"))?;
        Ok(())
    }
}

/// `Silver`: a tier as the mail shows it.
fn shown(tier: Tier) -> String {
    let name = tier.as_str();
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tier_is_shown_capitalised_and_a_move_follows_the_tiers() {
        assert_eq!(shown(Tier::Silver), "Silver");
        let mut job = OutcomeJob {
            user_id: Uuid::nil(),
            week: "2026-W49".into(),
            tier_before: Tier::Silver,
            tier_after: Tier::Gold,
            rank: 1,
            xp: 300,
        };
        assert_eq!(job.moved(), LeagueMove::Promoted);
        job.tier_after = Tier::Bronze;
        assert_eq!(job.moved(), LeagueMove::Demoted);
        job.tier_after = Tier::Silver;
        assert_eq!(job.moved(), LeagueMove::Stayed);
    }
}
