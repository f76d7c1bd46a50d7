//! Embedded adapters: one process, no other service.

pub mod backup;
pub mod bus;
pub mod cache;
pub mod control;
mod database;
pub mod job_queue;
pub mod leaderboard;
pub mod quiz_owners;
pub mod rate_limiter;
pub mod store;

pub use bus::InProcessBus;
pub use cache::InProcessCache;
pub use job_queue::InProcessJobQueue;
pub use leaderboard::InProcessLeaderboard;
pub use quiz_owners::InProcessQuizOwners;
pub use rate_limiter::InProcessRateLimiter;
pub use store::EmbeddedStore;
