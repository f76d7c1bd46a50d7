//! QuestPath server library; `main.rs` is a thin binary over it.
//!
//! # Layout
//! - `config`: settings from the environment and `.env`, validated at start-up.
//! - `ports`: the traits the core depends on (store, cache, rate limiter, bus,
//!   leaderboard, job queue).
//! - `adapters`: their embedded, ScyllaDB and Redis implementations.
//! - `backends`: picks the adapters the settings name; readiness probes.
//! - `http`: routes and middleware; `state`: what handlers share.
//! - `leaderboard`: all-time and weekly boards, their actor, rebuilds from the ledger.
//! - `mail`: emails (templates, queuing, the worker, one-click unsubscribe).
//! - `engagement`: what a learner is told when a streak is at risk or a league week ends.
//! - `quizzes`: hosts' saved quizzes, their checks, export and import files.
//! - `metrics`, `telemetry`: Prometheus metrics and JSON logs.
//! - `secrets`: the token signing key; `startup`: binds and runs the server.

pub mod adapters;
pub mod audit;
pub mod auth;
pub mod backends;
pub mod config;
pub mod engagement;
pub mod goals;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod quizzes;
pub mod realtime;
pub mod rooms;
pub mod secrets;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tls;

// The game core's domain types and ports, under their old paths for the adapters and tests.
pub use questpath_actors::{domain, fault, leaderboard, ports, xp};

/// Generators of hostile input for the property tests.
#[cfg(test)]
pub(crate) mod proptest_strategies;
