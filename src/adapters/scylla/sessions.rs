//! The sign-in tables on CQL: refresh-token families and tokens, and sign-in failures
//! (see docs/data-model.md, Q3 to Q8, W3 to W12; credentials and Google links, which
//! the same rules cover, are in `users.rs`).
//!
//! Rules kept throughout, so the same statements behave alike on ScyllaDB and Cassandra:
//! * every read is one partition;
//! * rows that expire are written `USING TTL` until their expiry plus [`TTL_MARGIN_SECS`];
//!   the expiry itself is decided by the stored `expires_at` (or window), compared with
//!   the application's clock exactly as the embedded store does, and the TTL only
//!   collects the garbage;
//! * a row that lightweight transactions (LWT) change is only ever written by LWTs (or
//!   by plain writes of other columns), so Paxos timestamps and plain write timestamps
//!   never race on one cell;
//! * no NULL is ever bound in an `IF` condition, and an LWT never creates a row it did
//!   not mean to: conditions compare with values read just before.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use super::connect::ConnectError;
use super::store::{ScyllaStore, lwt_applied, prepare, unavailable};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{
    LoginFailures, RefreshFamily, RefreshToken, SessionStore, StoreError, StoreResult,
};

/// Extra life given to expiring rows beyond their expiry: the application's clock, not
/// the nodes', decides when they expire; the TTL only removes them afterwards.
const TTL_MARGIN_SECS: i64 = 60;

/// Longest TTL written: Cassandra 5 (in its default compatibility mode) rejects
/// expirations after 2038, and nothing here should live for years anyway.
const MAX_TTL_SECS: i64 = 5 * 365 * 24 * 3600;

/// Compare-and-set attempts for one sign-in failure before giving up; each lost race
/// means another failure was counted, so even a burst settles in a few rounds.
const MAX_CAS_ATTEMPTS: u32 = 10;

/// The TTL, in seconds, of a row that must last until `until` (never 0, which would
/// mean "forever" in CQL).
pub(super) fn ttl_until(until: DateTime<Utc>) -> i32 {
    let millis = (until - Utc::now()).num_milliseconds().max(0);
    let secs = (millis + 999) / 1000 + TTL_MARGIN_SECS;
    // Clamped to MAX_TTL_SECS, which fits in an i32.
    secs.clamp(1, MAX_TTL_SECS) as i32
}

/// A short random pause before retrying a lost compare-and-set, growing with attempts,
/// so racing callers spread out instead of colliding again.
async fn backoff(attempt: u32) {
    let ceiling_ms = 5u64 << attempt.min(5);
    let ms = rand::random_range(1..=ceiling_ms);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Statements of the refresh-token tables, prepared once per session.
pub(super) struct SessionStatements {
    insert_family: PreparedStatement,
    index_family: PreparedStatement,
    family: PreparedStatement,
    extend_family: PreparedStatement,
    revoke_family: PreparedStatement,
    families_of_user: PreparedStatement,
    delete_family: PreparedStatement,
    delete_family_index: PreparedStatement,
    insert_token: PreparedStatement,
    token: PreparedStatement,
    consume_token: PreparedStatement,
}

const FAMILY_COLUMNS: &str = "family_id, user_id, created_at, expires_at, revoked";
const TOKEN_COLUMNS: &str = "token_hash, user_id, family_id, issued_at, expires_at, used_at";
const FAILURE_COLUMNS: &str = "failures, first_at, last_at, locked_until";

impl SessionStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        Ok(SessionStatements {
            insert_family: prepare(format!(
                "INSERT INTO {ks}.refresh_families ({FAMILY_COLUMNS}) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?"
            ))
            .await?,
            index_family: prepare(format!(
                "INSERT INTO {ks}.refresh_families_by_user (user_id, family_id, expires_at) VALUES (?, ?, ?) USING TTL ?"
            ))
            .await?,
            family: prepare(format!(
                "SELECT {FAMILY_COLUMNS} FROM {ks}.refresh_families WHERE family_id = ?"
            ))
            .await?,
            // Every column is rewritten so the whole row takes the new TTL; a revoked
            // (or vanished) family is left alone.
            extend_family: prepare(format!(
                "UPDATE {ks}.refresh_families USING TTL ? SET user_id = ?, created_at = ?, expires_at = ?, revoked = false WHERE family_id = ? IF revoked = false"
            ))
            .await?,
            // Conditional on the expiry read just before, so the `revoked` cell gets
            // the row's TTL even when an extension races.
            revoke_family: prepare(format!(
                "UPDATE {ks}.refresh_families USING TTL ? SET revoked = true WHERE family_id = ? IF expires_at = ?"
            ))
            .await?,
            families_of_user: prepare(format!(
                "SELECT family_id FROM {ks}.refresh_families_by_user WHERE user_id = ?"
            ))
            .await?,
            // An LWT, as every other write of a family; only the user's own.
            delete_family: prepare(format!(
                "DELETE FROM {ks}.refresh_families WHERE family_id = ? IF user_id = ?"
            ))
            .await?,
            delete_family_index: prepare(format!(
                "DELETE FROM {ks}.refresh_families_by_user WHERE user_id = ?"
            ))
            .await?,
            // `used_at` is not written: only the consuming LWT writes it.
            insert_token: prepare(format!(
                "INSERT INTO {ks}.refresh_tokens (token_hash, user_id, family_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?) USING TTL ?"
            ))
            .await?,
            token: prepare(format!(
                "SELECT {TOKEN_COLUMNS} FROM {ks}.refresh_tokens WHERE token_hash = ?"
            ))
            .await?,
            // `user_id = ?` (bound to the value just read) fails on a vanished row,
            // which `used_at = null` alone would not: the update cannot create a row.
            consume_token: prepare(format!(
                "UPDATE {ks}.refresh_tokens USING TTL ? SET used_at = ? WHERE token_hash = ? IF used_at = null AND user_id = ?"
            ))
            .await?,
        })
    }
}

/// Statements of the sign-in failure table, prepared once per session.
pub(super) struct FailureStatements {
    failures: PreparedStatement,
    failures_serial: PreparedStatement,
    insert_failures: PreparedStatement,
    update_failures: PreparedStatement,
    reset_failures: PreparedStatement,
    clear_failures: PreparedStatement,
}

impl FailureStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        // Reads that must see the outcome of an in-flight LWT run at LOCAL_SERIAL.
        let serial = |mut statement: PreparedStatement| {
            statement.set_consistency(Consistency::LocalSerial);
            statement
        };
        Ok(FailureStatements {
            failures: prepare(format!(
                "SELECT {FAILURE_COLUMNS} FROM {ks}.login_failures WHERE failure_key = ?"
            ))
            .await?,
            failures_serial: serial(
                prepare(format!(
                    "SELECT {FAILURE_COLUMNS} FROM {ks}.login_failures WHERE failure_key = ?"
                ))
                .await?,
            ),
            insert_failures: prepare(format!(
                "INSERT INTO {ks}.login_failures (failure_key, {FAILURE_COLUMNS}) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?"
            ))
            .await?,
            update_failures: prepare(format!(
                "UPDATE {ks}.login_failures USING TTL ? SET failures = ?, first_at = ?, last_at = ?, locked_until = ? WHERE failure_key = ? IF failures = ? AND first_at = ?"
            ))
            .await?,
            // For a row left without a count (its cells expired before its row marker):
            // the literal null is not a bound NULL, which Cassandra would reject.
            reset_failures: prepare(format!(
                "UPDATE {ks}.login_failures USING TTL ? SET failures = ?, first_at = ?, last_at = ?, locked_until = ? WHERE failure_key = ? IF failures = null"
            ))
            .await?,
            // An LWT too, so it is ordered with the compare-and-set updates above.
            clear_failures: prepare(format!(
                "DELETE FROM {ks}.login_failures WHERE failure_key = ? IF EXISTS"
            ))
            .await?,
        })
    }
}

#[derive(DeserializeRow)]
struct FamilyRow {
    family_id: Uuid,
    user_id: Option<Uuid>,
    created_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    revoked: Option<bool>,
}

impl FamilyRow {
    /// The family, or `None` for what is left of a row whose cells expired.
    fn into_family(self) -> Option<RefreshFamily> {
        Some(RefreshFamily {
            family_id: self.family_id,
            user_id: self.user_id?,
            created_at: self.created_at?,
            expires_at: self.expires_at?,
            // Every write sets `revoked`; a missing one fails closed.
            revoked: self.revoked.unwrap_or(true),
        })
    }
}

#[derive(DeserializeRow)]
struct TokenRow {
    token_hash: String,
    user_id: Option<Uuid>,
    family_id: Option<Uuid>,
    issued_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    used_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    fn into_token(self) -> Option<RefreshToken> {
        Some(RefreshToken {
            token_hash: self.token_hash,
            user_id: self.user_id?,
            family_id: self.family_id?,
            issued_at: self.issued_at?,
            expires_at: self.expires_at?,
            used_at: self.used_at,
        })
    }
}

#[derive(DeserializeRow)]
struct FailuresRow {
    failures: Option<i32>,
    first_at: Option<DateTime<Utc>>,
    last_at: Option<DateTime<Utc>>,
    locked_until: Option<DateTime<Utc>>,
}

/// A `login_failures` row as read for a compare-and-set.
enum StoredFailures {
    /// No row.
    Absent,
    /// A row without a count: only its row marker outlived its cells.
    Empty,
    /// A row, with the exact stored values the next update must compare with.
    Present {
        failures: i32,
        first_at: DateTime<Utc>,
        state: LoginFailures,
    },
}

impl From<Option<FailuresRow>> for StoredFailures {
    fn from(row: Option<FailuresRow>) -> Self {
        let Some(row) = row else {
            return StoredFailures::Absent;
        };
        match (row.failures, row.first_at) {
            (Some(failures), Some(first_at)) => StoredFailures::Present {
                failures,
                first_at,
                state: LoginFailures {
                    count: u32::try_from(failures).unwrap_or(0),
                    first_at,
                    last_at: row.last_at.unwrap_or(first_at),
                    locked_until: row.locked_until,
                },
            },
            _ => StoredFailures::Empty,
        }
    }
}

impl ScyllaStore {
    /// The family as stored, expired or not.
    async fn stored_family(&self, family_id: Uuid) -> StoreResult<Option<RefreshFamily>> {
        let row: Option<FamilyRow> = self.one_row(&self.sessions.family, (family_id,)).await?;
        Ok(row.and_then(FamilyRow::into_family))
    }

    /// The family unless it expired by `now`.
    async fn live_family(
        &self,
        family_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<RefreshFamily>> {
        Ok(self
            .stored_family(family_id)
            .await?
            .filter(|f| f.expires_at > now))
    }

    /// Revokes one family (only if it belongs to `owner`, when given); true if this
    /// call revoked it, false if it was unknown, expired, someone else's or already
    /// revoked.
    async fn revoke_family(&self, family_id: Uuid, owner: Option<Uuid>) -> StoreResult<bool> {
        for attempt in 0..MAX_CAS_ATTEMPTS {
            let Some(family) = self.live_family(family_id, Utc::now()).await? else {
                return Ok(false);
            };
            if family.revoked || owner.is_some_and(|owner| owner != family.user_id) {
                return Ok(false);
            }
            let result = self
                .session
                .execute_unpaged(
                    &self.sessions.revoke_family,
                    (ttl_until(family.expires_at), family_id, family.expires_at),
                )
                .await
                .map_err(unavailable)?;
            if lwt_applied(result)? {
                return Ok(true);
            }
            // Extended (or expired) since the read: read again.
            backoff(attempt).await;
        }
        Err(StoreError::Unavailable(format!(
            "refresh family {family_id} kept changing while being revoked"
        )))
    }

    /// The token unless it expired by `now`.
    async fn live_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<RefreshToken>> {
        let row: Option<TokenRow> = self.one_row(&self.sessions.token, (token_hash,)).await?;
        Ok(row
            .and_then(TokenRow::into_token)
            .filter(|t| t.expires_at > now))
    }
}

#[async_trait]
impl SessionStore for ScyllaStore {
    // ---- refresh families ----

    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()> {
        let ttl = ttl_until(family.expires_at);
        // The index first: an index entry without its family is skipped when read,
        // while a family missing from the index would escape "log out everywhere".
        self.session
            .execute_unpaged(
                &self.sessions.index_family,
                (family.user_id, family.family_id, family.expires_at, ttl),
            )
            .await
            .map_err(unavailable)?;
        let result = self
            .session
            .execute_unpaged(
                &self.sessions.insert_family,
                (
                    family.family_id,
                    family.user_id,
                    family.created_at,
                    family.expires_at,
                    family.revoked,
                    ttl,
                ),
            )
            .await
            .map_err(unavailable)?;
        if lwt_applied(result)? {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                what: "refresh family",
            })
        }
    }

    async fn refresh_family(&self, family_id: Uuid) -> StoreResult<Option<RefreshFamily>> {
        self.live_family(family_id, Utc::now()).await
    }

    async fn extend_refresh_family(
        &self,
        family_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let Some(family) = self.live_family(family_id, Utc::now()).await? else {
            return Ok(());
        };
        if family.revoked {
            return Ok(());
        }
        let ttl = ttl_until(expires_at);
        let result = self
            .session
            .execute_unpaged(
                &self.sessions.extend_family,
                (
                    ttl,
                    family.user_id,
                    family.created_at,
                    expires_at,
                    family_id,
                ),
            )
            .await
            .map_err(unavailable)?;
        // Not applied: revoked meanwhile, which an extension must not undo.
        if lwt_applied(result)? {
            self.session
                .execute_unpaged(
                    &self.sessions.index_family,
                    (family.user_id, family_id, expires_at, ttl),
                )
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<()> {
        self.revoke_family(family_id, None).await.map(drop)
    }

    async fn revoke_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32> {
        // One partition, bounded: its entries expire with their families.
        let family_ids = self
            .all_rows::<(Uuid,)>(&self.sessions.families_of_user, (user_id,))
            .await?;
        let mut revoked = 0;
        for (family_id,) in family_ids {
            // Ownership is checked on the family itself, not taken from the index.
            if self.revoke_family(family_id, Some(user_id)).await? {
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    async fn refresh_families_of_user(&self, user_id: Uuid) -> StoreResult<Vec<RefreshFamily>> {
        let now = Utc::now();
        let family_ids = self
            .all_rows::<(Uuid,)>(&self.sessions.families_of_user, (user_id,))
            .await?;
        let mut families = Vec::new();
        for (family_id,) in family_ids {
            // Ownership is checked on the family itself, not taken from the index.
            if let Some(family) = self
                .live_family(family_id, now)
                .await?
                .filter(|f| f.user_id == user_id)
            {
                families.push(family);
            }
        }
        families.sort_by_key(|f| (f.created_at, f.family_id));
        Ok(families)
    }

    async fn delete_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32> {
        let family_ids = self
            .all_rows::<(Uuid,)>(&self.sessions.families_of_user, (user_id,))
            .await?;
        let mut deleted = 0;
        for (family_id,) in family_ids {
            let result = self
                .session
                .execute_unpaged(&self.sessions.delete_family, (family_id, user_id))
                .await
                .map_err(unavailable)?;
            if lwt_applied(result)? {
                deleted += 1;
            }
        }
        // The index last: a deletion that fails half-way still finds the rest.
        self.run(&self.sessions.delete_family_index, (user_id,))
            .await?;
        Ok(deleted)
    }

    // ---- refresh tokens ----

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        self.session
            .execute_unpaged(
                &self.sessions.insert_token,
                (
                    &token.token_hash,
                    token.user_id,
                    token.family_id,
                    token.issued_at,
                    token.expires_at,
                    ttl_until(token.expires_at),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        self.live_token(token_hash, Utc::now()).await
    }

    async fn consume_refresh_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // Read first: an unknown, expired or used token is never written, so no row
        // is ever created by consuming.
        let Some(token) = self.live_token(token_hash, Utc::now()).await? else {
            return Ok(false);
        };
        if token.used_at.is_some() {
            return Ok(false);
        }
        let result = self
            .session
            .execute_unpaged(
                &self.sessions.consume_token,
                (ttl_until(token.expires_at), at, token_hash, token.user_id),
            )
            .await
            .map_err(unavailable)?;
        lwt_applied(result)
    }

    // ---- sign-in failures ----

    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> StoreResult<LoginFailures> {
        // Compare-and-set: read (serially, so an in-flight update is seen), compute the
        // next state, write it only if the row is still what was read. A lost race
        // means another failure was counted; read again and count on top of it.
        for attempt in 0..MAX_CAS_ATTEMPTS {
            let row: Option<FailuresRow> = self
                .one_row(&self.login_failures.failures_serial, (key,))
                .await?;
            let stored = StoredFailures::from(row);
            let previous = match &stored {
                StoredFailures::Present { state, .. } => Some(state),
                _ => None,
            };
            let next = LoginFailures::after_failure(previous, now, window, lock_for);
            let ttl = ttl_until(next.current_until(window));
            let count = i32::try_from(next.count).unwrap_or(i32::MAX);
            let set = (count, next.first_at, next.last_at, next.locked_until);
            let result = match stored {
                StoredFailures::Absent => {
                    self.session
                        .execute_unpaged(
                            &self.login_failures.insert_failures,
                            (key, set.0, set.1, set.2, set.3, ttl),
                        )
                        .await
                }
                StoredFailures::Empty => {
                    self.session
                        .execute_unpaged(
                            &self.login_failures.reset_failures,
                            (ttl, set.0, set.1, set.2, set.3, key),
                        )
                        .await
                }
                StoredFailures::Present {
                    failures, first_at, ..
                } => {
                    self.session
                        .execute_unpaged(
                            &self.login_failures.update_failures,
                            (ttl, set.0, set.1, set.2, set.3, key, failures, first_at),
                        )
                        .await
                }
            }
            .map_err(unavailable)?;
            if lwt_applied(result)? {
                return Ok(next);
            }
            backoff(attempt).await;
        }
        Err(StoreError::Unavailable(format!(
            "too many concurrent sign-in failures on one key to count ({MAX_CAS_ATTEMPTS} attempts)"
        )))
    }

    async fn login_failures(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<Option<LoginFailures>> {
        let row: Option<FailuresRow> = self.one_row(&self.login_failures.failures, (key,)).await?;
        Ok(match StoredFailures::from(row) {
            StoredFailures::Present { state, .. } if state.is_current(now, window) => Some(state),
            _ => None,
        })
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        // Not applied only when there was nothing to clear.
        self.session
            .execute_unpaged(&self.login_failures.clear_failures, (key,))
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
