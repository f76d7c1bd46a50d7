//! The store on ScyllaDB (or Cassandra): prepared statements built once at connect.
//! Users live here; credentials, Google links, refresh tokens and sign-in failures in
//! [`super::auth`]; generation jobs, goals, levels and questions in [`super::goals`];
//! the XP ledger (and the users' `total_xp`) in [`super::xp`]; multiplayer room results in
//! [`super::room_results`]; the archive of past weekly boards in [`super::archive`]; saved
//! quizzes in [`super::quizzes`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::errors::ExecutionError;
use scylla::response::query_result::QueryResult;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlValue;
use uuid::Uuid;

use super::archive::ArchiveStatements;
use super::auth::AuthStatements;
use super::goals::GoalStatements;
use super::quizzes::QuizStatements;
use super::room_results::RoomResultStatements;
use super::schema::check_version;
use super::session::{ConnectError, open, unreachable};
use super::xp::XpStatements;
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{
    ArchiveStore, ArchivedEntry, ArchivedWeek, GenerationJob, Goal, GoalStatus, GoalStore,
    JobStore, Level, LevelStatus, LoginFailures, NewGoal, NewUser, Page, ProfileUpdate, Question,
    QuizStore, QuizSummary, RefreshFamily, RefreshToken, RoomResult, RoomResultStore, SavedQuiz,
    SessionStore, StoreBackend, StoreError, StoreResult, User, UserStore, XpEntry, XpStore,
    email_key,
};

/// Statements prepared once per session.
struct Statements {
    ping: PreparedStatement,
    insert_user: PreparedStatement,
    user_by_id: PreparedStatement,
    claim_email: PreparedStatement,
    release_email: PreparedStatement,
    email_owner: PreparedStatement,
    set_display_name: PreparedStatement,
    set_picture: PreparedStatement,
    set_display_name_and_picture: PreparedStatement,
}

/// The CQL store.
pub struct ScyllaStore {
    pub(super) session: Session,
    statements: Statements,
    pub(super) auth: AuthStatements,
    pub(super) goals: GoalStatements,
    pub(super) xp: XpStatements,
    pub(super) room_results: RoomResultStatements,
    pub(super) archive: ArchiveStatements,
    pub(super) quizzes: QuizStatements,
}

#[derive(DeserializeRow)]
struct UserRow {
    user_id: Uuid,
    email: Option<String>,
    display_name: Option<String>,
    picture: Option<String>,
    total_xp: Option<i64>,
    created_at: Option<DateTime<Utc>>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.user_id,
            email: r.email.unwrap_or_default(),
            display_name: r.display_name,
            picture: r.picture,
            total_xp: r.total_xp.unwrap_or(0),
            created_at: r.created_at.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        }
    }
}

const USER_COLUMNS: &str = "user_id, email, display_name, picture, total_xp, created_at";
/// What creating a user writes: not `total_xp`, which only the LWT of `set_total_xp`
/// writes (so Paxos and plain write timestamps never meet on that cell); a user
/// without one reads as 0.
const NEW_USER_COLUMNS: &str = "user_id, email, display_name, picture, created_at";

impl ScyllaStore {
    /// Connects, checks that the keyspace's schema is current, and prepares statements.
    pub async fn connect(settings: &ScyllaSettings) -> Result<Self, ConnectError> {
        let session = open(settings).await?;
        check_version(&session, settings).await?;
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(&session, settings, cql);
        let statements = Statements {
            ping: prepare("SELECT release_version FROM system.local WHERE key = 'local'".into())
                .await?,
            insert_user: prepare(format!(
                "INSERT INTO {ks}.users ({NEW_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
            ))
            .await?,
            user_by_id: prepare(format!(
                "SELECT {USER_COLUMNS} FROM {ks}.users WHERE user_id = ?"
            ))
            .await?,
            claim_email: prepare(format!(
                "INSERT INTO {ks}.users_by_email (email, user_id) VALUES (?, ?) IF NOT EXISTS"
            ))
            .await?,
            release_email: prepare(format!(
                "DELETE FROM {ks}.users_by_email WHERE email = ? IF user_id = ?"
            ))
            .await?,
            email_owner: prepare(format!(
                "SELECT user_id FROM {ks}.users_by_email WHERE email = ?"
            ))
            .await?,
            // Profile updates write only the columns that change, so a concurrent
            // change of another column is not overwritten.
            set_display_name: prepare(format!(
                "UPDATE {ks}.users SET display_name = ? WHERE user_id = ?"
            ))
            .await?,
            set_picture: prepare(format!(
                "UPDATE {ks}.users SET picture = ? WHERE user_id = ?"
            ))
            .await?,
            set_display_name_and_picture: prepare(format!(
                "UPDATE {ks}.users SET display_name = ?, picture = ? WHERE user_id = ?"
            ))
            .await?,
        };
        let auth = AuthStatements::prepare(&session, settings).await?;
        let goals = GoalStatements::prepare(&session, settings).await?;
        let xp = XpStatements::prepare(&session, settings).await?;
        let room_results = RoomResultStatements::prepare(&session, settings).await?;
        let archive = ArchiveStatements::prepare(&session, settings).await?;
        let quizzes = QuizStatements::prepare(&session, settings).await?;
        Ok(ScyllaStore {
            session,
            statements,
            auth,
            goals,
            xp,
            room_results,
            archive,
            quizzes,
        })
    }

    pub(super) async fn user_row(&self, id: Uuid) -> StoreResult<Option<User>> {
        let result = self
            .session
            .execute_unpaged(&self.statements.user_by_id, (id,))
            .await
            .map_err(unavailable)?;
        let row = result
            .into_rows_result()
            .map_err(internal)?
            .maybe_first_row::<UserRow>()
            .map_err(internal)?;
        Ok(row.map(User::from))
    }
}

/// Prepares one statement; a failure is reported like an unreachable cluster, since
/// start-up cannot go on either way.
pub(super) async fn prepare(
    session: &Session,
    settings: &ScyllaSettings,
    cql: String,
) -> Result<PreparedStatement, ConnectError> {
    session
        .prepare(cql.as_str())
        .await
        .map_err(|e| unreachable(settings, format!("prepare {cql}: {e}")))
}

/// Every row of a paged query, read as `R`, one page at a time.
pub(super) async fn all_rows<R>(
    session: &Session,
    statement: &PreparedStatement,
    values: impl scylla::serialize::row::SerializeRow,
) -> StoreResult<Vec<R>>
where
    R: for<'frame, 'metadata> scylla::deserialize::row::DeserializeRow<'frame, 'metadata>,
{
    session
        .execute_iter(statement.clone(), values)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
        .rows_stream::<R>()
        .map_err(internal)?
        .try_collect()
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

pub(super) fn unavailable(e: ExecutionError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(super) fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// The result of a lightweight transaction, its columns looked up by name: ScyllaDB
/// always returns `[applied]` with the old row, Cassandra returns `[applied]` alone
/// when applied and with the current values when not, so no position can be assumed.
pub(super) struct LwtOutcome {
    pub(super) applied: bool,
    names: Vec<String>,
    row: scylla::value::Row,
}

impl LwtOutcome {
    pub(super) fn read(result: QueryResult) -> StoreResult<Self> {
        let rows = result.into_rows_result().map_err(internal)?;
        let names: Vec<String> = rows
            .column_specs()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let row = rows
            .maybe_first_row::<scylla::value::Row>()
            .map_err(internal)?
            .ok_or_else(|| internal("LWT returned no row"))?;
        let applied = match names
            .iter()
            .position(|n| n == "[applied]")
            .and_then(|i| row.columns.get(i))
        {
            Some(Some(CqlValue::Boolean(applied))) => *applied,
            None => return Err(internal("LWT result has no [applied] column")),
            Some(other) => return Err(internal(format!("unexpected [applied] value {other:?}"))),
        };
        Ok(LwtOutcome {
            applied,
            names,
            row,
        })
    }

    /// A column of the returned row, if the server sent it and it is not null.
    pub(super) fn column(&self, name: &str) -> Option<&CqlValue> {
        let index = self.names.iter().position(|n| n == name)?;
        self.row.columns.get(index)?.as_ref()
    }
}

/// Whether a lightweight transaction applied.
pub(super) fn lwt_applied(result: QueryResult) -> StoreResult<bool> {
    LwtOutcome::read(result).map(|outcome| outcome.applied)
}

#[async_trait]
impl StoreBackend for ScyllaStore {
    fn backend(&self) -> &'static str {
        "scylla"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.session
            .execute_unpaged(&self.statements.ping, ())
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl UserStore for ScyllaStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let user = User {
            id: new.id,
            email: email_key(&new.email),
            display_name: new.display_name,
            picture: new.picture,
            total_xp: 0,
            created_at: new.created_at,
        };
        let claimed = self
            .session
            .execute_unpaged(&self.statements.claim_email, (&user.email, user.id))
            .await
            .map_err(unavailable)?;
        if !lwt_applied(claimed)? {
            return Err(StoreError::Conflict { what: "email" });
        }
        let insert = self
            .session
            .execute_unpaged(
                &self.statements.insert_user,
                (
                    user.id,
                    &user.email,
                    &user.display_name,
                    &user.picture,
                    user.created_at,
                ),
            )
            .await;
        if let Err(e) = insert {
            // Give the email back so a retry can succeed; only if it is still ours.
            if let Err(release) = self
                .session
                .execute_unpaged(&self.statements.release_email, (&user.email, user.id))
                .await
            {
                tracing::error!(user_id = %user.id, error = %release, "could not release email after failed user insert");
            }
            return Err(unavailable(e));
        }
        Ok(user)
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.user_row(id).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let result = self
            .session
            .execute_unpaged(&self.statements.email_owner, (email_key(email),))
            .await
            .map_err(unavailable)?;
        let owner = result
            .into_rows_result()
            .map_err(internal)?
            .maybe_first_row::<(Option<Uuid>,)>()
            .map_err(internal)?
            .and_then(|(id,)| id);
        match owner {
            // A claimed email whose user row is missing (a create that failed half-way)
            // is no account.
            Some(id) => self.user_row(id).await,
            None => Ok(None),
        }
    }

    async fn update_profile(&self, id: Uuid, update: ProfileUpdate) -> StoreResult<Option<User>> {
        // Checked first so an update never creates a user row; users are never
        // deleted, so the row cannot vanish between the read and the write.
        let Some(mut user) = self.user_row(id).await? else {
            return Ok(None);
        };
        let write = match (&update.display_name, &update.picture) {
            (Some(name), Some(picture)) => Some(
                self.session
                    .execute_unpaged(
                        &self.statements.set_display_name_and_picture,
                        (name, picture, id),
                    )
                    .await,
            ),
            (Some(name), None) => Some(
                self.session
                    .execute_unpaged(&self.statements.set_display_name, (name, id))
                    .await,
            ),
            (None, Some(picture)) => Some(
                self.session
                    .execute_unpaged(&self.statements.set_picture, (picture, id))
                    .await,
            ),
            (None, None) => None,
        };
        if let Some(result) = write {
            result.map_err(unavailable)?;
        }
        if let Some(name) = update.display_name {
            user.display_name = name;
        }
        if let Some(picture) = update.picture {
            user.picture = picture;
        }
        Ok(Some(user))
    }

    async fn set_password_hash(&self, user_id: Uuid, phc: &str) -> StoreResult<()> {
        self.auth().set_password_hash(user_id, phc).await
    }

    async fn password_hash(&self, user_id: Uuid) -> StoreResult<Option<String>> {
        self.auth().password_hash(user_id).await
    }

    async fn link_google(&self, google_sub: &str, user_id: Uuid) -> StoreResult<Uuid> {
        self.auth().link_google(google_sub, user_id).await
    }

    async fn user_by_google(&self, google_sub: &str) -> StoreResult<Option<User>> {
        match self.auth().google_owner(google_sub).await? {
            Some(id) => self.user_row(id).await,
            None => Ok(None),
        }
    }
}

#[async_trait]
impl SessionStore for ScyllaStore {
    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()> {
        self.auth().create_refresh_family(family).await
    }

    async fn refresh_family(&self, family_id: Uuid) -> StoreResult<Option<RefreshFamily>> {
        self.auth().refresh_family(family_id, Utc::now()).await
    }

    async fn extend_refresh_family(
        &self,
        family_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.auth()
            .extend_refresh_family(family_id, expires_at)
            .await
    }

    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<()> {
        self.auth()
            .revoke_refresh_family(family_id, None)
            .await
            .map(drop)
    }

    async fn revoke_user_refresh_families(&self, user_id: Uuid) -> StoreResult<u32> {
        self.auth().revoke_user_refresh_families(user_id).await
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        self.auth().insert_refresh_token(token).await
    }

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        self.auth().refresh_token(token_hash, Utc::now()).await
    }

    async fn consume_refresh_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.auth().consume_refresh_token(token_hash, at).await
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> StoreResult<LoginFailures> {
        self.auth()
            .record_login_failure(key, now, window, lock_for)
            .await
    }

    async fn login_failures(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<Option<LoginFailures>> {
        self.auth().login_failures(key, now, window).await
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        self.auth().clear_login_failures(key).await
    }
}

#[async_trait]
impl JobStore for ScyllaStore {
    async fn create_job(&self, job: &GenerationJob) -> StoreResult<()> {
        self.goals().create_job(job).await
    }

    async fn job(&self, job_id: Uuid) -> StoreResult<Option<GenerationJob>> {
        self.goals().job(job_id).await
    }

    async fn update_job(&self, job: &GenerationJob) -> StoreResult<()> {
        self.goals().update_job(job).await
    }
}

#[async_trait]
impl GoalStore for ScyllaStore {
    async fn save_goal(&self, goal: &NewGoal) -> StoreResult<()> {
        self.goals().save_goal(goal).await
    }

    async fn goal(&self, goal_id: Uuid) -> StoreResult<Option<Goal>> {
        self.goals().goal(goal_id).await
    }

    async fn goals_of_user(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Page<Goal>> {
        self.goals().goals_of_user(user_id, after, limit).await
    }

    async fn delete_goal(&self, goal_id: Uuid) -> StoreResult<bool> {
        self.goals().delete_goal(goal_id).await
    }

    async fn levels(&self, goal_id: Uuid) -> StoreResult<Vec<Level>> {
        self.goals().levels(goal_id).await
    }

    async fn level(&self, level_id: Uuid) -> StoreResult<Option<Level>> {
        self.goals().level(level_id).await
    }

    async fn set_topic_completed(
        &self,
        level_id: Uuid,
        index: u32,
        completed: bool,
    ) -> StoreResult<Option<Level>> {
        self.goals()
            .set_topic_completed(level_id, index, completed)
            .await
    }

    async fn set_level_status(&self, level_id: Uuid, status: LevelStatus) -> StoreResult<()> {
        self.goals().set_level_status(level_id, status).await
    }

    async fn set_goal_status(&self, goal_id: Uuid, status: GoalStatus) -> StoreResult<()> {
        self.goals().set_goal_status(goal_id, status).await
    }

    async fn questions(&self, level_id: Uuid) -> StoreResult<Vec<Question>> {
        self.goals().questions(level_id).await
    }
}

#[async_trait]
impl XpStore for ScyllaStore {
    async fn record_xp(&self, entry: &XpEntry) -> StoreResult<bool> {
        self.xp().record_xp(entry).await
    }

    async fn xp_entries(&self, user_id: Uuid) -> StoreResult<Vec<XpEntry>> {
        self.xp().xp_entries(user_id).await
    }

    async fn set_total_xp(&self, user_id: Uuid, total: i64) -> StoreResult<()> {
        self.xp().set_total_xp(user_id, total).await
    }

    async fn xp_pending_users(&self, limit: usize) -> StoreResult<Vec<Uuid>> {
        self.xp().xp_pending_users(limit).await
    }

    async fn xp_pending(&self, user_id: Uuid) -> StoreResult<Vec<String>> {
        self.xp().xp_pending(user_id).await
    }

    async fn clear_xp_pending(&self, user_id: Uuid, grant_ids: &[String]) -> StoreResult<()> {
        self.xp().clear_xp_pending(user_id, grant_ids).await
    }

    async fn xp_users(&self, after: Option<Uuid>, limit: usize) -> StoreResult<Vec<Uuid>> {
        self.xp().xp_users(after, limit).await
    }
}

#[async_trait]
impl ArchiveStore for ScyllaStore {
    async fn write_archive_entries(
        &self,
        period: &str,
        entries: &[ArchivedEntry],
    ) -> StoreResult<()> {
        self.archive().write_entries(period, entries).await
    }

    async fn mark_week_archived(&self, week: &ArchivedWeek) -> StoreResult<()> {
        self.archive().mark(week).await
    }

    async fn archived_week(&self, period: &str) -> StoreResult<Option<ArchivedWeek>> {
        self.archive().week(period).await
    }

    async fn archived_weeks(&self, limit: usize) -> StoreResult<Vec<ArchivedWeek>> {
        self.archive().weeks(limit).await
    }

    async fn archived_entries(
        &self,
        period: &str,
        from_rank: u64,
        limit: usize,
    ) -> StoreResult<Vec<ArchivedEntry>> {
        self.archive().entries(period, from_rank, limit).await
    }

    async fn archived_entry(
        &self,
        period: &str,
        user_id: Uuid,
    ) -> StoreResult<Option<ArchivedEntry>> {
        self.archive().entry(period, user_id).await
    }
}

#[async_trait]
impl RoomResultStore for ScyllaStore {
    async fn save_room_result(&self, result: &RoomResult) -> StoreResult<()> {
        self.room_results().save(result).await
    }

    async fn room_result(&self, room_id: Uuid) -> StoreResult<Option<RoomResult>> {
        self.room_results().result(room_id).await
    }

    async fn room_results_of_host(
        &self,
        host_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<RoomResult>> {
        self.room_results().of_host(host_id, limit).await
    }
}

#[async_trait]
impl QuizStore for ScyllaStore {
    async fn create_quiz(&self, quiz: &SavedQuiz, limit: usize) -> StoreResult<bool> {
        self.quizzes().create(quiz, limit).await
    }

    async fn update_quiz(&self, quiz: &SavedQuiz) -> StoreResult<bool> {
        self.quizzes().update(quiz).await
    }

    async fn quiz(&self, quiz_id: Uuid) -> StoreResult<Option<SavedQuiz>> {
        self.quizzes().quiz(quiz_id).await
    }

    async fn quizzes_of_owner(
        &self,
        owner_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<QuizSummary>> {
        self.quizzes().of_owner(owner_id, limit).await
    }

    async fn delete_quiz(&self, owner_id: Uuid, quiz_id: Uuid) -> StoreResult<bool> {
        self.quizzes().delete(owner_id, quiz_id).await
    }
}
