//! Legacy quiz routes of the old frontend: it needs the answers (it scores in the
//! browser) and reports `passed`. The server still decides what that is worth: the XP
//! rules and the ledger are the same as over the websocket, so nothing can be farmed,
//! and a result is only accepted for a quiz this server handed out.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use questpath_actors::goals::pass::pass_level;
use questpath_actors::rules::quiz::{QUESTIONS_PER_QUIZ, passed, pick_questions};
use serde::Deserialize;
use serde_json::json;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::realtime::protocol::LETTERS;
use crate::state::AppState;
use questpath_actors::ports::LevelStatus;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/{level_id}/quiz", web::get().to(quiz))
        .route("/{level_id}/quiz/submit", web::post().to(submit));
}

async fn quiz(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let level_id = crate::http::path_id(&path, "Level")?;
    let (level, bank) = state
        .goals
        .level_with_questions(user.0.id, level_id)
        .await?;
    if level.status == LevelStatus::Locked {
        return Err(ApiError::forbidden(
            "level_locked",
            "Complete the previous level before taking this quiz",
        ));
    }
    if !level.topics.iter().all(|t| t.completed) {
        return Err(ApiError::forbidden(
            "topics_incomplete",
            "Complete all topics before taking the quiz",
        ));
    }
    let picks = pick_questions(bank.len(), QUESTIONS_PER_QUIZ, rand::random::<u64>());
    let questions: Vec<_> = picks
        .iter()
        .filter_map(|&i| bank.get(i))
        .enumerate()
        .map(|(n, q)| {
            json!({
                "id": n + 1,
                "question": q.question,
                "options": q.options.iter().enumerate().map(|(i, text)| json!({"text": text, "value": LETTERS[i.min(3)]})).collect::<Vec<_>>(),
                "correct_answer": LETTERS[(q.answer as usize).min(3)],
            })
        })
        .collect();
    state.legacy_quizzes.issue(user.0.id, level_id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "level_id": level.id,
        "level_title": level.title,
        "time_limit": 300,
        "questions": questions,
    })))
}

#[derive(Deserialize)]
struct Submission {
    score: i64,
    passed: bool,
    time_taken: i64,
}

async fn submit(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: crate::http::json::Json<Submission>,
) -> Result<HttpResponse, ApiError> {
    let level_id = crate::http::path_id(&path, "Level")?;
    if !(0..=100).contains(&body.score) {
        return Err(ApiError::invalid_field("score", "score must be 0 to 100"));
    }
    if body.time_taken < 0 {
        return Err(ApiError::invalid_field(
            "time_taken",
            "time_taken must not be negative",
        ));
    }
    if body.passed != passed(body.score as u32) {
        return Err(ApiError::invalid_field(
            "passed",
            "passed must be true exactly when score is 80 or more",
        ));
    }
    let level = state.goals.level(user.0.id, level_id).await?;
    // One result per quiz handed out: resubmitting cannot be used to farm.
    if !state.legacy_quizzes.take(user.0.id, level_id).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "quiz_not_started",
            "Start the quiz first: no open quiz for this level",
        ));
    }
    if !body.passed {
        return Ok(HttpResponse::Ok().json(json!({
            "passed": false,
            "xp_earned": 0,
            "next_level_unlocked": false,
            "message": "You didn't pass this time. Review the topics and try again!",
        })));
    }
    let pass = pass_level(
        &state.goals,
        &state.xp,
        user.0.id,
        &level,
        Utc::now().date_naive(),
    )
    .await?;
    let next_level_unlocked = pass.next_level_unlocked;
    let message = match (pass.earned, next_level_unlocked) {
        (0, _) => "Well done! You already earned this level's XP today.".to_string(),
        (xp, true) => format!("Congratulations! You earned {xp} XP and unlocked the next level!"),
        (xp, false) => format!("Congratulations! You earned {xp} XP!"),
    };
    Ok(HttpResponse::Ok().json(json!({
        "passed": true,
        "xp_earned": pass.earned,
        "next_level_unlocked": next_level_unlocked,
        "message": message,
    })))
}
