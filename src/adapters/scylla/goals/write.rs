//! The writes of saving and deleting a goal. A save removes what an earlier save left
//! first, then writes the levels, the questions, and last the goal with its list entry,
//! so neither the goal nor the user's list shows it until it is whole. A delete removes
//! the goal with its list entry first, then its levels and questions. Independent writes
//! run concurrently.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures_util::{TryStreamExt, stream};
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use super::super::store::{ScyllaStore, internal, to_int, to_text, unavailable};
use super::rows::LevelRow;
use questpath_actors::ports::store::{Goal, Level, NewGoal, Question, StoreResult};

/// Statements of one save or delete in flight at once: enough to hide the round
/// trips, few enough not to flood a node with one learner's roadmap.
const WRITE_CONCURRENCY: usize = 16;

impl ScyllaStore {
    /// The deletes that clear what an earlier save of `new`'s goal (by
    /// `previous_owner`, with `previous_levels`) wrote and this one does not rewrite:
    /// another owner's list entry, levels at positions no longer used, questions past
    /// the new banks' ends, and everything of levels that are gone.
    pub(super) fn stale_writes<'a>(
        &'a self,
        new: &NewGoal,
        previous_owner: Option<Uuid>,
        previous_levels: &[LevelRow],
    ) -> StoreResult<Vec<(&'a PreparedStatement, Write<'a>)>> {
        let goal = &new.goal;
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
            cleanup.push((&self.goals.delete_goal_entry, Write::Entry(owner, goal.id)));
        }
        for old in previous_levels {
            if let Some(old_id) = old.level_id {
                match bank_ends.get(&old_id) {
                    Some(0) => cleanup.push((&self.levels.delete_questions, Write::Id(old_id))),
                    Some(end) => cleanup.push((
                        &self.levels.delete_questions_from,
                        Write::IdAndInt(old_id, *end),
                    )),
                    None => {
                        cleanup.push((&self.levels.delete_questions, Write::Id(old_id)));
                        cleanup.push((&self.levels.unindex_level, Write::Id(old_id)));
                    }
                }
            }
            if !orders.contains(&old.level_order) {
                cleanup.push((
                    &self.levels.delete_level,
                    Write::IdAndInt(goal.id, old.level_order),
                ));
            }
        }
        Ok(cleanup)
    }

    /// Writes the levels (and where to find them by id), then the questions, so a
    /// retry finds every level that may have questions when it clears stale ones.
    pub(super) async fn write_levels(&self, new: &NewGoal) -> StoreResult<()> {
        let mut writes = Vec::with_capacity(new.levels.len() * 2);
        for level in &new.levels {
            let order = to_int(level.order, "level order")?;
            writes.push((
                &self.levels.index_level,
                Write::Index(level.id, level.goal_id, order),
            ));
            writes.push((&self.levels.insert_level, Write::Level(level)));
        }
        self.run_all(writes).await?;

        let writes = new
            .questions
            .iter()
            .map(|question| (&self.levels.insert_question, Write::Question(question)))
            .collect();
        self.run_all(writes).await
    }

    /// Deletes the goal's levels with their questions and index entries. The levels
    /// partition goes last: it is how the questions and index entries are found.
    pub(super) async fn remove_levels(&self, goal_id: Uuid) -> StoreResult<()> {
        let levels = self.level_rows(goal_id).await?;
        let mut deletes = Vec::with_capacity(levels.len() * 2);
        for level_id in levels.iter().filter_map(|level| level.level_id) {
            deletes.push((&self.levels.delete_questions, Write::Id(level_id)));
            deletes.push((&self.levels.unindex_level, Write::Id(level_id)));
        }
        self.run_all(deletes).await?;
        if !levels.is_empty() {
            self.run(&self.levels.delete_levels, (goal_id,)).await?;
        }
        Ok(())
    }

    /// Writes the goal row and its `goals_by_user` entry in one logged batch.
    pub(super) async fn insert_goal(&self, goal: &Goal) -> StoreResult<()> {
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
            .batch(&self.goals.insert_goal, (row, (goal.user_id, goal.id)))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Runs independent writes, [`WRITE_CONCURRENCY`] at a time; the first failure
    /// wins (every write is idempotent, so the caller's retry redoes them all).
    pub(super) async fn run_all(
        &self,
        writes: Vec<(&PreparedStatement, Write<'_>)>,
    ) -> StoreResult<()> {
        stream::iter(writes.into_iter().map(Ok))
            .try_for_each_concurrent(WRITE_CONCURRENCY, |(statement, write)| async move {
                match write {
                    Write::Id(id) => self.run(statement, (id,)).await,
                    Write::IdAndInt(id, n) => self.run(statement, (id, n)).await,
                    Write::Entry(user_id, goal_id) => self.run(statement, (user_id, goal_id)).await,
                    Write::Index(level_id, goal_id, order) => {
                        self.run(statement, (level_id, goal_id, order)).await
                    }
                    Write::Level(level) => self.write_level(statement, level).await,
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
    async fn write_level(&self, statement: &PreparedStatement, level: &Level) -> StoreResult<()> {
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
}

/// One write of a save or delete, with what it binds.
pub(super) enum Write<'a> {
    Id(Uuid),
    IdAndInt(Uuid, i32),
    Entry(Uuid, Uuid),
    Index(Uuid, Uuid, i32),
    Level(&'a Level),
    Question(&'a Question),
}
