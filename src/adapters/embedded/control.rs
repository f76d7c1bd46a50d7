//! The control socket: how `questpath backup` asks the process that holds the store for
//! a snapshot.
//!
//! redb locks its file for one process, so a backup command cannot read a store a server
//! has open. The process that opened it listens on `questpath.sock` in the data folder
//! (a unix socket, mode 0600: only the server's user can connect; nothing on the
//! network) and writes the snapshot itself. One request, one JSON line each way:
//! `{"command":"backup","path":"/abs/file"}` then `{"ok":true,"report":{...}}` or
//! `{"ok":false,"operator_error":...,"error":"..."}`. One backup runs at a time.
//!
//! `questpath audit xp` asks the same way (`{"command":"audit_xp","repair":false}`,
//! answered with `{"ok":true,"audit":{...}}`): the boards of the embedded default live in
//! the server's memory, so only the server can compare them with the ledger. The server
//! installs the audit ([`super::EmbeddedStore::serve_xp_audit`]) once its XP service is
//! built; before that the request is refused.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use futures_util::future::BoxFuture;
use questpath_actors::audit::AuditRun;

use super::backup::{BackupError, SnapshotReport, write_snapshot};
use super::database::Shared;

/// Runs the XP audit in the server (the argument: repair too).
pub type XpAuditHandler =
    Arc<dyn Fn(bool) -> BoxFuture<'static, Result<AuditRun, String>> + Send + Sync>;

/// File name of the socket inside the data folder.
pub const SOCKET_NAME: &str = "questpath.sock";
/// Longest request accepted.
const MAX_REQUEST: u64 = 4096;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
enum Request {
    Backup { path: PathBuf },
    AuditXp { repair: bool },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Response {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    report: Option<SnapshotReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audit: Option<AuditRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default)]
    operator_error: bool,
}

/// The listening socket; `stop` ends it and removes the file.
pub(crate) struct ControlSocket {
    stop: CancellationToken,
    path: PathBuf,
}

impl ControlSocket {
    /// Listens on `dir/questpath.sock` for the store behind `shared`. Without a tokio
    /// runtime, or when the socket cannot be made, the store works without it (backups
    /// then need the server stopped) and a warning says why.
    pub(crate) fn start(dir: &Path, shared: Weak<Shared>) -> Option<ControlSocket> {
        let path = dir.join(SOCKET_NAME);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return None;
        };
        let listener = match bind(&path) {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(
                    socket = %path.display(),
                    error = %e,
                    "no control socket: `questpath backup` needs this server stopped"
                );
                return None;
            }
        };
        let listener = {
            let _entered = runtime.enter();
            match tokio::net::UnixListener::from_std(listener) {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(socket = %path.display(), error = %e, "no control socket");
                    let _ = std::fs::remove_file(&path);
                    return None;
                }
            }
        };
        let stop = CancellationToken::new();
        runtime.spawn(serve(listener, shared, stop.clone()));
        Some(ControlSocket { stop, path })
    }

    pub(crate) fn stop(self) {
        self.stop.cancel();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the socket under a temporary name, restricts it to the owner, then renames it
/// into place, so it is never reachable with looser permissions. A socket left by a
/// process that died is replaced: the caller holds the store's lock, so no live process
/// serves it.
fn bind(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(std::io::Error::other(format!(
                "{} exists and is not a socket",
                path.display()
            )));
        }
        std::fs::remove_file(path)?;
    }
    let temp = path.with_file_name(format!(".{SOCKET_NAME}.{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let listener = std::os::unix::net::UnixListener::bind(&temp)?;
    let placed = std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    listener.set_nonblocking(true)?;
    Ok(listener)
}

async fn serve(listener: tokio::net::UnixListener, shared: Weak<Shared>, stop: CancellationToken) {
    let busy = Arc::new(AtomicBool::new(false));
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "control socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        if shared.strong_count() == 0 {
            return;
        }
        tokio::spawn(answer(stream, shared.clone(), busy.clone()));
    }
}

async fn answer(stream: tokio::net::UnixStream, shared: Weak<Shared>, busy: Arc<AtomicBool>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read.take(MAX_REQUEST));
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await {
        Ok(Ok(_)) => match serde_json::from_str::<Request>(&line) {
            Ok(Request::Backup { path }) => backup(shared, busy, path).await,
            Ok(Request::AuditXp { repair }) => audit_xp(shared, repair).await,
            Err(e) => refusal(BackupError::Operator(format!("bad request: {e}"))),
        },
        Ok(Err(e)) => refusal(BackupError::Operator(format!("bad request: {e}"))),
        Err(_) => refusal(BackupError::Operator("no request within 10 s".into())),
    };
    let mut json = serde_json::to_vec(&response).unwrap_or_default();
    json.push(b'\n');
    let _ = write.write_all(&json).await;
    let _ = write.shutdown().await;
}

fn refusal(error: BackupError) -> Response {
    Response {
        ok: false,
        report: None,
        audit: None,
        operator_error: error.is_operator_error(),
        error: Some(error.to_string()),
    }
}

/// Clears the busy flag when the backup ends, however it ends.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

async fn backup(shared: Weak<Shared>, busy: Arc<AtomicBool>, dest: PathBuf) -> Response {
    let Some(shared) = shared.upgrade() else {
        return refusal(BackupError::Failed("the store is closed".into()));
    };
    let db = match shared.get() {
        Ok(db) => db,
        Err(e) => return refusal(BackupError::Failed(e.to_string())),
    };
    if busy.swap(true, Ordering::SeqCst) {
        return refusal(BackupError::Failed(
            "a backup is already running on this server".into(),
        ));
    }
    let running = Running(busy);
    let started = Instant::now();
    let source = shared.path().display().to_string();
    tracing::info!(source = %source, dest = %dest.display(), "backup started");
    let result = tokio::task::spawn_blocking(move || {
        let _running = running;
        write_snapshot(db, &dest, &|| shared.closing())
    })
    .await
    .unwrap_or_else(|e| Err(BackupError::Failed(format!("backup task failed: {e}"))));
    match result {
        Ok(report) => {
            tracing::info!(
                source = %source,
                dest = %report.path.display(),
                tables = report.tables,
                entries = report.entries,
                bytes = report.bytes,
                copy_ms = report.copy_ms,
                verify_ms = report.verify_ms,
                duration_ms = started.elapsed().as_millis() as u64,
                "backup written"
            );
            Response {
                ok: true,
                report: Some(report),
                audit: None,
                error: None,
                operator_error: false,
            }
        }
        Err(e) => {
            tracing::warn!(source = %source, error = %e, "backup failed");
            refusal(e)
        }
    }
}

async fn audit_xp(shared: Weak<Shared>, repair: bool) -> Response {
    let handler = shared.upgrade().and_then(|shared| shared.xp_audit());
    let Some(handler) = handler else {
        return refusal(BackupError::Failed(
            "this server is not ready to audit (starting or stopping): try again".into(),
        ));
    };
    tracing::info!(repair, "xp audit requested on the control socket");
    match handler(repair).await {
        Ok(run) => Response {
            ok: true,
            report: None,
            audit: Some(run),
            error: None,
            operator_error: false,
        },
        Err(e) => refusal(BackupError::Failed(e)),
    }
}

/// Asks the process serving `data_dir` for a backup to `dest` (absolute). `None` when no
/// process listens there (no socket, one left by a process that is gone, or a path too
/// long for a socket, which no server could have bound either).
pub(crate) fn request_backup(
    data_dir: &Path,
    dest: &Path,
) -> Result<Option<SnapshotReport>, BackupError> {
    let request = Request::Backup {
        path: dest.to_path_buf(),
    };
    Ok(ask(data_dir, &request)?.and_then(|response| response.report))
}

/// Asks the server of `data_dir` to audit the XP (and repair with `repair`); `None` when
/// no server listens there. Blocks until the audit ends.
pub fn request_xp_audit(data_dir: &Path, repair: bool) -> Result<Option<AuditRun>, BackupError> {
    match ask(data_dir, &Request::AuditXp { repair })? {
        None => Ok(None),
        Some(Response {
            audit: Some(run), ..
        }) => Ok(Some(run)),
        Some(_) => Err(BackupError::Failed(
            "the server answered without an audit (is it older than this command?)".into(),
        )),
    }
}

/// Sends `request` to the process serving `data_dir` and waits for its answer: `None`
/// when no process listens, an error when it refused.
fn ask(data_dir: &Path, request: &Request) -> Result<Option<Response>, BackupError> {
    let path = data_dir.join(SOCKET_NAME);
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::InvalidInput
            ) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(BackupError::Failed(format!(
                "cannot connect to {}: {e}",
                path.display()
            )));
        }
    };
    let unreachable =
        |e: std::io::Error| BackupError::Failed(format!("control socket {}: {e}", path.display()));
    let mut request =
        serde_json::to_vec(request).map_err(|e| BackupError::Failed(e.to_string()))?;
    request.push(b'\n');
    stream.write_all(&request).map_err(unreachable)?;
    // The answer comes when the work is done, however long that takes.
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(unreachable)?;
    if line.is_empty() {
        return Err(BackupError::Failed(format!(
            "the server closed {} without answering (did it stop?)",
            path.display()
        )));
    }
    let response: Response = serde_json::from_str(&line)
        .map_err(|e| BackupError::Failed(format!("unreadable answer from the server: {e}")))?;
    if response.ok {
        return Ok(Some(response));
    }
    let error = response
        .error
        .unwrap_or_else(|| "the server gave no reason".into());
    Err(if response.operator_error {
        BackupError::Operator(error)
    } else {
        BackupError::Failed(error)
    })
}
