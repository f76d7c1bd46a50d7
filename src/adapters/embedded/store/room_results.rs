//! A room's results are one record of `room_results`, and a summary (without the
//! document) in `room_results_by_host`, keyed so a host's rooms are one key range in end
//! order; saving writes both in one transaction.

use async_trait::async_trait;
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{ROOM_RESULTS, ROOM_RESULTS_BY_HOST};
use super::txn::{decode_values, encode, get_json, internal, read_json};
use questpath_actors::ports::store::{RoomResult, RoomResultStore, StoreResult};

/// The key of a room in its host's list: newest end last, so the list reads backwards.
fn host_key(result: &RoomResult) -> (u128, i64, u128) {
    (
        result.host_id.as_u128(),
        result.ended_at.timestamp_millis(),
        result.room_id.as_u128(),
    )
}

#[async_trait]
impl RoomResultStore for EmbeddedStore {
    async fn save_room_result(&self, result: &RoomResult) -> StoreResult<()> {
        let bytes = encode(result)?;
        let summary = encode(&RoomResult {
            results: serde_json::Value::Null,
            ..result.clone()
        })?;
        let room = result.room_id.as_u128();
        let key = host_key(result);
        self.write(move |tx| {
            let mut results = tx.open_table(ROOM_RESULTS).map_err(internal)?;
            let mut by_host = tx.open_table(ROOM_RESULTS_BY_HOST).map_err(internal)?;
            // A rewrite may move the room in the lists (another host or end time).
            let previous: Option<RoomResult> = get_json(&results, room, "room result")?;
            if let Some(previous) = previous {
                by_host.remove(host_key(&previous)).map_err(internal)?;
            }
            results.insert(room, bytes.as_slice()).map_err(internal)?;
            by_host.insert(key, summary.as_slice()).map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn room_result(&self, room_id: Uuid) -> StoreResult<Option<RoomResult>> {
        self.read(move |tx| read_json(tx, ROOM_RESULTS, room_id.as_u128(), "room result"))
            .await
    }

    async fn room_results_of_host(
        &self,
        host_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<RoomResult>> {
        let host = host_id.as_u128();
        self.read(move |tx| {
            let by_host = tx.open_table(ROOM_RESULTS_BY_HOST).map_err(internal)?;
            let newest = by_host
                .range((host, i64::MIN, 0)..=(host, i64::MAX, u128::MAX))
                .map_err(internal)?
                .rev()
                .take(limit);
            decode_values(newest, "room result")
        })
        .await
    }
}
