//! The XP ledger: grants written once, marked pending until applied everywhere.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;

/// One entry of the XP ledger: XP is handled like money, so every grant is written
/// once under a deterministic id and never changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct XpEntry {
    pub user_id: Uuid,
    /// Deterministic: the same grant asked twice has the same id.
    pub grant_id: String,
    pub amount: i64,
    /// Why it was granted (`level_first_pass`, `level_repass`, `room`).
    pub source: String,
    pub created_at: DateTime<Utc>,
}

/// What [`XpStore::retire_xp`] moved: the deleted learner's ledger, now anonymous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetiredXp {
    /// A fresh random id the entries are kept under; nothing links it to the learner.
    pub retired_id: Uuid,
    pub entries: u32,
    /// Their sum.
    pub total: i64,
}

/// One entry of a retired ledger: what was granted and when, not to whom and not the
/// grant id (grant ids name the learner's rooms and levels).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetiredXpEntry {
    pub amount: i64,
    pub source: String,
    pub created_at: DateTime<Utc>,
}

/// The XP ledger, the pending marks of grants not yet applied, and the profile's total.
#[async_trait]
pub trait XpStore: Send + Sync + 'static {
    /// Writes a grant to the ledger once: true when this call wrote it, false when
    /// the grant id was already there (a retry), even when callers race. A written grant
    /// is also marked pending until [`Self::clear_xp_pending`] says it was applied to
    /// the profile and the leaderboard. A user marked deleted
    /// ([`super::UserStore::mark_user_deleted`]) is refused: false, and no entry stays
    /// in the ledger, even when the deletion races the grant.
    async fn record_xp(&self, entry: &XpEntry) -> StoreResult<bool>;

    /// The user's whole ledger (one partition; grows by at most a few entries a day).
    async fn xp_entries(&self, user_id: Uuid) -> StoreResult<Vec<XpEntry>>;

    /// Sets the profile's total XP (always the ledger's sum, so repeating is harmless).
    async fn set_total_xp(&self, user_id: Uuid, total: i64) -> StoreResult<()>;

    /// Users with grants not yet applied everywhere (recovery after a crash), at most
    /// `limit`, each once.
    async fn xp_pending_users(&self, limit: usize) -> StoreResult<Vec<Uuid>>;

    /// The user's pending grant ids.
    async fn xp_pending(&self, user_id: Uuid) -> StoreResult<Vec<String>>;

    /// Marks these grants applied (only these: one written meanwhile stays pending).
    async fn clear_xp_pending(&self, user_id: Uuid, grant_ids: &[String]) -> StoreResult<()>;

    /// Users with at least one ledger entry (to rebuild the leaderboards), `limit` at
    /// most, each once, continuing after `after` (the last user of the previous page).
    /// The order is the store's own (CQL: token order; embedded: id order); a page
    /// shorter than `limit` is the last.
    async fn xp_users(&self, after: Option<Uuid>, limit: usize) -> StoreResult<Vec<Uuid>>;

    /// Retires a deleted learner's ledger: its entries move, without their grant ids,
    /// under a fresh random id ([`Self::retired_xp`]), so the XP ever granted still
    /// adds up while nothing of it names the learner; their pending marks are cleared,
    /// and they are no longer among [`Self::xp_users`]. Each entry moves once, even
    /// when a call fails half-way and is repeated. `None` when the ledger was empty.
    async fn retire_xp(&self, user_id: Uuid) -> StoreResult<Option<RetiredXp>>;

    /// The entries of one retired ledger, in the order they were moved.
    async fn retired_xp(&self, retired_id: Uuid) -> StoreResult<Vec<RetiredXpEntry>>;
}
