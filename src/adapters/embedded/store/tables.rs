//! Every table of the embedded store, in one place: its name, key and value types are
//! the on-disk format. redb checks a table's types when it is opened and orders keys by
//! their type, so none of these may change without a migration.
//!
//! JSON values are the entities of `questpath_actors::ports::store`, serialised with
//! serde; times inside keys and tuples are milliseconds since the epoch.

use redb::{Key, TableDefinition, Value};

/// users: user id -> JSON `User`.
pub(super) const USERS: TableDefinition<u128, &[u8]> = TableDefinition::new("users");
/// users_by_email: normalised email -> user id.
pub(super) const USERS_BY_EMAIL: TableDefinition<&str, u128> =
    TableDefinition::new("users_by_email");
/// credentials: user id -> JSON `Credentials`.
pub(super) const CREDENTIALS: TableDefinition<u128, &[u8]> = TableDefinition::new("credentials");
/// users_by_google: Google `sub` -> user id.
pub(super) const USERS_BY_GOOGLE: TableDefinition<&str, u128> =
    TableDefinition::new("users_by_google");
/// refresh_families: family id -> JSON `RefreshFamily`.
pub(super) const REFRESH_FAMILIES: TableDefinition<u128, &[u8]> =
    TableDefinition::new("refresh_families");
/// refresh_families_by_user: (user id, family id) -> nothing; the user's families in
/// one key range.
pub(super) const REFRESH_FAMILIES_BY_USER: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("refresh_families_by_user");
/// refresh_tokens: hex SHA-256 of the token -> JSON `RefreshToken`.
pub(super) const REFRESH_TOKENS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("refresh_tokens");
/// login_failures: failure key -> JSON `LoginFailures`.
pub(super) const LOGIN_FAILURES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("login_failures");
/// generation_jobs: job id -> JSON `GenerationJob`.
pub(super) const GENERATION_JOBS: TableDefinition<u128, &[u8]> =
    TableDefinition::new("generation_jobs");
/// goals: goal id -> JSON `Goal`.
pub(super) const GOALS: TableDefinition<u128, &[u8]> = TableDefinition::new("goals");
/// goals_by_user: (user id, goal id) -> nothing. A `u128` orders like the uuid's bytes,
/// so with v7 (time-first) ids the user's range runs oldest to newest.
pub(super) const GOALS_BY_USER: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("goals_by_user");
/// levels: (goal id, 1-based order) -> JSON `Level`; a goal's levels in one key range.
pub(super) const LEVELS: TableDefinition<(u128, u32), &[u8]> = TableDefinition::new("levels");
/// level_index: level id -> (goal id, order), the key of its `levels` entry.
pub(super) const LEVEL_INDEX: TableDefinition<u128, (u128, u32)> =
    TableDefinition::new("level_index");
/// questions: (level id, index) -> JSON `Question`; a level's bank in one key range.
pub(super) const QUESTIONS: TableDefinition<(u128, u32), &[u8]> = TableDefinition::new("questions");
/// xp_ledger: (user id, grant id) -> JSON `XpEntry`; a user's ledger is one key range,
/// in grant id order, starting at `(user id, "")`.
pub(super) const XP_LEDGER: TableDefinition<(u128, &str), &[u8]> =
    TableDefinition::new("xp_ledger");
/// xp_pending: (user id, grant id) -> nothing; grants written to the ledger and not yet
/// applied to the profile and the leaderboard, a user's in one key range.
pub(super) const XP_PENDING: TableDefinition<(u128, &str), ()> = TableDefinition::new("xp_pending");
/// weekly_archives: ISO week (`2026-W47`) -> JSON `ArchivedWeek`; the mark of a week
/// whose archive is complete. Keys order as the weeks do.
pub(super) const WEEKLY_ARCHIVES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("weekly_archives");
/// weekly_archive_ranks: (week, rank) -> (user id, score, reached at in ms); a week's
/// final standings by rank in one key range.
pub(super) const WEEKLY_ARCHIVE_RANKS: TableDefinition<(&str, u64), (u128, i64, i64)> =
    TableDefinition::new("weekly_archive_ranks");
/// weekly_archive_by_user: (week, user id) -> (rank, score, reached at in ms).
pub(super) const WEEKLY_ARCHIVE_BY_USER: TableDefinition<(&str, u128), (u64, i64, i64)> =
    TableDefinition::new("weekly_archive_by_user");
/// room_results: room id -> JSON `RoomResult` (with its results document).
pub(super) const ROOM_RESULTS: TableDefinition<u128, &[u8]> = TableDefinition::new("room_results");
/// room_results_by_host: (host id, ended at in ms, room id) -> JSON `RoomResult` without
/// its document; a host's rooms in one key range, read backwards for newest first.
pub(super) const ROOM_RESULTS_BY_HOST: TableDefinition<(u128, i64, u128), &[u8]> =
    TableDefinition::new("room_results_by_host");
/// quizzes: quiz id -> JSON `SavedQuiz`.
pub(super) const QUIZZES: TableDefinition<u128, &[u8]> = TableDefinition::new("quizzes");
/// quizzes_by_owner: (owner id, quiz id) -> JSON `QuizSummary`; an owner's quizzes in one
/// key range, oldest first (v7 ids), read backwards for newest first.
pub(super) const QUIZZES_BY_OWNER: TableDefinition<(u128, u128), &[u8]> =
    TableDefinition::new("quizzes_by_owner");

/// deleted_users: user id -> when the account was deleted (ms); kept, so writes racing
/// the deletion can tell.
pub(super) const DELETED_USERS: TableDefinition<u128, i64> = TableDefinition::new("deleted_users");
/// google_links_by_user: (user id, Google `sub`) -> nothing; a user's links in one key
/// range (the reverse of `users_by_google`).
pub(super) const GOOGLE_LINKS_BY_USER: TableDefinition<(u128, &str), ()> =
    TableDefinition::new("google_links_by_user");
/// generation_jobs_by_user: (user id, job id) -> nothing; a user's jobs in one key range,
/// oldest first (v7 ids), read backwards for newest first.
pub(super) const GENERATION_JOBS_BY_USER: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("generation_jobs_by_user");
/// xp_retired: (retired id, position) -> JSON `RetiredXpEntry`; a deleted learner's
/// ledger under a random id, without grant ids.
pub(super) const XP_RETIRED: TableDefinition<(u128, u32), &[u8]> =
    TableDefinition::new("xp_retired");
/// room_results_by_player: (user id, room id) -> nothing; the rooms a learner played
/// signed in, oldest first (v7 ids), read backwards for newest first.
pub(super) const ROOM_RESULTS_BY_PLAYER: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("room_results_by_player");

/// notifications: (user id, notification id) -> JSON `Notification`; a learner's
/// notifications in one key range, oldest first (v7 ids), read backwards for newest
/// first.
pub(super) const NOTIFICATIONS: TableDefinition<(u128, u128), &[u8]> =
    TableDefinition::new("notifications");
/// notifications_unread: (user id, notification id) -> nothing; the unread ones.
pub(super) const NOTIFICATIONS_UNREAD: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("notifications_unread");
/// notification_keys: (user id, dedupe key) -> notification id; one notification per
/// key.
pub(super) const NOTIFICATION_KEYS: TableDefinition<(u128, &str), u128> =
    TableDefinition::new("notification_keys");
// ---- weekly leagues ----

/// league_members: (user id, ISO week) -> JSON `LeagueMembership` (with the week's
/// result once decided); a learner's weeks in one key range, read backwards for newest
/// first.
pub(super) const LEAGUE_MEMBERS: TableDefinition<(u128, &str), &[u8]> =
    TableDefinition::new("league_members");
/// league_open_cohorts: (ISO week, tier index) -> (number of the open cohort, learners
/// placed in it).
pub(super) const LEAGUE_OPEN_COHORTS: TableDefinition<(&str, u8), (u32, u32)> =
    TableDefinition::new("league_open_cohorts");
/// league_cohort_members: (ISO week, tier index, cohort number, user id) -> nothing; a
/// cohort's learners in one key range.
pub(super) const LEAGUE_COHORT_MEMBERS: TableDefinition<(&str, u8, u32, u128), ()> =
    TableDefinition::new("league_cohort_members");
/// league_weeks: ISO week -> JSON `LeagueWeek`; the mark of a week whose results are
/// complete.
pub(super) const LEAGUE_WEEKS: TableDefinition<&str, &[u8]> = TableDefinition::new("league_weeks");
// ---- streaks (issue 18) ----
/// streaks: user id -> JSON `{version, record}` (a `StreakRecord` and its compare-and-set
/// version).
pub(super) const STREAKS: TableDefinition<u128, &[u8]> = TableDefinition::new("streaks");
/// streak_checks: (hour since the epoch, due at in ms, user id) -> the local date (ISO);
/// an hour's at-risk checks in one key range, in due order.
pub(super) const STREAK_CHECKS: TableDefinition<(i64, i64, u128), &str> =
    TableDefinition::new("streak_checks");
// ---- email (issue 18) ----
/// mail_settings: user id -> JSON `MailSettings` (verified address, opt-in mails).
pub(super) const MAIL_SETTINGS: TableDefinition<u128, &[u8]> =
    TableDefinition::new("mail_settings");
/// mail_tokens: hex SHA-256 of a one-time mail token -> JSON `MailToken`.
pub(super) const MAIL_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("mail_tokens");
/// mail_tokens_by_user: (user id, purpose) -> token hash; the one live token of each
/// purpose, so a new one replaces it and a deletion finds it.
pub(super) const MAIL_TOKENS_BY_USER: TableDefinition<(u128, &str), &str> =
    TableDefinition::new("mail_tokens_by_user");

/// Something done to each table of the store, with its key and value types: creating
/// them (the store's open) or copying, counting and listing them (backups).
pub(crate) trait Visit {
    type Error;

    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        definition: TableDefinition<K, V>,
    ) -> Result<(), Self::Error>;
}

/// Visits every table of the store. A new table is added here, and so is known to the
/// store's open and to backups alike.
pub(crate) fn every_table<T: Visit>(visit: &mut T) -> Result<(), T::Error> {
    visit.table(USERS)?;
    visit.table(USERS_BY_EMAIL)?;
    visit.table(CREDENTIALS)?;
    visit.table(USERS_BY_GOOGLE)?;
    visit.table(REFRESH_FAMILIES)?;
    visit.table(REFRESH_FAMILIES_BY_USER)?;
    visit.table(REFRESH_TOKENS)?;
    visit.table(LOGIN_FAILURES)?;
    visit.table(GENERATION_JOBS)?;
    visit.table(GOALS)?;
    visit.table(GOALS_BY_USER)?;
    visit.table(LEVELS)?;
    visit.table(LEVEL_INDEX)?;
    visit.table(QUESTIONS)?;
    visit.table(XP_LEDGER)?;
    visit.table(XP_PENDING)?;
    visit.table(WEEKLY_ARCHIVES)?;
    visit.table(WEEKLY_ARCHIVE_RANKS)?;
    visit.table(WEEKLY_ARCHIVE_BY_USER)?;
    visit.table(ROOM_RESULTS)?;
    visit.table(ROOM_RESULTS_BY_HOST)?;
    visit.table(QUIZZES)?;
    visit.table(QUIZZES_BY_OWNER)?;
    visit.table(DELETED_USERS)?;
    visit.table(GOOGLE_LINKS_BY_USER)?;
    visit.table(GENERATION_JOBS_BY_USER)?;
    visit.table(XP_RETIRED)?;
    visit.table(MAIL_SETTINGS)?;
    visit.table(MAIL_TOKENS)?;
    visit.table(MAIL_TOKENS_BY_USER)?;
    visit.table(ROOM_RESULTS_BY_PLAYER)?;
    visit.table(NOTIFICATIONS)?;
    visit.table(NOTIFICATIONS_UNREAD)?;
    visit.table(NOTIFICATION_KEYS)?;
    visit.table(LEAGUE_MEMBERS)?;
    visit.table(LEAGUE_OPEN_COHORTS)?;
    visit.table(LEAGUE_COHORT_MEMBERS)?;
    visit.table(LEAGUE_WEEKS)?;
    visit.table(STREAKS)?;
    visit.table(STREAK_CHECKS)?;
    Ok(())
}
