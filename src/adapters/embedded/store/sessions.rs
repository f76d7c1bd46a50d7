//! Refresh-token families (with the index of a user's families) and tokens, and sign-in
//! failures. All of them expire: a read that meets an expired record answers as if it
//! were gone and deletes it in a write transaction of its own, re-checking there since
//! it may have changed meanwhile.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{ReadableTable, WriteTransaction};
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{LOGIN_FAILURES, REFRESH_FAMILIES, REFRESH_FAMILIES_BY_USER, REFRESH_TOKENS};
use super::txn::{encode, get_json, internal, read_json};
use questpath_actors::ports::store::{
    LoginFailures, RefreshFamily, RefreshToken, SessionStore, StoreError, StoreResult,
};

/// The family if it has not expired; an expired one is deleted with its index entry.
fn live_family(
    tx: &WriteTransaction,
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

fn put_family(tx: &WriteTransaction, family: &RefreshFamily) -> StoreResult<()> {
    let bytes = encode(family)?;
    tx.open_table(REFRESH_FAMILIES)
        .map_err(internal)?
        .insert(family.family_id.as_u128(), bytes.as_slice())
        .map_err(internal)?;
    Ok(())
}

/// The token if it has not expired; an expired one is deleted.
fn live_token(
    tx: &WriteTransaction,
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
    tx: &WriteTransaction,
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

/// Revokes every live family of the user, dropping index entries whose family is gone;
/// returns how many it revoked.
fn revoke_families_of(tx: &WriteTransaction, user: u128, now: DateTime<Utc>) -> StoreResult<u32> {
    let mut revoked = 0;
    for family_id in family_ids_of(tx, user)?.into_iter().map(Uuid::from_u128) {
        match live_family(tx, family_id, now)? {
            Some(mut family) if !family.revoked => {
                family.revoked = true;
                put_family(tx, &family)?;
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
    Ok(revoked)
}

/// The family ids of the user's index range.
fn family_ids_of(tx: &WriteTransaction, user: u128) -> StoreResult<Vec<u128>> {
    let index = tx.open_table(REFRESH_FAMILIES_BY_USER).map_err(internal)?;
    index
        .range((user, 0)..=(user, u128::MAX))
        .map_err(internal)?
        .map(|entry| entry.map(|(key, _)| key.value().1))
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)
}

#[async_trait]
impl SessionStore for EmbeddedStore {
    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()> {
        let family = family.clone();
        self.write(move |tx| {
            let taken = tx
                .open_table(REFRESH_FAMILIES)
                .map_err(internal)?
                .get(family.family_id.as_u128())
                .map_err(internal)?
                .is_some();
            if taken {
                return Err(StoreError::Conflict {
                    what: "refresh family",
                });
            }
            put_family(tx, &family)?;
            tx.open_table(REFRESH_FAMILIES_BY_USER)
                .map_err(internal)?
                .insert((family.user_id.as_u128(), family.family_id.as_u128()), ())
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn refresh_family(&self, family_id: Uuid) -> StoreResult<Option<RefreshFamily>> {
        let now = Utc::now();
        let family: Option<RefreshFamily> = self
            .read(move |tx| read_json(tx, REFRESH_FAMILIES, family_id.as_u128(), "refresh family"))
            .await?;
        match family {
            Some(f) if f.expires_at <= now => {
                self.write(move |tx| live_family(tx, family_id, now).map(drop))
                    .await?;
                Ok(None)
            }
            other => Ok(other),
        }
    }

    async fn extend_refresh_family(
        &self,
        family_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now = Utc::now();
        self.write(move |tx| {
            // A revoked family stays revoked and keeps its expiry; an expired one is gone.
            if let Some(mut family) = live_family(tx, family_id, now)?
                && !family.revoked
            {
                family.expires_at = expires_at;
                put_family(tx, &family)?;
            }
            Ok(())
        })
        .await
    }

    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<()> {
        let now = Utc::now();
        self.write(move |tx| {
            if let Some(mut family) = live_family(tx, family_id, now)?
                && !family.revoked
            {
                family.revoked = true;
                put_family(tx, &family)?;
            }
            Ok(())
        })
        .await
    }

    async fn revoke_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32> {
        let now = Utc::now();
        self.write(move |tx| revoke_families_of(tx, user_id.as_u128(), now))
            .await
    }

    async fn refresh_families_of_user(&self, user_id: Uuid) -> StoreResult<Vec<RefreshFamily>> {
        let now = Utc::now();
        let user = user_id.as_u128();
        self.read(move |tx| {
            let index = tx.open_table(REFRESH_FAMILIES_BY_USER).map_err(internal)?;
            let families = tx.open_table(REFRESH_FAMILIES).map_err(internal)?;
            let mut found = Vec::new();
            for entry in index
                .range((user, 0)..=(user, u128::MAX))
                .map_err(internal)?
            {
                let (key, _) = entry.map_err(internal)?;
                let family: Option<RefreshFamily> =
                    get_json(&families, key.value().1, "refresh family")?;
                // Expired ones read as absent (the next write that meets them deletes
                // them); ownership is checked on the family, not taken from the index.
                if let Some(family) = family.filter(|f| f.expires_at > now && f.user_id == user_id)
                {
                    found.push(family);
                }
            }
            found.sort_by_key(|f| (f.created_at, f.family_id));
            Ok(found)
        })
        .await
    }

    async fn delete_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32> {
        let user = user_id.as_u128();
        self.write(move |tx| {
            let ids = family_ids_of(tx, user)?;
            let mut families = tx.open_table(REFRESH_FAMILIES).map_err(internal)?;
            let mut index = tx.open_table(REFRESH_FAMILIES_BY_USER).map_err(internal)?;
            let mut deleted = 0;
            for id in ids {
                let family: Option<RefreshFamily> = get_json(&families, id, "refresh family")?;
                if family.is_some_and(|f| f.user_id == user_id) {
                    families.remove(id).map_err(internal)?;
                    deleted += 1;
                }
                index.remove((user, id)).map_err(internal)?;
            }
            Ok(deleted)
        })
        .await
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        let mut token = token.clone();
        self.write(move |tx| {
            let mut tokens = tx.open_table(REFRESH_TOKENS).map_err(internal)?;
            let existing: Option<RefreshToken> =
                get_json(&tokens, token.token_hash.as_str(), "refresh token")?;
            // Only consuming sets `used_at` (as on CQL, where the insert does not write
            // it): a new token is stored unused, and storing one again never makes it
            // usable again.
            token.used_at = existing.and_then(|t| t.used_at);
            let bytes = encode(&token)?;
            tokens
                .insert(token.token_hash.as_str(), bytes.as_slice())
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        let now = Utc::now();
        let hash = token_hash.to_string();
        let read_hash = hash.clone();
        let token: Option<RefreshToken> = self
            .read(move |tx| read_json(tx, REFRESH_TOKENS, read_hash.as_str(), "refresh token"))
            .await?;
        match token {
            Some(t) if t.expires_at <= now => {
                self.write(move |tx| live_token(tx, &hash, now).map(drop))
                    .await?;
                Ok(None)
            }
            other => Ok(other),
        }
    }

    async fn consume_refresh_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let now = Utc::now();
        let hash = token_hash.to_string();
        // Committed either way, so an expired token met here is pruned.
        self.write(move |tx| match live_token(tx, &hash, now)? {
            Some(mut token) if token.used_at.is_none() => {
                token.used_at = Some(at);
                let bytes = encode(&token)?;
                tx.open_table(REFRESH_TOKENS)
                    .map_err(internal)?
                    .insert(hash.as_str(), bytes.as_slice())
                    .map_err(internal)?;
                Ok(true)
            }
            // Already used, unknown or expired: nothing to consume.
            _ => Ok(false),
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
        // One write transaction: concurrent failures run one after the other, so each
        // sees the count of the one before.
        self.write(move |tx| {
            let mut table = tx.open_table(LOGIN_FAILURES).map_err(internal)?;
            let previous: Option<LoginFailures> = get_json(&table, key.as_str(), "login failures")?;
            let next = LoginFailures::after_failure(previous.as_ref(), now, window, lock_for);
            let bytes = encode(&next)?;
            table
                .insert(key.as_str(), bytes.as_slice())
                .map_err(internal)?;
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
        let read_key = key.clone();
        let failures: Option<LoginFailures> = self
            .read(move |tx| read_json(tx, LOGIN_FAILURES, read_key.as_str(), "login failures"))
            .await?;
        match failures {
            Some(f) if !f.is_current(now, window) => {
                self.write(move |tx| live_failures(tx, &key, now, window).map(drop))
                    .await?;
                Ok(None)
            }
            other => Ok(other),
        }
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        let key = key.to_string();
        self.write(move |tx| {
            tx.open_table(LOGIN_FAILURES)
                .map_err(internal)?
                .remove(key.as_str())
                .map_err(internal)?;
            Ok(())
        })
        .await
    }
}
