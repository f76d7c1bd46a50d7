//! Events of a solo quiz (the session actor runs it on the server's clock).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One option of a question as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OptionView {
    pub value: String,
    pub text: String,
}

/// A question is open until `remaining_ms` runs out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionOpened {
    pub re: Option<String>,
    pub quiz_id: Uuid,
    pub level_id: Uuid,
    pub position: u32,
    pub total: u32,
    pub question: String,
    pub options: Vec<OptionView>,
    /// Time left, from the server's deadline, when the event was made.
    pub remaining_ms: u64,
    pub time_limit_ms: u64,
}

/// An answer was judged (or the question's time ran out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerJudged {
    pub re: Option<String>,
    pub quiz_id: Uuid,
    pub position: u32,
    pub correct: bool,
    /// `A` to `D`.
    pub correct_option: String,
    pub explanation: String,
    /// True when no answer arrived in time.
    pub timed_out: bool,
}

/// The quiz is over: its score and what it earned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuizFinished {
    pub quiz_id: Uuid,
    pub level_id: Uuid,
    pub correct: u32,
    pub total: u32,
    pub score: u32,
    pub passed: bool,
    pub xp_earned: i64,
    pub total_xp: i64,
    pub player_level: u32,
    pub level_up: bool,
    pub next_level_unlocked: bool,
}
