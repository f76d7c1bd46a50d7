//! Opening and closing the redb file of the embedded store.
//!
//! redb records its allocator state when a `Database` is closed (dropped or `close`d).
//! A file whose last writer did not close it (a crash, or a process that exited while
//! something still held the `Database`) is repaired at the next open: every page is read
//! and checked, which takes time and memory in proportion to the file. Two things follow:
//!
//! - the store is closed explicitly on shutdown ([`EmbeddedStore::close`]): handlers,
//!   actors and tasks hold clones of the store until the process exits, so waiting for
//!   the last clone to drop would never close it. After `close` every operation fails
//!   with `Unavailable`, and the `Database` is closed once the operations in flight end;
//! - an open that repairs says so in the log, with how long it took.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redb::{Database, DatabaseError};

use super::control::ControlSocket;
use super::store::EmbeddedStore;
use questpath_actors::ports::StoreError;
use questpath_actors::ports::store::StoreResult;

/// How long `close` waits for operations in flight before giving up on a clean close.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Opens a redb file (`create`: or makes it), logging a repair and its duration when the
/// file was not closed cleanly.
pub(crate) fn open_file(path: &Path, create: bool) -> Result<Database, DatabaseError> {
    let mut builder = Database::builder();
    let size_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let file = path.display().to_string();
    let repairing = Arc::new(AtomicBool::new(false));
    let seen = repairing.clone();
    let announced = file.clone();
    builder.set_repair_callback(move |_session| {
        if !seen.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                file = %announced,
                size_bytes,
                "embedded store was not closed cleanly: repairing it (reads the whole file)"
            );
        }
    });
    let started = Instant::now();
    let db = if create {
        builder.create(path)
    } else {
        builder.open(path)
    }?;
    let duration_ms = started.elapsed().as_millis() as u64;
    let repaired = repairing.load(Ordering::SeqCst);
    if repaired {
        tracing::warn!(file = %file, size_bytes, duration_ms, "embedded store repaired");
    }
    tracing::info!(file = %file, size_bytes, duration_ms, repaired, "embedded store opened");
    restrict_to_owner(path);
    Ok(db)
}

/// The file holds password hashes and learners' data: readable by its owner only,
/// whatever the umask made it (a store or backup made before this rule is tightened too).
pub(crate) fn restrict_to_owner(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            let owner_only = std::fs::Permissions::from_mode(0o600);
            if let Err(e) = std::fs::set_permissions(path, owner_only) {
                tracing::warn!(file = %path.display(), error = %e, "cannot make the store file owner-only (0600)");
            }
        }
    }
}

/// The shared handle to the open database: every store operation borrows the
/// `Database` through it, and `close` takes it away.
#[derive(Clone)]
pub(crate) struct DbHandle {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    db: RwLock<Option<Arc<Database>>>,
    path: PathBuf,
    /// Set by `close`; a backup in progress checks it and stops.
    closing: AtomicBool,
    /// Serves backups to `questpath backup` while this process holds the file.
    control: std::sync::Mutex<Option<ControlSocket>>,
    /// The XP audit of the server that opened the store, once it is built.
    xp_audit: std::sync::OnceLock<super::control::XpAuditHandler>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(control) = self.control.get_mut().ok().and_then(Option::take) {
            control.stop();
        }
    }
}

impl DbHandle {
    /// Wraps an open database kept in `dir`, and serves backups of it on the data
    /// folder's control socket.
    pub(crate) fn new(db: Database, dir: &Path, path: PathBuf) -> Self {
        let shared = Arc::new(Shared {
            db: RwLock::new(Some(Arc::new(db))),
            path,
            closing: AtomicBool::new(false),
            control: std::sync::Mutex::new(None),
            xp_audit: std::sync::OnceLock::new(),
        });
        let control = ControlSocket::start(dir, Arc::downgrade(&shared));
        *shared.control.lock().unwrap_or_else(|e| e.into_inner()) = control;
        DbHandle { shared }
    }

    /// Answers `audit xp` requests on the control socket with `handler` (the first one
    /// set stays).
    pub(crate) fn serve_xp_audit(&self, handler: super::control::XpAuditHandler) {
        let _ = self.shared.xp_audit.set(handler);
    }

    /// The database, for one operation; `Unavailable` once closed.
    pub(crate) fn get(&self) -> StoreResult<Arc<Database>> {
        self.shared.get()
    }

    /// Closes the database: refuses new operations, waits (up to 10 s) for those in
    /// flight, then closes the file so the next open needs no repair.
    pub(crate) async fn close(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        let control = self
            .shared
            .control
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(control) = control {
            control.stop();
        }
        let taken = self
            .shared
            .db
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut db) = taken else {
            return;
        };
        let file = self.shared.path.display().to_string();
        let started = Instant::now();
        let database = loop {
            match Arc::try_unwrap(db) {
                Ok(database) => break database,
                Err(still_shared) if started.elapsed() < CLOSE_WAIT => {
                    db = still_shared;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(still_shared) => {
                    // The last operation to finish drops it, which closes the file if the
                    // process is still running by then.
                    tracing::warn!(
                        file = %file,
                        operations = Arc::strong_count(&still_shared) - 1,
                        "embedded store not closed: operations still running after 10 s; the next start may repair it"
                    );
                    return;
                }
            }
        };
        let closed = tokio::task::spawn_blocking(move || database.close()).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        match closed {
            Ok(Ok(())) => tracing::info!(file = %file, duration_ms, "embedded store closed"),
            Ok(Err(e)) => tracing::error!(file = %file, error = %e, "embedded store close failed"),
            Err(e) => tracing::error!(file = %file, error = %e, "embedded store close failed"),
        }
    }
}

impl Shared {
    /// The server's XP audit, if it installed one.
    pub(crate) fn xp_audit(&self) -> Option<super::control::XpAuditHandler> {
        self.xp_audit.get().cloned()
    }

    pub(crate) fn get(&self) -> StoreResult<Arc<Database>> {
        self.db
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| StoreError::Unavailable("the embedded store is closed".into()))
    }

    pub(crate) fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl EmbeddedStore {
    /// Closes the file (see the module documentation). Called once on shutdown; every
    /// clone of this store fails with `Unavailable` afterwards.
    pub async fn close(&self) {
        self.db.close().await;
    }
}
