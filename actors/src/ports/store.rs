//! Store port: everything that must last (users, credentials, refresh tokens, goals,
//! roadmaps, progress, quiz attempts, the XP ledger). ScyllaDB in production, an
//! embedded ACID store for a single instance.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A learner's account as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: Uuid,
    /// Normalised (trimmed, lower-cased) email; unique across users.
    pub email: String,
    pub display_name: Option<String>,
    pub picture: Option<String>,
    pub total_xp: i64,
    pub created_at: DateTime<Utc>,
}

/// What creating a user needs; the store assigns nothing, so a retried create with the
/// same id is recognisable.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub picture: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl NewUser {
    /// A new user with a fresh time-ordered id, created now.
    pub fn new(email: impl Into<String>) -> Self {
        NewUser {
            id: Uuid::now_v7(),
            email: email.into(),
            display_name: None,
            picture: None,
            created_at: Utc::now(),
        }
    }
}

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

/// Changes to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// `Some(None)` clears the display name.
    pub display_name: Option<Option<String>>,
    /// `Some(None)` clears the picture.
    pub picture: Option<Option<String>>,
}

/// One refresh token, stored only as the SHA-256 of its opaque value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshToken {
    /// Lower-case hex SHA-256 of the token value.
    pub token_hash: String,
    pub user_id: Uuid,
    /// Every token obtained by rotating from one login shares the family id.
    pub family_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set once, when the token is exchanged for its successor.
    pub used_at: Option<DateTime<Utc>>,
}

/// A chain of refresh tokens started by one sign-in (one device).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshFamily {
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// Until when the family may be used, pushed forward by every rotation.
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

/// Failed sign-in attempts counted for one key (an account or a client address).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoginFailures {
    pub count: u32,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// Sign-ins for this key are refused until then.
    pub locked_until: Option<DateTime<Utc>>,
}

impl LoginFailures {
    /// The state after one more failure at `now`, shared by every adapter so they count
    /// alike. A failure more than `window` after the first counted one starts a new
    /// count. A lock still running is never shortened, even by a new count whose
    /// `lock_for` is shorter or none: waiting out the window must not lift a lock.
    pub fn after_failure(
        previous: Option<&LoginFailures>,
        now: DateTime<Utc>,
        window: chrono::Duration,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> LoginFailures {
        let (count, first_at) = match previous {
            Some(p) if now <= p.first_at + window => (p.count.saturating_add(1), p.first_at),
            _ => (1, now),
        };
        let running = previous
            .and_then(|p| p.locked_until)
            .filter(|until| *until > now);
        let locked_until = match (lock_for(count).map(|d| now + d), running) {
            (Some(new), Some(old)) => Some(new.max(old)),
            (new, old) => new.or(old),
        };
        LoginFailures {
            count,
            first_at,
            last_at: now,
            locked_until,
        }
    }

    /// Whether the record still matters at `now`: inside its window, or locked.
    pub fn is_current(&self, now: DateTime<Utc>, window: chrono::Duration) -> bool {
        now <= self.first_at + window || self.locked_until.is_some_and(|until| until > now)
    }

    /// When the record stops mattering: the later of its window's end and its lock's.
    pub fn current_until(&self, window: chrono::Duration) -> DateTime<Utc> {
        let window_end = self.first_at + window;
        self.locked_until
            .map_or(window_end, |until| until.max(window_end))
    }
}

/// Key used for email uniqueness: trimmed and lower-cased, so `Ann@X.org` and
/// `ann@x.org` are the same account whatever the caller passed.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Progress of a goal, as the old frontend shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GoalStatus {
    NotStarted,
    InProgress,
    Completed,
}

/// Progress of a level. The first level starts unlocked, the others locked; passing a
/// level's quiz completes it and unlocks the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LevelStatus {
    Locked,
    Unlocked,
    InProgress,
    Completed,
}

/// A learner's goal with its roadmap's identity (levels are read separately).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Goal {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The generation job that produced it.
    pub job_id: Uuid,
    pub title: String,
    /// The learner's own words.
    pub description: String,
    pub category: String,
    pub difficulty: crate::domain::roadmap::Difficulty,
    pub status: GoalStatus,
    pub roadmap_id: Uuid,
    pub roadmap_name: String,
    pub level_count: u32,
    pub created_at: DateTime<Utc>,
}

/// A topic of a level and whether the learner ticked it off.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Topic {
    pub name: String,
    pub explanation: String,
    pub completed: bool,
}

/// A level of a goal's roadmap.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Level {
    pub id: Uuid,
    pub goal_id: Uuid,
    pub user_id: Uuid,
    /// 1-based position in the roadmap.
    pub order: u32,
    pub title: String,
    pub description: String,
    pub xp_reward: u32,
    pub status: LevelStatus,
    pub topics: Vec<Topic>,
}

/// A stored quiz question; the answer never leaves the server before the learner
/// answers (v1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Question {
    pub id: Uuid,
    pub level_id: Uuid,
    /// Position in the level's bank, from 0.
    pub index: u32,
    pub question: String,
    pub options: Vec<String>,
    /// Index of the correct option.
    pub answer: u8,
    pub explanation: String,
}

/// A goal and everything generated with it, saved together.
#[derive(Debug, Clone)]
pub struct NewGoal {
    pub goal: Goal,
    pub levels: Vec<Level>,
    pub questions: Vec<Question>,
}

impl NewGoal {
    /// Refuses a goal whose parts do not belong together: levels of another goal or
    /// user, two levels at one position, questions of a level not in the goal, a
    /// question index used twice. Stored, such parts would escape `delete_goal`. Both
    /// adapters check with this one function before writing.
    pub fn check(&self) -> Result<(), String> {
        let new = self;
        let goal = &new.goal;
        let mut orders = HashSet::new();
        let mut level_ids = HashSet::new();
        for level in &new.levels {
            if level.goal_id != goal.id || level.user_id != goal.user_id {
                return Err(format!(
                    "level {} does not belong to goal {} of user {}",
                    level.id, goal.id, goal.user_id
                ));
            }
            if !orders.insert(level.order) || !level_ids.insert(level.id) {
                return Err(format!(
                    "goal {} repeats level {} or position {}",
                    goal.id, level.id, level.order
                ));
            }
        }
        let mut slots = HashSet::new();
        for question in &new.questions {
            if !level_ids.contains(&question.level_id) {
                return Err(format!(
                    "question {} is of level {}, not a level of goal {}",
                    question.id, question.level_id, goal.id
                ));
            }
            if !slots.insert((question.level_id, question.index)) {
                return Err(format!(
                    "level {} repeats question index {}",
                    question.level_id, question.index
                ));
            }
        }
        Ok(())
    }
}

/// State of a roadmap-generation job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

/// A roadmap-generation job as the learner can follow it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GenerationJob {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The goal this job creates (its id is fixed when the job is queued).
    pub goal_id: Uuid,
    pub description: String,
    pub status: JobStatus,
    /// What a running job is doing ("generating", "saving").
    pub step: Option<String>,
    /// Why a failed job failed.
    pub reason: Option<String>,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One entry of the XP ledger: XP is handled like money, so every grant is written
/// once under a deterministic id and never changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct XpEntry {
    pub user_id: Uuid,
    /// Deterministic: the same grant asked twice has the same id.
    pub grant_id: String,
    pub amount: i64,
    /// Why it was granted (`level_first_pass`, `level_repass`, `room`).
    pub source: String,
    pub created_at: DateTime<Utc>,
}

/// A finished week whose final weekly board is archived in the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArchivedWeek {
    /// The ISO week, `2026-W47`.
    pub period: String,
    /// Learners on the board; the archive holds ranks 1 to `total`.
    pub total: u64,
    /// When the archive was completed.
    pub archived_at: DateTime<Utc>,
}

/// One learner's final place on an archived weekly board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArchivedEntry {
    /// 1 is the top.
    pub rank: u64,
    pub user_id: Uuid,
    pub score: i64,
    /// When the learner reached `score`, to the millisecond: the tie-break the ranks
    /// were decided by.
    pub reached_at: DateTime<Utc>,
}

/// The final results of a multiplayer room, kept after the room is gone.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoomResult {
    pub room_id: Uuid,
    /// The 6-character join code it had.
    pub code: String,
    pub host_id: Uuid,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Why it ended: `finished`, `ended_by_host`, `host_left`, `abandoned`.
    pub end_reason: String,
    /// Number of players who took part.
    pub players: u32,
    /// The whole result document (players, placements, per-question answers), opaque to
    /// the store.
    pub results: serde_json::Value,
}

/// A quiz a host saved to play in rooms again (owned by one learner; nobody else sees it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedQuiz {
    /// UUID v7: quizzes list in creation order.
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    /// Empty when the host gave none.
    pub description: String,
    pub questions: Vec<QuizQuestion>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One question of a saved quiz (or of a room's own questions), as validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuizQuestion {
    pub question: String,
    /// Two to four options, shown as A to D.
    pub options: Vec<String>,
    /// Index of the correct option.
    pub answer: u8,
    /// Empty when there is none.
    pub explanation: String,
    /// Seconds to answer; `None` plays it with the room's default.
    pub time_limit_secs: Option<u32>,
    /// Points multiplier: 0, 1 or 2.
    pub points: u32,
}

/// A saved quiz as its owner's list shows it (without the questions).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuizSummary {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub question_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SavedQuiz {
    pub fn summary(&self) -> QuizSummary {
        QuizSummary {
            id: self.id,
            owner_id: self.owner_id,
            title: self.title.clone(),
            question_count: self.questions.len() as u32,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// One page of a list, newest first, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `after` to get the next page; `None` on the last page.
    pub next: Option<Uuid>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Name of the backend, for logs and `/ready`.
    fn backend(&self) -> &'static str;

    /// Answers when the backend is reachable and usable.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates a user; `Conflict { what: "email" }` if the email is taken
    /// (case-insensitively), even when two creates race.
    async fn create_user(&self, new: NewUser) -> StoreResult<User>;

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>>;

    /// Looks a user up by email, case-insensitively.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;

    /// Applies `update` and returns the updated user, or `None` for an unknown user.
    async fn update_profile(&self, id: Uuid, update: ProfileUpdate) -> StoreResult<Option<User>>;

    // ---- credentials ----

    /// Sets (or replaces) the user's password hash, a PHC string.
    async fn set_password_hash(&self, user_id: Uuid, phc: &str) -> StoreResult<()>;

    /// The user's password hash, or `None` (no password: Google-only account).
    async fn password_hash(&self, user_id: Uuid) -> StoreResult<Option<String>>;

    // ---- Google sign-in ----

    /// Links a Google account (`sub` claim) to a user, once: returns the user id that
    /// owns `google_sub` afterwards (an earlier link wins a race).
    async fn link_google(&self, google_sub: &str, user_id: Uuid) -> StoreResult<Uuid>;

    /// The user linked to a Google account.
    async fn user_by_google(&self, google_sub: &str) -> StoreResult<Option<User>>;

    // ---- refresh tokens ----

    /// Stores a new family (at sign-in).
    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()>;

    async fn refresh_family(&self, family_id: Uuid) -> StoreResult<Option<RefreshFamily>>;

    /// Pushes the family's expiry forward (at each rotation).
    async fn extend_refresh_family(
        &self,
        family_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Marks one family revoked (logout, or reuse of a used token).
    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<()>;

    /// Revokes every family of the user ("log out everywhere"); returns how many.
    async fn revoke_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32>;

    /// Stores a new refresh token; it expires from the store at `expires_at`.
    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;

    /// Marks the token used at `at`, only if it was unused: returns true for the one
    /// caller that consumed it, false if it was already used (or is unknown), even
    /// when several callers race.
    async fn consume_refresh_token(&self, token_hash: &str, at: DateTime<Utc>)
    -> StoreResult<bool>;

    // ---- sign-in failures (brute-force protection) ----

    /// Counts one failure for `key` within a window of `window` from the first counted
    /// failure (older counts start over), sets `locked_until` from `lock_for(count)`,
    /// and returns the new state. Concurrent failures are all counted.
    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> StoreResult<LoginFailures>;

    /// The current failures for `key`, if any inside their window.
    async fn login_failures(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<Option<LoginFailures>>;

    /// Forgets the failures of `key` (after a successful sign-in).
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;

    // ---- generation jobs ----

    /// Stores a new job (status queued).
    async fn create_job(&self, job: &GenerationJob) -> StoreResult<()>;

    async fn job(&self, job_id: Uuid) -> StoreResult<Option<GenerationJob>>;

    /// Replaces the job's status, step, reason, attempts and `updated_at`.
    async fn update_job(&self, job: &GenerationJob) -> StoreResult<()>;

    // ---- goals, roadmaps, levels, questions ----

    /// Saves a goal with its levels and questions. Idempotent (a retried job writes the
    /// same ids again), and all-or-nothing as readers see it: until it returns, neither
    /// the goal nor the user's goal list shows any of it.
    async fn save_goal(&self, goal: &NewGoal) -> StoreResult<()>;

    async fn goal(&self, goal_id: Uuid) -> StoreResult<Option<Goal>>;

    /// The user's goals, newest first, `limit` at most, after the cursor `after` (a goal
    /// id from a previous page).
    async fn goals_of_user(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Page<Goal>>;

    /// Deletes a goal with its levels and questions; false when it did not exist.
    async fn delete_goal(&self, goal_id: Uuid) -> StoreResult<bool>;

    /// The goal's levels in roadmap order.
    async fn levels(&self, goal_id: Uuid) -> StoreResult<Vec<Level>>;

    async fn level(&self, level_id: Uuid) -> StoreResult<Option<Level>>;

    /// Sets one topic's completion (an explicit state, so repeating it is harmless) and
    /// returns the level as it is afterwards; `None` when the level or the topic index
    /// does not exist. Concurrent changes to different topics of a level are all kept.
    async fn set_topic_completed(
        &self,
        level_id: Uuid,
        index: u32,
        completed: bool,
    ) -> StoreResult<Option<Level>>;

    async fn set_level_status(&self, level_id: Uuid, status: LevelStatus) -> StoreResult<()>;

    async fn set_goal_status(&self, goal_id: Uuid, status: GoalStatus) -> StoreResult<()>;

    /// The level's question bank in index order.
    async fn questions(&self, level_id: Uuid) -> StoreResult<Vec<Question>>;

    // ---- XP ledger ----

    /// Writes a grant to the ledger once: true when this call wrote it, false when
    /// the grant id was already there (a retry), even when callers race. A written grant
    /// is also marked pending until [`Store::clear_xp_pending`] says it was applied to
    /// the profile and the leaderboard.
    async fn record_xp(&self, entry: &XpEntry) -> StoreResult<bool>;

    /// The user's whole ledger (one partition; grows by at most a few entries a day).
    async fn xp_entries(&self, user_id: Uuid) -> StoreResult<Vec<XpEntry>>;

    /// Sets the profile's total XP (always the ledger's sum, so repeating is harmless).
    async fn set_total_xp(&self, user_id: Uuid, total: i64) -> StoreResult<()>;

    /// Users with grants not yet applied everywhere (recovery after a crash), at most
    /// `limit`, each once.
    async fn xp_pending_users(&self, limit: usize) -> StoreResult<Vec<Uuid>>;

    /// The user's pending grant ids.
    async fn xp_pending(&self, user_id: Uuid) -> StoreResult<Vec<String>>;

    /// Marks these grants applied (only these: one written meanwhile stays pending).
    async fn clear_xp_pending(&self, user_id: Uuid, grant_ids: &[String]) -> StoreResult<()>;

    /// Users with at least one ledger entry (to rebuild the leaderboards), `limit` at
    /// most, each once, continuing after `after` (the last user of the previous page).
    /// The order is the store's own (CQL: token order; embedded: id order); a page
    /// shorter than `limit` is the last.
    async fn xp_users(&self, after: Option<Uuid>, limit: usize) -> StoreResult<Vec<Uuid>>;

    // ---- archive of past weekly boards ----

    /// Writes some of a finished week's final standings (any ranks, any order; a rank
    /// or a learner written again is overwritten, so re-running an archive is
    /// idempotent). Until [`Store::mark_week_archived`], nothing of the week counts as
    /// archived.
    async fn write_archive_entries(
        &self,
        period: &str,
        entries: &[ArchivedEntry],
    ) -> StoreResult<()>;

    /// Marks the week archived: every one of its `total` standings is written. Called
    /// last, so a half-written archive is never taken for a whole one.
    async fn mark_week_archived(&self, week: &ArchivedWeek) -> StoreResult<()>;

    /// The week, when it is archived (marked); `None` otherwise.
    async fn archived_week(&self, period: &str) -> StoreResult<Option<ArchivedWeek>>;

    /// Archived weeks, newest first, at most `limit`.
    async fn archived_weeks(&self, limit: usize) -> StoreResult<Vec<ArchivedWeek>>;

    /// Up to `limit` archived standings of the week by rank, from `from_rank` (1 is the
    /// top). Complete only once [`Store::archived_week`] answers: callers ask that first.
    async fn archived_entries(
        &self,
        period: &str,
        from_rank: u64,
        limit: usize,
    ) -> StoreResult<Vec<ArchivedEntry>>;

    /// A learner's archived standing on the week (rank and score); `None` without one.
    async fn archived_entry(
        &self,
        period: &str,
        user_id: Uuid,
    ) -> StoreResult<Option<ArchivedEntry>>;

    // ---- multiplayer room results ----

    /// Saves (or rewrites: idempotent) a room's final results. A rewrite that changes
    /// the host or the end time moves the room in the hosts' lists.
    async fn save_room_result(&self, result: &RoomResult) -> StoreResult<()>;

    /// One room's results.
    async fn room_result(&self, room_id: Uuid) -> StoreResult<Option<RoomResult>>;

    /// A host's rooms, most recently ended first (rooms that ended in the same
    /// millisecond by descending room id), at most `limit`, without the `results`
    /// document (set to `Value::Null`).
    async fn room_results_of_host(
        &self,
        host_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<RoomResult>>;

    // ---- saved quizzes ----

    /// Saves a new quiz unless its owner already has `limit` quizzes: true when saved,
    /// false (nothing written) at the limit. Saving a quiz again (a retry) rewrites it
    /// and is not counted twice. The count is exact on the embedded store; on CQL, creates
    /// of one owner that race may each see one slot left (no transaction spans the count
    /// and the write), so the limit can be passed by the number of such races.
    async fn create_quiz(&self, quiz: &SavedQuiz, limit: usize) -> StoreResult<bool>;

    /// Replaces the title, description, questions and `updated_at` of a quiz of
    /// `quiz.owner_id` (its id, owner and `created_at` stay); false, and nothing written,
    /// when that owner has no such quiz.
    async fn update_quiz(&self, quiz: &SavedQuiz) -> StoreResult<bool>;

    /// One quiz, whoever owns it (callers check the owner).
    async fn quiz(&self, quiz_id: Uuid) -> StoreResult<Option<SavedQuiz>>;

    /// The owner's quizzes, newest (created) first, at most `limit`, without questions.
    async fn quizzes_of_owner(&self, owner_id: Uuid, limit: usize)
    -> StoreResult<Vec<QuizSummary>>;

    /// Deletes a quiz of `owner_id`; false when that owner has no such quiz (another
    /// owner's quiz is left alone).
    async fn delete_quiz(&self, owner_id: Uuid, quiz_id: Uuid) -> StoreResult<bool>;
}
