//! The transactions and records every aggregate shares: helpers run a read (on the
//! caller's thread, or on the blocking pool for scans) or a write (on the blocking pool:
//! begin, run the body, commit or abort, map the errors),
//! and records are JSON values of the port's entities.

use std::borrow::Borrow;

use redb::{
    AccessGuard, Database, Key, ReadTransaction, ReadableDatabase, ReadableTable, StorageError,
    TableDefinition, WriteTransaction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::EmbeddedStore;
use questpath_actors::ports::store::{StoreError, StoreResult};

/// What the body of a write transaction decided.
pub(super) enum Txn<T> {
    /// Commit what the body wrote, then return `T`.
    Commit(T),
    /// Nothing to write (a retry, an unknown record, a full list): abort, return `T`.
    Abort(T),
}

impl EmbeddedStore {
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

    /// Runs `body` in one read transaction on the caller's thread: a consistent snapshot
    /// of every table. For reads of a few records (by key, or one bounded page): over
    /// redb's cached pages they take microseconds, less than the two thread hand-offs
    /// of the blocking pool, which were most of an authenticated request's CPU
    /// (`docs/performance.md`, "Reads").
    pub(super) async fn read<T, F>(&self, body: F) -> StoreResult<T>
    where
        F: FnOnce(&ReadTransaction) -> StoreResult<T>,
    {
        let db = self.db.get()?;
        body(&db.begin_read().map_err(internal)?)
    }

    /// Runs `body` in one read transaction on the blocking pool: for reads that walk
    /// many records (a batch, every entry of a learner, a cohort, an archive), which
    /// must not hold up the thread's other requests and sockets.
    pub(super) async fn scan<T, F>(&self, body: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> StoreResult<T> + Send + 'static,
    {
        self.blocking(move |db| body(&db.begin_read().map_err(internal)?))
            .await
    }

    /// Runs `body` in one write transaction and commits it; an error aborts it.
    pub(super) async fn write<T, F>(&self, body: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    {
        self.write_or_abort(move |tx| body(tx).map(Txn::Commit))
            .await
    }

    /// Runs `body` in one write transaction, committed or aborted as it decides (an
    /// error aborts it too). Writers run one at a time, so what the body reads cannot
    /// change before it commits.
    pub(super) async fn write_or_abort<T, F>(&self, body: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> StoreResult<Txn<T>> + Send + 'static,
    {
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(internal)?;
            match body(&tx)? {
                Txn::Commit(value) => {
                    tx.commit().map_err(internal)?;
                    Ok(value)
                }
                // Dropping the transaction aborts it.
                Txn::Abort(value) => Ok(value),
            }
        })
        .await
    }

    /// Reads the JSON record under `id`, changes it with `change` and writes it back, in
    /// one write transaction; `None` (and nothing written) when there is no such record,
    /// so an update never creates one.
    pub(super) async fn update<T, F>(
        &self,
        table: TableDefinition<'static, u128, &'static [u8]>,
        id: u128,
        what: &'static str,
        change: F,
    ) -> StoreResult<Option<T>>
    where
        T: DeserializeOwned + Serialize + Send + 'static,
        F: FnOnce(&mut T) + Send + 'static,
    {
        self.write_or_abort(move |tx| {
            let mut records = tx.open_table(table).map_err(internal)?;
            let record: Option<T> = get_json(&records, id, what)?;
            let Some(mut record) = record else {
                return Ok(Txn::Abort(None));
            };
            change(&mut record);
            let bytes = encode(&record)?;
            records.insert(id, bytes.as_slice()).map_err(internal)?;
            Ok(Txn::Commit(Some(record)))
        })
        .await
    }
}

pub(super) fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

pub(super) fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(internal)
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> StoreResult<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Internal(format!("corrupt {what} record: {e}")))
}

/// Reads and decodes one JSON value.
pub(super) fn get_json<'k, K, T>(
    table: &impl ReadableTable<K, &'static [u8]>,
    key: impl Borrow<K::SelfType<'k>>,
    what: &str,
) -> StoreResult<Option<T>>
where
    K: Key + 'static,
    T: DeserializeOwned,
{
    match table.get(key).map_err(internal)? {
        Some(bytes) => decode(bytes.value(), what).map(Some),
        None => Ok(None),
    }
}

/// Opens `table` in a read transaction and reads one JSON value of it.
pub(super) fn read_json<'k, K, T>(
    tx: &ReadTransaction,
    table: TableDefinition<K, &'static [u8]>,
    key: impl Borrow<K::SelfType<'k>>,
    what: &str,
) -> StoreResult<Option<T>>
where
    K: Key + 'static,
    T: DeserializeOwned,
{
    get_json(&tx.open_table(table).map_err(internal)?, key, what)
}

/// Decodes the JSON values of a key range (or of any run of entries), in its order.
pub(super) fn decode_values<'a, K, T>(
    entries: impl Iterator<
        Item = Result<(AccessGuard<'a, K>, AccessGuard<'a, &'static [u8]>), StorageError>,
    >,
    what: &str,
) -> StoreResult<Vec<T>>
where
    K: Key + 'static,
    T: DeserializeOwned,
{
    entries
        .map(|entry| {
            let (_, bytes) = entry.map_err(internal)?;
            decode(bytes.value(), what)
        })
        .collect()
}
