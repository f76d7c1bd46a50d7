//! The quiz-owner port's decorator (issue 16): its calls are timed as Redis operations
//! of the port `quiz_owners` when it wraps the Redis adapter.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use super::super::Metrics;
use super::PortObserver;
use crate::ports::{PortResult, QuizOwners};

/// A [`QuizOwners`] whose calls are timed (on Redis).
pub struct InstrumentedQuizOwners {
    inner: Arc<dyn QuizOwners>,
    observer: PortObserver,
}

impl InstrumentedQuizOwners {
    pub fn new(inner: Arc<dyn QuizOwners>, metrics: Arc<Metrics>, redis: bool) -> Self {
        let observer = PortObserver::new(metrics, "quiz_owners", redis);
        InstrumentedQuizOwners { inner, observer }
    }
}

#[async_trait]
impl QuizOwners for InstrumentedQuizOwners {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn hold(&self, user: Uuid, owner: Uuid, ttl: Duration) -> PortResult<bool> {
        timed_port!(self, "hold", self.inner.hold(user, owner, ttl))
    }

    async fn release(&self, user: Uuid, owner: Uuid) -> PortResult<()> {
        timed_port!(self, "release", self.inner.release(user, owner))
    }

    async fn owner(&self, user: Uuid) -> PortResult<Option<Uuid>> {
        timed_port!(self, "owner", self.inner.owner(user))
    }

    async fn save(
        &self,
        user: Uuid,
        owner: Uuid,
        state: Option<&[u8]>,
        ttl: Duration,
    ) -> PortResult<bool> {
        timed_port!(self, "save", self.inner.save(user, owner, state, ttl))
    }

    async fn load(&self, user: Uuid) -> PortResult<Option<Vec<u8>>> {
        timed_port!(self, "load", self.inner.load(user))
    }
}
