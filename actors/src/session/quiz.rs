//! A quiz in progress: which questions, the open one and its deadline, the score so
//! far. A plain state machine (no actor), kept in the session actor and saved to the
//! cache after every step so a reconnect on any instance resumes it. Deadlines are wall
//! clock instants the server set; nothing the client says moves them.

use std::time::Duration;

use crate::rules::quiz::{QUESTIONS_PER_QUIZ, in_time, pick_questions};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::quiz::OptionView;
use crate::events::{AnswerJudged, LETTERS, QuestionOpened, codes};
use crate::ports::{Level, Question};

/// The quiz state that is saved and resumed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuizRun {
    pub quiz_id: Uuid,
    pub user_id: Uuid,
    pub level: Level,
    pub questions: Vec<Question>,
    /// Position of the open question.
    pub position: usize,
    /// When the open question opened.
    pub opened_at: DateTime<Utc>,
    pub time_limit_ms: u64,
    pub correct: u32,
    /// The question whose time ran out last: an answer to it arriving now is late.
    #[serde(default)]
    pub timed_out: Option<usize>,
}

/// What is saved of a quiz after every step: where it stands, with the ids of its level
/// and questions instead of their text (the store keeps both and never changes a bank),
/// so a step writes a few hundred bytes instead of the whole quiz.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuizSnapshot {
    pub quiz_id: Uuid,
    pub user_id: Uuid,
    pub level_id: Uuid,
    pub question_ids: Vec<Uuid>,
    pub position: usize,
    pub opened_at: DateTime<Utc>,
    pub time_limit_ms: u64,
    pub correct: u32,
    pub timed_out: Option<usize>,
}

/// A saved quiz as read back: a snapshot, or the whole quiz as versions before the
/// snapshot saved it (a quiz running during an upgrade is resumed either way).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SavedRun {
    Snapshot(QuizSnapshot),
    Whole(Box<QuizRun>),
}

/// A refused quiz action: an error code and a message for the client.
pub type Refusal = (&'static str, String);

impl QuizRun {
    /// Starts a quiz over `bank`, opening the first question at `now`.
    pub fn start(
        user_id: Uuid,
        level: Level,
        bank: &[Question],
        time_limit: Duration,
        seed: u64,
        now: DateTime<Utc>,
    ) -> Self {
        let picks = pick_questions(bank.len(), QUESTIONS_PER_QUIZ, seed);
        let questions = picks
            .into_iter()
            .filter_map(|i| bank.get(i).cloned())
            .collect();
        QuizRun {
            quiz_id: Uuid::now_v7(),
            user_id,
            level,
            questions,
            position: 0,
            opened_at: now,
            time_limit_ms: time_limit.as_millis() as u64,
            correct: 0,
            timed_out: None,
        }
    }

    /// The quiz as saved after a step.
    pub fn snapshot(&self) -> QuizSnapshot {
        QuizSnapshot {
            quiz_id: self.quiz_id,
            user_id: self.user_id,
            level_id: self.level.id,
            question_ids: self.questions.iter().map(|q| q.id).collect(),
            position: self.position,
            opened_at: self.opened_at,
            time_limit_ms: self.time_limit_ms,
            correct: self.correct,
            timed_out: self.timed_out,
        }
    }

    /// The quiz of `snapshot` over its level and that level's bank, read again; `None`
    /// when they are not the snapshot's (a deleted goal, a question gone).
    pub fn resume(snapshot: QuizSnapshot, level: Level, bank: &[Question]) -> Option<Self> {
        if level.id != snapshot.level_id {
            return None;
        }
        let questions = snapshot
            .question_ids
            .iter()
            .map(|id| bank.iter().find(|q| q.id == *id).cloned())
            .collect::<Option<Vec<_>>>()?;
        Some(QuizRun {
            quiz_id: snapshot.quiz_id,
            user_id: snapshot.user_id,
            level,
            questions,
            position: snapshot.position,
            opened_at: snapshot.opened_at,
            time_limit_ms: snapshot.time_limit_ms,
            correct: snapshot.correct,
            timed_out: snapshot.timed_out,
        })
    }

    pub fn total(&self) -> u32 {
        self.questions.len() as u32
    }

    pub fn finished(&self) -> bool {
        self.position >= self.questions.len()
    }

    fn time_limit(&self) -> Duration {
        Duration::from_millis(self.time_limit_ms)
    }

    fn elapsed(&self, now: DateTime<Utc>) -> Duration {
        (now - self.opened_at).to_std().unwrap_or(Duration::ZERO)
    }

    /// Time left on the open question at `now`.
    pub fn remaining(&self, now: DateTime<Utc>) -> Duration {
        self.time_limit().saturating_sub(self.elapsed(now))
    }

    /// When the open question stops accepting answers, grace included, from `now`.
    pub fn until_closed(&self, now: DateTime<Utc>) -> Duration {
        (self.time_limit() + crate::rules::quiz::LATE_GRACE).saturating_sub(self.elapsed(now))
    }

    /// The open question as sent to the learner (without its answer).
    pub fn question_message(
        &self,
        re: Option<String>,
        now: DateTime<Utc>,
    ) -> Option<QuestionOpened> {
        let question = self.questions.get(self.position)?;
        Some(QuestionOpened {
            re,
            quiz_id: self.quiz_id,
            level_id: self.level.id,
            position: self.position as u32,
            total: self.total(),
            question: question.question.clone(),
            options: question
                .options
                .iter()
                .enumerate()
                .map(|(i, text)| OptionView {
                    value: LETTERS.get(i).copied().unwrap_or("?").to_string(),
                    text: text.clone(),
                })
                .collect(),
            remaining_ms: self.remaining(now).as_millis() as u64,
            time_limit_ms: self.time_limit_ms,
        })
    }

    fn feedback(&self, re: Option<String>, correct: bool, timed_out: bool) -> Option<AnswerJudged> {
        let question = self.questions.get(self.position)?;
        Some(AnswerJudged {
            re,
            quiz_id: self.quiz_id,
            position: self.position as u32,
            correct,
            correct_option: LETTERS
                .get(question.answer as usize)
                .copied()
                .unwrap_or("?")
                .to_string(),
            explanation: question.explanation.clone(),
            timed_out,
        })
    }

    /// Grades an answer received at `now` and moves to the next question. Late, stale
    /// or malformed answers are refused and change nothing.
    pub fn answer(
        &mut self,
        re: Option<String>,
        position: u32,
        option: &str,
        now: DateTime<Utc>,
    ) -> Result<AnswerJudged, Refusal> {
        if self.timed_out == Some(position as usize) {
            return Err((
                codes::LATE_ANSWER,
                "the time for this question ran out".into(),
            ));
        }
        if self.finished() {
            return Err((codes::NO_QUIZ, "the quiz is over".into()));
        }
        if position as usize != self.position {
            return Err((
                codes::WRONG_QUESTION,
                format!(
                    "question {position} is not open; question {} is",
                    self.position
                ),
            ));
        }
        let Some(chosen) = LETTERS
            .iter()
            .position(|l| l.eq_ignore_ascii_case(option.trim()))
        else {
            return Err((codes::INVALID_OPTION, "option must be A, B, C or D".into()));
        };
        if !in_time(self.elapsed(now), self.time_limit()) {
            return Err((
                codes::LATE_ANSWER,
                "the time for this question ran out".into(),
            ));
        }
        let correct = self
            .questions
            .get(self.position)
            .is_some_and(|q| q.answer as usize == chosen);
        let feedback = self
            .feedback(re, correct, false)
            .ok_or((codes::NO_QUIZ, "the quiz is over".to_string()))?;
        if correct {
            self.correct += 1;
        }
        self.advance(now);
        Ok(feedback)
    }

    /// The open question's time ran out (with the grace): counted wrong, next question.
    /// `None` when `position` is no longer open (it was answered meanwhile).
    pub fn time_out(&mut self, position: usize, now: DateTime<Utc>) -> Option<AnswerJudged> {
        if self.finished() || position != self.position {
            return None;
        }
        let feedback = self.feedback(None, false, true);
        self.timed_out = Some(position);
        self.advance(now);
        feedback
    }

    fn advance(&mut self, now: DateTime<Utc>) {
        self.position += 1;
        self.opened_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::LevelStatus;

    fn run(now: DateTime<Utc>) -> QuizRun {
        let level = Level {
            id: Uuid::now_v7(),
            goal_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            order: 1,
            title: "L".into(),
            description: "d".into(),
            xp_reward: 100,
            status: LevelStatus::Unlocked,
            topics: vec![],
        };
        let bank = (0..10)
            .map(|i| Question {
                id: Uuid::now_v7(),
                level_id: level.id,
                index: i,
                question: format!("Q{i}"),
                options: vec!["a".into(), "b".into(), "c".into(), "d".into()],
                answer: (i % 4) as u8,
                explanation: "e".into(),
            })
            .collect::<Vec<_>>();
        QuizRun::start(level.user_id, level, &bank, Duration::from_secs(60), 7, now)
    }

    fn bank_of(run: &QuizRun) -> Vec<Question> {
        let mut bank = run.questions.clone();
        bank.reverse();
        bank.push(Question {
            id: Uuid::now_v7(),
            index: 99,
            ..run.questions[0].clone()
        });
        bank
    }

    #[test]
    fn a_snapshot_resumes_the_same_quiz_and_stays_small() {
        let now = Utc::now();
        let mut quiz = run(now);
        let letter = right_letter(&quiz);
        quiz.answer(None, 0, letter, now).unwrap();
        quiz.time_out(1, now);
        let bytes = serde_json::to_vec(&quiz.snapshot()).unwrap();
        assert!(bytes.len() < 600, "{} bytes", bytes.len());
        let SavedRun::Snapshot(snapshot) = serde_json::from_slice(&bytes).unwrap() else {
            panic!("a snapshot reads back as one")
        };
        let resumed = QuizRun::resume(snapshot, quiz.level.clone(), &bank_of(&quiz));
        assert_eq!(resumed.as_ref(), Some(&quiz));
    }

    #[test]
    fn a_snapshot_over_another_level_or_bank_does_not_resume() {
        let quiz = run(Utc::now());
        let mut other = quiz.level.clone();
        other.id = Uuid::now_v7();
        assert_eq!(
            QuizRun::resume(quiz.snapshot(), other, &bank_of(&quiz)),
            None
        );
        let short = &bank_of(&quiz)[1..];
        assert_eq!(
            QuizRun::resume(quiz.snapshot(), quiz.level.clone(), short),
            None
        );
    }

    #[test]
    fn a_whole_quiz_saved_by_an_earlier_version_still_reads_back() {
        let quiz = run(Utc::now());
        let bytes = serde_json::to_vec(&quiz).unwrap();
        match serde_json::from_slice::<SavedRun>(&bytes).unwrap() {
            SavedRun::Whole(whole) => assert_eq!(*whole, quiz),
            SavedRun::Snapshot(_) => panic!("read as a snapshot"),
        }
    }

    fn right_letter(run: &QuizRun) -> &'static str {
        LETTERS[run.questions[run.position].answer as usize]
    }

    #[test]
    fn answers_are_graded_and_the_quiz_moves_on() {
        let now = Utc::now();
        let mut quiz = run(now);
        assert_eq!(quiz.total(), 5);
        let letter = right_letter(&quiz);
        let AnswerJudged {
            re,
            correct,
            correct_option,
            timed_out,
            ..
        } = quiz.answer(Some("1".into()), 0, letter, now).unwrap();
        assert_eq!(
            re.as_deref(),
            Some("1"),
            "the answer carries its request's id"
        );
        assert!(!timed_out);
        assert!(correct);
        assert_eq!(correct_option, letter);
        assert_eq!(quiz.position, 1);
        assert_eq!(quiz.correct, 1);
    }

    #[test]
    fn late_stale_and_bad_answers_change_nothing() {
        let now = Utc::now();
        let mut quiz = run(now);
        let late = now + chrono::Duration::milliseconds(60_501);
        assert_eq!(
            quiz.answer(None, 0, "A", late).unwrap_err().0,
            codes::LATE_ANSWER
        );
        assert_eq!(
            quiz.answer(None, 3, "A", now).unwrap_err().0,
            codes::WRONG_QUESTION
        );
        assert_eq!(
            quiz.answer(None, 0, "E", now).unwrap_err().0,
            codes::INVALID_OPTION
        );
        assert_eq!(quiz.position, 0);
        // Within the grace it still counts.
        let graced = now + chrono::Duration::milliseconds(60_400);
        assert!(quiz.answer(None, 0, "a", graced).is_ok());
    }

    #[test]
    fn a_timeout_counts_wrong_once() {
        let now = Utc::now();
        let mut quiz = run(now);
        assert!(matches!(
            quiz.time_out(0, now),
            Some(AnswerJudged {
                timed_out: true,
                correct: false,
                ..
            })
        ));
        assert_eq!(quiz.time_out(0, now), None, "already moved on");
        assert_eq!(
            quiz.answer(None, 0, "A", now).unwrap_err().0,
            codes::LATE_ANSWER
        );
        assert_eq!(quiz.position, 1);
        assert_eq!(quiz.correct, 0);
    }

    #[test]
    fn remaining_time_comes_from_the_server_deadline() {
        let now = Utc::now();
        let quiz = run(now);
        let later = now + chrono::Duration::seconds(20);
        assert_eq!(quiz.remaining(later), Duration::from_secs(40));
        let Some(QuestionOpened { remaining_ms, .. }) = quiz.question_message(None, later) else {
            panic!("question expected")
        };
        assert_eq!(remaining_ms, 40_000);
        assert_eq!(
            quiz.remaining(now + chrono::Duration::seconds(90)),
            Duration::ZERO
        );
    }
}
