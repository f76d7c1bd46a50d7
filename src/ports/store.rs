//! Store port: everything that must last (users, credentials, refresh tokens, goals,
//! roadmaps, progress, quiz attempts, the XP ledger). ScyllaDB in production, an
//! embedded ACID store for a single instance.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A learner's account as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: Uuid,
    /// Normalised (trimmed, lower-cased) email; unique across users.
    pub email: String,
    pub display_name: Option<String>,
    pub picture: Option<String>,
    pub total_xp: i64,
    pub created_at: DateTime<Utc>,
}

/// What creating a user needs; the store assigns nothing, so a retried create with the
/// same id is recognisable.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub picture: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl NewUser {
    /// A new user with a fresh time-ordered id, created now.
    pub fn new(email: impl Into<String>) -> Self {
        NewUser {
            id: Uuid::now_v7(),
            email: email.into(),
            display_name: None,
            picture: None,
            created_at: Utc::now(),
        }
    }
}

/// Store failures the caller can act on; anything else is `Unavailable` or `Internal`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (such as an email) is already taken.
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    /// The backend could not be reached or timed out; retrying later may work.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data or a query is broken; a bug or corruption, not the caller's fault.
    #[error("store error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Key used for email uniqueness: trimmed and lower-cased, so `Ann@X.org` and
/// `ann@x.org` are the same account whatever the caller passed.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Name of the backend, for logs and `/ready`.
    fn backend(&self) -> &'static str;

    /// Answers when the backend is reachable and usable.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates a user; `Conflict { what: "email" }` if the email is taken
    /// (case-insensitively), even when two creates race.
    async fn create_user(&self, new: NewUser) -> StoreResult<User>;

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>>;

    /// Looks a user up by email, case-insensitively.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
}
