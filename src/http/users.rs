//! How a user is shown to its owner, in the v1 and legacy shapes.

use chrono::{DateTime, Utc};
use questpath_actors::rules::xp::player_level;
use serde::Serialize;
use uuid::Uuid;

use questpath_actors::ports::User;

/// The signed-in user as its owner sees it (`GET /api/v1/me`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: Uuid,
    #[schema(format = Email)]
    pub email: String,
    pub display_name: Option<String>,
    /// URL of the profile picture (from Google sign-in), if any.
    pub picture: Option<String>,
    /// Experience points earned so far.
    pub total_xp: i64,
    /// Player level derived from `total_xp`.
    pub level: u32,
    pub created_at: DateTime<Utc>,
    /// Whether the learner proved they read this address (the link of the verification
    /// mail, a password reset, or Google's word).
    pub email_verified: bool,
}

impl Me {
    /// The user as its owner sees it; `email_verified` is read from the email settings.
    pub fn new(u: User, email_verified: bool) -> Self {
        Me {
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            picture: u.picture,
            total_xp: u.total_xp,
            level: player_level(u.total_xp),
            created_at: u.created_at,
            email_verified,
        }
    }
}

/// The old backend's `UserResponse`.
#[derive(Debug, Serialize)]
pub struct LegacyUser {
    pub id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub profile_picture: Option<String>,
    pub total_exp: i64,
}

impl From<User> for LegacyUser {
    fn from(u: User) -> Self {
        LegacyUser {
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            profile_picture: u.picture,
            total_exp: u.total_xp,
        }
    }
}
