//! The store on ScyllaDB (or Cassandra): prepared statements built once at connect.
//! Each aggregate implements its port trait in its own file: users, credentials and
//! Google links in `users.rs`; refresh tokens and sign-in failures in `sessions.rs`;
//! generation jobs in `jobs.rs`; goals, levels and questions in `goals/`; the XP ledger
//! (and the users' `total_xp`) in `xp.rs`; the archive of past weekly boards in
//! `archive.rs`; multiplayer room results in `room_results.rs`; saved quizzes in
//! `quizzes.rs`; learners' notifications in `notifications.rs`; streak records and the
//! at-risk index in `streaks.rs`; email settings and tokens in `mail.rs`. This file holds
//! the connection and the helpers they share.
use async_trait::async_trait;
use futures_util::TryStreamExt;
use scylla::client::session::Session;
use scylla::deserialize::row::DeserializeRow;
use scylla::errors::ExecutionError;
use scylla::response::query_result::QueryResult;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::archive::ArchiveStatements;
use super::connect::{ConnectError, open, unreachable};
use super::goals::{GoalStatements, LevelStatements};
use super::jobs::JobStatements;
use super::leagues::LeagueStatements;
use super::mail::MailStatements;
use super::notifications::NotificationStatements;
use super::quizzes::QuizStatements;
use super::room_results::RoomResultStatements;
use super::schema::check_version;
use super::sessions::{FailureStatements, SessionStatements};
use super::streaks::StreakStatements;
use super::users::UserStatements;
use super::xp::XpStatements;
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{StoreBackend, StoreError, StoreResult};

/// The CQL store: the session and every aggregate's prepared statements.
pub struct ScyllaStore {
    pub(super) session: Session,
    ping: PreparedStatement,
    pub(super) users: UserStatements,
    pub(super) sessions: SessionStatements,
    pub(super) login_failures: FailureStatements,
    pub(super) jobs: JobStatements,
    pub(super) goals: GoalStatements,
    pub(super) levels: LevelStatements,
    pub(super) xp: XpStatements,
    pub(super) archive: ArchiveStatements,
    pub(super) room_results: RoomResultStatements,
    pub(super) quizzes: QuizStatements,
    pub(super) notifications: NotificationStatements,
    /// Boxed, as is its preparation: the connect future, which holds every aggregate's
    /// statements while it builds them, would otherwise outgrow a test thread's stack.
    pub(super) leagues: Box<LeagueStatements>,
    pub(super) streaks: StreakStatements,
    pub(super) mail: MailStatements,
    /// Where each level was last found (its goal and position).
    pub(super) level_places: super::goals::LevelPlaces,
}

impl ScyllaStore {
    /// Connects, checks that the keyspace's schema is current, and prepares statements.
    pub async fn connect(settings: &ScyllaSettings) -> Result<Self, ConnectError> {
        // On the heap: the statements held while the next ones are prepared make a
        // future too large for a test thread's stack in a debug build.
        Box::pin(Self::prepare_all(settings)).await
    }

    async fn prepare_all(settings: &ScyllaSettings) -> Result<Self, ConnectError> {
        let session = open(settings).await?;
        check_version(&session, settings).await?;
        let ping = prepare(
            &session,
            settings,
            "SELECT release_version FROM system.local WHERE key = 'local'".into(),
        )
        .await?;
        Ok(ScyllaStore {
            ping,
            users: UserStatements::prepare(&session, settings).await?,
            sessions: SessionStatements::prepare(&session, settings).await?,
            login_failures: FailureStatements::prepare(&session, settings).await?,
            jobs: JobStatements::prepare(&session, settings).await?,
            goals: GoalStatements::prepare(&session, settings).await?,
            levels: LevelStatements::prepare(&session, settings).await?,
            xp: XpStatements::prepare(&session, settings).await?,
            archive: ArchiveStatements::prepare(&session, settings).await?,
            room_results: RoomResultStatements::prepare(&session, settings).await?,
            quizzes: QuizStatements::prepare(&session, settings).await?,
            notifications: NotificationStatements::prepare(&session, settings).await?,
            leagues: Box::pin(LeagueStatements::prepare(&session, settings)).await?,
            streaks: StreakStatements::prepare(&session, settings).await?,
            mail: MailStatements::prepare(&session, settings).await?,
            level_places: super::goals::LevelPlaces::new(),
            session,
        })
    }

    /// Runs a write (or any statement whose result is not read).
    pub(super) async fn run(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> StoreResult<()> {
        self.session
            .execute_unpaged(statement, values)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Runs a statement and returns its only row, if any.
    pub(super) async fn one_row<R>(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> StoreResult<Option<R>>
    where
        R: for<'f, 'm> DeserializeRow<'f, 'm>,
    {
        self.session
            .execute_unpaged(statement, values)
            .await
            .map_err(unavailable)?
            .into_rows_result()
            .map_err(internal)?
            .maybe_first_row::<R>()
            .map_err(internal)
    }

    /// Runs a read of a bounded slice (at most a page of goals, 8 levels or 30
    /// questions, ...), unpaged.
    pub(super) async fn rows<R>(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> StoreResult<Vec<R>>
    where
        R: for<'f, 'm> DeserializeRow<'f, 'm>,
    {
        self.session
            .execute_unpaged(statement, values)
            .await
            .map_err(unavailable)?
            .into_rows_result()
            .map_err(internal)?
            .rows::<R>()
            .map_err(internal)?
            .collect::<Result<Vec<R>, _>>()
            .map_err(internal)
    }

    /// Every row of a paged query, read as `R`, one page at a time.
    pub(super) async fn all_rows<R>(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> StoreResult<Vec<R>>
    where
        R: for<'f, 'm> DeserializeRow<'f, 'm>,
    {
        self.session
            .execute_iter(statement.clone(), values)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .rows_stream::<R>()
            .map_err(internal)?
            .try_collect()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

#[async_trait]
impl StoreBackend for ScyllaStore {
    fn backend(&self) -> &'static str {
        "scylla"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.run(&self.ping, ()).await
    }
}

/// Prepares one statement; a failure is reported like an unreachable cluster, since
/// start-up cannot go on either way.
///
/// Every statement but a conditional one is marked idempotent, so the driver sends it
/// again to another replica when its node's connection breaks before an answer (a node
/// stopping): reads and plain writes of given values (no counters, no list appends in
/// the schema) give the same result twice. A lightweight transaction is not: run twice,
/// the second run reports "not applied" for what the first did.
pub(super) async fn prepare(
    session: &Session,
    settings: &ScyllaSettings,
    cql: String,
) -> Result<PreparedStatement, ConnectError> {
    let mut statement = session
        .prepare(cql.as_str())
        .await
        .map_err(|e| unreachable(settings, format!("prepare {cql}: {e}")))?;
    statement.set_is_idempotent(!is_conditional(&cql));
    Ok(statement)
}

/// Whether `cql` is a lightweight transaction (`IF NOT EXISTS`, `IF EXISTS`, `IF col = ?`).
fn is_conditional(cql: &str) -> bool {
    cql.split_whitespace().any(|word| word == "IF")
}

/// A batch marked idempotent: every batch of this store writes given values without
/// conditions (see [`prepare`]).
pub(super) fn idempotent_batch(kind: BatchType) -> Batch {
    let mut batch = Batch::new(kind);
    batch.set_is_idempotent(true);
    batch
}

pub(super) fn unavailable(e: ExecutionError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(super) fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

// ---- conversions ----

/// The serde name of a unit enum variant (`"in_progress"`), as stored in a text column.
pub(super) fn to_text<T: Serialize>(value: &T) -> StoreResult<String> {
    match serde_json::to_value(value).map_err(internal)? {
        serde_json::Value::String(text) => Ok(text),
        other => Err(internal(format!("{other} is not stored as text"))),
    }
}

pub(super) fn from_text<T: DeserializeOwned>(text: String, what: &str) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(text))
        .map_err(|e| StoreError::Internal(format!("corrupt {what}: {e}")))
}

/// A count or position as a CQL `int`; one beyond `i32::MAX` is a caller's bug.
pub(super) fn to_int(value: u32, what: &str) -> StoreResult<i32> {
    i32::try_from(value).map_err(|_| internal(format!("{what} {value} does not fit a CQL int")))
}

pub(super) fn from_int(value: i32, what: &str) -> StoreResult<u32> {
    u32::try_from(value).map_err(|_| internal(format!("corrupt {what}: {value}")))
}

// ---- lightweight transactions ----

/// The result of a lightweight transaction, its columns looked up by name: ScyllaDB
/// always returns `[applied]` with the old row, Cassandra returns `[applied]` alone
/// when applied and with the current values when not, so no position can be assumed.
pub(super) struct LwtOutcome {
    pub(super) applied: bool,
    names: Vec<String>,
    row: scylla::value::Row,
}

impl LwtOutcome {
    pub(super) fn read(result: QueryResult) -> StoreResult<Self> {
        let rows = result.into_rows_result().map_err(internal)?;
        let names: Vec<String> = rows
            .column_specs()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let row = rows
            .maybe_first_row::<scylla::value::Row>()
            .map_err(internal)?
            .ok_or_else(|| internal("LWT returned no row"))?;
        let applied = match names
            .iter()
            .position(|n| n == "[applied]")
            .and_then(|i| row.columns.get(i))
        {
            Some(Some(CqlValue::Boolean(applied))) => *applied,
            None => return Err(internal("LWT result has no [applied] column")),
            Some(other) => return Err(internal(format!("unexpected [applied] value {other:?}"))),
        };
        Ok(LwtOutcome {
            applied,
            names,
            row,
        })
    }

    /// A column of the returned row, if the server sent it and it is not null.
    pub(super) fn column(&self, name: &str) -> Option<&CqlValue> {
        let index = self.names.iter().position(|n| n == name)?;
        self.row.columns.get(index)?.as_ref()
    }
}

/// Whether a lightweight transaction applied.
pub(super) fn lwt_applied(result: QueryResult) -> StoreResult<bool> {
    LwtOutcome::read(result).map(|outcome| outcome.applied)
}

#[cfg(test)]
mod tests {
    use super::is_conditional;

    #[test]
    fn only_lightweight_transactions_are_conditional() {
        for cql in [
            "INSERT INTO ks.xp_ledger (a, b) VALUES (?, ?) IF NOT EXISTS",
            "UPDATE ks.users SET total_xp = ? WHERE user_id = ? IF EXISTS",
            "UPDATE ks.streaks SET version = ?, record = ? WHERE user_id = ? IF version = ?",
            "DELETE FROM ks.users_by_email WHERE email = ? IF user_id = ?",
        ] {
            assert!(is_conditional(cql), "{cql}");
        }
        for cql in [
            "SELECT total_xp FROM ks.users WHERE user_id = ?",
            "INSERT INTO ks.refresh_tokens (token_hash, user_id) VALUES (?, ?) USING TTL ?",
            "UPDATE ks.levels SET completed_topics = completed_topics + ? WHERE goal_id = ?",
            "DELETE FROM ks.notifications WHERE user_id = ? AND notification_id = ?",
        ] {
            assert!(!is_conditional(cql), "{cql}");
        }
    }
}
