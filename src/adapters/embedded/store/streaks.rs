//! Streak records and the at-risk index. A record's compare-and-set is one write
//! transaction (redb runs them one at a time), so of racing writers exactly one finds
//! the version it read.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{STREAK_CHECKS, STREAKS};
use super::txn::{Txn, encode, get_json, internal, read_json};
use questpath_actors::ports::store::{
    StoreResult, StreakCheck, StreakRecord, StreakStore, VersionedStreak,
};

/// What the `streaks` table holds per learner.
#[derive(Serialize, Deserialize)]
struct Stored {
    version: i64,
    record: StreakRecord,
}

fn check_key(check: &StreakCheck) -> (i64, i64, u128) {
    (
        check.hour(),
        check.due_at.timestamp_millis(),
        check.user_id.as_u128(),
    )
}

#[async_trait]
impl StreakStore for EmbeddedStore {
    async fn streak(&self, user_id: Uuid) -> StoreResult<Option<VersionedStreak>> {
        self.read(move |tx| {
            let stored: Option<Stored> = read_json(tx, STREAKS, user_id.as_u128(), "streak")?;
            Ok(stored.map(|s| VersionedStreak {
                record: s.record,
                version: s.version,
            }))
        })
        .await
    }

    /// One transaction sees every committed write: the same read.
    async fn streak_to_show(&self, user_id: Uuid) -> StoreResult<Option<VersionedStreak>> {
        self.streak(user_id).await
    }

    async fn put_streak(
        &self,
        user_id: Uuid,
        record: &StreakRecord,
        expected: Option<i64>,
    ) -> StoreResult<bool> {
        let record = record.clone();
        self.write_or_abort(move |tx| {
            let mut table = tx.open_table(STREAKS).map_err(internal)?;
            let current: Option<Stored> = get_json(&table, user_id.as_u128(), "streak")?;
            if current.map(|s| s.version) != expected {
                return Ok(Txn::Abort(false));
            }
            let bytes = encode(&Stored {
                version: expected.unwrap_or(0) + 1,
                record,
            })?;
            table
                .insert(user_id.as_u128(), bytes.as_slice())
                .map_err(internal)?;
            Ok(Txn::Commit(true))
        })
        .await
    }

    async fn schedule_streak_check(&self, check: &StreakCheck) -> StoreResult<()> {
        let key = check_key(check);
        let date = check.local_date.to_string();
        self.write(move |tx| {
            tx.open_table(STREAK_CHECKS)
                .map_err(internal)?
                .insert(key, date.as_str())
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn unschedule_streak_check(&self, check: &StreakCheck) -> StoreResult<()> {
        let key = check_key(check);
        self.write(move |tx| {
            tx.open_table(STREAK_CHECKS)
                .map_err(internal)?
                .remove(key)
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn streak_checks_due(
        &self,
        hour: i64,
        due_by: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<StreakCheck>> {
        let due_ms = due_by.timestamp_millis();
        self.scan(move |tx| {
            let table = tx.open_table(STREAK_CHECKS).map_err(internal)?;
            let mut checks = Vec::new();
            let range = table
                .range((hour, i64::MIN, 0u128)..=(hour, due_ms, u128::MAX))
                .map_err(internal)?;
            for item in range.take(limit) {
                let (key, date) = item.map_err(internal)?;
                let (_, due_ms, user) = key.value();
                let due_at = DateTime::<Utc>::from_timestamp_millis(due_ms)
                    .ok_or_else(|| internal(format!("corrupt streak check time {due_ms}")))?;
                let local_date: NaiveDate = date
                    .value()
                    .parse()
                    .map_err(|e| internal(format!("corrupt streak check date: {e}")))?;
                checks.push(StreakCheck {
                    user_id: Uuid::from_u128(user),
                    due_at,
                    local_date,
                });
            }
            Ok(checks)
        })
        .await
    }

    async fn delete_streak(&self, user_id: Uuid) -> StoreResult<bool> {
        self.write(move |tx| {
            let removed = tx
                .open_table(STREAKS)
                .map_err(internal)?
                .remove(user_id.as_u128())
                .map_err(internal)?
                .is_some();
            Ok(removed)
        })
        .await
    }
}
