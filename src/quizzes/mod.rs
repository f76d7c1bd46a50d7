//! Saved quizzes: quizzes a host keeps to play in rooms again, checked with the rules of a
//! room's own questions (`questpath_actors::room::setup`), and their export and import files
//! ([`exchange`]: a JSON document and a spreadsheet-friendly CSV).

pub mod exchange;
pub mod service;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use questpath_actors::ports::store::{QuizQuestion, SavedQuiz};
use questpath_actors::room::setup::{CustomQuestion, Invalid, MAX_TITLE, check_questions, text};

/// Most quizzes one host keeps.
pub const MAX_PER_OWNER: usize = 500;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 1_000;
/// Largest request body of the quiz routes: 100 long questions fit with room to spare
/// (the default JSON limit, 64 KiB, does not).
pub const MAX_BODY: usize = 1024 * 1024;

/// A quiz as a host writes it (`POST /api/v1/quizzes`, `PUT /api/v1/quizzes/{quiz_id}`).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "title": "European capitals",
    "description": "For class 4b",
    "questions": [
        {"question": "Capital of Italy?", "options": ["Paris", "Madrid", "Rome"],
         "correct_option": "C", "explanation": "Rome, since 1871.", "time_limit_secs": 20,
         "points": 1},
        {"question": "Capital of France?", "options": ["Paris", "Lyon"], "correct_option": "A"}
    ]
}))]
pub struct QuizInput {
    /// 1 to 120 characters.
    #[schema(example = "European capitals", min_length = 1, max_length = 120)]
    pub title: String,
    /// Up to 1,000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// 1 to 100 questions.
    #[schema(min_items = 1, max_items = 100)]
    pub questions: Vec<CustomQuestion>,
}

/// A quiz's content once checked: trimmed and ready to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuizContent {
    pub title: String,
    pub description: String,
    pub questions: Vec<QuizQuestion>,
}

impl QuizInput {
    /// Checks every field; all the problems found, each naming its field
    /// (`questions[3].options[1]`).
    pub fn check(&self) -> Result<QuizContent, Vec<Invalid>> {
        let mut problems = Vec::new();
        let title = check_title(&self.title).map_err(|e| problems.push(e));
        let description = check_description(self.description.as_deref().unwrap_or_default())
            .map_err(|e| problems.push(e));
        let questions = check_questions(&self.questions).map_err(|e| problems.extend(e));
        match (title, description, questions) {
            (Ok(title), Ok(description), Ok(questions)) => Ok(QuizContent {
                title,
                description,
                questions,
            }),
            _ => Err(problems),
        }
    }
}

/// A quiz title: 1 to 120 characters.
pub fn check_title(title: &str) -> Result<String, Invalid> {
    text(title, MAX_TITLE).map_err(|e| ("title".into(), format!("title {e}")))
}

/// A description: empty, or up to 1,000 characters.
pub fn check_description(description: &str) -> Result<String, Invalid> {
    if description.trim().is_empty() {
        return Ok(String::new());
    }
    text(description, MAX_DESCRIPTION)
        .map_err(|e| ("description".into(), format!("description {e}")))
}

impl QuizContent {
    /// A new quiz of `owner_id` with this content, created `now`.
    pub fn new_quiz(self, owner_id: Uuid, now: DateTime<Utc>) -> SavedQuiz {
        SavedQuiz {
            id: Uuid::now_v7(),
            owner_id,
            title: self.title,
            description: self.description,
            questions: self.questions,
            created_at: now,
            updated_at: now,
        }
    }

    /// `quiz` with this content instead of its own, changed `now`.
    pub fn replace(self, quiz: SavedQuiz, now: DateTime<Utc>) -> SavedQuiz {
        SavedQuiz {
            title: self.title,
            description: self.description,
            questions: self.questions,
            updated_at: now,
            ..quiz
        }
    }
}

/// Now, to the millisecond: what the CQL store keeps, so an answer shows the times a
/// later read gives on either store.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(text: &str) -> CustomQuestion {
        CustomQuestion {
            question: text.into(),
            options: vec!["Yes".into(), "No".into()],
            correct_option: "A".into(),
            explanation: None,
            time_limit_secs: None,
            points: None,
        }
    }

    #[test]
    fn a_quiz_is_trimmed_and_every_problem_is_named() {
        let ok = QuizInput {
            title: "  Capitals ".into(),
            description: Some("   ".into()),
            questions: vec![question("Is Paris in France?")],
        }
        .check()
        .unwrap();
        assert_eq!(ok.title, "Capitals");
        assert_eq!(ok.description, "");

        let problems = QuizInput {
            title: "x".repeat(121),
            description: Some("d".repeat(1001)),
            questions: vec![question("fine"), question(" ")],
        }
        .check()
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["title", "description", "questions[1].question"]);
        assert!(problems[0].1.contains("1 to 120"), "{}", problems[0].1);
        assert!(problems[1].1.contains("1 to 1000"), "{}", problems[1].1);

        let empty = QuizInput {
            title: "Empty".into(),
            description: None,
            questions: vec![],
        };
        assert_eq!(empty.check().unwrap_err()[0].0, "questions");
    }

    #[test]
    fn times_keep_milliseconds_only() {
        assert_eq!(now().timestamp_subsec_nanos() % 1_000_000, 0);
    }
}
