//! Goals, levels and question banks on CQL (see docs/data-model.md, Q9 to Q14, W13 to
//! W19; generation jobs are in `jobs.rs`).
//!
//! Rules kept throughout, so the same statements behave alike on ScyllaDB and Cassandra:
//! * every read is one partition or a bounded slice of one: a goal has at most 8
//!   levels, a level at most 30 questions, a page of goals at most [`MAX_PAGE`] ids
//!   (then one single-row read per goal);
//! * nothing is batched but a goal row with its `goals_by_user` entry: two small rows
//!   in one logged batch, so the goal and the user's list show it (or lose it)
//!   together, and far below every batch size threshold;
//! * no lightweight transactions: a goal's content is written once per save, and topic
//!   completion is a `set<int>` changed with `+ ?` / `- ?`, which concurrent writers
//!   cannot lose;
//! * a plain `UPDATE` creates the row it names, so every update first checks that its
//!   row exists, and reads treat a row without the columns only `INSERT` writes (what
//!   an update racing a delete can leave behind) as absent;
//! * the writes of one save or delete touch disjoint cells (a range deleted is never
//!   rewritten by the same call), so their order on the server never matters.

use std::collections::BTreeSet;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt, stream};
use scylla::client::session::Session;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use super::connect::ConnectError;
use super::store::{
    ScyllaStore, idempotent_batch, internal, prepare, to_int, to_text, unavailable,
};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{
    Goal, GoalStatus, GoalStore, Level, LevelStatus, NewGoal, Page, Question, StoreError,
    StoreResult,
};
use rows::{GoalRow, LevelRow, QuestionRow};

mod rows;
mod write;

/// Most goals one page returns, whatever the caller asks: a page is one bounded slice
/// of the user's partition plus one read per goal.
const MAX_PAGE: usize = 100;

/// Goals of one page read at once.
const READ_CONCURRENCY: usize = 16;

const GOAL_COLUMNS: &str = "goal_id, user_id, job_id, title, description, category, difficulty, status, roadmap_id, roadmap_name, level_count, created_at";
const LEVEL_COLUMNS: &str = "goal_id, level_order, level_id, user_id, title, description, xp_reward, status, topics, completed_topics";
const QUESTION_COLUMNS: &str =
    "level_id, question_index, question_id, question, options, answer, explanation";

/// Statements of the goal tables (`goals`, `goals_by_user`), prepared once per session.
pub(super) struct GoalStatements {
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
        let mut insert_goal = idempotent_batch(BatchType::Logged);
        insert_goal.append_statement(insert_goal_row);
        insert_goal.append_statement(insert_goal_entry);
        let mut delete_goal = idempotent_batch(BatchType::Logged);
        delete_goal.append_statement(delete_goal_entry.clone());
        delete_goal.append_statement(delete_goal_row.clone());
        Ok(GoalStatements {
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
        })
    }
}

/// Where levels were found: a level's goal and position, kept per instance (100,000
/// levels). The index is read on every level read otherwise: two queries where one
/// will do, at every quiz start (issue 17). A level's place is written once with its
/// goal; should it change (a roadmap saved again), the cached place no longer holds
/// the level and [`ScyllaStore::locate`] reads the index again.
pub(in crate::adapters::scylla) struct LevelPlaces(moka::future::Cache<Uuid, (Uuid, i32)>);

impl LevelPlaces {
    pub(in crate::adapters::scylla) fn new() -> Self {
        LevelPlaces(
            moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(std::time::Duration::from_secs(3600))
                .build(),
        )
    }

    async fn get(&self, level_id: Uuid) -> Option<(Uuid, i32)> {
        self.0.get(&level_id).await
    }

    async fn remember(&self, level_id: Uuid, place: (Uuid, i32)) {
        self.0.insert(level_id, place).await;
    }

    async fn forget(&self, level_id: Uuid) {
        self.0.invalidate(&level_id).await;
    }
}

/// Statements of the level tables (`levels`, `level_index`) and of `questions`,
/// prepared once per session.
pub(super) struct LevelStatements {
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

impl LevelStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        Ok(LevelStatements {
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

/// A topic index as the one-element set that `+ ?` / `- ?` take.
fn topic_set(index: u32) -> StoreResult<BTreeSet<i32>> {
    Ok(BTreeSet::from([to_int(index, "topic index")?]))
}

impl ScyllaStore {
    async fn goal_row(&self, goal_id: Uuid) -> StoreResult<Option<GoalRow>> {
        self.one_row(&self.goals.goal, (goal_id,)).await
    }

    async fn level_rows(&self, goal_id: Uuid) -> StoreResult<Vec<LevelRow>> {
        self.rows(&self.levels.levels, (goal_id,)).await
    }

    /// A level with its place (goal, position): from the cached place when it still
    /// holds the level, else from the index (and the place cached). A cached place is
    /// only ever a shortcut: a level not found there is looked up again.
    async fn locate(&self, level_id: Uuid) -> StoreResult<Option<(Uuid, i32, Level)>> {
        if let Some((goal_id, order)) = self.level_places.get(level_id).await {
            if let Some(level) = self.level_at(level_id, goal_id, order).await? {
                return Ok(Some((goal_id, order, level)));
            }
            self.level_places.forget(level_id).await;
        }
        let Some((goal_id, order)) = self.level_ref(level_id).await? else {
            return Ok(None);
        };
        let level = self.level_at(level_id, goal_id, order).await?;
        if level.is_some() {
            self.level_places.remember(level_id, (goal_id, order)).await;
        }
        Ok(level.map(|level| (goal_id, order, level)))
    }

    /// Where the level is: its goal and position.
    async fn level_ref(&self, level_id: Uuid) -> StoreResult<Option<(Uuid, i32)>> {
        let row: Option<(Option<Uuid>, Option<i32>)> =
            self.one_row(&self.levels.level_ref, (level_id,)).await?;
        Ok(row.and_then(|(goal_id, order)| goal_id.zip(order)))
    }

    async fn level_at(
        &self,
        level_id: Uuid,
        goal_id: Uuid,
        order: i32,
    ) -> StoreResult<Option<Level>> {
        let row: Option<LevelRow> = self
            .one_row(&self.levels.level_at, (goal_id, order))
            .await?;
        Ok(row
            .map(LevelRow::into_level)
            .transpose()?
            .flatten()
            // A stale index entry may point at another level's position.
            .filter(|level| level.id == level_id))
    }
}

#[async_trait]
impl GoalStore for ScyllaStore {
    async fn save_goal(&self, new: &NewGoal) -> StoreResult<()> {
        new.check().map_err(StoreError::Internal)?;
        // 1. What an earlier save of this goal left that this one does not rewrite: a
        //    retried job may have generated other levels, or shorter banks.
        let previous_owner = self
            .goal_row(new.goal.id)
            .await?
            .and_then(|row| row.user_id);
        let previous_levels = self.level_rows(new.goal.id).await?;
        self.run_all(self.stale_writes(new, previous_owner, &previous_levels)?)
            .await?;
        // 2. and 3.: the levels, then the questions.
        self.write_levels(new).await?;
        // 4. Last, the goal with its list entry, together: until now, neither shows.
        self.insert_goal(&new.goal).await
    }

    async fn goal(&self, goal_id: Uuid) -> StoreResult<Option<Goal>> {
        Ok(self
            .goal_row(goal_id)
            .await?
            .map(GoalRow::into_goal)
            .transpose()?
            .flatten())
    }

    async fn goals_of_user(
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
            None => self.rows(&self.goals.goals_page, (user_id, fetch)).await?,
            Some(after) => {
                self.rows(&self.goals.goals_page_after, (user_id, after, fetch))
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

    async fn delete_goal(&self, goal_id: Uuid) -> StoreResult<bool> {
        let row = self.goal_row(goal_id).await?;
        let owner = row.as_ref().and_then(|row| row.user_id);
        // First the goal and its list entry, together: it disappears at once.
        match (&row, owner) {
            (Some(_), Some(user_id)) => {
                self.session
                    .batch(&self.goals.delete_goal, ((user_id, goal_id), (goal_id,)))
                    .await
                    .map_err(unavailable)?;
            }
            // What an update racing an earlier delete left: no list entry to find.
            (Some(_), None) => self.run(&self.goals.delete_goal_row, (goal_id,)).await?,
            (None, _) => {}
        }
        // Then the rest, even when the goal was already gone, so that calling again
        // finishes a delete that failed half-way.
        self.remove_levels(goal_id).await?;
        Ok(owner.is_some())
    }

    async fn levels(&self, goal_id: Uuid) -> StoreResult<Vec<Level>> {
        let mut levels = Vec::new();
        for row in self.level_rows(goal_id).await? {
            if let Some(level) = row.into_level()? {
                levels.push(level);
            }
        }
        Ok(levels)
    }

    async fn level(&self, level_id: Uuid) -> StoreResult<Option<Level>> {
        Ok(self.locate(level_id).await?.map(|(_, _, level)| level))
    }

    async fn set_topic_completed(
        &self,
        level_id: Uuid,
        index: u32,
        completed: bool,
    ) -> StoreResult<Option<Level>> {
        // Checked first: an unknown level or topic is never written.
        let Some((goal_id, order, level)) = self.locate(level_id).await? else {
            return Ok(None);
        };
        if usize::try_from(index).map_or(true, |i| i >= level.topics.len()) {
            return Ok(None);
        }
        let statement = if completed {
            &self.levels.complete_topic
        } else {
            &self.levels.uncomplete_topic
        };
        self.run(statement, (topic_set(index)?, goal_id, order))
            .await?;
        // Read back: the level with every concurrent change made so far.
        self.level_at(level_id, goal_id, order).await
    }

    async fn set_level_status(&self, level_id: Uuid, status: LevelStatus) -> StoreResult<()> {
        let Some((goal_id, order, _)) = self.locate(level_id).await? else {
            return Ok(());
        };
        self.run(
            &self.levels.set_level_status,
            (to_text(&status)?, goal_id, order),
        )
        .await
    }

    async fn set_goal_status(&self, goal_id: Uuid, status: GoalStatus) -> StoreResult<()> {
        // Checked first so the update never creates a row for an unknown goal.
        if self.goal(goal_id).await?.is_none() {
            return Ok(());
        }
        self.run(&self.goals.set_goal_status, (to_text(&status)?, goal_id))
            .await
    }

    async fn questions(&self, level_id: Uuid) -> StoreResult<Vec<Question>> {
        let rows: Vec<QuestionRow> = self.rows(&self.levels.questions, (level_id,)).await?;
        let mut questions = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(question) = row.into_question()? {
                questions.push(question);
            }
        }
        Ok(questions)
    }
}
