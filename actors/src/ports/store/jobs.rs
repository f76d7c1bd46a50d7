//! Roadmap-generation jobs, as the learner follows them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;

/// State of a roadmap-generation job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

/// A roadmap-generation job as the learner can follow it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GenerationJob {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The goal this job creates (its id is fixed when the job is queued).
    pub goal_id: Uuid,
    pub description: String,
    pub status: JobStatus,
    /// What a running job is doing ("generating", "saving").
    pub step: Option<String>,
    /// Why a failed job failed.
    pub reason: Option<String>,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Generation jobs: created queued, updated as they run.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Stores a new job (status queued), listed under its user.
    async fn create_job(&self, job: &GenerationJob) -> StoreResult<()>;

    async fn job(&self, job_id: Uuid) -> StoreResult<Option<GenerationJob>>;

    /// Replaces the job's status, step, reason, attempts and `updated_at`.
    async fn update_job(&self, job: &GenerationJob) -> StoreResult<()>;

    /// The user's jobs, newest first (a learner's export and deletion; a few per goal).
    async fn jobs_of_user(&self, user_id: Uuid) -> StoreResult<Vec<GenerationJob>>;

    /// Deletes a job and its entry in the user's list; false when it did not exist.
    async fn delete_job(&self, job_id: Uuid) -> StoreResult<bool>;
}
