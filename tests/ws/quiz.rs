//! Server-timed quizzes over the websocket.

use std::time::Duration;

use serde_json::{Value, json};

use questpath_test_support::{TestApp, WsClient, spawn_app, spawn_app_tuned};

/// The correct letter of a question, read from the server's store (the client is never
/// told before answering).
async fn correct_letter(app: &TestApp, level_id: &str, question: &Value) -> String {
    let level = uuid::Uuid::parse_str(level_id).unwrap();
    let bank = app.backends.store.questions(level).await.unwrap();
    let text = question["question"].as_str().unwrap();
    let found = bank
        .iter()
        .find(|q| q.question == text)
        .expect("question from the bank");
    ["A", "B", "C", "D"][found.answer as usize].to_string()
}

/// Plays a whole quiz, answering `right` of the 5 questions correctly; returns the result.
async fn play(app: &TestApp, client: &mut WsClient, level_id: &str, right: usize) -> Value {
    client
        .send(json!({"type": "quiz.start", "id": "start", "level_id": level_id}))
        .await;
    for position in 0..5 {
        let question = client.next_of("quiz.question").await;
        assert_eq!(question["position"], position);
        assert!(question.get("answer").is_none() && question.get("correct_option").is_none());
        let letter = correct_letter(app, level_id, &question).await;
        let option = if position < right {
            letter.clone()
        } else if letter == "A" {
            "B".into()
        } else {
            "A".into()
        };
        client
            .send(json!({"type": "quiz.answer", "id": format!("a{position}"), "position": position, "option": option}))
            .await;
        let feedback = client.next_of("quiz.feedback").await;
        assert_eq!(feedback["correct"], position < right, "{feedback}");
        assert_eq!(feedback["correct_option"], letter);
        assert!(feedback["explanation"].as_str().unwrap().len() > 5);
    }
    client.next_of("quiz.result").await
}

#[actix_web::test]
async fn a_passed_quiz_grants_the_level_reward_once_and_unlocks_the_next_level() {
    let app = spawn_app().await;
    let (token, level, goal) = app.learner_ready_for_quiz().await;
    let level_id = level["id"].as_str().unwrap();
    let reward = level["xp_reward"].as_i64().unwrap();
    let mut client = app.connect(&token).await;

    let first = play(&app, &mut client, level_id, 5).await;
    let second = play(&app, &mut client, level_id, 4).await;
    let third = play(&app, &mut client, level_id, 5).await;
    let me: Value = app
        .call(reqwest::Method::GET, "/api/v1/me", &token, None)
        .await
        .json()
        .await
        .unwrap();
    let goal_after: Value = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/goals/{}", goal["id"].as_str().unwrap()),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(first["passed"], true);
    assert_eq!(first["score"], 100);
    assert_eq!(first["xp_earned"], reward);
    assert_eq!(first["next_level_unlocked"], true);
    assert_eq!(second["passed"], true, "4 of 5 is 80 percent");
    assert_eq!(
        second["xp_earned"],
        (reward / 10).max(1),
        "a repass earns a tenth"
    );
    assert_eq!(third["xp_earned"], 0, "the repass reward is once a day");
    let total = reward + (reward / 10).max(1);
    assert_eq!(third["total_xp"], total);
    assert_eq!(me["total_xp"], total);
    assert_eq!(me["level"], total / 100 + 1);
    assert_eq!(goal_after["status"], "in_progress");
    assert_eq!(goal_after["roadmap"]["levels"][0]["status"], "completed");
    assert_eq!(goal_after["roadmap"]["levels"][1]["status"], "unlocked");
}

#[actix_web::test]
async fn a_failed_quiz_grants_nothing() {
    let app = spawn_app().await;
    let (token, level, _) = app.learner_ready_for_quiz().await;
    let mut client = app.connect(&token).await;

    let result = play(&app, &mut client, level["id"].as_str().unwrap(), 3).await;

    assert_eq!(result["passed"], false);
    assert_eq!(result["score"], 60);
    assert_eq!(result["xp_earned"], 0);
    assert_eq!(result["next_level_unlocked"], false);
    let me: Value = app
        .call(reqwest::Method::GET, "/api/v1/me", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["total_xp"], 0);
}

#[actix_web::test]
async fn an_unanswered_question_times_out_and_a_late_answer_is_refused() {
    let app = spawn_app().await;
    let (token, level, _) = app.learner_ready_for_quiz().await;
    let mut client = app.connect(&token).await;
    client
        .send(json!({"type": "quiz.start", "level_id": level["id"]}))
        .await;
    let first = client.next_of("quiz.question").await;
    assert!(first["remaining_ms"].as_u64().unwrap() <= 1500);

    // No answer: the server closes the question at its deadline (plus grace).
    let started = std::time::Instant::now();
    let timeout = client.next_of("quiz.feedback").await;
    let waited = started.elapsed();
    client
        .send(json!({"type": "quiz.answer", "id": "late", "position": 0, "option": "A"}))
        .await;
    let next = client.next_of("quiz.question").await;
    let late = client.next_of("error").await;

    assert_eq!(timeout["timed_out"], true);
    assert_eq!(timeout["correct"], false);
    assert!(
        waited >= Duration::from_millis(1300),
        "closed after {waited:?}"
    );
    assert_eq!(next["position"], 1);
    assert_eq!(late["code"], "late_answer");
    assert_eq!(late["re"], "late");
}

#[actix_web::test]
async fn a_reconnect_resumes_the_open_question_with_the_time_left() {
    let app = spawn_app_tuned(|s| s.realtime.question_time = Duration::from_secs(10)).await;
    let (token, level, _) = app.learner_ready_for_quiz().await;
    let mut phone = app.connect(&token).await;
    phone
        .send(json!({"type": "quiz.start", "level_id": level["id"]}))
        .await;
    let asked = phone.next_of("quiz.question").await;

    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(phone);
    let mut again = app.connect(&token).await;
    let resumed = again.next_of("quiz.question").await;

    assert_eq!(resumed["quiz_id"], asked["quiz_id"]);
    assert_eq!(resumed["position"], 0);
    assert_eq!(resumed["question"], asked["question"]);
    let remaining = resumed["remaining_ms"].as_u64().unwrap();
    assert!(
        (7_000..=8_200).contains(&remaining),
        "remaining {remaining} ms after 2 s of 10"
    );
}

#[actix_web::test]
async fn two_devices_of_one_learner_see_the_same_quiz() {
    let app = spawn_app().await;
    let (token, level, _) = app.learner_ready_for_quiz().await;
    let level_id = level["id"].as_str().unwrap();
    let mut phone = app.connect(&token).await;
    let mut browser = app.connect(&token).await;

    phone
        .send(json!({"type": "quiz.start", "level_id": level_id}))
        .await;
    let on_phone = phone.next_of("quiz.question").await;
    let on_browser = browser.next_of("quiz.question").await;
    let letter = correct_letter(&app, level_id, &on_browser).await;
    browser
        .send(json!({"type": "quiz.answer", "position": 0, "option": letter}))
        .await;
    let phone_feedback = phone.next_of("quiz.feedback").await;
    let browser_feedback = browser.next_of("quiz.feedback").await;
    // A second answer to the same question from the other device is refused.
    phone
        .send(json!({"type": "quiz.answer", "id": "dup", "position": 0, "option": letter}))
        .await;
    let duplicate = phone.next_of("error").await;

    assert_eq!(on_phone["quiz_id"], on_browser["quiz_id"]);
    assert_eq!(phone_feedback["correct"], true);
    assert_eq!(browser_feedback["correct"], true);
    assert_ne!(duplicate["code"], Value::Null);
    assert_eq!(duplicate["re"], "dup");
}

#[actix_web::test]
async fn quizzes_of_locked_or_unfinished_levels_are_refused() {
    let app = spawn_app().await;
    let (token, _, goal) = app.learner_ready_for_quiz().await;
    let locked = goal["roadmap"]["levels"][1]["id"].clone();
    let fresh = app.learner().await;
    let mut client = app.connect(&token).await;
    let mut stranger = app.connect(&fresh).await;

    client
        .send(json!({"type": "quiz.start", "id": "1", "level_id": locked}))
        .await;
    let refused = client.next_of("error").await;
    stranger
        .send(json!({"type": "quiz.start", "id": "2", "level_id": goal["roadmap"]["levels"][0]["id"]}))
        .await;
    let foreign = stranger.next_of("error").await;

    assert_eq!(refused["code"], "level_locked");
    assert_eq!(refused["re"], "1");
    assert_eq!(
        foreign["code"], "not_found",
        "another learner's level does not exist for you"
    );
}

#[actix_web::test]
async fn job_progress_is_pushed_to_the_learners_sockets() {
    let app = spawn_app().await;
    let token = app.learner().await;
    let mut client = app.connect(&token).await;

    let created: Value = app
        .call(
            reqwest::Method::POST,
            "/api/v1/goals",
            &token,
            Some(&json!({"description": "Master TypeScript"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let job_id = created["job"]["id"].clone();
    let mut statuses = Vec::new();
    loop {
        let event = client.next_of("job.status").await;
        assert_eq!(event["job"]["id"], job_id);
        let status = event["job"]["status"].as_str().unwrap().to_string();
        statuses.push(status.clone());
        if status == "done" {
            assert!(event["job"]["goal_id"].is_string());
            break;
        }
    }

    assert_eq!(statuses.first().map(String::as_str), Some("running"));
    assert_eq!(statuses.last().map(String::as_str), Some("done"));
}
