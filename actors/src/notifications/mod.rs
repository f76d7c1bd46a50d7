//! A learner's in-app notifications: stored first (the list is what lasts), then pushed
//! live to their connections as a `notification` frame over the bus (at most once: a
//! connection that missed it finds it in the list).
//!
//! Every notification has a dedupe key ([`NewNotification`]'s constructors make it), and
//! the store keeps one notification per (learner, key), so a trigger may run again (a
//! retried job, a recovered grant, a rerun week end) without notifying twice; only the
//! call that created it pushes the frame and counts it.
//!
//! The triggers: a grant that moves a learner up a level ([`crate::xp`], from the
//! ledger, so a recovery completes it), a room the learner played that ended
//! ([`crate::room::grants`], from the saved results, with the room's XP job), and, wired
//! by their callers, a league week's result and a streak at risk.

pub mod kinds;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::clock::{Clock, SystemClock};
use crate::events::NotificationCreated;
pub use crate::events::NotificationView;
use crate::observe::GameMetrics;
use crate::ports::bus::{UserEvent, user_topic};
use crate::ports::store::{Notification, Retention};
use crate::ports::{Bus, Page, Store, StoreError};

pub use kinds::{
    LeagueMove, LeagueResult, LevelUp, NewNotification, NotificationKind, RoomEnded, StreakAtRisk,
};

/// Most notifications a page shows.
pub const MAX_PAGE: usize = 100;

/// One page of a learner's notifications and their unread count.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationPage {
    /// Newest first.
    pub items: Vec<NotificationView>,
    /// The cursor of the next page; `None` on the last.
    pub next: Option<Uuid>,
    /// Unread notifications in all (not only on this page).
    pub unread: u32,
}

/// The view of a stored notification.
pub fn view(notification: &Notification) -> NotificationView {
    NotificationView {
        id: notification.id,
        kind: notification.kind.clone(),
        data: notification.data.clone(),
        created_at: notification.created_at,
        read: notification.read,
    }
}

/// Notifications over the store and the bus.
#[derive(Clone)]
pub struct Notifications {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    metrics: Option<Arc<dyn GameMetrics>>,
    retention: Retention,
}

impl Notifications {
    /// On the system clock, with the default retention (the last 200, 90 days).
    pub fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> Self {
        Notifications {
            store,
            bus,
            clock: Arc::new(SystemClock),
            metrics: None,
            retention: Retention::default(),
        }
    }

    /// Reads "now" (the notifications' `created_at`) from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Counts created notifications by kind in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn GameMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Notifies `user_id`: stores the notification unless one with its dedupe key
    /// exists, then pushes it live. `Some` with it when this call created it, `None`
    /// for a repeat (or a learner whose account is deleted). An error means nothing is
    /// known to be stored: call again (a repeat is harmless).
    pub async fn notify(
        &self,
        user_id: Uuid,
        new: NewNotification,
    ) -> Result<Option<NotificationView>, StoreError> {
        let notification = Notification {
            id: Uuid::now_v7(),
            user_id,
            kind: new.kind.as_str().to_owned(),
            data: new.data,
            dedupe_key: new.dedupe_key,
            created_at: to_millis(self.clock.now()),
            read: false,
        };
        if !self
            .store
            .add_notification(&notification, self.retention)
            .await?
        {
            return Ok(None);
        }
        if !self.store.deleted_users(&[user_id]).await?.is_empty() {
            // The account was deleted while this ran: take back what it wrote.
            self.store.delete_notifications(user_id).await?;
            return Ok(None);
        }
        if let Some(metrics) = &self.metrics {
            metrics.notification_created(new.kind.as_str());
        }
        let view = view(&notification);
        tracing::info!(%user_id, kind = new.kind.as_str(), key = %notification.dedupe_key, "notification created");
        self.push(user_id, view.clone()).await;
        Ok(Some(view))
    }

    /// Tells the learner's connections (at most once; the list has it either way).
    async fn push(&self, user_id: Uuid, notification: NotificationView) {
        let unread = match self.store.unread_notifications(user_id).await {
            Ok(unread) => unread,
            Err(e) => {
                tracing::warn!(%user_id, error = %e, "unread count unknown; notification not pushed");
                return;
            }
        };
        let event = UserEvent::Notification(NotificationCreated {
            notification,
            unread,
        });
        if let Err(e) = self
            .bus
            .publish(&user_topic(user_id), &event.encode())
            .await
        {
            tracing::warn!(%user_id, error = %e, "could not publish a notification");
        }
    }

    /// A page of the learner's notifications, newest first, after the cursor `after`;
    /// only the unread ones when `unread_only`. `limit` is capped at [`MAX_PAGE`].
    pub async fn list(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
        unread_only: bool,
    ) -> Result<NotificationPage, StoreError> {
        let Page { items, next } = self
            .store
            .notifications(user_id, after, limit.min(MAX_PAGE), unread_only)
            .await?;
        Ok(NotificationPage {
            items: items.iter().map(view).collect(),
            next,
            unread: self.store.unread_notifications(user_id).await?,
        })
    }

    /// Marks one of the learner's notifications read; false when they have none with
    /// this id.
    pub async fn mark_read(&self, user_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        self.store.mark_notification_read(user_id, id).await
    }

    /// Marks every notification of the learner read.
    pub async fn mark_all_read(&self, user_id: Uuid) -> Result<(), StoreError> {
        self.store.mark_all_notifications_read(user_id).await
    }

    /// Every notification the learner has, newest first (their export): the list is
    /// bounded by the retention, so this is a few pages at most.
    pub async fn all(&self, user_id: Uuid) -> Result<Vec<NotificationView>, StoreError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .notifications(user_id, after, MAX_PAGE, false)
                .await?;
            all.extend(page.items.iter().map(view));
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// Deletes every notification of the learner (their account deleted).
    pub async fn forget(&self, user_id: Uuid) -> Result<(), StoreError> {
        self.store.delete_notifications(user_id).await
    }
}

/// `at` to the millisecond, what both stores keep.
fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}
