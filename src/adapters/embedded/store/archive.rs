//! A past week's archived board mirrors the CQL tables: its standings by rank (one key
//! range), by learner, and the mark that it is complete, written last.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::ReadableTable;
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{WEEKLY_ARCHIVE_BY_USER, WEEKLY_ARCHIVE_RANKS, WEEKLY_ARCHIVES};
use super::txn::{Txn, decode_values, encode, internal, read_json};
use questpath_actors::ports::store::{ArchiveStore, ArchivedEntry, ArchivedWeek, StoreResult};

/// The time of a stored millisecond count.
fn ms_time(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| internal(format!("corrupt time {ms}")))
}

#[async_trait]
impl ArchiveStore for EmbeddedStore {
    async fn write_archive_entries(
        &self,
        period: &str,
        entries: &[ArchivedEntry],
    ) -> StoreResult<()> {
        if entries.iter().any(|e| e.rank == 0) {
            return Err(internal("archived ranks start at 1"));
        }
        let period = period.to_string();
        let entries = entries.to_vec();
        self.write(move |tx| {
            let mut ranks = tx.open_table(WEEKLY_ARCHIVE_RANKS).map_err(internal)?;
            let mut by_user = tx.open_table(WEEKLY_ARCHIVE_BY_USER).map_err(internal)?;
            for entry in &entries {
                let reached_ms = entry.reached_at.timestamp_millis();
                ranks
                    .insert(
                        (period.as_str(), entry.rank),
                        (entry.user_id.as_u128(), entry.score, reached_ms),
                    )
                    .map_err(internal)?;
                by_user
                    .insert(
                        (period.as_str(), entry.user_id.as_u128()),
                        (entry.rank, entry.score, reached_ms),
                    )
                    .map_err(internal)?;
            }
            Ok(())
        })
        .await
    }

    async fn mark_week_archived(&self, week: &ArchivedWeek) -> StoreResult<()> {
        let period = week.period.clone();
        let bytes = encode(week)?;
        self.write(move |tx| {
            tx.open_table(WEEKLY_ARCHIVES)
                .map_err(internal)?
                .insert(period.as_str(), bytes.as_slice())
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn archived_week(&self, period: &str) -> StoreResult<Option<ArchivedWeek>> {
        let period = period.to_string();
        self.read(move |tx| read_json(tx, WEEKLY_ARCHIVES, period.as_str(), "archived week"))
            .await
    }

    async fn archived_weeks(&self, limit: usize) -> StoreResult<Vec<ArchivedWeek>> {
        self.scan(move |tx| {
            let weeks = tx.open_table(WEEKLY_ARCHIVES).map_err(internal)?;
            let newest = weeks.iter().map_err(internal)?.rev().take(limit);
            decode_values(newest, "archived week")
        })
        .await
    }

    async fn archived_entries(
        &self,
        period: &str,
        from_rank: u64,
        limit: usize,
    ) -> StoreResult<Vec<ArchivedEntry>> {
        let period = period.to_string();
        self.scan(move |tx| {
            let ranks = tx.open_table(WEEKLY_ARCHIVE_RANKS).map_err(internal)?;
            let range = (period.as_str(), from_rank.max(1))..=(period.as_str(), u64::MAX);
            let mut found = Vec::new();
            for item in ranks.range(range).map_err(internal)?.take(limit) {
                let (key, value) = item.map_err(internal)?;
                let (_, rank) = key.value();
                let (user, score, reached_ms) = value.value();
                found.push(ArchivedEntry {
                    rank,
                    user_id: Uuid::from_u128(user),
                    score,
                    reached_at: ms_time(reached_ms)?,
                });
            }
            Ok(found)
        })
        .await
    }

    async fn archived_entry(
        &self,
        period: &str,
        user_id: Uuid,
    ) -> StoreResult<Option<ArchivedEntry>> {
        let period = period.to_string();
        self.read(move |tx| {
            let by_user = tx.open_table(WEEKLY_ARCHIVE_BY_USER).map_err(internal)?;
            let Some(value) = by_user
                .get((period.as_str(), user_id.as_u128()))
                .map_err(internal)?
            else {
                return Ok(None);
            };
            let (rank, score, reached_ms) = value.value();
            Ok(Some(ArchivedEntry {
                rank,
                user_id,
                score,
                reached_at: ms_time(reached_ms)?,
            }))
        })
        .await
    }

    async fn forget_archived_learner(&self, period: &str, user_id: Uuid) -> StoreResult<bool> {
        let period = period.to_string();
        let user = user_id.as_u128();
        self.write_or_abort(move |tx| {
            let mut by_user = tx.open_table(WEEKLY_ARCHIVE_BY_USER).map_err(internal)?;
            let Some((rank, score, reached_ms)) = by_user
                .remove((period.as_str(), user))
                .map_err(internal)?
                .map(|v| v.value())
            else {
                return Ok(Txn::Abort(false));
            };
            let mut ranks = tx.open_table(WEEKLY_ARCHIVE_RANKS).map_err(internal)?;
            let holder = ranks
                .get((period.as_str(), rank))
                .map_err(internal)?
                .map(|v| v.value().0);
            // The rank keeps its place under nobody's id (unless someone else holds it
            // now: a re-archived week, which already left this learner out).
            if holder == Some(user) {
                ranks
                    .insert((period.as_str(), rank), (0u128, score, reached_ms))
                    .map_err(internal)?;
            }
            Ok(Txn::Commit(true))
        })
        .await
    }
}
