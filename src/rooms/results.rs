//! A finished room's results as the host downloads them: a typed JSON document, or a
//! CSV with one row per player (rank, name, score, per-question answers).
//!
//! The store keeps the document the room wrote (options as 0-based indexes, counts as
//! a list per option); [`RoomResults::from_stored`] turns it into the same vocabulary
//! as the websocket (`A`-`D`, `[{option, count}]`), so older stored rooms read the same.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use questpath_actors::events::LETTERS;

/// The results of a finished room (`GET /api/v1/rooms/{room_id}/results`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoomResults {
    pub room_id: Uuid,
    pub code: String,
    pub title: String,
    pub host_id: Uuid,
    /// `speed` or `accuracy`.
    pub scoring: String,
    pub streak_bonus: bool,
    /// `finished`, `ended_by_host`, `host_left` or `abandoned`.
    pub end_reason: String,
    /// The questions that were closed (played or skipped), in order.
    pub questions: Vec<QuestionResult>,
    /// Every player, best first.
    pub players: Vec<PlayerResult>,
}

/// One question of the game and how the room answered it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuestionResult {
    /// 0-based position in the game.
    pub index: u32,
    pub question: String,
    /// `A` to `D`.
    #[schema(example = "B")]
    pub correct_option: String,
    /// How many players chose each option (as in `room.question_closed`).
    pub counts: Vec<OptionCount>,
    pub answered: u32,
    /// The host skipped it: nobody scored.
    pub skipped: bool,
}

/// Players who chose one option.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OptionCount {
    /// `A` to `D`.
    #[schema(example = "A")]
    pub option: String,
    pub count: u32,
}

/// A player's place, score and answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlayerResult {
    pub rank: u64,
    pub player_id: Uuid,
    pub name: String,
    /// Played without an account (no XP).
    pub guest: bool,
    pub score: u64,
    pub correct: u32,
    pub answered: u32,
    pub best_streak: u32,
    /// XP granted for the game (0 for guests).
    pub xp: i64,
    /// One entry per question of `questions` (by `index`); `null`: not answered.
    pub answers: Vec<Option<PlayerAnswer>>,
}

/// One answer of a player.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlayerAnswer {
    /// `A` to `D`.
    #[schema(example = "B")]
    pub option: String,
    pub correct: bool,
    /// Points earned, the streak bonus included.
    pub points: u32,
    /// Time to answer as the server measured it.
    pub response_ms: u64,
}

/// The document as the room stored it.
#[derive(Debug, Deserialize)]
struct Stored {
    room_id: Uuid,
    code: String,
    title: String,
    host_id: Uuid,
    scoring: String,
    streak_bonus: bool,
    end_reason: String,
    questions: Vec<StoredQuestion>,
    players: Vec<StoredPlayer>,
}

#[derive(Debug, Deserialize)]
struct StoredQuestion {
    index: u32,
    question: String,
    correct_option: String,
    counts: Vec<u32>,
    answered: u32,
    skipped: bool,
}

#[derive(Debug, Deserialize)]
struct StoredPlayer {
    rank: u64,
    player_id: Uuid,
    name: String,
    guest: bool,
    score: u64,
    correct: u32,
    answered: u32,
    best_streak: u32,
    xp: i64,
    answers: Vec<Option<StoredAnswer>>,
}

#[derive(Debug, Deserialize)]
struct StoredAnswer {
    option: u8,
    correct: bool,
    points: u32,
    response_ms: u64,
}

fn letter(index: usize) -> String {
    LETTERS.get(index).copied().unwrap_or("?").to_string()
}

impl RoomResults {
    /// Reads the document a room stored.
    pub fn from_stored(stored: &serde_json::Value) -> Result<Self, String> {
        let stored: Stored = serde_json::from_value(stored.clone())
            .map_err(|e| format!("unreadable results: {e}"))?;
        Ok(RoomResults {
            room_id: stored.room_id,
            code: stored.code,
            title: stored.title,
            host_id: stored.host_id,
            scoring: stored.scoring,
            streak_bonus: stored.streak_bonus,
            end_reason: stored.end_reason,
            questions: stored
                .questions
                .into_iter()
                .map(|q| QuestionResult {
                    index: q.index,
                    question: q.question,
                    correct_option: q.correct_option,
                    counts: q
                        .counts
                        .iter()
                        .enumerate()
                        .map(|(i, &count)| OptionCount {
                            option: letter(i),
                            count,
                        })
                        .collect(),
                    answered: q.answered,
                    skipped: q.skipped,
                })
                .collect(),
            players: stored
                .players
                .into_iter()
                .map(|p| PlayerResult {
                    rank: p.rank,
                    player_id: p.player_id,
                    name: p.name,
                    guest: p.guest,
                    score: p.score,
                    correct: p.correct,
                    answered: p.answered,
                    best_streak: p.best_streak,
                    xp: p.xp,
                    answers: p
                        .answers
                        .into_iter()
                        .map(|a| {
                            a.map(|a| PlayerAnswer {
                                option: letter(a.option as usize),
                                correct: a.correct,
                                points: a.points,
                                response_ms: a.response_ms,
                            })
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// The results as CSV (RFC 4180, a header row first). Cells a spreadsheet would run
    /// as a formula (`=`, `+`, `-`, `@` at the start of a name) are prefixed with `'`.
    pub fn to_csv(&self) -> Result<String, String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut header = vec![
            "rank".to_string(),
            "name".into(),
            "player_id".into(),
            "account".into(),
            "score".into(),
            "correct".into(),
            "answered".into(),
            "best_streak".into(),
            "xp".into(),
        ];
        for q in &self.questions {
            // Widened: a stored index of u32::MAX overflowed (a panic in debug builds).
            let n = u64::from(q.index) + 1;
            header.extend([
                format!("q{n}_answer"),
                format!("q{n}_correct"),
                format!("q{n}_points"),
                format!("q{n}_ms"),
            ]);
        }
        writer.write_record(&header).map_err(|e| e.to_string())?;
        for player in &self.players {
            let mut row = vec![
                player.rank.to_string(),
                defuse(&player.name),
                player.player_id.to_string(),
                if player.guest { "guest" } else { "learner" }.into(),
                player.score.to_string(),
                player.correct.to_string(),
                player.answered.to_string(),
                player.best_streak.to_string(),
                player.xp.to_string(),
            ];
            for q in &self.questions {
                match player
                    .answers
                    .get(q.index as usize)
                    .and_then(Option::as_ref)
                {
                    Some(a) => row.extend([
                        a.option.clone(),
                        if a.correct { "yes" } else { "no" }.into(),
                        a.points.to_string(),
                        a.response_ms.to_string(),
                    ]),
                    None => row.extend([String::new(), "no".into(), "0".into(), String::new()]),
                }
            }
            writer.write_record(&row).map_err(|e| e.to_string())?;
        }
        let bytes = writer.into_inner().map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }
}

/// The stored document as CSV; see [`RoomResults::to_csv`].
pub fn to_csv(stored: &serde_json::Value) -> Result<String, String> {
    RoomResults::from_stored(stored)?.to_csv()
}

/// Keeps a player-chosen name (or any text a user wrote) from running as a spreadsheet
/// formula: OWASP's first characters, and NUL as ASVS 1.2.10 adds. Saved quiz exports
/// use it too.
pub(crate) fn defuse(name: &str) -> String {
    if name.starts_with(['=', '+', '-', '@', '\t', '\r', '\0']) {
        format!("'{name}")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_player_with_each_answer_and_formulas_defused() {
        let results = serde_json::json!({
            "room_id": Uuid::nil(), "code": "K7XQ2M", "title": "Quiz", "host_id": Uuid::nil(),
            "scoring": "speed", "streak_bonus": true, "end_reason": "finished",
            "questions": [
                {"index": 0, "question": "One?", "correct_option": "B", "counts": [0, 1, 1], "answered": 2, "skipped": false},
                {"index": 1, "question": "Two?", "correct_option": "A", "counts": [1, 0], "answered": 1, "skipped": false}
            ],
            "players": [
                {"rank": 1, "player_id": Uuid::nil(), "name": "=HYPERLINK(\"x\")", "guest": false,
                 "score": 1900, "correct": 2, "answered": 2, "best_streak": 2, "xp": 39,
                 "answers": [{"option": 1, "correct": true, "points": 1000, "response_ms": 300},
                             {"option": 0, "correct": true, "points": 900, "response_ms": 4000}]},
                {"rank": 2, "player_id": Uuid::nil(), "name": "Sam, the second", "guest": true,
                 "score": 0, "correct": 0, "answered": 1, "best_streak": 0, "xp": 0,
                 "answers": [{"option": 2, "correct": false, "points": 0, "response_ms": 900}, null]}
            ]
        });
        let results = RoomResults::from_stored(&results).unwrap();
        assert_eq!(results.questions[0].counts[1].option, "B");
        assert_eq!(results.players[0].answers[0].as_ref().unwrap().option, "B");
        let csv = results.to_csv().unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("rank,name,player_id,account,score"));
        assert!(lines[0].ends_with("q2_answer,q2_correct,q2_points,q2_ms"));
        assert!(lines[1].contains("\"'=HYPERLINK(\"\"x\"\")\""));
        assert!(lines[1].ends_with("B,yes,1000,300,A,yes,900,4000"));
        assert!(lines[2].contains("\"Sam, the second\""));
        assert!(lines[2].ends_with("C,no,0,900,,no,0,"));
    }

    #[test]
    fn regression_the_last_question_index_and_nul_names_are_written() {
        // Found by the properties below: `index + 1` overflowed for u32::MAX, and a name
        // starting with NUL was not defused.
        let stored = serde_json::json!({
            "room_id": Uuid::nil(), "code": "K7XQ2M", "title": "Quiz", "host_id": Uuid::nil(),
            "scoring": "speed", "streak_bonus": true, "end_reason": "finished",
            "questions": [{"index": u32::MAX, "question": "Q?", "correct_option": "A",
                           "counts": [], "answered": 0, "skipped": false}],
            "players": [{"rank": 1, "player_id": Uuid::nil(), "name": "\u{0}=1+1", "guest": true,
                         "score": 0, "correct": 0, "answered": 0, "best_streak": 0, "xp": 0,
                         "answers": []}]
        });
        let csv = to_csv(&stored).unwrap();
        assert!(csv.lines().next().unwrap().ends_with("q4294967296_ms"));
        assert!(csv.contains(",'\0=1+1,"));
    }

    mod properties {
        //! Any player name survives the CSV exactly (a CSV reader gets it back) and no
        //! cell of it starts a spreadsheet formula; any stored document gives a CSV or
        //! an error, never a panic.

        use proptest::prelude::*;
        use serde_json::{Value, json};

        use super::*;
        use crate::proptest_strategies::{hostile_string, json_value, object_with};

        /// First characters that make Excel, LibreOffice or Google Sheets evaluate a
        /// cell (OWASP's CSV injection list, plus NUL from ASVS 1.2.10).
        const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r', '\0'];

        fn answer() -> impl Strategy<Value = Value> {
            prop_oneof![
                1 => Just(Value::Null),
                3 => (any::<u8>(), any::<bool>(), any::<u32>(), any::<u64>()).prop_map(
                    |(option, correct, points, ms)| {
                        json!({"option": option, "correct": correct, "points": points, "response_ms": ms})
                    },
                ),
            ]
        }

        fn player(questions: usize) -> impl Strategy<Value = Value> {
            (
                hostile_string(),
                any::<u128>(),
                any::<(u64, bool, u64, u32, u32, u32, i64)>(),
                prop::collection::vec(answer(), 0..=questions + 1),
            )
                .prop_map(|(name, id, (rank, guest, score, correct, answered, streak, xp), answers)| {
                    json!({
                        "rank": rank, "player_id": Uuid::from_u128(id), "name": name, "guest": guest,
                        "score": score, "correct": correct, "answered": answered,
                        "best_streak": streak, "xp": xp, "answers": answers,
                    })
                })
        }

        fn question(index: u32) -> impl Strategy<Value = Value> {
            (
                hostile_string(),
                prop::collection::vec(any::<u32>(), 0..5),
                any::<bool>(),
            )
                .prop_map(move |(text, counts, skipped)| {
                    json!({"index": index, "question": text, "correct_option": "B",
                           "counts": counts, "answered": 1, "skipped": skipped})
                })
        }

        /// A stored document: up to 5 questions (any index, huge ones too) and 5 players.
        fn document() -> impl Strategy<Value = Value> {
            let index = prop_oneof![8 => 0u32..40, 1 => any::<u32>(), 1 => Just(u32::MAX)];
            prop::collection::vec(index, 0..6).prop_flat_map(|indexes| {
                let count = indexes.len();
                let questions: Vec<_> = indexes.into_iter().map(question).collect();
                (
                    questions,
                    prop::collection::vec(player(count), 0..6),
                    hostile_string(),
                )
                    .prop_map(|(questions, players, title)| {
                        json!({
                            "room_id": Uuid::nil(), "code": "K7XQ2M", "title": title,
                            "host_id": Uuid::nil(), "scoring": "speed", "streak_bonus": true,
                            "end_reason": "finished", "questions": questions, "players": players,
                        })
                    })
            })
        }

        proptest! {
            #[test]
            fn every_name_round_trips_and_never_starts_a_formula(document in document()) {
                let csv = to_csv(&document).unwrap();
                let mut reader = csv::Reader::from_reader(csv.as_bytes());
                let header = reader.headers().unwrap().clone();
                let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
                let players = document["players"].as_array().unwrap();
                prop_assert_eq!(rows.len(), players.len());
                prop_assert_eq!(header.len(), 9 + 4 * document["questions"].as_array().unwrap().len());
                for (row, player) in rows.iter().zip(players) {
                    prop_assert_eq!(row.len(), header.len());
                    let name = player["name"].as_str().unwrap();
                    let cell = &row[1];
                    prop_assert!(!cell.starts_with(FORMULA_STARTS), "{:?}", cell);
                    // Exactly the name, or the name behind the one quote that defused it.
                    let restored = if name.starts_with(FORMULA_STARTS) {
                        cell.strip_prefix('\'')
                    } else {
                        Some(cell)
                    };
                    prop_assert_eq!(restored, Some(name));
                    for cell in row.iter() {
                        prop_assert!(!cell.starts_with(FORMULA_STARTS) || cell.parse::<i64>().is_ok(), "{:?}", cell);
                    }
                }
            }

            #[test]
            fn any_stored_document_gives_a_csv_or_an_error(
                document in prop_oneof![
                    json_value(4),
                    object_with(
                        &["room_id", "code", "title", "host_id", "scoring", "streak_bonus",
                          "end_reason", "questions", "players"],
                        json_value(3),
                    ),
                    document(),
                ],
            ) {
                let _ = to_csv(&document);
            }
        }
    }
}
