//! Ports: the traits the server's core depends on. Each has an embedded (in-process)
//! adapter and a distributed one (ScyllaDB or Redis) under `crate::adapters`, and one
//! conformance suite in `tests/conformance/` that runs against every adapter.
//!
//! Actors and HTTP handlers only ever see these traits, never a database client.

pub mod bus;
pub mod cache;
pub mod job_queue;
pub mod leaderboard;
pub mod mailer;
pub mod quiz_owner;
pub mod rate_limiter;
pub mod roadmap_generator;
pub mod store;

pub use bus::{Bus, BusSubscription};
pub use cache::Cache;
pub use job_queue::{Job, JobQueue};
pub use leaderboard::{Leaderboard, LeaderboardEntry, Placement, ScoreUpdate, Standing};
pub use mailer::{MailError, Mailer, OutgoingMail};
pub use quiz_owner::QuizOwners;
pub use rate_limiter::{RateDecision, RateLimit, RateLimiter};
pub use roadmap_generator::{GenerateError, RoadmapGenerator};
pub use store::{
    ArchiveStore, GenerationJob, Goal, GoalStatus, GoalStore, JobStatus, JobStore, Level,
    LevelStatus, LoginFailures, NewGoal, NewUser, Page, ProfileUpdate, Question, QuizStore,
    RefreshFamily, RefreshToken, RoomResultStore, SessionStore, Store, StoreBackend, StoreError,
    Topic, User, UserStore, XpEntry, XpStore,
};

/// Failure of a shared-state port (cache, rate limiter, bus, leaderboard, job queue):
/// the backend could not be reached or answered something unexpected. Callers decide
/// whether to fail open or closed; the message is for logs, never for clients.
#[derive(Debug, thiserror::Error)]
#[error("{backend} {operation} failed: {message}")]
pub struct PortError {
    pub backend: &'static str,
    pub operation: &'static str,
    pub message: String,
}

impl PortError {
    pub fn new(backend: &'static str, operation: &'static str, message: impl ToString) -> Self {
        PortError {
            backend,
            operation,
            message: message.to_string(),
        }
    }
}

pub type PortResult<T> = Result<T, PortError>;
