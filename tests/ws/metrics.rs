//! Realtime and game metrics after a real websocket session.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use questpath_test_support::{TestApp, other_letter, spawn_app};

/// The scrape's value of one sample line (`name{labels}`), if present.
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

pub(crate) async fn scrape(app: &TestApp) -> String {
    app.client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The correct letter of a question, read from the server's store.
async fn correct_letter(app: &TestApp, level_id: &str, question: &Value) -> String {
    let level = uuid::Uuid::parse_str(level_id).unwrap();
    let bank = app.backends.store.questions(level).await.unwrap();
    let text = question["question"].as_str().unwrap();
    let found = bank.iter().find(|q| q.question == text).unwrap();
    ["A", "B", "C", "D"][found.answer as usize].to_string()
}

#[actix_web::test]
async fn a_quiz_over_a_websocket_shows_in_realtime_and_game_metrics() {
    let app = spawn_app().await;
    let (token, level, _goal) = app.learner_ready_for_quiz().await;
    let level_id = level["id"].as_str().unwrap();
    let reward = level["xp_reward"].as_f64().unwrap();
    let mut client = app.connect(&token).await;

    // A quiz given up at once, then one passed with every answer right.
    client
        .send(json!({"type": "quiz.start", "id": "s0", "level_id": level_id}))
        .await;
    client.next_of("quiz.question").await;
    client
        .send(json!({"type": "quiz.abandon", "id": "ab"}))
        .await;
    client.next_of("pong").await;
    client
        .send(json!({"type": "quiz.start", "id": "s1", "level_id": level_id}))
        .await;
    for position in 0..5 {
        let question = client.next_of("quiz.question").await;
        let letter = correct_letter(&app, level_id, &question).await;
        client
            .send(json!({"type": "quiz.answer", "position": position, "option": letter}))
            .await;
        client.next_of("quiz.feedback").await;
    }
    let result = client.next_of("quiz.result").await;
    assert_eq!(result["passed"], true, "{result}");
    // An answer to a question no longer open is refused, not late: not counted as late.
    client
        .send(json!({"type": "quiz.answer", "position": 0, "option": other_letter("A")}))
        .await;
    client.next_of("error").await;
    client.send(json!({"type": "not.a.type"})).await;
    client.next_of("error").await;

    // The session records a command's handling time after its answer has left, so the
    // scrape waits for the last one (on a loaded machine the test can read the answer
    // before the session's thread runs again).
    let handled = r#"questpath_ws_message_handle_duration_seconds_count{type="quiz.answer"}"#;
    let mut open = scrape(&app).await;
    for _ in 0..50 {
        if sample(&open, handled) >= Some(6.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        open = scrape(&app).await;
    }
    // A clean close: ours, then the server's answer, before the socket goes.
    client.socket.close(None).await.unwrap();
    while let Ok(Some(Ok(_))) =
        tokio::time::timeout(Duration::from_secs(5), client.socket.next()).await
    {}
    drop(client);
    // The server notices the close on its next read.
    let mut closed = String::new();
    for _ in 0..50 {
        closed = scrape(&app).await;
        if sample(&closed, "questpath_ws_connections") == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    for (series, expected) in [
        ("questpath_ws_connections", 1.0),
        ("questpath_ws_connects_total", 1.0),
        ("questpath_sessions", 1.0),
        (
            r#"questpath_ws_messages_received_total{type="quiz.start"}"#,
            2.0,
        ),
        (
            r#"questpath_ws_messages_received_total{type="quiz.answer"}"#,
            6.0,
        ),
        (
            r#"questpath_ws_messages_received_total{type="invalid"}"#,
            1.0,
        ),
        (r#"questpath_ws_messages_sent_total{type="hello"}"#, 1.0),
        (
            r#"questpath_ws_messages_sent_total{type="quiz.feedback"}"#,
            5.0,
        ),
        (
            r#"questpath_ws_messages_sent_total{type="quiz.result"}"#,
            1.0,
        ),
        (
            r#"questpath_ws_message_handle_duration_seconds_count{type="quiz.answer"}"#,
            6.0,
        ),
        ("questpath_quizzes_started_total", 2.0),
        (r#"questpath_quizzes_finished_total{result="passed"}"#, 1.0),
        (
            r#"questpath_quizzes_finished_total{result="abandoned"}"#,
            1.0,
        ),
        (r#"questpath_quizzes_finished_total{result="failed"}"#, 0.0),
        ("questpath_quiz_answer_time_seconds_count", 5.0),
        ("questpath_quiz_feedback_duration_seconds_count", 5.0),
        ("questpath_quiz_late_answers_total", 0.0),
        (
            r#"questpath_xp_granted_total{source="level_first_pass"}"#,
            reward,
        ),
        ("questpath_level_ups_total", 1.0),
    ] {
        assert_eq!(sample(&open, series), Some(expected), "{series}:\n{open}");
    }
    assert!(sample(&open, "questpath_ws_outbound_queue_depth_count") >= Some(8.0));
    assert_eq!(
        sample(&closed, "questpath_ws_connections"),
        Some(0.0),
        "{closed}"
    );
    assert_eq!(
        sample(
            &closed,
            r#"questpath_ws_disconnects_total{reason="closed"}"#
        ),
        Some(1.0),
        "{closed}"
    );

    // A client that vanishes without a close frame is an abnormal close.
    let vanishing = app.connect(&token).await;
    drop(vanishing);
    for _ in 0..50 {
        closed = scrape(&app).await;
        if sample(
            &closed,
            r#"questpath_ws_disconnects_total{reason="abnormal"}"#,
        ) == Some(1.0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        sample(
            &closed,
            r#"questpath_ws_disconnects_total{reason="abnormal"}"#
        ),
        Some(1.0),
        "{closed}"
    );
}
