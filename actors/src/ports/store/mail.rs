//! Email: whether a learner's address is verified, which optional mails they want, and
//! the one-time tokens that verification and password-reset links carry.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;

/// What a one-time mail token is for; a token of one purpose never does the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailTokenPurpose {
    /// Proves the learner reads the address (sign-up, resend).
    VerifyEmail,
    /// Lets the learner set a new password.
    ResetPassword,
}

/// A one-time token as stored: only the SHA-256 of the value in the link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MailToken {
    /// Lower-case hex SHA-256 of the token value.
    pub token_hash: String,
    pub purpose: MailTokenPurpose,
    pub user_id: Uuid,
    /// The address the mail went to: a token proves nothing about another address.
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A learner's email settings. Absent settings read as the default: not verified,
/// nothing optional wanted (reminders and summaries are opt-in).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MailSettings {
    /// The address that was verified (an address changed later is not verified).
    pub verified_email: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    /// "Your streak is at risk" mails.
    pub streak_reminders: bool,
    /// The weekly summary mail.
    pub weekly_summary: bool,
}

impl MailSettings {
    /// Whether `email` (the account's current address) is the verified one.
    pub fn is_verified(&self, email: &str) -> bool {
        self.verified_email
            .as_deref()
            .is_some_and(|v| super::email_key(v) == super::email_key(email))
    }
}

/// The optional mails a learner wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MailPreferences {
    pub streak_reminders: bool,
    pub weekly_summary: bool,
}

impl From<&MailSettings> for MailPreferences {
    fn from(settings: &MailSettings) -> Self {
        MailPreferences {
            streak_reminders: settings.streak_reminders,
            weekly_summary: settings.weekly_summary,
        }
    }
}

/// Email settings and one-time mail tokens.
#[async_trait]
pub trait MailStore: Send + Sync + 'static {
    /// Stores a token. The user's earlier token of the same purpose is removed: only
    /// the newest link works (a reset requested twice leaves one live link).
    async fn save_mail_token(&self, token: &MailToken) -> StoreResult<()>;

    /// Removes and returns the token with this hash and purpose if it is unexpired at
    /// `now`. Of two concurrent callers at most one gets it; an expired token is
    /// removed and `None`; a token of another purpose is left alone and `None`.
    async fn take_mail_token(
        &self,
        token_hash: &str,
        purpose: MailTokenPurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MailToken>>;

    /// The user's settings (the default when none were stored).
    async fn mail_settings(&self, user_id: Uuid) -> StoreResult<MailSettings>;

    /// Records that `email` is verified for the user; preferences are kept.
    async fn set_email_verified(
        &self,
        user_id: Uuid,
        email: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Sets the optional mails wanted; the verification is kept.
    async fn set_mail_preferences(
        &self,
        user_id: Uuid,
        preferences: MailPreferences,
    ) -> StoreResult<()>;

    /// Forgets the user's settings and outstanding tokens (account deletion).
    async fn delete_mail_data(&self, user_id: Uuid) -> StoreResult<()>;
}
