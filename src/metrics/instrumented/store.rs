//! The store's decorator: every call of every aggregate's trait is timed and counted
//! (`questpath_store_operations_total{operation,outcome}`,
//! `questpath_store_operation_duration_seconds{operation}`), and ticks the counter of
//! the HTTP request it runs in (`questpath_store_queries_per_request`).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::count_store_operation;
use crate::metrics::Metrics;
use questpath_actors::ports::store::{
    ArchiveStore, ArchivedEntry, ArchivedWeek, GenerationJob, Goal, GoalStatus, GoalStore,
    JobStore, Level, LevelStatus, LoginFailures, NewGoal, NewUser, Notification, NotificationStore,
    Page, ProfileUpdate, Question, QuizStore, QuizSummary, RefreshFamily, RefreshToken, Retention,
    RetiredXp, RetiredXpEntry, RoomResult, RoomResultStore, SavedQuiz, SessionStore, Store,
    StoreBackend, StoreError, StoreResult, User, UserStore, XpEntry, XpStore,
};

/// The `outcome` label of a store result.
fn store_outcome<T>(result: &StoreResult<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(StoreError::Conflict { .. }) => "conflict",
        Err(StoreError::Unavailable(_)) => "unavailable",
        Err(StoreError::Internal(_)) => "error",
    }
}

/// Times a store call and counts it (also on the request's counter).
macro_rules! timed_store {
    ($self:ident, $operation:literal, $call:expr) => {{
        count_store_operation();
        let started = Instant::now();
        let result = $call.await;
        $self
            .metrics
            .store_operation($operation, store_outcome(&result), started.elapsed());
        result
    }};
}

/// A [`Store`] whose every call is timed and counted.
pub struct InstrumentedStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl InstrumentedStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        InstrumentedStore { inner, metrics }
    }
}

#[async_trait]
impl StoreBackend for InstrumentedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> StoreResult<()> {
        timed_store!(self, "ping", self.inner.ping())
    }
}

#[async_trait]
impl UserStore for InstrumentedStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        timed_store!(self, "create_user", self.inner.create_user(new))
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        timed_store!(self, "user_by_id", self.inner.user_by_id(id))
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        timed_store!(self, "user_by_email", self.inner.user_by_email(email))
    }

    async fn update_profile(&self, id: Uuid, update: ProfileUpdate) -> StoreResult<Option<User>> {
        timed_store!(
            self,
            "update_profile",
            self.inner.update_profile(id, update)
        )
    }

    async fn set_password_hash(&self, user_id: Uuid, phc: &str) -> StoreResult<()> {
        timed_store!(
            self,
            "set_password_hash",
            self.inner.set_password_hash(user_id, phc)
        )
    }

    async fn password_hash(&self, user_id: Uuid) -> StoreResult<Option<String>> {
        timed_store!(self, "password_hash", self.inner.password_hash(user_id))
    }

    async fn link_google(&self, google_sub: &str, user_id: Uuid) -> StoreResult<Uuid> {
        timed_store!(
            self,
            "link_google",
            self.inner.link_google(google_sub, user_id)
        )
    }

    async fn user_by_google(&self, google_sub: &str) -> StoreResult<Option<User>> {
        timed_store!(
            self,
            "user_by_google",
            self.inner.user_by_google(google_sub)
        )
    }

    async fn google_links(&self, user_id: Uuid) -> StoreResult<Vec<String>> {
        timed_store!(self, "google_links", self.inner.google_links(user_id))
    }

    async fn mark_user_deleted(&self, user_id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        timed_store!(
            self,
            "mark_user_deleted",
            self.inner.mark_user_deleted(user_id, at)
        )
    }

    async fn deleted_users(&self, user_ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        timed_store!(self, "deleted_users", self.inner.deleted_users(user_ids))
    }

    async fn delete_user(&self, user_id: Uuid) -> StoreResult<bool> {
        timed_store!(self, "delete_user", self.inner.delete_user(user_id))
    }
}

#[async_trait]
impl SessionStore for InstrumentedStore {
    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()> {
        timed_store!(
            self,
            "create_refresh_family",
            self.inner.create_refresh_family(family)
        )
    }

    async fn refresh_family(&self, family_id: Uuid) -> StoreResult<Option<RefreshFamily>> {
        timed_store!(self, "refresh_family", self.inner.refresh_family(family_id))
    }

    async fn extend_refresh_family(
        &self,
        family_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        timed_store!(
            self,
            "extend_refresh_family",
            self.inner.extend_refresh_family(family_id, expires_at)
        )
    }

    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<()> {
        timed_store!(
            self,
            "revoke_refresh_family",
            self.inner.revoke_refresh_family(family_id)
        )
    }

    async fn revoke_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32> {
        timed_store!(
            self,
            "revoke_user_refresh_families",
            self.inner.revoke_user_refresh_families(user_id)
        )
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        timed_store!(
            self,
            "insert_refresh_token",
            self.inner.insert_refresh_token(token)
        )
    }

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        timed_store!(self, "refresh_token", self.inner.refresh_token(token_hash))
    }

    async fn consume_refresh_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        timed_store!(
            self,
            "consume_refresh_token",
            self.inner.consume_refresh_token(token_hash, at)
        )
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> StoreResult<LoginFailures> {
        timed_store!(
            self,
            "record_login_failure",
            self.inner.record_login_failure(key, now, window, lock_for)
        )
    }

    async fn login_failures(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<Option<LoginFailures>> {
        timed_store!(
            self,
            "login_failures",
            self.inner.login_failures(key, now, window)
        )
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        timed_store!(
            self,
            "clear_login_failures",
            self.inner.clear_login_failures(key)
        )
    }

    async fn refresh_families_of_user(&self, user_id: Uuid) -> StoreResult<Vec<RefreshFamily>> {
        timed_store!(
            self,
            "refresh_families_of_user",
            self.inner.refresh_families_of_user(user_id)
        )
    }

    async fn delete_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32> {
        timed_store!(
            self,
            "delete_user_refresh_families",
            self.inner.delete_user_refresh_families(user_id)
        )
    }
}

#[async_trait]
impl JobStore for InstrumentedStore {
    async fn create_job(&self, job: &GenerationJob) -> StoreResult<()> {
        timed_store!(self, "create_job", self.inner.create_job(job))
    }

    async fn job(&self, job_id: Uuid) -> StoreResult<Option<GenerationJob>> {
        timed_store!(self, "job", self.inner.job(job_id))
    }

    async fn update_job(&self, job: &GenerationJob) -> StoreResult<()> {
        timed_store!(self, "update_job", self.inner.update_job(job))
    }

    async fn jobs_of_user(&self, user_id: Uuid) -> StoreResult<Vec<GenerationJob>> {
        timed_store!(self, "jobs_of_user", self.inner.jobs_of_user(user_id))
    }

    async fn delete_job(&self, job_id: Uuid) -> StoreResult<bool> {
        timed_store!(self, "delete_job", self.inner.delete_job(job_id))
    }
}

#[async_trait]
impl GoalStore for InstrumentedStore {
    async fn save_goal(&self, goal: &NewGoal) -> StoreResult<()> {
        timed_store!(self, "save_goal", self.inner.save_goal(goal))
    }

    async fn goal(&self, goal_id: Uuid) -> StoreResult<Option<Goal>> {
        timed_store!(self, "goal", self.inner.goal(goal_id))
    }

    async fn goals_of_user(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Page<Goal>> {
        timed_store!(
            self,
            "goals_of_user",
            self.inner.goals_of_user(user_id, after, limit)
        )
    }

    async fn delete_goal(&self, goal_id: Uuid) -> StoreResult<bool> {
        timed_store!(self, "delete_goal", self.inner.delete_goal(goal_id))
    }

    async fn levels(&self, goal_id: Uuid) -> StoreResult<Vec<Level>> {
        timed_store!(self, "levels", self.inner.levels(goal_id))
    }

    async fn level(&self, level_id: Uuid) -> StoreResult<Option<Level>> {
        timed_store!(self, "level", self.inner.level(level_id))
    }

    async fn set_topic_completed(
        &self,
        level_id: Uuid,
        index: u32,
        completed: bool,
    ) -> StoreResult<Option<Level>> {
        timed_store!(
            self,
            "set_topic_completed",
            self.inner.set_topic_completed(level_id, index, completed)
        )
    }

    async fn set_level_status(&self, level_id: Uuid, status: LevelStatus) -> StoreResult<()> {
        timed_store!(
            self,
            "set_level_status",
            self.inner.set_level_status(level_id, status)
        )
    }

    async fn set_goal_status(&self, goal_id: Uuid, status: GoalStatus) -> StoreResult<()> {
        timed_store!(
            self,
            "set_goal_status",
            self.inner.set_goal_status(goal_id, status)
        )
    }

    async fn questions(&self, level_id: Uuid) -> StoreResult<Vec<Question>> {
        timed_store!(self, "questions", self.inner.questions(level_id))
    }
}

#[async_trait]
impl XpStore for InstrumentedStore {
    async fn record_xp(&self, entry: &XpEntry) -> StoreResult<bool> {
        timed_store!(self, "record_xp", self.inner.record_xp(entry))
    }

    async fn xp_entries(&self, user_id: Uuid) -> StoreResult<Vec<XpEntry>> {
        timed_store!(self, "xp_entries", self.inner.xp_entries(user_id))
    }

    async fn set_total_xp(&self, user_id: Uuid, total: i64) -> StoreResult<()> {
        timed_store!(
            self,
            "set_total_xp",
            self.inner.set_total_xp(user_id, total)
        )
    }

    async fn xp_pending_users(&self, limit: usize) -> StoreResult<Vec<Uuid>> {
        timed_store!(self, "xp_pending_users", self.inner.xp_pending_users(limit))
    }

    async fn xp_pending(&self, user_id: Uuid) -> StoreResult<Vec<String>> {
        timed_store!(self, "xp_pending", self.inner.xp_pending(user_id))
    }

    async fn clear_xp_pending(&self, user_id: Uuid, grant_ids: &[String]) -> StoreResult<()> {
        timed_store!(
            self,
            "clear_xp_pending",
            self.inner.clear_xp_pending(user_id, grant_ids)
        )
    }

    async fn xp_users(&self, after: Option<Uuid>, limit: usize) -> StoreResult<Vec<Uuid>> {
        timed_store!(self, "xp_users", self.inner.xp_users(after, limit))
    }

    async fn retire_xp(&self, user_id: Uuid) -> StoreResult<Option<RetiredXp>> {
        timed_store!(self, "retire_xp", self.inner.retire_xp(user_id))
    }

    async fn retired_xp(&self, retired_id: Uuid) -> StoreResult<Vec<RetiredXpEntry>> {
        timed_store!(self, "retired_xp", self.inner.retired_xp(retired_id))
    }
}

#[async_trait]
impl ArchiveStore for InstrumentedStore {
    async fn write_archive_entries(
        &self,
        period: &str,
        entries: &[ArchivedEntry],
    ) -> StoreResult<()> {
        timed_store!(
            self,
            "write_archive_entries",
            self.inner.write_archive_entries(period, entries)
        )
    }

    async fn mark_week_archived(&self, week: &ArchivedWeek) -> StoreResult<()> {
        timed_store!(
            self,
            "mark_week_archived",
            self.inner.mark_week_archived(week)
        )
    }

    async fn archived_week(&self, period: &str) -> StoreResult<Option<ArchivedWeek>> {
        timed_store!(self, "archived_week", self.inner.archived_week(period))
    }

    async fn archived_weeks(&self, limit: usize) -> StoreResult<Vec<ArchivedWeek>> {
        timed_store!(self, "archived_weeks", self.inner.archived_weeks(limit))
    }

    async fn archived_entries(
        &self,
        period: &str,
        from_rank: u64,
        limit: usize,
    ) -> StoreResult<Vec<ArchivedEntry>> {
        timed_store!(
            self,
            "archived_entries",
            self.inner.archived_entries(period, from_rank, limit)
        )
    }

    async fn archived_entry(
        &self,
        period: &str,
        user_id: Uuid,
    ) -> StoreResult<Option<ArchivedEntry>> {
        timed_store!(
            self,
            "archived_entry",
            self.inner.archived_entry(period, user_id)
        )
    }

    async fn forget_archived_learner(&self, period: &str, user_id: Uuid) -> StoreResult<bool> {
        timed_store!(
            self,
            "forget_archived_learner",
            self.inner.forget_archived_learner(period, user_id)
        )
    }
}

#[async_trait]
impl RoomResultStore for InstrumentedStore {
    async fn save_room_result(&self, result: &RoomResult) -> StoreResult<()> {
        timed_store!(
            self,
            "save_room_result",
            self.inner.save_room_result(result)
        )
    }

    async fn room_result(&self, room_id: Uuid) -> StoreResult<Option<RoomResult>> {
        timed_store!(self, "room_result", self.inner.room_result(room_id))
    }

    async fn room_results_of_host(
        &self,
        host_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<RoomResult>> {
        timed_store!(
            self,
            "room_results_of_host",
            self.inner.room_results_of_host(host_id, limit)
        )
    }

    async fn replace_room_result(
        &self,
        previous: &RoomResult,
        result: &RoomResult,
    ) -> StoreResult<bool> {
        timed_store!(
            self,
            "replace_room_result",
            self.inner.replace_room_result(previous, result)
        )
    }

    async fn rooms_of_player(&self, user_id: Uuid, limit: usize) -> StoreResult<Vec<Uuid>> {
        timed_store!(
            self,
            "rooms_of_player",
            self.inner.rooms_of_player(user_id, limit)
        )
    }
}

#[async_trait]
impl QuizStore for InstrumentedStore {
    async fn create_quiz(&self, quiz: &SavedQuiz, limit: usize) -> StoreResult<bool> {
        timed_store!(self, "create_quiz", self.inner.create_quiz(quiz, limit))
    }

    async fn update_quiz(&self, quiz: &SavedQuiz) -> StoreResult<bool> {
        timed_store!(self, "update_quiz", self.inner.update_quiz(quiz))
    }

    async fn quiz(&self, quiz_id: Uuid) -> StoreResult<Option<SavedQuiz>> {
        timed_store!(self, "quiz", self.inner.quiz(quiz_id))
    }

    async fn quizzes_of_owner(
        &self,
        owner_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<QuizSummary>> {
        timed_store!(
            self,
            "quizzes_of_owner",
            self.inner.quizzes_of_owner(owner_id, limit)
        )
    }

    async fn delete_quiz(&self, owner_id: Uuid, quiz_id: Uuid) -> StoreResult<bool> {
        timed_store!(
            self,
            "delete_quiz",
            self.inner.delete_quiz(owner_id, quiz_id)
        )
    }
}

#[async_trait]
impl NotificationStore for InstrumentedStore {
    async fn add_notification(
        &self,
        notification: &Notification,
        retention: Retention,
    ) -> StoreResult<bool> {
        timed_store!(
            self,
            "add_notification",
            self.inner.add_notification(notification, retention)
        )
    }

    async fn notifications(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
        unread_only: bool,
    ) -> StoreResult<Page<Notification>> {
        timed_store!(
            self,
            "notifications",
            self.inner.notifications(user_id, after, limit, unread_only)
        )
    }

    async fn unread_notifications(&self, user_id: Uuid) -> StoreResult<u32> {
        timed_store!(
            self,
            "unread_notifications",
            self.inner.unread_notifications(user_id)
        )
    }

    async fn mark_notification_read(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        timed_store!(
            self,
            "mark_notification_read",
            self.inner.mark_notification_read(user_id, id)
        )
    }

    async fn mark_all_notifications_read(&self, user_id: Uuid) -> StoreResult<()> {
        timed_store!(
            self,
            "mark_all_notifications_read",
            self.inner.mark_all_notifications_read(user_id)
        )
    }

    async fn delete_notifications(&self, user_id: Uuid) -> StoreResult<()> {
        timed_store!(
            self,
            "delete_notifications",
            self.inner.delete_notifications(user_id)
        )
    }
}

// ---- weekly leagues ----

use questpath_actors::domain::Tier;
use questpath_actors::ports::store::{
    CohortId, LeagueMembership, LeaguePlacement, LeagueResult, LeagueStore, LeagueWeek,
};

#[async_trait]
impl LeagueStore for InstrumentedStore {
    async fn place_in_league(
        &self,
        user_id: Uuid,
        week: &str,
        tier: Tier,
        max_size: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<LeaguePlacement> {
        timed_store!(
            self,
            "place_in_league",
            self.inner
                .place_in_league(user_id, week, tier, max_size, at)
        )
    }

    async fn league_membership(
        &self,
        user_id: Uuid,
        week: &str,
    ) -> StoreResult<Option<LeagueMembership>> {
        timed_store!(
            self,
            "league_membership",
            self.inner.league_membership(user_id, week)
        )
    }

    async fn league_memberships(
        &self,
        user_id: Uuid,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<LeagueMembership>> {
        timed_store!(
            self,
            "league_memberships",
            self.inner.league_memberships(user_id, before, limit)
        )
    }

    async fn league_cohort_count(&self, week: &str, tier: Tier) -> StoreResult<u32> {
        timed_store!(
            self,
            "league_cohort_count",
            self.inner.league_cohort_count(week, tier)
        )
    }

    async fn league_cohort_members(&self, cohort: &CohortId) -> StoreResult<Vec<Uuid>> {
        timed_store!(
            self,
            "league_cohort_members",
            self.inner.league_cohort_members(cohort)
        )
    }

    async fn set_league_results(
        &self,
        week: &str,
        results: &[(Uuid, LeagueResult)],
    ) -> StoreResult<()> {
        timed_store!(
            self,
            "set_league_results",
            self.inner.set_league_results(week, results)
        )
    }

    async fn mark_league_week_closed(&self, week: &LeagueWeek) -> StoreResult<()> {
        timed_store!(
            self,
            "mark_league_week_closed",
            self.inner.mark_league_week_closed(week)
        )
    }

    async fn league_week(&self, week: &str) -> StoreResult<Option<LeagueWeek>> {
        timed_store!(self, "league_week", self.inner.league_week(week))
    }

    async fn forget_league_learner(&self, user_id: Uuid) -> StoreResult<u32> {
        timed_store!(
            self,
            "forget_league_learner",
            self.inner.forget_league_learner(user_id)
        )
    }
}

// ---- streaks (issue 18) ----
#[async_trait]
impl questpath_actors::ports::store::StreakStore for InstrumentedStore {
    async fn streak(
        &self,
        user_id: Uuid,
    ) -> StoreResult<Option<questpath_actors::ports::store::VersionedStreak>> {
        timed_store!(self, "streak", self.inner.streak(user_id))
    }

    async fn streak_to_show(
        &self,
        user_id: Uuid,
    ) -> StoreResult<Option<questpath_actors::ports::store::VersionedStreak>> {
        timed_store!(self, "streak_to_show", self.inner.streak_to_show(user_id))
    }

    async fn put_streak(
        &self,
        user_id: Uuid,
        record: &questpath_actors::ports::store::StreakRecord,
        expected: Option<i64>,
    ) -> StoreResult<bool> {
        timed_store!(
            self,
            "put_streak",
            self.inner.put_streak(user_id, record, expected)
        )
    }

    async fn schedule_streak_check(
        &self,
        check: &questpath_actors::ports::store::StreakCheck,
    ) -> StoreResult<()> {
        timed_store!(
            self,
            "schedule_streak_check",
            self.inner.schedule_streak_check(check)
        )
    }

    async fn unschedule_streak_check(
        &self,
        check: &questpath_actors::ports::store::StreakCheck,
    ) -> StoreResult<()> {
        timed_store!(
            self,
            "unschedule_streak_check",
            self.inner.unschedule_streak_check(check)
        )
    }

    async fn streak_checks_due(
        &self,
        hour: i64,
        due_by: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<questpath_actors::ports::store::StreakCheck>> {
        timed_store!(
            self,
            "streak_checks_due",
            self.inner.streak_checks_due(hour, due_by, limit)
        )
    }

    async fn delete_streak(&self, user_id: Uuid) -> StoreResult<bool> {
        timed_store!(self, "delete_streak", self.inner.delete_streak(user_id))
    }
}

// ---- email (issue 18) ----

#[async_trait]
impl questpath_actors::ports::store::MailStore for InstrumentedStore {
    async fn save_mail_token(
        &self,
        token: &questpath_actors::ports::store::MailToken,
    ) -> StoreResult<()> {
        timed_store!(self, "save_mail_token", self.inner.save_mail_token(token))
    }

    async fn take_mail_token(
        &self,
        token_hash: &str,
        purpose: questpath_actors::ports::store::MailTokenPurpose,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Option<questpath_actors::ports::store::MailToken>> {
        timed_store!(
            self,
            "take_mail_token",
            self.inner.take_mail_token(token_hash, purpose, now)
        )
    }

    async fn mail_settings(
        &self,
        user_id: Uuid,
    ) -> StoreResult<questpath_actors::ports::store::MailSettings> {
        timed_store!(self, "mail_settings", self.inner.mail_settings(user_id))
    }

    async fn set_email_verified(
        &self,
        user_id: Uuid,
        email: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        timed_store!(
            self,
            "set_email_verified",
            self.inner.set_email_verified(user_id, email, at)
        )
    }

    async fn set_mail_preferences(
        &self,
        user_id: Uuid,
        preferences: questpath_actors::ports::store::MailPreferences,
    ) -> StoreResult<()> {
        timed_store!(
            self,
            "set_mail_preferences",
            self.inner.set_mail_preferences(user_id, preferences)
        )
    }

    async fn delete_mail_data(&self, user_id: Uuid) -> StoreResult<()> {
        timed_store!(
            self,
            "delete_mail_data",
            self.inner.delete_mail_data(user_id)
        )
    }
}
