//! Goals mirror the CQL keys (see docs/data-model.md): a goal's levels are one key range
//! of `levels`, a level's questions one key range of `questions`, a user's goals one key
//! range of `goals_by_user`; saving and deleting a goal are one transaction each, so
//! readers see all of it or none of it.

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{GOALS, GOALS_BY_USER, LEVEL_INDEX, LEVELS, QUESTIONS};
use super::txn::{Txn, decode, decode_values, encode, get_json, internal, read_json};
use questpath_actors::ports::store::{
    Goal, GoalStatus, GoalStore, Level, LevelStatus, NewGoal, Page, Question, StoreError,
    StoreResult,
};

/// Most goals one page returns, whatever the caller asks (as on CQL).
const MAX_PAGE: usize = 100;

/// The goal's levels in order, read from any transaction.
fn goal_levels(
    levels: &impl ReadableTable<(u128, u32), &'static [u8]>,
    goal_id: Uuid,
) -> StoreResult<Vec<Level>> {
    let goal = goal_id.as_u128();
    let range = levels
        .range((goal, 0)..=(goal, u32::MAX))
        .map_err(internal)?;
    decode_values(range, "level")
}

/// Removes the goal's levels with their index entries and questions.
fn remove_levels(tx: &WriteTransaction, goal_id: Uuid) -> StoreResult<()> {
    let mut levels = tx.open_table(LEVELS).map_err(internal)?;
    let mut index = tx.open_table(LEVEL_INDEX).map_err(internal)?;
    let mut questions = tx.open_table(QUESTIONS).map_err(internal)?;
    let goal = goal_id.as_u128();
    for level in goal_levels(&levels, goal_id)? {
        let id = level.id.as_u128();
        questions
            .retain_in((id, 0)..=(id, u32::MAX), |_, _| false)
            .map_err(internal)?;
        index.remove(id).map_err(internal)?;
    }
    levels
        .retain_in((goal, 0)..=(goal, u32::MAX), |_, _| false)
        .map_err(internal)?;
    Ok(())
}

/// Writes the goal's levels (with their index entries) and questions.
fn insert_levels(tx: &WriteTransaction, new: &NewGoal) -> StoreResult<()> {
    let mut levels = tx.open_table(LEVELS).map_err(internal)?;
    let mut index = tx.open_table(LEVEL_INDEX).map_err(internal)?;
    for level in &new.levels {
        let key = (new.goal.id.as_u128(), level.order);
        let bytes = encode(level)?;
        levels.insert(key, bytes.as_slice()).map_err(internal)?;
        index.insert(level.id.as_u128(), key).map_err(internal)?;
    }
    let mut questions = tx.open_table(QUESTIONS).map_err(internal)?;
    for question in &new.questions {
        let bytes = encode(question)?;
        questions
            .insert(
                (question.level_id.as_u128(), question.index),
                bytes.as_slice(),
            )
            .map_err(internal)?;
    }
    Ok(())
}

/// Writes the goal's record and its entry in its user's list (moving it from another
/// user's list, if an earlier save had another owner).
fn insert_goal(tx: &WriteTransaction, goal: &Goal) -> StoreResult<()> {
    let mut goals = tx.open_table(GOALS).map_err(internal)?;
    let mut by_user = tx.open_table(GOALS_BY_USER).map_err(internal)?;
    let previous: Option<Goal> = get_json(&goals, goal.id.as_u128(), "goal")?;
    if let Some(previous) = previous.filter(|p| p.user_id != goal.user_id) {
        by_user
            .remove((previous.user_id.as_u128(), goal.id.as_u128()))
            .map_err(internal)?;
    }
    let bytes = encode(goal)?;
    goals
        .insert(goal.id.as_u128(), bytes.as_slice())
        .map_err(internal)?;
    by_user
        .insert((goal.user_id.as_u128(), goal.id.as_u128()), ())
        .map_err(internal)?;
    Ok(())
}

/// One page of the user's goals, newest first, from just before the cursor.
fn goals_page(
    tx: &ReadTransaction,
    user_id: Uuid,
    after: Option<Uuid>,
    limit: usize,
) -> StoreResult<Page<Goal>> {
    if limit == 0 {
        return Ok(Page {
            items: Vec::new(),
            next: None,
        });
    }
    let user = user_id.as_u128();
    let by_user = tx.open_table(GOALS_BY_USER).map_err(internal)?;
    // Newest first: the user's range backwards, from just before the cursor.
    let range = match after {
        Some(after) => by_user.range((user, 0)..(user, after.as_u128())),
        None => by_user.range((user, 0)..=(user, u128::MAX)),
    }
    .map_err(internal)?;
    let mut ids = Vec::with_capacity(limit + 1);
    for entry in range.rev().take(limit + 1) {
        let (key, _) = entry.map_err(internal)?;
        ids.push(Uuid::from_u128(key.value().1));
    }
    let next = if ids.len() > limit {
        ids.truncate(limit);
        ids.last().copied()
    } else {
        None
    };
    let goals = tx.open_table(GOALS).map_err(internal)?;
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        let goal: Option<Goal> = get_json(&goals, id.as_u128(), "goal")?;
        items.extend(goal.filter(|g| g.user_id == user_id));
    }
    Ok(Page { items, next })
}

/// The level by id, through its index entry.
fn level_by_id(tx: &ReadTransaction, level_id: Uuid) -> StoreResult<Option<Level>> {
    let index = tx.open_table(LEVEL_INDEX).map_err(internal)?;
    let Some(key) = index.get(level_id.as_u128()).map_err(internal)? else {
        return Ok(None);
    };
    read_json(tx, LEVELS, key.value(), "level")
}

impl EmbeddedStore {
    /// Rewrites one level (its `levels` entry found through the index) with `change`, in
    /// one write transaction; `change` returns false to leave it as it is. Returns the
    /// level as it is afterwards, or `None` for an unknown level.
    async fn update_level<F>(&self, level_id: Uuid, change: F) -> StoreResult<Option<Level>>
    where
        F: FnOnce(&mut Level) -> bool + Send + 'static,
    {
        self.write_or_abort(move |tx| {
            let key = match tx
                .open_table(LEVEL_INDEX)
                .map_err(internal)?
                .get(level_id.as_u128())
                .map_err(internal)?
            {
                Some(key) => key.value(),
                None => return Ok(Txn::Abort(None)),
            };
            let mut levels = tx.open_table(LEVELS).map_err(internal)?;
            let level: Option<Level> = get_json(&levels, key, "level")?;
            let Some(mut level) = level else {
                return Ok(Txn::Abort(None));
            };
            if !change(&mut level) {
                return Ok(Txn::Abort(Some(level)));
            }
            let bytes = encode(&level)?;
            levels.insert(key, bytes.as_slice()).map_err(internal)?;
            Ok(Txn::Commit(Some(level)))
        })
        .await
    }
}

#[async_trait]
impl GoalStore for EmbeddedStore {
    async fn save_goal(&self, goal: &NewGoal) -> StoreResult<()> {
        goal.check().map_err(StoreError::Internal)?;
        let new = goal.clone();
        self.write(move |tx| {
            // Whatever an earlier save of this goal wrote is replaced, not merged: a
            // retried job may have generated other levels or shorter banks.
            remove_levels(tx, new.goal.id)?;
            insert_levels(tx, &new)?;
            insert_goal(tx, &new.goal)
        })
        .await
    }

    async fn goal(&self, goal_id: Uuid) -> StoreResult<Option<Goal>> {
        self.read(move |tx| read_json(tx, GOALS, goal_id.as_u128(), "goal"))
            .await
    }

    async fn goals_of_user(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Page<Goal>> {
        let limit = limit.min(MAX_PAGE);
        self.read(move |tx| goals_page(tx, user_id, after, limit))
            .await
    }

    async fn delete_goal(&self, goal_id: Uuid) -> StoreResult<bool> {
        self.write_or_abort(move |tx| {
            let removed: Option<Goal> = {
                let mut goals = tx.open_table(GOALS).map_err(internal)?;
                match goals.remove(goal_id.as_u128()).map_err(internal)? {
                    Some(bytes) => Some(decode(bytes.value(), "goal")?),
                    None => None,
                }
            };
            let Some(goal) = removed else {
                // Nothing to delete: a goal is saved whole, in one transaction.
                return Ok(Txn::Abort(false));
            };
            tx.open_table(GOALS_BY_USER)
                .map_err(internal)?
                .remove((goal.user_id.as_u128(), goal_id.as_u128()))
                .map_err(internal)?;
            remove_levels(tx, goal_id)?;
            Ok(Txn::Commit(true))
        })
        .await
    }

    async fn levels(&self, goal_id: Uuid) -> StoreResult<Vec<Level>> {
        self.read(move |tx| goal_levels(&tx.open_table(LEVELS).map_err(internal)?, goal_id))
            .await
    }

    async fn level(&self, level_id: Uuid) -> StoreResult<Option<Level>> {
        self.read(move |tx| level_by_id(tx, level_id)).await
    }

    async fn set_topic_completed(
        &self,
        level_id: Uuid,
        index: u32,
        completed: bool,
    ) -> StoreResult<Option<Level>> {
        let Ok(index) = usize::try_from(index) else {
            return Ok(None);
        };
        let level = self
            .update_level(level_id, move |level| match level.topics.get_mut(index) {
                Some(topic) => {
                    let changed = topic.completed != completed;
                    topic.completed = completed;
                    changed
                }
                None => false,
            })
            .await?;
        // An index beyond the topics is no topic: nothing was written.
        Ok(level.filter(|level| index < level.topics.len()))
    }

    async fn set_level_status(&self, level_id: Uuid, status: LevelStatus) -> StoreResult<()> {
        self.update_level(level_id, move |level| {
            let changed = level.status != status;
            level.status = status;
            changed
        })
        .await
        .map(drop)
    }

    async fn set_goal_status(&self, goal_id: Uuid, status: GoalStatus) -> StoreResult<()> {
        self.update(GOALS, goal_id.as_u128(), "goal", move |goal: &mut Goal| {
            goal.status = status
        })
        .await
        .map(drop)
    }

    async fn questions(&self, level_id: Uuid) -> StoreResult<Vec<Question>> {
        let level = level_id.as_u128();
        self.read(move |tx| {
            let questions = tx.open_table(QUESTIONS).map_err(internal)?;
            let bank = questions
                .range((level, 0)..=(level, u32::MAX))
                .map_err(internal)?;
            decode_values(bank, "question")
        })
        .await
    }
}
