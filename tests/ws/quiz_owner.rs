//! One owner per solo quiz (issue 16): two devices of one learner on two instances over
//! the shared Redis and CQL store see one quiz (the same question, the same deadline);
//! an answer from the device on the instance that does not run the quiz is applied once
//! by the one that does; and when that instance dies, the other takes the quiz over
//! within the lease, at the same question, and grants the XP once.

use std::time::{Duration, Instant};

use questpath_test_support::{
    Binary, Endpoint, TestApp, WsClient, cql, redis_url, scylla_nodes, scylla_settings,
};
use serde_json::{Value, json};

const BIN: Binary = Binary::new(env!("CARGO_BIN_EXE_questpath"));

/// The lease of the deployments under test (the smallest allowed), in seconds.
const LEASE_SECS: u64 = 2;

/// Variables of one deployment: a fresh keyspace (migrated) and Redis prefix, a shared
/// signing key, 30-second questions and the short lease.
async fn deployment(name: &str) -> (Vec<(&'static str, String)>, String) {
    let keyspace = cql::fresh_keyspace(name).await;
    questpath::adapters::scylla::migrate(&scylla_settings(&keyspace))
        .await
        .unwrap();
    let vars = vec![
        ("QUESTPATH_REDIS_URL", redis_url()),
        (
            "QUESTPATH_REDIS_PREFIX",
            format!("{name}_{}:", uuid::Uuid::new_v4().simple()),
        ),
        (
            "QUESTPATH_JWT_SECRET",
            "quiz-owner-test-signing-key-0123456789abcdef".to_string(),
        ),
        ("QUESTPATH_SCYLLA_NODES", scylla_nodes()),
        ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.clone()),
        ("QUESTPATH_SCYLLA_REPLICATION", "simple:1".to_string()),
        ("QUESTPATH_QUIZ_QUESTION_SECS", "30".to_string()),
        ("QUESTPATH_QUIZ_LEASE_SECS", LEASE_SECS.to_string()),
    ];
    (vars, keyspace)
}

async fn instance(vars: &[(&'static str, String)]) -> TestApp {
    TestApp::builder().envs(vars).configured().start().await
}

/// The right letter of a question, from the shared CQL store.
async fn correct_letter(keyspace: &str, level_id: &str, question: &Value) -> String {
    use questpath::ports::GoalStore;
    let store = questpath::adapters::scylla::ScyllaStore::connect(&scylla_settings(keyspace))
        .await
        .unwrap();
    let bank = store
        .questions(uuid::Uuid::parse_str(level_id).unwrap())
        .await
        .unwrap();
    let text = question["question"].as_str().unwrap();
    let found = bank
        .iter()
        .find(|q| q.question == text)
        .expect("a bank question");
    ["A", "B", "C", "D"][found.answer as usize].to_string()
}

/// The next question frame and the moment its time runs out, as this test sees it.
async fn question_with_deadline(client: &mut WsClient) -> (Value, Instant) {
    let question = client.next_of("quiz.question").await;
    let deadline =
        Instant::now() + Duration::from_millis(question["remaining_ms"].as_u64().unwrap());
    (question, deadline)
}

fn apart(a: Instant, b: Instant) -> Duration {
    if a > b { a - b } else { b - a }
}

async fn total_xp(endpoint: &Endpoint, token: &str) -> i64 {
    let me: Value = endpoint
        .call(reqwest::Method::GET, "/api/v1/me", token, None)
        .await
        .json()
        .await
        .unwrap();
    me["total_xp"].as_i64().unwrap()
}

#[actix_web::test]
async fn two_devices_on_two_instances_play_one_quiz() {
    let (vars, keyspace) = deployment("owner").await;
    let first = instance(&vars).await;
    let second = instance(&vars).await;
    let (token, level, _) = first.learner_ready_for_quiz().await;
    let level_id = level["id"].as_str().unwrap().to_string();

    // The phone starts the quiz through the first instance, which runs it.
    let mut phone = first.connect(&token).await;
    phone
        .send(json!({"type": "quiz.start", "level_id": level_id, "id": "start"}))
        .await;
    let (q0, phone_deadline) = question_with_deadline(&mut phone).await;
    // The browser, on the second instance, is shown the same question and deadline.
    let mut browser = second.connect(&token).await;
    let (shown, browser_deadline) = question_with_deadline(&mut browser).await;
    assert_eq!(shown["quiz_id"], q0["quiz_id"]);
    assert_eq!(shown["position"], 0);
    assert_eq!(shown["question"], q0["question"]);
    let skew = apart(phone_deadline, browser_deadline);
    assert!(
        skew < Duration::from_millis(500),
        "deadlines {skew:?} apart"
    );

    // Starting another quiz from the browser is refused by the instance running this one.
    browser
        .send(json!({"type": "quiz.start", "level_id": level_id, "id": "second"}))
        .await;
    let refused = browser.next_of("error").await;
    assert_eq!(refused["re"], "second");
    assert_eq!(refused["code"], "quiz_in_progress");

    // An answer from the browser is judged once, by the first instance, for both.
    let letter = correct_letter(&keyspace, &level_id, &q0).await;
    browser
        .send(json!({"type": "quiz.answer", "position": 0, "option": letter, "id": "b0"}))
        .await;
    let mut next = None;
    for device in [&mut browser, &mut phone] {
        let feedback = device.next_of("quiz.feedback").await;
        assert_eq!(feedback["position"], 0);
        assert_eq!(feedback["correct"], true);
        assert_eq!(feedback["re"], "b0");
        let (q1, deadline) = question_with_deadline(device).await;
        assert_eq!(q1["position"], 1, "the quiz moved on by one question");
        if let Some((question, other)) = &next {
            assert_eq!(&q1["question"], question);
            let skew = apart(deadline, *other);
            assert!(
                skew < Duration::from_millis(500),
                "deadlines {skew:?} apart"
            );
        }
        next = Some((q1["question"].clone(), deadline));
    }
    // The browser answering the same question again is refused, only on the browser.
    browser
        .send(json!({"type": "quiz.answer", "position": 0, "option": letter, "id": "again"}))
        .await;
    let refused = browser.next_of("error").await;
    assert_eq!(refused["re"], "again");
    assert_eq!(refused["code"], "wrong_question");

    // The rest, from both devices in turn; each frame reaches both.
    let mut question = json!({"position": 1, "question": next.unwrap().0});
    for position in 1..5u64 {
        let letter = correct_letter(&keyspace, &level_id, &question).await;
        let device = if position % 2 == 0 {
            &mut browser
        } else {
            &mut phone
        };
        device
            .send(json!({"type": "quiz.answer", "position": position, "option": letter}))
            .await;
        for device in [&mut phone, &mut browser] {
            let feedback = device.next_of("quiz.feedback").await;
            assert_eq!(feedback["position"], position);
            assert_eq!(feedback["correct"], true);
        }
        if position < 4 {
            question = phone.next_of("quiz.question").await;
            let seen = browser.next_of("quiz.question").await;
            assert_eq!(seen["position"], position + 1);
            assert_eq!(seen["question"], question["question"]);
        }
    }
    let results = [
        phone.next_of("quiz.result").await,
        browser.next_of("quiz.result").await,
    ];
    for result in &results {
        assert_eq!(result["passed"], true);
        assert_eq!(result["correct"], 5);
        assert_eq!(result["xp_earned"], level["xp_reward"]);
    }
    assert_eq!(
        total_xp(&second, &token).await,
        level["xp_reward"].as_i64().unwrap(),
        "granted once"
    );

    // The finished quiz leaves no owner and no saved copy behind.
    let me: Value = first
        .call(reqwest::Method::GET, "/api/v1/me", &token, None)
        .await
        .json()
        .await
        .unwrap();
    let user = uuid::Uuid::parse_str(me["id"].as_str().unwrap()).unwrap();
    let owners = &first.backends.quiz_owners;
    let started = Instant::now();
    while owners.owner(user).await.unwrap().is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "lease still held"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(owners.load(user).await.unwrap(), None);
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}

/// The bus publications (Redis `PUBLISH`es) one instance has made so far.
async fn bus_publishes(app: &TestApp) -> f64 {
    let text = crate::metrics::scrape(app).await;
    text.lines()
        .filter(|line| line.starts_with("questpath_redis_operations_total{"))
        .filter(|line| line.contains(r#"port="bus""#) && line.contains(r#"operation="publish""#))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[actix_web::test]
async fn a_quiz_on_one_instance_publishes_its_frames_only_once_another_listens() {
    let (vars, keyspace) = deployment("peers").await;
    let first = instance(&vars).await;
    // Its sessions end with their last connection.
    let mut no_grace = vars.clone();
    no_grace.push(("QUESTPATH_WS_GRACE_SECS", "0".to_string()));
    let second = instance(&no_grace).await;
    let (token, level, _) = first.learner_ready_for_quiz().await;
    let level_id = level["id"].as_str().unwrap().to_string();

    // Alone: the learner's only session runs the quiz, and its frames (two an answer)
    // stay on this instance.
    let mut phone = first.connect(&token).await;
    phone
        .send(json!({"type": "quiz.start", "level_id": level_id}))
        .await;
    let mut question = phone.next_of("quiz.question").await;
    let before = bus_publishes(&first).await;
    for position in 0..2u64 {
        let letter = correct_letter(&keyspace, &level_id, &question).await;
        phone
            .send(json!({"type": "quiz.answer", "position": position, "option": letter}))
            .await;
        assert_eq!(phone.next_of("quiz.feedback").await["correct"], true);
        question = phone.next_of("quiz.question").await;
    }
    assert_eq!(
        bus_publishes(&first).await - before,
        0.0,
        "no publication for a learner with no session elsewhere"
    );

    // A second device on another instance says it listens: from then on every frame
    // reaches it too.
    let mut browser = second.connect(&token).await;
    let shown = browser.next_of("quiz.question").await;
    assert_eq!(shown["position"], 2);
    let before = bus_publishes(&first).await;
    let letter = correct_letter(&keyspace, &level_id, &question).await;
    phone
        .send(json!({"type": "quiz.answer", "position": 2, "option": letter}))
        .await;
    for device in [&mut phone, &mut browser] {
        assert_eq!(device.next_of("quiz.feedback").await["position"], 2);
        question = device.next_of("quiz.question").await;
        assert_eq!(question["position"], 3);
    }
    assert!(
        bus_publishes(&first).await - before >= 2.0,
        "the feedback and the next question were published"
    );

    // The browser's session ends and says so: frames stay home again.
    drop(browser);
    let started = Instant::now();
    while crate::metrics::sample(&crate::metrics::scrape(&second).await, "questpath_sessions")
        != Some(0.0)
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "session still up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = bus_publishes(&first).await;
    let letter = correct_letter(&keyspace, &level_id, &question).await;
    phone
        .send(json!({"type": "quiz.answer", "position": 3, "option": letter}))
        .await;
    assert_eq!(phone.next_of("quiz.feedback").await["position"], 3);
    assert_eq!(phone.next_of("quiz.question").await["position"], 4);
    assert_eq!(bus_publishes(&first).await - before, 0.0);
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}

#[actix_web::test]
async fn the_quiz_of_a_killed_instance_is_taken_over_at_the_same_question() {
    let (vars, keyspace) = deployment("takeover").await;
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut doomed = BIN.serve(dir.path(), &borrowed).hold(dir);
    let survivor = instance(&vars).await;
    doomed.wait_healthy().await;
    let doomed_endpoint = Endpoint::local(doomed.port);
    let (token, level, _) = survivor.learner_ready_for_quiz().await;
    let level_id = level["id"].as_str().unwrap().to_string();

    // The quiz runs on the process; a second device follows it from the survivor.
    let mut phone = doomed_endpoint.connect(&token).await;
    phone
        .send(json!({"type": "quiz.start", "level_id": level_id}))
        .await;
    let q0 = phone.next_of("quiz.question").await;
    let mut browser = survivor.connect(&token).await;
    browser.next_of("quiz.question").await;
    let letter = correct_letter(&keyspace, &level_id, &q0).await;
    phone
        .send(json!({"type": "quiz.answer", "position": 0, "option": letter}))
        .await;
    phone.next_of("quiz.feedback").await;
    browser.next_of("quiz.feedback").await;
    let (q1, deadline_before) = question_with_deadline(&mut browser).await;
    assert_eq!(q1["position"], 1);

    // The owner dies without a word; within the lease (and a watch period) the
    // survivor runs the quiz, at the same question with the same deadline.
    doomed.kill();
    let died = Instant::now();
    let (resumed, deadline_after) = question_with_deadline(&mut browser).await;
    let took = died.elapsed();
    assert!(
        took < Duration::from_secs(LEASE_SECS) + Duration::from_millis(1500),
        "taken over after {took:?}"
    );
    assert_eq!(resumed["quiz_id"], q0["quiz_id"]);
    assert_eq!(resumed["position"], 1);
    assert_eq!(resumed["question"], q1["question"]);
    let skew = apart(deadline_before, deadline_after);
    assert!(
        skew < Duration::from_millis(500),
        "deadline moved by {skew:?}"
    );

    // The browser finishes it; the XP is granted once.
    let mut question = resumed;
    for position in 1..5u64 {
        let letter = correct_letter(&keyspace, &level_id, &question).await;
        browser
            .send(json!({"type": "quiz.answer", "position": position, "option": letter}))
            .await;
        let feedback = browser.next_of("quiz.feedback").await;
        assert_eq!(feedback["position"], position);
        assert_eq!(feedback["correct"], true);
        if position < 4 {
            question = browser.next_of("quiz.question").await;
        }
    }
    let result = browser.next_of("quiz.result").await;
    assert_eq!(result["passed"], true);
    assert_eq!(result["correct"], 5);
    assert_eq!(result["xp_earned"], level["xp_reward"]);
    assert_eq!(
        total_xp(&survivor, &token).await,
        level["xp_reward"].as_i64().unwrap(),
        "granted once"
    );
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}

#[actix_web::test]
async fn a_drained_instance_hands_its_quiz_over_at_once() {
    let (vars, keyspace) = deployment("handover").await;
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut drained = BIN.serve(dir.path(), &borrowed).hold(dir);
    let survivor = instance(&vars).await;
    drained.wait_healthy().await;
    let (token, level, _) = survivor.learner_ready_for_quiz().await;
    let level_id = level["id"].as_str().unwrap().to_string();
    let mut phone = Endpoint::local(drained.port).connect(&token).await;
    phone
        .send(json!({"type": "quiz.start", "level_id": level_id}))
        .await;
    let q0 = phone.next_of("quiz.question").await;
    let mut browser = survivor.connect(&token).await;
    let (shown, deadline_before) = question_with_deadline(&mut browser).await;
    assert_eq!(shown["quiz_id"], q0["quiz_id"]);

    // SIGTERM: the instance closes its sockets, gives the lease back and says so; the
    // survivor runs the quiz well before the lease would have run out.
    drained.signal("TERM");
    let asked = Instant::now();
    let (resumed, deadline_after) = question_with_deadline(&mut browser).await;
    let took = asked.elapsed();
    // A lease renewed at most a third of it ago runs out two thirds of it later at
    // the earliest: sooner than that, it was handed over.
    assert!(
        took < Duration::from_secs(LEASE_SECS) * 3 / 5,
        "handed over after {took:?}"
    );
    assert_eq!(resumed["quiz_id"], q0["quiz_id"]);
    assert_eq!(resumed["position"], 0);
    let skew = apart(deadline_before, deadline_after);
    assert!(
        skew < Duration::from_millis(500),
        "deadline moved by {skew:?}"
    );
    let letter = correct_letter(&keyspace, &level_id, &resumed).await;
    browser
        .send(json!({"type": "quiz.answer", "position": 0, "option": letter}))
        .await;
    assert_eq!(browser.next_of("quiz.feedback").await["correct"], true);
    assert_eq!(browser.next_of("quiz.question").await["position"], 1);
    assert!(
        drained.wait().success(),
        "the drained instance exits cleanly"
    );
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}
