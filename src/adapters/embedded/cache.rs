//! In-process cache on `moka`, for a single instance without Redis.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache as MokaCache;
use moka::ops::compute::{CompResult, Op};

use questpath_actors::ports::{Cache, PortResult};

const BACKEND: &str = "in-process";

/// Default memory budget: large enough for roadmaps and tickets of a single
/// instance, small enough that a flood of distinct keys cannot exhaust the host.
const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Smallest time to live: Redis refuses `SET ... PX 0`, so both adapters round a zero
/// TTL up to one millisecond and behave alike.
const MIN_TTL: Duration = Duration::from_millis(1);

/// Largest time to live (ten years), so absurd TTLs cannot overflow clock arithmetic;
/// the Redis adapter clamps the same way.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A stored value with its own expiry. `expires_at` is checked on every read as well
/// as by moka, because moka's removal (used by `take`) hands back expired values.
struct Stored {
    value: Vec<u8>,
    ttl: Duration,
    expires_at: Option<Instant>,
}

impl Stored {
    fn new(value: &[u8], ttl: Duration) -> Arc<Self> {
        let ttl = ttl.clamp(MIN_TTL, MAX_TTL);
        let now = Instant::now();
        Arc::new(Stored {
            value: value.to_vec(),
            ttl,
            expires_at: now.checked_add(ttl),
        })
    }

    fn is_live(&self) -> bool {
        // `None` only if the clock cannot represent the deadline; moka still expires it.
        self.expires_at.is_none_or(|at| Instant::now() < at)
    }
}

/// Gives each entry the TTL it was written with, like `SET ... PX`.
struct PerEntryTtl;

impl Expiry<String, Arc<Stored>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<Stored>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Arc<Stored>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The cache of a single instance. Bounded in bytes (keys plus values) so that it
/// evicts rather than grows without limit; entries also expire on their own TTL.
#[derive(Clone)]
pub struct InProcessCache {
    entries: MokaCache<String, Arc<Stored>>,
}

impl InProcessCache {
    /// A cache holding up to 64 MiB of keys and values.
    pub fn new() -> Self {
        Self::with_max_bytes(DEFAULT_MAX_BYTES)
    }

    /// A cache holding up to `max_bytes` of keys and values; least useful entries are
    /// evicted first when it is full.
    pub fn with_max_bytes(max_bytes: u64) -> Self {
        let entries = MokaCache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, value: &Arc<Stored>| {
                u32::try_from(key.len().saturating_add(value.value.len())).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        InProcessCache { entries }
    }
}

impl Default for InProcessCache {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Cache for InProcessCache {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> PortResult<()> {
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        Ok(self
            .entries
            .get(key)
            .await
            .filter(|stored| stored.is_live())
            .map(|stored| stored.value.clone()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()> {
        self.entries
            .insert(key.to_string(), Stored::new(value, ttl))
            .await;
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<bool> {
        // The compute closure runs under moka's per-key lock, so two concurrent callers
        // cannot both see the key absent.
        let result = self
            .entries
            .entry(key.to_string())
            .and_compute_with(|existing| {
                let op = match existing {
                    Some(entry) if entry.value().is_live() => Op::Nop,
                    _ => Op::Put(Stored::new(value, ttl)),
                };
                std::future::ready(op)
            })
            .await;
        Ok(matches!(
            result,
            CompResult::Inserted(_) | CompResult::ReplacedWith(_)
        ))
    }

    async fn take(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        // `remove` is atomic: of concurrent callers only one gets the entry back.
        Ok(self
            .entries
            .remove(key)
            .await
            .filter(|stored| stored.is_live())
            .map(|stored| stored.value.clone()))
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        self.entries.invalidate(key).await;
        Ok(())
    }
}
