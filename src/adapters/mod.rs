//! Adapters: implementations of the ports in `crate::ports`.
//!
//! - `embedded`: the default for `cargo run`: a redb store in the data folder and
//!   in-process leaderboard, cache, rate limiter, bus and job queue.
//! - `scylla`: the store on ScyllaDB (or Cassandra), with `schema.cql` and `migrate`.
//! - `redis`: leaderboard, cache, rate limiter, bus and job queue shared by all instances.
//! - `mail`: the mailer, over SMTP or into the outbox folder.

pub mod catalog;
pub mod embedded;
pub mod mail;
pub mod openai;
pub mod redis;
pub mod scylla;
