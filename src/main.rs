//! `questpath`: the server binary. Thin on purpose: parse the command line, read the
//! configuration, start logging, then run the chosen subcommand from the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use questpath::adapters::embedded::backup;
use questpath::backends::Backends;
use questpath::config::Settings;
use questpath::leaderboard;
use questpath::metrics::Metrics;
use questpath::metrics::exporter::WorkerMetricsListener;
use questpath::startup::{Application, StartupError, WorkerPool};
use questpath::telemetry;

/// QuestPath game server.
#[derive(Parser)]
#[command(name = "questpath", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API, websockets and metrics (the default).
    Serve,
    /// Apply schema.cql to the configured ScyllaDB keyspace (idempotent).
    Migrate,
    /// Run roadmap-generation workers only (no API), to scale generation apart from
    /// the websocket front. Needs the shared store and Redis to be useful. Serves its
    /// metrics on QUESTPATH_WORKER_METRICS_BIND (127.0.0.1:8081; `off` for none).
    Worker,
    /// Write a consistent snapshot of the embedded store to FILE (a new file). While a
    /// server runs, the server writes it (asked through `questpath.sock` in the data
    /// folder) and keeps serving; otherwise the store is opened here.
    Backup {
        /// The backup file to create.
        file: PathBuf,
    },
    /// Restore a backup written by `questpath backup` into the data folder, which must
    /// be empty. The file is checked in full first.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// Checks what is derived from the XP ledger (totals and levels, the all-time and
    /// current weekly boards, the current week's league cohorts); exits 1 on any
    /// difference (docs/operations.md).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Leaderboard maintenance.
    Leaderboard {
        #[command(subcommand)]
        command: LeaderboardCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Compare every learner's XP ledger with their total, level, board entries and
    /// league cohort standing; print each difference.
    Xp {
        /// Rebuild what differs from the ledger, then audit again.
        #[arg(long)]
        repair: bool,
    },
}

#[derive(Subcommand)]
enum LeaderboardCommand {
    /// Rebuild the all-time board and the kept weekly boards in Redis from the XP
    /// ledger. Safe while servers run: a rebuild never brings a score back.
    Rebuild {
        /// Empty the boards first (they read as partial until the rebuild ends).
        #[arg(long)]
        clear: bool,
    },
    /// Archive finished weeks' boards in the store (servers do it by themselves minutes
    /// after a week ends): the weeks still kept that are not archived yet, or the one
    /// week given (again if it was), built from the XP ledger when its board is gone.
    Archive {
        /// An ISO week that has ended, such as 2026-W47.
        #[arg(long, value_name = "YYYY-Www")]
        week: Option<String>,
    },
}

/// Exit status for configuration the operator must fix.
const EXIT_CONFIG: u8 = 2;

/// mimalloc instead of glibc's malloc, for two reasons measured here
/// (`docs/performance.md`, "Allocator"): glibc's free lists and consolidation took 10 to
/// 19 % of the server's CPU under load, and its per-thread arenas kept argon2's 19 MiB
/// blocks after a burst of sign-ins (1.1 GB in the soak of load-tests/RESULTS.md) unless
/// its mmap threshold was pinned. mimalloc gives memory back to the system on its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    questpath::tls::install_crypto_provider();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("questpath: configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // Held until exit: dropping it flushes errors queued for Sentry (none without a DSN).
    let _sentry = telemetry::init(&settings);

    // A multi-threaded runtime under actix's System, so driver I/O (ScyllaDB, Redis)
    // spreads over all cores instead of sharing the main thread's loop.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("questpath: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let system = actix_web::rt::System::with_tokio_rt(move || runtime);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => system.block_on(serve(settings)),
        Command::Migrate => system.block_on(migrate(settings)),
        Command::Worker => system.block_on(worker(settings)),
        Command::Backup { file } => backup_store(&settings, &file),
        Command::Restore { file } => restore_store(&settings, &file),
        Command::Audit {
            command: AuditCommand::Xp { repair },
        } => system.block_on(audit_xp(settings, repair)),
        Command::Leaderboard {
            command: LeaderboardCommand::Rebuild { clear },
        } => system.block_on(rebuild_leaderboards(settings, clear)),
        Command::Leaderboard {
            command: LeaderboardCommand::Archive { week },
        } => system.block_on(archive_weeks(settings, week)),
    }
}

/// Exit status of a failed backup or restore.
fn backup_failure(command: &str, error: &backup::BackupError) -> ExitCode {
    eprintln!("questpath {command}: {error}");
    if error.is_operator_error() {
        ExitCode::from(EXIT_CONFIG)
    } else {
        ExitCode::FAILURE
    }
}

/// Backups are of the embedded store; a CQL cluster has its own (docs/operations.md).
fn refuse_scylla(command: &str, settings: &Settings) -> Option<ExitCode> {
    settings.scylla.as_ref()?;
    eprintln!(
        "questpath {command}: the store is ScyllaDB (QUESTPATH_SCYLLA_NODES): use nodetool snapshot and refresh (docs/operations.md)"
    );
    Some(ExitCode::from(EXIT_CONFIG))
}

fn backup_store(settings: &Settings, file: &std::path::Path) -> ExitCode {
    if let Some(refused) = refuse_scylla("backup", settings) {
        return refused;
    }
    let started = std::time::Instant::now();
    match backup::backup(&settings.data_dir, file) {
        Ok((report, via)) => {
            println!(
                "backup written to {}: {} tables, {} entries, {} bytes in {:.1} s (copy {} ms, check {} ms; {})",
                report.path.display(),
                report.tables,
                report.entries,
                report.bytes,
                started.elapsed().as_secs_f64(),
                report.copy_ms,
                report.verify_ms,
                match via {
                    backup::Via::Server => "taken by the running server",
                    backup::Via::Direct => "no server was running",
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => backup_failure("backup", &e),
    }
}

fn restore_store(settings: &Settings, file: &std::path::Path) -> ExitCode {
    if let Some(refused) = refuse_scylla("restore", settings) {
        return refused;
    }
    match backup::restore(file, &settings.data_dir) {
        Ok(report) => {
            let entries = |table: &str| report.manifest.tables.get(table).copied().unwrap_or(0);
            println!(
                "restored {} into {}: {} entries, {} learners, {} XP ledger entries (backup of {})",
                file.display(),
                report.path.display(),
                report.manifest.entries(),
                entries("users"),
                entries("xp_ledger"),
                report.manifest.created_at.to_rfc3339()
            );
            if settings.redis.is_some() {
                println!(
                    "Redis still holds state newer than the backup: clear this deployment's keys or run `questpath leaderboard rebuild --clear` before serving (docs/operations.md)"
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => backup_failure("restore", &e),
    }
}

async fn archive_weeks(settings: Settings, week: Option<String>) -> ExitCode {
    let week = match week.as_deref().map(leaderboard::Week::parse) {
        Some(None) => {
            eprintln!("questpath leaderboard archive: --week must be an ISO week such as 2026-W47");
            return ExitCode::from(EXIT_CONFIG);
        }
        Some(Some(week)) => Some(week),
        None => None,
    };
    let backends = match Backends::connect(&settings).await {
        Ok(backends) => backends,
        Err(e) => {
            eprintln!("questpath leaderboard archive: {e}");
            return if e.is_operator_error() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            };
        }
    };
    let (store, port) = (backends.store.clone(), backends.leaderboard.as_ref());
    let result = match week {
        Some(week) => leaderboard::archive::archive_week(store, port, week)
            .await
            .map(|report| vec![report]),
        None => {
            let archived = leaderboard::archive::ArchivedWeeks::new(store.clone());
            leaderboard::archive::archive_due(store, port, &archived, chrono::Utc::now()).await
        }
    };
    backends.shutdown().await;
    match result {
        Ok(reports) if reports.is_empty() => {
            println!("nothing to archive (or another instance is archiving)");
            ExitCode::SUCCESS
        }
        Ok(reports) => {
            for report in reports {
                println!(
                    "archived {}: {} learners{}",
                    report.period,
                    report.total,
                    if report.rebuilt {
                        " (board built from the ledger)"
                    } else {
                        ""
                    }
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "leaderboard archive failed");
            eprintln!("questpath leaderboard archive: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Exit 0 when the ledger and what derives from it agree (after the repair, with
/// `--repair`), 1 on any difference or failure, 2 on configuration to fix.
async fn audit_xp(settings: Settings, repair: bool) -> ExitCode {
    match questpath::audit::run(&settings, repair).await {
        Ok((run, via)) => {
            for line in questpath::audit::lines(&run, via) {
                println!("{line}");
            }
            if run.last().is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "xp audit failed");
            eprintln!("questpath audit xp: {e}");
            if e.is_operator_error() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn rebuild_leaderboards(settings: Settings, clear: bool) -> ExitCode {
    if settings.redis.is_none() {
        println!(
            "QUESTPATH_REDIS_URL is not set: in-process leaderboards are rebuilt by the server when it starts; nothing to do"
        );
        return ExitCode::SUCCESS;
    }
    let backends = match Backends::connect(&settings).await {
        Ok(backends) => backends,
        Err(e) => {
            eprintln!("questpath leaderboard rebuild: {e}");
            return if e.is_operator_error() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            };
        }
    };
    let boards = leaderboard::rebuild::kept_boards(chrono::Utc::now());
    let mut failed = None;
    if clear {
        for board in &boards {
            if let Err(e) = backends.leaderboard.clear(&board.key()).await {
                failed = Some(e.to_string());
                break;
            }
        }
    }
    if failed.is_none() {
        match leaderboard::rebuild::rebuild(
            backends.store.clone(),
            backends.leaderboard.as_ref(),
            &boards,
        )
        .await
        {
            Ok(report) => println!(
                "rebuilt {} from the ledgers of {} learners ({} standings)",
                report.boards.join(", "),
                report.users,
                report.updates
            ),
            Err(e) => failed = Some(e.to_string()),
        }
    }
    backends.shutdown().await;
    match failed {
        None => ExitCode::SUCCESS,
        Some(e) => {
            tracing::error!(error = %e, "leaderboard rebuild failed");
            eprintln!("questpath leaderboard rebuild: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        environment = ?settings.environment,
        bind = %settings.bind,
        backends = %settings.backends_summary(),
        "starting questpath"
    );
    let application = match Application::build(settings).await {
        Ok(application) => application,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("questpath: {e}");
            let operator_error = matches!(&e, StartupError::Backend(b) if b.is_operator_error());
            return if operator_error {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            };
        }
    };
    tracing::info!(port = application.port(), "listening");
    match application.run_until_stopped().await {
        Ok(()) => {
            tracing::info!("shutdown complete");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn worker(settings: Settings) -> ExitCode {
    let stop = questpath::startup::stop_signal();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        backends = %settings.backends_summary(),
        "starting questpath worker"
    );
    if settings.redis.is_none() {
        tracing::warn!(
            "no QUESTPATH_REDIS_URL: this worker only sees jobs queued in its own process"
        );
    }
    let metrics = match Metrics::for_worker(questpath::startup::JOB_QUEUES) {
        Ok(metrics) => Arc::new(metrics),
        Err(e) => {
            eprintln!("questpath worker: metrics: {e}");
            return ExitCode::FAILURE;
        }
    };
    let backends = match Backends::connect(&settings).await {
        // Store and Redis calls are timed and counted as in the server.
        Ok(backends) => backends.instrument(&metrics),
        Err(e) => {
            eprintln!("questpath worker: {e}");
            return if e.is_operator_error() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            };
        }
    };
    // Listening before taking jobs: a worker whose metrics cannot be served stops here.
    let listener = match settings.worker_metrics_bind {
        None => None,
        Some(address) => match WorkerMetricsListener::start(
            address,
            metrics.clone(),
            settings.metrics_token.clone(),
            backends.job_queue.clone(),
        ) {
            Ok(listener) => {
                tracing::info!(address = %listener.address(), "metrics on /metrics");
                Some(listener)
            }
            Err(e) => {
                eprintln!(
                    "questpath worker: cannot listen on {address} for metrics (QUESTPATH_WORKER_METRICS_BIND): {e}"
                );
                backends.shutdown().await;
                return ExitCode::FAILURE;
            }
        },
    };
    let count = settings.generation_workers.max(1);
    let pool = match WorkerPool::start_observed(&settings, &backends, count, Some(metrics)) {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("questpath worker: {e}");
            if let Some(listener) = listener {
                listener.stop().await;
            }
            backends.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        workers = count,
        "workers running; stop with SIGTERM or ctrl-c"
    );
    stop.await;
    pool.stop().await;
    if let Some(listener) = listener {
        listener.stop().await;
    }
    backends.shutdown().await;
    tracing::info!("shutdown complete");
    ExitCode::SUCCESS
}

async fn migrate(settings: Settings) -> ExitCode {
    let Some(scylla) = &settings.scylla else {
        println!(
            "QUESTPATH_SCYLLA_NODES is not set: the embedded store creates its tables itself; nothing to migrate"
        );
        return ExitCode::SUCCESS;
    };
    match questpath::adapters::scylla::migrate(scylla).await {
        Ok(version) => {
            tracing::info!(keyspace = %scylla.keyspace, version, "schema applied");
            println!(
                "keyspace {} is at schema version {version}",
                scylla.keyspace
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "migrate failed");
            eprintln!("questpath migrate: {e}");
            ExitCode::FAILURE
        }
    }
}
