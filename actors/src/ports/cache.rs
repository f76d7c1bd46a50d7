//! Cache port: short-lived values with a time to live, shared by all instances when
//! Redis is configured. Also carries one-time values such as websocket tickets.

use std::time::Duration;

use async_trait::async_trait;

use super::PortResult;

/// A key-value cache with per-entry expiry. Keys are namespaced by the caller
/// (`"roadmap:{id}"`); adapters add the deployment prefix.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// Name of the backend, for logs and `/ready`.
    fn backend(&self) -> &'static str;

    /// Answers when the backend is reachable.
    async fn ping(&self) -> PortResult<()>;

    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>>;

    /// Stores `value` under `key` for `ttl`, replacing any previous value.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()>;

    /// Stores `value` only if `key` is absent; returns whether it was stored.
    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<bool>;

    /// Removes and returns the value atomically: of two concurrent callers, at most
    /// one gets it (one-time tickets rely on this).
    async fn take(&self, key: &str) -> PortResult<Option<Vec<u8>>>;

    /// Removes `key`; absent keys are not an error.
    async fn delete(&self, key: &str) -> PortResult<()>;
}
