//! Backups of the embedded store: a consistent snapshot written to a new redb file, and
//! its restore into an empty data folder.
//!
//! A snapshot is a copy of every table made inside **one read transaction**, so it is the
//! store as of one commit; redb's readers never block its writer, so the server keeps
//! writing while it runs (the pages the snapshot reads are kept until it ends). It is
//! written to a temporary file next to the destination, in chunks, the last commit adding
//! a manifest (the entries of every table); the file is then reopened with redb's
//! integrity check (every page's checksum), compared with the manifest, synced and
//! renamed into place. A file that fails any of this is never left at the destination.
//!
//! The copy is typed: redb checks a table's key and value types when it is opened, and
//! orders keys by their type, so it goes through the store's own list of tables with
//! their types (`store/tables.rs`). A table of the file the list lacks (written by
//! another release) stops the backup with an error rather than leaving it out, and a
//! test checks that the list and the tables of a new store are the same.
//!
//! A restore checks the file the same way (integrity, manifest, every table's entries)
//! before the store appears in the data folder: redb rolls a file whose last commit is
//! damaged back to the commit before, so the integrity check alone would let a damaged
//! backup through as an older, partial one; the manifest, written in the last commit,
//! catches that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use redb::{
    Database, DatabaseError, Durability, Key, ReadTransaction, ReadableDatabase,
    ReadableTableMetadata, TableDefinition, TableError, TableHandle, Value,
};

use super::store::FILE_NAME;
use super::store::tables::{Visit, every_table};

/// The table holding a backup's manifest (only in backup files; a restore removes it).
const MANIFEST: TableDefinition<&str, &str> = TableDefinition::new("questpath_backup");
const MANIFEST_KEY: &str = "manifest";
/// Version of the manifest's format.
const FORMAT: u32 = 1;
/// A chunk of the copy is committed after this many bytes of keys and values, so the
/// copy's memory stays bounded whatever the store's size.
const CHUNK_BYTES: usize = 32 * 1024 * 1024;
/// Page cache of the files a backup writes and checks (redb's default is 1 GiB).
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// What went wrong, and whose move it is.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The operator named something unusable (a destination that exists, a folder that is
    /// not empty, a file that is not a valid backup, no store to back up): exit status 2.
    #[error("{0}")]
    Operator(String),
    /// The server could not be reached, or failed: exit status 1.
    #[error("{0}")]
    Failed(String),
}

impl BackupError {
    pub fn is_operator_error(&self) -> bool {
        matches!(self, BackupError::Operator(_))
    }
}

fn failed<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> BackupError + '_ {
    move |e| BackupError::Failed(format!("{what}: {e}"))
}

/// What a backup wrote.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SnapshotReport {
    pub path: PathBuf,
    pub tables: usize,
    pub entries: u64,
    pub bytes: u64,
    /// Time spent copying, which is how long the snapshot's read transaction was open.
    pub copy_ms: u64,
    /// Time spent checking the written file.
    pub verify_ms: u64,
}

/// The manifest of a backup file, written in its last commit.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub questpath_version: String,
    /// Entries of every table copied, by name.
    pub tables: BTreeMap<String, u64>,
}

impl Manifest {
    pub fn entries(&self) -> u64 {
        self.tables.values().sum()
    }
}

/// The names of every table the backup knows.
fn known_tables() -> Vec<String> {
    struct Names(Vec<String>);
    impl Visit for Names {
        type Error = std::convert::Infallible;

        fn table<K: Key + 'static, V: Value + 'static>(
            &mut self,
            definition: TableDefinition<K, V>,
        ) -> Result<(), Self::Error> {
            self.0.push(definition.name().to_string());
            Ok(())
        }
    }
    let mut names = Names(Vec::new());
    let Ok(()) = every_table(&mut names);
    names.0
}

/// Fails on a table of the file that the backup does not know (besides the manifest).
fn check_no_unknown_tables(tx: &ReadTransaction, what: &str) -> Result<(), BackupError> {
    let known = known_tables();
    for table in tx.list_tables().map_err(failed("cannot list tables"))? {
        let name = table.name();
        if name != MANIFEST.name() && !known.iter().any(|k| k == name) {
            return Err(BackupError::Failed(format!(
                "{what} has a table this questpath does not know ({name}): use the questpath release that wrote it"
            )));
        }
    }
    Ok(())
}

/// Deletes a partly written file unless disarmed.
struct Partial(Option<PathBuf>);

impl Partial {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Writes a snapshot of `source` to `dest` (an absolute path that must not exist yet).
/// `stop` is asked between chunks; when it says so the backup ends with an error and
/// leaves nothing behind. `source` is released as soon as the copy is done.
pub(crate) fn write_snapshot(
    source: Arc<Database>,
    dest: &Path,
    stop: &dyn Fn() -> bool,
) -> Result<SnapshotReport, BackupError> {
    let (dir, name) = match (dest.parent(), dest.file_name()) {
        (Some(dir), Some(name)) if dest.is_absolute() => (dir, name.to_string_lossy()),
        _ => {
            return Err(BackupError::Operator(format!(
                "{} is not a file path",
                dest.display()
            )));
        }
    };
    if dest.exists() {
        return Err(BackupError::Operator(format!(
            "{} already exists: name a new file",
            dest.display()
        )));
    }
    if !dir.is_dir() {
        return Err(BackupError::Operator(format!(
            "folder {} does not exist",
            dir.display()
        )));
    }
    let temp = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        // A backup holds what the store holds: owner-only from the start.
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(&temp)
        .map_err(|e| BackupError::Operator(format!("cannot create {}: {e}", temp.display())))?;
    let partial = Partial(Some(temp.clone()));

    let started = Instant::now();
    let manifest = copy_snapshot(source, &temp, stop)?;
    let copy_ms = started.elapsed().as_millis() as u64;

    let checked = Instant::now();
    let (target, found) = verify(&temp)
        .map_err(|e| BackupError::Failed(format!("the backup file fails its own check: {e}")))?;
    target
        .close()
        .map_err(failed("cannot close the backup file"))?;
    if found.tables != manifest.tables {
        return Err(BackupError::Failed(
            "the backup file does not read back as written".into(),
        ));
    }
    sync_file(&temp)?;
    std::fs::rename(&temp, dest)
        .map_err(|e| BackupError::Failed(format!("cannot rename to {}: {e}", dest.display())))?;
    partial.keep();
    sync_dir(dir);
    let bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    Ok(SnapshotReport {
        path: dest.to_path_buf(),
        tables: manifest.tables.len(),
        entries: manifest.entries(),
        bytes,
        copy_ms,
        verify_ms: checked.elapsed().as_millis() as u64,
    })
}

/// Copies every table of `source` (one read transaction) into a new redb file at
/// `temp`, then adds the manifest in a last, durable commit and closes the file.
/// `source` is released as soon as the copy is done.
fn copy_snapshot(
    source: Arc<Database>,
    temp: &Path,
    stop: &dyn Fn() -> bool,
) -> Result<Manifest, BackupError> {
    let target = Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create(temp)
        .map_err(failed("cannot create the backup file"))?;
    let read = source
        .begin_read()
        .map_err(failed("cannot start the snapshot"))?;
    check_no_unknown_tables(&read, "the store")?;
    let mut copy = Copy {
        read: &read,
        target: &target,
        stop,
        tables: BTreeMap::new(),
    };
    every_table(&mut copy)?;
    let tables = copy.tables;
    drop(read);
    drop(source);
    let manifest = Manifest {
        format: FORMAT,
        created_at: chrono::Utc::now(),
        questpath_version: env!("CARGO_PKG_VERSION").to_string(),
        tables,
    };
    let json = serde_json::to_string(&manifest).map_err(failed("manifest"))?;
    // The last commit, durable: it makes every chunk before it durable too.
    let tx = target.begin_write().map_err(failed("backup write"))?;
    {
        let mut table = tx.open_table(MANIFEST).map_err(failed("backup write"))?;
        table
            .insert(MANIFEST_KEY, json.as_str())
            .map_err(failed("backup write"))?;
    }
    tx.commit().map_err(failed("backup commit"))?;
    target
        .close()
        .map_err(failed("cannot close the backup file"))?;
    Ok(manifest)
}

/// Copies each table from the snapshot into the backup file.
struct Copy<'a> {
    read: &'a ReadTransaction,
    target: &'a Database,
    stop: &'a dyn Fn() -> bool,
    tables: BTreeMap<String, u64>,
}

impl Visit for Copy<'_> {
    type Error = BackupError;

    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        definition: TableDefinition<K, V>,
    ) -> Result<(), BackupError> {
        let name = definition.name().to_string();
        let source = match self.read.open_table(definition) {
            Ok(table) => table,
            // A store from before this table existed.
            Err(TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(BackupError::Failed(format!("table {name}: {e}"))),
        };
        let expected = source.len().map_err(failed(&name))?;
        let mut rows = redb::ReadableTable::iter(&source).map_err(failed(&name))?;
        let mut copied = 0u64;
        loop {
            if (self.stop)() {
                return Err(BackupError::Failed(
                    "the server is shutting down: backup abandoned".into(),
                ));
            }
            let mut tx = self.target.begin_write().map_err(failed(&name))?;
            // Only the last commit needs to reach the disk: it carries the earlier ones.
            tx.set_durability(Durability::None).map_err(failed(&name))?;
            let mut done = false;
            {
                let mut table = tx.open_table(definition).map_err(failed(&name))?;
                let mut bytes = 0usize;
                while bytes < CHUNK_BYTES {
                    let Some(row) = rows.next() else {
                        done = true;
                        break;
                    };
                    let (key, value) = row.map_err(failed(&name))?;
                    let (key, value) = (key.value(), value.value());
                    bytes += K::as_bytes(&key).as_ref().len() + V::as_bytes(&value).as_ref().len();
                    table.insert(&key, &value).map_err(failed(&name))?;
                    copied += 1;
                }
            }
            tx.commit().map_err(failed(&name))?;
            if done {
                break;
            }
        }
        if copied != expected {
            return Err(BackupError::Failed(format!(
                "table {name}: copied {copied} entries of {expected}"
            )));
        }
        self.tables.insert(name, copied);
        Ok(())
    }
}

/// Counts each table's entries, checking that it opens with its types.
struct Count<'a> {
    read: &'a ReadTransaction,
    tables: BTreeMap<String, u64>,
}

impl Visit for Count<'_> {
    type Error = BackupError;

    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        definition: TableDefinition<K, V>,
    ) -> Result<(), BackupError> {
        let name = definition.name().to_string();
        match self.read.open_table(definition) {
            Ok(table) => {
                let entries = table.len().map_err(failed(&name))?;
                self.tables.insert(name, entries);
                Ok(())
            }
            Err(TableError::TableDoesNotExist(_)) => Ok(()),
            Err(e) => Err(BackupError::Failed(format!("table {name}: {e}"))),
        }
    }
}

/// Opens a backup file with redb's integrity check, reads its manifest and checks every
/// table against it. Returns the open file and the entries found.
fn verify(path: &Path) -> Result<(Database, Manifest), BackupError> {
    let corrupt = |e: &dyn std::fmt::Display| BackupError::Operator(format!("{e}"));
    // A damaged file must be an error, never a crash of the command.
    let opened = std::panic::catch_unwind(|| {
        Database::builder()
            .set_cache_size(CACHE_BYTES)
            .set_check_integrity_on_open(true)
            .open(path)
    })
    .map_err(|_| BackupError::Operator("the file is damaged (redb could not read it)".into()))?;
    let db = match opened {
        Ok(db) => db,
        Err(DatabaseError::Storage(e)) => return Err(corrupt(&e)),
        Err(e) => return Err(corrupt(&e)),
    };
    let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> Result<Manifest, BackupError> {
            let read = db.begin_read().map_err(|e| corrupt(&e))?;
            let manifest: Manifest = {
                let table = match read.open_table(MANIFEST) {
                    Ok(table) => table,
                    Err(TableError::TableDoesNotExist(_)) => {
                        return Err(BackupError::Operator(
                            "it has no backup manifest: not a complete file written by `questpath backup`"
                                .into(),
                        ));
                    }
                    Err(e) => return Err(corrupt(&e)),
                };
                let json = table
                    .get(MANIFEST_KEY)
                    .map_err(|e| corrupt(&e))?
                    .ok_or_else(|| BackupError::Operator("its manifest is empty".into()))?;
                serde_json::from_str(json.value())
                    .map_err(|e| BackupError::Operator(format!("its manifest is unreadable: {e}")))?
            };
            if manifest.format != FORMAT {
                return Err(BackupError::Operator(format!(
                    "its format {} is not {FORMAT}: use the questpath release that wrote it",
                    manifest.format
                )));
            }
            check_no_unknown_tables(&read, "the backup")
                .map_err(|e| BackupError::Operator(e.to_string()))?;
            let mut count = Count {
                read: &read,
                tables: BTreeMap::new(),
            };
            every_table(&mut count).map_err(|e| BackupError::Operator(e.to_string()))?;
            if count.tables != manifest.tables {
                return Err(BackupError::Operator(
                    "its tables do not match its manifest (a damaged or partial file)".into(),
                ));
            }
            Ok(manifest)
        },
    ))
    .map_err(|_| BackupError::Operator("the file is damaged (redb could not read it)".into()))??;
    Ok((db, checked))
}

/// What a restore put in place.
#[derive(Debug)]
pub struct RestoreReport {
    pub path: PathBuf,
    pub manifest: Manifest,
}

/// Restores a backup file into `data_dir`, which must be empty or missing. The file is
/// checked in full before the store appears in the folder.
pub fn restore(backup: &Path, data_dir: &Path) -> Result<RestoreReport, BackupError> {
    if !backup.is_file() {
        return Err(BackupError::Operator(format!(
            "{} is not a file",
            backup.display()
        )));
    }
    match std::fs::read_dir(data_dir) {
        Ok(mut entries) => {
            if let Some(entry) = entries.next() {
                let name = entry
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .unwrap_or_default();
                return Err(BackupError::Operator(format!(
                    "data folder {} is not empty ({name}...): restore only into an empty folder (QUESTPATH_DATA_DIR)",
                    data_dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).map_err(|e| {
                BackupError::Operator(format!("cannot create {}: {e}", data_dir.display()))
            })?;
        }
        Err(e) => {
            return Err(BackupError::Operator(format!(
                "cannot read data folder {}: {e}",
                data_dir.display()
            )));
        }
    }
    let temp = data_dir.join(format!(".{FILE_NAME}.restoring"));
    let partial = Partial(Some(temp.clone()));
    std::fs::copy(backup, &temp)
        .map_err(|e| BackupError::Operator(format!("cannot copy {}: {e}", backup.display())))?;
    // The copy keeps the backup's mode, which may be older than the owner-only rule.
    super::database::restrict_to_owner(&temp);
    let (db, manifest) = verify(&temp).map_err(|e| match e {
        BackupError::Operator(why) => {
            BackupError::Operator(format!("{} is not a valid backup: {why}", backup.display()))
        }
        other => other,
    })?;
    // The store is the snapshot alone.
    let tx = db.begin_write().map_err(failed("restore"))?;
    tx.delete_table(MANIFEST).map_err(failed("restore"))?;
    tx.commit().map_err(failed("restore"))?;
    db.close().map_err(failed("restore"))?;
    sync_file(&temp)?;
    let path = data_dir.join(FILE_NAME);
    std::fs::rename(&temp, &path)
        .map_err(|e| BackupError::Failed(format!("cannot rename to {}: {e}", path.display())))?;
    partial.keep();
    sync_dir(data_dir);
    Ok(RestoreReport { path, manifest })
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| BackupError::Failed(format!("cannot sync {}: {e}", path.display())))
}

/// Makes a rename durable (best effort: not every filesystem syncs a folder).
fn sync_dir(dir: &Path) {
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// Backs up the store in `data_dir` to `dest`: through the control socket of the process
/// that holds it, or by opening it when none does.
pub fn backup(data_dir: &Path, dest: &Path) -> Result<(SnapshotReport, Via), BackupError> {
    let dest = std::path::absolute(dest)
        .map_err(|e| BackupError::Operator(format!("{}: {e}", dest.display())))?;
    if dest.exists() {
        return Err(BackupError::Operator(format!(
            "{} already exists: name a new file",
            dest.display()
        )));
    }
    if let Some(report) = super::control::request_backup(data_dir, &dest)? {
        return Ok((report, Via::Server));
    }
    let file = data_dir.join(FILE_NAME);
    if !file.is_file() {
        return Err(BackupError::Operator(format!(
            "no embedded store at {} (QUESTPATH_DATA_DIR)",
            file.display()
        )));
    }
    let db = match super::database::open_file(&file, false) {
        Ok(db) => db,
        Err(DatabaseError::DatabaseAlreadyOpen) => {
            return Err(BackupError::Failed(format!(
                "{} is held by a running process that does not answer on {}",
                file.display(),
                data_dir.join(super::control::SOCKET_NAME).display()
            )));
        }
        Err(e) => {
            return Err(BackupError::Failed(format!(
                "cannot open {}: {e}",
                file.display()
            )));
        }
    };
    let report = write_snapshot(Arc::new(db), &dest, &|| false)?;
    Ok((report, Via::Direct))
}

/// How a backup was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// By the running server, through its control socket.
    Server,
    /// By this command, with no server running.
    Direct,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::EmbeddedStore;

    /// The backup's list of tables is the store's: a table a new store has and the list
    /// lacks (created outside `store/tables.rs`) fails this test (and a backup, at run
    /// time), and every listed table opens with its listed types.
    #[tokio::test]
    async fn the_backup_knows_every_table_of_the_store_with_its_types() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).await.unwrap();
        store.close().await;
        let db = Database::open(dir.path().join(FILE_NAME)).unwrap();
        let read = db.begin_read().unwrap();
        let mut stored: Vec<String> = read
            .list_tables()
            .unwrap()
            .map(|t| t.name().to_string())
            .collect();
        stored.sort();
        let mut known = known_tables();
        known.sort();
        assert_eq!(stored, known);
        let mut count = Count {
            read: &read,
            tables: BTreeMap::new(),
        };
        every_table(&mut count).expect("every table opens with the listed types");
        assert_eq!(count.tables.len(), known.len());
    }
}
