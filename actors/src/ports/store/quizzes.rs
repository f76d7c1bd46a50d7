//! Quizzes hosts saved to play in rooms again.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;

/// A quiz a host saved to play in rooms again (owned by one learner; nobody else sees it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedQuiz {
    /// UUID v7: quizzes list in creation order.
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    /// Empty when the host gave none.
    pub description: String,
    pub questions: Vec<QuizQuestion>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One question of a saved quiz (or of a room's own questions), as validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuizQuestion {
    pub question: String,
    /// Two to four options, shown as A to D.
    pub options: Vec<String>,
    /// Index of the correct option.
    pub answer: u8,
    /// Empty when there is none.
    pub explanation: String,
    /// Seconds to answer; `None` plays it with the room's default.
    pub time_limit_secs: Option<u32>,
    /// Points multiplier: 0, 1 or 2.
    pub points: u32,
}

/// A saved quiz as its owner's list shows it (without the questions).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuizSummary {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub question_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SavedQuiz {
    pub fn summary(&self) -> QuizSummary {
        QuizSummary {
            id: self.id,
            owner_id: self.owner_id,
            title: self.title.clone(),
            question_count: self.questions.len() as u32,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Saved quizzes, each owned by one learner, counted against a limit per owner.
#[async_trait]
pub trait QuizStore: Send + Sync + 'static {
    /// Saves a new quiz unless its owner already has `limit` quizzes: true when saved,
    /// false (nothing written) at the limit. Saving a quiz again (a retry) rewrites it
    /// and is not counted twice. The count is exact on the embedded store; on CQL, creates
    /// of one owner that race may each see one slot left (no transaction spans the count
    /// and the write), so the limit can be passed by the number of such races.
    async fn create_quiz(&self, quiz: &SavedQuiz, limit: usize) -> StoreResult<bool>;

    /// Replaces the title, description, questions and `updated_at` of a quiz of
    /// `quiz.owner_id` (its id, owner and `created_at` stay); false, and nothing written,
    /// when that owner has no such quiz.
    async fn update_quiz(&self, quiz: &SavedQuiz) -> StoreResult<bool>;

    /// One quiz, whoever owns it (callers check the owner).
    async fn quiz(&self, quiz_id: Uuid) -> StoreResult<Option<SavedQuiz>>;

    /// The owner's quizzes, newest (created) first, at most `limit`, without questions.
    async fn quizzes_of_owner(&self, owner_id: Uuid, limit: usize)
    -> StoreResult<Vec<QuizSummary>>;

    /// Deletes a quiz of `owner_id`; false when that owner has no such quiz (another
    /// owner's quiz is left alone).
    async fn delete_quiz(&self, owner_id: Uuid, quiz_id: Uuid) -> StoreResult<bool>;
}
