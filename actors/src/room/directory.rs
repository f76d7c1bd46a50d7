//! The room directory: join code -> the room and the instance that owns its actor,
//! in the cache port (Redis when configured, so every instance sees every room).
//!
//! An entry is a lease: written once with `set_if_absent` (so two rooms never share a
//! code), then rewritten by the owning actor every third of its lifetime. When an
//! instance dies its entries expire within one lifetime, so the directory cannot keep
//! pointing at rooms nobody runs (the stale-registry problem of other servers).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ports::{Cache, PortResult};

/// What the directory knows of a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub room_id: Uuid,
    pub code: String,
    /// The instance running the room's actor.
    pub owner: Uuid,
    pub host_id: Uuid,
    pub title: String,
    pub allow_guests: bool,
    /// The owner acknowledges ticketed commands ([`super::event::Ticketed`]); an owner
    /// of a version before them does not, and relays send it plain commands.
    #[serde(default)]
    pub tickets: bool,
}

#[derive(Clone)]
pub struct Directory {
    cache: Arc<dyn Cache>,
    lease: Duration,
}

fn key(code: &str) -> String {
    format!("room-code:{code}")
}

impl Directory {
    pub fn new(cache: Arc<dyn Cache>, lease: Duration) -> Self {
        Directory { cache, lease }
    }

    /// How long an entry lives without a refresh.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Claims `entry.code`; false when another room has it.
    pub async fn claim(&self, entry: &Entry) -> PortResult<bool> {
        let value = serde_json::to_vec(entry).expect("entries serialize");
        self.cache
            .set_if_absent(&key(&entry.code), &value, self.lease)
            .await
    }

    /// Extends the lease, unless the code now belongs to someone else (it expired
    /// while this owner could not reach the cache and was claimed again).
    pub async fn refresh(&self, entry: &Entry) -> PortResult<bool> {
        match self.find(&entry.code).await? {
            Some(current) if current.room_id != entry.room_id => Ok(false),
            _ => {
                let value = serde_json::to_vec(entry).expect("entries serialize");
                self.cache
                    .set(&key(&entry.code), &value, self.lease)
                    .await?;
                Ok(true)
            }
        }
    }

    /// The room with this (normalized) code, if one is running.
    pub async fn find(&self, code: &str) -> PortResult<Option<Entry>> {
        Ok(self
            .cache
            .get(&key(code))
            .await?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Forgets a room that ended (only if the code is still its own).
    pub async fn release(&self, entry: &Entry) -> PortResult<()> {
        if self
            .find(&entry.code)
            .await?
            .is_some_and(|current| current.room_id == entry.room_id)
        {
            self.cache.delete(&key(&entry.code)).await?;
        }
        Ok(())
    }
}
