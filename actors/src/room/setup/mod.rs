//! Creating a room: the request a host sends, and its validation into a [`RoomSetup`].
//! Questions come from one of the host's levels (its quiz bank), one of the host's saved
//! quizzes, a level of the built-in catalog, or the host's own list; either way every
//! question is checked before a room exists. Saved quizzes are checked by the same
//! [`CustomQuestion::check`] when they are saved.

use std::time::Duration;

use crate::rules::room::Scoring;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::game::RoomQuestion;
use crate::domain::roadmap::GeneratedQuestion;
use crate::ports::Question;
use crate::ports::store::{QuizQuestion, SavedQuiz};

/// Limits of a room's setup.
pub const MAX_TITLE: usize = 120;
pub const MAX_QUESTIONS: usize = 100;
pub const MAX_QUESTION_TEXT: usize = 500;
pub const MAX_OPTION_TEXT: usize = 200;
pub const MAX_EXPLANATION: usize = 1_000;
pub const TIME_LIMIT_SECS: std::ops::RangeInclusive<u64> = 5..=300;

/// A question the host wrote.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomQuestion {
    /// 1 to 500 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 500))]
    pub question: String,
    /// Two to four different options (1 to 200 characters each), shown as A to D.
    #[cfg_attr(feature = "openapi", schema(min_items = 2, max_items = 4))]
    pub options: Vec<String>,
    /// The correct option: `A` to `D` (one of the options given).
    #[cfg_attr(feature = "openapi", schema(example = "B", pattern = "^[A-Da-d]$"))]
    pub correct_option: String,
    /// Up to 1,000 characters, shown when the question closes.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 1000))]
    pub explanation: Option<String>,
    /// Seconds to answer (5 to 300); the room's default when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 5, maximum = 300))]
    pub time_limit_secs: Option<u64>,
    /// Points multiplier: 0 (no points), 1 (default) or 2.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 2))]
    pub points: Option<u32>,
}

/// A level of a built-in catalog subject, as `GET /api/v1/catalog` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogChoice {
    /// The subject's `slug`.
    #[cfg_attr(feature = "openapi", schema(example = "python"))]
    pub subject: String,
    /// The level's `index` (from 0).
    pub level: u32,
}

/// `POST /api/v1/rooms`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRoom {
    /// Shown in the lobby (1 to 120 characters); defaults to the title of the level,
    /// saved quiz or catalog level.
    #[serde(default)]
    pub title: Option<String>,
    /// Play this level's quiz bank (a level of one of your goals)...
    #[serde(default)]
    pub level_id: Option<Uuid>,
    /// ...or these questions (1 to 100)...
    #[serde(default)]
    pub questions: Option<Vec<CustomQuestion>>,
    /// ...or one of your saved quizzes (`GET /api/v1/quizzes`)...
    #[serde(default)]
    pub quiz_id: Option<Uuid>,
    /// ...or a level of a built-in subject (`GET /api/v1/catalog`). Exactly one of the four.
    #[serde(default)]
    pub catalog: Option<CatalogChoice>,
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
    /// Points multiplier of every question from a level or a catalog level: 0 (no
    /// points), 1 (default) or 2. Saved and custom quizzes set it per question.
    #[serde(default)]
    pub points: Option<u32>,
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

/// A field that is wrong (as the client named it: `questions[2].options[1]`), and why.
pub type Invalid = (String, String);

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    (field.into(), message.into())
}

/// `value` trimmed, if it is 1 to `max` characters without control characters (line
/// breaks allowed); else what is wrong with it, to follow the field's name.
pub fn text(value: &str, max: usize) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(format!("must be 1 to {max} characters"));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err("must not contain control characters".into());
    }
    Ok(value.to_string())
}

/// Where the questions of a room come from, as the request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Level(Uuid),
    Questions,
    Quiz(Uuid),
    Catalog(CatalogChoice),
}

/// The questions of the source a request named, looked up by the caller (who checked that
/// a level or a saved quiz belongs to the host).
#[derive(Debug, Clone)]
pub enum Bank {
    /// A level's title and quiz bank.
    Level(String, Vec<Question>),
    Quiz(SavedQuiz),
    /// A catalog level: the room's default title and the level's questions.
    Catalog(String, Vec<GeneratedQuestion>),
}

const SOURCES: [&str; 4] = ["level_id", "questions", "quiz_id", "catalog"];

impl NewRoom {
    /// The one source of questions the request names; otherwise every field at fault.
    pub fn source(&self) -> Result<Source, Vec<Invalid>> {
        let given = [
            self.level_id.is_some(),
            self.questions.is_some(),
            self.quiz_id.is_some(),
            self.catalog.is_some(),
        ];
        let named: Vec<&str> = SOURCES
            .iter()
            .zip(given)
            .filter_map(|(field, given)| given.then_some(*field))
            .collect();
        match (named.as_slice(), self) {
            (
                [_],
                NewRoom {
                    level_id: Some(id), ..
                },
            ) => Ok(Source::Level(*id)),
            (
                [_],
                NewRoom {
                    quiz_id: Some(id), ..
                },
            ) => Ok(Source::Quiz(*id)),
            (
                [_],
                NewRoom {
                    catalog: Some(choice),
                    ..
                },
            ) => Ok(Source::Catalog(choice.clone())),
            ([_], _) => Ok(Source::Questions),
            ([], _) => Err(SOURCES
                .iter()
                .map(|field| {
                    invalid(
                        *field,
                        "give one of level_id, questions, quiz_id or catalog",
                    )
                })
                .collect()),
            (several, _) => {
                let message = format!("give only one of {}", several.join(", "));
                Err(several.iter().map(|f| invalid(*f, &message)).collect())
            }
        }
    }

    /// The room-wide settings and the questions: from `bank` when the request named a
    /// level, a saved quiz or a catalog level (looked up by the caller), else its own.
    pub fn validate(
        &self,
        bank: Option<Bank>,
        server_max_players: usize,
    ) -> Result<RoomSetup, Vec<Invalid>> {
        let settings = self.settings(server_max_players)?;
        let source = self.source()?;
        let (default_title, questions) = self.questions(source, bank, &settings)?;
        if questions.is_empty() {
            return Err(one("questions", "the room has no questions".into()));
        }
        let title = match &self.title {
            Some(title) => {
                text(title, MAX_TITLE).map_err(|e| one("title", format!("title {e}")))?
            }
            None => default_title.chars().take(MAX_TITLE).collect(),
        };
        Ok(RoomSetup {
            title,
            questions,
            scoring: settings.scoring,
            streak_bonus: self.streak_bonus.unwrap_or(true),
            allow_guests: self.allow_guests.unwrap_or(false),
            max_players: settings.max_players,
        })
    }

    /// The room-wide numbers, checked (defaults for those not given).
    fn settings(&self, server_max_players: usize) -> Result<Settings, Vec<Invalid>> {
        let default_time = match self.question_time_secs {
            None => 20,
            Some(secs) if TIME_LIMIT_SECS.contains(&secs) => secs,
            Some(_) => {
                return Err(one(
                    "question_time_secs",
                    "question_time_secs must be 5 to 300".into(),
                ));
            }
        };
        let scoring = match self.scoring.as_deref() {
            None | Some("speed") => Scoring::Speed,
            Some("accuracy") => Scoring::Accuracy,
            Some(_) => {
                return Err(one("scoring", "scoring must be speed or accuracy".into()));
            }
        };
        let max_players = match self.max_players {
            None => server_max_players,
            Some(n) if (1..=server_max_players).contains(&n) => n,
            Some(_) => {
                return Err(one(
                    "max_players",
                    format!("max_players must be 1 to {server_max_players}"),
                ));
            }
        };
        let bank_points = match self.points {
            None => 1,
            Some(points) if points <= 2 => points,
            Some(_) => return Err(one("points", "points must be 0, 1 or 2".into())),
        };
        Ok(Settings {
            default_time,
            scoring,
            max_players,
            bank_points,
        })
    }

    /// The default title and the questions of the request's source.
    fn questions(
        &self,
        source: Source,
        bank: Option<Bank>,
        settings: &Settings,
    ) -> Result<(String, Vec<RoomQuestion>), Vec<Invalid>> {
        let default_time = settings.default_time;
        let bank_questions = |questions: Vec<(String, Vec<String>, u8, String)>| {
            questions
                .into_iter()
                .take(MAX_QUESTIONS)
                .map(|(question, options, answer, explanation)| RoomQuestion {
                    question,
                    options,
                    answer,
                    explanation,
                    time_limit: Duration::from_secs(default_time),
                    points: settings.bank_points,
                })
                .collect::<Vec<_>>()
        };
        Ok(match (source, bank) {
            (Source::Questions, _) => {
                let custom = self.questions.as_deref().unwrap_or_default();
                let questions = check_questions(custom)?
                    .iter()
                    .map(|q| room_question(q, default_time))
                    .collect();
                ("Live quiz".to_string(), questions)
            }
            (_, Some(Bank::Level(title, bank))) => {
                if bank.is_empty() {
                    return Err(one("level_id", "this level has no questions".into()));
                }
                let bank = bank
                    .into_iter()
                    .map(|q| (q.question, q.options, q.answer, q.explanation))
                    .collect();
                (title, bank_questions(bank))
            }
            (_, Some(Bank::Catalog(title, bank))) => {
                if bank.is_empty() {
                    return Err(one("catalog", "this level has no questions".into()));
                }
                let bank = bank
                    .into_iter()
                    .map(|q| (q.question, q.options, q.answer, q.explanation))
                    .collect();
                (title, bank_questions(bank))
            }
            (_, Some(Bank::Quiz(quiz))) => {
                let questions = quiz
                    .questions
                    .iter()
                    .take(MAX_QUESTIONS)
                    .map(|q| room_question(q, default_time))
                    .collect();
                (quiz.title, questions)
            }
            (Source::Level(_), None) => return Err(one("level_id", "no such level".into())),
            (Source::Quiz(_), None) => return Err(one("quiz_id", "no such quiz".into())),
            (Source::Catalog(_), None) => {
                return Err(one("catalog", "no such catalog level".into()));
            }
        })
    }
}

/// The room-wide numbers of a request, checked.
struct Settings {
    /// Seconds per question where a question sets none.
    default_time: u64,
    scoring: Scoring,
    max_players: usize,
    /// Points multiplier of a level's or a catalog level's questions.
    bank_points: u32,
}

/// One field at fault.
fn one(field: &str, message: String) -> Vec<Invalid> {
    vec![invalid(field, message)]
}

/// The room question of a checked question; `default_time` when it has no time limit.
pub fn room_question(q: &QuizQuestion, default_time: u64) -> RoomQuestion {
    RoomQuestion {
        question: q.question.clone(),
        options: q.options.clone(),
        answer: q.answer,
        explanation: q.explanation.clone(),
        time_limit: Duration::from_secs(q.time_limit_secs.map_or(default_time, u64::from)),
        points: q.points,
    }
}

/// Checks a list of 1 to 100 questions; every question's first problem, named
/// `questions[i].<part>`.
pub fn check_questions(custom: &[CustomQuestion]) -> Result<Vec<QuizQuestion>, Vec<Invalid>> {
    if custom.is_empty() || custom.len() > MAX_QUESTIONS {
        return Err(vec![invalid(
            "questions",
            format!("give 1 to {MAX_QUESTIONS} questions"),
        )]);
    }
    let mut checked = Vec::with_capacity(custom.len());
    let mut problems = Vec::new();
    for (i, question) in custom.iter().enumerate() {
        match question.check() {
            Ok(q) => checked.push(q),
            Err((part, message)) => {
                let field = format!("questions[{i}].{}", part.name());
                problems.push(invalid(&field, format!("{field} {message}")));
            }
        }
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(problems)
    }
}

/// The part of a question a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestionPart {
    Question,
    /// The list of options as a whole.
    Options,
    /// One option, from 0.
    Option(usize),
    CorrectOption,
    Explanation,
    TimeLimit,
    Points,
}

impl QuestionPart {
    /// The part's name in a question object (`options[1]`).
    pub fn name(self) -> String {
        match self {
            QuestionPart::Question => "question".into(),
            QuestionPart::Options => "options".into(),
            QuestionPart::Option(i) => format!("options[{i}]"),
            QuestionPart::CorrectOption => "correct_option".into(),
            QuestionPart::Explanation => "explanation".into(),
            QuestionPart::TimeLimit => "time_limit_secs".into(),
            QuestionPart::Points => "points".into(),
        }
    }
}

impl CustomQuestion {
    /// Checks the question against the limits above: the question trimmed and ready to
    /// play or save, or the first part that is wrong and what is wrong with it (a
    /// predicate: "must be 1 to 500 characters").
    pub fn check(&self) -> Result<QuizQuestion, (QuestionPart, String)> {
        let question =
            text(&self.question, MAX_QUESTION_TEXT).map_err(|e| (QuestionPart::Question, e))?;
        if !(2..=4).contains(&self.options.len()) {
            return Err((
                QuestionPart::Options,
                format!("must be 2 to 4 options, not {}", self.options.len()),
            ));
        }
        let options = self
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| text(o, MAX_OPTION_TEXT).map_err(|e| (QuestionPart::Option(i), e)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut distinct = options.iter().map(|o| o.to_lowercase()).collect::<Vec<_>>();
        distinct.sort();
        distinct.dedup();
        if distinct.len() != options.len() {
            return Err((QuestionPart::Options, "must all differ".into()));
        }
        let letters = &crate::events::LETTERS[..options.len()];
        let answer = letters
            .iter()
            .position(|l| l.eq_ignore_ascii_case(self.correct_option.trim()))
            .ok_or_else(|| {
                (
                    QuestionPart::CorrectOption,
                    format!("must name one of the options ({})", letters.join(", ")),
                )
            })?;
        let explanation = match &self.explanation {
            Some(e) if !e.trim().is_empty() => {
                text(e, MAX_EXPLANATION).map_err(|e| (QuestionPart::Explanation, e))?
            }
            _ => String::new(),
        };
        let time_limit_secs = match self.time_limit_secs {
            None => None,
            Some(secs) if TIME_LIMIT_SECS.contains(&secs) => Some(secs as u32),
            Some(_) => return Err((QuestionPart::TimeLimit, "must be 5 to 300".into())),
        };
        let points = self.points.unwrap_or(1);
        if points > 2 {
            return Err((QuestionPart::Points, "must be 0, 1 or 2".into()));
        }
        Ok(QuizQuestion {
            question,
            options,
            answer: answer as u8,
            explanation,
            time_limit_secs,
            points,
        })
    }

    /// The question as a client sends it (what [`CustomQuestion::check`] makes of it
    /// gives the same question back).
    pub fn from_checked(q: &QuizQuestion) -> Self {
        CustomQuestion {
            question: q.question.clone(),
            options: q.options.clone(),
            correct_option: crate::events::LETTERS
                .get(usize::from(q.answer))
                .copied()
                .unwrap_or("A")
                .to_string(),
            explanation: (!q.explanation.is_empty()).then(|| q.explanation.clone()),
            time_limit_secs: q.time_limit_secs.map(u64::from),
            points: Some(q.points),
        }
    }
}

/// A display name in a room: 1 to 24 characters, no control characters and none of the
/// invisible ones that would let a guest pose as another player on the projector.
pub fn player_name(raw: &str) -> Option<String> {
    let name = raw.trim();
    let ok = !name.is_empty()
        && name.chars().count() <= 24
        && !name.chars().any(crate::domain::display_name::spoofing);
    ok.then(|| name.to_string())
}

#[cfg(test)]
mod tests;
