//! A learner's notifications on CQL (see docs/data-model.md, "Notifications"):
//!
//! * `notification_keys` holds one row per (learner, dedupe key), claimed with
//!   `IF NOT EXISTS` (a lightweight transaction): of racing adds of one key, one wins;
//! * `notifications` holds the learner's notifications in one partition, newest first
//!   (v7 ids), and `notifications_unread` a copy of each unread one, deleted when read,
//!   so the unread list and count read one partition and marking read is a delete;
//! * every row is written `USING TTL` the time left of the retention's age, so nothing
//!   outlives it; after an add, the partitions are cut to the newest `max_count` by a
//!   range delete (one tombstone), so each stays small;
//! * the winner writes the notification after claiming its key: a crash in between
//!   leaves a claimed key without a notification, which a repeat of the add (a retried
//!   trigger) finds and completes under the claimed id.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlValue;
use uuid::Uuid;

use super::connect::ConnectError;
use super::store::{LwtOutcome, ScyllaStore, internal, prepare, unavailable};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{
    Notification, NotificationStore, Page, Retention, StoreResult,
};

const COLUMNS: &str = "user_id, notification_id, kind, data, dedupe_key, created_at";

/// Statements of the notifications, prepared once per session.
pub(super) struct NotificationStatements {
    claim_key: PreparedStatement,
    insert: PreparedStatement,
    insert_unread: PreparedStatement,
    exists: PreparedStatement,
    page: PreparedStatement,
    page_after: PreparedStatement,
    unread_page: PreparedStatement,
    unread_page_after: PreparedStatement,
    unread_between: PreparedStatement,
    unread_count: PreparedStatement,
    newest_ids: PreparedStatement,
    trim: PreparedStatement,
    trim_unread: PreparedStatement,
    mark_read: PreparedStatement,
    mark_all_read: PreparedStatement,
    delete_all: PreparedStatement,
    delete_keys: PreparedStatement,
}

impl NotificationStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        Ok(NotificationStatements {
            claim_key: prepare(format!(
                "INSERT INTO {ks}.notification_keys (user_id, dedupe_key, notification_id) VALUES (?, ?, ?) IF NOT EXISTS USING TTL ?"
            ))
            .await?,
            insert: prepare(format!(
                "INSERT INTO {ks}.notifications ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?"
            ))
            .await?,
            insert_unread: prepare(format!(
                "INSERT INTO {ks}.notifications_unread ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?"
            ))
            .await?,
            exists: prepare(format!(
                "SELECT notification_id FROM {ks}.notifications WHERE user_id = ? AND notification_id = ?"
            ))
            .await?,
            page: prepare(format!(
                "SELECT {COLUMNS} FROM {ks}.notifications WHERE user_id = ? LIMIT ?"
            ))
            .await?,
            page_after: prepare(format!(
                "SELECT {COLUMNS} FROM {ks}.notifications WHERE user_id = ? AND notification_id < ? LIMIT ?"
            ))
            .await?,
            unread_page: prepare(format!(
                "SELECT {COLUMNS} FROM {ks}.notifications_unread WHERE user_id = ? LIMIT ?"
            ))
            .await?,
            unread_page_after: prepare(format!(
                "SELECT {COLUMNS} FROM {ks}.notifications_unread WHERE user_id = ? AND notification_id < ? LIMIT ?"
            ))
            .await?,
            unread_between: prepare(format!(
                "SELECT notification_id FROM {ks}.notifications_unread WHERE user_id = ? AND notification_id >= ? AND notification_id <= ?"
            ))
            .await?,
            unread_count: prepare(format!(
                "SELECT COUNT(*) FROM {ks}.notifications_unread WHERE user_id = ?"
            ))
            .await?,
            newest_ids: prepare(format!(
                "SELECT notification_id FROM {ks}.notifications WHERE user_id = ? LIMIT ?"
            ))
            .await?,
            trim: prepare(format!(
                "DELETE FROM {ks}.notifications WHERE user_id = ? AND notification_id <= ?"
            ))
            .await?,
            trim_unread: prepare(format!(
                "DELETE FROM {ks}.notifications_unread WHERE user_id = ? AND notification_id <= ?"
            ))
            .await?,
            mark_read: prepare(format!(
                "DELETE FROM {ks}.notifications_unread WHERE user_id = ? AND notification_id = ?"
            ))
            .await?,
            mark_all_read: prepare(format!(
                "DELETE FROM {ks}.notifications_unread WHERE user_id = ?"
            ))
            .await?,
            delete_all: prepare(format!(
                "DELETE FROM {ks}.notifications WHERE user_id = ?"
            ))
            .await?,
            delete_keys: prepare(format!(
                "DELETE FROM {ks}.notification_keys WHERE user_id = ?"
            ))
            .await?,
        })
    }
}

#[derive(DeserializeRow)]
struct NotificationRow {
    user_id: Uuid,
    notification_id: Uuid,
    kind: Option<String>,
    data: Option<String>,
    dedupe_key: Option<String>,
    created_at: Option<DateTime<Utc>>,
}

impl NotificationRow {
    /// Every row is written whole by one insert: a missing column is corruption.
    fn into_notification(self, read: bool) -> StoreResult<Notification> {
        let id = self.notification_id;
        let (Some(kind), Some(data), Some(dedupe_key), Some(created_at)) =
            (self.kind, self.data, self.dedupe_key, self.created_at)
        else {
            return Err(internal(format!("corrupt notification {id}")));
        };
        Ok(Notification {
            id,
            user_id: self.user_id,
            kind,
            data: serde_json::from_str(&data)
                .map_err(|e| internal(format!("corrupt notification {id}: {e}")))?,
            dedupe_key,
            created_at,
            read,
        })
    }
}

/// Seconds `notification` has left to live under `retention` (at most a CQL int);
/// zero or less when it is already past its age.
fn ttl(notification: &Notification, retention: Retention) -> i32 {
    let left = (notification.created_at + retention.max_age - Utc::now()).num_seconds();
    i32::try_from(left).unwrap_or(i32::MAX)
}

/// Cuts a page read one beyond `limit`; the next page's cursor, if there is one.
fn cut<T>(rows: &mut Vec<T>, limit: usize, id: impl Fn(&T) -> Uuid) -> Option<Uuid> {
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(id)
    } else {
        None
    }
}

impl ScyllaStore {
    /// Writes the notification and its unread copy under `id`.
    async fn write_notification(
        &self,
        notification: &Notification,
        id: Uuid,
        ttl: i32,
    ) -> StoreResult<()> {
        let data = serde_json::to_string(&notification.data).map_err(internal)?;
        let values = (
            notification.user_id,
            id,
            &notification.kind,
            &data,
            &notification.dedupe_key,
            notification.created_at,
            ttl,
        );
        // The unread copy first: a crash in between leaves an unread notification
        // that a repeat of the add completes, never one that reads as already read.
        self.run(&self.notifications.insert_unread, values).await?;
        self.run(&self.notifications.insert, values).await
    }

    /// The newest `count` ids of the user's notifications.
    async fn newest_notification_ids(&self, user_id: Uuid, count: usize) -> StoreResult<Vec<Uuid>> {
        let limit = i32::try_from(count).unwrap_or(i32::MAX);
        let rows: Vec<(Uuid,)> = self
            .rows(&self.notifications.newest_ids, (user_id, limit))
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Whether a claimed key whose notification is missing is to be completed: not when
    /// the user has `max_count` newer ones (it was kept no longer, or would not be).
    async fn still_kept(&self, user_id: Uuid, id: Uuid, retention: Retention) -> StoreResult<bool> {
        let newest = self
            .newest_notification_ids(user_id, retention.max_count)
            .await?;
        Ok(newest.len() < retention.max_count || newest.last().is_some_and(|last| *last < id))
    }
}

#[async_trait]
impl NotificationStore for ScyllaStore {
    async fn add_notification(
        &self,
        notification: &Notification,
        retention: Retention,
    ) -> StoreResult<bool> {
        let ttl = ttl(notification, retention);
        if ttl <= 0 || retention.max_count == 0 {
            // Past its retention already: kept by neither store.
            return Ok(false);
        }
        let user_id = notification.user_id;
        let claimed = self
            .session
            .execute_unpaged(
                &self.notifications.claim_key,
                (user_id, &notification.dedupe_key, notification.id, ttl),
            )
            .await
            .map_err(unavailable)?;
        let claim = LwtOutcome::read(claimed)?;
        let id = if claim.applied {
            notification.id
        } else {
            let Some(CqlValue::Uuid(owner)) = claim.column("notification_id") else {
                return Err(internal("claimed notification key without an id"));
            };
            let owner = *owner;
            let written: Option<(Uuid,)> = self
                .one_row(&self.notifications.exists, (user_id, owner))
                .await?;
            if written.is_some() || !self.still_kept(user_id, owner, retention).await? {
                return Ok(false);
            }
            // The winner died between the claim and the write: complete it.
            owner
        };
        self.write_notification(notification, id, ttl).await?;
        let newest = self
            .newest_notification_ids(user_id, retention.max_count + 1)
            .await?;
        if let Some(oldest_kept) = newest.get(retention.max_count).copied() {
            self.run(&self.notifications.trim, (user_id, oldest_kept))
                .await?;
            self.run(&self.notifications.trim_unread, (user_id, oldest_kept))
                .await?;
        }
        Ok(true)
    }

    async fn notifications(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
        unread_only: bool,
    ) -> StoreResult<Page<Notification>> {
        if limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        // One more than asked: whether there is a next page, without another query.
        let fetch = i32::try_from(limit + 1).map_err(internal)?;
        let statements = &self.notifications;
        let mut rows: Vec<NotificationRow> = match (unread_only, after) {
            (false, None) => self.rows(&statements.page, (user_id, fetch)).await?,
            (false, Some(after)) => {
                self.rows(&statements.page_after, (user_id, after, fetch))
                    .await?
            }
            (true, None) => self.rows(&statements.unread_page, (user_id, fetch)).await?,
            (true, Some(after)) => {
                self.rows(&statements.unread_page_after, (user_id, after, fetch))
                    .await?
            }
        };
        let next = cut(&mut rows, limit, |row| row.notification_id);
        let unread: Vec<Uuid> = match (unread_only, rows.first(), rows.last()) {
            (false, Some(newest), Some(oldest)) => {
                let ids: Vec<(Uuid,)> = self
                    .rows(
                        &statements.unread_between,
                        (user_id, oldest.notification_id, newest.notification_id),
                    )
                    .await?;
                ids.into_iter().map(|(id,)| id).collect()
            }
            _ => Vec::new(),
        };
        let items = rows
            .into_iter()
            .map(|row| {
                let read = !unread_only && !unread.contains(&row.notification_id);
                row.into_notification(read)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items, next })
    }

    async fn unread_notifications(&self, user_id: Uuid) -> StoreResult<u32> {
        let count: Option<(i64,)> = self
            .one_row(&self.notifications.unread_count, (user_id,))
            .await?;
        Ok(count.map_or(0, |(n,)| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    async fn mark_notification_read(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let known: Option<(Uuid,)> = self
            .one_row(&self.notifications.exists, (user_id, id))
            .await?;
        if known.is_none() {
            return Ok(false);
        }
        self.run(&self.notifications.mark_read, (user_id, id))
            .await?;
        Ok(true)
    }

    async fn mark_all_notifications_read(&self, user_id: Uuid) -> StoreResult<()> {
        self.run(&self.notifications.mark_all_read, (user_id,))
            .await
    }

    async fn delete_notifications(&self, user_id: Uuid) -> StoreResult<()> {
        let statements = &self.notifications;
        self.run(&statements.delete_all, (user_id,)).await?;
        self.run(&statements.mark_all_read, (user_id,)).await?;
        self.run(&statements.delete_keys, (user_id,)).await
    }
}
