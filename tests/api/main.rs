//! HTTP API tests: a real server on a random loopback port, a real HTTP client.
//! One binary for all API tests (module list only here).

mod auth;
mod health;
mod helpers;
mod legacy_auth;
mod metrics;
mod tickets;
