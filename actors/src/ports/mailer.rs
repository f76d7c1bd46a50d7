//! Mailer port: hands one finished email (both parts, its headers) to whatever delivers
//! it. SMTP in production; an outbox folder of `.eml` files where no SMTP server is
//! configured, so a newcomer's sign-up and reset mails can be read on disk.
//!
//! Rendering, retries and idempotency are the caller's (the email worker): an adapter
//! sends once per call and says whether a failure is worth retrying.

use async_trait::async_trait;

/// One email, rendered. `message_id` is stable across retries of the same message, so
/// a receiving server (and the outbox's file name) sees the same id every time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutgoingMail {
    /// Unique per message (a UUID as text), sent as `Message-ID: <id@domain>`.
    pub message_id: String,
    /// The recipient's address.
    pub to: String,
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
    /// An `https://` (or `http://`) URL for `List-Unsubscribe`, with
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058); `None` for
    /// mails a learner cannot unsubscribe from (verification, password reset).
    pub unsubscribe_url: Option<String>,
}

/// Why a mail was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// May work later: the server could not be reached, timed out, or answered 4xx.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Will not work as it is: the server refused the message or the recipient (5xx),
    /// or the mail cannot be built (a malformed address).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl MailError {
    pub fn is_transient(&self) -> bool {
        matches!(self, MailError::Transient(_))
    }
}

/// Delivers rendered emails.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Name of the adapter, for logs and metrics (`smtp`, `outbox`).
    fn backend(&self) -> &'static str;

    /// Sends one mail, once.
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError>;
}
