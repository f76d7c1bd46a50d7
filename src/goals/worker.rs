//! The roadmap-generation worker: claims jobs, generates, saves, reports. Runs inside
//! `serve` and as `questpath worker`; several workers (and instances) share one queue.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{QUEUE, ids};
use questpath_actors::domain::roadmap::GeneratedRoadmap;
use questpath_actors::ports::bus::{UserEvent, user_topic};
use questpath_actors::ports::{
    Bus, Cache, GenerateError, GenerationJob, Goal, GoalStatus, Job, JobQueue, JobStatus, Level,
    LevelStatus, NewGoal, Question, RoadmapGenerator, Store, Topic,
};

/// Longest a single generation may take before it counts as failed (and is retried).
const GENERATION_TIMEOUT: Duration = Duration::from_secs(180);
/// How long one claim waits for a job before checking for shutdown.
const CLAIM_WAIT: Duration = Duration::from_secs(2);
/// Why a job of a deleted account ends.
const DELETED: &str = "the learner deleted their account";

/// What one worker needs.
#[derive(Clone)]
pub struct Worker {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn JobQueue>,
    pub bus: Arc<dyn Bus>,
    /// To drop the learner's cached stats once the new goal is saved.
    pub cache: Arc<dyn Cache>,
    pub generator: Arc<dyn RoadmapGenerator>,
    /// Unique per worker: names it to the queue (which job it holds).
    pub consumer: String,
    /// Job outcomes and durations; `None` where nothing scrapes them (`questpath worker`).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// What happened to one claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No job within the wait.
    Idle,
    Done(Uuid),
    /// Will be tried again after a backoff.
    Retrying(Uuid, String),
    Failed(Uuid, String),
}

impl Worker {
    /// Runs until `stop` is cancelled; errors are logged and never end the loop.
    pub async fn run_until_stopped(self, stop: CancellationToken) {
        tracing::info!(consumer = %self.consumer, generator = self.generator.name(), "generation worker started");
        loop {
            let outcome = tokio::select! {
                _ = stop.cancelled() => break,
                outcome = self.try_execute() => outcome,
            };
            match outcome {
                Ok(Outcome::Idle) => {}
                Ok(outcome) => tracing::info!(?outcome, "generation job handled"),
                Err(e) => {
                    tracing::error!(error = %e, "generation worker error");
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        tracing::info!(consumer = %self.consumer, "generation worker stopped");
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
        let started = std::time::Instant::now();
        let job_id = match std::str::from_utf8(&claimed.payload)
            .ok()
            .and_then(|s| Uuid::parse_str(s).ok())
        {
            Some(id) => id,
            None => {
                tracing::error!(job = %claimed.id, "unreadable generation job dropped");
                self.queue.ack(&claimed).await.map_err(|e| e.to_string())?;
                return Ok(Outcome::Idle);
            }
        };
        let Some(mut job) = self.store.job(job_id).await.map_err(|e| e.to_string())? else {
            tracing::error!(%job_id, "generation job has no record; dropped");
            self.queue.ack(&claimed).await.map_err(|e| e.to_string())?;
            return Ok(Outcome::Idle);
        };
        if matches!(job.status, JobStatus::Done | JobStatus::Failed) {
            // Finished by an earlier holder whose acknowledgement was lost.
            self.queue.ack(&claimed).await.map_err(|e| e.to_string())?;
            return Ok(Outcome::Idle);
        }
        if self.learner_deleted(&job).await? {
            self.drop_deleted(&claimed, &job, None).await?;
            return Ok(Outcome::Idle);
        }
        let result = self.handle(&claimed, &mut job).await;
        self.observe(&result, started.elapsed());
        result
    }

    /// Records how a handled job attempt ended and how long it took.
    fn observe(&self, result: &Result<Outcome, String>, elapsed: Duration) {
        use crate::metrics::job_outcome;
        let Some(metrics) = &self.metrics else { return };
        let outcome = match result {
            Ok(Outcome::Idle) => return,
            Ok(Outcome::Done(_)) => job_outcome::DONE,
            Ok(Outcome::Retrying(..)) => job_outcome::RETRIED,
            Ok(Outcome::Failed(..)) => job_outcome::FAILED,
            Err(_) => job_outcome::ERROR,
        };
        metrics.job_finished(QUEUE, outcome, elapsed);
    }

    async fn handle(&self, claimed: &Job, job: &mut GenerationJob) -> Result<Outcome, String> {
        job.attempts = claimed.attempt;
        self.report(job, JobStatus::Running, Some("generating"), None)
            .await?;
        let generated = match tokio::time::timeout(
            GENERATION_TIMEOUT,
            self.generator.generate(&job.description),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(GenerateError::Unavailable("generation timed out".into())),
        };
        let roadmap = match generated {
            Ok(roadmap) => roadmap,
            Err(e) => return self.failed_attempt(claimed, job, e).await,
        };
        self.report(job, JobStatus::Running, Some("saving"), None)
            .await?;
        let goal = new_goal(job, &roadmap);
        self.store
            .save_goal(&goal)
            .await
            .map_err(|e| e.to_string())?;
        // Checked after saving: a deletion that listed the learner's goals before this
        // save marked the account before, so this sees it (and one after finds the goal).
        if self.learner_deleted(job).await? {
            self.drop_deleted(claimed, job, Some(goal.goal.id)).await?;
            return Ok(Outcome::Failed(job.id, DELETED.into()));
        }
        if let Err(e) = self
            .cache
            .delete(&super::service::stats_key(job.user_id))
            .await
        {
            tracing::error!(error = %e, "cache invalidation failed");
        }
        self.report(job, JobStatus::Done, None, None).await?;
        self.queue.ack(claimed).await.map_err(|e| e.to_string())?;
        Ok(Outcome::Done(job.id))
    }

    async fn failed_attempt(
        &self,
        claimed: &Job,
        job: &mut GenerationJob,
        error: GenerateError,
    ) -> Result<Outcome, String> {
        let reason = error.to_string();
        tracing::warn!(job_id = %job.id, attempt = claimed.attempt, %reason, "roadmap generation failed");
        if error.is_retryable() {
            let backoff = Duration::from_secs(2u64.saturating_pow(claimed.attempt).min(60));
            let requeued = self
                .queue
                .retry(claimed, backoff, &reason)
                .await
                .map_err(|e| e.to_string())?;
            if requeued {
                let waiting = format!("attempt {} failed ({reason}); retrying", claimed.attempt);
                self.report(job, JobStatus::Queued, None, Some(waiting.clone()))
                    .await?;
                return Ok(Outcome::Retrying(job.id, waiting));
            }
            if let Some(metrics) = &self.metrics {
                metrics.job_dead_lettered(QUEUE);
            }
        } else {
            self.queue.ack(claimed).await.map_err(|e| e.to_string())?;
        }
        self.report(job, JobStatus::Failed, None, Some(reason.clone()))
            .await?;
        Ok(Outcome::Failed(job.id, reason))
    }

    /// Whether the job's learner deleted their account.
    async fn learner_deleted(&self, job: &GenerationJob) -> Result<bool, String> {
        let deleted = self
            .store
            .deleted_users(&[job.user_id])
            .await
            .map_err(|e| e.to_string())?;
        Ok(!deleted.is_empty())
    }

    /// Keeps nothing of a job whose learner deleted their account (the goal it saved,
    /// if any, and the job's record) and takes it off the queue.
    async fn drop_deleted(
        &self,
        claimed: &Job,
        job: &GenerationJob,
        goal_id: Option<Uuid>,
    ) -> Result<(), String> {
        tracing::info!(job_id = %job.id, "{DELETED}: generation job dropped");
        if let Some(goal_id) = goal_id {
            self.store
                .delete_goal(goal_id)
                .await
                .map_err(|e| e.to_string())?;
        }
        self.store
            .delete_job(job.id)
            .await
            .map_err(|e| e.to_string())?;
        self.queue.ack(claimed).await.map_err(|e| e.to_string())
    }

    /// Records the job's new state and tells the learner's sessions.
    async fn report(
        &self,
        job: &mut GenerationJob,
        status: JobStatus,
        step: Option<&str>,
        reason: Option<String>,
    ) -> Result<(), String> {
        job.status = status;
        job.step = step.map(str::to_string);
        job.reason = reason;
        job.updated_at = Utc::now();
        self.store
            .update_job(job)
            .await
            .map_err(|e| e.to_string())?;
        let event = UserEvent::JobStatus { job: job_view(job) };
        if let Err(e) = self
            .bus
            .publish(&user_topic(job.user_id), &event.encode())
            .await
        {
            // Progress pushes are a convenience; the job state is in the store.
            tracing::warn!(error = %e, "could not publish job progress");
        }
        Ok(())
    }
}

/// The job as learners see it.
pub fn job_view(job: &GenerationJob) -> serde_json::Value {
    serde_json::json!({
        "id": job.id,
        "status": job.status,
        "step": job.step,
        "reason": job.reason,
        "attempts": job.attempts,
        "goal_id": (job.status == JobStatus::Done).then_some(job.goal_id),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    })
}

/// The rows of a generated roadmap, with deterministic ids.
fn new_goal(job: &GenerationJob, roadmap: &GeneratedRoadmap) -> NewGoal {
    let goal_id = job.goal_id;
    let mut levels = Vec::new();
    let mut questions = Vec::new();
    for (i, generated) in roadmap.levels.iter().enumerate() {
        let order = i as u32 + 1;
        let level_id = ids::level(goal_id, order);
        levels.push(Level {
            id: level_id,
            goal_id,
            user_id: job.user_id,
            order,
            title: generated.title.clone(),
            description: generated.description.clone(),
            xp_reward: generated.xp_reward,
            status: if order == 1 {
                LevelStatus::Unlocked
            } else {
                LevelStatus::Locked
            },
            topics: generated
                .topics
                .iter()
                .map(|t| Topic {
                    name: t.name.clone(),
                    explanation: t.explanation.clone(),
                    completed: false,
                })
                .collect(),
        });
        for (q, generated) in generated.questions.iter().enumerate() {
            let index = q as u32;
            questions.push(Question {
                id: ids::question(level_id, index),
                level_id,
                index,
                question: generated.question.clone(),
                options: generated.options.clone(),
                answer: generated.answer,
                explanation: generated.explanation.clone(),
            });
        }
    }
    NewGoal {
        goal: Goal {
            id: goal_id,
            user_id: job.user_id,
            job_id: job.id,
            title: roadmap.title.clone(),
            description: job.description.clone(),
            category: roadmap.category.clone(),
            difficulty: roadmap.difficulty,
            status: GoalStatus::NotStarted,
            roadmap_id: ids::roadmap(goal_id),
            roadmap_name: roadmap.roadmap_name.clone(),
            level_count: levels.len() as u32,
            created_at: job.created_at,
        },
        levels,
        questions,
    }
}
