//! Roadmap-generation jobs: one record each.

use async_trait::async_trait;
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::GENERATION_JOBS;
use super::txn::{encode, internal, read_json};
use questpath_actors::ports::store::{GenerationJob, JobStore, StoreResult};

#[async_trait]
impl JobStore for EmbeddedStore {
    async fn create_job(&self, job: &GenerationJob) -> StoreResult<()> {
        let id = job.id.as_u128();
        let bytes = encode(job)?;
        self.write(move |tx| {
            tx.open_table(GENERATION_JOBS)
                .map_err(internal)?
                .insert(id, bytes.as_slice())
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
}
