//! How goals, levels and jobs are shown, in the v1 and legacy shapes. v1 never
//! includes quiz answers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::goals::service::GoalWithLevels;
use questpath_actors::domain::roadmap::Difficulty;
use questpath_actors::ports::{GenerationJob, Goal, GoalStatus, JobStatus, Level, LevelStatus};

/// A goal in a list, without its roadmap.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GoalSummary {
    pub id: Uuid,
    pub title: String,
    pub category: String,
    pub difficulty: Difficulty,
    pub status: GoalStatus,
    pub level_count: u32,
    pub created_at: DateTime<Utc>,
}

impl From<&Goal> for GoalSummary {
    fn from(g: &Goal) -> Self {
        GoalSummary {
            id: g.id,
            title: g.title.clone(),
            category: g.category.clone(),
            difficulty: g.difficulty,
            status: g.status,
            level_count: g.level_count,
            created_at: g.created_at,
        }
    }
}

/// One topic of a level.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TopicView {
    /// Position in the level, from 0; the `{index}` of the topic routes.
    pub index: u32,
    pub name: String,
    pub explanation: String,
    pub completed: bool,
}

/// A level of a roadmap with its topics (never the quiz answers).
#[derive(Serialize, utoipa::ToSchema)]
pub struct LevelView {
    pub id: Uuid,
    /// The goal (roadmap) this level belongs to.
    pub goal_id: Uuid,
    pub order: u32,
    pub title: String,
    pub description: String,
    pub xp_reward: u32,
    pub status: LevelStatus,
    pub topics: Vec<TopicView>,
    /// Unlocked (or further) with every topic done: the quiz may be taken.
    pub quiz_available: bool,
}

impl From<&Level> for LevelView {
    fn from(l: &Level) -> Self {
        LevelView {
            id: l.id,
            goal_id: l.goal_id,
            order: l.order,
            title: l.title.clone(),
            description: l.description.clone(),
            xp_reward: l.xp_reward,
            status: l.status,
            topics: l
                .topics
                .iter()
                .enumerate()
                .map(|(i, t)| TopicView {
                    index: i as u32,
                    name: t.name.clone(),
                    explanation: t.explanation.clone(),
                    completed: t.completed,
                })
                .collect(),
            quiz_available: l.status != LevelStatus::Locked && l.topics.iter().all(|t| t.completed),
        }
    }
}

/// The generated roadmap of a goal.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RoadmapView {
    pub id: Uuid,
    pub name: String,
    pub levels: Vec<LevelView>,
}

/// A goal with its whole roadmap.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GoalView {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub category: String,
    pub difficulty: Difficulty,
    pub status: GoalStatus,
    pub created_at: DateTime<Utc>,
    pub roadmap: RoadmapView,
}

impl From<&GoalWithLevels> for GoalView {
    fn from(g: &GoalWithLevels) -> Self {
        GoalView {
            id: g.goal.id,
            title: g.goal.title.clone(),
            description: g.goal.description.clone(),
            category: g.goal.category.clone(),
            difficulty: g.goal.difficulty,
            status: g.goal.status,
            created_at: g.goal.created_at,
            roadmap: RoadmapView {
                id: g.goal.roadmap_id,
                name: g.goal.roadmap_name.clone(),
                levels: g.levels.iter().map(LevelView::from).collect(),
            },
        }
    }
}

/// One page of goals, newest first (`GET /api/v1/goals`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct GoalPage {
    pub items: Vec<GoalSummary>,
    /// Pass back as `after` to get the next page; `null` on the last page.
    pub next_cursor: Option<Uuid>,
}

// Same JSON as `crate::goals::worker::job_view` (the websocket event), which a test
// below holds it to; typed here so the OpenAPI document describes it.
/// A roadmap-generation job as the learner follows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: Uuid,
    pub status: JobStatus,
    /// What a running job is doing (`generating`, `saving`).
    pub step: Option<String>,
    /// Why a failed job failed.
    pub reason: Option<String>,
    pub attempts: u32,
    /// The created goal, once the job is `done`.
    pub goal_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&GenerationJob> for JobView {
    fn from(job: &GenerationJob) -> Self {
        JobView {
            id: job.id,
            status: job.status,
            step: job.step.clone(),
            reason: job.reason.clone(),
            attempts: job.attempts,
            goal_id: (job.status == JobStatus::Done).then_some(job.goal_id),
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

/// The answer to `POST /api/v1/goals`: the queued job to follow.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JobAccepted {
    pub job: JobView,
}

/// The learner's progress (`GET /api/v1/me/stats`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct StatsView {
    pub total_xp: i64,
    /// Player level derived from `total_xp`.
    pub level: u32,
    pub levels_completed: u32,
    pub total_levels: u32,
    /// `floor(levels_completed / total_levels * 100)`, 0 without levels.
    #[schema(maximum = 100)]
    pub completion_percent: u32,
}

// ---- legacy shapes ----

#[derive(Serialize)]
pub struct LegacyGoalListItem {
    pub id: Uuid,
    pub title: String,
    pub category: String,
    pub difficulty_level: Difficulty,
    pub status: GoalStatus,
    pub created_at: DateTime<Utc>,
}

impl From<&Goal> for LegacyGoalListItem {
    fn from(g: &Goal) -> Self {
        LegacyGoalListItem {
            id: g.id,
            title: g.title.clone(),
            category: g.category.clone(),
            difficulty_level: g.difficulty,
            status: g.status,
            created_at: g.created_at,
        }
    }
}

#[derive(Serialize)]
pub struct LegacyTopic {
    pub name: String,
    pub completed: bool,
    pub explanation: String,
}

#[derive(Serialize)]
pub struct LegacyLevel {
    pub id: Uuid,
    pub order: u32,
    pub title: String,
    pub description: String,
    pub topics: Vec<LegacyTopic>,
    pub xp_reward: u32,
    pub status: LevelStatus,
}

#[derive(Serialize)]
pub struct LegacyRoadmap {
    pub id: Uuid,
    pub name: String,
    pub levels: Vec<LegacyLevel>,
}

#[derive(Serialize)]
pub struct LegacyGoal {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub category: String,
    pub difficulty_level: Difficulty,
    pub status: GoalStatus,
    pub created_at: DateTime<Utc>,
    pub roadmap: Option<LegacyRoadmap>,
}

impl From<&GoalWithLevels> for LegacyGoal {
    fn from(g: &GoalWithLevels) -> Self {
        LegacyGoal {
            id: g.goal.id,
            title: g.goal.title.clone(),
            description: g.goal.description.clone(),
            category: g.goal.category.clone(),
            difficulty_level: g.goal.difficulty,
            status: g.goal.status,
            created_at: g.goal.created_at,
            roadmap: Some(LegacyRoadmap {
                id: g.goal.roadmap_id,
                name: g.goal.roadmap_name.clone(),
                levels: g
                    .levels
                    .iter()
                    .map(|l| LegacyLevel {
                        id: l.id,
                        order: l.order,
                        title: l.title.clone(),
                        description: l.description.clone(),
                        topics: l
                            .topics
                            .iter()
                            .map(|t| LegacyTopic {
                                name: t.name.clone(),
                                completed: t.completed,
                                explanation: t.explanation.clone(),
                            })
                            .collect(),
                        xp_reward: l.xp_reward,
                        status: l.status,
                    })
                    .collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed v1 job and the websocket event's job must stay the same JSON.
    #[test]
    fn job_view_matches_the_worker_json() {
        let now = Utc::now();
        for status in [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Done,
            JobStatus::Failed,
        ] {
            let job = GenerationJob {
                id: Uuid::new_v4(),
                user_id: Uuid::new_v4(),
                goal_id: Uuid::new_v4(),
                description: "learn rust".into(),
                status,
                step: Some("generating".into()),
                reason: None,
                attempts: 1,
                created_at: now,
                updated_at: now,
            };
            assert_eq!(
                serde_json::to_value(JobView::from(&job)).unwrap(),
                crate::goals::worker::job_view(&job)
            );
        }
    }
}
