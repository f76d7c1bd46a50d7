//! The embedded store: redb, one ACID file in the data folder.
//!
//! redb's API is synchronous; every call runs on tokio's blocking pool so it never
//! stalls an async worker (`txn.rs`). Each port method is one transaction, which is what
//! makes the uniqueness checks, the single use of refresh tokens and the counting of
//! sign-in failures race-free: redb allows one write transaction at a time.
//!
//! One file per aggregate implements its port trait (`users.rs`, `sessions.rs`, `jobs.rs`,
//! `goals.rs`, `xp.rs`, `archive.rs`, `room_results.rs`, `quizzes.rs`, `notifications.rs`); the keys mirror the
//! CQL tables (see docs/data-model.md), and every table is defined in `tables.rs`.
//!
//! redb has no TTL. Records that expire (refresh families and tokens, sign-in failures)
//! read as absent once past their time, and are deleted when a method meets them, so
//! the file does not grow with dead sessions.

use std::path::Path;

use async_trait::async_trait;
use redb::{TableDefinition, WriteTransaction};

use super::database::DbHandle;
use questpath_actors::ports::store::{StoreBackend, StoreError, StoreResult};
use tables::{USERS, Visit, every_table};
use txn::internal;

mod archive;
mod backfill;
mod goals;
mod jobs;
mod leagues;
mod mail;
mod notifications;
mod quizzes;
mod room_results;
mod sessions;
mod streaks;
pub(crate) mod tables;
mod txn;
mod users;
mod xp;

/// File name of the database inside the data folder.
pub const FILE_NAME: &str = "questpath.redb";

/// A redb database shared by all handlers; closed on shutdown (`database.rs`).
#[derive(Clone)]
pub struct EmbeddedStore {
    pub(super) db: DbHandle,
}

impl EmbeddedStore {
    /// Answers `questpath audit xp` on the data folder's control socket with `handler`
    /// (the server installs its XP audit once its XP service is built).
    pub fn serve_xp_audit(&self, handler: crate::adapters::embedded::control::XpAuditHandler) {
        self.db.serve_xp_audit(handler);
    }

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
            let missing = backfill::missing(&tx)?;
            // Every table exists from the start, so read transactions can open them.
            every_table(&mut Create(&tx))?;
            // Indexes a store from before them lacks, filled in the same transaction.
            backfill::fill(&tx, &missing)?;
            tx.commit().map_err(internal)?;
            Ok(EmbeddedStore {
                db: DbHandle::new(db, &dir, path),
            })
        })
        .await
        .map_err(internal)?
    }
}

/// Creates each table it visits (opening a table in a write transaction creates it).
struct Create<'a>(&'a WriteTransaction);

impl Visit for Create<'_> {
    type Error = StoreError;

    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &mut self,
        definition: TableDefinition<K, V>,
    ) -> StoreResult<()> {
        self.0.open_table(definition).map_err(internal)?;
        Ok(())
    }
}

#[async_trait]
impl StoreBackend for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|tx| {
            tx.open_table(USERS).map_err(internal)?;
            Ok(())
        })
        .await
    }
}
