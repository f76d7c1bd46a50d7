//! The archive of past weekly boards on CQL (see docs/data-model.md, Q26 to Q29, W24
//! and W25).
//!
//! * `weekly_archive_ranks` holds a week's final standings by rank, partitioned by
//!   (week, rank bucket): [`RANKS_PER_PARTITION`] ranks per partition, so a week of a
//!   million learners is a hundred partitions of about 10,000 small rows (well under a
//!   megabyte each), and a page of at most a few hundred ranks reads one partition, or
//!   two where it crosses a bucket boundary;
//! * `weekly_archive_by_user` holds the same standings by learner, one row per
//!   (week, learner) partition, for "my rank" without a scan;
//! * `weekly_archives` marks a week archived, written last by the archiver. It is one
//!   partition (bucket 0) of one row per week, newest first: 52 rows a year;
//! * rows are only inserted, never updated or deleted, except when a learner deletes
//!   their account: their learner row is deleted and their rank row rewritten with the
//!   nil id (score and time kept, so the ranks stay). Re-archiving a week writes the
//!   same rows again (the archiver archives each week once, shortly after it ends). Rank rows of one partition go in small unlogged batches (one
//!   mutation per partition on the server, far below the batch size warning);
//!   learner rows are single-partition inserts, [`WRITE_CONCURRENCY`] in flight.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::{TryStreamExt, stream};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::batch::BatchType;
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use super::connect::ConnectError;
use super::store::{ScyllaStore, idempotent_batch, internal, prepare, unavailable};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{ArchiveStore, ArchivedEntry, ArchivedWeek, StoreResult};

/// Ranks per partition of `weekly_archive_ranks`.
pub(super) const RANKS_PER_PARTITION: u64 = 10_000;

/// The one partition of `weekly_archives`.
const WEEKS_BUCKET: i32 = 0;

/// Rank rows per unlogged batch: about 3 KB, under Cassandra's 5 KB warning.
const BATCH_ROWS: usize = 50;

/// Writes of one page in flight at once.
const WRITE_CONCURRENCY: usize = 32;

/// Statements of the archive, prepared once per session.
pub(super) struct ArchiveStatements {
    insert_rank: PreparedStatement,
    insert_by_user: PreparedStatement,
    mark: PreparedStatement,
    week: PreparedStatement,
    weeks: PreparedStatement,
    ranks_from: PreparedStatement,
    by_user: PreparedStatement,
    rank_holder: PreparedStatement,
    delete_by_user: PreparedStatement,
}

impl ArchiveStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        Ok(ArchiveStatements {
            insert_rank: prepare(format!(
                "INSERT INTO {ks}.weekly_archive_ranks (period, rank_bucket, rank, user_id, score, reached_at) VALUES (?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            insert_by_user: prepare(format!(
                "INSERT INTO {ks}.weekly_archive_by_user (period, user_id, rank, score, reached_at) VALUES (?, ?, ?, ?, ?)"
            ))
            .await?,
            mark: prepare(format!(
                "INSERT INTO {ks}.weekly_archives (bucket, period, total, archived_at) VALUES (?, ?, ?, ?)"
            ))
            .await?,
            week: prepare(format!(
                "SELECT period, total, archived_at FROM {ks}.weekly_archives WHERE bucket = ? AND period = ?"
            ))
            .await?,
            weeks: prepare(format!(
                "SELECT period, total, archived_at FROM {ks}.weekly_archives WHERE bucket = ? LIMIT ?"
            ))
            .await?,
            ranks_from: prepare(format!(
                "SELECT rank, user_id, score, reached_at FROM {ks}.weekly_archive_ranks WHERE period = ? AND rank_bucket = ? AND rank >= ? LIMIT ?"
            ))
            .await?,
            by_user: prepare(format!(
                "SELECT rank, user_id, score, reached_at FROM {ks}.weekly_archive_by_user WHERE period = ? AND user_id = ?"
            ))
            .await?,
            rank_holder: prepare(format!(
                "SELECT user_id FROM {ks}.weekly_archive_ranks WHERE period = ? AND rank_bucket = ? AND rank = ?"
            ))
            .await?,
            delete_by_user: prepare(format!(
                "DELETE FROM {ks}.weekly_archive_by_user WHERE period = ? AND user_id = ?"
            ))
            .await?,
        })
    }
}

#[derive(DeserializeRow)]
struct WeekRow {
    period: String,
    total: Option<i64>,
    archived_at: Option<DateTime<Utc>>,
}

impl WeekRow {
    fn into_week(self) -> StoreResult<ArchivedWeek> {
        match (
            self.total.and_then(|t| u64::try_from(t).ok()),
            self.archived_at,
        ) {
            (Some(total), Some(archived_at)) => Ok(ArchivedWeek {
                period: self.period,
                total,
                archived_at,
            }),
            _ => Err(internal(format!("corrupt archive mark of {}", self.period))),
        }
    }
}

#[derive(DeserializeRow)]
struct EntryRow {
    rank: i64,
    user_id: Uuid,
    score: Option<i64>,
    reached_at: Option<DateTime<Utc>>,
}

impl EntryRow {
    fn into_entry(self, period: &str) -> StoreResult<ArchivedEntry> {
        match (u64::try_from(self.rank).ok(), self.score, self.reached_at) {
            (Some(rank), Some(score), Some(reached_at)) => Ok(ArchivedEntry {
                rank,
                user_id: self.user_id,
                score,
                reached_at,
            }),
            _ => Err(internal(format!(
                "corrupt archived standing of {} on {period}",
                self.user_id
            ))),
        }
    }
}

/// The partition of `weekly_archive_ranks` holding `rank` (from 1).
fn bucket_of(rank: u64) -> u64 {
    (rank.max(1) - 1) / RANKS_PER_PARTITION
}

fn as_bigint(n: u64) -> StoreResult<i64> {
    i64::try_from(n).map_err(|_| internal(format!("{n} does not fit a bigint")))
}

/// One write of a page: a batch of rank rows of one partition, or one learner row.
enum Write<'e> {
    Ranks(Vec<&'e ArchivedEntry>),
    ByUser(&'e ArchivedEntry),
}

impl ScyllaStore {
    /// One unlogged batch of rank rows, all of one partition.
    async fn insert_ranks(&self, period: &str, rows: &[&ArchivedEntry]) -> StoreResult<()> {
        let mut batch = idempotent_batch(BatchType::Unlogged);
        let mut values = Vec::with_capacity(rows.len());
        for entry in rows {
            batch.append_statement(self.archive.insert_rank.clone());
            values.push((
                period,
                bucket_of(entry.rank) as i32,
                as_bigint(entry.rank)?,
                entry.user_id,
                entry.score,
                entry.reached_at,
            ));
        }
        self.session
            .batch(&batch, values)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl ArchiveStore for ScyllaStore {
    async fn write_archive_entries(
        &self,
        period: &str,
        entries: &[ArchivedEntry],
    ) -> StoreResult<()> {
        if entries.iter().any(|e| e.rank == 0) {
            return Err(internal("archived ranks start at 1"));
        }
        // Rank rows grouped by partition, in batches of a few dozen.
        let mut sorted: Vec<&ArchivedEntry> = entries.iter().collect();
        sorted.sort_by_key(|e| e.rank);
        let mut writes: Vec<Write<'_>> = Vec::new();
        for group in sorted.chunk_by(|a, b| bucket_of(a.rank) == bucket_of(b.rank)) {
            for chunk in group.chunks(BATCH_ROWS) {
                writes.push(Write::Ranks(chunk.to_vec()));
            }
        }
        writes.extend(entries.iter().map(Write::ByUser));
        stream::iter(writes.into_iter().map(Ok))
            .try_for_each_concurrent(WRITE_CONCURRENCY, |write| async move {
                match write {
                    Write::Ranks(rows) => self.insert_ranks(period, &rows).await,
                    Write::ByUser(entry) => {
                        self.session
                            .execute_unpaged(
                                &self.archive.insert_by_user,
                                (
                                    period,
                                    entry.user_id,
                                    as_bigint(entry.rank)?,
                                    entry.score,
                                    entry.reached_at,
                                ),
                            )
                            .await
                            .map_err(unavailable)?;
                        Ok(())
                    }
                }
            })
            .await
    }

    async fn mark_week_archived(&self, week: &ArchivedWeek) -> StoreResult<()> {
        self.session
            .execute_unpaged(
                &self.archive.mark,
                (
                    WEEKS_BUCKET,
                    week.period.as_str(),
                    as_bigint(week.total)?,
                    week.archived_at,
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn archived_week(&self, period: &str) -> StoreResult<Option<ArchivedWeek>> {
        let result = self
            .session
            .execute_unpaged(&self.archive.week, (WEEKS_BUCKET, period))
            .await
            .map_err(unavailable)?;
        result
            .into_rows_result()
            .map_err(internal)?
            .maybe_first_row::<WeekRow>()
            .map_err(internal)?
            .map(WeekRow::into_week)
            .transpose()
    }

    async fn archived_weeks(&self, limit: usize) -> StoreResult<Vec<ArchivedWeek>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        self.all_rows::<WeekRow>(&self.archive.weeks, (WEEKS_BUCKET, limit))
            .await?
            .into_iter()
            .map(WeekRow::into_week)
            .collect()
    }

    async fn archived_entries(
        &self,
        period: &str,
        from_rank: u64,
        limit: usize,
    ) -> StoreResult<Vec<ArchivedEntry>> {
        let mut found = Vec::new();
        let mut next = from_rank.max(1);
        let mut wanted = limit as u64;
        // Partition after partition, while the range goes on and the archive does.
        while wanted > 0 {
            let bucket = bucket_of(next);
            let bucket_end = (bucket + 1) * RANKS_PER_PARTITION;
            let here = wanted.min(bucket_end - next + 1);
            let result = self
                .session
                .execute_unpaged(
                    &self.archive.ranks_from,
                    (
                        period,
                        bucket as i32,
                        as_bigint(next)?,
                        i32::try_from(here).unwrap_or(i32::MAX),
                    ),
                )
                .await
                .map_err(unavailable)?;
            let rows = result.into_rows_result().map_err(internal)?;
            let mut read = 0;
            for row in rows.rows::<EntryRow>().map_err(internal)? {
                found.push(row.map_err(internal)?.into_entry(period)?);
                read += 1;
            }
            if read < here {
                // Ranks are written 1 to total: a short partition is the end.
                break;
            }
            wanted -= here;
            next = bucket_end + 1;
        }
        Ok(found)
    }

    async fn archived_entry(
        &self,
        period: &str,
        user_id: Uuid,
    ) -> StoreResult<Option<ArchivedEntry>> {
        let result = self
            .session
            .execute_unpaged(&self.archive.by_user, (period, user_id))
            .await
            .map_err(unavailable)?;
        result
            .into_rows_result()
            .map_err(internal)?
            .maybe_first_row::<EntryRow>()
            .map_err(internal)?
            .map(|row| row.into_entry(period))
            .transpose()
    }

    async fn forget_archived_learner(&self, period: &str, user_id: Uuid) -> StoreResult<bool> {
        let Some(entry) = self.archived_entry(period, user_id).await? else {
            return Ok(false);
        };
        let bucket = bucket_of(entry.rank) as i32;
        let rank = as_bigint(entry.rank)?;
        let holder: Option<(Option<Uuid>,)> = self
            .one_row(&self.archive.rank_holder, (period, bucket, rank))
            .await?;
        // The rank row first (the learner row is how a retry finds it), written whole
        // under the nil id: the rank keeps its score and time.
        if holder.and_then(|(h,)| h) == Some(user_id) {
            self.run(
                &self.archive.insert_rank,
                (
                    period,
                    bucket,
                    rank,
                    Uuid::nil(),
                    entry.score,
                    entry.reached_at,
                ),
            )
            .await?;
        }
        self.run(&self.archive.delete_by_user, (period, user_id))
            .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_fill_partitions_of_ten_thousand() {
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(10_000), 0);
        assert_eq!(bucket_of(10_001), 1);
        assert_eq!(bucket_of(1_000_000), 99);
    }
}
