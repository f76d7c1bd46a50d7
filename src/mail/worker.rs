//! The email worker: claims mail jobs, sends each through the mailer once, retries
//! temporary failures after a growing delay, and lets the queue dead-letter a mail
//! whose last attempt failed. Runs inside `serve` (`QUESTPATH_EMAIL_WORKERS`).
//!
//! Idempotent per message: a mark in the cache (`mail-sent:<message id>`) is set once
//! the mailer took the mail, and a job whose mark is set is acknowledged without
//! sending. A crash between sending and marking sends the mail once more on the
//! retry (at least once); receivers see the same `Message-ID` both times.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{EmailJob, MailKind, QUEUE, sent_key};
use crate::metrics::Metrics;
use crate::ports::{Cache, Job, JobQueue, MailError, Mailer, Store};

/// How long one claim waits for a job before checking for shutdown.
const CLAIM_WAIT: Duration = Duration::from_secs(2);
/// How long a sent mark is kept: longer than a job can wait in the queue with all its
/// retries.
const SENT_MARK_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest delay between two attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// What one worker needs.
#[derive(Clone)]
pub struct EmailWorker {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn JobQueue>,
    pub cache: Arc<dyn Cache>,
    pub mailer: Arc<dyn Mailer>,
    pub metrics: Option<Arc<Metrics>>,
    /// Unique per worker: names it to the queue.
    pub consumer: String,
    /// Delay before the first retry; doubled per attempt, at most an hour.
    pub retry_delay: Duration,
}

/// What happened to one claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No job within the wait.
    Idle,
    Sent(String),
    /// Sent before (the job was a retry or a duplicate): acknowledged, not sent again.
    AlreadySent(String),
    /// Not sent and not to be: the account is gone or the learner turned the mail off.
    Dropped(String),
    /// Failed for now; queued again.
    Retrying(String),
    /// Failed on its last attempt; in the dead letters.
    DeadLettered(String),
    /// Refused for good (a 5xx, a malformed address); acknowledged.
    Rejected(String),
}

/// The delay before attempt `attempt + 1`: `base`, doubled per attempt, capped.
pub fn retry_delay(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_RETRY_DELAY)
}

impl EmailWorker {
    /// Runs until `stop` is cancelled; errors are logged and never end the loop.
    pub async fn run_until_stopped(self, stop: CancellationToken) {
        tracing::info!(consumer = %self.consumer, mailer = self.mailer.backend(), "email worker started");
        loop {
            let outcome = tokio::select! {
                _ = stop.cancelled() => break,
                outcome = self.try_execute() => outcome,
            };
            match outcome {
                Ok(Outcome::Idle) => {}
                Ok(outcome) => tracing::debug!(?outcome, "email job handled"),
                Err(e) => {
                    tracing::error!(error = %e, "email worker error");
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        tracing::info!(consumer = %self.consumer, "email worker stopped");
    }

    /// Claims and handles at most one job.
    pub async fn try_execute(&self) -> Result<Outcome, String> {
        let Some(claimed) = self
            .queue
            .claim(QUEUE, &self.consumer, CLAIM_WAIT)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(Outcome::Idle);
        };
        let job: EmailJob = match serde_json::from_slice(&claimed.payload) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(job = %claimed.id, error = %e, "unreadable email job dropped");
                self.ack(&claimed).await?;
                return Ok(Outcome::Idle);
            }
        };
        let id = job.mail.message_id.clone();
        let sent_mark = sent_key(&id);
        if self
            .cache
            .get(&sent_mark)
            .await
            .map_err(|e| e.to_string())?
            .is_some()
        {
            self.ack(&claimed).await?;
            return Ok(Outcome::AlreadySent(id));
        }
        if let Some(reason) = self.not_wanted(&job).await? {
            tracing::info!(message_id = %id, user_id = %job.user_id, reason, "mail dropped before sending");
            self.ack(&claimed).await?;
            return Ok(Outcome::Dropped(id));
        }
        let kind = job.kind.as_str();
        match self.mailer.send(&job.mail).await {
            Ok(()) => {
                if let Err(e) = self.cache.set(&sent_mark, b"1", SENT_MARK_TTL).await {
                    // The mail is out; a retry of this job (only if the ack below is
                    // lost too) would send it again.
                    tracing::warn!(error = %e, message_id = %id, "sent mark not stored");
                }
                self.ack(&claimed).await?;
                self.metrics(|m| m.email_sent(kind));
                tracing::info!(message_id = %id, kind, mailer = self.mailer.backend(), "mail sent");
                Ok(Outcome::Sent(id))
            }
            Err(MailError::Permanent(reason)) => {
                self.metrics(|m| m.email_failed(kind, false));
                tracing::error!(message_id = %id, kind, attempt = claimed.attempt, %reason, "mail refused for good; not retried");
                self.ack(&claimed).await?;
                Ok(Outcome::Rejected(id))
            }
            Err(MailError::Transient(reason)) => {
                self.metrics(|m| m.email_failed(kind, true));
                let delay = retry_delay(self.retry_delay, claimed.attempt);
                let requeued = self
                    .queue
                    .retry(&claimed, delay, &reason)
                    .await
                    .map_err(|e| e.to_string())?;
                if requeued {
                    tracing::warn!(message_id = %id, kind, attempt = claimed.attempt, ?delay, %reason, "mail failed; retrying");
                    Ok(Outcome::Retrying(id))
                } else {
                    self.metrics(|m| {
                        m.email_dead_lettered(kind);
                        m.job_dead_lettered(QUEUE);
                    });
                    tracing::error!(message_id = %id, kind, attempt = claimed.attempt, %reason, "mail failed on its last attempt; dead-lettered");
                    Ok(Outcome::DeadLettered(id))
                }
            }
        }
    }

    /// Why the mail should not go out any more, if so: the account was deleted, or an
    /// optional mail was turned off (or the address is no longer verified).
    async fn not_wanted(&self, job: &EmailJob) -> Result<Option<&'static str>, String> {
        let store = &self.store;
        let deleted = store
            .deleted_users(&[job.user_id])
            .await
            .map_err(|e| e.to_string())?;
        if !deleted.is_empty() {
            return Ok(Some("account deleted"));
        }
        if matches!(job.kind, MailKind::StreakAtRisk | MailKind::WeeklySummary) {
            let settings = store
                .mail_settings(job.user_id)
                .await
                .map_err(|e| e.to_string())?;
            let wanted = match job.kind {
                MailKind::StreakAtRisk => settings.streak_reminders,
                _ => settings.weekly_summary,
            };
            if !wanted {
                return Ok(Some("turned off"));
            }
            if !settings.is_verified(&job.mail.to) {
                return Ok(Some("address not verified"));
            }
        }
        Ok(None)
    }

    async fn ack(&self, job: &Job) -> Result<(), String> {
        self.queue.ack(job).await.map_err(|e| e.to_string())
    }

    fn metrics(&self, record: impl FnOnce(&Metrics)) {
        if let Some(metrics) = &self.metrics {
            record(metrics);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_and_stop_at_an_hour() {
        let base = Duration::from_secs(30);
        assert_eq!(retry_delay(base, 1), Duration::from_secs(30));
        assert_eq!(retry_delay(base, 2), Duration::from_secs(60));
        assert_eq!(retry_delay(base, 4), Duration::from_secs(240));
        assert_eq!(retry_delay(base, 40), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(Duration::ZERO, 3), Duration::ZERO);
    }
}
