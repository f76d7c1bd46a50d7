//! Cache on Redis strings with `PX` expiry, shared by every instance.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;

use super::{BACKEND, Shared, port_err};
use crate::adapters::embedded::cache::MAX_TTL;
use questpath_actors::ports::{Cache, PortResult};

/// The cache on Redis. `take` is `GETDEL`, a single command, so it is atomic across
/// instances as one-time tickets require.
#[derive(Clone)]
pub struct RedisCache {
    shared: Arc<Shared>,
}

impl RedisCache {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        RedisCache { shared }
    }

    fn key(&self, key: &str) -> String {
        self.shared.key("cache", key)
    }
}

/// `PX` milliseconds: at least 1 (Redis refuses 0) and at most the in-process maximum,
/// so both adapters treat extreme TTLs alike.
fn expiry(ttl: Duration) -> Expiration {
    let ms = ttl.min(MAX_TTL).as_millis().max(1);
    Expiration::PX(i64::try_from(ms).unwrap_or(i64::MAX))
}

#[async_trait]
impl Cache for RedisCache {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> PortResult<()> {
        self.shared.ping().await
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        self.shared
            .pool
            .get::<Option<Vec<u8>>, _>(self.key(key))
            .await
            .map_err(port_err("get"))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()> {
        self.shared
            .pool
            .set::<(), _, _>(self.key(key), value, Some(expiry(ttl)), None, false)
            .await
            .map_err(port_err("set"))
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<bool> {
        // `SET NX` answers OK when it stored the value and nil when the key existed.
        let reply: Value = self
            .shared
            .pool
            .set(
                self.key(key),
                value,
                Some(expiry(ttl)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(port_err("set_if_absent"))?;
        Ok(!reply.is_null())
    }

    async fn take(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        self.shared
            .pool
            .getdel::<Option<Vec<u8>>, _>(self.key(key))
            .await
            .map_err(port_err("take"))
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        self.shared
            .pool
            .del::<(), _>(self.key(key))
            .await
            .map_err(port_err("delete"))
    }
}
