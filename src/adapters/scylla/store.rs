//! The store on ScyllaDB (or Cassandra): prepared statements built once at connect.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::errors::ExecutionError;
use scylla::response::query_result::QueryResult;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlValue;
use uuid::Uuid;

use super::schema::check_version;
use super::session::{ConnectError, open, unreachable};
use crate::config::ScyllaSettings;
use crate::ports::store::{NewUser, Store, StoreError, StoreResult, User, email_key};

/// Statements prepared once per session.
struct Statements {
    ping: PreparedStatement,
    insert_user: PreparedStatement,
    user_by_id: PreparedStatement,
    claim_email: PreparedStatement,
    release_email: PreparedStatement,
    email_owner: PreparedStatement,
}

/// The CQL store.
pub struct ScyllaStore {
    session: Session,
    statements: Statements,
}

#[derive(DeserializeRow)]
struct UserRow {
    user_id: Uuid,
    email: Option<String>,
    display_name: Option<String>,
    picture: Option<String>,
    total_xp: Option<i64>,
    created_at: Option<DateTime<Utc>>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.user_id,
            email: r.email.unwrap_or_default(),
            display_name: r.display_name,
            picture: r.picture,
            total_xp: r.total_xp.unwrap_or(0),
            created_at: r.created_at.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        }
    }
}

const USER_COLUMNS: &str = "user_id, email, display_name, picture, total_xp, created_at";

impl ScyllaStore {
    /// Connects, checks that the keyspace's schema is current, and prepares statements.
    pub async fn connect(settings: &ScyllaSettings) -> Result<Self, ConnectError> {
        let session = open(settings).await?;
        check_version(&session, settings).await?;
        let ks = &settings.keyspace;
        let prepare = |cql: String| {
            let session = &session;
            async move {
                session
                    .prepare(cql.as_str())
                    .await
                    .map_err(|e| unreachable(settings, format!("prepare {cql}: {e}")))
            }
        };
        let statements = Statements {
            ping: prepare("SELECT release_version FROM system.local WHERE key = 'local'".into())
                .await?,
            insert_user: prepare(format!(
                "INSERT INTO {ks}.users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            user_by_id: prepare(format!(
                "SELECT {USER_COLUMNS} FROM {ks}.users WHERE user_id = ?"
            ))
            .await?,
            claim_email: prepare(format!(
                "INSERT INTO {ks}.users_by_email (email, user_id) VALUES (?, ?) IF NOT EXISTS"
            ))
            .await?,
            release_email: prepare(format!(
                "DELETE FROM {ks}.users_by_email WHERE email = ? IF user_id = ?"
            ))
            .await?,
            email_owner: prepare(format!(
                "SELECT user_id FROM {ks}.users_by_email WHERE email = ?"
            ))
            .await?,
        };
        Ok(ScyllaStore {
            session,
            statements,
        })
    }

    async fn user_row(&self, id: Uuid) -> StoreResult<Option<User>> {
        let result = self
            .session
            .execute_unpaged(&self.statements.user_by_id, (id,))
            .await
            .map_err(unavailable)?;
        let row = result
            .into_rows_result()
            .map_err(internal)?
            .maybe_first_row::<UserRow>()
            .map_err(internal)?;
        Ok(row.map(User::from))
    }
}

fn unavailable(e: ExecutionError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// Reads the `[applied]` column of a lightweight transaction's result by name: ScyllaDB
/// always returns it with the old row, Cassandra returns it alone when applied.
fn lwt_applied(result: QueryResult) -> StoreResult<bool> {
    let rows = result.into_rows_result().map_err(internal)?;
    let index = rows
        .column_specs()
        .iter()
        .position(|c| c.name() == "[applied]")
        .ok_or_else(|| internal("LWT result has no [applied] column"))?;
    let row = rows
        .maybe_first_row::<scylla::value::Row>()
        .map_err(internal)?
        .ok_or_else(|| internal("LWT returned no row"))?;
    match row.columns.get(index) {
        Some(Some(CqlValue::Boolean(applied))) => Ok(*applied),
        other => Err(internal(format!("unexpected [applied] value {other:?}"))),
    }
}

#[async_trait]
impl Store for ScyllaStore {
    fn backend(&self) -> &'static str {
        "scylla"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.session
            .execute_unpaged(&self.statements.ping, ())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let user = User {
            id: new.id,
            email: email_key(&new.email),
            display_name: new.display_name,
            picture: new.picture,
            total_xp: 0,
            created_at: new.created_at,
        };
        let claimed = self
            .session
            .execute_unpaged(&self.statements.claim_email, (&user.email, user.id))
            .await
            .map_err(unavailable)?;
        if !lwt_applied(claimed)? {
            return Err(StoreError::Conflict { what: "email" });
        }
        let insert = self
            .session
            .execute_unpaged(
                &self.statements.insert_user,
                (
                    user.id,
                    &user.email,
                    &user.display_name,
                    &user.picture,
                    user.total_xp,
                    user.created_at,
                ),
            )
            .await;
        if let Err(e) = insert {
            // Give the email back so a retry can succeed; only if it is still ours.
            if let Err(release) = self
                .session
                .execute_unpaged(&self.statements.release_email, (&user.email, user.id))
                .await
            {
                tracing::error!(user_id = %user.id, error = %release, "could not release email after failed user insert");
            }
            return Err(unavailable(e));
        }
        Ok(user)
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.user_row(id).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let result = self
            .session
            .execute_unpaged(&self.statements.email_owner, (email_key(email),))
            .await
            .map_err(unavailable)?;
        let owner = result
            .into_rows_result()
            .map_err(internal)?
            .maybe_first_row::<(Option<Uuid>,)>()
            .map_err(internal)?
            .and_then(|(id,)| id);
        match owner {
            // A claimed email whose user row is missing (a create that failed half-way)
            // is no account.
            Some(id) => self.user_row(id).await,
            None => Ok(None),
        }
    }
}
