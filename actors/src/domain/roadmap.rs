//! Roadmaps as generated (before they are stored): what every generator returns and
//! the rules every roadmap must meet, whoever wrote it.

use serde::{Deserialize, Serialize};

/// How hard a goal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    Beginner,
    Intermediate,
    Advanced,
}

/// A multiple-choice question with exactly one correct option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedQuestion {
    pub question: String,
    /// Exactly four options, shown as A to D.
    pub options: Vec<String>,
    /// Index (0 to 3) of the correct option.
    pub answer: u8,
    /// Why the answer is right; shown after the learner answers.
    pub explanation: String,
}

/// A topic of a level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedTopic {
    pub name: String,
    pub explanation: String,
}

/// A level of a roadmap, in learning order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedLevel {
    pub title: String,
    pub description: String,
    pub xp_reward: u32,
    pub topics: Vec<GeneratedTopic>,
    pub questions: Vec<GeneratedQuestion>,
}

/// A whole roadmap for a goal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedRoadmap {
    pub title: String,
    pub category: String,
    pub difficulty: Difficulty,
    pub roadmap_name: String,
    pub levels: Vec<GeneratedLevel>,
}

/// Bounds every roadmap must meet.
pub mod limits {
    pub const LEVELS: std::ops::RangeInclusive<usize> = 3..=8;
    pub const TOPICS: std::ops::RangeInclusive<usize> = 3..=7;
    /// Questions per level: at least one quiz of 5.
    pub const MIN_QUESTIONS: usize = 5;
    pub const MAX_QUESTIONS: usize = 30;
    pub const XP: std::ops::RangeInclusive<u32> = 100..=300;
    pub const OPTIONS: usize = 4;
    pub const SHORT_TEXT: usize = 200;
    pub const LONG_TEXT: usize = 2000;
}

impl GeneratedRoadmap {
    /// Checks every rule; the error names the first broken one, for logs and job
    /// failure reasons.
    pub fn validate(&self) -> Result<(), String> {
        use limits::*;
        text("title", &self.title, SHORT_TEXT)?;
        text("category", &self.category, SHORT_TEXT)?;
        text("roadmap_name", &self.roadmap_name, SHORT_TEXT)?;
        if !LEVELS.contains(&self.levels.len()) {
            return Err(format!("{} levels; expected 3 to 8", self.levels.len()));
        }
        for (i, level) in self.levels.iter().enumerate() {
            let at = format!("level {}", i + 1);
            text(&format!("{at} title"), &level.title, SHORT_TEXT)?;
            text(&format!("{at} description"), &level.description, LONG_TEXT)?;
            if !XP.contains(&level.xp_reward) {
                return Err(format!(
                    "{at} xp_reward {} is outside 100 to 300",
                    level.xp_reward
                ));
            }
            if !TOPICS.contains(&level.topics.len()) {
                return Err(format!(
                    "{at} has {} topics; expected 3 to 7",
                    level.topics.len()
                ));
            }
            for (t, topic) in level.topics.iter().enumerate() {
                text(
                    &format!("{at} topic {} name", t + 1),
                    &topic.name,
                    SHORT_TEXT,
                )?;
                text(
                    &format!("{at} topic {} explanation", t + 1),
                    &topic.explanation,
                    LONG_TEXT,
                )?;
            }
            if level.questions.len() < MIN_QUESTIONS || level.questions.len() > MAX_QUESTIONS {
                return Err(format!(
                    "{at} has {} questions; expected {MIN_QUESTIONS} to {MAX_QUESTIONS}",
                    level.questions.len()
                ));
            }
            for (q, question) in level.questions.iter().enumerate() {
                let qat = format!("{at} question {}", q + 1);
                text(&qat, &question.question, LONG_TEXT)?;
                text(
                    &format!("{qat} explanation"),
                    &question.explanation,
                    LONG_TEXT,
                )?;
                if question.options.len() != OPTIONS {
                    return Err(format!(
                        "{qat} has {} options; expected 4",
                        question.options.len()
                    ));
                }
                for option in &question.options {
                    text(&format!("{qat} option"), option, SHORT_TEXT)?;
                }
                // Exact comparison: options may differ only in case (`'loading'` and
                // `'LOADING'` are different TypeScript literals).
                let mut distinct: Vec<&str> = question.options.iter().map(|o| o.trim()).collect();
                distinct.sort();
                distinct.dedup();
                if distinct.len() != OPTIONS {
                    return Err(format!("{qat} has repeated options"));
                }
                if usize::from(question.answer) >= OPTIONS {
                    return Err(format!("{qat} answer {} is not 0 to 3", question.answer));
                }
            }
        }
        Ok(())
    }
}

fn text(what: &str, value: &str, max: usize) -> Result<(), String> {
    let chars = value.trim().chars().count();
    if chars == 0 {
        return Err(format!("{what} is empty"));
    }
    if chars > max {
        return Err(format!("{what} is longer than {max} characters"));
    }
    Ok(())
}

/// The roadmap tests, and their generators of valid roadmaps, which the server's
/// roadmap-generator tests reuse through the `proptest` feature.
#[cfg(any(test, feature = "proptest"))]
#[allow(dead_code)]
pub mod tests {
    use proptest::prelude::*;

    use super::*;

    pub fn sample() -> GeneratedRoadmap {
        let question = |i: usize| GeneratedQuestion {
            question: format!("Question {i}?"),
            options: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            answer: (i % 4) as u8,
            explanation: "Because.".into(),
        };
        let level = |i: usize| GeneratedLevel {
            title: format!("Level {i}"),
            description: "Learn things.".into(),
            xp_reward: 100 + 50 * i as u32,
            topics: (0..3)
                .map(|t| GeneratedTopic {
                    name: format!("Topic {t}"),
                    explanation: "An explanation.".into(),
                })
                .collect(),
            questions: (0..10).map(question).collect(),
        };
        GeneratedRoadmap {
            title: "Learn things".into(),
            category: "Learning".into(),
            difficulty: Difficulty::Beginner,
            roadmap_name: "Path".into(),
            levels: (0..3).map(level).collect(),
        }
    }

    #[test]
    fn a_sound_roadmap_passes() {
        assert_eq!(sample().validate(), Ok(()));
    }

    #[test]
    fn each_broken_rule_is_named() {
        let mut r = sample();
        r.levels.truncate(2);
        assert!(r.validate().unwrap_err().contains("levels"));
        let mut r = sample();
        r.levels[1].xp_reward = 50;
        assert!(r.validate().unwrap_err().contains("level 2 xp_reward"));
        let mut r = sample();
        r.levels[0].questions[3].options.pop();
        assert!(r.validate().unwrap_err().contains("options"));
        let mut r = sample();
        r.levels[0].questions[0].options[1] = " a ".into();
        assert!(r.validate().unwrap_err().contains("repeated"));
        let mut r = sample();
        r.levels[2].questions[0].answer = 4;
        assert!(r.validate().unwrap_err().contains("answer"));
        let mut r = sample();
        r.levels[0].topics[0].explanation = "  ".into();
        assert!(r.validate().unwrap_err().contains("explanation is empty"));
    }

    /// Text of 1 to `max` characters that is not blank: short text of any characters,
    /// or exactly `max` copies of one (multi-byte ones included, since the limits count
    /// characters, not bytes).
    pub fn text(max: usize) -> impl Strategy<Value = String> {
        // Mapped rather than filtered: filtering rejects too often for long runs.
        let visible = any::<char>().prop_map(|c| if c.is_whitespace() { 'w' } else { c });
        prop_oneof![
            8 => (visible.clone(), prop::collection::vec(any::<char>(), 0..12))
                .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect()),
            1 => visible.prop_map(move |c| c.to_string().repeat(max)),
        ]
    }

    fn question() -> impl Strategy<Value = GeneratedQuestion> {
        let options = prop::collection::vec(text(limits::SHORT_TEXT), limits::OPTIONS).prop_filter(
            "distinct options",
            |options| {
                let mut trimmed: Vec<&str> = options.iter().map(|o| o.trim()).collect();
                trimmed.sort();
                trimmed.dedup();
                trimmed.len() == limits::OPTIONS
            },
        );
        (
            text(limits::LONG_TEXT),
            options,
            0..4u8,
            text(limits::LONG_TEXT),
        )
            .prop_map(
                |(question, options, answer, explanation)| GeneratedQuestion {
                    question,
                    options,
                    answer,
                    explanation,
                },
            )
    }

    fn level() -> impl Strategy<Value = GeneratedLevel> {
        let topic = (text(limits::SHORT_TEXT), text(limits::LONG_TEXT))
            .prop_map(|(name, explanation)| GeneratedTopic { name, explanation });
        (
            text(limits::SHORT_TEXT),
            text(limits::LONG_TEXT),
            limits::XP,
            prop::collection::vec(topic, limits::TOPICS),
            // Mostly short levels: a full one (30 questions) is slow to generate.
            prop_oneof![
                4 => prop::collection::vec(question(), limits::MIN_QUESTIONS..=8),
                1 => prop::collection::vec(question(), limits::MIN_QUESTIONS..=limits::MAX_QUESTIONS),
            ],
        )
            .prop_map(|(title, description, xp_reward, topics, questions)| {
                GeneratedLevel {
                    title,
                    description,
                    xp_reward,
                    topics,
                    questions,
                }
            })
    }

    /// Any roadmap that meets every rule.
    pub fn valid_roadmap() -> impl Strategy<Value = GeneratedRoadmap> {
        let difficulty = prop::sample::select(
            &[
                Difficulty::Beginner,
                Difficulty::Intermediate,
                Difficulty::Advanced,
            ][..],
        );
        (
            text(limits::SHORT_TEXT),
            text(limits::SHORT_TEXT),
            difficulty,
            text(limits::SHORT_TEXT),
            prop::collection::vec(level(), limits::LEVELS),
        )
            .prop_map(|(title, category, difficulty, roadmap_name, levels)| {
                GeneratedRoadmap {
                    title,
                    category,
                    difficulty,
                    roadmap_name,
                    levels,
                }
            })
    }

    /// One way to break exactly one rule; `at` picks the level, topic, question or
    /// option (modulo their count).
    #[derive(Debug, Clone, Copy)]
    enum Break {
        BlankText,
        LongText,
        Xp(u32),
        Levels(usize),
        Topics(usize),
        Questions(usize),
        Options(usize),
        RepeatedOption,
        Answer(u8),
    }

    fn break_rule() -> impl Strategy<Value = Break> {
        prop_oneof![
            Just(Break::BlankText),
            Just(Break::LongText),
            prop_oneof![
                0..limits::XP.start().to_owned(),
                limits::XP.end() + 1..=u32::MAX
            ]
            .prop_map(Break::Xp),
            prop_oneof![0..3usize, 9..12usize].prop_map(Break::Levels),
            prop_oneof![0..3usize, 8..10usize].prop_map(Break::Topics),
            prop_oneof![0..5usize, 31..33usize].prop_map(Break::Questions),
            prop_oneof![0..4usize, 5..7usize].prop_map(Break::Options),
            Just(Break::RepeatedOption),
            (4..=u8::MAX).prop_map(Break::Answer),
        ]
    }

    fn apply(roadmap: &mut GeneratedRoadmap, rule: Break, at: usize, blank: &str) {
        let levels = roadmap.levels.len();
        let level = &mut roadmap.levels[at % levels];
        let questions = level.questions.len();
        let question = &mut level.questions[at % questions];
        match rule {
            Break::BlankText => match at % 5 {
                0 => roadmap.title = blank.into(),
                1 => level.description = blank.into(),
                2 => level.topics[at % 3].name = blank.into(),
                3 => question.explanation = blank.into(),
                _ => question.options[at % 4] = blank.into(),
            },
            Break::LongText => match at % 4 {
                0 => roadmap.roadmap_name = "é".repeat(limits::SHORT_TEXT + 1),
                1 => level.topics[at % 3].explanation = "x".repeat(limits::LONG_TEXT + 1),
                2 => question.question = "ö".repeat(limits::LONG_TEXT + 1),
                _ => question.options[at % 4] = "y".repeat(limits::SHORT_TEXT + 1),
            },
            Break::Xp(xp) => level.xp_reward = xp,
            Break::Levels(n) => {
                let template = roadmap.levels[0].clone();
                roadmap.levels.resize(n, template);
            }
            Break::Topics(n) => {
                let template = level.topics[0].clone();
                level.topics.resize(n, template);
            }
            Break::Questions(n) => {
                let template = level.questions[0].clone();
                level.questions.resize(n, template);
            }
            Break::Options(n) => {
                question.options.resize(n, "another".into());
                // Keep them distinct, so only the count is wrong.
                for (i, option) in question.options.iter_mut().enumerate() {
                    option.push_str(&format!(" #{i}"));
                }
            }
            Break::RepeatedOption => {
                let copy = format!(" {} ", question.options[at % 4].trim());
                question.options[(at + 1) % 4] = copy;
            }
            Break::Answer(answer) => question.answer = answer,
        }
    }

    #[cfg(test)]
    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn every_roadmap_within_the_rules_is_accepted(roadmap in valid_roadmap()) {
                prop_assert_eq!(roadmap.validate(), Ok(()));
            }

            #[test]
            fn breaking_any_one_rule_is_refused(
                roadmap in valid_roadmap(),
                rule in break_rule(),
                at in any::<usize>(),
                blank in "[ \t\n\u{a0}\u{3000}]{0,4}",
            ) {
                let mut broken = roadmap;
                apply(&mut broken, rule, at, &blank);
                prop_assert!(broken.validate().is_err(), "{:?} at {} accepted", rule, at);
            }
        }
    }
}
