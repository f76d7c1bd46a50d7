//! Final results of multiplayer rooms, kept after the rooms are gone.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;

/// The final results of a multiplayer room, kept after the room is gone.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoomResult {
    pub room_id: Uuid,
    /// The 6-character join code it had.
    pub code: String,
    pub host_id: Uuid,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Why it ended: `finished`, `ended_by_host`, `host_left`, `abandoned`.
    pub end_reason: String,
    /// Number of players who took part.
    pub players: u32,
    /// The whole result document (players, placements, per-question answers), opaque to
    /// the store.
    pub results: serde_json::Value,
}

/// Rooms' final results, by room and by host.
#[async_trait]
pub trait RoomResultStore: Send + Sync + 'static {
    /// Saves (or rewrites: idempotent) a room's final results. A rewrite that changes
    /// the host or the end time moves the room in the hosts' lists.
    async fn save_room_result(&self, result: &RoomResult) -> StoreResult<()>;

    /// One room's results.
    async fn room_result(&self, room_id: Uuid) -> StoreResult<Option<RoomResult>>;

    /// A host's rooms, most recently ended first (rooms that ended in the same
    /// millisecond by descending room id), at most `limit`, without the `results`
    /// document (set to `Value::Null`).
    async fn room_results_of_host(
        &self,
        host_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<RoomResult>>;
}
