//! `questpath-load`: parse the flags, run the scenario under its time bound, print the
//! summary. Exit status: 0 done, 1 could not run, 2 bad flags (clap), 3 done but too
//! many operations failed.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use questpath_load::cli::Cli;
use tokio_util::sync::CancellationToken;

/// After the run's bound (or ctrl-c) the scenario gets this long to wind down and write
/// its report before the process exits regardless.
const WIND_DOWN: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // reqwest may be built with rustls and no provider (feature unification with the
    // server crate); install one before any client exists. Plain http never uses it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("questpath-load: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let max_runtime = Duration::from_secs(cli.scenario.common().max_runtime);
    runtime.block_on(async move {
        let stop = CancellationToken::new();
        let watchdog = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => eprintln!("questpath-load: interrupted, stopping"),
                _ = tokio::time::sleep(max_runtime) => eprintln!("questpath-load: --max-runtime reached, stopping"),
            }
            watchdog.cancel();
        });
        let run = questpath_load::run(cli.scenario, stop.clone());
        let bounded = async {
            stop.cancelled().await;
            tokio::time::sleep(WIND_DOWN).await;
        };
        tokio::select! {
            result = run => match result {
                Ok(finished) => {
                    println!("{}", finished.summary);
                    if finished.too_many_errors {
                        eprintln!("questpath-load: too many operations failed (see the report)");
                        ExitCode::from(3)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("questpath-load: {e:#}");
                    ExitCode::FAILURE
                }
            },
            _ = bounded => {
                eprintln!("questpath-load: the run did not wind down within {} s of being stopped", WIND_DOWN.as_secs());
                ExitCode::FAILURE
            }
        }
    })
}
