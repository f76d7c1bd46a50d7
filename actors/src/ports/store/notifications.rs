//! A learner's in-app notifications: newest first, read or unread, each once per
//! dedupe key, and only the most recent kept.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{Page, StoreResult};

/// One notification as stored. Never changed once written: whether it was read is kept
/// beside it (an unread mark), so marking read writes no new version of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Notification {
    /// A v7 uuid: newest first is descending id order, and the id is the page cursor.
    pub id: Uuid,
    pub user_id: Uuid,
    /// `level_up`, `room_ended`, `league_result`, `streak_at_risk`.
    pub kind: String,
    /// The kind's details, opaque to the store.
    pub data: serde_json::Value,
    /// What makes a retried trigger the same notification (`level_up:5`,
    /// `room_ended:<room id>`); one notification per (user, key).
    pub dedupe_key: String,
    /// To the millisecond (what both stores keep).
    pub created_at: DateTime<Utc>,
    /// Filled in by reads; ignored by [`NotificationStore::add_notification`], which
    /// always writes an unread notification.
    #[serde(default)]
    pub read: bool,
}

/// How much of a learner's notifications is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The newest this many; older ones are dropped when a new one is added.
    pub max_count: usize,
    /// Nothing older than this (from its `created_at`).
    pub max_age: Duration,
}

impl Default for Retention {
    /// The last 200, for at most 90 days.
    fn default() -> Self {
        Retention {
            max_count: 200,
            max_age: Duration::days(90),
        }
    }
}

/// Notifications, by learner. Every read is one learner's, bounded by the retention.
#[async_trait]
pub trait NotificationStore: Send + Sync + 'static {
    /// Adds an unread notification unless the user already has one with its
    /// `dedupe_key`: true when this call wrote it, false for a repeat, even when callers
    /// race. A repeat of an add that failed half-way completes it. Then keeps
    /// `retention`: the user's newest `max_count`, none older than `max_age` (CQL: a
    /// TTL from `created_at`; embedded: dropped when an add meets them). The key of a
    /// dropped notification may stay taken until `max_age` has passed.
    async fn add_notification(
        &self,
        notification: &Notification,
        retention: Retention,
    ) -> StoreResult<bool>;

    /// The user's notifications, newest first, at most `limit`, after the cursor
    /// `after` (a notification id from a previous page); only unread ones when
    /// `unread_only`.
    async fn notifications(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
        unread_only: bool,
    ) -> StoreResult<Page<Notification>>;

    /// How many of the user's notifications are unread.
    async fn unread_notifications(&self, user_id: Uuid) -> StoreResult<u32>;

    /// Marks one of the user's notifications read (again: harmless); false when the
    /// user has no such notification (another user's is left alone).
    async fn mark_notification_read(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool>;

    /// Marks every notification of the user read.
    async fn mark_all_notifications_read(&self, user_id: Uuid) -> StoreResult<()>;

    /// Deletes every notification of the user and frees their keys (an account
    /// deleted).
    async fn delete_notifications(&self, user_id: Uuid) -> StoreResult<()>;
}
