//! Two instances sharing Redis and the CQL store: a quiz started through one is
//! finished through the other, and events reach a learner's socket on either.

use std::time::Duration;

use questpath_test_support::{
    Binary, Endpoint, ServerProcess, TestApp, WsClient, cql, http, redis_settings, redis_url,
    scylla_nodes, scylla_settings,
};
use serde_json::{Value, json};

const BIN: Binary = Binary::new(env!("CARGO_BIN_EXE_questpath"));

/// The variables of one deployment's instances: the test Redis under `prefix`, the CQL
/// `keyspace` if any, and the signing key they share.
fn deployment(keyspace: Option<&str>, prefix: &str, secret: &str) -> Vec<(&'static str, String)> {
    deployment_on(redis_url(), keyspace, prefix, secret)
}

/// [`deployment`] on the Redis (a server or a cluster) at `redis`.
fn deployment_on(
    redis: String,
    keyspace: Option<&str>,
    prefix: &str,
    secret: &str,
) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("QUESTPATH_REDIS_URL", redis),
        ("QUESTPATH_REDIS_PREFIX", prefix.to_string()),
        ("QUESTPATH_JWT_SECRET", secret.to_string()),
    ];
    if let Some(keyspace) = keyspace {
        vars.extend([
            ("QUESTPATH_SCYLLA_NODES", scylla_nodes()),
            ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.to_string()),
            ("QUESTPATH_SCYLLA_REPLICATION", "simple:1".to_string()),
        ]);
    }
    vars
}

/// `vars` as a process takes them.
fn borrowed<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Two instances over one migrated keyspace and one Redis prefix.
async fn cluster() -> (TestApp, TestApp, String) {
    cluster_on(redis_url()).await
}

/// [`cluster`] on the Redis (a server or a cluster) at `redis`.
pub(super) async fn cluster_on(redis: String) -> (TestApp, TestApp, String) {
    let keyspace = cql::fresh_keyspace("test").await;
    let prefix = format!("cluster_{}:", uuid::Uuid::new_v4().simple());
    let vars = deployment_on(
        redis,
        Some(&keyspace),
        &prefix,
        "cluster-test-signing-key-0123456789abcdef",
    );
    questpath::adapters::scylla::migrate(&scylla_settings(&keyspace))
        .await
        .unwrap();
    let mut apps = Vec::new();
    for _ in 0..2 {
        let app = TestApp::builder()
            .envs(&vars)
            .configured()
            .tune(|s| s.realtime.question_time = Duration::from_secs(10))
            .start()
            .await;
        apps.push(app);
    }
    let second = apps.pop().unwrap();
    let first = apps.pop().unwrap();
    (first, second, keyspace)
}

/// The correct letter of a question, read from the shared CQL store.
async fn correct_letter(keyspace: &str, level_id: &str, question: &Value) -> String {
    let store = questpath::adapters::scylla::ScyllaStore::connect(&scylla_settings(keyspace))
        .await
        .unwrap();
    use questpath::ports::GoalStore;
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

pub(super) async fn answer_right(
    client: &mut WsClient,
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
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
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
            Some(&json!({"score": 100, "passed": true, "time_taken": 0})),
        )
        .await
        .json()
        .await
        .unwrap();
    let event = on_first.next_of("xp.granted").await;

    assert_eq!(submitted["xp_earned"], level["xp_reward"]);
    assert_eq!(event["amount"], level["xp_reward"]);
    assert_eq!(event["total_xp"], level["xp_reward"]);
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}

/// A room of `questions` questions created through `owner` by a new learner who hosts
/// it from a socket on `host_side`; its code and the host's socket.
async fn hosted_room(
    owner: &Endpoint,
    host_side: &Endpoint,
    questions: usize,
) -> (String, WsClient) {
    let host_token = host_side.learner().await;
    let room: Value = owner
        .call(
            reqwest::Method::POST,
            "/api/v1/rooms",
            &host_token,
            Some(&json!({"questions": room_questions(questions)})),
        )
        .await
        .json()
        .await
        .unwrap();
    let code = room["code"].as_str().unwrap().to_string();
    let mut host = host_side.connect(&host_token).await;
    host.send(json!({"type": "room.join", "code": code})).await;
    assert_eq!(host.next_of("room.joined").await["room"]["role"], "host");
    (code, host)
}

/// Questions answered `B`, 5 s each.
fn room_questions(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"question": format!("Q{i}"), "options": ["a", "b", "c"], "correct_option": "B", "time_limit_secs": 5})
        })
        .collect()
}

/// The event types a client sees until (and with) `last`.
async fn types_until(client: &mut WsClient, last: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let frame = client.next_json().await;
        let kind = frame["type"].as_str().unwrap().to_string();
        seen.push(kind.clone());
        if kind == last {
            return seen;
        }
    }
}

#[actix_web::test]
async fn players_on_two_instances_play_one_room_in_the_same_order() {
    let (first, second, keyspace) = cluster().await;
    let (code, mut host) = hosted_room(&first, &first, 2).await;
    let code = code.as_str();

    // One player on the owner's instance, one on the other.
    let near_token = first.learner().await;
    let far_token = second.learner().await;
    let mut near = first.connect(&near_token).await;
    let mut far = second.connect(&far_token).await;
    for (client, name) in [(&mut near, "Near"), (&mut far, "Far")] {
        client
            .send(json!({"type": "room.join", "code": code, "name": name}))
            .await;
        assert_eq!(
            client.next_of("room.joined").await["room"]["you"]["name"],
            name
        );
    }
    // Both seats reach the host, in one roster or two.
    let mut seen = 0;
    while seen < 2 {
        let roster = host.next_of("room.roster").await;
        seen += roster["joined"].as_array().unwrap().len();
    }

    host.send(json!({"type": "room.start"})).await;
    near.next_of("room.question").await;
    far.next_of("room.question").await;
    near.send(json!({"type": "room.answer", "question": 0, "option": "B"}))
        .await;
    far.send(json!({"type": "room.answer", "question": 0, "option": "B"}))
        .await;
    let near_seen = types_until(&mut near, "room.your_result").await;
    let far_seen = types_until(&mut far, "room.your_result").await;
    assert_eq!(near_seen, far_seen, "the same events in the same order");
    assert!(near_seen.contains(&"room.question_closed".to_string()));

    // The far player drops and comes back through the owner's instance: same seat.
    drop(far);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut back = first.connect(&far_token).await;
    back.send(json!({"type": "room.join", "code": code})).await;
    let joined = back.next_of("room.joined").await;
    assert_eq!(joined["room"]["you"]["name"], "Far");
    assert!(joined["room"]["you"]["score"].as_u64().unwrap() >= 500);

    host.send(json!({"type": "room.end"})).await;
    let last = back.next_of("room.final").await;
    near.next_of("room.ended").await;
    // XP through the shared ledger, visible on either instance.
    let mut total = 0;
    for _ in 0..100 {
        let me: Value = second
            .call(reqwest::Method::GET, "/api/v1/me", &far_token, None)
            .await
            .json()
            .await
            .unwrap();
        total = me["total_xp"].as_i64().unwrap();
        if total > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(total, last["xp"].as_i64().unwrap());
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}

#[actix_web::test]
async fn the_room_directory_forgets_a_dead_instances_rooms_within_the_lease() {
    let prefix = format!("lease_{}:", uuid::Uuid::new_v4().simple());
    let secret = "lease-test-signing-key-0123456789abcdef";
    let lease = Duration::from_secs(3);
    // Instance A: the real binary, so it can die for real (SIGKILL, no goodbye).
    let a_dir = tempfile::tempdir().unwrap();
    let mut a_vars = deployment(None, &prefix, secret);
    a_vars.push(("QUESTPATH_ROOM_LEASE_SECS", lease.as_secs().to_string()));
    let mut a = BIN.serve(a_dir.path(), &borrowed(&a_vars));
    let client = http();
    let a_url = a.address.clone();
    a.wait_healthy().await;
    let registered: Value = client
        .post(format!("{a_url}/api/v1/auth/register"))
        .json(&json!({"email": "host@example.org", "password": "a long password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room: Value = client
        .post(format!("{a_url}/api/v1/rooms"))
        .bearer_auth(registered["access_token"].as_str().unwrap())
        .json(&json!({"questions": room_questions(1), "allow_guests": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = room["code"].as_str().unwrap().to_string();

    // Instance B, in this process, shares only Redis with A.
    let b = TestApp::builder()
        .envs(&deployment(None, &prefix, secret))
        .env("QUESTPATH_WORKERS", "1")
        .configured()
        .start()
        .await;
    let b_url = b.address.clone();
    let guest_status = || {
        let client = client.clone();
        let url = format!("{b_url}/api/v1/rooms/{code}/guests");
        async move {
            client
                .post(url)
                .json(&json!({"name": "Guest"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(guest_status().await, 201, "B finds A's room through Redis");
    // The owner refreshes its lease: the room outlives several lease periods.
    tokio::time::sleep(lease * 2 + Duration::from_millis(500)).await;
    assert_eq!(guest_status().await, 201, "a live room stays listed");

    // Read the directory itself: looking the room up through B would adopt it.
    let shared = questpath::adapters::redis::Redis::connect(&redis_settings(&prefix))
        .await
        .unwrap();
    let directory = questpath_actors::room::directory::Directory::new(
        std::sync::Arc::new(shared.cache()),
        lease,
    );
    let owner = directory.find(&code).await.unwrap().expect("listed").owner;
    a.kill();
    let died = std::time::Instant::now();
    while directory.find(&code).await.unwrap().is_some() {
        assert!(
            died.elapsed() < lease + Duration::from_secs(2),
            "the dead instance's room is still listed after {:?}",
            died.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(died.elapsed() <= lease + Duration::from_secs(1));
    // The next look-up adopts the room from its saved game: listed again, owned by B.
    assert_eq!(guest_status().await, 201, "adopted by the survivor");
    let adopted = directory.find(&code).await.unwrap().expect("listed again");
    assert_ne!(adopted.owner, owner);
    assert_eq!(
        adopted.room_id.to_string(),
        room["room_id"].as_str().unwrap()
    );
}

/// One instance as a real process (so it can be killed or drained) and one in this
/// process, over one keyspace and one Redis prefix, with 3-second room leases.
async fn process_and_instance() -> (ServerProcess, u16, TestApp, String) {
    let keyspace = cql::fresh_keyspace("adopt").await;
    let prefix = format!("adopt_{}:", uuid::Uuid::new_v4().simple());
    let mut vars = deployment(
        Some(&keyspace),
        &prefix,
        "adopt-test-signing-key-0123456789abcdef",
    );
    vars.extend([
        ("QUESTPATH_WORKERS", "1".to_string()),
        ("QUESTPATH_SHUTDOWN_TIMEOUT_SECS", "2".to_string()),
        ("QUESTPATH_ROOM_LEASE_SECS", "3".to_string()),
    ]);
    questpath::adapters::scylla::migrate(&scylla_settings(&keyspace))
        .await
        .unwrap();
    let a_dir = tempfile::tempdir().unwrap();
    let mut a = BIN.serve(a_dir.path(), &borrowed(&vars)).hold(a_dir);
    let b = TestApp::builder().envs(&vars).configured().start().await;
    a.wait_healthy().await;
    let a_port = a.port;
    (a, a_port, b, keyspace)
}

async fn join_room(client: &mut WsClient, code: &str, name: &str) -> Value {
    client
        .send(json!({"type": "room.join", "code": code, "name": name}))
        .await;
    client.next_of("room.joined").await
}

#[actix_web::test]
async fn a_room_survives_the_death_of_its_instance() {
    let (a_process, a_port, b, keyspace) = process_and_instance().await;
    let a = Endpoint::local(a_port);
    // The room runs on the process; its host plays from the other instance.
    let (code, mut host) = hosted_room(&a, &b, 3).await;
    let near_token = b.learner().await;
    let mut near = b.connect(&near_token).await;
    join_room(&mut near, &code, "Near").await;
    let doomed_token = b.learner().await;
    let mut doomed = a.connect(&doomed_token).await;
    join_room(&mut doomed, &code, "Doomed").await;
    host.send(json!({"type": "room.start"})).await;
    for client in [&mut near, &mut doomed] {
        client.next_of("room.question").await;
        client
            .send(json!({"type": "room.answer", "question": 0, "option": "B"}))
            .await;
    }
    let before = near.next_of("room.your_result").await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The owner dies without a word.
    a_process.kill();
    let died = std::time::Instant::now();
    // Within the lease and a watch period, the other instance adopts the room and
    // tells its players where they stand.
    let state = tokio::time::timeout(Duration::from_secs(15), near.next_of("room.state"))
        .await
        .expect("room adopted");
    assert!(
        died.elapsed() < Duration::from_secs(6),
        "adopted after {:?}",
        died.elapsed()
    );
    assert_eq!(state["room"]["phase"], "reveal");
    assert_eq!(state["room"]["you"]["score"], before["score"]);
    // The dropped player comes back through the survivor with the same seat.
    let mut back = b.connect(&doomed_token).await;
    let joined = join_room(&mut back, &code, "Doomed").await;
    assert_eq!(joined["room"]["you"]["name"], "Doomed");
    assert!(joined["room"]["you"]["score"].as_u64().unwrap() >= 500);
    host.next_of("room.state").await;
    host.send(json!({"type": "room.next"})).await;
    for client in [&mut near, &mut back] {
        let question = client.next_of("room.question").await;
        assert_eq!(question["index"], 1);
        client
            .send(json!({"type": "room.answer", "question": 1, "option": "B"}))
            .await;
    }
    let after = near.next_of("room.your_result").await;
    assert_eq!(after["streak"], 2, "the streak survived the move");
    host.send(json!({"type": "room.end"})).await;
    let last = near.next_of("room.final").await;
    assert!(last["xp"].as_i64().unwrap() > 0);
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}

#[actix_web::test]
async fn a_draining_instance_hands_its_room_over() {
    let (a_process, a_port, b, keyspace) = process_and_instance().await;
    let a = Endpoint::local(a_port);
    // The room runs on the process; its host plays from the other instance.
    let (code, mut host) = hosted_room(&a, &b, 2).await;
    let player_token = b.learner().await;
    let mut player = a.connect(&player_token).await;
    join_room(&mut player, &code, "Mover").await;
    host.send(json!({"type": "room.start"})).await;
    player.next_of("room.question").await;
    player
        .send(json!({"type": "room.answer", "question": 0, "option": "B"}))
        .await;
    let before = player.next_of("room.your_result").await;

    // A deploy: SIGTERM. The room is saved and its code released before sockets close.
    a_process.signal("TERM");
    assert_eq!(player.closed_with().await, 1012, "told to reconnect");
    let mut back = b.connect(&player_token).await;
    let joined = join_room(&mut back, &code, "Mover").await;
    assert_eq!(joined["room"]["you"]["score"], before["score"]);
    assert_eq!(joined["room"]["phase"], "reveal");
    host.next_of("room.state").await;
    host.send(json!({"type": "room.next"})).await;
    let question = back.next_of("room.question").await;
    assert_eq!(question["index"], 1);
    drop(a_process);
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}
