//! Goals with their roadmaps: levels, topics, question banks and progress.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Page, StoreResult};

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

/// A goal is saved and deleted whole; progress changes one level or topic at a time.
#[async_trait]
pub trait GoalStore: Send + Sync + 'static {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goal_with(levels: u32, questions_per_level: u32) -> NewGoal {
        let goal = Goal {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            job_id: Uuid::now_v7(),
            title: "Learn Rust".into(),
            description: "ownership".into(),
            category: "programming".into(),
            difficulty: crate::domain::roadmap::Difficulty::Beginner,
            status: GoalStatus::NotStarted,
            roadmap_id: Uuid::now_v7(),
            roadmap_name: "Rust".into(),
            level_count: levels,
            created_at: Utc::now(),
        };
        let levels: Vec<Level> = (1..=levels)
            .map(|order| Level {
                id: Uuid::now_v7(),
                goal_id: goal.id,
                user_id: goal.user_id,
                order,
                title: format!("Level {order}"),
                description: String::new(),
                xp_reward: 100,
                status: LevelStatus::Locked,
                topics: Vec::new(),
            })
            .collect();
        let questions = levels
            .iter()
            .flat_map(|level| {
                (0..questions_per_level).map(|index| Question {
                    id: Uuid::now_v7(),
                    level_id: level.id,
                    index,
                    question: "?".into(),
                    options: vec!["a".into(), "b".into()],
                    answer: 0,
                    explanation: String::new(),
                })
            })
            .collect();
        NewGoal {
            goal,
            levels,
            questions,
        }
    }

    #[test]
    fn a_goal_whose_parts_belong_together_passes() {
        assert_eq!(goal_with(3, 2).check(), Ok(()));
    }

    #[test]
    fn parts_that_would_escape_delete_goal_are_refused() {
        let mut other_user = goal_with(2, 1);
        other_user.levels[1].user_id = Uuid::now_v7();
        let mut other_goal = goal_with(2, 1);
        other_goal.levels[0].goal_id = Uuid::now_v7();
        let mut same_position = goal_with(2, 1);
        same_position.levels[1].order = 1;
        let mut same_level = goal_with(2, 1);
        same_level.levels[1].id = same_level.levels[0].id;
        let mut stray_question = goal_with(2, 1);
        stray_question.questions[0].level_id = Uuid::now_v7();
        let mut same_index = goal_with(1, 2);
        same_index.questions[1].index = 0;

        for (case, goal, says) in [
            ("level of another user", other_user, "does not belong"),
            ("level of another goal", other_goal, "does not belong"),
            ("two levels at one position", same_position, "repeats level"),
            ("one level twice", same_level, "repeats level"),
            (
                "question of a foreign level",
                stray_question,
                "not a level of goal",
            ),
            ("question index twice", same_index, "repeats question index"),
        ] {
            let refused = goal.check().expect_err(case);
            assert!(refused.contains(says), "{case}: {refused}");
        }
    }
}
