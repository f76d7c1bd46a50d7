//! ScyllaDB (or Cassandra) adapters: the store, and `migrate` for `schema.cql`.

mod archive;
mod auth;
mod goals;
mod quizzes;
mod room_results;
pub mod schema;
pub mod session;
pub mod store;
mod xp;

pub use schema::{MigrateError, SCHEMA_VERSION, migrate};
pub use session::ConnectError;
pub use store::ScyllaStore;
