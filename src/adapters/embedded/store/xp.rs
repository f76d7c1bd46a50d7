//! The XP ledger mirrors the CQL keys: a user's grants are one key range of `xp_ledger`,
//! keyed by (user, grant id); grants not yet applied to the profile and the leaderboard
//! are keys of `xp_pending`. Writing a grant (ledger and pending mark) is one
//! transaction, so a grant is never in one without the other; it checks there that the
//! user is not marked deleted, and retiring a deleted learner's ledger (moving it to
//! `xp_retired`) is one transaction too, so no grant slips between the two.

use async_trait::async_trait;
use redb::ReadableTable;
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{DELETED_USERS, USERS, XP_LEDGER, XP_PENDING, XP_RETIRED};
use super::txn::{Txn, decode, decode_values, encode, internal};
use super::users::is_deleted;
use questpath_actors::ports::store::{
    RetiredXp, RetiredXpEntry, StoreResult, User, XpEntry, XpStore,
};

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

/// Up to `limit` users with keys in `table` (`xp_ledger` or `xp_pending`), each once,
/// in id order from `from` (`None`: past the greatest id, so none). One short range read
/// per user, each starting past the previous user's grants, so a user with many grants
/// is read once and a long table is never walked.
fn users_from<V: redb::Value + 'static>(
    table: &impl ReadableTable<(u128, &'static str), V>,
    mut from: Option<u128>,
    limit: usize,
) -> StoreResult<Vec<Uuid>> {
    let mut users = Vec::new();
    while users.len() < limit {
        let Some(start) = from else {
            break;
        };
        let Some(item) = table.range((start, "")..).map_err(internal)?.next() else {
            break;
        };
        let user = item.map_err(internal)?.0.value().0;
        users.push(Uuid::from_u128(user));
        // None past the greatest id: nothing can follow it.
        from = user.checked_add(1);
    }
    Ok(users)
}

#[async_trait]
impl XpStore for EmbeddedStore {
    async fn record_xp(&self, entry: &XpEntry) -> StoreResult<bool> {
        let entry = entry.clone();
        let bytes = encode(&entry)?;
        // One write transaction (redb runs them one at a time): of racing callers,
        // exactly one finds the grant absent, and it writes the ledger entry and its
        // pending mark together.
        self.write_or_abort(move |tx| {
            let key = (entry.user_id.as_u128(), entry.grant_id.as_str());
            let deleted = tx.open_table(DELETED_USERS).map_err(internal)?;
            if is_deleted(&deleted, entry.user_id.as_u128())? {
                return Ok(Txn::Abort(false));
            }
            let mut ledger = tx.open_table(XP_LEDGER).map_err(internal)?;
            if ledger.get(key).map_err(internal)?.is_some() {
                // A retry: the first write marked it pending; nothing changes.
                return Ok(Txn::Abort(false));
            }
            ledger.insert(key, bytes.as_slice()).map_err(internal)?;
            tx.open_table(XP_PENDING)
                .map_err(internal)?
                .insert(key, ())
                .map_err(internal)?;
            Ok(Txn::Commit(true))
        })
        .await
    }

    async fn xp_entries(&self, user_id: Uuid) -> StoreResult<Vec<XpEntry>> {
        self.scan(move |tx| {
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
        self.update(USERS, user_id.as_u128(), "user", move |user: &mut User| {
            user.total_xp = total
        })
        .await
        .map(drop)
    }

    async fn xp_pending_users(&self, limit: usize) -> StoreResult<Vec<Uuid>> {
        self.scan(move |tx| {
            let pending = tx.open_table(XP_PENDING).map_err(internal)?;
            users_from(&pending, Some(0), limit)
        })
        .await
    }

    async fn xp_pending(&self, user_id: Uuid) -> StoreResult<Vec<String>> {
        self.read(move |tx| {
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
        self.write(move |tx| {
            let mut pending = tx.open_table(XP_PENDING).map_err(internal)?;
            for grant_id in &grant_ids {
                pending
                    .remove((user_id.as_u128(), grant_id.as_str()))
                    .map_err(internal)?;
            }
            Ok(())
        })
        .await
    }

    async fn xp_users(&self, after: Option<Uuid>, limit: usize) -> StoreResult<Vec<Uuid>> {
        let from = match after {
            Some(user) => user.as_u128().checked_add(1),
            None => Some(0),
        };
        self.scan(move |tx| {
            let ledger = tx.open_table(XP_LEDGER).map_err(internal)?;
            users_from(&ledger, from, limit)
        })
        .await
    }

    async fn retire_xp(&self, user_id: Uuid) -> StoreResult<Option<RetiredXp>> {
        let retired_id = Uuid::new_v4();
        // One write transaction: every entry moves, or none does.
        self.write_or_abort(move |tx| {
            let mut ledger = tx.open_table(XP_LEDGER).map_err(internal)?;
            let mut grants: Vec<(String, RetiredXpEntry)> = Vec::new();
            user_grants(&ledger, user_id, |grant_id, bytes| {
                let entry: XpEntry = decode(bytes, "xp entry")?;
                grants.push((
                    grant_id.to_string(),
                    RetiredXpEntry {
                        amount: entry.amount,
                        source: entry.source,
                        created_at: entry.created_at,
                    },
                ));
                Ok(())
            })?;
            let mut pending = tx.open_table(XP_PENDING).map_err(internal)?;
            let mut pending_ids = Vec::new();
            user_grants(&pending, user_id, |grant_id, _| {
                pending_ids.push(grant_id.to_string());
                Ok(())
            })?;
            for grant_id in &pending_ids {
                pending
                    .remove((user_id.as_u128(), grant_id.as_str()))
                    .map_err(internal)?;
            }
            if grants.is_empty() {
                return Ok(if pending_ids.is_empty() {
                    Txn::Abort(None)
                } else {
                    Txn::Commit(None)
                });
            }
            let mut retired = tx.open_table(XP_RETIRED).map_err(internal)?;
            let mut total = 0i64;
            for (position, (grant_id, entry)) in grants.iter().enumerate() {
                let position = u32::try_from(position).map_err(internal)?;
                total = total.saturating_add(entry.amount);
                retired
                    .insert((retired_id.as_u128(), position), encode(entry)?.as_slice())
                    .map_err(internal)?;
                ledger
                    .remove((user_id.as_u128(), grant_id.as_str()))
                    .map_err(internal)?;
            }
            Ok(Txn::Commit(Some(RetiredXp {
                retired_id,
                entries: u32::try_from(grants.len()).map_err(internal)?,
                total,
            })))
        })
        .await
    }

    async fn retired_xp(&self, retired_id: Uuid) -> StoreResult<Vec<RetiredXpEntry>> {
        let id = retired_id.as_u128();
        self.scan(move |tx| {
            let retired = tx.open_table(XP_RETIRED).map_err(internal)?;
            decode_values(
                retired.range((id, 0)..=(id, u32::MAX)).map_err(internal)?,
                "retired xp entry",
            )
        })
        .await
    }
}
