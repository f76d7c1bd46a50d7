//! A learner's in-app notification, as their connections are told of it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One notification as the learner sees it (REST lists and the `notification` frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationView {
    pub id: Uuid,
    /// `level_up`, `room_ended`, `league_result` or `streak_at_risk`.
    pub kind: String,
    /// The kind's details (docs/protocol.md, "Notifications", lists each kind's shape).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
    /// RFC 3339.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub created_at: DateTime<Utc>,
    pub read: bool,
}

/// A notification was created for the learner: it, and how many are unread now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationCreated {
    pub notification: NotificationView,
    pub unread: u32,
}
