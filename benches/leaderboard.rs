//! Benchmark (not a test): leaderboards with a million learners, on Redis and on the
//! in-process adapter.
//!
//! For each adapter: seeds the all-time board with `--learners` standings (scores
//! spread like real XP, many ties), then measures
//! - the server-side latency of what a leaderboard page needs, top 10 and the viewer's
//!   own rank (read at once, as `Leaderboards::view` does), one request at a time;
//! - XP-grant throughput into the boards: grants from many concurrent callers through
//!   the leaderboard actor (each grant sets the learner's all-time and weekly
//!   standings; the actor batches them), and the same grants written one call each.
//!
//! Run: `cargo bench --bench leaderboard` (release profile), or with arguments:
//! `cargo bench --bench leaderboard -- --learners 100000 --backend embedded`.
//! Redis: `QUESTPATH_BENCH_REDIS_URL` (default `redis://127.0.0.1:6379`); every key is
//! under a prefix of its own, deleted at the end. Results: `docs/performance.md`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::{StreamExt, stream};
use questpath::adapters::embedded::{EmbeddedStore, InProcessBus, InProcessLeaderboard};
use questpath::adapters::redis::Redis;
use questpath::config::{RedisSettings, Secret};
use questpath::leaderboard::rebuild::{LEASE, kept_boards};
use questpath::leaderboard::{Board, Leaderboards};
use questpath::ports::{Leaderboard, ScoreUpdate, Standing};
use uuid::Uuid;

struct Options {
    learners: usize,
    queries: usize,
    grants: usize,
    callers: usize,
    backends: Vec<String>,
}

fn options() -> Options {
    let mut options = Options {
        learners: 1_000_000,
        queries: 20_000,
        grants: 100_000,
        callers: 256,
        backends: vec!["redis".into(), "embedded".into()],
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--learners" => options.learners = value.parse().expect("--learners N"),
            "--queries" => options.queries = value.parse().expect("--queries N"),
            "--grants" => options.grants = value.parse().expect("--grants N"),
            "--callers" => options.callers = value.parse().expect("--callers N"),
            "--backend" => options.backends = vec![value],
            // `cargo bench` passes `--bench`; ignore what is not ours.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

/// A small deterministic generator, so every run seeds the same scores.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 42) as f64
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Seeds `n` learners: XP from a long-tailed distribution (most learners have a few
/// hundred, a few have hundreds of thousands), times over the past year.
/// Returns the time taken and the growth of this process's memory while applying (the
/// in-process board's size; the updates themselves exist before and after).
async fn seed(port: &Arc<dyn Leaderboard>, users: &[Uuid]) -> (Duration, f64) {
    let mut rng = Rng(42);
    let now = Utc::now().timestamp_millis();
    let updates: Vec<ScoreUpdate> = users
        .iter()
        .map(|&user_id| {
            let xp = (100.0 / (1.0 - rng.unit()).powf(0.7)) as i64 / 10 * 10;
            let reached = now - (rng.next() % (365 * 86_400_000)) as i64;
            ScoreUpdate {
                board: Board::AllTime.key(),
                user_id,
                standing: Standing {
                    score: xp.min(1_000_000_000),
                    reached_at: chrono::DateTime::from_timestamp_millis(reached)
                        .unwrap_or_default(),
                    entries: 1,
                },
                expires_at: None,
            }
        })
        .collect();
    let before = resident_mb();
    let started = Instant::now();
    // Batches of 500 (one script call each on Redis), four in flight.
    let results: Vec<_> = stream::iter(updates.chunks(500))
        .map(|batch| {
            let port = Arc::clone(port);
            async move { port.apply(batch).await }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let elapsed = started.elapsed();
    for result in results {
        result.expect("seed batch");
    }
    (elapsed, resident_mb() - before)
}

/// Top 10 and the viewer's rank, one request at a time; returns sorted latencies.
async fn page_latencies(
    port: &Arc<dyn Leaderboard>,
    users: &[Uuid],
    queries: usize,
) -> Vec<Duration> {
    let board = Board::AllTime.key();
    let mut rng = Rng(7);
    let mut latencies = Vec::with_capacity(queries);
    for i in 0..queries + 200 {
        let viewer = users[(rng.next() as usize) % users.len()];
        let started = Instant::now();
        let (top, me) = tokio::join!(port.top(&board, 10), port.entry(&board, viewer));
        let elapsed = started.elapsed();
        assert_eq!(top.expect("top").len(), 10);
        assert!(me.expect("entry").is_some());
        if i >= 200 {
            // The first 200 warm connections and caches up.
            latencies.push(elapsed);
        }
    }
    latencies.sort_unstable();
    latencies
}

/// One grant's updates: the learner's all-time and weekly standings.
fn grant_updates(user_id: Uuid, score: i64, entries: u64) -> Vec<ScoreUpdate> {
    let now = Utc::now();
    [
        Board::AllTime,
        Board::Weekly(questpath::leaderboard::Week::of(now)),
    ]
    .into_iter()
    .map(|board| ScoreUpdate {
        board: board.key(),
        user_id,
        standing: Standing {
            score,
            reached_at: now,
            entries,
        },
        expires_at: board.expires_at(),
    })
    .collect()
}

/// Grants from `callers` concurrent callers through `write`; returns grants per second.
async fn grant_rate<F, Fut>(users: &[Uuid], grants: usize, callers: usize, write: F) -> f64
where
    F: Fn(Vec<ScoreUpdate>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut rng = Rng(99);
    let work: Vec<(Uuid, i64, u64)> = (0..grants)
        .map(|i| {
            let user = users[(rng.next() as usize) % users.len()];
            (user, 2_000_000 + i as i64, 1_000 + i as u64)
        })
        .collect();
    let started = Instant::now();
    stream::iter(work)
        .map(|(user, score, entries)| write(grant_updates(user, score, entries)))
        .buffer_unordered(callers)
        .collect::<Vec<()>>()
        .await;
    grants as f64 / started.elapsed().as_secs_f64()
}

/// Resident memory of this process, in MB (Linux), for the in-process board's size.
fn resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |pages| pages * 4096.0 / 1e6)
}

async fn run(name: &str, port: Arc<dyn Leaderboard>, options: &Options) {
    let users: Vec<Uuid> = (0..options.learners).map(|_| Uuid::new_v4()).collect();
    println!("== {name} ({} learners)", options.learners);
    let (seeding, grown) = seed(&port, &users).await;
    println!(
        "seed: {:.1} s, {:.0} standings/s (batches of 500, 4 in flight); process memory {:+.0} MB",
        seeding.as_secs_f64(),
        options.learners as f64 / seeding.as_secs_f64(),
        grown
    );
    assert_eq!(
        port.len(&Board::AllTime.key()).await.expect("len"),
        options.learners as u64
    );

    let latencies = page_latencies(&port, &users, options.queries).await;
    println!(
        "top 10 + my rank, {} requests one at a time: p50 {}, p99 {}, max {}",
        latencies.len(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 1.0)),
    );

    // Through the actor, as the XP service writes: concurrent grants share batches.
    let names_dir = std::env::temp_dir().join(format!("qp-bench-{}", Uuid::new_v4()));
    let store = EmbeddedStore::open(&names_dir)
        .await
        .expect("store for names");
    let leaderboards = Leaderboards::start(
        Arc::new(store),
        Arc::clone(&port),
        Arc::new(InProcessBus::new()),
    );
    let rate = grant_rate(&users, options.grants, options.callers, |updates| {
        let leaderboards = leaderboards.clone();
        async move {
            leaderboards.apply(updates).await.expect("grant");
        }
    })
    .await;
    println!(
        "grants through the actor, {} callers: {rate:.0} grants/s ({:.0} standings/s)",
        options.callers,
        rate * 2.0
    );
    let direct = grant_rate(&users, options.grants / 4, options.callers, |updates| {
        let port = Arc::clone(&port);
        async move {
            port.apply(&updates).await.expect("grant");
        }
    })
    .await;
    println!(
        "grants one call each (no actor), {} callers: {direct:.0} grants/s",
        options.callers
    );

    // Every board the run (or the actor's upkeep) may have written or marked.
    for board in kept_boards(Utc::now()) {
        port.clear(&board.key()).await.expect("clear");
    }
    port.release(LEASE).await.expect("release");
    let _ = std::fs::remove_dir_all(&names_dir);
}

fn main() {
    let options = options();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "{} cores; learners {}, queries {}, grants {}, callers {}",
        cores, options.learners, options.queries, options.grants, options.callers
    );
    questpath::tls::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The leaderboard actor needs an actix system, as in the server.
    let system = actix_web::rt::System::with_tokio_rt(move || runtime);
    system.block_on(async {
        for backend in &options.backends {
            match backend.as_str() {
                "redis" => {
                    let url = std::env::var("QUESTPATH_BENCH_REDIS_URL")
                        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
                    let redis = Redis::connect(&RedisSettings {
                        url: Secret::new(url),
                        prefix: format!("bench-{}:", Uuid::new_v4().simple()),
                    })
                    .await
                    .expect("connect to Redis");
                    run("redis", Arc::new(redis.leaderboard()), &options).await;
                    redis.shutdown().await;
                }
                "embedded" => {
                    run(
                        "in-process",
                        Arc::new(InProcessLeaderboard::new()),
                        &options,
                    )
                    .await;
                }
                other => panic!("unknown backend {other} (redis or embedded)"),
            }
        }
    });
}
