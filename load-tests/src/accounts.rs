//! Learners for a run: registered through the API like real users, or reused from an
//! accounts file written by an earlier run against the same server.
//!
//! Registering is the expensive part of a setup (two argon2id hashes of 19 MiB each per
//! account on the server), and so is generating a goal; a file lets repeated runs skip
//! both. A reused learner signs in again only when its access token would expire
//! during the run.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::api::{Api, Tokens};

/// The goal every learner generates; the offline catalog answers it with a web
/// development roadmap whose first level has a question bank.
pub const GOAL: &str = "Learn web development";

/// How long a goal's generation may take before the setup gives up.
const JOB_WAIT: Duration = Duration::from_secs(120);

/// One account, with what the run needs of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Learner {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub access_token: String,
    /// Unix time (seconds) at which `access_token` expires.
    #[serde(default)]
    pub expires_at: i64,
    /// The first level of the learner's goal, every topic ticked: ready for a quiz.
    #[serde(default)]
    pub level_id: Option<String>,
}

/// The accounts file: learners per target base URL.
#[derive(Debug, Default, Serialize, Deserialize)]
struct AccountsFile {
    targets: BTreeMap<String, Vec<Learner>>,
}

/// What the setup did, for the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SetupStats {
    pub learners: usize,
    pub registered: usize,
    pub signed_in: usize,
    pub reused_tokens: usize,
    pub goals_generated: usize,
    pub seconds: f64,
}

/// Options of [`prepare`].
pub struct SetupOptions<'a> {
    pub count: usize,
    /// Also generate a goal and tick the topics of its first level.
    pub quiz_ready: bool,
    pub accounts_file: Option<&'a Path>,
    /// Concurrent setup requests (registration is CPU-bound on the server).
    pub concurrency: usize,
    /// Tokens must stay valid this long (the run's length plus a margin).
    pub valid_for: Duration,
}

/// Returns `count` learners ready for the run.
pub async fn prepare(
    api: &Api,
    options: SetupOptions<'_>,
) -> anyhow::Result<(Vec<Learner>, SetupStats)> {
    let started = Instant::now();
    let mut file = match options.accounts_file {
        Some(path) if path.exists() => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str::<AccountsFile>(&text)
                .with_context(|| format!("{} is not an accounts file", path.display()))?
        }
        _ => AccountsFile::default(),
    };
    let base = api.target().base.clone();
    // Learners beyond this run's count stay in the file untouched for a larger run.
    let mut known = file.targets.remove(&base).unwrap_or_default();
    let reused = known.len().min(options.count);
    // Distinguishes this run's new accounts from earlier runs' on a long-lived server.
    let tag = format!(
        "{:x}{:04x}",
        chrono::Utc::now().timestamp_millis(),
        std::process::id() & 0xffff
    );
    let slots: Vec<(usize, Option<Learner>)> = (0..options.count)
        .map(|i| (i, known.get(i).cloned()))
        .collect();

    let done = Arc::new(AtomicUsize::new(0));
    let stats = Arc::new(std::sync::Mutex::new(SetupStats::default()));
    let total = options.count;
    let quiz_ready = options.quiz_ready;
    let valid_for = options.valid_for;
    let learners: Vec<Learner> = futures_util::stream::iter(slots)
        .map(|(i, existing)| {
            let done = done.clone();
            let stats = stats.clone();
            let tag = tag.clone();
            async move {
                let learner = ready_one(api, i, existing, &tag, quiz_ready, valid_for, &stats)
                    .await
                    .with_context(|| format!("preparing learner {i}"))?;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of((total / 10).max(1)) || n == total {
                    eprintln!("  setup: {n}/{total} learners ready");
                }
                Ok::<_, anyhow::Error>((i, learner))
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .try_collect::<Vec<_>>()
        .await
        .map(|mut v| {
            v.sort_by_key(|(i, _)| *i);
            v.into_iter().map(|(_, l)| l).collect()
        })?;

    if let Some(path) = options.accounts_file {
        let spare = known.split_off(known.len().min(learners.len()));
        let mut all = learners.clone();
        all.extend(spare);
        file.targets.insert(base, all);
        let text = serde_json::to_string_pretty(&file).context("encoding the accounts file")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut stats = stats
        .lock()
        .map(|s| s.clone())
        .unwrap_or_else(|p| p.into_inner().clone());
    stats.learners = learners.len();
    stats.seconds = started.elapsed().as_secs_f64();
    if reused > 0 {
        eprintln!("  setup: {reused} learners came from the accounts file");
    }
    Ok((learners, stats))
}

fn bump(stats: &std::sync::Mutex<SetupStats>, f: impl FnOnce(&mut SetupStats)) {
    match stats.lock() {
        Ok(mut s) => f(&mut s),
        Err(p) => f(&mut p.into_inner()),
    }
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

fn apply_tokens(learner: &mut Learner, tokens: Tokens) {
    learner.access_token = tokens.access_token;
    learner.expires_at = now_unix() + tokens.expires_in;
}

async fn ready_one(
    api: &Api,
    i: usize,
    existing: Option<Learner>,
    tag: &str,
    quiz_ready: bool,
    valid_for: Duration,
    stats: &std::sync::Mutex<SetupStats>,
) -> anyhow::Result<Learner> {
    let via = i;
    let mut learner = match existing {
        Some(mut learner) => {
            let needed = now_unix() + i64::try_from(valid_for.as_secs()).unwrap_or(i64::MAX / 2);
            if learner.access_token.is_empty() || learner.expires_at < needed {
                let tokens = api.login(via, &learner.email, &learner.password).await?;
                apply_tokens(&mut learner, tokens);
                bump(stats, |s| s.signed_in += 1);
            } else {
                bump(stats, |s| s.reused_tokens += 1);
            }
            learner
        }
        None => {
            let email = format!("load-{tag}-{i}@example.org");
            let password = format!("load-pw-{tag}-{i}-qp");
            let tokens = api.register(via, &email, &password).await?;
            bump(stats, |s| s.registered += 1);
            let mut learner = Learner {
                email,
                password,
                access_token: String::new(),
                expires_at: 0,
                level_id: None,
            };
            apply_tokens(&mut learner, tokens);
            learner
        }
    };
    let expires_in = learner.expires_at - now_unix();
    if expires_in < i64::try_from(valid_for.as_secs()).unwrap_or(i64::MAX) {
        bail!(
            "access tokens last {expires_in} s, less than the run needs ({} s): shorten --duration",
            valid_for.as_secs()
        );
    }
    if quiz_ready && learner.level_id.is_none() {
        learner.level_id = Some(first_level_ready(api, via, &learner.access_token).await?);
        bump(stats, |s| s.goals_generated += 1);
    }
    Ok(learner)
}

/// Generates a goal, waits for its roadmap, ticks every topic of the first level and
/// returns that level's id.
async fn first_level_ready(api: &Api, via: usize, token: &str) -> anyhow::Result<String> {
    let mut job = api.create_goal(via, token, GOAL).await?;
    let deadline = Instant::now() + JOB_WAIT;
    let goal_id = loop {
        match job.status.as_str() {
            "done" => {
                break job
                    .goal_id
                    .clone()
                    .context("a done generation job without a goal id")?;
            }
            "failed" => bail!(
                "roadmap generation failed: {}",
                job.reason.as_deref().unwrap_or("no reason given")
            ),
            _ if Instant::now() > deadline => {
                bail!("roadmap generation took over {} s", JOB_WAIT.as_secs())
            }
            _ => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                job = api.job(via, token, &job.id).await?;
            }
        }
    };
    let levels = api.levels(via, token, &goal_id).await?;
    let level = levels
        .into_iter()
        .next()
        .context("the generated roadmap has no levels")?;
    for topic in level.topics.iter().filter(|t| !t.completed) {
        api.complete_topic(via, token, &level.id, topic.index)
            .await?;
    }
    Ok(level.id)
}
