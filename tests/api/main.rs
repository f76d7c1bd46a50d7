//! HTTP API tests: a real server on a random loopback port, a real HTTP client.
//! One binary for all API tests (module list only here).

mod health;
mod helpers;
mod metrics;
