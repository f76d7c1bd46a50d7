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

/// The signed-in players a result document names: the `player_id` of every entry of
/// its `players` list that is not a `guest`, each once, in id order. The one thing the
/// store reads in the document, to list a learner's rooms.
pub fn signed_in_players(document: &serde_json::Value) -> Vec<Uuid> {
    #[derive(serde::Deserialize)]
    struct Player {
        player_id: Uuid,
        #[serde(default)]
        guest: bool,
    }
    let players = document
        .get("players")
        .and_then(|players| players.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut ids: Vec<Uuid> = players
        .iter()
        .filter_map(|p| serde_json::from_value::<Player>(p.clone()).ok())
        .filter(|p| !p.guest)
        .map(|p| p.player_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

impl RoomResult {
    /// The signed-in players of the room ([`signed_in_players`] of its document).
    pub fn player_ids(&self) -> Vec<Uuid> {
        signed_in_players(&self.results)
    }

    /// Whether a host lists the room: not when its host deleted their account (the host
    /// id is then nil).
    pub fn listed(&self) -> bool {
        !self.host_id.is_nil()
    }
}

/// Rooms' final results, by room, by host and by signed-in player.
#[async_trait]
pub trait RoomResultStore: Send + Sync + 'static {
    /// Saves (or rewrites: idempotent) a room's final results, listed under its host
    /// (unless nil) and each of its signed-in players ([`RoomResult::player_ids`]). A
    /// rewrite that changes the host, the end time or the players moves the room in
    /// those lists.
    async fn save_room_result(&self, result: &RoomResult) -> StoreResult<()>;

    /// Rewrites a room's results as [`Self::save_room_result`] does, but only if the
    /// stored document is still `previous.results` (a compare-and-set: a learner made
    /// anonymous in it while another one is). False, and nothing written, when it
    /// changed or the room is unknown: read it again and retry.
    async fn replace_room_result(
        &self,
        previous: &RoomResult,
        result: &RoomResult,
    ) -> StoreResult<bool>;

    /// The rooms the learner played signed in, newest first (by room id, a v7 uuid), at
    /// most `limit`.
    async fn rooms_of_player(&self, user_id: Uuid, limit: usize) -> StoreResult<Vec<Uuid>>;

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
