//! Sign-in sessions: refresh-token families and tokens, and the failure counts that lock
//! sign-in after repeated wrong passwords.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;

/// One refresh token, stored only as the SHA-256 of its opaque value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshToken {
    /// Lower-case hex SHA-256 of the token value.
    pub token_hash: String,
    pub user_id: Uuid,
    /// Every token obtained by rotating from one login shares the family id.
    pub family_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set once, when the token is exchanged for its successor.
    pub used_at: Option<DateTime<Utc>>,
}

/// A chain of refresh tokens started by one sign-in (one device).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshFamily {
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// Until when the family may be used, pushed forward by every rotation.
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

/// Failed sign-in attempts counted for one key (an account or a client address).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoginFailures {
    pub count: u32,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// Sign-ins for this key are refused until then.
    pub locked_until: Option<DateTime<Utc>>,
}

impl LoginFailures {
    /// The state after one more failure at `now`, shared by every adapter so they count
    /// alike. A failure more than `window` after the first counted one starts a new
    /// count. A lock still running is never shortened, even by a new count whose
    /// `lock_for` is shorter or none: waiting out the window must not lift a lock.
    pub fn after_failure(
        previous: Option<&LoginFailures>,
        now: DateTime<Utc>,
        window: chrono::Duration,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> LoginFailures {
        let (count, first_at) = match previous {
            Some(p) if now <= p.first_at + window => (p.count.saturating_add(1), p.first_at),
            _ => (1, now),
        };
        let running = previous
            .and_then(|p| p.locked_until)
            .filter(|until| *until > now);
        let locked_until = match (lock_for(count).map(|d| now + d), running) {
            (Some(new), Some(old)) => Some(new.max(old)),
            (new, old) => new.or(old),
        };
        LoginFailures {
            count,
            first_at,
            last_at: now,
            locked_until,
        }
    }

    /// Whether the record still matters at `now`: inside its window, or locked.
    pub fn is_current(&self, now: DateTime<Utc>, window: chrono::Duration) -> bool {
        now <= self.first_at + window || self.locked_until.is_some_and(|until| until > now)
    }

    /// When the record stops mattering: the later of its window's end and its lock's.
    pub fn current_until(&self, window: chrono::Duration) -> DateTime<Utc> {
        let window_end = self.first_at + window;
        self.locked_until
            .map_or(window_end, |until| until.max(window_end))
    }
}

/// Refresh tokens (rotated once each, revoked by family) and sign-in failures.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    // ---- refresh tokens ----

    /// Stores a new family (at sign-in).
    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()>;

    async fn refresh_family(&self, family_id: Uuid) -> StoreResult<Option<RefreshFamily>>;

    /// Pushes the family's expiry forward (at each rotation).
    async fn extend_refresh_family(
        &self,
        family_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Marks one family revoked (logout, or reuse of a used token).
    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<()>;

    /// Revokes every family of the user ("log out everywhere"); returns how many.
    async fn revoke_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32>;

    /// The user's families that have not expired (revoked ones included), oldest first.
    async fn refresh_families_of_user(&self, user_id: Uuid) -> StoreResult<Vec<RefreshFamily>>;

    /// Deletes every family of the user (an account deleted), so none of their refresh
    /// tokens is exchanged again; returns how many families there were. The tokens
    /// themselves stay until they expire: found by hash only, they lead to no family.
    async fn delete_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32>;

    /// Stores a new refresh token; it expires from the store at `expires_at`.
    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;

    /// Marks the token used at `at`, only if it was unused: returns true for the one
    /// caller that consumed it, false if it was already used (or is unknown), even
    /// when several callers race.
    async fn consume_refresh_token(&self, token_hash: &str, at: DateTime<Utc>)
    -> StoreResult<bool>;

    // ---- sign-in failures (brute-force protection) ----

    /// Counts one failure for `key` within a window of `window` from the first counted
    /// failure (older counts start over), sets `locked_until` from `lock_for(count)`,
    /// and returns the new state. Concurrent failures are all counted.
    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> StoreResult<LoginFailures>;

    /// The current failures for `key`, if any inside their window.
    async fn login_failures(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<Option<LoginFailures>>;

    /// Forgets the failures of `key` (after a successful sign-in).
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
}
