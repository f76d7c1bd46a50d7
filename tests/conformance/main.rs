//! Port conformance suites: the same tests against every adapter of each port.
//!
//! Distributed adapters need the services that `scripts/test` starts; their tests fail
//! (never skip) when `QUESTPATH_TEST_SCYLLA_NODES`, `QUESTPATH_TEST_REDIS_URL` or
//! `QUESTPATH_TEST_REDIS_CLUSTER_URL` is unset.

mod bus;
mod cache;
mod common;
mod job_queue;
mod leaderboard;
mod leaderboard_actor;
mod leagues;
mod leagues_week;
mod mail_store;
mod mailer;
mod notifications;
// ---- quiz owners (issue 16) ----
mod quiz_owners;
mod rate_limiter;
mod redis_cluster;
mod redis_upgrade;
mod refresh_race;
mod store;
mod streaks;
mod xp_pending;
