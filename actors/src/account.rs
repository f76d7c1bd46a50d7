//! A learner's own data: everything the server holds about them, gathered for their
//! export ([`Accounts::export`]), and the deletion of their account ([`Accounts::delete`]).
//!
//! # Deletion
//! The account is marked deleted first ([`crate::ports::UserStore::mark_user_deleted`]):
//! from then on the store refuses the learner's XP grants, and the writers that may race
//! the deletion (an XP apply, a rebuild of the boards, a room ending, the weekly
//! archiver, the roadmap generator) check the mark after they write and take back what
//! they wrote. Then each aggregate forgets the learner, and the profile (with the email
//! and Google links) goes last: a deletion that fails half-way leaves an account that can
//! still sign in and delete again, and every step is safe to repeat.
//!
//! What is removed and what is kept anonymous:
//! - sessions (refresh families) and the learner's open connections (closed through the
//!   bus, on every instance);
//! - goals with their levels and question banks, generation jobs, saved quizzes;
//! - the XP ledger is retired under an anonymous id (totals still add up), and the
//!   learner leaves every board kept; their streak record (day settings, recent days)
//!   and its at-risk check go with it ([`XpService::forget`]);
//! - league memberships and results are removed, and the learner leaves the cohort
//!   boards and member lists (with the XP, [`XpService::forget`]);
//! - archived weeks keep the learner's rank and score under the nil id;
//! - rooms they played keep their place and score under a fresh id, named
//!   [`crate::room::forget::DELETED_PLAYER`]; rooms they hosted get the nil host;
//! - notifications;
//! - email settings (verified address, opt-in mails) and outstanding verification and
//!   reset links (mails already queued are dropped by the email worker, which checks
//!   the deletion mark before sending);
//! - the profile, the email claim, the password and the Google links.
//!
//! The sign-in failure counts of their email are a server concern (their key is made
//! there) and are cleared by the caller.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::goals::service::{GoalWithLevels, roadmap_key, stats_key};
use crate::leaderboard::rebuild::kept_boards;
use crate::leaderboard::{Board, LeaderboardError};
use crate::notifications::{NotificationView, Notifications};
use crate::ports::bus::{UserEvent, user_topic};
use crate::ports::store::{
    ArchivedEntry, LeagueMembership, RetiredXp, RoomResult, SavedQuiz, StreakRecord,
};
use crate::ports::{
    Bus, Cache, GenerationJob, LeaderboardEntry, PortError, RefreshFamily, Store, StoreError, User,
    XpEntry,
};
use crate::room::forget::forget_in_room;
use crate::xp::XpService;

/// Goals read per page.
const GOALS_PAGE: usize = 100;

/// Most rooms (played, hosted), saved quizzes and archived weeks read: far beyond what a
/// learner makes, a bound on a single request's work.
const MOST: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl From<LeaderboardError> for AccountError {
    fn from(e: LeaderboardError) -> Self {
        match e {
            LeaderboardError::Store(e) => AccountError::Store(e),
            LeaderboardError::Board(e) => AccountError::Port(e),
            other => AccountError::Port(PortError::new("leaderboard", "remove", other.to_string())),
        }
    }
}

/// Everything held about one learner.
#[derive(Debug, Clone)]
pub struct AccountData {
    pub user: User,
    /// Whether the account has a password (else it signs in with Google only).
    pub has_password: bool,
    /// The Google accounts (`sub`) linked.
    pub google_links: Vec<String>,
    /// Newest first, each with its levels in roadmap order.
    pub goals: Vec<GoalWithLevels>,
    /// Roadmap-generation jobs, newest first.
    pub jobs: Vec<GenerationJob>,
    /// The XP ledger, in grant id order.
    pub xp: Vec<XpEntry>,
    /// The learner's entries on the boards kept (all-time, the weeks still on a board).
    pub boards: Vec<(Board, LeaderboardEntry)>,
    /// The learner's final standings on archived weeks, newest week first.
    pub archived: Vec<(String, ArchivedEntry)>,
    /// The learner's league weeks (cohort, and result once decided), newest first.
    pub leagues: Vec<LeagueMembership>,
    /// Rooms played signed in, newest first.
    pub rooms_played: Vec<RoomPlayed>,
    /// Rooms hosted, most recently ended first (without their documents).
    pub rooms_hosted: Vec<RoomResult>,
    /// Saved quizzes, newest first, with their questions.
    pub quizzes: Vec<SavedQuiz>,
    /// Sign-in sessions (refresh families) not expired, oldest first.
    pub sessions: Vec<RefreshFamily>,
    /// In-app notifications kept, newest first.
    pub notifications: Vec<NotificationView>,
    /// Day settings, recent days and streak (`None`: never written).
    pub streak: Option<StreakRecord>,
    /// Email: the verified address and the optional mails wanted (the one-time link
    /// tokens are secrets and not exported; they are removed with the account).
    pub mail: crate::ports::store::MailSettings,
}

/// A room the learner played: the room (without its document) and their own line of
/// its results; nobody else's.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomPlayed {
    pub room: RoomResult,
    pub place: Place,
}

/// A player's line of a room's results.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Place {
    pub rank: u64,
    pub name: String,
    pub score: u64,
    #[serde(default)]
    pub correct: u32,
    #[serde(default)]
    pub answered: u32,
    #[serde(default)]
    pub best_streak: u32,
    #[serde(default)]
    pub xp: i64,
}

/// The learner's own line of a room's result document.
fn place_of(result: &RoomResult, user_id: Uuid) -> Option<Place> {
    #[derive(Deserialize)]
    struct Line {
        player_id: Uuid,
        #[serde(default)]
        guest: bool,
        #[serde(flatten)]
        place: Place,
    }
    result
        .results
        .get("players")?
        .as_array()?
        .iter()
        .filter_map(|p| serde_json::from_value::<Line>(p.clone()).ok())
        .find(|line| line.player_id == user_id && !line.guest)
        .map(|line| line.place)
}

/// What a deletion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deletion {
    pub sessions: u32,
    pub goals: u32,
    pub jobs: u32,
    pub quizzes: u32,
    /// The retired XP ledger, when there was one.
    pub xp: Option<RetiredXp>,
    pub archived_weeks: u32,
    pub rooms_played: u32,
    pub rooms_hosted: u32,
}

/// A learner's data, over the store, the cache, the bus and the XP service (the boards).
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    cache: Arc<dyn Cache>,
    bus: Arc<dyn Bus>,
    xp: XpService,
    notifications: Notifications,
}

impl Accounts {
    pub fn new(
        store: Arc<dyn Store>,
        cache: Arc<dyn Cache>,
        bus: Arc<dyn Bus>,
        xp: XpService,
        notifications: Notifications,
    ) -> Self {
        Accounts {
            store,
            cache,
            bus,
            xp,
            notifications,
        }
    }

    /// Everything held about `user`, read now.
    pub async fn export(&self, user: &User) -> Result<AccountData, AccountError> {
        let id = user.id;
        let store = &self.store;
        let mut goals = Vec::new();
        let mut after = None;
        loop {
            let page = store.goals_of_user(id, after, GOALS_PAGE).await?;
            for goal in page.items.into_iter().filter(|g| g.user_id == id) {
                let levels = store.levels(goal.id).await?;
                goals.push(GoalWithLevels { goal, levels });
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let port = self.xp.leaderboards().port();
        let mut boards = Vec::new();
        for board in kept_boards(Utc::now()) {
            if let Some(entry) = port.entry(&board.key(), id).await? {
                boards.push((board, entry));
            }
        }
        let mut archived = Vec::new();
        for week in store.archived_weeks(MOST).await? {
            if let Some(entry) = store.archived_entry(&week.period, id).await? {
                archived.push((week.period, entry));
            }
        }
        let mut rooms_played = Vec::new();
        for room_id in store.rooms_of_player(id, MOST).await? {
            let Some(result) = store.room_result(room_id).await? else {
                continue;
            };
            if let Some(place) = place_of(&result, id) {
                rooms_played.push(RoomPlayed {
                    room: RoomResult {
                        results: serde_json::Value::Null,
                        ..result
                    },
                    place,
                });
            }
        }
        let mut quizzes = Vec::new();
        for summary in store.quizzes_of_owner(id, MOST).await? {
            quizzes.extend(store.quiz(summary.id).await?);
        }
        Ok(AccountData {
            user: user.clone(),
            has_password: store.password_hash(id).await?.is_some(),
            google_links: store.google_links(id).await?,
            goals,
            jobs: store.jobs_of_user(id).await?,
            xp: store.xp_entries(id).await?,
            boards,
            archived,
            leagues: self
                .xp
                .leagues()
                .store()
                .league_memberships(id, None, MOST)
                .await?,
            rooms_played,
            rooms_hosted: store.room_results_of_host(id, MOST).await?,
            quizzes,
            sessions: store.refresh_families_of_user(id).await?,
            notifications: self.notifications.all(id).await?,
            streak: match self.xp.streaks() {
                Some(streaks) => streaks.record(id).await?,
                None => store.streak_to_show(id).await?.map(|s| s.record),
            },
            mail: store.mail_settings(id).await?,
        })
    }

    /// Deletes `user`'s account (see the module documentation). Safe to call again on
    /// an account whose deletion failed half-way.
    pub async fn delete(&self, user: &User) -> Result<Deletion, AccountError> {
        let id = user.id;
        let store = &self.store;
        let mut done = Deletion::default();
        store.mark_user_deleted(id, deleted_now()).await?;
        done.sessions = store.delete_user_refresh_families(id).await?;
        if let Err(e) = self
            .bus
            .publish(&user_topic(id), &UserEvent::AccountDeleted.encode())
            .await
        {
            // The connections stay open until they end; nothing they send reaches an
            // account any more.
            tracing::warn!(user_id = %id, error = %e, "could not tell the learner's connections to close");
        }
        // Listed first, then deleted: a listing that changes under the deletes could
        // skip some, and the learner's own only (an entry left by an older owner is not
        // theirs to delete).
        let mut goal_ids = Vec::new();
        let mut after = None;
        loop {
            let page = store.goals_of_user(id, after, GOALS_PAGE).await?;
            goal_ids.extend(page.items.iter().filter(|g| g.user_id == id).map(|g| g.id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        for goal_id in goal_ids {
            if store.delete_goal(goal_id).await? {
                done.goals += 1;
            }
            self.forget_cached(&roadmap_key(goal_id)).await;
        }
        for job in store.jobs_of_user(id).await? {
            if job.user_id == id && store.delete_job(job.id).await? {
                done.jobs += 1;
            }
        }
        self.forget_cached(&stats_key(id)).await;
        for quiz in store.quizzes_of_owner(id, MOST).await? {
            if store.delete_quiz(id, quiz.id).await? {
                done.quizzes += 1;
            }
        }
        done.xp = self.xp.forget(id).await?;
        if self.xp.streaks().is_none() {
            // Without a streak service the XP service could not remove it.
            store.delete_streak(id).await?;
        }
        for week in store.archived_weeks(MOST).await? {
            if store.forget_archived_learner(&week.period, id).await? {
                done.archived_weeks += 1;
            }
        }
        for room_id in store.rooms_of_player(id, MOST).await? {
            if forget_in_room(store.as_ref(), room_id, id).await? {
                done.rooms_played += 1;
            }
        }
        for room in store.room_results_of_host(id, MOST).await? {
            if forget_in_room(store.as_ref(), room.room_id, id).await? {
                done.rooms_hosted += 1;
            }
        }
        // After the mark: a notification created meanwhile is taken back by its notify.
        self.notifications.forget(id).await?;
        store.delete_mail_data(id).await?;
        store.delete_user(id).await?;
        tracing::info!(user_id = %id, ?done, "account deleted");
        Ok(done)
    }

    async fn forget_cached(&self, key: &str) {
        if let Err(e) = self.cache.delete(key).await {
            // Cached entries expire within minutes; nothing reads them for a deleted
            // learner meanwhile.
            tracing::warn!(error = %e, %key, "cached entry of a deleted learner not dropped");
        }
    }
}

/// The time of the deletion, to the millisecond (what both stores keep).
fn deleted_now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_place_is_the_learners_own_line_only() {
        let (me, other) = (Uuid::new_v4(), Uuid::new_v4());
        let result = RoomResult {
            room_id: Uuid::now_v7(),
            code: "ABC123".into(),
            host_id: Uuid::new_v4(),
            title: "Quiz".into(),
            created_at: Utc::now(),
            ended_at: Utc::now(),
            end_reason: "finished".into(),
            players: 3,
            results: json!({"players": [
                {"rank": 1, "player_id": other, "name": "Bob", "guest": false, "score": 900,
                 "correct": 3, "answered": 3, "best_streak": 3, "xp": 40, "answers": []},
                {"rank": 2, "player_id": me, "name": "Ann", "guest": false, "score": 500,
                 "correct": 2, "answered": 3, "best_streak": 2, "xp": 25, "answers": []},
                {"rank": 3, "player_id": me, "name": "Ann as a guest", "guest": true, "score": 1},
            ]}),
        };
        assert_eq!(
            place_of(&result, me),
            Some(Place {
                rank: 2,
                name: "Ann".into(),
                score: 500,
                correct: 2,
                answered: 3,
                best_streak: 2,
                xp: 25,
            })
        );
        assert_eq!(place_of(&result, Uuid::new_v4()), None);
    }
}
