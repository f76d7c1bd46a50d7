//! The rows of the goal, level and question tables as read, and what they become. A
//! row without the columns only `INSERT` writes (what an update racing a delete can
//! leave behind) reads as absent.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use scylla::DeserializeRow;
use uuid::Uuid;

use super::super::store::{from_int, from_text, internal};
use questpath_actors::ports::store::{Goal, Level, Question, StoreResult, Topic};

#[derive(DeserializeRow)]
pub(super) struct GoalRow {
    goal_id: Uuid,
    pub(super) user_id: Option<Uuid>,
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
    pub(super) fn into_goal(self) -> StoreResult<Option<Goal>> {
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
pub(super) struct LevelRow {
    goal_id: Uuid,
    pub(super) level_order: i32,
    pub(super) level_id: Option<Uuid>,
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
    pub(super) fn into_level(self) -> StoreResult<Option<Level>> {
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
pub(super) struct QuestionRow {
    level_id: Uuid,
    question_index: i32,
    question_id: Option<Uuid>,
    question: Option<String>,
    options: Option<Vec<String>>,
    answer: Option<i32>,
    explanation: Option<String>,
}

impl QuestionRow {
    pub(super) fn into_question(self) -> StoreResult<Option<Question>> {
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
