//! Roadmap-generation jobs: one record each, and a user's jobs in one key range of
//! `generation_jobs_by_user`.

use async_trait::async_trait;
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{GENERATION_JOBS, GENERATION_JOBS_BY_USER};
use super::txn::{Txn, encode, get_json, internal, read_json};
use questpath_actors::ports::store::{GenerationJob, JobStore, StoreResult};

#[async_trait]
impl JobStore for EmbeddedStore {
    async fn create_job(&self, job: &GenerationJob) -> StoreResult<()> {
        let id = job.id.as_u128();
        let user = job.user_id.as_u128();
        let bytes = encode(job)?;
        self.write(move |tx| {
            tx.open_table(GENERATION_JOBS)
                .map_err(internal)?
                .insert(id, bytes.as_slice())
                .map_err(internal)?;
            tx.open_table(GENERATION_JOBS_BY_USER)
                .map_err(internal)?
                .insert((user, id), ())
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn job(&self, job_id: Uuid) -> StoreResult<Option<GenerationJob>> {
        self.read(move |tx| read_json(tx, GENERATION_JOBS, job_id.as_u128(), "generation job"))
            .await
    }

    async fn update_job(&self, job: &GenerationJob) -> StoreResult<()> {
        let update = job.clone();
        // An unknown job stays unknown (on CQL it gets no identity columns).
        self.update(
            GENERATION_JOBS,
            update.id.as_u128(),
            "generation job",
            move |stored: &mut GenerationJob| {
                stored.status = update.status;
                stored.step = update.step;
                stored.reason = update.reason;
                stored.attempts = update.attempts;
                stored.updated_at = update.updated_at;
            },
        )
        .await
        .map(drop)
    }

    async fn jobs_of_user(&self, user_id: Uuid) -> StoreResult<Vec<GenerationJob>> {
        let user = user_id.as_u128();
        self.scan(move |tx| {
            let index = tx.open_table(GENERATION_JOBS_BY_USER).map_err(internal)?;
            let jobs = tx.open_table(GENERATION_JOBS).map_err(internal)?;
            let mut found = Vec::new();
            for entry in index
                .range((user, 0)..=(user, u128::MAX))
                .map_err(internal)?
                .rev()
            {
                let (key, _) = entry.map_err(internal)?;
                let job: Option<GenerationJob> = get_json(&jobs, key.value().1, "generation job")?;
                found.extend(job);
            }
            Ok(found)
        })
        .await
    }

    async fn delete_job(&self, job_id: Uuid) -> StoreResult<bool> {
        let id = job_id.as_u128();
        self.write_or_abort(move |tx| {
            let mut jobs = tx.open_table(GENERATION_JOBS).map_err(internal)?;
            let job: Option<GenerationJob> = get_json(&jobs, id, "generation job")?;
            let Some(job) = job else {
                return Ok(Txn::Abort(false));
            };
            jobs.remove(id).map_err(internal)?;
            tx.open_table(GENERATION_JOBS_BY_USER)
                .map_err(internal)?
                .remove((job.user_id.as_u128(), id))
                .map_err(internal)?;
            Ok(Txn::Commit(true))
        })
        .await
    }
}
