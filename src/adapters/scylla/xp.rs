//! The XP ledger on CQL (see docs/data-model.md, Q15 to Q17, W20 to W22).
//!
//! XP is handled like money: a grant is written once, under its deterministic id, by a
//! lightweight transaction (`INSERT ... IF NOT EXISTS`), and marked pending until the
//! profile and the leaderboard show it. Rules kept, so the same statements behave alike
//! on ScyllaDB and Cassandra:
//! * `xp_ledger` rows are only ever written by that LWT, never updated or deleted, so
//!   Paxos and plain write timestamps never meet on one cell; `users.total_xp` is only
//!   written by the `UPDATE ... IF EXISTS` of `set_total_xp` (a user is created
//!   without it and reads as 0);
//! * the pending mark is written (a plain upsert) **before** the ledger LWT: a crash in
//!   between leaves at worst a mark for a grant the ledger does not hold, which recovery
//!   reads, finds nothing to apply for, and clears; never a ledger entry without its mark;
//! * the ledger is read at `LOCAL_SERIAL`, so a grant whose LWT a crashed instance left
//!   half-done is completed (or dropped) by that read, and never shows up after
//!   recovery has summed the ledger and cleared its mark;
//! * `xp_pending` is one partition (bucket 0): the set of pending grants is small,
//!   since each is deleted once applied; reads are bounded by `LIMIT`, deletes are by
//!   exact key (at most [`MAX_IN`] ids per `IN`);
//! * the users with a ledger (to rebuild leaderboards) are the partitions of
//!   `xp_ledger`, listed in token order by `SELECT DISTINCT user_id ... WHERE
//!   token(user_id) >= token(?) LIMIT ?`: a bounded range read, no extra table;
//! * a deleted learner's ledger is retired: read at `LOCAL_SERIAL`, then moved in
//!   logged batches, each inserting some entries into `xp_retired` and deleting exactly
//!   those ledger rows (so an entry moves once even if a call stops half-way). These
//!   are the only deletes of ledger rows, by exact key: a grant written later has
//!   another key. A grant checks the deletion mark before its LWT and again after it,
//!   and retires what it wrote if the mark appeared meanwhile: the deletion's serial
//!   read either saw the grant or came before it, and then so did the mark.

use std::collections::{BTreeSet, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::batch::BatchType;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlTimestamp, CqlValue};
use uuid::Uuid;

use super::connect::ConnectError;
use super::store::{ScyllaStore, idempotent_batch, internal, lwt_applied, prepare, unavailable};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{RetiredXp, RetiredXpEntry, StoreResult, XpEntry, XpStore};

/// The one partition of `xp_pending`. A column of its own (not a constant table), so
/// the pending set could be spread over several buckets later without a new table.
const PENDING_BUCKET: i32 = 0;

/// Most rows one read of `xp_pending` returns while listing users.
const MAX_PENDING_ROWS: usize = 1000;

/// Most grant ids one `IN ?` names: ScyllaDB refuses more than 100 clustering key
/// restrictions per query by default (`max_clustering_key_restrictions_per_query`).
const MAX_IN: usize = 100;

const ENTRY_COLUMNS: &str = "user_id, grant_id, amount, source, created_at";

/// Ledger entries one logged batch of a retirement moves: each is an insert and a
/// delete, about 120 bytes, so a batch stays under Cassandra's 5 KiB warning.
const RETIRE_BATCH: usize = 25;

/// Statements of the XP ledger, prepared once per session.
pub(super) struct XpStatements {
    mark_pending: PreparedStatement,
    insert_entry: PreparedStatement,
    /// At `LOCAL_SERIAL`.
    entries: PreparedStatement,
    set_total_xp: PreparedStatement,
    pending_users: PreparedStatement,
    pending_users_after: PreparedStatement,
    pending_of_user: PreparedStatement,
    clear_pending: PreparedStatement,
    ledger_users: PreparedStatement,
    ledger_users_from: PreparedStatement,
    insert_retired: PreparedStatement,
    delete_entry: PreparedStatement,
    retired: PreparedStatement,
}

impl XpStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        let mut entries = prepare(format!(
            "SELECT {ENTRY_COLUMNS} FROM {ks}.xp_ledger WHERE user_id = ?"
        ))
        .await?;
        entries.set_consistency(Consistency::LocalSerial);
        Ok(XpStatements {
            mark_pending: prepare(format!(
                "INSERT INTO {ks}.xp_pending (bucket, user_id, grant_id) VALUES (?, ?, ?)"
            ))
            .await?,
            insert_entry: prepare(format!(
                "INSERT INTO {ks}.xp_ledger ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS"
            ))
            .await?,
            entries,
            // An LWT so an unknown user gets no row (a plain UPDATE would create one).
            set_total_xp: prepare(format!(
                "UPDATE {ks}.users SET total_xp = ? WHERE user_id = ? IF EXISTS"
            ))
            .await?,
            pending_users: prepare(format!(
                "SELECT user_id FROM {ks}.xp_pending WHERE bucket = ? LIMIT ?"
            ))
            .await?,
            pending_users_after: prepare(format!(
                "SELECT user_id FROM {ks}.xp_pending WHERE bucket = ? AND user_id > ? LIMIT ?"
            ))
            .await?,
            pending_of_user: prepare(format!(
                "SELECT grant_id FROM {ks}.xp_pending WHERE bucket = ? AND user_id = ?"
            ))
            .await?,
            clear_pending: prepare(format!(
                "DELETE FROM {ks}.xp_pending WHERE bucket = ? AND user_id = ? AND grant_id IN ?"
            ))
            .await?,
            ledger_users: prepare(format!(
                "SELECT DISTINCT user_id FROM {ks}.xp_ledger LIMIT ?"
            ))
            .await?,
            ledger_users_from: prepare(format!(
                "SELECT DISTINCT user_id FROM {ks}.xp_ledger WHERE token(user_id) >= token(?) LIMIT ?"
            ))
            .await?,
            insert_retired: prepare(format!(
                "INSERT INTO {ks}.xp_retired (retired_id, entry, amount, source, created_at) VALUES (?, ?, ?, ?, ?)"
            ))
            .await?,
            delete_entry: prepare(format!(
                "DELETE FROM {ks}.xp_ledger WHERE user_id = ? AND grant_id = ?"
            ))
            .await?,
            retired: prepare(format!(
                "SELECT amount, source, created_at FROM {ks}.xp_retired WHERE retired_id = ?"
            ))
            .await?,
        })
    }
}

#[derive(DeserializeRow)]
struct EntryRow {
    user_id: Uuid,
    grant_id: String,
    amount: Option<i64>,
    source: Option<String>,
    created_at: Option<DateTime<Utc>>,
}

impl EntryRow {
    /// Every ledger row is written whole by one insert: a missing column is corruption,
    /// reported rather than counted as 0.
    fn into_entry(self) -> StoreResult<XpEntry> {
        match (self.amount, self.source, self.created_at) {
            (Some(amount), Some(source), Some(created_at)) => Ok(XpEntry {
                user_id: self.user_id,
                grant_id: self.grant_id,
                amount,
                source,
                created_at,
            }),
            _ => Err(internal(format!(
                "corrupt xp entry {} of user {}",
                self.grant_id, self.user_id
            ))),
        }
    }
}

#[async_trait]
impl XpStore for ScyllaStore {
    async fn record_xp(&self, entry: &XpEntry) -> StoreResult<bool> {
        if self.is_deleted(entry.user_id).await? {
            return Ok(false);
        }
        // The mark first (see the module's notes). A retry marks an existing grant
        // again: the same row, harmless, cleared by the next apply or recovery. The
        // mark is never removed here, even when the LWT does not apply: it may be the
        // very mark of a first write whose instance died before applying it.
        self.session
            .execute_unpaged(
                &self.xp.mark_pending,
                (PENDING_BUCKET, entry.user_id, entry.grant_id.as_str()),
            )
            .await
            .map_err(unavailable)?;
        let result = self
            .session
            .execute_unpaged(
                &self.xp.insert_entry,
                (
                    entry.user_id,
                    entry.grant_id.as_str(),
                    entry.amount,
                    entry.source.as_str(),
                    entry.created_at,
                ),
            )
            .await
            .map_err(unavailable)?;
        let written = lwt_applied(result)?;
        if written && self.is_deleted(entry.user_id).await? {
            // The account was deleted while this grant was written: retire what it
            // wrote (the deletion's own retirement may have come before it).
            self.retire_xp(entry.user_id).await?;
            return Ok(false);
        }
        Ok(written)
    }

    async fn xp_entries(&self, user_id: Uuid) -> StoreResult<Vec<XpEntry>> {
        // Unpaged: serial reads are one partition at a time, and a ledger grows by a
        // few entries a day.
        let result = self
            .session
            .execute_unpaged(&self.xp.entries, (user_id,))
            .await
            .map_err(unavailable)?;
        let rows = result.into_rows_result().map_err(internal)?;
        rows.rows::<EntryRow>()
            .map_err(internal)?
            .map(|row| row.map_err(internal)?.into_entry())
            .collect()
    }

    async fn set_total_xp(&self, user_id: Uuid, total: i64) -> StoreResult<()> {
        let result = self
            .session
            .execute_unpaged(&self.xp.set_total_xp, (total, user_id))
            .await
            .map_err(unavailable)?;
        // Not applied: an unknown user, which is left unknown.
        lwt_applied(result).map(drop)
    }

    async fn xp_pending_users(&self, limit: usize) -> StoreResult<Vec<Uuid>> {
        // Rows come in clustering order, by user then grant. Each round reads at most
        // as many rows as users are still wanted, starting after the last user read, so
        // a user with many pending grants only costs another round, and the rounds end
        // with `limit` users or with the partition.
        let mut users = Vec::new();
        let mut seen = HashSet::new();
        let mut after: Option<Uuid> = None;
        while users.len() < limit {
            let want = (limit - users.len()).min(MAX_PENDING_ROWS);
            // At most MAX_PENDING_ROWS, which fits in an i32.
            let rows_limit = want as i32;
            let result = match after {
                None => {
                    self.session
                        .execute_unpaged(&self.xp.pending_users, (PENDING_BUCKET, rows_limit))
                        .await
                }
                Some(last) => {
                    self.session
                        .execute_unpaged(
                            &self.xp.pending_users_after,
                            (PENDING_BUCKET, last, rows_limit),
                        )
                        .await
                }
            }
            .map_err(unavailable)?;
            let rows = result.into_rows_result().map_err(internal)?;
            let mut read = 0;
            for row in rows.rows::<(Uuid,)>().map_err(internal)? {
                let (user,) = row.map_err(internal)?;
                read += 1;
                after = Some(user);
                if seen.insert(user) {
                    users.push(user);
                }
            }
            if read < want {
                // The end of the partition.
                break;
            }
        }
        users.truncate(limit);
        Ok(users)
    }

    async fn xp_pending(&self, user_id: Uuid) -> StoreResult<Vec<String>> {
        // One clustering slice, paged: small, since applied grants are deleted.
        let rows = self
            .all_rows::<(String,)>(&self.xp.pending_of_user, (PENDING_BUCKET, user_id))
            .await?;
        Ok(rows.into_iter().map(|(grant_id,)| grant_id).collect())
    }

    async fn clear_xp_pending(&self, user_id: Uuid, grant_ids: &[String]) -> StoreResult<()> {
        // Exactly these rows: a grant marked meanwhile (another id) stays pending.
        let unique: Vec<&str> = grant_ids
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for chunk in unique.chunks(MAX_IN) {
            self.session
                .execute_unpaged(&self.xp.clear_pending, (PENDING_BUCKET, user_id, chunk))
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn xp_users(&self, after: Option<Uuid>, limit: usize) -> StoreResult<Vec<Uuid>> {
        // Partitions come in token order, and partitions of equal tokens (a Murmur3
        // collision, rare but possible) by key bytes. Reading from `token >= token(after)`
        // and dropping everything up to `after` itself continues exactly where the
        // previous page ended, collisions included; a strict `>` could skip a user
        // whose id shares `after`'s token. `after` is always found: ledger partitions
        // are never deleted.
        let mut users = Vec::new();
        let mut after = after;
        while users.len() < limit {
            let want = (limit - users.len()).min(MAX_PENDING_ROWS);
            // One more than wanted: the first row repeats `after`.
            let rows_limit = (want + usize::from(after.is_some())) as i32;
            let result = match after {
                None => {
                    self.session
                        .execute_unpaged(&self.xp.ledger_users, (rows_limit,))
                        .await
                }
                Some(last) => {
                    self.session
                        .execute_unpaged(&self.xp.ledger_users_from, (last, rows_limit))
                        .await
                }
            }
            .map_err(unavailable)?;
            let rows = result.into_rows_result().map_err(internal)?;
            let read: Vec<Uuid> = rows
                .rows::<(Uuid,)>()
                .map_err(internal)?
                .map(|row| row.map(|(user,)| user).map_err(internal))
                .collect::<StoreResult<_>>()?;
            let full = read.len() == rows_limit as usize;
            let fresh: Vec<Uuid> = match after {
                Some(last) => match read.iter().position(|u| *u == last) {
                    Some(at) => read[at + 1..].to_vec(),
                    None => read.into_iter().filter(|u| *u != last).collect(),
                },
                None => read,
            };
            if let Some(last) = fresh.last() {
                after = Some(*last);
            }
            let got = fresh.len();
            users.extend(fresh);
            if !full || got == 0 {
                break;
            }
        }
        users.truncate(limit);
        Ok(users)
    }

    async fn retire_xp(&self, user_id: Uuid) -> StoreResult<Option<RetiredXp>> {
        let entries = self.xp_entries(user_id).await?;
        let pending = self.xp_pending(user_id).await?;
        self.clear_xp_pending(user_id, &pending).await?;
        if entries.is_empty() {
            return Ok(None);
        }
        let retired_id = Uuid::new_v4();
        let mut total = 0i64;
        for (chunk_at, chunk) in entries.chunks(RETIRE_BATCH).enumerate() {
            let mut batch = idempotent_batch(BatchType::Logged);
            let mut values: Vec<Vec<CqlValue>> = Vec::with_capacity(chunk.len() * 2);
            for (i, entry) in chunk.iter().enumerate() {
                let position = i32::try_from(chunk_at * RETIRE_BATCH + i).map_err(internal)?;
                total = total.saturating_add(entry.amount);
                batch.append_statement(self.xp.insert_retired.clone());
                values.push(vec![
                    CqlValue::Uuid(retired_id),
                    CqlValue::Int(position),
                    CqlValue::BigInt(entry.amount),
                    CqlValue::Text(entry.source.clone()),
                    CqlValue::Timestamp(CqlTimestamp(entry.created_at.timestamp_millis())),
                ]);
                batch.append_statement(self.xp.delete_entry.clone());
                values.push(vec![
                    CqlValue::Uuid(user_id),
                    CqlValue::Text(entry.grant_id.clone()),
                ]);
            }
            self.session
                .batch(&batch, values)
                .await
                .map_err(unavailable)?;
        }
        Ok(Some(RetiredXp {
            retired_id,
            entries: u32::try_from(entries.len()).map_err(internal)?,
            total,
        }))
    }

    async fn retired_xp(&self, retired_id: Uuid) -> StoreResult<Vec<RetiredXpEntry>> {
        let rows = self
            .all_rows::<(Option<i64>, Option<String>, Option<DateTime<Utc>>)>(
                &self.xp.retired,
                (retired_id,),
            )
            .await?;
        rows.into_iter()
            .map(|row| match row {
                (Some(amount), Some(source), Some(created_at)) => Ok(RetiredXpEntry {
                    amount,
                    source,
                    created_at,
                }),
                _ => Err(internal(format!(
                    "corrupt retired xp entry of {retired_id}"
                ))),
            })
            .collect()
    }
}
