//! A learner's notifications are one key range of `notifications` (v7 ids: oldest
//! first, read backwards for newest first), their unread marks one range of
//! `notifications_unread`, and their dedupe keys one range of `notification_keys`. An
//! add checks the key, writes all three and trims the user's range to the retention in
//! one transaction (writers run one at a time), so racing adds of one key write it once.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{NOTIFICATION_KEYS, NOTIFICATIONS, NOTIFICATIONS_UNREAD};
use super::txn::{Txn, decode, encode, internal};
use questpath_actors::ports::store::{
    Notification, NotificationStore, Page, Retention, StoreResult,
};

/// Drops the user's notifications beyond `retention`: the oldest past `max_count`, and
/// any created before `now - max_age`, with their unread marks and keys.
fn trim(
    tx: &WriteTransaction,
    user: u128,
    retention: Retention,
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    let oldest_kept = now - retention.max_age;
    let mut notifications = tx.open_table(NOTIFICATIONS).map_err(internal)?;
    let mut dropped: Vec<(u128, String)> = Vec::new();
    {
        // Newest first: everything after the first `max_count`, and the expired.
        let range = notifications
            .range((user, 0)..=(user, u128::MAX))
            .map_err(internal)?;
        for (position, entry) in range.rev().enumerate() {
            let (key, bytes) = entry.map_err(internal)?;
            let stored: Notification = decode(bytes.value(), "notification")?;
            if position >= retention.max_count || stored.created_at < oldest_kept {
                dropped.push((key.value().1, stored.dedupe_key));
            }
        }
    }
    if dropped.is_empty() {
        return Ok(());
    }
    let mut unread = tx.open_table(NOTIFICATIONS_UNREAD).map_err(internal)?;
    let mut keys = tx.open_table(NOTIFICATION_KEYS).map_err(internal)?;
    for (id, key) in dropped {
        notifications.remove((user, id)).map_err(internal)?;
        unread.remove((user, id)).map_err(internal)?;
        keys.remove((user, key.as_str())).map_err(internal)?;
    }
    Ok(())
}

#[async_trait]
impl NotificationStore for EmbeddedStore {
    async fn add_notification(
        &self,
        notification: &Notification,
        retention: Retention,
    ) -> StoreResult<bool> {
        let notification = Notification {
            read: false,
            ..notification.clone()
        };
        self.write_or_abort(move |tx| {
            let user = notification.user_id.as_u128();
            let id = notification.id.as_u128();
            {
                let mut keys = tx.open_table(NOTIFICATION_KEYS).map_err(internal)?;
                let key = (user, notification.dedupe_key.as_str());
                if keys.get(key).map_err(internal)?.is_some() {
                    return Ok(Txn::Abort(false));
                }
                keys.insert(key, id).map_err(internal)?;
            }
            tx.open_table(NOTIFICATIONS)
                .map_err(internal)?
                .insert((user, id), encode(&notification)?.as_slice())
                .map_err(internal)?;
            tx.open_table(NOTIFICATIONS_UNREAD)
                .map_err(internal)?
                .insert((user, id), ())
                .map_err(internal)?;
            trim(tx, user, retention, notification.created_at)?;
            Ok(Txn::Commit(true))
        })
        .await
    }

    async fn notifications(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
        unread_only: bool,
    ) -> StoreResult<Page<Notification>> {
        let user = user_id.as_u128();
        self.read(move |tx| {
            let notifications = tx.open_table(NOTIFICATIONS).map_err(internal)?;
            let unread = tx.open_table(NOTIFICATIONS_UNREAD).map_err(internal)?;
            if !unread_only {
                return page_of_all(&notifications, &unread, user, after, limit);
            }
            // The unread ids of the page and one more (whether there is a next page),
            // newest first from just before the cursor.
            let range = match after {
                Some(after) => unread.range((user, 0)..(user, after.as_u128())),
                None => unread.range((user, 0)..=(user, u128::MAX)),
            }
            .map_err(internal)?;
            let mut ids = Vec::with_capacity(limit + 1);
            for entry in range.rev().take(limit + 1) {
                let (key, _) = entry.map_err(internal)?;
                ids.push(key.value().1);
            }
            let next = next_cursor(&mut ids, limit);
            let mut items = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(bytes) = notifications.get((user, id)).map_err(internal)? {
                    let mut stored: Notification = decode(bytes.value(), "notification")?;
                    stored.read = false;
                    items.push(stored);
                }
            }
            Ok(Page { items, next })
        })
        .await
    }

    async fn unread_notifications(&self, user_id: Uuid) -> StoreResult<u32> {
        let user = user_id.as_u128();
        self.read(move |tx| {
            let unread = tx.open_table(NOTIFICATIONS_UNREAD).map_err(internal)?;
            let count = unread
                .range((user, 0)..=(user, u128::MAX))
                .map_err(internal)?
                .count();
            Ok(u32::try_from(count).unwrap_or(u32::MAX))
        })
        .await
    }

    async fn mark_notification_read(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let key = (user_id.as_u128(), id.as_u128());
        self.write_or_abort(move |tx| {
            let known = tx
                .open_table(NOTIFICATIONS)
                .map_err(internal)?
                .get(key)
                .map_err(internal)?
                .is_some();
            if !known {
                return Ok(Txn::Abort(false));
            }
            let was_unread = tx
                .open_table(NOTIFICATIONS_UNREAD)
                .map_err(internal)?
                .remove(key)
                .map_err(internal)?
                .is_some();
            Ok(if was_unread {
                Txn::Commit(true)
            } else {
                Txn::Abort(true)
            })
        })
        .await
    }

    async fn mark_all_notifications_read(&self, user_id: Uuid) -> StoreResult<()> {
        let user = user_id.as_u128();
        self.write(move |tx| {
            tx.open_table(NOTIFICATIONS_UNREAD)
                .map_err(internal)?
                .retain_in((user, 0)..=(user, u128::MAX), |_, _| false)
                .map_err(internal)
        })
        .await
    }

    async fn delete_notifications(&self, user_id: Uuid) -> StoreResult<()> {
        let user = user_id.as_u128();
        self.write(move |tx| {
            tx.open_table(NOTIFICATIONS)
                .map_err(internal)?
                .retain_in((user, 0)..=(user, u128::MAX), |_, _| false)
                .map_err(internal)?;
            tx.open_table(NOTIFICATIONS_UNREAD)
                .map_err(internal)?
                .retain_in((user, 0)..=(user, u128::MAX), |_, _| false)
                .map_err(internal)?;
            // Keys order by user first and "" is the least key: the user's range starts
            // at (user, "") and ends where another user's begins.
            let mut keys = tx.open_table(NOTIFICATION_KEYS).map_err(internal)?;
            let mut theirs = Vec::new();
            for entry in keys.range((user, "")..).map_err(internal)? {
                let (key, _) = entry.map_err(internal)?;
                let (owner, key) = key.value();
                if owner != user {
                    break;
                }
                theirs.push(key.to_string());
            }
            for key in theirs {
                keys.remove((user, key.as_str())).map_err(internal)?;
            }
            Ok(())
        })
        .await
    }
}

/// A page of all of the user's notifications (read or not), newest first.
fn page_of_all(
    notifications: &impl ReadableTable<(u128, u128), &'static [u8]>,
    unread: &impl ReadableTable<(u128, u128), ()>,
    user: u128,
    after: Option<Uuid>,
    limit: usize,
) -> StoreResult<Page<Notification>> {
    let range = match after {
        Some(after) => notifications.range((user, 0)..(user, after.as_u128())),
        None => notifications.range((user, 0)..=(user, u128::MAX)),
    }
    .map_err(internal)?;
    let mut items = Vec::with_capacity(limit + 1);
    for entry in range.rev().take(limit + 1) {
        let (key, bytes) = entry.map_err(internal)?;
        let mut stored: Notification = decode(bytes.value(), "notification")?;
        stored.read = unread.get(key.value()).map_err(internal)?.is_none();
        items.push(stored);
    }
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|n| n.id)
    } else {
        None
    };
    Ok(Page { items, next })
}

/// Cuts `ids` (read one beyond `limit`) to the page; the cursor of the next page, if
/// there is one.
fn next_cursor(ids: &mut Vec<u128>, limit: usize) -> Option<Uuid> {
    if ids.len() > limit {
        ids.truncate(limit);
        ids.last().map(|id| Uuid::from_u128(*id))
    } else {
        None
    }
}
