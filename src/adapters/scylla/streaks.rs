//! Streak records and the at-risk index on CQL (see docs/data-model.md, Q40 and Q41).
//!
//! A record is one row written only by lightweight transactions (its compare-and-set on
//! `version`) and read at LOCAL_SERIAL before one, so that read sees every write that
//! won; a record only shown is read at LOCAL_QUORUM (no Paxos round), which sees every
//! write whose transaction completed. The index
//! is partitioned by (hour, shard): an hour's checks are 16 small partitions.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use super::connect::ConnectError;
use super::store::{ScyllaStore, internal, lwt_applied, prepare, unavailable};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{
    StoreResult, StreakCheck, StreakRecord, StreakStore, VersionedStreak,
};

/// Shards of one hour of checks.
const SHARDS: i32 = 16;
/// How long a check row outlives its due time (the checker looks back 6 hours).
const CHECK_TTL_AFTER_DUE_SECS: i64 = 24 * 3600;

pub(super) struct StreakStatements {
    read: PreparedStatement,
    read_to_show: PreparedStatement,
    insert: PreparedStatement,
    update: PreparedStatement,
    delete: PreparedStatement,
    schedule: PreparedStatement,
    unschedule: PreparedStatement,
    in_hour: PreparedStatement,
}

impl StreakStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        // One statement, two consistencies: LOCAL_QUORUM (the driver's default) to show,
        // LOCAL_SERIAL before a compare-and-set.
        let read_to_show = prepare(format!(
            "SELECT version, record FROM {ks}.streaks WHERE user_id = ?"
        ))
        .await?;
        let mut read = read_to_show.clone();
        read.set_consistency(Consistency::LocalSerial);
        Ok(StreakStatements {
            read,
            read_to_show,
            insert: prepare(format!(
                "INSERT INTO {ks}.streaks (user_id, version, record) VALUES (?, 1, ?) IF NOT EXISTS"
            ))
            .await?,
            update: prepare(format!(
                "UPDATE {ks}.streaks SET version = ?, record = ? WHERE user_id = ? IF version = ?"
            ))
            .await?,
            delete: prepare(format!(
                "DELETE FROM {ks}.streaks WHERE user_id = ? IF EXISTS"
            ))
            .await?,
            schedule: prepare(format!(
                "INSERT INTO {ks}.streak_checks (hour, shard, due_at, user_id, local_date) \
                 VALUES (?, ?, ?, ?, ?) USING TTL ?"
            ))
            .await?,
            unschedule: prepare(format!(
                "DELETE FROM {ks}.streak_checks WHERE hour = ? AND shard = ? AND due_at = ? AND user_id = ?"
            ))
            .await?,
            in_hour: prepare(format!(
                "SELECT due_at, user_id, local_date FROM {ks}.streak_checks \
                 WHERE hour = ? AND shard = ? AND due_at <= ? LIMIT ?"
            ))
            .await?,
        })
    }
}

fn shard(user_id: Uuid) -> i32 {
    (user_id.as_u128() % SHARDS as u128) as i32
}

fn limit(limit: usize) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX)
}

impl ScyllaStore {
    /// The record read with `statement` (at LOCAL_SERIAL or at LOCAL_QUORUM).
    async fn streak_with(
        &self,
        statement: &PreparedStatement,
        user_id: Uuid,
    ) -> StoreResult<Option<VersionedStreak>> {
        let row: Option<(Option<i64>, Option<String>)> =
            self.one_row(statement, (user_id,)).await?;
        match row {
            Some((Some(version), Some(record))) => Ok(Some(VersionedStreak {
                record: serde_json::from_str(&record)
                    .map_err(|e| internal(format!("corrupt streak record: {e}")))?,
                version,
            })),
            _ => Ok(None),
        }
    }
}

#[async_trait]
impl StreakStore for ScyllaStore {
    async fn streak(&self, user_id: Uuid) -> StoreResult<Option<VersionedStreak>> {
        self.streak_with(&self.streaks.read, user_id).await
    }

    async fn streak_to_show(&self, user_id: Uuid) -> StoreResult<Option<VersionedStreak>> {
        self.streak_with(&self.streaks.read_to_show, user_id).await
    }

    async fn put_streak(
        &self,
        user_id: Uuid,
        record: &StreakRecord,
        expected: Option<i64>,
    ) -> StoreResult<bool> {
        let text = serde_json::to_string(record).map_err(internal)?;
        let result = match expected {
            None => self
                .session
                .execute_unpaged(&self.streaks.insert, (user_id, &text))
                .await
                .map_err(unavailable)?,
            Some(version) => self
                .session
                .execute_unpaged(&self.streaks.update, (version + 1, &text, user_id, version))
                .await
                .map_err(unavailable)?,
        };
        lwt_applied(result)
    }

    async fn schedule_streak_check(&self, check: &StreakCheck) -> StoreResult<()> {
        let ttl = (check.due_at - Utc::now()).num_seconds().max(0) + CHECK_TTL_AFTER_DUE_SECS;
        let ttl = i32::try_from(ttl).unwrap_or(i32::MAX);
        self.run(
            &self.streaks.schedule,
            (
                check.hour(),
                shard(check.user_id),
                check.due_at,
                check.user_id,
                check.local_date,
                ttl,
            ),
        )
        .await
    }

    async fn unschedule_streak_check(&self, check: &StreakCheck) -> StoreResult<()> {
        self.run(
            &self.streaks.unschedule,
            (
                check.hour(),
                shard(check.user_id),
                check.due_at,
                check.user_id,
            ),
        )
        .await
    }

    async fn streak_checks_due(
        &self,
        hour: i64,
        due_by: DateTime<Utc>,
        limit_to: usize,
    ) -> StoreResult<Vec<StreakCheck>> {
        let mut checks = Vec::new();
        for shard in 0..SHARDS {
            let left = limit_to.saturating_sub(checks.len());
            if left == 0 {
                break;
            }
            let rows: Vec<(DateTime<Utc>, Uuid, NaiveDate)> = self
                .rows(&self.streaks.in_hour, (hour, shard, due_by, limit(left)))
                .await?;
            checks.extend(
                rows.into_iter()
                    .map(|(due_at, user_id, local_date)| StreakCheck {
                        user_id,
                        due_at,
                        local_date,
                    }),
            );
        }
        Ok(checks)
    }

    async fn delete_streak(&self, user_id: Uuid) -> StoreResult<bool> {
        let result = self
            .session
            .execute_unpaged(&self.streaks.delete, (user_id,))
            .await
            .map_err(unavailable)?;
        lwt_applied(result)
    }
}
