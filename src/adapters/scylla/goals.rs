//! Roadmap-generation jobs, goals, levels and question banks on CQL (see
//! docs/data-model.md, Q9 to Q14, W13 to W19).
//!
//! Rules kept throughout, so the same statements behave alike on ScyllaDB and Cassandra:
//! * every read is one partition or a bounded slice of one: a goal has at most 8
//!   levels, a level at most 30 questions, a page of goals at most [`MAX_PAGE`] ids
//!   (then one single-row read per goal);
//! * nothing is batched but a goal row with its `goals_by_user` entry: two small rows
//!   in one logged batch, so the goal and the user's list show it (or lose it)
//!   together, and far below every batch size threshold;
//! * no lightweight transactions: a job has one writer (the worker that claimed it), a
//!   goal's content is written once per save, and topic completion is a `set<int>`
//!   changed with `+ ?` / `- ?`, which concurrent writers cannot lose;
//! * a plain `UPDATE` creates the row it names, so every update first checks that its
//!   row exists, and reads treat a row without the columns only `INSERT` writes (what
//!   an update racing a delete can leave behind) as absent;
//! * the writes of one save or delete touch disjoint cells (a range deleted is never
//!   rewritten by the same call), so their order on the server never matters.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::value::MaybeUnset;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::session::ConnectError;
use super::store::{ScyllaStore, internal, prepare, unavailable};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{
    GenerationJob, Goal, GoalStatus, Level, LevelStatus, NewGoal, Page, Question, StoreError,
    StoreResult, Topic,
};

/// Most goals one page returns, whatever the caller asks: a page is one bounded slice
/// of the user's partition plus one read per goal.
const MAX_PAGE: usize = 100;

/// Statements of one save or delete in flight at once: enough to hide the round
/// trips, few enough not to flood a node with one learner's roadmap.
const WRITE_CONCURRENCY: usize = 16;

/// Goals of one page read at once.
const READ_CONCURRENCY: usize = 16;

const JOB_COLUMNS: &str =
    "job_id, user_id, goal_id, description, status, step, reason, attempts, created_at, updated_at";
const GOAL_COLUMNS: &str = "goal_id, user_id, job_id, title, description, category, difficulty, status, roadmap_id, roadmap_name, level_count, created_at";
const LEVEL_COLUMNS: &str = "goal_id, level_order, level_id, user_id, title, description, xp_reward, status, topics, completed_topics";
const QUESTION_COLUMNS: &str =
    "level_id, question_index, question_id, question, options, answer, explanation";

/// Statements of the generation and roadmap tables, prepared once per session.
pub(super) struct GoalStatements {
    insert_job: PreparedStatement,
    job: PreparedStatement,
    update_job: PreparedStatement,
    goal: PreparedStatement,
    /// Logged batch: the goal row, then its `goals_by_user` entry.
    insert_goal: Batch,
    /// Logged batch: the `goals_by_user` entry, then the goal row.
    delete_goal: Batch,
    delete_goal_row: PreparedStatement,
    delete_goal_entry: PreparedStatement,
    goals_page: PreparedStatement,
    goals_page_after: PreparedStatement,
    set_goal_status: PreparedStatement,
    insert_level: PreparedStatement,
    levels: PreparedStatement,
    level_at: PreparedStatement,
    delete_level: PreparedStatement,
    delete_levels: PreparedStatement,
    index_level: PreparedStatement,
    level_ref: PreparedStatement,
    unindex_level: PreparedStatement,
    complete_topic: PreparedStatement,
    uncomplete_topic: PreparedStatement,
    set_level_status: PreparedStatement,
    insert_question: PreparedStatement,
    questions: PreparedStatement,
    delete_questions: PreparedStatement,
    delete_questions_from: PreparedStatement,
}

impl GoalStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        let insert_goal_row = prepare(format!(
            "INSERT INTO {ks}.goals ({GOAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .await?;
        let insert_goal_entry = prepare(format!(
            "INSERT INTO {ks}.goals_by_user (user_id, goal_id) VALUES (?, ?)"
        ))
        .await?;
        let delete_goal_row = prepare(format!("DELETE FROM {ks}.goals WHERE goal_id = ?")).await?;
        let delete_goal_entry = prepare(format!(
            "DELETE FROM {ks}.goals_by_user WHERE user_id = ? AND goal_id = ?"
        ))
        .await?;
        let mut insert_goal = Batch::new(BatchType::Logged);
        insert_goal.append_statement(insert_goal_row);
        insert_goal.append_statement(insert_goal_entry);
        let mut delete_goal = Batch::new(BatchType::Logged);
        delete_goal.append_statement(delete_goal_entry.clone());
        delete_goal.append_statement(delete_goal_row.clone());
        Ok(GoalStatements {
            // `step` and `reason` are bound unset when absent: no tombstone for a new job.
            insert_job: prepare(format!(
                "INSERT INTO {ks}.generation_jobs ({JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            job: prepare(format!(
                "SELECT {JOB_COLUMNS} FROM {ks}.generation_jobs WHERE job_id = ?"
            ))
            .await?,
            // Only the columns that change; an unknown job gets no identity columns and
            // so still reads as absent.
            update_job: prepare(format!(
                "UPDATE {ks}.generation_jobs SET status = ?, step = ?, reason = ?, attempts = ?, updated_at = ? WHERE job_id = ?"
            ))
            .await?,
            goal: prepare(format!(
                "SELECT {GOAL_COLUMNS} FROM {ks}.goals WHERE goal_id = ?"
            ))
            .await?,
            insert_goal,
            delete_goal,
            delete_goal_row,
            delete_goal_entry,
            goals_page: prepare(format!(
                "SELECT goal_id FROM {ks}.goals_by_user WHERE user_id = ? LIMIT ?"
            ))
            .await?,
            goals_page_after: prepare(format!(
                "SELECT goal_id FROM {ks}.goals_by_user WHERE user_id = ? AND goal_id < ? LIMIT ?"
            ))
            .await?,
            set_goal_status: prepare(format!(
                "UPDATE {ks}.goals SET status = ? WHERE goal_id = ?"
            ))
            .await?,
            insert_level: prepare(format!(
                "INSERT INTO {ks}.levels ({LEVEL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            levels: prepare(format!(
                "SELECT {LEVEL_COLUMNS} FROM {ks}.levels WHERE goal_id = ?"
            ))
            .await?,
            level_at: prepare(format!(
                "SELECT {LEVEL_COLUMNS} FROM {ks}.levels WHERE goal_id = ? AND level_order = ?"
            ))
            .await?,
            delete_level: prepare(format!(
                "DELETE FROM {ks}.levels WHERE goal_id = ? AND level_order = ?"
            ))
            .await?,
            delete_levels: prepare(format!("DELETE FROM {ks}.levels WHERE goal_id = ?")).await?,
            index_level: prepare(format!(
                "INSERT INTO {ks}.level_index (level_id, goal_id, level_order) VALUES (?, ?, ?)"
            ))
            .await?,
            level_ref: prepare(format!(
                "SELECT goal_id, level_order FROM {ks}.level_index WHERE level_id = ?"
            ))
            .await?,
            unindex_level: prepare(format!("DELETE FROM {ks}.level_index WHERE level_id = ?"))
                .await?,
            // Set element additions and removals commute: concurrent changes of
            // different topics are all kept, and repeating one changes nothing.
            complete_topic: prepare(format!(
                "UPDATE {ks}.levels SET completed_topics = completed_topics + ? WHERE goal_id = ? AND level_order = ?"
            ))
            .await?,
            uncomplete_topic: prepare(format!(
                "UPDATE {ks}.levels SET completed_topics = completed_topics - ? WHERE goal_id = ? AND level_order = ?"
            ))
            .await?,
            set_level_status: prepare(format!(
                "UPDATE {ks}.levels SET status = ? WHERE goal_id = ? AND level_order = ?"
            ))
            .await?,
            insert_question: prepare(format!(
                "INSERT INTO {ks}.questions ({QUESTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            questions: prepare(format!(
                "SELECT {QUESTION_COLUMNS} FROM {ks}.questions WHERE level_id = ?"
            ))
            .await?,
            delete_questions: prepare(format!("DELETE FROM {ks}.questions WHERE level_id = ?"))
                .await?,
            // A range tombstone above the indexes a save writes: what an earlier,
            // longer bank left behind.
            delete_questions_from: prepare(format!(
                "DELETE FROM {ks}.questions WHERE level_id = ? AND question_index >= ?"
            ))
            .await?,
        })
    }
}

// ---- conversions ----

/// The serde name of a unit enum variant (`"in_progress"`), as stored in a text column.
fn to_text<T: Serialize>(value: &T) -> StoreResult<String> {
    match serde_json::to_value(value).map_err(internal)? {
        serde_json::Value::String(text) => Ok(text),
        other => Err(internal(format!("{other} is not stored as text"))),
    }
}

fn from_text<T: DeserializeOwned>(text: String, what: &str) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(text))
        .map_err(|e| StoreError::Internal(format!("corrupt {what}: {e}")))
}

/// A count or position as a CQL `int`; one beyond `i32::MAX` is a caller's bug.
fn to_int(value: u32, what: &str) -> StoreResult<i32> {
    i32::try_from(value).map_err(|_| internal(format!("{what} {value} does not fit a CQL int")))
}

fn from_int(value: i32, what: &str) -> StoreResult<u32> {
    u32::try_from(value).map_err(|_| internal(format!("corrupt {what}: {value}")))
}

/// A topic index as the one-element set that `+ ?` / `- ?` take.
fn topic_set(index: u32) -> StoreResult<BTreeSet<i32>> {
    Ok(BTreeSet::from([to_int(index, "topic index")?]))
}

// ---- rows ----

#[derive(DeserializeRow)]
struct JobRow {
    job_id: Uuid,
    user_id: Option<Uuid>,
    goal_id: Option<Uuid>,
    description: Option<String>,
    status: Option<String>,
    step: Option<String>,
    reason: Option<String>,
    attempts: Option<i32>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl JobRow {
    /// The job, or `None` for a row an update of an unknown job left (no identity).
    fn into_job(self) -> StoreResult<Option<GenerationJob>> {
        let (Some(user_id), Some(goal_id), Some(created_at)) =
            (self.user_id, self.goal_id, self.created_at)
        else {
            return Ok(None);
        };
        let status = self
            .status
            .ok_or_else(|| internal(format!("job {} has no status", self.job_id)))?;
        Ok(Some(GenerationJob {
            id: self.job_id,
            user_id,
            goal_id,
            description: self.description.unwrap_or_default(),
            status: from_text(status, "job status")?,
            step: self.step,
            reason: self.reason,
            attempts: from_int(self.attempts.unwrap_or(0), "job attempts")?,
            created_at,
            updated_at: self.updated_at.unwrap_or(created_at),
        }))
    }
}

#[derive(DeserializeRow)]
struct GoalRow {
    goal_id: Uuid,
    user_id: Option<Uuid>,
    job_id: Option<Uuid>,
    title: Option<String>,
    description: Option<String>,
    category: Option<String>,
    difficulty: Option<String>,
    status: Option<String>,
    roadmap_id: Option<Uuid>,
    roadmap_name: Option<String>,
    level_count: Option<i32>,
    created_at: Option<DateTime<Utc>>,
}

impl GoalRow {
    /// The goal, or `None` for what a status update racing a delete left of the row.
    fn into_goal(self) -> StoreResult<Option<Goal>> {
        let (Some(user_id), Some(job_id), Some(roadmap_id), Some(created_at)) =
            (self.user_id, self.job_id, self.roadmap_id, self.created_at)
        else {
            return Ok(None);
        };
        let missing = |column: &str| internal(format!("goal {} has no {column}", self.goal_id));
        let difficulty = self.difficulty.ok_or_else(|| missing("difficulty"))?;
        let status = self.status.ok_or_else(|| missing("status"))?;
        Ok(Some(Goal {
            id: self.goal_id,
            user_id,
            job_id,
            title: self.title.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            category: self.category.unwrap_or_default(),
            difficulty: from_text(difficulty, "goal difficulty")?,
            status: from_text(status, "goal status")?,
            roadmap_id,
            roadmap_name: self.roadmap_name.unwrap_or_default(),
            level_count: from_int(self.level_count.unwrap_or(0), "level count")?,
            created_at,
        }))
    }
}

#[derive(DeserializeRow)]
struct LevelRow {
    goal_id: Uuid,
    level_order: i32,
    level_id: Option<Uuid>,
    user_id: Option<Uuid>,
    title: Option<String>,
    description: Option<String>,
    xp_reward: Option<i32>,
    status: Option<String>,
    /// (name, explanation); an empty frozen list may read as null.
    topics: Option<Vec<(String, String)>>,
    /// Indexes of the completed topics; an empty set reads as null.
    completed_topics: Option<Vec<i32>>,
}

impl LevelRow {
    /// The level, or `None` for what an update racing a delete left of the row.
    fn into_level(self) -> StoreResult<Option<Level>> {
        let (Some(id), Some(user_id)) = (self.level_id, self.user_id) else {
            return Ok(None);
        };
        let status = self
            .status
            .ok_or_else(|| internal(format!("level {id} has no status")))?;
        let completed: HashSet<i32> = self
            .completed_topics
            .unwrap_or_default()
            .into_iter()
            .collect();
        let topics = self
            .topics
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, (name, explanation))| Topic {
                name,
                explanation,
                completed: i32::try_from(i).is_ok_and(|i| completed.contains(&i)),
            })
            .collect();
        Ok(Some(Level {
            id,
            goal_id: self.goal_id,
            user_id,
            order: from_int(self.level_order, "level order")?,
            title: self.title.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            xp_reward: from_int(self.xp_reward.unwrap_or(0), "xp reward")?,
            status: from_text(status, "level status")?,
            topics,
        }))
    }
}

#[derive(DeserializeRow)]
struct QuestionRow {
    level_id: Uuid,
    question_index: i32,
    question_id: Option<Uuid>,
    question: Option<String>,
    options: Option<Vec<String>>,
    answer: Option<i32>,
    explanation: Option<String>,
}

impl QuestionRow {
    fn into_question(self) -> StoreResult<Option<Question>> {
        let (Some(id), Some(answer)) = (self.question_id, self.answer) else {
            return Ok(None);
        };
        Ok(Some(Question {
            id,
            level_id: self.level_id,
            index: from_int(self.question_index, "question index")?,
            question: self.question.unwrap_or_default(),
            options: self.options.unwrap_or_default(),
            answer: u8::try_from(answer)
                .map_err(|_| internal(format!("corrupt answer {answer} of question {id}")))?,
            explanation: self.explanation.unwrap_or_default(),
        }))
    }
}

// ---- queries ----

/// The job, goal, level and question queries of a [`ScyllaStore`].
pub(super) struct Goals<'a> {
    session: &'a Session,
    st: &'a GoalStatements,
}

impl ScyllaStore {
    pub(super) fn goals(&self) -> Goals<'_> {
        Goals {
            session: &self.session,
            st: &self.goals,
        }
    }
}

impl Goals<'_> {
    /// Runs a write (or any statement whose result is not read).
    async fn run(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> StoreResult<()> {
        self.session
            .execute_unpaged(statement, values)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Runs a read of at most one row.
    async fn one_row<R>(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> StoreResult<Option<R>>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
    {
        self.session
            .execute_unpaged(statement, values)
            .await
            .map_err(unavailable)?
            .into_rows_result()
            .map_err(internal)?
            .maybe_first_row::<R>()
            .map_err(internal)
    }

    /// Runs a read of a bounded slice (at most a page of goals, 8 levels or 30
    /// questions), unpaged.
    async fn rows<R>(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> StoreResult<Vec<R>>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
    {
        self.session
            .execute_unpaged(statement, values)
            .await
            .map_err(unavailable)?
            .into_rows_result()
            .map_err(internal)?
            .rows::<R>()
            .map_err(internal)?
            .collect::<Result<Vec<R>, _>>()
            .map_err(internal)
    }

    // ---- generation jobs ----

    pub(super) async fn create_job(&self, job: &GenerationJob) -> StoreResult<()> {
        let unset_if_none = |value: &Option<String>| match value {
            Some(text) => MaybeUnset::Set(text.clone()),
            None => MaybeUnset::Unset,
        };
        self.run(
            &self.st.insert_job,
            (
                job.id,
                job.user_id,
                job.goal_id,
                &job.description,
                to_text(&job.status)?,
                unset_if_none(&job.step),
                unset_if_none(&job.reason),
                to_int(job.attempts, "attempts")?,
                job.created_at,
                job.updated_at,
            ),
        )
        .await
    }

    pub(super) async fn job(&self, job_id: Uuid) -> StoreResult<Option<GenerationJob>> {
        let row: Option<JobRow> = self.one_row(&self.st.job, (job_id,)).await?;
        Ok(row.map(JobRow::into_job).transpose()?.flatten())
    }

    pub(super) async fn update_job(&self, job: &GenerationJob) -> StoreResult<()> {
        // Absent `step` or `reason` are bound as null: the update replaces them.
        self.run(
            &self.st.update_job,
            (
                to_text(&job.status)?,
                &job.step,
                &job.reason,
                to_int(job.attempts, "attempts")?,
                job.updated_at,
                job.id,
            ),
        )
        .await
    }

    // ---- goals ----

    async fn goal_row(&self, goal_id: Uuid) -> StoreResult<Option<GoalRow>> {
        self.one_row(&self.st.goal, (goal_id,)).await
    }

    pub(super) async fn goal(&self, goal_id: Uuid) -> StoreResult<Option<Goal>> {
        Ok(self
            .goal_row(goal_id)
            .await?
            .map(GoalRow::into_goal)
            .transpose()?
            .flatten())
    }

    async fn level_rows(&self, goal_id: Uuid) -> StoreResult<Vec<LevelRow>> {
        self.rows(&self.st.levels, (goal_id,)).await
    }

    pub(super) async fn save_goal(&self, new: &NewGoal) -> StoreResult<()> {
        new.check().map_err(StoreError::Internal)?;
        let goal = &new.goal;

        // 1. What an earlier save of this goal left that this one does not rewrite: a
        //    retried job may have generated other levels, or shorter banks.
        let previous_owner = self.goal_row(goal.id).await?.and_then(|row| row.user_id);
        let previous_levels = self.level_rows(goal.id).await?;
        let orders: HashSet<i32> = new
            .levels
            .iter()
            .map(|level| to_int(level.order, "level order"))
            .collect::<StoreResult<_>>()?;
        // One past the highest question index of each level saved now.
        let mut bank_ends: HashMap<Uuid, i32> =
            new.levels.iter().map(|level| (level.id, 0)).collect();
        for question in &new.questions {
            let end = to_int(question.index, "question index")?.saturating_add(1);
            bank_ends
                .entry(question.level_id)
                .and_modify(|e| *e = (*e).max(end));
        }
        let mut cleanup = Vec::new();
        if let Some(owner) = previous_owner.filter(|owner| *owner != goal.user_id) {
            cleanup.push((&self.st.delete_goal_entry, Write::Entry(owner, goal.id)));
        }
        for old in &previous_levels {
            if let Some(old_id) = old.level_id {
                match bank_ends.get(&old_id) {
                    Some(0) => cleanup.push((&self.st.delete_questions, Write::Id(old_id))),
                    Some(end) => cleanup.push((
                        &self.st.delete_questions_from,
                        Write::IdAndInt(old_id, *end),
                    )),
                    None => {
                        cleanup.push((&self.st.delete_questions, Write::Id(old_id)));
                        cleanup.push((&self.st.unindex_level, Write::Id(old_id)));
                    }
                }
            }
            if !orders.contains(&old.level_order) {
                cleanup.push((
                    &self.st.delete_level,
                    Write::IdAndInt(goal.id, old.level_order),
                ));
            }
        }
        self.run_all(cleanup).await?;

        // 2. Levels (and where to find them by id), before the questions, so a retry
        //    finds every level that may have questions in step 1.
        let mut writes = Vec::with_capacity(new.levels.len() * 2);
        for level in &new.levels {
            let order = to_int(level.order, "level order")?;
            writes.push((
                &self.st.index_level,
                Write::Index(level.id, level.goal_id, order),
            ));
            writes.push((&self.st.insert_level, Write::Level(level)));
        }
        self.run_all(writes).await?;

        // 3. Questions.
        let writes = new
            .questions
            .iter()
            .map(|question| (&self.st.insert_question, Write::Question(question)))
            .collect();
        self.run_all(writes).await?;

        // 4. Last, the goal with its list entry, together: until now, neither shows.
        let row = (
            goal.id,
            goal.user_id,
            goal.job_id,
            &goal.title,
            &goal.description,
            &goal.category,
            to_text(&goal.difficulty)?,
            to_text(&goal.status)?,
            goal.roadmap_id,
            &goal.roadmap_name,
            to_int(goal.level_count, "level count")?,
            goal.created_at,
        );
        self.session
            .batch(&self.st.insert_goal, (row, (goal.user_id, goal.id)))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Runs independent writes, [`WRITE_CONCURRENCY`] at a time; the first failure
    /// wins (every write is idempotent, so the caller's retry redoes them all).
    async fn run_all(&self, writes: Vec<(&PreparedStatement, Write<'_>)>) -> StoreResult<()> {
        stream::iter(writes.into_iter().map(Ok))
            .try_for_each_concurrent(WRITE_CONCURRENCY, |(statement, write)| async move {
                match write {
                    Write::Id(id) => self.run(statement, (id,)).await,
                    Write::IdAndInt(id, n) => self.run(statement, (id, n)).await,
                    Write::Entry(user_id, goal_id) => self.run(statement, (user_id, goal_id)).await,
                    Write::Index(level_id, goal_id, order) => {
                        self.run(statement, (level_id, goal_id, order)).await
                    }
                    Write::Level(level) => self.insert_level(statement, level).await,
                    Write::Question(question) => {
                        let row = (
                            question.level_id,
                            to_int(question.index, "question index")?,
                            question.id,
                            &question.question,
                            &question.options,
                            i32::from(question.answer),
                            &question.explanation,
                        );
                        self.run(statement, row).await
                    }
                }
            })
            .await
    }

    /// Writes a `levels` row: the whole level, its completion exactly as given.
    async fn insert_level(&self, statement: &PreparedStatement, level: &Level) -> StoreResult<()> {
        let topics: Vec<(&str, &str)> = level
            .topics
            .iter()
            .map(|t| (t.name.as_str(), t.explanation.as_str()))
            .collect();
        let mut completed = BTreeSet::new();
        for (i, topic) in level.topics.iter().enumerate() {
            if topic.completed {
                completed.insert(i32::try_from(i).map_err(internal)?);
            }
        }
        let row = (
            level.goal_id,
            to_int(level.order, "level order")?,
            level.id,
            level.user_id,
            &level.title,
            &level.description,
            to_int(level.xp_reward, "xp reward")?,
            to_text(&level.status)?,
            topics,
            completed,
        );
        self.run(statement, row).await
    }

    pub(super) async fn goals_of_user(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Page<Goal>> {
        let limit = limit.min(MAX_PAGE);
        if limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        // One more than asked: whether there is a next page, without another query.
        let fetch = i32::try_from(limit + 1).map_err(internal)?;
        let rows: Vec<(Uuid,)> = match after {
            None => self.rows(&self.st.goals_page, (user_id, fetch)).await?,
            Some(after) => {
                self.rows(&self.st.goals_page_after, (user_id, after, fetch))
                    .await?
            }
        };
        let mut ids: Vec<Uuid> = rows.into_iter().map(|(id,)| id).collect();
        let next = if ids.len() > limit {
            ids.truncate(limit);
            ids.last().copied()
        } else {
            None
        };
        let goals: Vec<Option<Goal>> = stream::iter(ids)
            .map(|id| self.goal(id))
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(Page {
            // An entry whose goal is gone (a delete in progress) or someone else's (a
            // save that changed owners, not yet cleaned) is skipped.
            items: goals
                .into_iter()
                .flatten()
                .filter(|goal| goal.user_id == user_id)
                .collect(),
            next,
        })
    }

    pub(super) async fn delete_goal(&self, goal_id: Uuid) -> StoreResult<bool> {
        let row = self.goal_row(goal_id).await?;
        let owner = row.as_ref().and_then(|row| row.user_id);
        // First the goal and its list entry, together: it disappears at once.
        match (&row, owner) {
            (Some(_), Some(user_id)) => {
                self.session
                    .batch(&self.st.delete_goal, ((user_id, goal_id), (goal_id,)))
                    .await
                    .map_err(unavailable)?;
            }
            // What an update racing an earlier delete left: no list entry to find.
            (Some(_), None) => self.run(&self.st.delete_goal_row, (goal_id,)).await?,
            (None, _) => {}
        }
        // Then the rest, even when the goal was already gone, so that calling again
        // finishes a delete that failed half-way. The levels partition goes last: it
        // is how the questions and index entries are found.
        let levels = self.level_rows(goal_id).await?;
        let mut deletes = Vec::with_capacity(levels.len() * 2);
        for level_id in levels.iter().filter_map(|level| level.level_id) {
            deletes.push((&self.st.delete_questions, Write::Id(level_id)));
            deletes.push((&self.st.unindex_level, Write::Id(level_id)));
        }
        self.run_all(deletes).await?;
        if !levels.is_empty() {
            self.run(&self.st.delete_levels, (goal_id,)).await?;
        }
        Ok(owner.is_some())
    }

    pub(super) async fn set_goal_status(
        &self,
        goal_id: Uuid,
        status: GoalStatus,
    ) -> StoreResult<()> {
        // Checked first so the update never creates a row for an unknown goal.
        if self.goal(goal_id).await?.is_none() {
            return Ok(());
        }
        self.run(&self.st.set_goal_status, (to_text(&status)?, goal_id))
            .await
    }

    // ---- levels ----

    pub(super) async fn levels(&self, goal_id: Uuid) -> StoreResult<Vec<Level>> {
        let mut levels = Vec::new();
        for row in self.level_rows(goal_id).await? {
            if let Some(level) = row.into_level()? {
                levels.push(level);
            }
        }
        Ok(levels)
    }

    /// Where the level is: its goal and position.
    async fn level_ref(&self, level_id: Uuid) -> StoreResult<Option<(Uuid, i32)>> {
        let row: Option<(Option<Uuid>, Option<i32>)> =
            self.one_row(&self.st.level_ref, (level_id,)).await?;
        Ok(row.and_then(|(goal_id, order)| goal_id.zip(order)))
    }

    async fn level_at(
        &self,
        level_id: Uuid,
        goal_id: Uuid,
        order: i32,
    ) -> StoreResult<Option<Level>> {
        let row: Option<LevelRow> = self.one_row(&self.st.level_at, (goal_id, order)).await?;
        Ok(row
            .map(LevelRow::into_level)
            .transpose()?
            .flatten()
            // A stale index entry may point at another level's position.
            .filter(|level| level.id == level_id))
    }

    pub(super) async fn level(&self, level_id: Uuid) -> StoreResult<Option<Level>> {
        match self.level_ref(level_id).await? {
            Some((goal_id, order)) => self.level_at(level_id, goal_id, order).await,
            None => Ok(None),
        }
    }

    pub(super) async fn set_topic_completed(
        &self,
        level_id: Uuid,
        index: u32,
        completed: bool,
    ) -> StoreResult<Option<Level>> {
        // Checked first: an unknown level or topic is never written.
        let Some((goal_id, order)) = self.level_ref(level_id).await? else {
            return Ok(None);
        };
        let Some(level) = self.level_at(level_id, goal_id, order).await? else {
            return Ok(None);
        };
        if usize::try_from(index).map_or(true, |i| i >= level.topics.len()) {
            return Ok(None);
        }
        let statement = if completed {
            &self.st.complete_topic
        } else {
            &self.st.uncomplete_topic
        };
        self.run(statement, (topic_set(index)?, goal_id, order))
            .await?;
        // Read back: the level with every concurrent change made so far.
        self.level_at(level_id, goal_id, order).await
    }

    pub(super) async fn set_level_status(
        &self,
        level_id: Uuid,
        status: LevelStatus,
    ) -> StoreResult<()> {
        let Some((goal_id, order)) = self.level_ref(level_id).await? else {
            return Ok(());
        };
        if self.level_at(level_id, goal_id, order).await?.is_none() {
            return Ok(());
        }
        self.run(
            &self.st.set_level_status,
            (to_text(&status)?, goal_id, order),
        )
        .await
    }

    // ---- questions ----

    pub(super) async fn questions(&self, level_id: Uuid) -> StoreResult<Vec<Question>> {
        let rows: Vec<QuestionRow> = self.rows(&self.st.questions, (level_id,)).await?;
        let mut questions = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(question) = row.into_question()? {
                questions.push(question);
            }
        }
        Ok(questions)
    }
}

/// One write of a save or delete, with what it binds.
enum Write<'a> {
    Id(Uuid),
    IdAndInt(Uuid, i32),
    Entry(Uuid, Uuid),
    Index(Uuid, Uuid, i32),
    Level(&'a Level),
    Question(&'a Question),
}
