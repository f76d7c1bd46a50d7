//! Leaderboard pushes over the websocket: `leaderboard.rank` after a passed quiz, and
//! `leaderboard.top` to the connections that subscribed.

use std::time::Duration;

use serde_json::{Value, json};

use questpath_test_support::{TestApp, WsClient, spawn_app};

/// Plays the level's quiz answering everything right; returns the result.
async fn pass(app: &TestApp, client: &mut WsClient, level_id: &str) -> Value {
    let level = uuid::Uuid::parse_str(level_id).unwrap();
    let bank = app.backends.store.questions(level).await.unwrap();
    client
        .send(json!({"type": "quiz.start", "level_id": level_id}))
        .await;
    for position in 0..5 {
        let question = client.next_of("quiz.question").await;
        let text = question["question"].as_str().unwrap();
        let found = bank.iter().find(|q| q.question == text).unwrap();
        let letter = ["A", "B", "C", "D"][found.answer as usize];
        client
            .send(json!({"type": "quiz.answer", "position": position, "option": letter}))
            .await;
        client.next_of("quiz.feedback").await;
    }
    client.next_of("quiz.result").await
}

/// The next `leaderboard.rank` frames until one of each board has arrived.
async fn ranks(client: &mut WsClient) -> (Value, Value) {
    let (mut all_time, mut weekly) = (None, None);
    while all_time.is_none() || weekly.is_none() {
        let frame = client.next_of("leaderboard.rank").await;
        match frame["board"].as_str() {
            Some("alltime") => all_time = Some(frame),
            Some("weekly") => weekly = Some(frame),
            other => panic!("unexpected board {other:?}: {frame}"),
        }
    }
    (all_time.unwrap(), weekly.unwrap())
}

#[actix_web::test]
async fn a_learner_gets_their_rank_after_passing_a_quiz() {
    let app = spawn_app().await;
    let (first, first_level, _) = app.learner_ready_for_quiz().await;
    let (second, second_level, _) = app.learner_ready_for_quiz().await;
    let mut first_socket = app.connect(&first).await;
    let mut second_socket = app.connect(&second).await;

    let result = pass(&app, &mut first_socket, first_level["id"].as_str().unwrap()).await;
    let (all_time, weekly) = ranks(&mut first_socket).await;
    let reward = result["xp_earned"].as_i64().unwrap();
    assert!(reward > 0);
    assert_eq!(all_time["rank"], 1);
    assert_eq!(all_time["previous_rank"], Value::Null, "new on the board");
    assert_eq!(all_time["score"], reward);
    assert_eq!(all_time["next_reset"], Value::Null);
    assert_eq!(weekly["rank"], 1);
    assert_eq!(weekly["score"], reward);
    assert!(weekly["period"].as_str().unwrap().contains("-W"));
    assert!(
        weekly["next_reset"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00Z")
    );

    // The second learner earns as much, later: a tie they lose.
    let second_result = pass(
        &app,
        &mut second_socket,
        second_level["id"].as_str().unwrap(),
    )
    .await;
    let (second_all_time, _) = ranks(&mut second_socket).await;
    if second_result["xp_earned"] == result["xp_earned"] {
        assert_eq!(second_all_time["rank"], 2, "reached the same XP later");
    }
    assert_eq!(second_all_time["score"], second_result["xp_earned"]);
}

#[actix_web::test]
async fn subscribers_get_the_top_at_once_and_on_every_change() {
    let app = spawn_app().await;
    let (player, level, _) = app.learner_ready_for_quiz().await;
    let watcher = app.learner().await;
    let mut watching = app.connect(&watcher).await;
    let mut playing = app.connect(&player).await;

    watching
        .send(json!({"type": "leaderboard.subscribe", "id": "w", "board": "weekly"}))
        .await;
    let initial = watching.next_of("leaderboard.top").await;
    assert_eq!(initial["re"], "w");
    assert_eq!(initial["board"], "weekly");
    assert_eq!(initial["total"], 0);
    assert_eq!(initial["entries"], json!([]));

    let result = pass(&app, &mut playing, level["id"].as_str().unwrap()).await;
    let started = std::time::Instant::now();
    let changed = watching.next_of("leaderboard.top").await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "pushed within the coalescing window"
    );
    assert_eq!(
        changed.get("re"),
        None,
        "only the first frame answers the request"
    );
    assert_eq!(changed["total"], 1);
    let entry = &changed["entries"][0];
    assert_eq!(entry["rank"], 1);
    assert_eq!(entry["score"], result["xp_earned"]);
    let name = entry["name"].as_str().unwrap();
    assert!(
        name.contains("***"),
        "a masked address, not an email: {name}"
    );
    assert!(!name.contains("example.org"), "{name}");

    watching
        .send(json!({"type": "leaderboard.unsubscribe", "id": "u", "board": "weekly"}))
        .await;
    let pong = watching.next_of("pong").await;
    assert_eq!(pong["re"], "u");
}

#[actix_web::test]
async fn subscribing_to_an_unknown_board_is_an_error() {
    let app = spawn_app().await;
    let token = app.learner().await;
    let mut client = app.connect(&token).await;
    client
        .send(json!({"type": "leaderboard.subscribe", "id": "x", "board": "daily"}))
        .await;
    let error = client.next_of("error").await;
    assert_eq!(error["code"], "not_found");
    assert_eq!(error["re"], "x");
}
