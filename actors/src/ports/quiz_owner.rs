//! Quiz-owner port: which session runs a learner's solo quiz, and its saved copy.
//!
//! A learner's quiz runs in exactly one session at a time, on whichever instance holds
//! its lease; the sessions of that learner on other instances forward their commands to
//! it over the bus. The lease names its holder by an owner token (one per session) and
//! lasts `ttl` unless renewed, so the quiz of an instance that dies is taken over once
//! the lease runs out. The saved copy is written only while the writer holds the lease
//! (checked in the same step as the write): a session that lost its lease cannot
//! overwrite its successor's progress.

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use super::PortResult;

#[async_trait]
pub trait QuizOwners: Send + Sync + 'static {
    fn backend(&self) -> &'static str;

    /// Takes the lease of `user`'s quiz for `owner`, or renews it when `owner` already
    /// holds it, for `ttl`. True when `owner` holds it afterwards; false (nothing
    /// changed) while another owner's lease runs.
    async fn hold(&self, user: Uuid, owner: Uuid, ttl: Duration) -> PortResult<bool>;

    /// Gives the lease back if `owner` holds it (another owner's lease is left alone).
    async fn release(&self, user: Uuid, owner: Uuid) -> PortResult<()>;

    /// The current holder of the lease, if any.
    async fn owner(&self, user: Uuid) -> PortResult<Option<Uuid>>;

    /// Writes `state` as the saved copy of `user`'s quiz for `ttl`, or deletes it when
    /// `None`, only while `owner` holds the lease. False (nothing written) otherwise.
    async fn save(
        &self,
        user: Uuid,
        owner: Uuid,
        state: Option<&[u8]>,
        ttl: Duration,
    ) -> PortResult<bool>;

    /// The saved copy of `user`'s quiz, whoever holds the lease.
    async fn load(&self, user: Uuid) -> PortResult<Option<Vec<u8>>>;
}
