//! Goal use cases shared by the v1 and legacy routes.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::QUEUE;
use crate::ports::{
    Cache, GenerationJob, Goal, GoalStatus, JobQueue, JobStatus, Level, LevelStatus, Page,
    PortError, Question, Store, StoreError, User,
};

/// Goal descriptions, in characters.
pub const DESCRIPTION_CHARS: std::ops::RangeInclusive<usize> = 10..=500;
/// How long a roadmap stays cached.
const ROADMAP_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a learner's stats stay cached.
const STATS_TTL: Duration = Duration::from_secs(60);
/// Largest page of goals.
pub const MAX_PAGE: usize = 100;
/// Questions kept in the instance's cache of question banks (about 0.5 KiB each).
const CACHED_QUESTIONS: u64 = 100_000;
/// How long an unused bank stays cached.
const BANK_IDLE: Duration = Duration::from_secs(60 * 60);

/// Failures of goal operations, mapped to HTTP by the routes.
#[derive(Debug, thiserror::Error)]
pub enum GoalError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("topic index out of range")]
    TopicIndex,
    #[error("level is locked")]
    LevelLocked,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// A goal with its levels, as cached and shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GoalWithLevels {
    pub goal: Goal,
    pub levels: Vec<Level>,
}

/// Progress numbers of a learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub levels_completed: u32,
    pub total_levels: u32,
    /// `floor(completed / total * 100)`, 0 without levels.
    pub completion_percent: u32,
}

#[derive(Clone)]
pub struct GoalService {
    store: Arc<dyn Store>,
    cache: Arc<dyn Cache>,
    queue: Arc<dyn JobQueue>,
    /// Question banks by level, in this process. A bank is saved once with its goal and
    /// never changed (a deleted goal's levels are never found again), so a cached bank
    /// is never stale, and a quiz start reads only its level from the store.
    banks: moka::future::Cache<Uuid, Arc<[Question]>>,
}

pub fn roadmap_key(goal_id: Uuid) -> String {
    format!("roadmap:{goal_id}")
}

pub fn stats_key(user_id: Uuid) -> String {
    format!("stats:{user_id}")
}

impl GoalService {
    pub fn new(store: Arc<dyn Store>, cache: Arc<dyn Cache>, queue: Arc<dyn JobQueue>) -> Self {
        GoalService {
            store,
            cache,
            queue,
            banks: moka::future::Cache::builder()
                .max_capacity(CACHED_QUESTIONS)
                .weigher(|_, bank: &Arc<[Question]>| bank.len().try_into().unwrap_or(u32::MAX))
                .time_to_idle(BANK_IDLE)
                .build(),
        }
    }

    /// Queues the generation of a roadmap for the learner's goal.
    pub async fn create(
        &self,
        user_id: Uuid,
        description: &str,
    ) -> Result<GenerationJob, GoalError> {
        let description = description.trim();
        let chars = description.chars().count();
        if !DESCRIPTION_CHARS.contains(&chars) {
            return Err(GoalError::Invalid {
                field: "description",
                message: format!(
                    "description must be {} to {} characters (not counting surrounding spaces)",
                    DESCRIPTION_CHARS.start(),
                    DESCRIPTION_CHARS.end()
                ),
            });
        }
        let now = Utc::now();
        let job = GenerationJob {
            id: Uuid::now_v7(),
            user_id,
            goal_id: Uuid::now_v7(),
            description: description.to_string(),
            status: JobStatus::Queued,
            step: None,
            reason: None,
            attempts: 0,
            created_at: now,
            updated_at: now,
        };
        // The record first: a worker that claims the job must find it.
        self.store.create_job(&job).await?;
        self.queue
            .enqueue(QUEUE, job.id.to_string().as_bytes())
            .await?;
        tracing::info!(job_id = %job.id, %user_id, "roadmap generation queued");
        Ok(job)
    }

    /// The user's job; another user's is "not found".
    pub async fn job(&self, user_id: Uuid, job_id: Uuid) -> Result<GenerationJob, GoalError> {
        match self.store.job(job_id).await? {
            Some(job) if job.user_id == user_id => Ok(job),
            _ => Err(GoalError::NotFound("job")),
        }
    }

    /// Waits until the job is done or failed, or `limit` passes; returns the job as it
    /// is then. Polls the store, so it works whichever instance runs the job.
    pub async fn wait(
        &self,
        user_id: Uuid,
        job_id: Uuid,
        limit: Duration,
    ) -> Result<GenerationJob, GoalError> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut pause = Duration::from_millis(25);
        loop {
            let job = self.job(user_id, job_id).await?;
            if matches!(job.status, JobStatus::Done | JobStatus::Failed)
                || tokio::time::Instant::now() >= deadline
            {
                return Ok(job);
            }
            tokio::time::sleep(pause.min(deadline - tokio::time::Instant::now())).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    pub async fn list(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page<Goal>, GoalError> {
        Ok(self
            .store
            .goals_of_user(user_id, after, limit.clamp(1, MAX_PAGE))
            .await?)
    }

    /// The user's goal with its levels (cached); another user's is "not found".
    pub async fn get(&self, user_id: Uuid, goal_id: Uuid) -> Result<GoalWithLevels, GoalError> {
        let key = roadmap_key(goal_id);
        if let Some(cached) = self.cache_get::<GoalWithLevels>(&key).await {
            return if cached.goal.user_id == user_id {
                Ok(cached)
            } else {
                Err(GoalError::NotFound("goal"))
            };
        }
        let goal = match self.store.goal(goal_id).await? {
            Some(goal) if goal.user_id == user_id => goal,
            _ => return Err(GoalError::NotFound("goal")),
        };
        let levels = self.store.levels(goal_id).await?;
        let found = GoalWithLevels { goal, levels };
        self.cache_put(&key, &found, ROADMAP_TTL).await;
        Ok(found)
    }

    pub async fn delete(&self, user_id: Uuid, goal_id: Uuid) -> Result<(), GoalError> {
        match self.store.goal(goal_id).await? {
            Some(goal) if goal.user_id == user_id => {}
            _ => return Err(GoalError::NotFound("goal")),
        }
        self.store.delete_goal(goal_id).await?;
        self.invalidate(goal_id, user_id).await;
        Ok(())
    }

    /// The user's level; another user's is "not found".
    pub async fn level(&self, user_id: Uuid, level_id: Uuid) -> Result<Level, GoalError> {
        match self.store.level(level_id).await? {
            Some(level) if level.user_id == user_id => Ok(level),
            _ => Err(GoalError::NotFound("level")),
        }
    }

    /// One of the learner's levels with its question bank, read together.
    pub async fn level_with_questions(
        &self,
        user_id: Uuid,
        level_id: Uuid,
    ) -> Result<(Level, Arc<[Question]>), GoalError> {
        let (level, bank) = tokio::join!(self.level(user_id, level_id), self.bank(level_id));
        Ok((level?, bank?))
    }

    /// The question bank of a level, from this instance's cache when it has it. An empty
    /// bank is not kept: in a store without multi-partition transactions a level may be
    /// seen a moment before its questions.
    async fn bank(&self, level_id: Uuid) -> Result<Arc<[Question]>, GoalError> {
        if let Some(bank) = self.banks.get(&level_id).await {
            return Ok(bank);
        }
        let bank: Arc<[Question]> = self.store.questions(level_id).await?.into();
        if !bank.is_empty() {
            self.banks.insert(level_id, bank.clone()).await;
        }
        Ok(bank)
    }

    /// Marks a topic done or not done. Topics of a locked level cannot be ticked.
    pub async fn set_topic(
        &self,
        user_id: Uuid,
        level_id: Uuid,
        index: u32,
        completed: bool,
    ) -> Result<Level, GoalError> {
        let level = self.level(user_id, level_id).await?;
        if level.status == LevelStatus::Locked {
            return Err(GoalError::LevelLocked);
        }
        if index as usize >= level.topics.len() {
            return Err(GoalError::TopicIndex);
        }
        let updated = self
            .store
            .set_topic_completed(level_id, index, completed)
            .await?
            .ok_or(GoalError::TopicIndex)?;
        self.invalidate(level.goal_id, user_id).await;
        Ok(updated)
    }

    /// The old toggle: flips one topic.
    pub async fn toggle_topic(
        &self,
        user_id: Uuid,
        level_id: Uuid,
        index: u32,
    ) -> Result<Level, GoalError> {
        let level = self.level(user_id, level_id).await?;
        let current = level
            .topics
            .get(index as usize)
            .map(|t| t.completed)
            .ok_or(GoalError::TopicIndex)?;
        self.set_topic(user_id, level_id, index, !current).await
    }

    /// Records a passed level: completes it, unlocks the next, and moves the goal's
    /// status along. Returns whether a next level was unlocked by this call.
    pub async fn complete_level(&self, level: &Level) -> Result<bool, GoalError> {
        self.store
            .set_level_status(level.id, LevelStatus::Completed)
            .await?;
        let levels = self.store.levels(level.goal_id).await?;
        let mut unlocked = false;
        if let Some(next) = levels.iter().find(|l| l.order == level.order + 1)
            && next.status == LevelStatus::Locked
        {
            self.store
                .set_level_status(next.id, LevelStatus::Unlocked)
                .await?;
            unlocked = true;
        }
        let all_done = levels
            .iter()
            .all(|l| l.id == level.id || l.status == LevelStatus::Completed);
        let status = if all_done {
            GoalStatus::Completed
        } else {
            GoalStatus::InProgress
        };
        self.store.set_goal_status(level.goal_id, status).await?;
        self.invalidate(level.goal_id, level.user_id).await;
        Ok(unlocked)
    }

    /// Levels completed across all the learner's goals (cached for a minute).
    pub async fn stats(&self, user: &User) -> Result<Stats, GoalError> {
        let key = stats_key(user.id);
        if let Some(stats) = self.cache_get::<Stats>(&key).await {
            return Ok(stats);
        }
        let mut completed = 0u32;
        let mut total = 0u32;
        let mut after = None;
        loop {
            let page = self.store.goals_of_user(user.id, after, MAX_PAGE).await?;
            for goal in &page.items {
                for level in self.store.levels(goal.id).await? {
                    total += 1;
                    if level.status == LevelStatus::Completed {
                        completed += 1;
                    }
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let stats = Stats {
            levels_completed: completed,
            total_levels: total,
            completion_percent: (completed * 100).checked_div(total).unwrap_or(0),
        };
        self.cache_put(&key, &stats, STATS_TTL).await;
        Ok(stats)
    }

    /// Drops the cached roadmap and stats after a write that changes them.
    pub async fn invalidate(&self, goal_id: Uuid, user_id: Uuid) {
        for key in [roadmap_key(goal_id), stats_key(user_id)] {
            if let Err(e) = self.cache.delete(&key).await {
                // A stale entry would outlive the write: say so loudly.
                tracing::error!(error = %e, %key, "cache invalidation failed");
            }
        }
    }

    async fn cache_get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        match self.cache.get(key).await {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cache read failed; reading the store");
                None
            }
        }
    }

    async fn cache_put<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) {
        if let Ok(bytes) = serde_json::to_vec(value)
            && let Err(e) = self.cache.set(key, &bytes, ttl).await
        {
            tracing::warn!(error = %e, "cache write failed");
        }
    }
}
