//! What the integration tests of `questpath` share, so every test target starts servers,
//! reads the service variables and talks to a server the same way:
//!
//! - [`settings`]: the settings of a test server (loopback port, own data folder,
//!   generous sign-in limits, short quiz timings);
//! - [`app`]: a server in this process ([`TestApp`], what most tests use);
//! - [`process`]: the real binary as a process ([`ServerProcess`], [`WorkerProcess`]):
//!   clean environment, readiness, signals, captured logs;
//! - [`services`]: the Redis and CQL servers `scripts/test` starts, and their settings;
//! - [`redis_cluster`]: a Redis Cluster of the test's own ([`OwnRedisCluster`]);
//! - [`cql`]: test keyspaces (named with their age, dropped, swept);
//! - [`nginx`]: Debian's nginx with the deployment's config in front of test servers;
//! - [`client`]: an HTTP client of any server ([`Endpoint`]) with the flows tests repeat,
//!   and a `questpath.v1` websocket client ([`WsClient`]);
//! - [`mail`]: mail received by the test SMTP server or written to an outbox;
//! - [`stub`]: small HTTP servers standing in for outside services (Google's keys, an LLM).

pub mod app;
pub mod client;
pub mod cql;
pub mod mail;
pub mod nginx;
pub mod process;
pub mod redis_cluster;
pub mod services;
pub mod settings;
pub mod stub;

pub use app::{TestApp, TestAppBuilder, spawn_app, spawn_app_tuned, spawn_app_with};
pub use client::{
    Endpoint, Session, Socket, TestUser, WsClient, cookie_value, http, other_letter, set_cookie,
};
pub use nginx::Nginx;
pub use process::{Binary, ServerProcess, WorkerProcess, free_port, run};
pub use redis_cluster::OwnRedisCluster;
pub use services::{redis_cluster_settings, redis_cluster_url};
pub use services::{redis_settings, redis_url, required_env, scylla_nodes, scylla_settings};
pub use settings::{QUESTION_TIME, test_settings};
pub use stub::StubServer;
