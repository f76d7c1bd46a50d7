//! Benchmark (not a test): password verifications per second per core with the
//! argon2id parameters the server uses, which bounds password sign-ins per core.
//!
//! Run: `cargo bench --bench login_hashing` (release profile). Results are recorded in
//! `docs/performance.md`.

use std::time::Instant;

use questpath::auth::password::{self, Verified};

const ROUNDS: usize = 40;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let phc = password::hash("correct horse battery staple".into())
            .await
            .expect("hash");
        let params: Vec<&str> = phc.split('$').take(4).collect();
        println!("parameters: {}", params.join("$"));

        // Warm up (page in the 19 MiB working memory once).
        let _ = password::verify("correct horse battery staple".into(), Some(phc.clone())).await;

        let started = Instant::now();
        for _ in 0..ROUNDS {
            let ok =
                password::verify("correct horse battery staple".into(), Some(phc.clone())).await;
            assert_eq!(ok, Verified::Yes);
        }
        let one = started.elapsed();
        println!(
            "1 core : {ROUNDS} verifications in {:.2} s = {:.1}/s, {:.1} ms each",
            one.as_secs_f64(),
            ROUNDS as f64 / one.as_secs_f64(),
            one.as_secs_f64() * 1000.0 / ROUNDS as f64
        );

        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let started = Instant::now();
        let tasks: Vec<_> = (0..cores)
            .map(|_| {
                let phc = phc.clone();
                tokio::spawn(async move {
                    for _ in 0..ROUNDS {
                        password::verify("correct horse battery staple".into(), Some(phc.clone()))
                            .await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        let all = started.elapsed();
        let total = (ROUNDS * cores) as f64;
        println!(
            "{cores} cores: {} verifications in {:.2} s = {:.1}/s ({:.1}/s per core)",
            ROUNDS * cores,
            all.as_secs_f64(),
            total / all.as_secs_f64(),
            total / all.as_secs_f64() / cores as f64
        );
    });
}
