//! Creating a room: the request a host sends, and its validation into a [`RoomSetup`].
//! Questions come from one of the host's levels (its quiz bank) or from the host's
//! own list; either way every question is checked before a room exists.

use std::time::Duration;

use questpath_actors::rules::room::Scoring;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::game::RoomQuestion;
use crate::ports::Question;

/// Limits of a room's setup.
pub const MAX_TITLE: usize = 120;
pub const MAX_QUESTIONS: usize = 100;
pub const MAX_QUESTION_TEXT: usize = 500;
pub const MAX_OPTION_TEXT: usize = 200;
pub const MAX_EXPLANATION: usize = 1_000;
pub const TIME_LIMIT_SECS: std::ops::RangeInclusive<u64> = 5..=300;

/// A question the host wrote.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CustomQuestion {
    pub question: String,
    /// Two to four options, shown as A to D.
    pub options: Vec<String>,
    /// The correct option: `A` to `D`.
    pub correct_option: String,
    #[serde(default)]
    pub explanation: Option<String>,
    /// Seconds to answer (5 to 300); the room's default when absent.
    #[serde(default)]
    pub time_limit_secs: Option<u64>,
    /// Points multiplier: 0 (no points), 1 (default) or 2.
    #[serde(default)]
    pub points: Option<u32>,
}

/// `POST /api/v1/rooms`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NewRoom {
    /// Shown in the lobby; defaults to the level's title.
    #[serde(default)]
    pub title: Option<String>,
    /// Play this level's quiz bank (a level of one of your goals)...
    #[serde(default)]
    pub level_id: Option<Uuid>,
    /// ...or these questions (exactly one of the two).
    #[serde(default)]
    pub questions: Option<Vec<CustomQuestion>>,
    /// Default seconds per question (5 to 300, default 20).
    #[serde(default)]
    pub question_time_secs: Option<u64>,
    /// `speed` (Kahoot's formula, default) or `accuracy`.
    #[serde(default)]
    pub scoring: Option<String>,
    /// +100 per consecutive correct answer, up to +500 (default on).
    #[serde(default)]
    pub streak_bonus: Option<bool>,
    /// Let people without an account join with a name (default off).
    #[serde(default)]
    pub allow_guests: Option<bool>,
    /// Seats, up to the server's limit (default: that limit).
    #[serde(default)]
    pub max_players: Option<usize>,
}

/// A validated setup.
#[derive(Debug, Clone)]
pub struct RoomSetup {
    pub title: String,
    pub questions: Vec<RoomQuestion>,
    pub scoring: Scoring,
    pub streak_bonus: bool,
    pub allow_guests: bool,
    pub max_players: usize,
}

/// A field that is wrong, and why.
pub type Invalid = (&'static str, String);

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    (field, message.into())
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String, Invalid> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(invalid(
            field,
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(value.to_string())
}

impl NewRoom {
    /// The room-wide settings; `bank` is the level's questions and title when a level
    /// was named (the caller checked it belongs to the host).
    pub fn validate(
        &self,
        bank: Option<(String, Vec<Question>)>,
        server_max_players: usize,
    ) -> Result<RoomSetup, Invalid> {
        let default_time = match self.question_time_secs {
            None => 20,
            Some(secs) if TIME_LIMIT_SECS.contains(&secs) => secs,
            Some(_) => {
                return Err(invalid(
                    "question_time_secs",
                    "question_time_secs must be 5 to 300",
                ));
            }
        };
        let scoring = match self.scoring.as_deref() {
            None | Some("speed") => Scoring::Speed,
            Some("accuracy") => Scoring::Accuracy,
            Some(_) => return Err(invalid("scoring", "scoring must be speed or accuracy")),
        };
        let max_players = match self.max_players {
            None => server_max_players,
            Some(n) if (1..=server_max_players).contains(&n) => n,
            Some(_) => {
                return Err(invalid(
                    "max_players",
                    format!("max_players must be 1 to {server_max_players}"),
                ));
            }
        };
        let (default_title, questions) = match (&bank, &self.questions) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(invalid("questions", "give either level_id or questions"));
            }
            (Some((title, bank)), None) => {
                if bank.is_empty() {
                    return Err(invalid("level_id", "this level has no questions"));
                }
                let questions = bank
                    .iter()
                    .take(MAX_QUESTIONS)
                    .map(|q| RoomQuestion {
                        question: q.question.clone(),
                        options: q.options.clone(),
                        answer: q.answer,
                        explanation: q.explanation.clone(),
                        time_limit: Duration::from_secs(default_time),
                        points: 1,
                    })
                    .collect();
                (title.clone(), questions)
            }
            (None, Some(custom)) => {
                if custom.is_empty() || custom.len() > MAX_QUESTIONS {
                    return Err(invalid(
                        "questions",
                        format!("1 to {MAX_QUESTIONS} questions"),
                    ));
                }
                let questions = custom
                    .iter()
                    .map(|q| q.validate(default_time))
                    .collect::<Result<Vec<_>, _>>()?;
                ("Live quiz".to_string(), questions)
            }
        };
        let title = match &self.title {
            Some(title) => text("title", title, MAX_TITLE)?,
            None => default_title,
        };
        Ok(RoomSetup {
            title,
            questions,
            scoring,
            streak_bonus: self.streak_bonus.unwrap_or(true),
            allow_guests: self.allow_guests.unwrap_or(false),
            max_players,
        })
    }
}

impl CustomQuestion {
    fn validate(&self, default_time: u64) -> Result<RoomQuestion, Invalid> {
        let question = text("questions", &self.question, MAX_QUESTION_TEXT)?;
        if !(2..=4).contains(&self.options.len()) {
            return Err(invalid("questions", "every question needs 2 to 4 options"));
        }
        let options = self
            .options
            .iter()
            .map(|o| text("questions", o, MAX_OPTION_TEXT))
            .collect::<Result<Vec<_>, _>>()?;
        let mut distinct = options.iter().map(|o| o.to_lowercase()).collect::<Vec<_>>();
        distinct.sort();
        distinct.dedup();
        if distinct.len() != options.len() {
            return Err(invalid(
                "questions",
                "the options of a question must differ",
            ));
        }
        let answer = crate::realtime::protocol::LETTERS
            .iter()
            .take(options.len())
            .position(|l| l.eq_ignore_ascii_case(self.correct_option.trim()))
            .ok_or_else(|| {
                invalid(
                    "questions",
                    "correct_option must name one of the options (A to D)",
                )
            })?;
        let explanation = match &self.explanation {
            Some(e) if !e.trim().is_empty() => text("questions", e, MAX_EXPLANATION)?,
            _ => String::new(),
        };
        let secs = self.time_limit_secs.unwrap_or(default_time);
        if !TIME_LIMIT_SECS.contains(&secs) {
            return Err(invalid("questions", "time_limit_secs must be 5 to 300"));
        }
        let points = self.points.unwrap_or(1);
        if points > 2 {
            return Err(invalid("questions", "points must be 0, 1 or 2"));
        }
        Ok(RoomQuestion {
            question,
            options,
            answer: answer as u8,
            explanation,
            time_limit: Duration::from_secs(secs),
            points,
        })
    }
}

/// A display name in a room: 1 to 24 characters, no control characters.
pub fn player_name(raw: &str) -> Option<String> {
    let name = raw.trim();
    let ok = !name.is_empty() && name.chars().count() <= 24 && !name.chars().any(char::is_control);
    ok.then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(options: &[&str], correct: &str) -> CustomQuestion {
        CustomQuestion {
            question: "Capital of France?".into(),
            options: options.iter().map(|s| s.to_string()).collect(),
            correct_option: correct.into(),
            explanation: None,
            time_limit_secs: None,
            points: None,
        }
    }

    fn room(questions: Vec<CustomQuestion>) -> NewRoom {
        NewRoom {
            title: None,
            level_id: None,
            questions: Some(questions),
            question_time_secs: None,
            scoring: None,
            streak_bonus: None,
            allow_guests: None,
            max_players: None,
        }
    }

    #[test]
    fn a_valid_custom_room_gets_the_defaults() {
        let setup = room(vec![custom(&["Paris", "Rome"], "a")])
            .validate(None, 1000)
            .unwrap();
        assert_eq!(setup.questions[0].answer, 0);
        assert_eq!(setup.questions[0].time_limit, Duration::from_secs(20));
        assert_eq!(setup.scoring, Scoring::Speed);
        assert!(setup.streak_bonus && !setup.allow_guests);
        assert_eq!(setup.max_players, 1000);
    }

    #[test]
    fn bad_questions_name_the_problem() {
        let refused = |q| room(vec![q]).validate(None, 1000).unwrap_err().1;
        assert!(refused(custom(&["Paris"], "A")).contains("2 to 4 options"));
        assert!(refused(custom(&["Paris", "paris"], "A")).contains("differ"));
        assert!(refused(custom(&["Paris", "Rome"], "C")).contains("correct_option"));
        assert!(refused(custom(&["Paris", " "], "A")).contains("1 to 200"));
        let mut slow = custom(&["Paris", "Rome"], "A");
        slow.time_limit_secs = Some(1);
        assert!(refused(slow).contains("5 to 300"));
        assert_eq!(
            room(vec![]).validate(None, 1000).unwrap_err().0,
            "questions"
        );
    }

    #[test]
    fn exactly_one_source_of_questions_and_limits_hold() {
        let mut both = room(vec![custom(&["Paris", "Rome"], "A")]);
        both.level_id = Some(Uuid::new_v4());
        assert!(both.validate(Some(("L".into(), vec![])), 1000).is_err());
        let mut big = room(vec![custom(&["Paris", "Rome"], "A")]);
        big.max_players = Some(5000);
        assert_eq!(big.validate(None, 1000).unwrap_err().0, "max_players");
        let mut scoring = room(vec![custom(&["Paris", "Rome"], "A")]);
        scoring.scoring = Some("luck".into());
        assert_eq!(scoring.validate(None, 1000).unwrap_err().0, "scoring");
    }

    #[test]
    fn player_names_are_trimmed_and_bounded() {
        assert_eq!(player_name("  Sam ").as_deref(), Some("Sam"));
        assert_eq!(player_name(""), None);
        assert_eq!(player_name(&"x".repeat(25)), None);
        assert_eq!(player_name("a\u{7}b"), None);
    }
}
