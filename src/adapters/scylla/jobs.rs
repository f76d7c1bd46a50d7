//! Roadmap-generation jobs on CQL (see docs/data-model.md): one row each, with one
//! writer at a time (the worker that claimed the job), so no lightweight transactions;
//! a user's jobs are listed in `generation_jobs_by_user`, written after the job's row
//! (a listed job can always be read) and deleted after it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::MaybeUnset;
use uuid::Uuid;

use super::connect::ConnectError;
use super::store::{ScyllaStore, from_int, from_text, internal, prepare, to_int, to_text};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{GenerationJob, JobStore, StoreResult};

const JOB_COLUMNS: &str =
    "job_id, user_id, goal_id, description, status, step, reason, attempts, created_at, updated_at";

/// Statements of the generation-job table, prepared once per session.
pub(super) struct JobStatements {
    insert_job: PreparedStatement,
    job: PreparedStatement,
    update_job: PreparedStatement,
    index_job: PreparedStatement,
    jobs_of_user: PreparedStatement,
    delete_job: PreparedStatement,
    unindex_job: PreparedStatement,
}

impl JobStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        Ok(JobStatements {
            // `step` and `reason` are bound unset when absent: no tombstone for a new job.
            insert_job: prepare(format!(
                "INSERT INTO {ks}.generation_jobs ({JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            job: prepare(format!(
                "SELECT {JOB_COLUMNS} FROM {ks}.generation_jobs WHERE job_id = ?"
            ))
            .await?,
            // Only the columns that change; an unknown job gets no identity columns and
            // so still reads as absent.
            update_job: prepare(format!(
                "UPDATE {ks}.generation_jobs SET status = ?, step = ?, reason = ?, attempts = ?, updated_at = ? WHERE job_id = ?"
            ))
            .await?,
            index_job: prepare(format!(
                "INSERT INTO {ks}.generation_jobs_by_user (user_id, job_id) VALUES (?, ?)"
            ))
            .await?,
            jobs_of_user: prepare(format!(
                "SELECT job_id FROM {ks}.generation_jobs_by_user WHERE user_id = ?"
            ))
            .await?,
            delete_job: prepare(format!(
                "DELETE FROM {ks}.generation_jobs WHERE job_id = ?"
            ))
            .await?,
            unindex_job: prepare(format!(
                "DELETE FROM {ks}.generation_jobs_by_user WHERE user_id = ? AND job_id = ?"
            ))
            .await?,
        })
    }
}

#[derive(DeserializeRow)]
struct JobRow {
    job_id: Uuid,
    user_id: Option<Uuid>,
    goal_id: Option<Uuid>,
    description: Option<String>,
    status: Option<String>,
    step: Option<String>,
    reason: Option<String>,
    attempts: Option<i32>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl JobRow {
    /// The job, or `None` for a row an update of an unknown job left (no identity).
    fn into_job(self) -> StoreResult<Option<GenerationJob>> {
        let (Some(user_id), Some(goal_id), Some(created_at)) =
            (self.user_id, self.goal_id, self.created_at)
        else {
            return Ok(None);
        };
        let status = self
            .status
            .ok_or_else(|| internal(format!("job {} has no status", self.job_id)))?;
        Ok(Some(GenerationJob {
            id: self.job_id,
            user_id,
            goal_id,
            description: self.description.unwrap_or_default(),
            status: from_text(status, "job status")?,
            step: self.step,
            reason: self.reason,
            attempts: from_int(self.attempts.unwrap_or(0), "job attempts")?,
            created_at,
            updated_at: self.updated_at.unwrap_or(created_at),
        }))
    }
}

#[async_trait]
impl JobStore for ScyllaStore {
    async fn create_job(&self, job: &GenerationJob) -> StoreResult<()> {
        let unset_if_none = |value: &Option<String>| match value {
            Some(text) => MaybeUnset::Set(text.clone()),
            None => MaybeUnset::Unset,
        };
        self.run(
            &self.jobs.insert_job,
            (
                job.id,
                job.user_id,
                job.goal_id,
                &job.description,
                to_text(&job.status)?,
                unset_if_none(&job.step),
                unset_if_none(&job.reason),
                to_int(job.attempts, "attempts")?,
                job.created_at,
                job.updated_at,
            ),
        )
        .await?;
        self.run(&self.jobs.index_job, (job.user_id, job.id)).await
    }

    async fn job(&self, job_id: Uuid) -> StoreResult<Option<GenerationJob>> {
        let row: Option<JobRow> = self.one_row(&self.jobs.job, (job_id,)).await?;
        Ok(row.map(JobRow::into_job).transpose()?.flatten())
    }

    async fn update_job(&self, job: &GenerationJob) -> StoreResult<()> {
        // Absent `step` or `reason` are bound as null: the update replaces them.
        self.run(
            &self.jobs.update_job,
            (
                to_text(&job.status)?,
                &job.step,
                &job.reason,
                to_int(job.attempts, "attempts")?,
                job.updated_at,
                job.id,
            ),
        )
        .await
    }

    async fn jobs_of_user(&self, user_id: Uuid) -> StoreResult<Vec<GenerationJob>> {
        let ids = self
            .all_rows::<(Uuid,)>(&self.jobs.jobs_of_user, (user_id,))
            .await?;
        let mut jobs = Vec::with_capacity(ids.len());
        for (job_id,) in ids {
            // An entry whose job is gone (a deletion that stopped half-way) is skipped.
            if let Some(job) = self.job(job_id).await?.filter(|j| j.user_id == user_id) {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    async fn delete_job(&self, job_id: Uuid) -> StoreResult<bool> {
        let Some(job) = self.job(job_id).await? else {
            // Also what an update of an unknown (or deleted) job left behind.
            self.run(&self.jobs.delete_job, (job_id,)).await?;
            return Ok(false);
        };
        self.run(&self.jobs.delete_job, (job_id,)).await?;
        self.run(&self.jobs.unindex_job, (job.user_id, job_id))
            .await?;
        Ok(true)
    }
}
