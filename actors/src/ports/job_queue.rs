//! Job-queue port: durable background work (roadmap generation) with acknowledgement,
//! retries with backoff, a dead-letter list, and reclaiming of jobs whose worker died.

use std::time::Duration;

use async_trait::async_trait;

use super::PortResult;

/// A claimed job. `attempt` starts at 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub queue: String,
    pub payload: Vec<u8>,
    pub attempt: u32,
}

/// A queue of jobs per name. A claimed job that is neither acknowledged nor retried
/// within the visibility timeout is handed to another worker.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    fn backend(&self) -> &'static str;

    async fn ping(&self) -> PortResult<()>;

    /// Adds a job and returns its id.
    async fn enqueue(&self, queue: &str, payload: &[u8]) -> PortResult<String>;

    /// Claims the next ready job for `consumer`, waiting up to `wait` for one. Jobs
    /// claimed earlier by any consumer and idle for longer than the visibility timeout
    /// are reclaimed first.
    async fn claim(&self, queue: &str, consumer: &str, wait: Duration) -> PortResult<Option<Job>>;

    /// Marks a claimed job done.
    async fn ack(&self, job: &Job) -> PortResult<()>;

    /// Gives the job back to be tried again after `delay`; after the queue's maximum
    /// attempts it goes to the dead-letter list instead. Returns true if it was requeued.
    async fn retry(&self, job: &Job, delay: Duration, reason: &str) -> PortResult<bool>;

    /// Jobs waiting (ready or delayed), not counting claimed ones.
    async fn depth(&self, queue: &str) -> PortResult<u64>;

    /// Jobs that exhausted their attempts, oldest first, with the last failure reason.
    async fn dead_letters(&self, queue: &str, limit: usize) -> PortResult<Vec<(Job, String)>>;
}
