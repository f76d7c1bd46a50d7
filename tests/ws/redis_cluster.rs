//! Two instances over a three-master Redis Cluster (and, the same test, over one Redis)
//! and the CQL store: a quiz played on one instance pushes the XP and the rank to the
//! learner's socket on the other (the bus on sharded pub/sub), and both instances read
//! the same board (its scripts on one slot).

use reqwest::Method;
use serde_json::{Value, json};

use questpath_test_support::{WsClient, cql, redis_cluster_url, redis_url, scylla_nodes};

use crate::cluster::{answer_right, cluster_on};

/// Plays the level's quiz on `client`, every answer right; returns the result.
async fn pass(client: &mut WsClient, keyspace: &str, level_id: &str) -> Value {
    client
        .send(json!({"type": "quiz.start", "level_id": level_id}))
        .await;
    for _ in 0..5 {
        let question = client.next_of("quiz.question").await;
        let feedback = answer_right(client, keyspace, level_id, &question).await;
        assert_eq!(feedback["correct"], true);
    }
    client.next_of("quiz.result").await
}

/// The `xp.granted` frame and the all-time `leaderboard.rank` frame, which leave on
/// different paths (the XP service, the leaderboard actor) and may arrive in any order.
async fn granted_and_rank(client: &mut WsClient) -> (Value, Value) {
    let (mut granted, mut rank) = (None, None);
    while granted.is_none() || rank.is_none() {
        let frame = client.next_json().await;
        match frame["type"].as_str() {
            Some("xp.granted") => granted = Some(frame),
            Some("leaderboard.rank") if frame["board"] == "alltime" => rank = Some(frame),
            _ => {}
        }
    }
    (granted.unwrap(), rank.unwrap())
}

#[actix_web::test]
async fn on_a_redis_cluster_a_quiz_on_one_instance_pushes_xp_and_rank_to_the_other() {
    quiz_on_one_instance_pushes_xp_and_rank_to_the_other(redis_cluster_url()).await;
}

#[actix_web::test]
async fn on_one_redis_a_quiz_on_one_instance_pushes_xp_and_rank_to_the_other() {
    quiz_on_one_instance_pushes_xp_and_rank_to_the_other(redis_url()).await;
}

async fn quiz_on_one_instance_pushes_xp_and_rank_to_the_other(redis: String) {
    let (first, second, keyspace) = cluster_on(redis).await;
    let (ada, ada_level, _) = first.learner_ready_for_quiz().await;
    let (bob, bob_level, _) = second.learner_ready_for_quiz().await;

    // Ada plays on the second instance, Bob on the first; each one's socket on the
    // other instance hears of it.
    let mut ada_watching = first.connect(&ada).await;
    let mut ada_playing = second.connect(&ada).await;
    let result = pass(
        &mut ada_playing,
        &keyspace,
        ada_level["id"].as_str().unwrap(),
    )
    .await;
    let reward = result["xp_earned"].as_i64().unwrap();
    assert!(reward > 0, "{result}");
    let (granted, rank) = granted_and_rank(&mut ada_watching).await;
    assert_eq!(granted["amount"], reward);
    assert_eq!((&rank["rank"], &rank["score"]), (&json!(1), &json!(reward)));

    let mut bob_watching = second.connect(&bob).await;
    let mut bob_playing = first.connect(&bob).await;
    let result = pass(
        &mut bob_playing,
        &keyspace,
        bob_level["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(result["xp_earned"], reward);
    let (granted, rank) = granted_and_rank(&mut bob_watching).await;
    assert_eq!(granted["amount"], reward);
    assert_eq!(rank["rank"], 2, "same XP as Ada, reached later: {rank}");

    // Both instances read one board.
    for app in [&first, &second] {
        let board: Value = app
            .call(
                Method::GET,
                "/api/v1/leaderboards/alltime?limit=10",
                &bob,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        let scores: Vec<&Value> = board["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["score"])
            .collect();
        assert_eq!(scores, [&json!(reward), &json!(reward)], "{board}");
        assert_eq!(board["me"]["rank"], 2, "{board}");
    }
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}
