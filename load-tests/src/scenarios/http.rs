//! `http`: a mix of legacy and v1 reads at a fixed rate (open loop).
//!
//! The schedule is global: request g is due at `start + g / rate`. `--connections`
//! workers share it (worker w takes g = w, w + C, w + 2C, ...), each on its own
//! keep-alive connection, sending its next request when it is due or at once when it is
//! late. Latency runs from the due time, so a server (or generator) that falls behind
//! shows as latency instead of silently lowering the rate; the service time (from the
//! actual send) is reported beside it. The achieved rate counts the answers received
//! within the window; latency covers the requests due in it.
//!
//! Routes the server does not serve (404/405 on a probe, e.g. the leaderboard before it
//! exists) are left out of the mix and named in the report.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::task::JoinSet;

use super::{Ctx, Outcome, classify, cpu_figures};
use crate::accounts::Learner;
use crate::cli::HttpArgs;
use crate::report::{SelfUsage, TargetCheck};
use crate::stats::{Latency, Samples, Tally, from_schedule};

/// The reads of the mix: name and path. The default mix is these.
pub const ROUTES: &[(&str, &str)] = &[
    ("v1-me", "/api/v1/me"),
    ("legacy-me", "/auth/me"),
    ("v1-stats", "/api/v1/me/stats"),
    ("legacy-stats", "/progression/stats"),
    ("v1-goals", "/api/v1/goals"),
    ("legacy-goals", "/goals/me"),
    ("v1-leaderboard", "/api/v1/leaderboards/alltime"),
    ("legacy-leaderboard", "/leaderboard"),
];

/// Writes a mix may add by name (never in the default mix, whose figures are reads):
/// `v1-rename` renames the learner (`PATCH /api/v1/me`), a write of one user row.
pub const WRITES: &[(&str, &str)] = &[("v1-rename", "/api/v1/me")];

/// The request a route name stands for: reads are `GET`s, writes carry a body (a new
/// value each time, `n` being the request's number, so every write changes the row).
fn request_of(name: &str, n: u64) -> (Method, Option<serde_json::Value>) {
    if WRITES.iter().any(|(write, _)| *write == name) {
        (
            Method::PATCH,
            Some(json!({"display_name": format!("Load learner {n}")})),
        )
    } else {
        (Method::GET, None)
    }
}

/// Requests due before the end of the window but not sent this long after it are given
/// up (counted as not sent): the run stays bounded however far behind it is.
const LATE_GRACE: Duration = Duration::from_secs(10);

/// What one worker measured.
#[derive(Default)]
struct WorkerStats {
    latency: Samples,
    service: Samples,
    per_route: BTreeMap<&'static str, Samples>,
    /// Successful answers to requests due in the window (the latency samples).
    ok: u64,
    /// Successful answers received within the window (the throughput).
    completed: u64,
    errors: Tally,
    not_sent: u64,
}

/// Checks the route names of `--routes`.
pub fn selected_routes(names: &[String]) -> anyhow::Result<Vec<(&'static str, &'static str)>> {
    if names.is_empty() {
        return Ok(ROUTES.to_vec());
    }
    names
        .iter()
        .map(|name| {
            ROUTES
                .iter()
                .chain(WRITES)
                .find(|(n, _)| *n == name.trim())
                .copied()
                .ok_or_else(|| {
                    let known: Vec<&str> = ROUTES.iter().chain(WRITES).map(|(n, _)| *n).collect();
                    anyhow::anyhow!("unknown route {name:?}; known: {}", known.join(", "))
                })
        })
        .collect()
}

pub async fn run(ctx: &Ctx, args: &HttpArgs, learners: &[Learner]) -> anyhow::Result<Outcome> {
    let mut notes = Vec::new();
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        bail!("--rate must be a positive number");
    }
    // Probe: keep the routes this server serves.
    let token = &learners[0].access_token;
    let mut routes = Vec::new();
    let mut missing = Vec::new();
    for (name, path) in selected_routes(&args.routes)? {
        let (method, body) = request_of(name, 0);
        let mut probe = ctx.api.request(0, method, path, Some(token));
        if let Some(body) = body {
            probe = probe.json(&body);
        }
        let response = probe.send().await?;
        match response.status() {
            s if s.is_success() => routes.push((name, path)),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => missing.push(name),
            s => bail!("probing {path}: {s} (is the server set up with generous rate limits?)"),
        }
    }
    if !missing.is_empty() {
        notes.push(format!(
            "not served by this server, left out of the mix: {}",
            missing.join(", ")
        ));
    }
    if routes.is_empty() {
        bail!("none of the routes is served");
    }
    let routes = Arc::new(routes);
    let tokens: Arc<Vec<String>> =
        Arc::new(learners.iter().map(|l| l.access_token.clone()).collect());

    let connections = args.connections.max(1);
    let step = Duration::from_secs_f64(1.0 / args.rate);
    let start = Instant::now() + Duration::from_millis(100);
    let from = start + Duration::from_secs(args.warmup);
    let to = from + Duration::from_secs(args.duration);
    eprintln!(
        "  {} per second over {} routes, {connections} connections, {} s warm-up, {} s measured",
        args.rate,
        routes.len(),
        args.warmup,
        args.duration
    );

    let mut tasks = JoinSet::new();
    for w in 0..connections {
        let api = ctx.api.clone();
        let routes = routes.clone();
        let tokens = tokens.clone();
        let stop = ctx.stop.clone();
        tasks.spawn(async move {
            let mut stats = WorkerStats::default();
            let mut g = w as u64;
            loop {
                let due = start + step.mul_f64(g as f64);
                if due >= to || stop.is_cancelled() {
                    break;
                }
                if Instant::now() > to + LATE_GRACE {
                    stats.not_sent += 1;
                    g += connections as u64;
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(tokio::time::Instant::from_std(due)) => {}
                    _ = stop.cancelled() => break,
                }
                let (name, path) = routes[(g % routes.len() as u64) as usize];
                let token = &tokens[((g / routes.len() as u64) % tokens.len() as u64) as usize];
                let sent = Instant::now();
                let result = async {
                    let (method, body) = request_of(name, g);
                    let mut request = api.request(w, method, path, Some(token));
                    if let Some(body) = body {
                        request = request.json(&body);
                    }
                    let response = request.send().await?;
                    let status = response.status();
                    response.bytes().await?;
                    Ok::<_, anyhow::Error>(status)
                }
                .await;
                let done = Instant::now();
                let succeeded = matches!(&result, Ok(status) if status.is_success());
                if succeeded && done >= from && done < to {
                    stats.completed += 1;
                }
                if due >= from {
                    match result {
                        Ok(status) if status.is_success() => {
                            stats.ok += 1;
                            let latency = from_schedule(due, sent, done);
                            stats.latency.record(latency);
                            stats.service.record(done - sent);
                            stats.per_route.entry(name).or_default().record(latency);
                        }
                        Ok(status) => stats.errors.add(format!("{name}: {status}")),
                        Err(e) => stats.errors.add(classify(name, &e)),
                    }
                }
                g += connections as u64;
            }
            stats
        });
    }

    let wait_until = |t: Instant| tokio::time::sleep_until(tokio::time::Instant::from_std(t));
    tokio::select! { _ = wait_until(from) => {}, _ = ctx.stop.cancelled() => {} }
    let server_before = ctx.sample(&mut notes).await;
    let self_before = SelfUsage::now();
    tokio::select! { _ = wait_until(to) => {}, _ = ctx.stop.cancelled() => {} }
    let server_after = ctx.sample(&mut notes).await;
    let self_after = SelfUsage::now();

    let mut total = WorkerStats::default();
    let mut latency = Latency::new();
    let mut service = Latency::new();
    let mut route_latency: BTreeMap<&str, Latency> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok(s) = joined else {
            total.errors.add("worker panicked");
            continue;
        };
        s.latency.add_to(&mut latency);
        s.service.add_to(&mut service);
        for (name, samples) in &s.per_route {
            samples.add_to(route_latency.entry(name).or_default());
        }
        total.ok += s.ok;
        total.completed += s.completed;
        total.errors.merge(&s.errors);
        total.not_sent += s.not_sent;
    }

    let window = args.duration.max(1) as f64;
    let achieved = total.completed as f64 / window;
    let latency = latency.summary();
    let service = service.summary();
    let per_route: BTreeMap<&str, _> = route_latency
        .iter()
        .map(|(k, v)| (*k, v.summary()))
        .collect();
    let errors = total.errors.total();
    let figures = json!({
        "target_requests_per_second": args.rate,
        "requests_per_second": achieved,
        "ok": total.ok,
        "completed_in_window": total.completed,
        "errors": total.errors,
        "error_count": errors,
        "not_sent": total.not_sent,
        "routes": routes.iter().map(|(n, p)| json!({"name": n, "path": p})).collect::<Vec<_>>(),
        "routes_missing": missing,
        "latency": latency,
        "service_time": service,
        "latency_per_route": per_route,
        "users": learners.len(),
        "connections": connections,
        "window_seconds": window,
        "cpu": cpu_figures(server_before, server_after, self_before, self_after, total.ok),
    });
    let mut lines = vec![
        format!(
            "requests: {achieved:.0} per second OK (target {:.0}); of those due in the window {} OK, {errors} errors, {} not sent",
            args.rate, total.ok, total.not_sent
        ),
        format!("latency (from schedule): {}", latency.line()),
        format!("service time:            {}", service.line()),
    ];
    for (name, s) in &per_route {
        lines.push(format!("  {name:<20} {}", s.line()));
    }
    if errors > 0 {
        lines.push(format!("errors: {}", total.errors.line()));
    }
    let targets = if ctx.embedded() {
        vec![
            TargetCheck::new(
                "reads per second (embedded)",
                ">= 20,000",
                format!("{achieved:.0}"),
                achieved >= 20_000.0,
            ),
            TargetCheck::new(
                "p99 read latency",
                "< 10 ms",
                format!("{:.2} ms at {achieved:.0} per second", latency.p99_ms),
                latency.p99_ms < 10.0 && latency.count > 0,
            ),
        ]
    } else {
        Vec::new()
    };
    Ok(Outcome {
        figures,
        lines,
        targets,
        notes,
        succeeded: total.ok,
        failed: errors + total.not_sent,
    })
}
