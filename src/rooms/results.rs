//! A finished room's results as the host downloads them: the stored JSON document, or
//! a CSV with one row per player (rank, name, score, per-question answers).

use serde::Deserialize;
use uuid::Uuid;

/// The parts of the stored results document the CSV needs.
#[derive(Debug, Deserialize)]
struct Document {
    questions: Vec<QuestionRow>,
    players: Vec<PlayerRow>,
}

#[derive(Debug, Deserialize)]
struct QuestionRow {
    index: u32,
}

#[derive(Debug, Deserialize)]
struct PlayerRow {
    rank: u64,
    player_id: Uuid,
    name: String,
    guest: bool,
    score: u64,
    correct: u32,
    answered: u32,
    best_streak: u32,
    xp: i64,
    answers: Vec<Option<AnswerCell>>,
}

#[derive(Debug, Deserialize)]
struct AnswerCell {
    option: u8,
    correct: bool,
    points: u32,
    response_ms: u64,
}

/// The results as CSV (RFC 4180, a header row first). Cells a spreadsheet would run as
/// a formula (`=`, `+`, `-`, `@` at the start of a name) are prefixed with `'`.
pub fn to_csv(results: &serde_json::Value) -> Result<String, String> {
    let document: Document =
        serde_json::from_value(results.clone()).map_err(|e| format!("unreadable results: {e}"))?;
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
    for q in &document.questions {
        let n = q.index + 1;
        header.extend([
            format!("q{n}_answer"),
            format!("q{n}_correct"),
            format!("q{n}_points"),
            format!("q{n}_ms"),
        ]);
    }
    writer.write_record(&header).map_err(|e| e.to_string())?;
    for player in &document.players {
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
        for q in &document.questions {
            match player
                .answers
                .get(q.index as usize)
                .and_then(Option::as_ref)
            {
                Some(a) => row.extend([
                    crate::realtime::protocol::LETTERS
                        .get(a.option as usize)
                        .copied()
                        .unwrap_or("?")
                        .to_string(),
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

/// Keeps a player-chosen name (or any text a user wrote) from running as a spreadsheet
/// formula. Saved quiz exports use it too.
pub(crate) fn defuse(name: &str) -> String {
    if name.starts_with(['=', '+', '-', '@', '\t', '\r']) {
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
            "questions": [{"index": 0}, {"index": 1}],
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
        let csv = to_csv(&results).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("rank,name,player_id,account,score"));
        assert!(lines[0].ends_with("q2_answer,q2_correct,q2_points,q2_ms"));
        assert!(lines[1].contains("\"'=HYPERLINK(\"\"x\"\")\""));
        assert!(lines[1].ends_with("B,yes,1000,300,A,yes,900,4000"));
        assert!(lines[2].contains("\"Sam, the second\""));
        assert!(lines[2].ends_with("C,no,0,900,,no,0,"));
    }
}
