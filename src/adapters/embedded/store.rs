//! The embedded store: redb, one ACID file in the data folder.
//!
//! redb's API is synchronous; every call runs on tokio's blocking pool so it never
//! stalls an async worker. Each port method is one transaction, which is what makes
//! the uniqueness checks race-free: redb allows one write transaction at a time.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use uuid::Uuid;

use crate::ports::store::{email_key, NewUser, Store, StoreError, StoreResult, User};

/// users: user id -> JSON `User`.
const USERS: TableDefinition<u128, &[u8]> = TableDefinition::new("users");
/// users_by_email: normalised email -> user id.
const USERS_BY_EMAIL: TableDefinition<&str, u128> = TableDefinition::new("users_by_email");

/// File name of the database inside the data folder.
pub const FILE_NAME: &str = "questpath.redb";

/// A redb database shared by all handlers.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

impl EmbeddedStore {
    /// Opens (or creates) `questpath.redb` in `dir`, creating the folder and tables.
    pub async fn open(dir: &Path) -> StoreResult<Self> {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create data folder {}: {e}", dir.display()))
            })?;
            let path = dir.join(FILE_NAME);
            let db = Database::create(&path).map_err(|e| {
                StoreError::Unavailable(format!("cannot open {}: {e}", path.display()))
            })?;
            let tx = db.begin_write().map_err(internal)?;
            tx.open_table(USERS).map_err(internal)?;
            tx.open_table(USERS_BY_EMAIL).map_err(internal)?;
            tx.commit().map_err(internal)?;
            Ok(EmbeddedStore { db: Arc::new(db) })
        })
        .await
        .map_err(internal)?
    }

    /// Runs `f` with the database on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(internal)?
    }
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

fn decode_user(bytes: &[u8]) -> StoreResult<User> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Internal(format!("corrupt user record: {e}")))
}

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(internal)
}

fn read_user(tx: &redb::ReadTransaction, id: u128) -> StoreResult<Option<User>> {
    let users = tx.open_table(USERS).map_err(internal)?;
    match users.get(id).map_err(internal)? {
        Some(bytes) => decode_user(bytes.value()).map(Some),
        None => Ok(None),
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.blocking(|db| {
            let tx = db.begin_read().map_err(internal)?;
            tx.open_table(USERS).map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        self.blocking(move |db| {
            let user = User {
                id: new.id,
                email: email_key(&new.email),
                display_name: new.display_name,
                picture: new.picture,
                total_xp: 0,
                created_at: new.created_at,
            };
            let bytes = encode(&user)?;
            let tx = db.begin_write().map_err(internal)?;
            {
                let mut by_email = tx.open_table(USERS_BY_EMAIL).map_err(internal)?;
                if by_email.get(user.email.as_str()).map_err(internal)?.is_some() {
                    return Err(StoreError::Conflict { what: "email" });
                }
                let mut users = tx.open_table(USERS).map_err(internal)?;
                if users.get(user.id.as_u128()).map_err(internal)?.is_some() {
                    return Err(StoreError::Conflict { what: "user id" });
                }
                by_email
                    .insert(user.email.as_str(), user.id.as_u128())
                    .map_err(internal)?;
                users
                    .insert(user.id.as_u128(), bytes.as_slice())
                    .map_err(internal)?;
            }
            tx.commit().map_err(internal)?;
            Ok(user)
        })
        .await
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.blocking(move |db| read_user(&db.begin_read().map_err(internal)?, id.as_u128()))
            .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let key = email_key(email);
        self.blocking(move |db| {
            // One read transaction: a consistent snapshot of both tables.
            let tx = db.begin_read().map_err(internal)?;
            let by_email = tx.open_table(USERS_BY_EMAIL).map_err(internal)?;
            let id = match by_email.get(key.as_str()).map_err(internal)? {
                Some(id) => id.value(),
                None => return Ok(None),
            };
            read_user(&tx, id)
        })
        .await
    }
}
