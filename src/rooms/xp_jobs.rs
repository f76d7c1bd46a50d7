//! XP for a finished room, as a job: the room actor saves the results, then queues the
//! room's id on `room-xp`; a worker grants every signed-in player their XP from the
//! saved results. The job queue retries a failed attempt and hands the job of a worker
//! that died to another one; the grant ids (`room:{room}:{player}`) make every retry
//! harmless. So an instance dying right after a game cannot lose its XP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use questpath_actors::rules::room::room_grant;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::xp::XpService;
use questpath_actors::ports::{Job, JobQueue, Store};

/// The queue of room XP jobs.
pub const QUEUE: &str = "room-xp";
/// Grants running at once within one job.
const GRANTS_AT_ONCE: usize = 8;
/// How long a claim waits before looking at the stop signal again.
const CLAIM_WAIT: Duration = Duration::from_secs(1);

/// A player's final place, as XP needs it (read from the results document).
#[derive(Deserialize)]
pub struct Placed {
    pub player_id: Uuid,
    pub guest: bool,
    pub rank: u64,
    pub correct: u32,
    pub answered: u32,
}

#[derive(Deserialize)]
struct Document {
    players: Vec<Placed>,
}

pub struct RoomXpWorker {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn JobQueue>,
    pub xp: XpService,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub consumer: String,
}

/// Grants the XP of one room's saved results. Errors name what failed.
pub async fn grant_room(store: &dyn Store, xp: &XpService, room_id: Uuid) -> Result<usize, String> {
    let Some(result) = store
        .room_result(room_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Err(format!("no saved results for room {room_id}"));
    };
    let document: Document =
        serde_json::from_value(result.results).map_err(|e| format!("unreadable results: {e}"))?;
    grant_placed(xp, room_id, &document.players).await
}

/// Grants every signed-in player of a room their XP; guests and players who answered
/// nothing get none. Returns how many grants were asked for.
pub async fn grant_placed(
    xp: &XpService,
    room_id: Uuid,
    players: &[Placed],
) -> Result<usize, String> {
    let room = room_id.to_string();
    let grants: Vec<_> = players
        .iter()
        .filter(|p| !p.guest)
        .filter_map(|p| {
            room_grant(
                &room,
                &p.player_id.to_string(),
                p.correct,
                p.answered,
                p.rank,
            )
            .map(|grant| (p.player_id, grant))
        })
        .collect();
    let count = grants.len();
    let failures: Vec<String> = futures_util::stream::iter(grants)
        .map(|(player, grant)| async move {
            xp.grant(player, &grant)
                .await
                .err()
                .map(|e| format!("{player}: {e}"))
        })
        .buffer_unordered(GRANTS_AT_ONCE)
        .filter_map(|failed| async move { failed })
        .collect()
        .await;
    if failures.is_empty() {
        Ok(count)
    } else {
        Err(format!(
            "{} grants failed, first: {}",
            failures.len(),
            failures[0]
        ))
    }
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
                self.metrics.job_finished(
                    QUEUE,
                    crate::metrics::job_outcome::DONE,
                    started.elapsed(),
                );
            }
            Err(reason) => {
                tracing::warn!(%room_id, attempt = job.attempt, %reason, "room XP failed");
                let backoff = Duration::from_secs(2u64.saturating_pow(job.attempt).min(60));
                let outcome = match self.queue.retry(&job, backoff, &reason).await {
                    Ok(true) => crate::metrics::job_outcome::RETRIED,
                    Ok(false) => {
                        self.metrics.job_dead_lettered(QUEUE);
                        crate::metrics::job_outcome::FAILED
                    }
                    Err(_) => crate::metrics::job_outcome::ERROR,
                };
                self.metrics.job_finished(QUEUE, outcome, started.elapsed());
            }
        }
    }
}
