//! Users: accounts, their profiles, passwords and Google links.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;

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

/// Changes to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// `Some(None)` clears the display name.
    pub display_name: Option<Option<String>>,
    /// `Some(None)` clears the picture.
    pub picture: Option<Option<String>>,
}

/// Key used for email uniqueness: trimmed and lower-cased, so `Ann@X.org` and
/// `ann@x.org` are the same account whatever the caller passed.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Accounts: created once per email, looked up by id, email or Google account.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates a user; `Conflict { what: "email" }` if the email is taken
    /// (case-insensitively), even when two creates race.
    async fn create_user(&self, new: NewUser) -> StoreResult<User>;

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>>;

    /// Looks a user up by email, case-insensitively.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;

    /// Applies `update` and returns the updated user, or `None` for an unknown user.
    async fn update_profile(&self, id: Uuid, update: ProfileUpdate) -> StoreResult<Option<User>>;

    // ---- credentials ----

    /// Sets (or replaces) the user's password hash, a PHC string.
    async fn set_password_hash(&self, user_id: Uuid, phc: &str) -> StoreResult<()>;

    /// The user's password hash, or `None` (no password: Google-only account).
    async fn password_hash(&self, user_id: Uuid) -> StoreResult<Option<String>>;

    // ---- Google sign-in ----

    /// Links a Google account (`sub` claim) to a user, once: returns the user id that
    /// owns `google_sub` afterwards (an earlier link wins a race, unless its user was
    /// marked deleted: then the link is taken over).
    async fn link_google(&self, google_sub: &str, user_id: Uuid) -> StoreResult<Uuid>;

    /// The user linked to a Google account.
    async fn user_by_google(&self, google_sub: &str) -> StoreResult<Option<User>>;

    /// The Google accounts (`sub` claims) linked to the user.
    async fn google_links(&self, user_id: Uuid) -> StoreResult<Vec<String>>;

    // ---- deletion ----

    /// Marks the account deleted, before anything of it is removed. The mark is kept
    /// (it holds the id and the time, nothing else) so that writes racing the deletion
    /// can tell: an XP grant is refused ([`super::XpStore::record_xp`]), a room's
    /// results or a generated goal saved meanwhile are cleaned up by their writer, and
    /// a Google link the deleted account still held is given to whoever signs in with
    /// it next. Repeating it keeps the first time.
    async fn mark_user_deleted(&self, user_id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;

    /// Those of `user_ids` marked deleted, in no particular order.
    async fn deleted_users(&self, user_ids: &[Uuid]) -> StoreResult<Vec<Uuid>>;

    /// Deletes the account itself: the profile, the email claim, the password and the
    /// Google links, so the email and the Google account can sign up again (what the
    /// learner owns elsewhere is removed by its own aggregate first). The profile goes
    /// last, so a deletion that failed half-way is finished by calling this again.
    /// False when there was no profile.
    async fn delete_user(&self, user_id: Uuid) -> StoreResult<bool>;
}
