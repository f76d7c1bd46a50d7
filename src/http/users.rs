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
}

impl From<User> for Me {
    fn from(u: User) -> Self {
        Me {
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            picture: u.picture,
            total_xp: u.total_xp,
            level: player_level(u.total_xp),
            created_at: u.created_at,
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
