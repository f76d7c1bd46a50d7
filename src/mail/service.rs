//! Queuing mail: renders each mail for its learner and adds it to the email queue.
//!
//! The two opt-in mails ([`MailService::enqueue_streak_at_risk`],
//! [`MailService::enqueue_weekly_summary`]) go only to a verified address whose learner
//! turned them on, and have message ids derived from what they are about (the learner
//! and the day, the learner and the week): a trigger that fires twice queues one mail.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use uuid::Uuid;

use super::links::Links;
use super::templates::{self, Rendered, WeeklySummary};
use super::unsubscribe::{MailList, UnsubscribeKeys};
use super::{EmailJob, MailKind, QUEUE, queued_key};
use crate::ports::{Cache, JobQueue, OutgoingMail, PortError, Store, StoreError, User};

/// Namespace of the message ids derived from a mail's subject matter (UUID v5).
const MESSAGE_NAMESPACE: Uuid = Uuid::from_u128(0x5f0c_7a1e_3b44_4c8e_9d2a_61e7_b0c4_d911);

/// How long the "queued" mark of a derived message id lasts: beyond any repeat of its
/// trigger (the evening check runs once per local day, the week end once per week).
const QUEUED_MARK_TTL: Duration = Duration::from_secs(8 * 24 * 3600);

/// Why queuing a mail failed.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// What became of a request to mail a learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued under this message id.
    Queued { message_id: String },
    /// Not queued, and rightly so.
    Skipped(Skip),
}

/// Why an opt-in mail was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// No such learner (or the account was deleted).
    UnknownUser,
    /// The learner did not turn this mail on (or turned it off).
    NotWanted,
    /// The learner's address is not verified: nothing optional goes to it.
    Unverified,
    /// The same mail (same learner and day, or week) was queued already.
    AlreadyQueued,
}

/// Renders and queues mails.
#[derive(Clone)]
pub struct MailService {
    store: Arc<dyn Store>,
    queue: Arc<dyn JobQueue>,
    cache: Arc<dyn Cache>,
    links: Links,
    unsubscribe: UnsubscribeKeys,
}

impl MailService {
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn JobQueue>,
        cache: Arc<dyn Cache>,
        links: Links,
        unsubscribe: UnsubscribeKeys,
    ) -> Self {
        MailService {
            store,
            queue,
            cache,
            links,
            unsubscribe,
        }
    }

    pub fn links(&self) -> &Links {
        &self.links
    }

    pub fn unsubscribe_keys(&self) -> &UnsubscribeKeys {
        &self.unsubscribe
    }

    /// Queues the mail that verifies `user`'s address with `token` (valid `valid_days`).
    pub async fn enqueue_verification(
        &self,
        user: &User,
        token: &str,
        valid_days: i64,
    ) -> Result<String, EnqueueError> {
        let rendered = templates::verify_email(
            user.display_name.as_deref(),
            &self.links.verify_email(token),
            valid_days,
        );
        let message_id = Uuid::now_v7().to_string();
        self.push(MailKind::VerifyEmail, user, message_id, rendered, None)
            .await
    }

    /// Queues the mail with `user`'s password-reset link (valid `valid_minutes`).
    pub async fn enqueue_password_reset(
        &self,
        user: &User,
        token: &str,
        valid_minutes: i64,
    ) -> Result<String, EnqueueError> {
        let rendered = templates::password_reset(
            user.display_name.as_deref(),
            &self.links.reset_password(token),
            valid_minutes,
        );
        let message_id = Uuid::now_v7().to_string();
        self.push(MailKind::PasswordReset, user, message_id, rendered, None)
            .await
    }

    /// Mails "your streak is at risk" for the learner's `local_date` (their own day),
    /// if they turned streak reminders on and their address is verified. Once per
    /// learner and day, however often it is called.
    pub async fn enqueue_streak_at_risk(
        &self,
        user_id: Uuid,
        streak: u32,
        local_date: NaiveDate,
    ) -> Result<Enqueued, EnqueueError> {
        let user = match self.recipient(user_id, MailList::StreakReminders).await? {
            Ok(user) => user,
            Err(skip) => return Ok(Enqueued::Skipped(skip)),
        };
        let token = self.unsubscribe.token(user_id, MailList::StreakReminders);
        let rendered = templates::streak_at_risk(
            user.display_name.as_deref(),
            streak,
            local_date,
            &self.links.app(),
            &self.links.unsubscribe_page(&token),
        );
        let id = Uuid::new_v5(
            &MESSAGE_NAMESPACE,
            format!("streak-at-risk:{user_id}:{local_date}").as_bytes(),
        );
        self.push_once(MailKind::StreakAtRisk, &user, id, rendered, &token)
            .await
    }

    /// Mails the weekly summary of `summary.week`, if the learner turned it on and
    /// their address is verified. Once per learner and week.
    pub async fn enqueue_weekly_summary(
        &self,
        user_id: Uuid,
        summary: &WeeklySummary,
    ) -> Result<Enqueued, EnqueueError> {
        let user = match self.recipient(user_id, MailList::WeeklySummary).await? {
            Ok(user) => user,
            Err(skip) => return Ok(Enqueued::Skipped(skip)),
        };
        let token = self.unsubscribe.token(user_id, MailList::WeeklySummary);
        let rendered = templates::weekly_summary(
            user.display_name.as_deref(),
            summary,
            &self.links.app(),
            &self.links.unsubscribe_page(&token),
        );
        let id = Uuid::new_v5(
            &MESSAGE_NAMESPACE,
            format!("weekly-summary:{user_id}:{}", summary.week).as_bytes(),
        );
        self.push_once(MailKind::WeeklySummary, &user, id, rendered, &token)
            .await
    }

    /// The learner, if they want mail of `list` at a verified address.
    pub(crate) async fn recipient(
        &self,
        user_id: Uuid,
        list: MailList,
    ) -> Result<Result<User, Skip>, StoreError> {
        if !self.store.deleted_users(&[user_id]).await?.is_empty() {
            return Ok(Err(Skip::UnknownUser));
        }
        let Some(user) = self.store.user_by_id(user_id).await? else {
            return Ok(Err(Skip::UnknownUser));
        };
        let settings = self.store.mail_settings(user_id).await?;
        let wanted = match list {
            MailList::StreakReminders => settings.streak_reminders,
            MailList::WeeklySummary => settings.weekly_summary,
        };
        if !wanted {
            return Ok(Err(Skip::NotWanted));
        }
        if !settings.is_verified(&user.email) {
            return Ok(Err(Skip::Unverified));
        }
        Ok(Ok(user))
    }

    /// Queues a mail with a derived id unless it was queued already.
    async fn push_once(
        &self,
        kind: MailKind,
        user: &User,
        id: Uuid,
        rendered: Rendered,
        unsubscribe_token: &str,
    ) -> Result<Enqueued, EnqueueError> {
        let message_id = id.to_string();
        let mark = queued_key(&message_id);
        if !self
            .cache
            .set_if_absent(&mark, b"1", QUEUED_MARK_TTL)
            .await?
        {
            return Ok(Enqueued::Skipped(Skip::AlreadyQueued));
        }
        let unsubscribe = Some(self.links.one_click_unsubscribe(unsubscribe_token));
        match self
            .push(kind, user, message_id.clone(), rendered, unsubscribe)
            .await
        {
            Ok(message_id) => Ok(Enqueued::Queued { message_id }),
            Err(e) => {
                // Not queued after all: a later trigger may try again.
                if let Err(e) = self.cache.delete(&mark).await {
                    tracing::warn!(error = %e, "queued mark of an unqueued mail not removed");
                }
                Err(e)
            }
        }
    }

    async fn push(
        &self,
        kind: MailKind,
        user: &User,
        message_id: String,
        rendered: Rendered,
        unsubscribe_url: Option<String>,
    ) -> Result<String, EnqueueError> {
        let job = EmailJob {
            kind,
            user_id: user.id,
            mail: OutgoingMail {
                message_id: message_id.clone(),
                to: user.email.clone(),
                subject: rendered.subject,
                text: rendered.text,
                html: rendered.html,
                unsubscribe_url,
            },
        };
        let payload = serde_json::to_vec(&job).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.queue.enqueue(QUEUE, &payload).await?;
        tracing::info!(user_id = %user.id, kind = kind.as_str(), %message_id, "mail queued");
        Ok(message_id)
    }
}
