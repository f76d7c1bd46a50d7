//! What a player sends while a room moves between instances reaches the room
//! (docs/protocol.md, "While a room moves"): a `room.join` sent while a killed owner's
//! lease still runs is answered once the room is adopted, and a player on a third
//! instance is told the state (and answered) when the room moves to an instance whose
//! actor does not listen yet, and what no room takes is answered `unavailable` after the
//! lease and a margin. A room's first owner is the real binary when it must be killed or
//! drained; the others run in this process over the same Redis and CQL, some with a bus
//! double that delays or swallows rooms' commands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use questpath::backends::Backends;
use questpath::ports::{Bus, BusSubscription, PortResult};
use questpath_test_support::{
    Binary, Endpoint, ServerProcess, TestApp, WsClient, cql, http, redis_url, scylla_nodes,
    scylla_settings, test_settings,
};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const BIN: Binary = Binary::new(env!("CARGO_BIN_EXE_questpath"));
/// The room lease of every instance: a dead owner's room is adopted after it.
const LEASE_SECS: u64 = 3;

/// The variables of one deployment: the test Redis under a fresh prefix, a fresh
/// migrated keyspace, 3-second room leases. Returns them and the keyspace.
async fn deployment() -> (Vec<(&'static str, String)>, String) {
    let keyspace = cql::fresh_keyspace("moves").await;
    questpath::adapters::scylla::migrate(&scylla_settings(&keyspace))
        .await
        .unwrap();
    let vars = vec![
        ("QUESTPATH_REDIS_URL", redis_url()),
        (
            "QUESTPATH_REDIS_PREFIX",
            format!("moves_{}:", uuid::Uuid::new_v4().simple()),
        ),
        (
            "QUESTPATH_JWT_SECRET",
            "moves-test-signing-key-0123456789abcdef".to_string(),
        ),
        ("QUESTPATH_SCYLLA_NODES", scylla_nodes()),
        ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.clone()),
        ("QUESTPATH_SCYLLA_REPLICATION", "simple:1".to_string()),
        ("QUESTPATH_WORKERS", "1".to_string()),
        ("QUESTPATH_SHUTDOWN_TIMEOUT_SECS", "2".to_string()),
        ("QUESTPATH_ROOM_LEASE_SECS", LEASE_SECS.to_string()),
    ];
    (vars, keyspace)
}

/// The real binary, healthy.
async fn process(vars: &[(&'static str, String)]) -> (ServerProcess, Endpoint) {
    let dir = tempfile::tempdir().unwrap();
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut process = BIN.serve(dir.path(), &borrowed).hold(dir);
    process.wait_healthy().await;
    let endpoint = Endpoint::local(process.port);
    (process, endpoint)
}

/// A bus whose subscriptions to rooms' command topics take `delay`: an instance whose
/// adopted room is not listening yet for a while after it took the room.
struct SlowRoomInbox {
    inner: Arc<dyn Bus>,
    delay: Duration,
}

#[async_trait]
impl Bus for SlowRoomInbox {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> PortResult<()> {
        self.inner.ping().await
    }

    async fn publish(&self, topic: &str, payload: &[u8]) -> PortResult<()> {
        self.inner.publish(topic, payload).await
    }

    async fn subscribe(&self, topic: &str) -> PortResult<BusSubscription> {
        if topic.ends_with(":commands") {
            tokio::time::sleep(self.delay).await;
        }
        self.inner.subscribe(topic).await
    }
}

/// A bus on which rooms' command topics never deliver anything: an owner that lives
/// (and keeps its lease) but never hears other instances.
struct DeafRoomInbox {
    inner: Arc<dyn Bus>,
}

#[async_trait]
impl Bus for DeafRoomInbox {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> PortResult<()> {
        self.inner.ping().await
    }

    async fn publish(&self, topic: &str, payload: &[u8]) -> PortResult<()> {
        self.inner.publish(topic, payload).await
    }

    async fn subscribe(&self, topic: &str) -> PortResult<BusSubscription> {
        if topic.ends_with(":commands") {
            let (sender, receiver) = tokio::sync::mpsc::channel(1);
            // Kept open: the subscription just stays silent.
            std::mem::forget(sender);
            return Ok(BusSubscription {
                topic: topic.to_string(),
                receiver,
            });
        }
        self.inner.subscribe(topic).await
    }
}

/// An instance in this process over the deployment's Redis and CQL, whose bus is slow
/// to subscribe to rooms' commands.
async fn slow_inbox_instance(vars: &[(&'static str, String)], delay: Duration) -> TestApp {
    instance_with_bus(vars, |inner| Arc::new(SlowRoomInbox { inner, delay })).await
}

/// An instance in this process over the deployment's Redis and CQL, its bus wrapped.
async fn instance_with_bus(
    vars: &[(&'static str, String)],
    wrap: impl FnOnce(Arc<dyn Bus>) -> Arc<dyn Bus>,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let settings = test_settings(dir.path(), &borrowed);
    let mut backends = Backends::connect(&settings).await.unwrap();
    backends.bus = wrap(backends.bus.clone());
    TestApp::builder()
        .envs(vars)
        .backends(move |_| backends)
        .start()
        .await
}

/// A room of `questions` questions (answer `B`, a minute each) created through `owner`
/// by a new learner; its code and the host's token.
async fn room(owner: &Endpoint, questions: usize) -> (String, String) {
    let host_token = owner.learner().await;
    let questions: Vec<Value> = (0..questions)
        .map(|i| json!({"question": format!("Q{i}"), "options": ["a", "b", "c"], "correct_option": "B", "time_limit_secs": 60}))
        .collect();
    let room: Value = owner
        .call(
            reqwest::Method::POST,
            "/api/v1/rooms",
            &host_token,
            Some(&json!({"questions": questions, "allow_guests": true})),
        )
        .await
        .json()
        .await
        .unwrap();
    (room["code"].as_str().unwrap().to_string(), host_token)
}

/// A frame a test waits for: what it is called, and how it is recognised.
type Wanted<'a> = (&'a str, &'a dyn Fn(&Value) -> bool);

/// One frame for each of `wanted`, in whatever order they come, within `within`.
async fn frames_where(
    client: &mut WsClient,
    within: Duration,
    wanted: &[Wanted<'_>],
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    let mut found: Vec<Option<Value>> = vec![None; wanted.len()];
    while found.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        let missing: Vec<&str> = wanted
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|((what, _), _)| *what)
            .collect();
        let frame = tokio::time::timeout(left, client.socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {missing:?} within {within:?}"))
            .expect("socket open")
            .expect("valid frame");
        if let Message::Text(text) = frame {
            let frame: Value = serde_json::from_str(text.as_str()).unwrap();
            if let Some(i) =
                (0..wanted.len()).find(|&i| found[i].is_none() && (wanted[i].1)(&frame))
            {
                found[i] = Some(frame);
            }
        }
    }
    found.into_iter().map(Option::unwrap).collect()
}

/// The answer to the frame sent with id `re`.
async fn answer_to(client: &mut WsClient, re: &str, within: Duration) -> Value {
    client
        .next_where(within, &format!("answer to {re}"), |f| f["re"] == re)
        .await
}

async fn join(client: &mut WsClient, code: &str, name: &str) -> Value {
    client
        .send(json!({"type": "room.join", "id": "join", "code": code, "name": name}))
        .await;
    let joined = answer_to(client, "join", Duration::from_secs(5)).await;
    assert_eq!(joined["type"], "room.joined", "{joined}");
    joined
}

/// Long enough for a dead owner's lease to lapse and the room to be adopted.
fn adoption_wait() -> Duration {
    Duration::from_secs(LEASE_SECS + 6)
}

#[actix_web::test]
async fn a_join_sent_while_a_killed_owners_lease_runs_is_answered() {
    let (vars, keyspace) = deployment().await;
    let (owner, a) = process(&vars).await;
    let b = TestApp::builder().envs(&vars).configured().start().await;
    let (code, host_token) = room(&a, 2).await;
    let mut host = b.connect(&host_token).await;
    join(&mut host, &code, "Host").await;
    let near_token = b.learner().await;
    let mut near = b.connect(&near_token).await;
    join(&mut near, &code, "Near").await;
    let doomed_token = b.learner().await;
    let mut doomed = a.connect(&doomed_token).await;
    join(&mut doomed, &code, "Doomed").await;
    host.send(json!({"type": "room.start"})).await;
    for client in [&mut near, &mut doomed] {
        client.next_of("room.question").await;
        client
            .send(json!({"type": "room.answer", "id": "a0", "question": 0, "option": "B"}))
            .await;
        answer_to(client, "a0", Duration::from_secs(5)).await;
    }

    // The owner dies without a word; its lease runs for three more seconds.
    owner.kill();
    let died = Instant::now();
    // A newcomer and the dropped player join through the survivor at once.
    let late_token = b.learner().await;
    let mut late = b.connect(&late_token).await;
    late.send(json!({"type": "room.join", "id": "late", "code": code, "name": "Late"}))
        .await;
    let mut back = b.connect(&doomed_token).await;
    back.send(json!({"type": "room.join", "id": "rejoin", "code": code}))
        .await;
    assert!(
        died.elapsed() < Duration::from_secs(LEASE_SECS),
        "the joins were sent while the lease ran"
    );

    let joined = answer_to(&mut late, "late", adoption_wait()).await;
    assert_eq!(joined["type"], "room.joined", "{joined}");
    assert_eq!(joined["room"]["you"]["name"], "Late");
    let rejoined = answer_to(&mut back, "rejoin", adoption_wait()).await;
    assert_eq!(rejoined["type"], "room.joined", "{rejoined}");
    assert_eq!(rejoined["room"]["you"]["name"], "Doomed");
    assert!(rejoined["room"]["you"]["score"].as_u64().unwrap() >= 500);
    let state = near
        .next_where(adoption_wait(), "room.state", |f| f["type"] == "room.state")
        .await;
    assert_eq!(state["room"]["phase"], "reveal");

    // Play on: everyone who answers is answered.
    host.send(json!({"type": "room.next", "id": "next"})).await;
    answer_to(&mut host, "next", Duration::from_secs(5)).await;
    for client in [&mut near, &mut back, &mut late] {
        let question = client.next_of("room.question").await;
        assert_eq!(question["index"], 1);
        client
            .send(json!({"type": "room.answer", "id": "a1", "question": 1, "option": "B"}))
            .await;
        let answered = answer_to(client, "a1", Duration::from_secs(5)).await;
        assert_ne!(answered["type"], "error", "{answered}");
    }
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}

#[actix_web::test]
async fn a_player_elsewhere_is_told_the_state_when_the_room_moves_to_an_instance_not_listening_yet()
{
    let (vars, keyspace) = deployment().await;
    let (mut owner, a) = process(&vars).await;
    // B adopts the room, but its actor hears commands only 4 s after B took the room.
    let b = slow_inbox_instance(&vars, Duration::from_secs(4)).await;
    let c = TestApp::builder().envs(&vars).configured().start().await;
    let (code, host_token) = room(&a, 2).await;
    let mut host = a.connect(&host_token).await;
    join(&mut host, &code, "Host").await;
    let far_token = c.learner().await;
    let mut far = c.connect(&far_token).await;
    let seat = join(&mut far, &code, "Far").await["room"]["you"]["player_id"].clone();
    host.send(json!({"type": "room.start"})).await;
    far.next_of("room.question").await;
    far.send(json!({"type": "room.answer", "id": "a0", "question": 0, "option": "B"}))
        .await;
    let [answered, result]: [Value; 2] = frames_where(
        &mut far,
        Duration::from_secs(5),
        &[
            ("answer to a0", &|f| f["re"] == "a0"),
            ("room.your_result", &|f| f["type"] == "room.your_result"),
        ],
    )
    .await
    .try_into()
    .unwrap();
    assert_ne!(answered["type"], "error", "{answered}");
    let score = result["score"].clone();

    // A deploy: the owner drains and releases the room; B takes it at once (a guest
    // pass looks the code up, which adopts the room).
    owner.signal("TERM");
    let guests = format!("{}/api/v1/rooms/{code}/guests", b.address);
    let drained = Instant::now();
    loop {
        let status = http()
            .post(&guests)
            .json(&json!({"name": "Guest"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 201 {
            break;
        }
        assert!(
            drained.elapsed() < Duration::from_secs(10),
            "the room was not adopted: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What the player on C asks now reaches the room wherever it runs, and the room's
    // move ends in a room.state for the player, unasked.
    far.send(json!({"type": "room.state", "id": "ask"})).await;
    let [asked, told]: [Value; 2] = frames_where(
        &mut far,
        adoption_wait(),
        &[
            ("answer to ask", &|f| f["re"] == "ask"),
            ("room.state without re", &|f| {
                f["type"] == "room.state" && f["re"].is_null()
            }),
        ],
    )
    .await
    .try_into()
    .unwrap();
    assert_eq!(asked["type"], "room.state", "{asked}");
    assert_eq!(asked["room"]["you"]["player_id"], seat);
    assert_eq!(asked["room"]["you"]["score"], score);
    assert_eq!(told["room"]["you"]["player_id"], seat);
    assert_eq!(told["room"]["you"]["score"], score);
    assert!(owner.wait().success());
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}

#[actix_web::test]
async fn a_command_no_room_takes_is_answered_unavailable_after_the_lease_and_a_margin() {
    let (vars, keyspace) = deployment().await;
    // The owner lives and keeps its lease, but never hears other instances.
    let deaf = instance_with_bus(&vars, |inner| Arc::new(DeafRoomInbox { inner })).await;
    let b = TestApp::builder().envs(&vars).configured().start().await;
    let (code, host_token) = room(&deaf, 1).await;
    let mut host = deaf.connect(&host_token).await;
    join(&mut host, &code, "Host").await;

    let player_token = b.learner().await;
    let mut player = b.connect(&player_token).await;
    let sent = Instant::now();
    player
        .send(json!({"type": "room.join", "id": "join", "code": code, "name": "Unheard"}))
        .await;
    let hold = Duration::from_secs(LEASE_SECS) + questpath_actors::room::relay::HOLD_MARGIN;
    let refused = answer_to(&mut player, "join", hold + Duration::from_secs(5)).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert!(sent.elapsed() >= hold, "refused after {:?}", sent.elapsed());
    // The refused join left the room (its next room.join is a join again): the
    // connection is told at once that it is in no room.
    player
        .send(json!({"type": "room.state", "id": "where"}))
        .await;
    let nowhere = answer_to(&mut player, "where", Duration::from_secs(2)).await;
    assert_eq!(nowhere["code"], "not_in_room", "{nowhere}");
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}

/// The chaos run's Redis restart: a live room's directory entry and saved game were lost
/// with the master's keys, and a relay on another instance that looked the room up in
/// that moment told its players the room was gone (`unavailable`) while the game went on
/// without them. A relay that heard from the room lately (its batches, its beats every
/// 2 s) waits for the owner to list the room again.
#[actix_web::test]
async fn a_live_room_that_lost_its_directory_entry_is_not_closed_elsewhere() {
    let (vars, keyspace) = deployment().await;
    let a = TestApp::builder().envs(&vars).configured().start().await;
    let b = TestApp::builder().envs(&vars).configured().start().await;
    let (code, host_token) = room(&a, 2).await;
    let mut host = a.connect(&host_token).await;
    join(&mut host, &code, "Host").await;
    let player_token = b.learner().await;
    let mut player = b.connect(&player_token).await;
    join(&mut player, &code, "Far").await;
    host.send(json!({"type": "room.start", "id": "start"}))
        .await;
    answer_to(&mut host, "start", Duration::from_secs(5)).await;
    player.next_of("room.question").await;

    // The entry and the saved game vanish, again and again for 4 s (longer than the
    // relays' look-ups every 1.5 s), as if the owner's refreshes met the restarting node.
    let dir = tempfile::tempdir().unwrap();
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cache = Backends::connect(&test_settings(dir.path(), &borrowed))
        .await
        .unwrap()
        .cache;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        for key in [format!("room-code:{code}"), format!("room-snapshot:{code}")] {
            cache.delete(&key).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The far player is still in the game: not told it ended, and answered.
    player
        .send(json!({"type": "room.answer", "id": "a0", "question": 0, "option": "B"}))
        .await;
    let answered = player
        .next_where(Duration::from_secs(5), "the answer's ack", |f| {
            assert_ne!(f["type"], "room.ended", "closed while alive: {f}");
            f["re"] == "a0"
        })
        .await;
    assert_eq!(answered["type"], "room.answer_ack", "{answered}");
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}
