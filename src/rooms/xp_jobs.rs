//! The worker of room XP jobs: claims a finished room's id from the `room-xp` queue and
//! grants its players' XP from the saved results (the grants themselves, and why they
//! survive an instance dying, are the core's: `questpath_actors::room::grants`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use questpath_actors::observe::{GameMetrics, job_outcome};
use questpath_actors::ports::{Job, JobQueue, Store};
use questpath_actors::room::grants::{QUEUE, grant_room};
use questpath_actors::xp::XpService;

/// How long a claim waits before looking at the stop signal again.
const CLAIM_WAIT: Duration = Duration::from_secs(1);

pub struct RoomXpWorker {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn JobQueue>,
    pub xp: XpService,
    pub metrics: Arc<dyn GameMetrics>,
    pub consumer: String,
}

impl RoomXpWorker {
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
                    tracing::warn!(error = %e, "room XP queue unavailable");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }

    async fn handle(&self, job: Job) {
        let started = Instant::now();
        let room_id = std::str::from_utf8(&job.payload)
            .ok()
            .and_then(|s| Uuid::parse_str(s).ok());
        let Some(room_id) = room_id else {
            tracing::error!(job = %job.id, "unreadable room XP job dropped");
            let _ = self.queue.ack(&job).await;
            return;
        };
        match grant_room(self.store.as_ref(), &self.xp, room_id).await {
            Ok(granted) => {
                tracing::info!(%room_id, granted, "room XP granted");
                if let Err(e) = self.queue.ack(&job).await {
                    tracing::warn!(error = %e, "room XP job done but not acknowledged; it will be redone harmlessly");
                }
                self.metrics
                    .job_finished(QUEUE, job_outcome::DONE, started.elapsed());
            }
            Err(reason) => {
                tracing::warn!(%room_id, attempt = job.attempt, %reason, "room XP failed");
                let backoff = Duration::from_secs(2u64.saturating_pow(job.attempt).min(60));
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
}
