//! Email: what the server mails learners, and the worker that sends it.
//!
//! Every mail is rendered when it is queued ([`service::MailService`]) and goes through
//! the job queue ([`QUEUE`]): the worker ([`worker::EmailWorker`]) sends it through the
//! [`Mailer`](crate::ports::Mailer) port (SMTP, or the outbox folder), retries
//! temporary failures with a growing delay, and the queue dead-letters a mail after its
//! last attempt. Each mail has a message id; a mark in the cache once it is sent keeps
//! a retried or duplicated job from sending it twice.
//!
//! - [`templates`]: the four mails, HTML and plain text;
//! - [`unsubscribe`]: signed one-click unsubscribe tokens;
//! - [`links`]: the web client's pages the mails link to.

pub mod links;
pub mod service;
pub mod templates;
pub mod unsubscribe;
pub mod worker;

use uuid::Uuid;

use crate::ports::OutgoingMail;

/// The job queue of outgoing mail.
pub const QUEUE: &str = "email";

/// What kind of mail a job carries: the metrics label, and whether the learner may
/// turn it off (those are checked again just before sending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    VerifyEmail,
    PasswordReset,
    StreakAtRisk,
    WeeklySummary,
}

impl MailKind {
    /// The label value (one of [`crate::metrics::MAIL_KINDS`]).
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::VerifyEmail => "verify_email",
            MailKind::PasswordReset => "password_reset",
            MailKind::StreakAtRisk => "streak_at_risk",
            MailKind::WeeklySummary => "weekly_summary",
        }
    }
}

/// The payload of an email job: the rendered mail and whom it is for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmailJob {
    pub kind: MailKind,
    pub user_id: Uuid,
    pub mail: OutgoingMail,
}

/// Cache key of the mark that a message was sent.
pub(crate) fn sent_key(message_id: &str) -> String {
    format!("mail-sent:{message_id}")
}

/// Cache key of the mark that a message with a deterministic id was queued.
pub(crate) fn queued_key(message_id: &str) -> String {
    format!("mail-queued:{message_id}")
}
