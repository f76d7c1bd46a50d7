//! The embedded store: redb, one ACID file in the data folder.
//!
//! redb's API is synchronous; every call runs on tokio's blocking pool so it never
//! stalls an async worker. Each port method is one transaction, which is what makes
//! the uniqueness checks, the single use of refresh tokens and the counting of sign-in
//! failures race-free: redb allows one write transaction at a time.
//!
//! Goals mirror the CQL keys (see docs/data-model.md): a goal's levels are one key
//! range of `levels`, a level's questions one key range of `questions`, a user's goals
//! one key range of `goals_by_user`; saving and deleting a goal are one transaction
//! each, so readers see all of it or none of it.
//!
//! The XP ledger mirrors the CQL keys too: a user's grants are one key range of
//! `xp_ledger`, keyed by (user, grant id); grants not yet applied to the profile and the
//! leaderboard are keys of `xp_pending`. Writing a grant (ledger and pending mark) is
//! one transaction, so a grant is never in one without the other.
//!
//! A past week's archived board mirrors the CQL tables: its standings by rank (one key
//! range), by learner, and the mark that it is complete, written last.
//!
//! A room's results are one record of `room_results`, and a summary (without the
//! document) in `room_results_by_host`, keyed so a host's rooms are one key range in
//! end order; saving writes both in one transaction.
//!
//! A saved quiz is one record of `quizzes`, and its summary in `quizzes_by_owner`, keyed
//! (owner, quiz id) so an owner's quizzes are one key range in creation order. Every
//! write (create with its count against the limit, update, delete) is one transaction.
//!
//! redb has no TTL. Records that expire (refresh families and tokens, sign-in failures)
//! read as absent once past their time, and are deleted when a method meets them, so
//! the file does not grow with dead sessions.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::database::DbHandle;
use questpath_actors::ports::store::{
    ArchiveStore, ArchivedEntry, ArchivedWeek, GenerationJob, Goal, GoalStatus, GoalStore,
    JobStore, Level, LevelStatus, LoginFailures, NewGoal, NewUser, Page, ProfileUpdate, Question,
    QuizStore, QuizSummary, RefreshFamily, RefreshToken, RoomResult, RoomResultStore, SavedQuiz,
    SessionStore, StoreBackend, StoreError, StoreResult, User, UserStore, XpEntry, XpStore,
    email_key,
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
/// generation_jobs: job id -> JSON `GenerationJob`.
const GENERATION_JOBS: TableDefinition<u128, &[u8]> = TableDefinition::new("generation_jobs");
/// goals: goal id -> JSON `Goal`.
const GOALS: TableDefinition<u128, &[u8]> = TableDefinition::new("goals");
/// goals_by_user: (user id, goal id) -> nothing. A `u128` orders like the uuid's bytes,
/// so with v7 (time-first) ids the user's range runs oldest to newest.
const GOALS_BY_USER: TableDefinition<(u128, u128), ()> = TableDefinition::new("goals_by_user");
/// levels: (goal id, 1-based order) -> JSON `Level`; a goal's levels in one key range.
const LEVELS: TableDefinition<(u128, u32), &[u8]> = TableDefinition::new("levels");
/// level_index: level id -> (goal id, order), the key of its `levels` entry.
const LEVEL_INDEX: TableDefinition<u128, (u128, u32)> = TableDefinition::new("level_index");
/// questions: (level id, index) -> JSON `Question`; a level's bank in one key range.
const QUESTIONS: TableDefinition<(u128, u32), &[u8]> = TableDefinition::new("questions");
/// xp_ledger: (user id, grant id) -> JSON `XpEntry`; a user's ledger is one key range,
/// in grant id order, starting at `(user id, "")`.
const XP_LEDGER: TableDefinition<(u128, &str), &[u8]> = TableDefinition::new("xp_ledger");
/// xp_pending: (user id, grant id) -> nothing; grants written to the ledger and not yet
/// applied to the profile and the leaderboard, a user's in one key range.
const XP_PENDING: TableDefinition<(u128, &str), ()> = TableDefinition::new("xp_pending");
/// weekly_archives: ISO week (`2026-W47`) -> JSON `ArchivedWeek`; the mark of a week
/// whose archive is complete. Keys order as the weeks do.
const WEEKLY_ARCHIVES: TableDefinition<&str, &[u8]> = TableDefinition::new("weekly_archives");
/// weekly_archive_ranks: (week, rank) -> (user id, score, reached at in ms); a week's
/// final standings by rank in one key range.
const WEEKLY_ARCHIVE_RANKS: TableDefinition<(&str, u64), (u128, i64, i64)> =
    TableDefinition::new("weekly_archive_ranks");
/// weekly_archive_by_user: (week, user id) -> (rank, score, reached at in ms).
const WEEKLY_ARCHIVE_BY_USER: TableDefinition<(&str, u128), (u64, i64, i64)> =
    TableDefinition::new("weekly_archive_by_user");
/// room_results: room id -> JSON `RoomResult` (with its results document).
const ROOM_RESULTS: TableDefinition<u128, &[u8]> = TableDefinition::new("room_results");
/// room_results_by_host: (host id, ended at in ms, room id) -> JSON `RoomResult` without
/// its document; a host's rooms in one key range, read backwards for newest first.
const ROOM_RESULTS_BY_HOST: TableDefinition<(u128, i64, u128), &[u8]> =
    TableDefinition::new("room_results_by_host");
/// quizzes: quiz id -> JSON `SavedQuiz`.
const QUIZZES: TableDefinition<u128, &[u8]> = TableDefinition::new("quizzes");
/// quizzes_by_owner: (owner id, quiz id) -> JSON `QuizSummary`; an owner's quizzes in one
/// key range, oldest first (v7 ids), read backwards for newest first.
const QUIZZES_BY_OWNER: TableDefinition<(u128, u128), &[u8]> =
    TableDefinition::new("quizzes_by_owner");

/// Most goals one page returns, whatever the caller asks (as on CQL).
const MAX_PAGE: usize = 100;

/// A user's password, kept apart from the profile so reading a user never loads it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Credentials {
    password_hash: String,
    updated_at: DateTime<Utc>,
}

/// File name of the database inside the data folder.
pub const FILE_NAME: &str = "questpath.redb";

/// A redb database shared by all handlers; closed on shutdown (`database.rs`).
#[derive(Clone)]
pub struct EmbeddedStore {
    pub(super) db: DbHandle,
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
            let db = super::database::open_file(&path, true).map_err(|e| {
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
            tx.open_table(GENERATION_JOBS).map_err(internal)?;
            tx.open_table(GOALS).map_err(internal)?;
            tx.open_table(GOALS_BY_USER).map_err(internal)?;
            tx.open_table(LEVELS).map_err(internal)?;
            tx.open_table(LEVEL_INDEX).map_err(internal)?;
            tx.open_table(QUESTIONS).map_err(internal)?;
            tx.open_table(XP_LEDGER).map_err(internal)?;
            tx.open_table(XP_PENDING).map_err(internal)?;
            tx.open_table(WEEKLY_ARCHIVES).map_err(internal)?;
            tx.open_table(WEEKLY_ARCHIVE_RANKS).map_err(internal)?;
            tx.open_table(WEEKLY_ARCHIVE_BY_USER).map_err(internal)?;
            tx.open_table(ROOM_RESULTS).map_err(internal)?;
            tx.open_table(ROOM_RESULTS_BY_HOST).map_err(internal)?;
            tx.open_table(QUIZZES).map_err(internal)?;
            tx.open_table(QUIZZES_BY_OWNER).map_err(internal)?;
            tx.commit().map_err(internal)?;
            Ok(EmbeddedStore {
                db: DbHandle::new(db, &dir, path),
            })
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
        let db = self.db.get()?;
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

/// Reads the JSON record under `id`, changes it with `change`, writes it back and
/// commits, all in one write transaction; `None` (and nothing written) when there is no
/// such record, so an update never creates one.
fn update_record<T>(
    db: &Database,
    table: TableDefinition<u128, &[u8]>,
    id: u128,
    what: &str,
    change: impl FnOnce(&mut T),
) -> StoreResult<Option<T>>
where
    T: DeserializeOwned + serde::Serialize,
{
    let tx = db.begin_write().map_err(internal)?;
    let record = {
        let mut records = tx.open_table(table).map_err(internal)?;
        let record: Option<T> = get_json(&records, id, what)?;
        let Some(mut record) = record else {
            // Dropping the transaction aborts it.
            return Ok(None);
        };
        change(&mut record);
        let bytes = encode(&record)?;
        records.insert(id, bytes.as_slice()).map_err(internal)?;
        record
    };
    tx.commit().map_err(internal)?;
    Ok(Some(record))
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

/// The goal's levels in order, read from any transaction.
fn goal_levels(
    levels: &impl ReadableTable<(u128, u32), &'static [u8]>,
    goal_id: Uuid,
) -> StoreResult<Vec<Level>> {
    let goal = goal_id.as_u128();
    let mut found = Vec::new();
    for entry in levels
        .range((goal, 0)..=(goal, u32::MAX))
        .map_err(internal)?
    {
        let (_, bytes) = entry.map_err(internal)?;
        found.push(decode(bytes.value(), "level")?);
    }
    Ok(found)
}

/// Removes the goal's levels with their index entries and questions.
fn remove_levels(tx: &redb::WriteTransaction, goal_id: Uuid) -> StoreResult<()> {
    let mut levels = tx.open_table(LEVELS).map_err(internal)?;
    let mut index = tx.open_table(LEVEL_INDEX).map_err(internal)?;
    let mut questions = tx.open_table(QUESTIONS).map_err(internal)?;
    let goal = goal_id.as_u128();
    for level in goal_levels(&levels, goal_id)? {
        let id = level.id.as_u128();
        questions
            .retain_in((id, 0)..=(id, u32::MAX), |_, _| false)
            .map_err(internal)?;
        index.remove(id).map_err(internal)?;
    }
    levels
        .retain_in((goal, 0)..=(goal, u32::MAX), |_, _| false)
        .map_err(internal)?;
    Ok(())
}

/// The level by id, through its index entry.
fn level_by_id(tx: &redb::ReadTransaction, level_id: Uuid) -> StoreResult<Option<Level>> {
    let index = tx.open_table(LEVEL_INDEX).map_err(internal)?;
    let Some(key) = index.get(level_id.as_u128()).map_err(internal)? else {
        return Ok(None);
    };
    let levels = tx.open_table(LEVELS).map_err(internal)?;
    get_json(&levels, key.value(), "level")
}

/// Rewrites one level (its `levels` entry found through the index) with `change`, in
/// its own write transaction; `change` returns false to leave it as it is. Returns the
/// level as it is afterwards, or `None` for an unknown level.
fn update_level<F>(db: &Database, level_id: Uuid, change: F) -> StoreResult<Option<Level>>
where
    F: FnOnce(&mut Level) -> bool,
{
    let tx = db.begin_write().map_err(internal)?;
    let level = {
        let key = match tx
            .open_table(LEVEL_INDEX)
            .map_err(internal)?
            .get(level_id.as_u128())
            .map_err(internal)?
        {
            Some(key) => key.value(),
            None => return Ok(None),
        };
        let mut levels = tx.open_table(LEVELS).map_err(internal)?;
        let level: Option<Level> = get_json(&levels, key, "level")?;
        let Some(mut level) = level else {
            return Ok(None);
        };
        if !change(&mut level) {
            return Ok(Some(level));
        }
        let bytes = encode(&level)?;
        levels.insert(key, bytes.as_slice()).map_err(internal)?;
        level
    };
    tx.commit().map_err(internal)?;
    Ok(Some(level))
}

/// The grant ids of one user's key range of `xp_ledger` or `xp_pending`, in order.
fn user_grants<V: redb::Value + 'static>(
    table: &impl ReadableTable<(u128, &'static str), V>,
    user_id: Uuid,
    mut each: impl FnMut(&str, &V::SelfType<'_>) -> StoreResult<()>,
) -> StoreResult<()> {
    let user = user_id.as_u128();
    // Keys order by user first, and "" is the least grant id: the user's range starts
    // at (user, "") and ends at the first key of another user.
    for item in table.range((user, "")..).map_err(internal)? {
        let (key, value) = item.map_err(internal)?;
        let (owner, grant_id) = key.value();
        if owner != user {
            break;
        }
        each(grant_id, &value.value())?;
    }
    Ok(())
}

#[async_trait]
impl StoreBackend for EmbeddedStore {
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
}

#[async_trait]
impl UserStore for EmbeddedStore {
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
            update_record(db, USERS, id.as_u128(), "user", |user: &mut User| {
                if let Some(display_name) = update.display_name {
                    user.display_name = display_name;
                }
                if let Some(picture) = update.picture {
                    user.picture = picture;
                }
            })
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
}

#[async_trait]
impl SessionStore for EmbeddedStore {
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

#[async_trait]
impl JobStore for EmbeddedStore {
    async fn create_job(&self, job: &GenerationJob) -> StoreResult<()> {
        let job = job.clone();
        self.blocking(move |db| {
            let bytes = encode(&job)?;
            let tx = db.begin_write().map_err(internal)?;
            tx.open_table(GENERATION_JOBS)
                .map_err(internal)?
                .insert(job.id.as_u128(), bytes.as_slice())
                .map_err(internal)?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn job(&self, job_id: Uuid) -> StoreResult<Option<GenerationJob>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let jobs = tx.open_table(GENERATION_JOBS).map_err(internal)?;
            get_json(&jobs, job_id.as_u128(), "generation job")
        })
        .await
    }

    async fn update_job(&self, job: &GenerationJob) -> StoreResult<()> {
        let update = job.clone();
        self.blocking(move |db| {
            // An unknown job stays unknown (on CQL it gets no identity columns).
            update_record(
                db,
                GENERATION_JOBS,
                update.id.as_u128(),
                "generation job",
                |stored: &mut GenerationJob| {
                    stored.status = update.status;
                    stored.step = update.step;
                    stored.reason = update.reason;
                    stored.attempts = update.attempts;
                    stored.updated_at = update.updated_at;
                },
            )
            .map(drop)
        })
        .await
    }
}

#[async_trait]
impl GoalStore for EmbeddedStore {
    async fn save_goal(&self, goal: &NewGoal) -> StoreResult<()> {
        goal.check().map_err(StoreError::Internal)?;
        let new = goal.clone();
        self.blocking(move |db| {
            let goal = &new.goal;
            let tx = db.begin_write().map_err(internal)?;
            // Whatever an earlier save of this goal wrote is replaced, not merged: a
            // retried job may have generated other levels or shorter banks.
            remove_levels(&tx, goal.id)?;
            {
                let mut levels = tx.open_table(LEVELS).map_err(internal)?;
                let mut index = tx.open_table(LEVEL_INDEX).map_err(internal)?;
                for level in &new.levels {
                    let key = (goal.id.as_u128(), level.order);
                    let bytes = encode(level)?;
                    levels.insert(key, bytes.as_slice()).map_err(internal)?;
                    index.insert(level.id.as_u128(), key).map_err(internal)?;
                }
                let mut questions = tx.open_table(QUESTIONS).map_err(internal)?;
                for question in &new.questions {
                    let bytes = encode(question)?;
                    questions
                        .insert(
                            (question.level_id.as_u128(), question.index),
                            bytes.as_slice(),
                        )
                        .map_err(internal)?;
                }
                let mut goals = tx.open_table(GOALS).map_err(internal)?;
                let mut by_user = tx.open_table(GOALS_BY_USER).map_err(internal)?;
                let previous: Option<Goal> = get_json(&goals, goal.id.as_u128(), "goal")?;
                if let Some(previous) = previous.filter(|p| p.user_id != goal.user_id) {
                    by_user
                        .remove((previous.user_id.as_u128(), goal.id.as_u128()))
                        .map_err(internal)?;
                }
                let bytes = encode(goal)?;
                goals
                    .insert(goal.id.as_u128(), bytes.as_slice())
                    .map_err(internal)?;
                by_user
                    .insert((goal.user_id.as_u128(), goal.id.as_u128()), ())
                    .map_err(internal)?;
            }
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn goal(&self, goal_id: Uuid) -> StoreResult<Option<Goal>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let goals = tx.open_table(GOALS).map_err(internal)?;
            get_json(&goals, goal_id.as_u128(), "goal")
        })
        .await
    }

    async fn goals_of_user(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Page<Goal>> {
        let limit = limit.min(MAX_PAGE);
        let user = user_id.as_u128();
        self.blocking(move |db| {
            if limit == 0 {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            }
            let tx = db.begin_read().map_err(internal)?;
            let by_user = tx.open_table(GOALS_BY_USER).map_err(internal)?;
            // Newest first: the user's range backwards, from just before the cursor.
            let range = match after {
                Some(after) => by_user.range((user, 0)..(user, after.as_u128())),
                None => by_user.range((user, 0)..=(user, u128::MAX)),
            }
            .map_err(internal)?;
            let mut ids = Vec::with_capacity(limit + 1);
            for entry in range.rev().take(limit + 1) {
                let (key, _) = entry.map_err(internal)?;
                ids.push(Uuid::from_u128(key.value().1));
            }
            let next = if ids.len() > limit {
                ids.truncate(limit);
                ids.last().copied()
            } else {
                None
            };
            let goals = tx.open_table(GOALS).map_err(internal)?;
            let mut items = Vec::with_capacity(ids.len());
            for id in ids {
                let goal: Option<Goal> = get_json(&goals, id.as_u128(), "goal")?;
                items.extend(goal.filter(|g| g.user_id == user_id));
            }
            Ok(Page { items, next })
        })
        .await
    }

    async fn delete_goal(&self, goal_id: Uuid) -> StoreResult<bool> {
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            let removed: Option<Goal> = {
                let mut goals = tx.open_table(GOALS).map_err(internal)?;
                match goals.remove(goal_id.as_u128()).map_err(internal)? {
                    Some(bytes) => Some(decode(bytes.value(), "goal")?),
                    None => None,
                }
            };
            let Some(goal) = removed else {
                // Nothing to delete: a goal is saved whole, in one transaction.
                return Ok(false);
            };
            tx.open_table(GOALS_BY_USER)
                .map_err(internal)?
                .remove((goal.user_id.as_u128(), goal_id.as_u128()))
                .map_err(internal)?;
            remove_levels(&tx, goal_id)?;
            tx.commit().map_err(internal)?;
            Ok(true)
        })
        .await
    }

    async fn levels(&self, goal_id: Uuid) -> StoreResult<Vec<Level>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let levels = tx.open_table(LEVELS).map_err(internal)?;
            goal_levels(&levels, goal_id)
        })
        .await
    }

    async fn level(&self, level_id: Uuid) -> StoreResult<Option<Level>> {
        self.blocking(move |db| level_by_id(&db.begin_read().map_err(internal)?, level_id))
            .await
    }

    async fn set_topic_completed(
        &self,
        level_id: Uuid,
        index: u32,
        completed: bool,
    ) -> StoreResult<Option<Level>> {
        self.blocking(move |db| {
            let Ok(index) = usize::try_from(index) else {
                return Ok(None);
            };
            let mut known_topic = false;
            let level = update_level(db, level_id, |level| match level.topics.get_mut(index) {
                Some(topic) => {
                    known_topic = true;
                    let changed = topic.completed != completed;
                    topic.completed = completed;
                    changed
                }
                None => false,
            })?;
            // An index beyond the topics is no topic: nothing was written.
            Ok(level.filter(|_| known_topic))
        })
        .await
    }

    async fn set_level_status(&self, level_id: Uuid, status: LevelStatus) -> StoreResult<()> {
        self.blocking(move |db| {
            update_level(db, level_id, |level| {
                let changed = level.status != status;
                level.status = status;
                changed
            })
            .map(drop)
        })
        .await
    }

    async fn set_goal_status(&self, goal_id: Uuid, status: GoalStatus) -> StoreResult<()> {
        self.blocking(move |db| {
            update_record(db, GOALS, goal_id.as_u128(), "goal", |goal: &mut Goal| {
                goal.status = status
            })
            .map(drop)
        })
        .await
    }

    async fn questions(&self, level_id: Uuid) -> StoreResult<Vec<Question>> {
        let level = level_id.as_u128();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let questions = tx.open_table(QUESTIONS).map_err(internal)?;
            let mut bank = Vec::new();
            for entry in questions
                .range((level, 0)..=(level, u32::MAX))
                .map_err(internal)?
            {
                let (_, bytes) = entry.map_err(internal)?;
                bank.push(decode(bytes.value(), "question")?);
            }
            Ok(bank)
        })
        .await
    }
}

#[async_trait]
impl XpStore for EmbeddedStore {
    async fn record_xp(&self, entry: &XpEntry) -> StoreResult<bool> {
        let entry = entry.clone();
        self.blocking(move |db| {
            let bytes = encode(&entry)?;
            let key = (entry.user_id.as_u128(), entry.grant_id.as_str());
            // One write transaction (redb runs them one at a time): of racing callers,
            // exactly one finds the grant absent, and it writes the ledger entry and its
            // pending mark together.
            let tx = db.begin_write().map_err(internal)?;
            {
                let mut ledger = tx.open_table(XP_LEDGER).map_err(internal)?;
                if ledger.get(key).map_err(internal)?.is_some() {
                    // A retry: the first write marked it pending; nothing changes.
                    return Ok(false);
                }
                ledger.insert(key, bytes.as_slice()).map_err(internal)?;
                tx.open_table(XP_PENDING)
                    .map_err(internal)?
                    .insert(key, ())
                    .map_err(internal)?;
            }
            tx.commit().map_err(internal)?;
            Ok(true)
        })
        .await
    }

    async fn xp_entries(&self, user_id: Uuid) -> StoreResult<Vec<XpEntry>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let ledger = tx.open_table(XP_LEDGER).map_err(internal)?;
            let mut entries = Vec::new();
            user_grants(&ledger, user_id, |_, bytes| {
                entries.push(decode(bytes, "xp entry")?);
                Ok(())
            })?;
            Ok(entries)
        })
        .await
    }

    async fn set_total_xp(&self, user_id: Uuid, total: i64) -> StoreResult<()> {
        self.blocking(move |db| {
            update_record(db, USERS, user_id.as_u128(), "user", |user: &mut User| {
                user.total_xp = total
            })
            .map(drop)
        })
        .await
    }

    async fn xp_pending_users(&self, limit: usize) -> StoreResult<Vec<Uuid>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let pending = tx.open_table(XP_PENDING).map_err(internal)?;
            let mut users = Vec::new();
            // One short range read per user: each starts past the previous user's
            // grants, so a user with many pending grants is read once.
            let mut from = Some(0u128);
            while users.len() < limit {
                let Some(start) = from else {
                    break;
                };
                let Some(item) = pending.range((start, "")..).map_err(internal)?.next() else {
                    break;
                };
                let user = item.map_err(internal)?.0.value().0;
                users.push(Uuid::from_u128(user));
                // None past the greatest id: nothing can follow it.
                from = user.checked_add(1);
            }
            Ok(users)
        })
        .await
    }

    async fn xp_pending(&self, user_id: Uuid) -> StoreResult<Vec<String>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let pending = tx.open_table(XP_PENDING).map_err(internal)?;
            let mut grant_ids = Vec::new();
            user_grants(&pending, user_id, |grant_id, _| {
                grant_ids.push(grant_id.to_string());
                Ok(())
            })?;
            Ok(grant_ids)
        })
        .await
    }

    async fn clear_xp_pending(&self, user_id: Uuid, grant_ids: &[String]) -> StoreResult<()> {
        if grant_ids.is_empty() {
            return Ok(());
        }
        let grant_ids = grant_ids.to_vec();
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            {
                let mut pending = tx.open_table(XP_PENDING).map_err(internal)?;
                for grant_id in &grant_ids {
                    pending
                        .remove((user_id.as_u128(), grant_id.as_str()))
                        .map_err(internal)?;
                }
            }
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn xp_users(&self, after: Option<Uuid>, limit: usize) -> StoreResult<Vec<Uuid>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let ledger = tx.open_table(XP_LEDGER).map_err(internal)?;
            let mut users = Vec::new();
            // As for pending users: one short range read per user, each from the start
            // of the ids after the previous one, so a long ledger is never walked.
            let mut from = match after {
                Some(user) => user.as_u128().checked_add(1),
                None => Some(0),
            };
            while users.len() < limit {
                let Some(start) = from else {
                    break;
                };
                let Some(item) = ledger.range((start, "")..).map_err(internal)?.next() else {
                    break;
                };
                let user = item.map_err(internal)?.0.value().0;
                users.push(Uuid::from_u128(user));
                from = user.checked_add(1);
            }
            Ok(users)
        })
        .await
    }
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
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            {
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
            }
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn mark_week_archived(&self, week: &ArchivedWeek) -> StoreResult<()> {
        let week = week.clone();
        self.blocking(move |db| {
            let bytes = encode(&week)?;
            let tx = db.begin_write().map_err(internal)?;
            tx.open_table(WEEKLY_ARCHIVES)
                .map_err(internal)?
                .insert(week.period.as_str(), bytes.as_slice())
                .map_err(internal)?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn archived_week(&self, period: &str) -> StoreResult<Option<ArchivedWeek>> {
        let period = period.to_string();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let weeks = tx.open_table(WEEKLY_ARCHIVES).map_err(internal)?;
            get_json(&weeks, period.as_str(), "archived week")
        })
        .await
    }

    async fn archived_weeks(&self, limit: usize) -> StoreResult<Vec<ArchivedWeek>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let weeks = tx.open_table(WEEKLY_ARCHIVES).map_err(internal)?;
            let mut found = Vec::new();
            for item in weeks.iter().map_err(internal)?.rev().take(limit) {
                let (_, bytes) = item.map_err(internal)?;
                found.push(decode(bytes.value(), "archived week")?);
            }
            Ok(found)
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
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
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
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
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
}

#[async_trait]
impl RoomResultStore for EmbeddedStore {
    async fn save_room_result(&self, result: &RoomResult) -> StoreResult<()> {
        let result = result.clone();
        self.blocking(move |db| {
            let bytes = encode(&result)?;
            let summary = encode(&RoomResult {
                results: serde_json::Value::Null,
                ..result.clone()
            })?;
            let key = host_key(&result);
            let tx = db.begin_write().map_err(internal)?;
            {
                let mut results = tx.open_table(ROOM_RESULTS).map_err(internal)?;
                let mut by_host = tx.open_table(ROOM_RESULTS_BY_HOST).map_err(internal)?;
                // A rewrite may move the room in the lists (another host or end time).
                let previous: Option<RoomResult> =
                    get_json(&results, result.room_id.as_u128(), "room result")?;
                if let Some(previous) = previous {
                    by_host.remove(host_key(&previous)).map_err(internal)?;
                }
                results
                    .insert(result.room_id.as_u128(), bytes.as_slice())
                    .map_err(internal)?;
                by_host.insert(key, summary.as_slice()).map_err(internal)?;
            }
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn room_result(&self, room_id: Uuid) -> StoreResult<Option<RoomResult>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let results = tx.open_table(ROOM_RESULTS).map_err(internal)?;
            get_json(&results, room_id.as_u128(), "room result")
        })
        .await
    }

    async fn room_results_of_host(
        &self,
        host_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<RoomResult>> {
        let host = host_id.as_u128();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let by_host = tx.open_table(ROOM_RESULTS_BY_HOST).map_err(internal)?;
            let mut found = Vec::new();
            for entry in by_host
                .range((host, i64::MIN, 0)..=(host, i64::MAX, u128::MAX))
                .map_err(internal)?
                .rev()
                .take(limit)
            {
                let (_, bytes) = entry.map_err(internal)?;
                found.push(decode(bytes.value(), "room result")?);
            }
            Ok(found)
        })
        .await
    }
}

#[async_trait]
impl QuizStore for EmbeddedStore {
    async fn create_quiz(&self, quiz: &SavedQuiz, limit: usize) -> StoreResult<bool> {
        let quiz = quiz.clone();
        self.blocking(move |db| {
            let bytes = encode(&quiz)?;
            let summary = encode(&quiz.summary())?;
            let owner = quiz.owner_id.as_u128();
            let id = quiz.id.as_u128();
            let tx = db.begin_write().map_err(internal)?;
            {
                let mut quizzes = tx.open_table(QUIZZES).map_err(internal)?;
                let mut by_owner = tx.open_table(QUIZZES_BY_OWNER).map_err(internal)?;
                let again = by_owner.get((owner, id)).map_err(internal)?.is_some();
                if !again {
                    let held = by_owner
                        .range((owner, 0)..=(owner, u128::MAX))
                        .map_err(internal)?
                        .take(limit)
                        .count();
                    if held >= limit {
                        return Ok(false);
                    }
                }
                quizzes.insert(id, bytes.as_slice()).map_err(internal)?;
                by_owner
                    .insert((owner, id), summary.as_slice())
                    .map_err(internal)?;
            }
            tx.commit().map_err(internal)?;
            Ok(true)
        })
        .await
    }

    async fn update_quiz(&self, quiz: &SavedQuiz) -> StoreResult<bool> {
        let quiz = quiz.clone();
        self.blocking(move |db| {
            let owner = quiz.owner_id.as_u128();
            let id = quiz.id.as_u128();
            let tx = db.begin_write().map_err(internal)?;
            {
                let mut quizzes = tx.open_table(QUIZZES).map_err(internal)?;
                let mut by_owner = tx.open_table(QUIZZES_BY_OWNER).map_err(internal)?;
                let stored: Option<SavedQuiz> = get_json(&quizzes, id, "saved quiz")?;
                let Some(stored) = stored.filter(|q| q.owner_id == quiz.owner_id) else {
                    return Ok(false);
                };
                let updated = SavedQuiz {
                    title: quiz.title,
                    description: quiz.description,
                    questions: quiz.questions,
                    updated_at: quiz.updated_at,
                    ..stored
                };
                let bytes = encode(&updated)?;
                let summary = encode(&updated.summary())?;
                quizzes.insert(id, bytes.as_slice()).map_err(internal)?;
                by_owner
                    .insert((owner, id), summary.as_slice())
                    .map_err(internal)?;
            }
            tx.commit().map_err(internal)?;
            Ok(true)
        })
        .await
    }

    async fn quiz(&self, quiz_id: Uuid) -> StoreResult<Option<SavedQuiz>> {
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let quizzes = tx.open_table(QUIZZES).map_err(internal)?;
            get_json(&quizzes, quiz_id.as_u128(), "saved quiz")
        })
        .await
    }

    async fn quizzes_of_owner(
        &self,
        owner_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<QuizSummary>> {
        let owner = owner_id.as_u128();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(internal)?;
            let by_owner = tx.open_table(QUIZZES_BY_OWNER).map_err(internal)?;
            let mut found = Vec::new();
            for entry in by_owner
                .range((owner, 0)..=(owner, u128::MAX))
                .map_err(internal)?
                .rev()
                .take(limit)
            {
                let (_, bytes) = entry.map_err(internal)?;
                found.push(decode(bytes.value(), "saved quiz summary")?);
            }
            Ok(found)
        })
        .await
    }

    async fn delete_quiz(&self, owner_id: Uuid, quiz_id: Uuid) -> StoreResult<bool> {
        self.blocking(move |db| {
            let id = quiz_id.as_u128();
            let tx = db.begin_write().map_err(internal)?;
            {
                let mut quizzes = tx.open_table(QUIZZES).map_err(internal)?;
                let stored: Option<SavedQuiz> = get_json(&quizzes, id, "saved quiz")?;
                if stored.is_none_or(|q| q.owner_id != owner_id) {
                    return Ok(false);
                }
                quizzes.remove(id).map_err(internal)?;
                tx.open_table(QUIZZES_BY_OWNER)
                    .map_err(internal)?
                    .remove((owner_id.as_u128(), id))
                    .map_err(internal)?;
            }
            tx.commit().map_err(internal)?;
            Ok(true)
        })
        .await
    }
}

/// The time of a stored millisecond count.
fn ms_time(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| internal(format!("corrupt time {ms}")))
}

/// The key of a room in its host's list: newest end last, so the list reads backwards.
fn host_key(result: &RoomResult) -> (u128, i64, u128) {
    (
        result.host_id.as_u128(),
        result.ended_at.timestamp_millis(),
        result.room_id.as_u128(),
    )
}
