//! Store port: everything that must last (users, credentials, refresh tokens, goals,
//! roadmaps, progress, quiz attempts, the XP ledger). ScyllaDB in production, an
//! embedded ACID store for a single instance.
//!
//! One trait per aggregate, each in its own file with the entities it stores; [`Store`]
//! is all of them together, what a backend implements and what wiring hands around.
//! A caller that needs one aggregate may take just that trait.

use async_trait::async_trait;
use uuid::Uuid;

mod archive;
mod goals;
mod jobs;
mod leagues;
mod mail;
mod notifications;
mod quizzes;
mod room_results;
mod sessions;
mod streaks;
mod users;
mod xp;

pub use archive::{ArchiveStore, ArchivedEntry, ArchivedWeek};
pub use goals::{Goal, GoalStatus, GoalStore, Level, LevelStatus, NewGoal, Question, Topic};
pub use jobs::{GenerationJob, JobStatus, JobStore};
pub use leagues::{
    CohortId, LeagueMembership, LeaguePlacement, LeagueResult, LeagueStore, LeagueWeek,
};
pub use mail::{MailPreferences, MailSettings, MailStore, MailToken, MailTokenPurpose};
pub use notifications::{Notification, NotificationStore, Retention};
pub use quizzes::{QuizQuestion, QuizStore, QuizSummary, SavedQuiz};
pub use room_results::{RoomResult, RoomResultStore, signed_in_players};
pub use sessions::{LoginFailures, RefreshFamily, RefreshToken, SessionStore};
pub use streaks::{
    StreakBase, StreakCheck, StreakDay, StreakRecord, StreakStore, VersionedStreak, ZoneSpan,
    due_hour,
};
pub use users::{NewUser, ProfileUpdate, User, UserStore, email_key};
pub use xp::{RetiredXp, RetiredXpEntry, XpEntry, XpStore};

/// Store failures the caller can act on; anything else is `Unavailable` or `Internal`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (such as an email) is already taken.
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    /// The backend could not be reached or timed out; retrying later may work.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data or a query is broken; a bug or corruption, not the caller's fault.
    #[error("store error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a list, newest first, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `after` to get the next page; `None` on the last page.
    pub next: Option<Uuid>,
}

/// What every backend answers besides its data: its name and whether it is up.
#[async_trait]
pub trait StoreBackend: Send + Sync + 'static {
    /// Name of the backend, for logs and `/ready`.
    fn backend(&self) -> &'static str;

    /// Answers when the backend is reachable and usable.
    async fn ping(&self) -> StoreResult<()>;
}

/// The whole store: every aggregate's trait. Implemented for anything that implements
/// them all, so a backend only implements the aggregates.
pub trait Store:
    StoreBackend
    + UserStore
    + SessionStore
    + JobStore
    + GoalStore
    + XpStore
    + ArchiveStore
    + RoomResultStore
    + QuizStore
    + NotificationStore
    + LeagueStore
    // streaks (issue 18)
    + StreakStore
    + MailStore
{
}

impl<T> Store for T where
    T: StoreBackend
        + UserStore
        + SessionStore
        + JobStore
        + GoalStore
        + XpStore
        + ArchiveStore
        + RoomResultStore
        + QuizStore
        + NotificationStore
        + LeagueStore
        // streaks (issue 18)
        + StreakStore
        + MailStore
        + ?Sized
{
}
