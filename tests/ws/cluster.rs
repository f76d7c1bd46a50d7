//! Two instances sharing Redis and the CQL store: a quiz started through one is
//! finished through the other, and events reach a learner's socket on either.

use std::collections::HashMap;
use std::time::Duration;

use questpath::config::Settings;
use questpath::startup::Application;
use serde_json::{Value, json};

use crate::cql;
use crate::helpers::{Client, TestApp};

fn required_env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the suite with scripts/test"))
}

/// Two instances over one migrated keyspace and one Redis prefix.
async fn cluster() -> (TestApp, TestApp, String) {
    let nodes = required_env("QUESTPATH_TEST_SCYLLA_NODES");
    let redis = required_env("QUESTPATH_TEST_REDIS_URL");
    let keyspace = cql::keyspace_name("test");
    cql::sweep_stale(&nodes).await;
    let prefix = format!("cluster_{}:", uuid::Uuid::new_v4().simple());
    let vars = |data: &std::path::Path| -> HashMap<&'static str, String> {
        HashMap::from([
            ("QUESTPATH_BIND", "127.0.0.1:0".to_string()),
            ("QUESTPATH_DATA_DIR", data.display().to_string()),
            ("QUESTPATH_WORKERS", "2".to_string()),
            ("QUESTPATH_SHUTDOWN_TIMEOUT_SECS", "1".to_string()),
            ("QUESTPATH_SCYLLA_NODES", nodes.clone()),
            ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.clone()),
            ("QUESTPATH_SCYLLA_REPLICATION", "simple:1".to_string()),
            ("QUESTPATH_REDIS_URL", redis.clone()),
            ("QUESTPATH_REDIS_PREFIX", prefix.clone()),
            // Instances of one deployment share the signing key.
            (
                "QUESTPATH_JWT_SECRET",
                "cluster-test-signing-key-0123456789abcdef".to_string(),
            ),
        ])
    };
    let first_dir = tempfile::tempdir().unwrap();
    let settings = Settings::from_lookup(|k| vars(first_dir.path()).get(k).cloned()).unwrap();
    questpath::adapters::scylla::migrate(settings.scylla.as_ref().unwrap())
        .await
        .unwrap();
    let mut apps = Vec::new();
    for _ in 0..2 {
        let data = tempfile::tempdir().unwrap();
        let mut settings = Settings::from_lookup(|k| vars(data.path()).get(k).cloned()).unwrap();
        settings.realtime.question_time = Duration::from_secs(10);
        let application = Application::build(settings).await.expect("instance starts");
        let port = application.port();
        actix_web::rt::spawn(application.run_until_stopped());
        questpath::tls::install_crypto_provider();
        let store = std::sync::Arc::new(
            questpath::adapters::embedded::EmbeddedStore::open(data.path())
                .await
                .unwrap(),
        );
        apps.push(TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::new(),
            // Only the quiz answers are read through these backends, from the shared
            // store: connect a CQL store of the same keyspace for that.
            backends: questpath::backends::Backends::in_process(store),
            _data: data,
        });
    }
    let second = apps.pop().unwrap();
    let first = apps.pop().unwrap();
    (first, second, keyspace)
}

/// The correct letter of a question, read from the shared CQL store.
async fn correct_letter(keyspace: &str, level_id: &str, question: &Value) -> String {
    let nodes = required_env("QUESTPATH_TEST_SCYLLA_NODES");
    let settings = questpath::config::ScyllaSettings {
        nodes: nodes.split(',').map(str::to_string).collect(),
        keyspace: keyspace.to_string(),
        replication: questpath::config::Replication::Simple(1),
        username: None,
        password: None,
    };
    let store = questpath::adapters::scylla::ScyllaStore::connect(&settings)
        .await
        .unwrap();
    use questpath::ports::Store;
    let bank = store
        .questions(uuid::Uuid::parse_str(level_id).unwrap())
        .await
        .unwrap();
    let text = question["question"].as_str().unwrap();
    let found = bank
        .iter()
        .find(|q| q.question == text)
        .expect("question from the bank");
    ["A", "B", "C", "D"][found.answer as usize].to_string()
}

async fn answer_right(
    client: &mut Client,
    keyspace: &str,
    level_id: &str,
    question: &Value,
) -> Value {
    let letter = correct_letter(keyspace, level_id, question).await;
    client
        .send(json!({"type": "quiz.answer", "position": question["position"], "option": letter}))
        .await;
    client.next_of("quiz.feedback").await
}

#[actix_web::test]
async fn a_quiz_started_on_one_instance_is_finished_on_another() {
    let (first, second, keyspace) = cluster().await;
    let (token, level, _) = first.learner_ready_for_quiz().await;
    let level_id = level["id"].as_str().unwrap().to_string();

    let mut on_first = first.connect(&token).await;
    on_first
        .send(json!({"type": "quiz.start", "level_id": level_id}))
        .await;
    let q0 = on_first.next_of("quiz.question").await;
    let f0 = answer_right(&mut on_first, &keyspace, &level_id, &q0).await;
    let q1_first = on_first.next_of("quiz.question").await;
    drop(on_first);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut on_second = second.connect(&token).await;
    let mut question = on_second.next_of("quiz.question").await;
    assert_eq!(question["quiz_id"], q0["quiz_id"], "the same quiz resumed");
    assert_eq!(question["position"], 1);
    assert_eq!(question["question"], q1_first["question"]);
    for position in 1..5 {
        assert_eq!(question["position"], position);
        let feedback = answer_right(&mut on_second, &keyspace, &level_id, &question).await;
        assert_eq!(feedback["correct"], true);
        if position < 4 {
            question = on_second.next_of("quiz.question").await;
        }
    }
    let result = on_second.next_of("quiz.result").await;
    let me: Value = first
        .call(reqwest::Method::GET, "/api/v1/me", &token, None)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(f0["correct"], true);
    assert_eq!(result["passed"], true);
    assert_eq!(result["correct"], 5);
    assert_eq!(result["xp_earned"], level["xp_reward"]);
    assert_eq!(
        me["total_xp"], level["xp_reward"],
        "granted once, visible on every instance"
    );
    cql::drop_keyspace(&required_env("QUESTPATH_TEST_SCYLLA_NODES"), &keyspace).await;
}

#[actix_web::test]
async fn xp_granted_through_one_instance_reaches_a_socket_on_the_other() {
    let (first, second, keyspace) = cluster().await;
    let (token, level, _) = first.learner_ready_for_quiz().await;
    let level_id = level["id"].as_str().unwrap();
    let mut on_first = first.connect(&token).await;

    // The old frontend's quiz flow, through the second instance.
    let quiz = second
        .call(
            reqwest::Method::GET,
            &format!("/levels/{level_id}/quiz"),
            &token,
            None,
        )
        .await;
    assert_eq!(quiz.status(), 200);
    let submitted: Value = second
        .call(
            reqwest::Method::POST,
            &format!("/levels/{level_id}/quiz/submit"),
            &token,
            Some(json!({"score": 100, "passed": true, "time_taken": 0})),
        )
        .await
        .json()
        .await
        .unwrap();
    let event = on_first.next_of("xp.granted").await;

    assert_eq!(submitted["xp_earned"], level["xp_reward"]);
    assert_eq!(event["amount"], level["xp_reward"]);
    assert_eq!(event["total_xp"], level["xp_reward"]);
    cql::drop_keyspace(&required_env("QUESTPATH_TEST_SCYLLA_NODES"), &keyspace).await;
}
