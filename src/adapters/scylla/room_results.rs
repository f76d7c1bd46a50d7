//! Final results of multiplayer rooms on CQL (see docs/data-model.md, Q24 to Q25, W23).
//!
//! * `room_results` holds one room's whole result, the document as JSON text;
//! * `room_results_by_host` lists a host's rooms, newest end first, with everything but
//!   the document, so a list is one bounded slice of one partition and no join;
//! * no batch: the document can be far larger than a batch may be (Cassandra refuses
//!   batches over 50 KiB by default). The room's row is written first, then its list
//!   entry, so a listed room can always be read; a failed save is retried whole;
//! * a rewrite is idempotent. One that changes the host or the end time (the list
//!   entry's key) deletes the old list entry after writing the new one;
//! * `room_results_by_player` lists the rooms each signed-in player played (the ids
//!   [`RoomResult::player_ids`] reads from the document), written after the room's row
//!   like the host's entry; a rewrite without a player deletes that player's entry;
//! * a room whose host deleted their account has the nil host and no host entry;
//! * making a learner anonymous in a room ([`RoomResultStore::replace_room_result`]) is
//!   a compare-and-set on the stored document text (`UPDATE ... IF results = ?`), so two
//!   learners of one room deleting their accounts at once both stay anonymous. It is the
//!   one conditional write of the table; a plain save racing it is a room ending while
//!   one of its players deletes their account, which the room's end checks for after
//!   saving (`questpath_actors::room`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use super::connect::ConnectError;
use super::store::{ScyllaStore, internal, lwt_applied, prepare, unavailable};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{RoomResult, RoomResultStore, StoreError, StoreResult};

const RESULT_COLUMNS: &str =
    "room_id, code, host_id, title, created_at, ended_at, end_reason, players, results";
const ENTRY_COLUMNS: &str =
    "host_id, ended_at, room_id, code, title, created_at, end_reason, players";

/// Statements of the room results, prepared once per session.
pub(super) struct RoomResultStatements {
    insert_result: PreparedStatement,
    result: PreparedStatement,
    insert_entry: PreparedStatement,
    delete_entry: PreparedStatement,
    entries: PreparedStatement,
    document: PreparedStatement,
    replace_result: PreparedStatement,
    index_player: PreparedStatement,
    unindex_player: PreparedStatement,
    rooms_of_player: PreparedStatement,
}

impl RoomResultStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        Ok(RoomResultStatements {
            insert_result: prepare(format!(
                "INSERT INTO {ks}.room_results ({RESULT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            result: prepare(format!(
                "SELECT {RESULT_COLUMNS} FROM {ks}.room_results WHERE room_id = ?"
            ))
            .await?,
            insert_entry: prepare(format!(
                "INSERT INTO {ks}.room_results_by_host ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            delete_entry: prepare(format!(
                "DELETE FROM {ks}.room_results_by_host WHERE host_id = ? AND ended_at = ? AND room_id = ?"
            ))
            .await?,
            entries: prepare(format!(
                "SELECT {ENTRY_COLUMNS} FROM {ks}.room_results_by_host WHERE host_id = ? LIMIT ?"
            ))
            .await?,
            document: prepare(format!(
                "SELECT results FROM {ks}.room_results WHERE room_id = ?"
            ))
            .await?,
            replace_result: prepare(format!(
                "UPDATE {ks}.room_results SET code = ?, host_id = ?, title = ?, created_at = ?, ended_at = ?, end_reason = ?, players = ?, results = ? WHERE room_id = ? IF results = ?"
            ))
            .await?,
            index_player: prepare(format!(
                "INSERT INTO {ks}.room_results_by_player (user_id, room_id) VALUES (?, ?)"
            ))
            .await?,
            unindex_player: prepare(format!(
                "DELETE FROM {ks}.room_results_by_player WHERE user_id = ? AND room_id = ?"
            ))
            .await?,
            rooms_of_player: prepare(format!(
                "SELECT room_id FROM {ks}.room_results_by_player WHERE user_id = ? LIMIT ?"
            ))
            .await?,
        })
    }
}

#[derive(DeserializeRow)]
struct ResultRow {
    room_id: Uuid,
    code: Option<String>,
    host_id: Option<Uuid>,
    title: Option<String>,
    created_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    end_reason: Option<String>,
    players: Option<i32>,
    results: Option<String>,
}

#[derive(DeserializeRow)]
struct EntryRow {
    host_id: Uuid,
    ended_at: DateTime<Utc>,
    room_id: Uuid,
    code: Option<String>,
    title: Option<String>,
    created_at: Option<DateTime<Utc>>,
    end_reason: Option<String>,
    players: Option<i32>,
}

/// Every row is written whole by one insert: a missing column is corruption.
fn corrupt(room_id: Uuid) -> StoreError {
    internal(format!("corrupt room result {room_id}"))
}

impl ResultRow {
    fn into_result(self) -> StoreResult<RoomResult> {
        let room_id = self.room_id;
        let (
            Some(code),
            Some(host_id),
            Some(title),
            Some(created_at),
            Some(ended_at),
            Some(end_reason),
            Some(players),
            Some(results),
        ) = (
            self.code,
            self.host_id,
            self.title,
            self.created_at,
            self.ended_at,
            self.end_reason,
            self.players,
            self.results,
        )
        else {
            return Err(corrupt(room_id));
        };
        Ok(RoomResult {
            room_id,
            code,
            host_id,
            title,
            created_at,
            ended_at,
            end_reason,
            players: u32::try_from(players).map_err(|_| corrupt(room_id))?,
            results: serde_json::from_str(&results)
                .map_err(|e| internal(format!("corrupt results of room {room_id}: {e}")))?,
        })
    }
}

impl EntryRow {
    fn into_result(self) -> StoreResult<RoomResult> {
        let room_id = self.room_id;
        let (Some(code), Some(title), Some(created_at), Some(end_reason), Some(players)) = (
            self.code,
            self.title,
            self.created_at,
            self.end_reason,
            self.players,
        ) else {
            return Err(corrupt(room_id));
        };
        Ok(RoomResult {
            room_id,
            code,
            host_id: self.host_id,
            title,
            created_at,
            ended_at: self.ended_at,
            end_reason,
            players: u32::try_from(players).map_err(|_| corrupt(room_id))?,
            results: serde_json::Value::Null,
        })
    }
}

/// The player count as a CQL `int`.
fn player_count(result: &RoomResult) -> StoreResult<i32> {
    i32::try_from(result.players)
        .map_err(|_| internal(format!("room {} has too many players", result.room_id)))
}

impl ScyllaStore {
    /// Writes the host's and the players' entries of `result` (after its row), then
    /// deletes those of `previous` (the row as it was) that it no longer has.
    async fn write_lists(
        &self,
        previous: Option<&RoomResult>,
        result: &RoomResult,
    ) -> StoreResult<()> {
        let st = &self.room_results;
        if result.listed() {
            self.run(
                &st.insert_entry,
                (
                    result.host_id,
                    result.ended_at,
                    result.room_id,
                    &result.code,
                    &result.title,
                    result.created_at,
                    &result.end_reason,
                    player_count(result)?,
                ),
            )
            .await?;
        }
        let players = result.player_ids();
        for &player in &players {
            self.run(&st.index_player, (player, result.room_id)).await?;
        }
        let Some(previous) = previous else {
            return Ok(());
        };
        let moved = previous.host_id != result.host_id
            || previous.ended_at.timestamp_millis() != result.ended_at.timestamp_millis()
            || !result.listed();
        if moved && previous.listed() {
            self.run(
                &st.delete_entry,
                (previous.host_id, previous.ended_at, result.room_id),
            )
            .await?;
        }
        for player in previous.player_ids() {
            if !players.contains(&player) {
                self.run(&st.unindex_player, (player, result.room_id))
                    .await?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl RoomResultStore for ScyllaStore {
    async fn save_room_result(&self, result: &RoomResult) -> StoreResult<()> {
        let players = player_count(result)?;
        let document = serde_json::to_string(&result.results).map_err(internal)?;
        // What an earlier save listed, to move the entries whose keys change.
        let previous = self.room_result(result.room_id).await?;
        self.session
            .execute_unpaged(
                &self.room_results.insert_result,
                (
                    result.room_id,
                    &result.code,
                    result.host_id,
                    &result.title,
                    result.created_at,
                    result.ended_at,
                    &result.end_reason,
                    players,
                    document,
                ),
            )
            .await
            .map_err(unavailable)?;
        self.write_lists(previous.as_ref(), result).await
    }

    async fn replace_room_result(
        &self,
        previous: &RoomResult,
        result: &RoomResult,
    ) -> StoreResult<bool> {
        let players = player_count(result)?;
        let row: Option<(Option<String>,)> = self
            .one_row(&self.room_results.document, (result.room_id,))
            .await?;
        let Some(stored_text) = row.and_then(|(text,)| text) else {
            return Ok(false);
        };
        let stored: serde_json::Value = serde_json::from_str(&stored_text)
            .map_err(|e| internal(format!("corrupt results of room {}: {e}", result.room_id)))?;
        if stored != previous.results {
            return Ok(false);
        }
        // The lists as the stored row has them (the caller's copy may be older).
        let Some(before) = self.room_result(result.room_id).await? else {
            return Ok(false);
        };
        let document = serde_json::to_string(&result.results).map_err(internal)?;
        let replaced = self
            .session
            .execute_unpaged(
                &self.room_results.replace_result,
                (
                    &result.code,
                    result.host_id,
                    &result.title,
                    result.created_at,
                    result.ended_at,
                    &result.end_reason,
                    players,
                    document,
                    result.room_id,
                    stored_text,
                ),
            )
            .await
            .map_err(unavailable)?;
        if !lwt_applied(replaced)? {
            return Ok(false);
        }
        self.write_lists(Some(&before), result).await?;
        Ok(true)
    }

    async fn rooms_of_player(&self, user_id: Uuid, limit: usize) -> StoreResult<Vec<Uuid>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let rows = self
            .all_rows::<(Uuid,)>(&self.room_results.rooms_of_player, (user_id, limit))
            .await?;
        Ok(rows.into_iter().map(|(room,)| room).collect())
    }

    async fn room_result(&self, room_id: Uuid) -> StoreResult<Option<RoomResult>> {
        let result = self
            .session
            .execute_unpaged(&self.room_results.result, (room_id,))
            .await
            .map_err(unavailable)?;
        result
            .into_rows_result()
            .map_err(internal)?
            .maybe_first_row::<ResultRow>()
            .map_err(internal)?
            .map(ResultRow::into_result)
            .transpose()
    }

    async fn room_results_of_host(
        &self,
        host_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<RoomResult>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        // Paged: a long history is read a page at a time, up to `limit` rows.
        self.all_rows::<EntryRow>(&self.room_results.entries, (host_id, limit))
            .await?
            .into_iter()
            .map(EntryRow::into_result)
            .collect()
    }
}
