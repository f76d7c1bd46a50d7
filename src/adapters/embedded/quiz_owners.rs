//! In-process quiz owners: one process runs every quiz, so the lease is always its
//! session's; kept with the same rules as Redis so both adapters pass one suite.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use uuid::Uuid;

use questpath_actors::ports::{PortResult, QuizOwners};

use super::cache::MAX_TTL;

const BACKEND: &str = "in-process";

/// Entries are swept of expired parts once this many writes went by, so quizzes nobody
/// came back to do not pile up.
const SWEEP_EVERY: u64 = 1024;

#[derive(Default)]
struct Entry {
    owner: Option<(Uuid, Instant)>,
    state: Option<(Vec<u8>, Instant)>,
}

impl Entry {
    fn live_owner(&self, now: Instant) -> Option<Uuid> {
        self.owner.filter(|(_, until)| now < *until).map(|(o, _)| o)
    }

    fn is_empty(&self, now: Instant) -> bool {
        self.live_owner(now).is_none() && self.state.as_ref().is_none_or(|(_, until)| now >= *until)
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Uuid, Entry>,
    writes: u64,
}

/// Quiz leases and saved copies of a single instance.
#[derive(Default)]
pub struct InProcessQuizOwners {
    inner: Mutex<Inner>,
}

impl InProcessQuizOwners {
    pub fn new() -> Self {
        Self::default()
    }

    fn write<T>(&self, user: Uuid, change: impl FnOnce(&mut Entry, Instant) -> T) -> T {
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.writes += 1;
        if inner.writes.is_multiple_of(SWEEP_EVERY) {
            inner.entries.retain(|_, e| !e.is_empty(now));
        }
        let entry = inner.entries.entry(user).or_default();
        let result = change(entry, now);
        if entry.is_empty(now) {
            inner.entries.remove(&user);
        }
        result
    }
}

fn deadline(now: Instant, ttl: Duration) -> Instant {
    now + ttl.clamp(Duration::from_millis(1), MAX_TTL)
}

#[async_trait]
impl QuizOwners for InProcessQuizOwners {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn hold(&self, user: Uuid, owner: Uuid, ttl: Duration) -> PortResult<bool> {
        Ok(self.write(user, |entry, now| match entry.live_owner(now) {
            Some(other) if other != owner => false,
            _ => {
                entry.owner = Some((owner, deadline(now, ttl)));
                true
            }
        }))
    }

    async fn release(&self, user: Uuid, owner: Uuid) -> PortResult<()> {
        self.write(user, |entry, now| {
            if entry.live_owner(now) == Some(owner) {
                entry.owner = None;
            }
        });
        Ok(())
    }

    async fn owner(&self, user: Uuid) -> PortResult<Option<Uuid>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(inner
            .entries
            .get(&user)
            .and_then(|e| e.live_owner(Instant::now())))
    }

    async fn save(
        &self,
        user: Uuid,
        owner: Uuid,
        state: Option<&[u8]>,
        ttl: Duration,
    ) -> PortResult<bool> {
        Ok(self.write(user, |entry, now| {
            if entry.live_owner(now) != Some(owner) {
                return false;
            }
            entry.state = state.map(|bytes| (bytes.to_vec(), deadline(now, ttl)));
            true
        }))
    }

    async fn load(&self, user: Uuid) -> PortResult<Option<Vec<u8>>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        Ok(inner
            .entries
            .get(&user)
            .and_then(|e| e.state.as_ref())
            .filter(|(_, until)| now < *until)
            .map(|(bytes, _)| bytes.clone()))
    }
}
