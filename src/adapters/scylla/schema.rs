//! `schema.cql`, its version, and `questpath migrate`.

use chrono::Utc;
use futures_util::StreamExt;
use scylla::client::session::Session;
use uuid::Uuid;

use super::connect::{ConnectError, open, unreachable};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::signed_in_players;

/// The schema file, compiled into the binary so `migrate` needs no other file.
pub const SCHEMA_CQL: &str = include_str!("../../../schema.cql");

/// The version `schema.cql` declares in its `-- schema_version: N` line.
pub const SCHEMA_VERSION: i32 = parse_version(SCHEMA_CQL);

const COMPONENT: &str = "questpath";

/// Reads the `-- schema_version: N` marker at compile time.
const fn parse_version(text: &str) -> i32 {
    let bytes = text.as_bytes();
    let marker = b"-- schema_version: ";
    let mut i = 0;
    while i + marker.len() < bytes.len() {
        let mut j = 0;
        while j < marker.len() && bytes[i + j] == marker[j] {
            j += 1;
        }
        if j == marker.len() {
            let mut k = i + j;
            let mut version = 0i32;
            while k < bytes.len() && bytes[k].is_ascii_digit() {
                version = version * 10 + (bytes[k] - b'0') as i32;
                k += 1;
            }
            return version;
        }
        i += 1;
    }
    panic!("schema.cql has no `-- schema_version: N` line")
}

/// The statements of `schema.cql` for one keyspace, in order.
pub fn statements(settings: &ScyllaSettings) -> Vec<String> {
    let without_comments: String = SCHEMA_CQL
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.replace("{keyspace}", &settings.keyspace)
                .replace("{replication}", &settings.replication.to_cql())
        })
        .collect()
}

/// Why `migrate` failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("statement failed: {statement}: {message}")]
    Statement { statement: String, message: String },
}

/// Applies every statement of `schema.cql` and records its version. Safe to run again
/// and from several machines at once: every statement is `IF NOT EXISTS`. A keyspace
/// from before version 7 gets its new indexes filled from the tables they index
/// ([`backfill_v7`]) before the version is recorded, so a failed run is run again whole.
pub async fn migrate(settings: &ScyllaSettings) -> Result<i32, MigrateError> {
    let session = open(settings).await?;
    let before = recorded_version(&session, settings).await;
    for statement in statements(settings) {
        session
            .query_unpaged(statement.as_str(), ())
            .await
            .map_err(|e| MigrateError::Statement {
                statement: first_line(&statement),
                message: e.to_string(),
            })?;
        // Each DDL must be known to every node before the next one refers to it.
        session
            .await_schema_agreement()
            .await
            .map_err(|e| MigrateError::Statement {
                statement: first_line(&statement),
                message: format!("schema agreement: {e}"),
            })?;
    }
    if before.is_some_and(|v| v < 7) {
        backfill_v7(&session, &settings.keyspace).await?;
    }
    let record = format!(
        "INSERT INTO {}.schema_version (component, version, applied_at) VALUES (?, ?, ?)",
        settings.keyspace
    );
    session
        .query_unpaged(record.as_str(), (COMPONENT, SCHEMA_VERSION, Utc::now()))
        .await
        .map_err(|e| MigrateError::Statement {
            statement: "record schema version".into(),
            message: e.to_string(),
        })?;
    Ok(SCHEMA_VERSION)
}

/// The version recorded in the keyspace, if it has one (none: a new keyspace).
async fn recorded_version(session: &Session, settings: &ScyllaSettings) -> Option<i32> {
    let query = format!(
        "SELECT version FROM {}.schema_version WHERE component = ?",
        settings.keyspace
    );
    session
        .query_unpaged(query.as_str(), (COMPONENT,))
        .await
        .ok()?
        .into_rows_result()
        .ok()?
        .maybe_first_row::<(Option<i32>,)>()
        .ok()?
        .and_then(|(v,)| v)
}

/// Fills the indexes schema version 7 added from the tables they index: a user's Google
/// links, a user's generation jobs, the rooms each learner played. Reads each table
/// whole, a page at a time (once, on the upgrade); the writes are upserts, so running
/// it again is harmless.
pub async fn backfill_v7(session: &Session, keyspace: &str) -> Result<(), MigrateError> {
    let links =
        format!("INSERT INTO {keyspace}.google_links_by_user (user_id, google_sub) VALUES (?, ?)");
    let mut rows = session
        .query_iter(
            format!("SELECT google_sub, user_id FROM {keyspace}.users_by_google"),
            (),
        )
        .await
        .map_err(|e| backfill_failed("google links", e))?
        .rows_stream::<(String, Option<Uuid>)>()
        .map_err(|e| backfill_failed("google links", e))?;
    while let Some(row) = rows.next().await {
        let (sub, user) = row.map_err(|e| backfill_failed("google links", e))?;
        if let Some(user) = user {
            session
                .query_unpaged(links.as_str(), (user, sub))
                .await
                .map_err(|e| backfill_failed("google links", e))?;
        }
    }
    let jobs =
        format!("INSERT INTO {keyspace}.generation_jobs_by_user (user_id, job_id) VALUES (?, ?)");
    let mut rows = session
        .query_iter(
            format!("SELECT job_id, user_id FROM {keyspace}.generation_jobs"),
            (),
        )
        .await
        .map_err(|e| backfill_failed("generation jobs", e))?
        .rows_stream::<(Uuid, Option<Uuid>)>()
        .map_err(|e| backfill_failed("generation jobs", e))?;
    while let Some(row) = rows.next().await {
        let (job, user) = row.map_err(|e| backfill_failed("generation jobs", e))?;
        if let Some(user) = user {
            session
                .query_unpaged(jobs.as_str(), (user, job))
                .await
                .map_err(|e| backfill_failed("generation jobs", e))?;
        }
    }
    let players =
        format!("INSERT INTO {keyspace}.room_results_by_player (user_id, room_id) VALUES (?, ?)");
    let mut rows = session
        .query_iter(
            format!("SELECT room_id, results FROM {keyspace}.room_results"),
            (),
        )
        .await
        .map_err(|e| backfill_failed("room players", e))?
        .rows_stream::<(Uuid, Option<String>)>()
        .map_err(|e| backfill_failed("room players", e))?;
    while let Some(row) = rows.next().await {
        let (room, document) = row.map_err(|e| backfill_failed("room players", e))?;
        let Some(document) = document.and_then(|d| serde_json::from_str(&d).ok()) else {
            continue;
        };
        for player in signed_in_players(&document) {
            session
                .query_unpaged(players.as_str(), (player, room))
                .await
                .map_err(|e| backfill_failed("room players", e))?;
        }
    }
    Ok(())
}

fn backfill_failed(what: &str, e: impl std::fmt::Display) -> MigrateError {
    MigrateError::Statement {
        statement: format!("backfill {what}"),
        message: e.to_string(),
    }
}

/// Refuses a keyspace that is missing or older than this binary's schema.
pub async fn check_version(
    session: &Session,
    settings: &ScyllaSettings,
) -> Result<(), ConnectError> {
    let run_migrate = "run `questpath migrate` with the same QUESTPATH_SCYLLA_* settings";
    let query = format!(
        "SELECT version FROM {}.schema_version WHERE component = ?",
        settings.keyspace
    );
    // Ask the schema tables first, so a missing keyspace is told apart from a dead node.
    let exists = session
        .query_unpaged(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = 'schema_version'",
            (settings.keyspace.as_str(),),
        )
        .await
        .map_err(|e| unreachable(settings, e))?
        .into_rows_result()
        .map_err(|e| unreachable(settings, e))?
        .rows_num()
        > 0;
    if !exists {
        return Err(ConnectError::Schema(format!(
            "keyspace {} has no QuestPath schema: {run_migrate}",
            settings.keyspace
        )));
    }
    let result = session
        .query_unpaged(query.as_str(), (COMPONENT,))
        .await
        .map_err(|e| unreachable(settings, e))?;
    let found: Option<i32> = result
        .into_rows_result()
        .map_err(|e| unreachable(settings, e))?
        .maybe_first_row::<(Option<i32>,)>()
        .map_err(|e| unreachable(settings, e))?
        .and_then(|(v,)| v);
    match found {
        Some(v) if v >= SCHEMA_VERSION => Ok(()),
        Some(v) => Err(ConnectError::Schema(format!(
            "keyspace {} has schema version {v}, older than this binary's {SCHEMA_VERSION}: {run_migrate}",
            settings.keyspace
        ))),
        None => Err(ConnectError::Schema(format!(
            "keyspace {} has no recorded schema version: {run_migrate}",
            settings.keyspace
        ))),
    }
}

fn first_line(statement: &str) -> String {
    statement.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Replication;

    fn settings() -> ScyllaSettings {
        ScyllaSettings {
            nodes: vec!["127.0.0.1:9042".into()],
            keyspace: "qp_test".into(),
            replication: Replication::Simple(1),
            username: None,
            password: None,
        }
    }

    #[test]
    fn version_marker_is_read() {
        assert_eq!(parse_version("-- x\n-- schema_version: 42\nCREATE"), 42);
        const { assert!(SCHEMA_VERSION >= 1) };
    }

    #[test]
    fn statements_are_substituted_and_idempotent() {
        let statements = statements(&settings());
        assert!(statements[0].starts_with("CREATE KEYSPACE IF NOT EXISTS qp_test"));
        assert!(statements[0].contains("'SimpleStrategy'"));
        for s in &statements {
            assert!(
                !s.contains('{') || s.contains("replication"),
                "unsubstituted: {s}"
            );
            assert!(s.contains("IF NOT EXISTS"), "not idempotent: {s}");
            assert!(!s.to_uppercase().contains("ALLOW FILTERING"));
        }
        assert!(
            statements
                .iter()
                .any(|s| s.contains("qp_test.schema_version"))
        );
    }
}
