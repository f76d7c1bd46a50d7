//! A saved quiz is one record of `quizzes`, and its summary in `quizzes_by_owner`, keyed
//! (owner, quiz id) so an owner's quizzes are one key range in creation order. Every
//! write (create with its count against the limit, update, delete) is one transaction.

use async_trait::async_trait;
use redb::ReadableTable;
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{QUIZZES, QUIZZES_BY_OWNER};
use super::txn::{Txn, decode_values, encode, get_json, internal, read_json};
use questpath_actors::ports::store::{QuizStore, QuizSummary, SavedQuiz, StoreResult};

#[async_trait]
impl QuizStore for EmbeddedStore {
    async fn create_quiz(&self, quiz: &SavedQuiz, limit: usize) -> StoreResult<bool> {
        let bytes = encode(quiz)?;
        let summary = encode(&quiz.summary())?;
        let owner = quiz.owner_id.as_u128();
        let id = quiz.id.as_u128();
        self.write_or_abort(move |tx| {
            let mut quizzes = tx.open_table(QUIZZES).map_err(internal)?;
            let mut by_owner = tx.open_table(QUIZZES_BY_OWNER).map_err(internal)?;
            let again = by_owner.get((owner, id)).map_err(internal)?.is_some();
            if !again {
                let held = by_owner
                    .range((owner, 0)..=(owner, u128::MAX))
                    .map_err(internal)?
                    .take(limit)
                    .count();
                if held >= limit {
                    return Ok(Txn::Abort(false));
                }
            }
            quizzes.insert(id, bytes.as_slice()).map_err(internal)?;
            by_owner
                .insert((owner, id), summary.as_slice())
                .map_err(internal)?;
            Ok(Txn::Commit(true))
        })
        .await
    }

    async fn update_quiz(&self, quiz: &SavedQuiz) -> StoreResult<bool> {
        let quiz = quiz.clone();
        self.write_or_abort(move |tx| {
            let owner = quiz.owner_id.as_u128();
            let id = quiz.id.as_u128();
            let mut quizzes = tx.open_table(QUIZZES).map_err(internal)?;
            let mut by_owner = tx.open_table(QUIZZES_BY_OWNER).map_err(internal)?;
            let stored: Option<SavedQuiz> = get_json(&quizzes, id, "saved quiz")?;
            let Some(stored) = stored.filter(|q| q.owner_id == quiz.owner_id) else {
                return Ok(Txn::Abort(false));
            };
            let updated = SavedQuiz {
                title: quiz.title,
                description: quiz.description,
                questions: quiz.questions,
                updated_at: quiz.updated_at,
                ..stored
            };
            let bytes = encode(&updated)?;
            let summary = encode(&updated.summary())?;
            quizzes.insert(id, bytes.as_slice()).map_err(internal)?;
            by_owner
                .insert((owner, id), summary.as_slice())
                .map_err(internal)?;
            Ok(Txn::Commit(true))
        })
        .await
    }

    async fn quiz(&self, quiz_id: Uuid) -> StoreResult<Option<SavedQuiz>> {
        self.read(move |tx| read_json(tx, QUIZZES, quiz_id.as_u128(), "saved quiz"))
            .await
    }

    async fn quizzes_of_owner(
        &self,
        owner_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<QuizSummary>> {
        let owner = owner_id.as_u128();
        self.scan(move |tx| {
            let by_owner = tx.open_table(QUIZZES_BY_OWNER).map_err(internal)?;
            let newest = by_owner
                .range((owner, 0)..=(owner, u128::MAX))
                .map_err(internal)?
                .rev()
                .take(limit);
            decode_values(newest, "saved quiz summary")
        })
        .await
    }

    async fn delete_quiz(&self, owner_id: Uuid, quiz_id: Uuid) -> StoreResult<bool> {
        let id = quiz_id.as_u128();
        self.write_or_abort(move |tx| {
            let mut quizzes = tx.open_table(QUIZZES).map_err(internal)?;
            let stored: Option<SavedQuiz> = get_json(&quizzes, id, "saved quiz")?;
            if stored.is_none_or(|q| q.owner_id != owner_id) {
                return Ok(Txn::Abort(false));
            }
            quizzes.remove(id).map_err(internal)?;
            tx.open_table(QUIZZES_BY_OWNER)
                .map_err(internal)?
                .remove((owner_id.as_u128(), id))
                .map_err(internal)?;
            Ok(Txn::Commit(true))
        })
        .await
    }
}
