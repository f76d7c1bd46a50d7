//! `questpath-load`: the load generator every QuestPath performance claim is measured
//! with. It speaks the real protocol (accounts, goals, tickets, `questpath.v1`
//! websockets), sends only to loopback, stops by itself, and writes one JSON report
//! per run. `load-tests/README.md` tells how to run it; `load-tests/RESULTS.md` holds
//! the published numbers.
//!
//! # Layout
//!
//! - [`cli`]: flags, one subcommand per scenario.
//! - [`target`]: the loopback-only server address.
//! - [`net`]: client sockets from 127.0.0.2.. source addresses.
//! - [`limits`]: raises the process's file-descriptor limit.
//! - [`api`]: the HTTP calls a client makes, plus `/metrics` and `/ready`.
//! - [`accounts`]: learners, registered or reused from an accounts file.
//! - [`ws`]: websocket connect, send and receive.
//! - [`stats`]: HDR latency histograms and tallies.
//! - [`report`]: the JSON report and the human summary.
//! - [`scenarios`]: `connect`, `quiz`, `http`, `room`, `mixed`.

pub mod accounts;
pub mod api;
pub mod cli;
pub mod limits;
pub mod net;
pub mod report;
pub mod scenarios;
pub mod stats;
pub mod target;
pub mod ws;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::accounts::SetupOptions;
use crate::api::Api;
use crate::cli::Scenario;
use crate::net::Sources;
use crate::report::{Machine, Report};
use crate::scenarios::Ctx;
use crate::target::Target;

/// Longest measured part of a run, in seconds.
pub const MAX_DURATION: u64 = 600;
/// Longest a whole run may be bounded to, in seconds.
pub const MAX_RUNTIME: u64 = 3600;

/// How a run ended.
pub struct Finished {
    pub report_path: PathBuf,
    pub summary: String,
    /// Failed operations over `--max-error-rate`, or nothing succeeded.
    pub too_many_errors: bool,
}

/// Checks the flags against the bounds every run keeps.
fn check_bounds(scenario: &Scenario) -> anyhow::Result<()> {
    let common = scenario.common();
    if common.max_runtime == 0 || common.max_runtime > MAX_RUNTIME {
        bail!("--max-runtime must be 1 to {MAX_RUNTIME} seconds");
    }
    if !(0.0..=1.0).contains(&common.max_error_rate) {
        bail!("--max-error-rate is a fraction from 0 to 1");
    }
    if common.setup_concurrency == 0 || common.setup_concurrency > 1024 {
        bail!("--setup-concurrency must be 1 to 1024");
    }
    match scenario {
        Scenario::Connect(a) => {
            if a.connections == 0 || a.connections > 200_000 {
                bail!("--connections must be 1 to 200,000");
            }
            if a.hold > MAX_DURATION {
                bail!("--hold must be at most {MAX_DURATION} seconds");
            }
            if !(a.rate > 0.0 && a.rate <= 1_000_000.0) {
                bail!("--rate must be above 0 and at most 1,000,000");
            }
            if a.heartbeat == 0 || a.heartbeat > 25 {
                bail!(
                    "--heartbeat must be 1 to 25 seconds (the server drops a socket silent for 30 s)"
                );
            }
        }
        Scenario::Quiz(a) => {
            if a.players == 0 || a.players > 50_000 {
                bail!("--players must be 1 to 50,000");
            }
            if a.duration == 0 || a.duration > MAX_DURATION || a.warmup > MAX_DURATION {
                bail!("--duration must be 1 to {MAX_DURATION} seconds, --warmup at most that");
            }
            scenarios::quiz::check_rate(a)?;
        }
        Scenario::Http(a) => {
            if !(a.rate > 0.0 && a.rate <= 200_000.0) {
                bail!("--rate must be above 0 and at most 200,000");
            }
            if a.duration == 0 || a.duration > MAX_DURATION || a.warmup > MAX_DURATION {
                bail!("--duration must be 1 to {MAX_DURATION} seconds, --warmup at most that");
            }
            if a.users == 0 || a.users > 100_000 {
                bail!("--users must be 1 to 100,000");
            }
            if a.connections == 0 || a.connections > 10_000 {
                bail!("--connections must be 1 to 10,000");
            }
            scenarios::http::selected_routes(&a.routes)?;
        }
        Scenario::Room(a) => scenarios::room::check(a)?,
        Scenario::Mixed(a) => scenarios::mixed::check(a)?,
    }
    Ok(())
}

/// Sockets a scenario opens at most (for the descriptor limit).
fn sockets_needed(scenario: &Scenario) -> usize {
    let common = scenario.common();
    let setup = common.setup_concurrency * common.sources;
    match scenario {
        Scenario::Connect(a) => a.connections + a.concurrency + setup,
        Scenario::Quiz(a) => a.players + setup,
        Scenario::Http(a) => a.connections * 2 + setup,
        Scenario::Room(a) => a.players + 1 + a.join_concurrency * 2 + setup,
        Scenario::Mixed(a) => scenarios::mixed::learners(a) * 2 + a.http_connections * 2 + setup,
    }
}

/// Runs one scenario: checks, setup, measurement, report. `stop` ends it early (the
/// report is still written).
pub async fn run(scenario: Scenario, stop: CancellationToken) -> anyhow::Result<Finished> {
    check_bounds(&scenario)?;
    let common = scenario.common().clone();
    let name = scenario.name();
    let target = Target::parse(&common.url)?;
    let sources = Arc::new(Sources::new(common.sources)?);
    let started_at = chrono::Utc::now();

    let fd_limit = limits::raise_nofile((sockets_needed(&scenario) + 256) as u64)
        .context("reading or raising the file-descriptor limit")?;
    eprintln!("questpath-load {name}: {}", fd_limit.describe());

    let pool = match &scenario {
        Scenario::Http(a) => a.connections.div_ceil(common.sources),
        Scenario::Room(a) => a
            .join_concurrency
            .max(common.setup_concurrency)
            .div_ceil(common.sources),
        Scenario::Mixed(a) => a
            .http_connections
            .max(common.setup_concurrency)
            .div_ceil(common.sources),
        _ => common.setup_concurrency,
    };
    let api = Arc::new(Api::new(
        &target,
        &sources,
        pool.max(1),
        Duration::from_secs(30),
        common.metrics_token.clone(),
    )?);
    let ready = api.ready().await.with_context(|| {
        format!(
            "the server at {} is not reachable or not ready",
            target.base
        )
    })?;

    // Tokens must outlive setup and measurement.
    let (count, quiz_ready, run_secs) = match &scenario {
        Scenario::Connect(a) => (
            scenarios::connect::users_for(a),
            a.push || a.with_goals,
            a.hold + 120,
        ),
        Scenario::Quiz(a) => (a.players, true, a.warmup + a.duration + 60),
        Scenario::Http(a) => (a.users, true, a.warmup + a.duration + 60),
        // The host, and one account per player unless they come as guests.
        Scenario::Room(a) => (
            if a.guests { 1 } else { a.players + 1 },
            false,
            a.duration + 300,
        ),
        Scenario::Mixed(a) => (
            scenarios::mixed::learners(a),
            true,
            a.duration + a.final_wait + 120,
        ),
    };
    eprintln!("questpath-load {name}: preparing {count} learners");
    let (learners, setup) = accounts::prepare(
        &api,
        SetupOptions {
            count,
            quiz_ready,
            accounts_file: common.accounts.as_deref(),
            concurrency: common.setup_concurrency,
            valid_for: Duration::from_secs(run_secs + 60),
        },
    )
    .await?;
    eprintln!(
        "questpath-load {name}: {} learners ready in {:.1} s ({} registered, {} signed in, {} tokens reused)",
        setup.learners, setup.seconds, setup.registered, setup.signed_in, setup.reused_tokens
    );

    let ctx = Ctx {
        target: target.clone(),
        api: api.clone(),
        sources: sources.clone(),
        stop: stop.clone(),
        backends: common.backends.clone(),
        server_pid: common.server_pid,
    };
    let generator_before = report::SelfUsage::now();
    let outcome = match &scenario {
        Scenario::Connect(a) => scenarios::connect::run(&ctx, a, &learners).await?,
        Scenario::Quiz(a) => scenarios::quiz::run(&ctx, a, &learners).await?,
        Scenario::Http(a) => scenarios::http::run(&ctx, a, &learners).await?,
        Scenario::Room(a) => scenarios::room::run(&ctx, a, &learners).await?,
        Scenario::Mixed(a) => scenarios::mixed::run(&ctx, a, &learners).await?,
    };
    let generator_after = report::SelfUsage::now();

    let mut notes = outcome.notes;
    if stop.is_cancelled() {
        notes.push(
            "the run was stopped early (ctrl-c or --max-runtime); figures cover what ran".into(),
        );
    }
    if !fd_limit.sufficient() {
        notes.push(fd_limit.describe());
    }
    let parameters = match &scenario {
        Scenario::Connect(a) => serde_json::to_value(a),
        Scenario::Quiz(a) => serde_json::to_value(a),
        Scenario::Http(a) => serde_json::to_value(a),
        Scenario::Room(a) => serde_json::to_value(a),
        Scenario::Mixed(a) => serde_json::to_value(a),
    }
    .context("encoding the parameters")?;
    let report = Report {
        tool: "questpath-load",
        version: env!("CARGO_PKG_VERSION"),
        scenario: name.to_string(),
        started_at: started_at.to_rfc3339(),
        finished_at: chrono::Utc::now().to_rfc3339(),
        parameters,
        target: target.base.clone(),
        machine: Machine::detect(),
        commit: common.commit.clone().or_else(report::detect_commit),
        backends: common.backends.clone(),
        server_ready: ready,
        fd_limit: Some(fd_limit),
        setup: serde_json::to_value(&setup).context("encoding the setup figures")?,
        figures: outcome.figures,
        targets: outcome.targets,
        generator: json!({
            "cpu_seconds": match (generator_before.cpu_seconds, generator_after.cpu_seconds) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            },
            "rss_bytes_at_end": generator_after.rss_bytes,
        }),
        notes,
    };
    let report_path = report.write(common.json.as_deref(), &common.out)?;
    let mut summary = report.summary(&outcome.lines);
    summary.push_str(&format!("report: {}\n", report_path.display()));
    let attempted = outcome.succeeded + outcome.failed;
    let too_many_errors = outcome.succeeded == 0
        || (attempted > 0 && outcome.failed as f64 / attempted as f64 > common.max_error_rate);
    Ok(Finished {
        report_path,
        summary,
        too_many_errors,
    })
}
