//! The embedded store: redb, one ACID file in the data folder.
//!
//! redb's API is synchronous; every call runs on tokio's blocking pool so it never
//! stalls an async worker. Each port method is one transaction, which is what makes
//! the uniqueness checks, the single use of refresh tokens and the counting of sign-in
//! failures race-free: redb allows one write transaction at a time.
//!
//! redb has no TTL. Records that expire (refresh families and tokens, sign-in failures)
//! read as absent once past their time, and are deleted when a method meets them, so
//! the file does not grow with dead sessions.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::ports::store::{
    LoginFailures, NewUser, ProfileUpdate, RefreshFamily, RefreshToken, Store, StoreError,
    StoreResult, User, email_key,
};

/// users: user id -> JSON `User`.
const USERS: TableDefinition<u128, &[u8]> = TableDefinition::new("users");
/// users_by_email: normalised email -> user id.
const USERS_BY_EMAIL: TableDefinition<&str, u128> = TableDefinition::new("users_by_email");
/// credentials: user id -> JSON `Credentials`.
const CREDENTIALS: TableDefinition<u128, &[u8]> = TableDefinition::new("credentials");
/// users_by_google: Google `sub` -> user id.
const USERS_BY_GOOGLE: TableDefinition<&str, u128> = TableDefinition::new("users_by_google");
/// refresh_families: family id -> JSON `RefreshFamily`.
const REFRESH_FAMILIES: TableDefinition<u128, &[u8]> = TableDefinition::new("refresh_families");
/// refresh_families_by_user: (user id, family id) -> nothing; the user's families in
/// one key range.
const REFRESH_FAMILIES_BY_USER: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("refresh_families_by_user");
/// refresh_tokens: hex SHA-256 of the token -> JSON `RefreshToken`.
const REFRESH_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("refresh_tokens");
/// login_failures: failure key -> JSON `LoginFailures`.
const LOGIN_FAILURES: TableDefinition<&str, &[u8]> = TableDefinition::new("login_failures");

/// A user's password, kept apart from the profile so reading a user never loads it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Credentials {
    password_hash: String,
    updated_at: DateTime<Utc>,
}

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
            // Every table exists from the start, so read transactions can open them.
            tx.open_table(USERS).map_err(internal)?;
            tx.open_table(USERS_BY_EMAIL).map_err(internal)?;
            tx.open_table(CREDENTIALS).map_err(internal)?;
            tx.open_table(USERS_BY_GOOGLE).map_err(internal)?;
            tx.open_table(REFRESH_FAMILIES).map_err(internal)?;
            tx.open_table(REFRESH_FAMILIES_BY_USER).map_err(internal)?;
            tx.open_table(REFRESH_TOKENS).map_err(internal)?;
            tx.open_table(LOGIN_FAILURES).map_err(internal)?;
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
    decode(bytes, "user")
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> StoreResult<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Internal(format!("corrupt {what} record: {e}")))
}

/// Reads and decodes one JSON value.
fn get_json<'k, K, T>(
    table: &impl ReadableTable<K, &'static [u8]>,
    key: impl std::borrow::Borrow<K::SelfType<'k>>,
    what: &str,
) -> StoreResult<Option<T>>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
{
    match table.get(key).map_err(internal)? {
        Some(bytes) => decode(bytes.value(), what).map(Some),
        None => Ok(None),
    }
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

/// The family if it has not expired; an expired one is deleted with its index entry.
fn live_family(
    tx: &redb::WriteTransaction,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Option<RefreshFamily>> {
    let mut families = tx.open_table(REFRESH_FAMILIES).map_err(internal)?;
    let family: Option<RefreshFamily> = get_json(&families, family_id.as_u128(), "refresh family")?;
    match family {
        Some(f) if f.expires_at <= now => {
            families.remove(family_id.as_u128()).map_err(internal)?;
            tx.open_table(REFRESH_FAMILIES_BY_USER)
                .map_err(internal)?
                .remove((f.user_id.as_u128(), family_id.as_u128()))
                .map_err(internal)?;
            Ok(None)
        }
        other => Ok(other),
    }
}

fn put_family(tx: &redb::WriteTransaction, family: &RefreshFamily) -> StoreResult<()> {
    let bytes = encode(family)?;
    tx.open_table(REFRESH_FAMILIES)
        .map_err(internal)?
        .insert(family.family_id.as_u128(), bytes.as_slice())
        .map_err(internal)?;
    Ok(())
}

/// The token if it has not expired; an expired one is deleted.
fn live_token(
    tx: &redb::WriteTransaction,
    token_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<RefreshToken>> {
    let mut tokens = tx.open_table(REFRESH_TOKENS).map_err(internal)?;
    let token: Option<RefreshToken> = get_json(&tokens, token_hash, "refresh token")?;
    match token {
        Some(t) if t.expires_at <= now => {
            tokens.remove(token_hash).map_err(internal)?;
            Ok(None)
        }
        other => Ok(other),
    }
}

/// The failures of `key` if still current; stale ones are deleted.
fn live_failures(
    tx: &redb::WriteTransaction,
    key: &str,
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> StoreResult<Option<LoginFailures>> {
    let mut table = tx.open_table(LOGIN_FAILURES).map_err(internal)?;
    let failures: Option<LoginFailures> = get_json(&table, key, "login failures")?;
    match failures {
        Some(f) if !f.is_current(now, window) => {
            table.remove(key).map_err(internal)?;
            Ok(None)
        }
        other => Ok(other),
    }
}

/// Runs `prune` in its own write transaction: a read that met an expired record
/// deletes it, re-checking inside the transaction since it may have changed.
fn prune<F>(db: &Database, prune: F) -> StoreResult<()>
where
    F: FnOnce(&redb::WriteTransaction) -> StoreResult<()>,
{
    let tx = db.begin_write().map_err(internal)?;
    prune(&tx)?;
    tx.commit().map_err(internal)
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
                if by_email
                    .get(user.email.as_str())
                    .map_err(internal)?
                    .is_some()
                {
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
    async fn update_profile(&self, id: Uuid, update: ProfileUpdate) -> StoreResult<Option<User>> {
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            let user = {
                let mut users = tx.open_table(USERS).map_err(internal)?;
                let user: Option<User> = get_json(&users, id.as_u128(), "user")?;
                let Some(mut user) = user else {
                    // Dropping the transaction aborts it: nothing is created.
                    return Ok(None);
                };
                if let Some(display_name) = update.display_name {
                    user.display_name = display_name;
                }
                if let Some(picture) = update.picture {
                    user.picture = picture;
                }
                let bytes = encode(&user)?;
                users
                    .insert(id.as_u128(), bytes.as_slice())
                    .map_err(internal)?;
                user
            };
            tx.commit().map_err(internal)?;
            Ok(Some(user))
        })
        .await
    }

    async fn set_password_hash(&self, user_id: Uuid, phc: &str) -> StoreResult<()> {
        let credentials = Credentials {
            password_hash: phc.to_string(),
            updated_at: Utc::now(),
        };
        self.blocking(move |db| {
            let bytes = encode(&credentials)?;
            let tx = db.begin_write().map_err(internal)?;
            tx.open_table(CREDENTIALS)
                .map_err(internal)?
                .insert(user_id.as_u128(), bytes.as_slice())
                .map_err(internal)?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn password_hash(&self, user_id: Uuid) -> StoreResult<Option<String>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let table = tx.open_table(CREDENTIALS).map_err(internal)?;
            let credentials: Option<Credentials> =
                get_json(&table, user_id.as_u128(), "credentials")?;
            Ok(credentials.map(|c| c.password_hash))
        })
        .await
    }

    async fn link_google(&self, google_sub: &str, user_id: Uuid) -> StoreResult<Uuid> {
        let sub = google_sub.to_string();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            {
                let mut links = tx.open_table(USERS_BY_GOOGLE).map_err(internal)?;
                if let Some(owner) = links.get(sub.as_str()).map_err(internal)? {
                    // The first link wins; nothing to write.
                    return Ok(Uuid::from_u128(owner.value()));
                }
                links
                    .insert(sub.as_str(), user_id.as_u128())
                    .map_err(internal)?;
            }
            tx.commit().map_err(internal)?;
            Ok(user_id)
        })
        .await
    }

    async fn user_by_google(&self, google_sub: &str) -> StoreResult<Option<User>> {
        let sub = google_sub.to_string();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let links = tx.open_table(USERS_BY_GOOGLE).map_err(internal)?;
            let id = match links.get(sub.as_str()).map_err(internal)? {
                Some(id) => id.value(),
                None => return Ok(None),
            };
            read_user(&tx, id)
        })
        .await
    }

    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()> {
        let family = family.clone();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            {
                let families = tx.open_table(REFRESH_FAMILIES).map_err(internal)?;
                if families
                    .get(family.family_id.as_u128())
                    .map_err(internal)?
                    .is_some()
                {
                    return Err(StoreError::Conflict {
                        what: "refresh family",
                    });
                }
            }
            put_family(&tx, &family)?;
            tx.open_table(REFRESH_FAMILIES_BY_USER)
                .map_err(internal)?
                .insert((family.user_id.as_u128(), family.family_id.as_u128()), ())
                .map_err(internal)?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn refresh_family(&self, family_id: Uuid) -> StoreResult<Option<RefreshFamily>> {
        let now = Utc::now();
        self.blocking(move |db| {
            let family: Option<RefreshFamily> = {
                let tx = db.begin_read().map_err(internal)?;
                let families = tx.open_table(REFRESH_FAMILIES).map_err(internal)?;
                get_json(&families, family_id.as_u128(), "refresh family")?
            };
            match family {
                Some(f) if f.expires_at <= now => {
                    prune(db, |tx| live_family(tx, family_id, now).map(drop))?;
                    Ok(None)
                }
                other => Ok(other),
            }
        })
        .await
    }

    async fn extend_refresh_family(
        &self,
        family_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now = Utc::now();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            // A revoked family stays revoked and keeps its expiry; an expired one is gone.
            if let Some(mut family) = live_family(&tx, family_id, now)?
                && !family.revoked
            {
                family.expires_at = expires_at;
                put_family(&tx, &family)?;
            }
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<()> {
        let now = Utc::now();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            if let Some(mut family) = live_family(&tx, family_id, now)?
                && !family.revoked
            {
                family.revoked = true;
                put_family(&tx, &family)?;
            }
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn revoke_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32> {
        let now = Utc::now();
        let user = user_id.as_u128();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            let family_ids = {
                let index = tx.open_table(REFRESH_FAMILIES_BY_USER).map_err(internal)?;
                index
                    .range((user, 0)..=(user, u128::MAX))
                    .map_err(internal)?
                    .map(|entry| entry.map(|(key, _)| Uuid::from_u128(key.value().1)))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(internal)?
            };
            let mut revoked = 0;
            for family_id in family_ids {
                match live_family(&tx, family_id, now)? {
                    Some(mut family) if !family.revoked => {
                        family.revoked = true;
                        put_family(&tx, &family)?;
                        revoked += 1;
                    }
                    Some(_) => {}
                    // An index entry without its family: drop it.
                    None => {
                        tx.open_table(REFRESH_FAMILIES_BY_USER)
                            .map_err(internal)?
                            .remove((user, family_id.as_u128()))
                            .map_err(internal)?;
                    }
                }
            }
            tx.commit().map_err(internal)?;
            Ok(revoked)
        })
        .await
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        let mut token = token.clone();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            {
                let mut tokens = tx.open_table(REFRESH_TOKENS).map_err(internal)?;
                let existing: Option<RefreshToken> =
                    get_json(&tokens, token.token_hash.as_str(), "refresh token")?;
                // Only consuming sets `used_at` (as on CQL, where the insert does not
                // write it): a new token is stored unused, and storing one again never
                // makes it usable again.
                token.used_at = existing.and_then(|t| t.used_at);
                let bytes = encode(&token)?;
                tokens
                    .insert(token.token_hash.as_str(), bytes.as_slice())
                    .map_err(internal)?;
            }
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        let now = Utc::now();
        let hash = token_hash.to_string();
        self.blocking(move |db| {
            let token: Option<RefreshToken> = {
                let tx = db.begin_read().map_err(internal)?;
                let tokens = tx.open_table(REFRESH_TOKENS).map_err(internal)?;
                get_json(&tokens, hash.as_str(), "refresh token")?
            };
            match token {
                Some(t) if t.expires_at <= now => {
                    prune(db, |tx| live_token(tx, &hash, now).map(drop))?;
                    Ok(None)
                }
                other => Ok(other),
            }
        })
        .await
    }

    async fn consume_refresh_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let now = Utc::now();
        let hash = token_hash.to_string();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            let consumed = match live_token(&tx, &hash, now)? {
                Some(mut token) if token.used_at.is_none() => {
                    token.used_at = Some(at);
                    let bytes = encode(&token)?;
                    tx.open_table(REFRESH_TOKENS)
                        .map_err(internal)?
                        .insert(hash.as_str(), bytes.as_slice())
                        .map_err(internal)?;
                    true
                }
                // Already used, unknown or expired: nothing to consume.
                _ => false,
            };
            // Committed either way, so an expired token met here is pruned.
            tx.commit().map_err(internal)?;
            Ok(consumed)
        })
        .await
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> StoreResult<LoginFailures> {
        let key = key.to_string();
        self.blocking(move |db| {
            // One write transaction: concurrent failures run one after the other, so
            // each sees the count of the one before.
            let tx = db.begin_write().map_err(internal)?;
            let next = {
                let mut table = tx.open_table(LOGIN_FAILURES).map_err(internal)?;
                let previous: Option<LoginFailures> =
                    get_json(&table, key.as_str(), "login failures")?;
                let next = LoginFailures::after_failure(previous.as_ref(), now, window, lock_for);
                let bytes = encode(&next)?;
                table
                    .insert(key.as_str(), bytes.as_slice())
                    .map_err(internal)?;
                next
            };
            tx.commit().map_err(internal)?;
            Ok(next)
        })
        .await
    }

    async fn login_failures(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<Option<LoginFailures>> {
        let key = key.to_string();
        self.blocking(move |db| {
            let failures: Option<LoginFailures> = {
                let tx = db.begin_read().map_err(internal)?;
                let table = tx.open_table(LOGIN_FAILURES).map_err(internal)?;
                get_json(&table, key.as_str(), "login failures")?
            };
            match failures {
                Some(f) if !f.is_current(now, window) => {
                    prune(db, |tx| live_failures(tx, &key, now, window).map(drop))?;
                    Ok(None)
                }
                other => Ok(other),
            }
        })
        .await
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        let key = key.to_string();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            tx.open_table(LOGIN_FAILURES)
                .map_err(internal)?
                .remove(key.as_str())
                .map_err(internal)?;
            tx.commit().map_err(internal)
        })
        .await
    }
}
