//! Rooms played from a host's saved quiz and from a built-in catalog level: the players
//! get those questions, with the saved quiz's own times and points.

use reqwest::Method;
use serde_json::{Value, json};

use questpath_test_support::{TestApp, WsClient, spawn_app};

async fn join(client: &mut WsClient, code: &str, name: &str) -> Value {
    client
        .send(json!({"type": "room.join", "id": "j", "code": code, "name": name}))
        .await;
    loop {
        let joined = client.next_json().await;
        if joined["re"] == "j" {
            assert_eq!(joined["type"], "room.joined", "{joined}");
            return joined;
        }
    }
}

async fn host_does(host: &mut WsClient, kind: &str) {
    host.send(json!({"type": kind, "id": kind})).await;
    loop {
        let frame = host.next_json().await;
        if frame["re"] == kind {
            assert_eq!(frame["type"], "pong", "{kind} refused: {frame}");
            return;
        }
    }
}

/// Creates a room from `body`, seats its host and one player, and starts it; returns the
/// room, the host and the player.
async fn started(app: &TestApp, host_token: &str, body: Value) -> (Value, WsClient, WsClient) {
    let response = app
        .call(Method::POST, "/api/v1/rooms", host_token, Some(&body))
        .await;
    assert_eq!(response.status(), 201);
    let room: Value = response.json().await.unwrap();
    let code = room["code"].as_str().unwrap().to_string();
    let mut host = app.connect(host_token).await;
    let joined = join(&mut host, &code, "Teacher").await;
    assert_eq!(joined["room"]["question_count"], room["question_count"]);
    assert_eq!(joined["room"]["title"], room["title"]);
    let token = app.learner().await;
    let mut player = app.connect(&token).await;
    join(&mut player, &code, "Sam").await;
    host.next_of("room.roster").await;
    host_does(&mut host, "room.start").await;
    (room, host, player)
}

fn option_texts(question: &Value) -> Vec<&str> {
    question["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["text"].as_str().unwrap())
        .collect()
}

#[actix_web::test]
async fn a_saved_quiz_is_played_with_its_own_times_and_points() {
    let app = spawn_app().await;
    let host_token = app.learner().await;
    let quiz: Value = app
        .call(
            Method::POST,
            "/api/v1/quizzes",
            &host_token,
            Some(&json!({
                "title": "Capitals",
                "questions": [
                    {"question": "Capital of Italy?", "options": ["Paris", "Madrid", "Rome"],
                     "correct_option": "C", "explanation": "Rome, since 1871.",
                     "time_limit_secs": 7, "points": 2},
                    {"question": "Capital of France?", "options": ["Paris", "Lyon"],
                     "correct_option": "A"}
                ]
            })),
        )
        .await
        .json()
        .await
        .unwrap();

    let (room, mut host, mut player) = started(
        &app,
        &host_token,
        json!({"quiz_id": quiz["quiz_id"], "question_time_secs": 10}),
    )
    .await;
    assert_eq!(room["title"], "Capitals");
    assert_eq!(room["question_count"], 2);

    let first = player.next_of("room.question").await;
    assert_eq!(first["index"], 0);
    assert_eq!(first["total"], 2);
    assert_eq!(first["question"], "Capital of Italy?");
    assert_eq!(option_texts(&first), ["Paris", "Madrid", "Rome"]);
    assert_eq!(first["time_limit_ms"], 7000);
    assert_eq!(first["points"], 2);
    player
        .send(json!({"type": "room.answer", "id": "a", "question": 0, "option": "C"}))
        .await;
    let closed = player.next_of("room.question_closed").await;
    assert_eq!(closed["correct_option"], "C");
    assert_eq!(closed["explanation"], "Rome, since 1871.");
    let result = player.next_of("room.your_result").await;
    assert_eq!(result["correct"], true);
    assert!(
        result["points"].as_u64().unwrap() > 1000,
        "doubled: {result}"
    );

    host_does(&mut host, "room.next").await;
    let second = player.next_of("room.question").await;
    assert_eq!(second["index"], 1);
    assert_eq!(second["question"], "Capital of France?");
    assert_eq!(option_texts(&second), ["Paris", "Lyon"]);
    assert_eq!(second["time_limit_ms"], 10_000, "the room's default");
    assert_eq!(second["points"], 1);
}

#[actix_web::test]
async fn a_catalog_level_is_played_with_its_question_bank() {
    let app = spawn_app().await;
    let host_token = app.learner().await;
    let catalog = questpath::adapters::catalog::shared().expect("the shipped catalog");
    let subject = catalog
        .subjects()
        .iter()
        .find(|s| s.slug == "python")
        .expect("a python subject");
    let level = &subject.levels[1];

    let (room, mut host, mut player) = started(
        &app,
        &host_token,
        json!({"catalog": {"subject": "python", "level": 1}}),
    )
    .await;
    assert_eq!(room["title"], format!("{}: {}", subject.title, level.title));
    assert_eq!(room["question_count"], level.questions.len());

    for (index, expected) in level.questions.iter().take(2).enumerate() {
        let question = player.next_of("room.question").await;
        assert_eq!(question["index"], index);
        assert_eq!(question["total"], level.questions.len());
        assert_eq!(question["question"], expected.question.as_str());
        assert_eq!(option_texts(&question), expected.options);
        assert_eq!(question["time_limit_ms"], 20_000);
        let letter = ["A", "B", "C", "D"][usize::from(expected.answer)];
        player
            .send(json!({"type": "room.answer", "id": "a", "question": index, "option": letter}))
            .await;
        let closed = player.next_of("room.question_closed").await;
        assert_eq!(closed["correct_option"], letter);
        assert_eq!(closed["explanation"], expected.explanation.as_str());
        host_does(&mut host, "room.next").await;
    }
}
