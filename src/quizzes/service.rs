//! Hosts' saved quizzes as a use case: owned, limited per host, replaced whole. The
//! routes in `http::v1::quizzes` call this, never the store.

use std::sync::Arc;

use uuid::Uuid;

use super::{MAX_PER_OWNER, QuizContent, now};
use questpath_actors::ports::store::{QuizSummary, SavedQuiz};
use questpath_actors::ports::{Store, StoreError};

/// Why a quiz operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum QuizError {
    /// No quiz with that id among the caller's (someone else's counts as none).
    #[error("no saved quiz with this id among yours")]
    NotFound,
    /// The host keeps [`MAX_PER_OWNER`] quizzes already.
    #[error("you have {MAX_PER_OWNER} saved quizzes, the most one can keep")]
    Limit,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Saved quizzes of hosts.
#[derive(Clone)]
pub struct QuizService {
    store: Arc<dyn Store>,
}

impl QuizService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        QuizService { store }
    }

    /// One of `owner`'s quizzes.
    pub async fn owned(&self, owner: Uuid, quiz_id: Uuid) -> Result<SavedQuiz, QuizError> {
        self.store
            .quiz(quiz_id)
            .await?
            .filter(|quiz| quiz.owner_id == owner)
            .ok_or(QuizError::NotFound)
    }

    /// `owner`'s quizzes, newest first, without their questions.
    pub async fn list(&self, owner: Uuid) -> Result<Vec<QuizSummary>, QuizError> {
        Ok(self.store.quizzes_of_owner(owner, MAX_PER_OWNER).await?)
    }

    /// Saves a new quiz of `owner`, unless they are at the limit.
    pub async fn create(&self, owner: Uuid, content: QuizContent) -> Result<SavedQuiz, QuizError> {
        let quiz = content.new_quiz(owner, now());
        if !self.store.create_quiz(&quiz, MAX_PER_OWNER).await? {
            return Err(QuizError::Limit);
        }
        Ok(quiz)
    }

    /// Replaces the content of `quiz` (one [`Self::owned`] gave).
    pub async fn replace(
        &self,
        quiz: SavedQuiz,
        content: QuizContent,
    ) -> Result<SavedQuiz, QuizError> {
        let updated = content.replace(quiz, now());
        if !self.store.update_quiz(&updated).await? {
            // Deleted meanwhile.
            return Err(QuizError::NotFound);
        }
        Ok(updated)
    }

    /// Deletes one of `owner`'s quizzes (rooms already playing it go on).
    pub async fn delete(&self, owner: Uuid, quiz_id: Uuid) -> Result<(), QuizError> {
        if !self.store.delete_quiz(owner, quiz_id).await? {
            return Err(QuizError::NotFound);
        }
        Ok(())
    }
}
