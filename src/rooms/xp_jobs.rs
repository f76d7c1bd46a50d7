//! The worker of room XP jobs: claims a finished room's id from the `room-xp` queue and
//! grants its players' XP from the saved results (the grants themselves, and why they
//! survive an instance dying, are the core's: `questpath_actors::room::grants`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use questpath_actors::notifications::Notifications;
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
    /// Tells the players the room ended.
    pub notifications: Notifications,
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
        match grant_room(self.store.as_ref(), &self.xp, &self.notifications, room_id).await {
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::adapters::embedded::{
        EmbeddedStore, InProcessBus, InProcessJobQueue, InProcessLeaderboard,
    };

    /// Records the outcome of every finished job.
    #[derive(Default)]
    struct Outcomes(Mutex<Vec<&'static str>>);

    impl GameMetrics for Outcomes {
        fn job_finished(&self, _queue: &str, outcome: &'static str, _elapsed: Duration) {
            self.0.lock().unwrap().push(outcome);
        }
    }

    async fn worker(dir: &std::path::Path) -> (RoomXpWorker, Arc<Outcomes>) {
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir).await.unwrap());
        let outcomes = Arc::new(Outcomes::default());
        let bus = Arc::new(InProcessBus::new());
        let worker = RoomXpWorker {
            xp: XpService::new(
                store.clone(),
                Arc::new(InProcessLeaderboard::new()),
                bus.clone(),
            ),
            notifications: Notifications::new(store.clone(), bus),
            store,
            queue: Arc::new(InProcessJobQueue::new()),
            metrics: outcomes.clone(),
            consumer: "test".into(),
        };
        (worker, outcomes)
    }

    async fn claim(worker: &RoomXpWorker) -> Job {
        worker
            .queue
            .claim(QUEUE, "test", Duration::from_secs(1))
            .await
            .unwrap()
            .expect("a job")
    }

    #[actix_web::test]
    async fn an_unreadable_job_is_dropped_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        let (worker, outcomes) = worker(dir.path()).await;
        worker.queue.enqueue(QUEUE, b"not a room id").await.unwrap();

        worker.handle(claim(&worker).await).await;

        assert_eq!(worker.queue.depth(QUEUE).await.unwrap(), 0);
        assert!(
            worker
                .queue
                .dead_letters(QUEUE, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(outcomes.0.lock().unwrap().is_empty());
    }

    #[actix_web::test]
    async fn a_room_without_saved_results_is_retried_later() {
        let dir = tempfile::tempdir().unwrap();
        let (worker, outcomes) = worker(dir.path()).await;
        let room = Uuid::now_v7().to_string();
        worker.queue.enqueue(QUEUE, room.as_bytes()).await.unwrap();

        worker.handle(claim(&worker).await).await;

        // Back in the queue with a backoff, not acknowledged and not dead yet.
        assert_eq!(worker.queue.depth(QUEUE).await.unwrap(), 1);
        assert!(
            worker
                .queue
                .dead_letters(QUEUE, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(*outcomes.0.lock().unwrap(), vec![job_outcome::RETRIED]);
    }
}
