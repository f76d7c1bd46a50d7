//! Saved quizzes on CQL (see docs/data-model.md, Q30 to Q31, W26 to W28).
//!
//! * `quizzes` holds one quiz whole, its questions as JSON text;
//! * `quizzes_by_owner` lists an owner's quizzes, newest first (v7 ids), with the summary
//!   a list shows, so a list is one slice of one partition and no read per quiz;
//! * no batch around a quiz row: its questions can be far larger than a batch may be.
//!   The quiz row is written before its list entry, so a listed quiz can always be read;
//!   a delete removes both in one logged batch (two small deletes);
//! * the limit per owner is checked by counting the owner's list entries before the
//!   write: there is no transaction around the two, so creates that race may pass it
//!   by one each (the per-user write rate limit bounds how many can race);
//! * updates never create rows: they read first, and write only the cells that change,
//!   with `UPDATE`. An update racing a delete can leave cells without the identity
//!   columns that only inserts write (`owner_id`, `created_at`); reads take such rows
//!   and list entries as absent, they are not counted against the limit, and deleting
//!   the quiz again removes them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use super::connect::ConnectError;
use super::store::{ScyllaStore, idempotent_batch, internal, prepare, unavailable};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{
    QuizQuestion, QuizStore, QuizSummary, SavedQuiz, StoreError, StoreResult,
};

const QUIZ_COLUMNS: &str =
    "quiz_id, owner_id, title, description, questions, created_at, updated_at";
const ENTRY_COLUMNS: &str = "owner_id, quiz_id, title, question_count, created_at, updated_at";

/// Statements of the saved quizzes, prepared once per session.
pub(super) struct QuizStatements {
    insert_quiz: PreparedStatement,
    quiz: PreparedStatement,
    update_quiz: PreparedStatement,
    insert_entry: PreparedStatement,
    update_entry: PreparedStatement,
    entries: PreparedStatement,
    held: PreparedStatement,
    /// Logged batch: the list entry, then the quiz row.
    delete_quiz: Batch,
}

impl QuizStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        let delete_entry = prepare(format!(
            "DELETE FROM {ks}.quizzes_by_owner WHERE owner_id = ? AND quiz_id = ?"
        ))
        .await?;
        let delete_row = prepare(format!("DELETE FROM {ks}.quizzes WHERE quiz_id = ?")).await?;
        let mut delete_quiz = idempotent_batch(BatchType::Logged);
        delete_quiz.append_statement(delete_entry);
        delete_quiz.append_statement(delete_row);
        Ok(QuizStatements {
            insert_quiz: prepare(format!(
                "INSERT INTO {ks}.quizzes ({QUIZ_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            quiz: prepare(format!(
                "SELECT {QUIZ_COLUMNS} FROM {ks}.quizzes WHERE quiz_id = ?"
            ))
            .await?,
            update_quiz: prepare(format!(
                "UPDATE {ks}.quizzes SET title = ?, description = ?, questions = ?, updated_at = ? WHERE quiz_id = ?"
            ))
            .await?,
            insert_entry: prepare(format!(
                "INSERT INTO {ks}.quizzes_by_owner ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            update_entry: prepare(format!(
                "UPDATE {ks}.quizzes_by_owner SET title = ?, question_count = ?, updated_at = ? WHERE owner_id = ? AND quiz_id = ?"
            ))
            .await?,
            entries: prepare(format!(
                "SELECT {ENTRY_COLUMNS} FROM {ks}.quizzes_by_owner WHERE owner_id = ? LIMIT ?"
            ))
            .await?,
            held: prepare(format!(
                "SELECT quiz_id, created_at FROM {ks}.quizzes_by_owner WHERE owner_id = ?"
            ))
            .await?,
            delete_quiz,
        })
    }
}

#[derive(DeserializeRow)]
struct QuizRow {
    quiz_id: Uuid,
    owner_id: Option<Uuid>,
    title: Option<String>,
    description: Option<String>,
    questions: Option<String>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

#[derive(DeserializeRow)]
struct EntryRow {
    owner_id: Uuid,
    quiz_id: Uuid,
    title: Option<String>,
    question_count: Option<i32>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

#[derive(DeserializeRow)]
struct HeldRow {
    quiz_id: Uuid,
    created_at: Option<DateTime<Utc>>,
}

fn corrupt(quiz_id: Uuid) -> StoreError {
    internal(format!("corrupt saved quiz {quiz_id}"))
}

impl QuizRow {
    /// `None` for what an update racing a delete left (no identity columns).
    fn into_quiz(self) -> StoreResult<Option<SavedQuiz>> {
        let id = self.quiz_id;
        let (Some(owner_id), Some(created_at)) = (self.owner_id, self.created_at) else {
            return Ok(None);
        };
        let (Some(title), Some(questions), Some(updated_at)) =
            (self.title, self.questions, self.updated_at)
        else {
            return Err(corrupt(id));
        };
        let questions: Vec<QuizQuestion> = serde_json::from_str(&questions)
            .map_err(|e| internal(format!("corrupt questions of saved quiz {id}: {e}")))?;
        Ok(Some(SavedQuiz {
            id,
            owner_id,
            title,
            // Written as text always; an empty text may read back as null.
            description: self.description.unwrap_or_default(),
            questions,
            created_at,
            updated_at,
        }))
    }
}

impl EntryRow {
    fn into_summary(self) -> StoreResult<Option<QuizSummary>> {
        let id = self.quiz_id;
        let Some(created_at) = self.created_at else {
            return Ok(None);
        };
        let (Some(title), Some(count), Some(updated_at)) =
            (self.title, self.question_count, self.updated_at)
        else {
            return Err(corrupt(id));
        };
        Ok(Some(QuizSummary {
            id,
            owner_id: self.owner_id,
            title,
            question_count: u32::try_from(count).map_err(|_| corrupt(id))?,
            created_at,
            updated_at,
        }))
    }
}

fn question_count(quiz: &SavedQuiz) -> StoreResult<i32> {
    i32::try_from(quiz.questions.len())
        .map_err(|_| internal(format!("quiz {} has too many questions", quiz.id)))
}

fn questions_text(quiz: &SavedQuiz) -> StoreResult<String> {
    serde_json::to_string(&quiz.questions).map_err(internal)
}

#[async_trait]
impl QuizStore for ScyllaStore {
    async fn create_quiz(&self, quiz: &SavedQuiz, limit: usize) -> StoreResult<bool> {
        let count = question_count(quiz)?;
        let questions = questions_text(quiz)?;
        let held: Vec<HeldRow> = self.all_rows(&self.quizzes.held, (quiz.owner_id,)).await?;
        let live = held.iter().filter(|row| row.created_at.is_some());
        let again = held.iter().any(|row| row.quiz_id == quiz.id);
        if !again && live.count() >= limit {
            return Ok(false);
        }
        self.session
            .execute_unpaged(
                &self.quizzes.insert_quiz,
                (
                    quiz.id,
                    quiz.owner_id,
                    &quiz.title,
                    &quiz.description,
                    questions,
                    quiz.created_at,
                    quiz.updated_at,
                ),
            )
            .await
            .map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.quizzes.insert_entry,
                (
                    quiz.owner_id,
                    quiz.id,
                    &quiz.title,
                    count,
                    quiz.created_at,
                    quiz.updated_at,
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    async fn update_quiz(&self, quiz: &SavedQuiz) -> StoreResult<bool> {
        let count = question_count(quiz)?;
        let questions = questions_text(quiz)?;
        let owned = self
            .quiz(quiz.id)
            .await?
            .is_some_and(|stored| stored.owner_id == quiz.owner_id);
        if !owned {
            return Ok(false);
        }
        self.session
            .execute_unpaged(
                &self.quizzes.update_quiz,
                (
                    &quiz.title,
                    &quiz.description,
                    questions,
                    quiz.updated_at,
                    quiz.id,
                ),
            )
            .await
            .map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.quizzes.update_entry,
                (&quiz.title, count, quiz.updated_at, quiz.owner_id, quiz.id),
            )
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    async fn quiz(&self, quiz_id: Uuid) -> StoreResult<Option<SavedQuiz>> {
        let result = self
            .session
            .execute_unpaged(&self.quizzes.quiz, (quiz_id,))
            .await
            .map_err(unavailable)?;
        let row = result
            .into_rows_result()
            .map_err(internal)?
            .maybe_first_row::<QuizRow>()
            .map_err(internal)?;
        match row {
            Some(row) => row.into_quiz(),
            None => Ok(None),
        }
    }

    async fn quizzes_of_owner(
        &self,
        owner_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<QuizSummary>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Debris rows (see the module comment) are skipped, so ask for a few more.
        let wanted = i32::try_from(limit.saturating_add(16)).unwrap_or(i32::MAX);
        let rows: Vec<EntryRow> = self
            .all_rows(&self.quizzes.entries, (owner_id, wanted))
            .await?;
        let mut found = Vec::new();
        for row in rows {
            if let Some(summary) = row.into_summary()? {
                found.push(summary);
            }
            if found.len() == limit {
                break;
            }
        }
        Ok(found)
    }

    async fn delete_quiz(&self, owner_id: Uuid, quiz_id: Uuid) -> StoreResult<bool> {
        let result = self
            .session
            .execute_unpaged(&self.quizzes.quiz, (quiz_id,))
            .await
            .map_err(unavailable)?;
        let row = result
            .into_rows_result()
            .map_err(internal)?
            .maybe_first_row::<QuizRow>()
            .map_err(internal)?;
        let live = match row.map(|row| (row.owner_id, row.created_at)) {
            None => return Ok(false),
            // Another owner's quiz: left alone.
            Some((Some(owner), _)) if owner != owner_id => return Ok(false),
            Some((owner, created_at)) => owner.is_some() && created_at.is_some(),
        };
        // A live quiz, or what an update racing a delete left: both go.
        self.session
            .batch(&self.quizzes.delete_quiz, ((owner_id, quiz_id), (quiz_id,)))
            .await
            .map_err(unavailable)?;
        Ok(live)
    }
}
