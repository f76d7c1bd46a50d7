//! A room's results are one record of `room_results`, a summary (without the document)
//! in `room_results_by_host`, keyed so a host's rooms are one key range in end order,
//! and an entry per signed-in player in `room_results_by_player`; saving writes them
//! all in one transaction.

use async_trait::async_trait;
use redb::WriteTransaction;
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{ROOM_RESULTS, ROOM_RESULTS_BY_HOST, ROOM_RESULTS_BY_PLAYER};
use super::txn::{Txn, decode_values, encode, get_json, internal, read_json};
use questpath_actors::ports::store::{RoomResult, RoomResultStore, StoreResult};

/// The key of a room in its host's list: newest end last, so the list reads backwards.
fn host_key(result: &RoomResult) -> (u128, i64, u128) {
    (
        result.host_id.as_u128(),
        result.ended_at.timestamp_millis(),
        result.room_id.as_u128(),
    )
}

/// Writes `result` and its list entries, replacing what `previous` (the stored version,
/// if any) listed.
fn put(
    tx: &WriteTransaction,
    previous: Option<&RoomResult>,
    result: &RoomResult,
) -> StoreResult<()> {
    let room = result.room_id.as_u128();
    let mut by_host = tx.open_table(ROOM_RESULTS_BY_HOST).map_err(internal)?;
    let mut by_player = tx.open_table(ROOM_RESULTS_BY_PLAYER).map_err(internal)?;
    let players = result.player_ids();
    // A rewrite may move the room in the lists (another host, end time or players).
    if let Some(previous) = previous {
        by_host.remove(host_key(previous)).map_err(internal)?;
        for player in previous.player_ids() {
            if !players.contains(&player) {
                by_player
                    .remove((player.as_u128(), room))
                    .map_err(internal)?;
            }
        }
    }
    tx.open_table(ROOM_RESULTS)
        .map_err(internal)?
        .insert(room, encode(result)?.as_slice())
        .map_err(internal)?;
    if result.listed() {
        let summary = encode(&RoomResult {
            results: serde_json::Value::Null,
            ..result.clone()
        })?;
        by_host
            .insert(host_key(result), summary.as_slice())
            .map_err(internal)?;
    }
    for player in players {
        by_player
            .insert((player.as_u128(), room), ())
            .map_err(internal)?;
    }
    Ok(())
}

#[async_trait]
impl RoomResultStore for EmbeddedStore {
    async fn save_room_result(&self, result: &RoomResult) -> StoreResult<()> {
        let result = result.clone();
        self.write(move |tx| {
            let previous: Option<RoomResult> = get_json(
                &tx.open_table(ROOM_RESULTS).map_err(internal)?,
                result.room_id.as_u128(),
                "room result",
            )?;
            put(tx, previous.as_ref(), &result)
        })
        .await
    }

    async fn replace_room_result(
        &self,
        previous: &RoomResult,
        result: &RoomResult,
    ) -> StoreResult<bool> {
        let expected = previous.results.clone();
        let result = result.clone();
        // One write transaction (one at a time): the compare and the write cannot be
        // separated by another writer.
        self.write_or_abort(move |tx| {
            let stored: Option<RoomResult> = get_json(
                &tx.open_table(ROOM_RESULTS).map_err(internal)?,
                result.room_id.as_u128(),
                "room result",
            )?;
            match stored {
                Some(stored) if stored.results == expected => {
                    put(tx, Some(&stored), &result)?;
                    Ok(Txn::Commit(true))
                }
                _ => Ok(Txn::Abort(false)),
            }
        })
        .await
    }

    async fn rooms_of_player(&self, user_id: Uuid, limit: usize) -> StoreResult<Vec<Uuid>> {
        let user = user_id.as_u128();
        self.read(move |tx| {
            let by_player = tx.open_table(ROOM_RESULTS_BY_PLAYER).map_err(internal)?;
            by_player
                .range((user, 0)..=(user, u128::MAX))
                .map_err(internal)?
                .rev()
                .take(limit)
                .map(|entry| {
                    entry
                        .map(|(key, _)| Uuid::from_u128(key.value().1))
                        .map_err(internal)
                })
                .collect()
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
