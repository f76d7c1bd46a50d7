//! The old client's quiz: it is handed its questions with their answers and grades
//! itself, so the server only remembers that a quiz was handed out and accepts one
//! result per quiz handed out (resubmitting cannot be used to farm XP).

use std::sync::Arc;
use std::time::Duration;

use questpath_actors::ports::{Cache, PortError};
use uuid::Uuid;

/// How long a handed-out quiz may be submitted.
const ISSUED_TTL: Duration = Duration::from_secs(30 * 60);

/// Quizzes handed to the old client, in the cache port (shared by every instance).
#[derive(Clone)]
pub struct LegacyQuizzes {
    cache: Arc<dyn Cache>,
}

impl LegacyQuizzes {
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        LegacyQuizzes { cache }
    }

    /// Remembers that `user_id` was handed the quiz of `level_id`.
    pub async fn issue(&self, user_id: Uuid, level_id: Uuid) -> Result<(), PortError> {
        self.cache
            .set(&issued_key(user_id, level_id), b"1", ISSUED_TTL)
            .await
    }

    /// Takes the mark back: true once per quiz handed out.
    pub async fn take(&self, user_id: Uuid, level_id: Uuid) -> Result<bool, PortError> {
        Ok(self
            .cache
            .take(&issued_key(user_id, level_id))
            .await?
            .is_some())
    }
}

fn issued_key(user_id: Uuid, level_id: Uuid) -> String {
    format!("legacy-quiz:{user_id}:{level_id}")
}
