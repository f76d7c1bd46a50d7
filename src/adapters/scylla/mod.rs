//! ScyllaDB (or Cassandra) adapters: the store, and `migrate` for `schema.cql`.
//!
//! [`store`] holds the connection and what every aggregate shares; each aggregate's file
//! prepares its statements and implements its port trait for [`ScyllaStore`].

mod archive;
pub mod connect;
mod goals;
mod jobs;
mod leagues;
mod mail;
mod notifications;
mod quizzes;
mod room_results;
pub mod schema;
mod sessions;
pub mod store;
mod streaks;
mod users;
mod xp;

pub use connect::ConnectError;
pub use schema::{MigrateError, SCHEMA_VERSION, migrate};
pub use store::ScyllaStore;
