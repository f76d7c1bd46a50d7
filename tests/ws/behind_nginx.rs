//! The deployment as operators run it: three instances of the real binary over Redis and
//! Cassandra behind Debian's nginx with `deploy/nginx/questpath.conf`. Learners sign in
//! and play through nginx only (a room with players on every instance, and solo quizzes)
//! while one instance is drained (SIGTERM) and then another killed (SIGKILL), each
//! mid-game and mid-quiz. Every client reconnects through nginx as docs/protocol.md tells
//! a client to (on 1012 or a dropped socket) and plays on where it was.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use questpath::ports::GoalStore;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use questpath_test_support::{
    Binary, Endpoint, Nginx, ServerProcess, Socket, TestUser, cql, http, redis_url, scylla_nodes,
    scylla_settings,
};

const BIN: Binary = Binary::new(env!("CARGO_BIN_EXE_questpath"));
const INSTANCES: usize = 3;
const ROOM_PLAYERS: usize = 6;
const QUIZZERS: usize = 3;
const ROOM_QUESTIONS: usize = 4;
/// Sign-ins per client address per minute: fewer than the learners, who all sign in
/// through nginx, so the limit holds only if each is counted under its own address.
const LOGIN_LIMIT: u64 = 3;
/// Requests without a token (the websocket upgrade is one) per client address per minute.
const ANONYMOUS_LIMIT: u64 = 20;
/// How long a client keeps reconnecting (a killed room owner's lease is 3 s).
const RECONNECT_DEADLINE: Duration = Duration::from_secs(20);
/// How long a client waits for one frame (an answer held while a room moves comes
/// within the killed owner's lease and a second).
const FRAME_WAIT: Duration = Duration::from_secs(10);

/// The instances and nginx; on a failing test, prints what they logged (warnings and
/// errors of each instance, nginx's error log), since their folders go with the test.
struct Deployment {
    instances: Vec<Option<ServerProcess>>,
    /// The logs of instances already gone.
    gone: Vec<(usize, Vec<String>)>,
    nginx: Nginx,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let mut logs = std::mem::take(&mut self.gone);
        for (i, instance) in self.instances.iter().enumerate() {
            if let Some(instance) = instance {
                logs.push((i, instance.stdout_lines()));
            }
        }
        for (i, lines) in logs {
            eprintln!("--- instance {i}: warnings, errors and rooms");
            let shown = |l: &&String| {
                l.contains("\"WARN\"") || l.contains("\"ERROR\"") || l.contains("room")
            };
            for line in lines.iter().filter(shown) {
                eprintln!("{line}");
            }
        }
        eprintln!("--- nginx error log\n{}", self.nginx.error_log());
    }
}

/// A frame read from a socket, or its end (a close code, if the server sent one).
#[derive(Debug)]
enum Frame {
    Json(Value),
    Closed(Option<u16>),
}

/// The next frame within `wait`; `None` when none came.
async fn recv(socket: &mut Socket, wait: Duration) -> Option<Frame> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return None,
            Ok(None | Some(Err(_))) => return Some(Frame::Closed(None)),
            Ok(Some(Ok(Message::Text(text)))) => {
                return Some(Frame::Json(serde_json::from_str(text.as_str()).unwrap()));
            }
            Ok(Some(Ok(Message::Close(close)))) => {
                return Some(Frame::Closed(close.map(|c| u16::from(c.code))));
            }
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Sums every sample of `name` (all label sets) in one instance's `/metrics`, read from
/// the instance itself (nginx does not serve it).
async fn metric(port: u16, name: &str) -> f64 {
    let text = http()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let value = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once("} ")?.1,
                None => rest.strip_prefix(' ')?,
            };
            value.trim().parse::<f64>().ok()
        })
        .sum()
}

/// `name` on each instance still alive (`None` for the others).
async fn metric_each(ports: &[Option<u16>], name: &str) -> Vec<Option<f64>> {
    let mut values = Vec::new();
    for port in ports {
        values.push(match port {
            Some(port) => Some(metric(*port, name).await),
            None => None,
        });
    }
    values
}

/// Waits until exactly one live instance runs a room; its index.
async fn room_owner(ports: &[Option<u16>]) -> usize {
    let started = Instant::now();
    loop {
        let rooms = metric_each(ports, "questpath_rooms").await;
        let owners: Vec<usize> = (0..rooms.len())
            .filter(|&i| rooms[i].is_some_and(|n| n >= 1.0))
            .collect();
        if let [owner] = owners[..] {
            return owner;
        }
        assert!(
            started.elapsed() < RECONNECT_DEADLINE,
            "no single room owner: {rooms:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback address of its own for client `n`: the instances see nginx's 127.0.0.1 as
/// the peer, and the client only through the `X-Forwarded-For` nginx adds.
fn client_address(n: u8) -> IpAddr {
    assert!(n > 1, "127.0.0.1 is nginx's own (trusted) address");
    IpAddr::from([127, 0, 0, n])
}

/// nginx, reached from `address`.
fn through(nginx: &Endpoint, address: IpAddr) -> Endpoint {
    http(); // installs the TLS crypto provider reqwest needs
    Endpoint {
        client: reqwest::Client::builder()
            .local_address(address)
            .build()
            .unwrap(),
        ..nginx.clone()
    }
}

/// A learner's client: every HTTP request and websocket goes through nginx from the
/// learner's own loopback address; nginx puts it in `X-Forwarded-For`, and the
/// instances, which trust 127.0.0.1 (`QUESTPATH_TRUSTED_PROXIES`), see the learner's
/// address rather than nginx's.
struct Learner {
    name: String,
    address: IpAddr,
    api: Endpoint,
    token: String,
    ws: Option<Socket>,
    /// The instance its first socket reached (from the instances' metrics).
    first_instance: usize,
    /// Reconnections after a drop.
    reconnects: u32,
}

impl Learner {
    /// Registers and signs in through nginx from `address`.
    async fn sign_in(nginx: &Endpoint, name: &str, address: IpAddr) -> Learner {
        let api = through(nginx, address);
        let user = TestUser::generate();
        api.register(&user).await;
        let session = api.login(&user).await;
        Learner {
            name: name.to_string(),
            address,
            api,
            token: session.access,
            ws: None,
            first_instance: usize::MAX,
            reconnects: 0,
        }
    }

    /// One attempt: a ticket and an upgrade through nginx, and the `hello`. A refusal
    /// by a rate limit fails the test at once (it would mean nginx's address is counted).
    async fn open(&mut self) -> Result<(), String> {
        let ticket = self
            .api
            .call(Method::POST, "/api/v1/ws/ticket", &self.token, None)
            .await;
        let status = ticket.status();
        assert_ne!(status, 429, "{}: ticket refused by a rate limit", self.name);
        if !status.is_success() {
            return Err(format!("ticket: {status}"));
        }
        let ticket: Value = ticket.json().await.unwrap();
        let url = format!(
            "ws://127.0.0.1:{}/api/v1/ws?ticket={}",
            self.api.port,
            ticket["ticket"].as_str().unwrap()
        );
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "questpath.v1".parse().unwrap());
        let tcp = tokio::net::TcpSocket::new_v4().unwrap();
        tcp.bind(SocketAddr::new(self.address, 0)).unwrap();
        let stream = tcp
            .connect(SocketAddr::from(([127, 0, 0, 1], self.api.port)))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let upgrade = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream));
        let (mut socket, _) = match upgrade.await {
            Ok(opened) => opened,
            Err(WsError::Http(response)) => {
                assert_ne!(
                    response.status(),
                    429,
                    "{}: upgrade refused by a rate limit",
                    self.name
                );
                return Err(format!("upgrade: {}", response.status()));
            }
            Err(e) => return Err(format!("upgrade: {e}")),
        };
        match recv(&mut socket, FRAME_WAIT).await {
            Some(Frame::Json(hello)) if hello["type"] == "hello" => {}
            other => return Err(format!("no hello: {other:?}")),
        }
        self.ws = Some(socket);
        Ok(())
    }

    /// Opens a socket, retrying (as a client does) until [`RECONNECT_DEADLINE`].
    async fn connect(&mut self) {
        let started = Instant::now();
        loop {
            match self.open().await {
                Ok(()) => return,
                Err(e) => assert!(
                    started.elapsed() < RECONNECT_DEADLINE,
                    "{} could not connect through nginx: {e}",
                    self.name
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn socket(&mut self) -> &mut Socket {
        let name = &self.name;
        self.ws
            .as_mut()
            .unwrap_or_else(|| panic!("{name} has no socket"))
    }

    async fn send(&mut self, frame: Value) {
        let name = self.name.clone();
        self.socket()
            .send(Message::text(frame.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{name}: send {frame}: {e}"));
    }

    /// Skips frames until one of `kind`; an error frame or a closed socket fails.
    async fn next_of(&mut self, kind: &str) -> Value {
        let name = self.name.clone();
        loop {
            match recv(self.socket(), FRAME_WAIT).await {
                Some(Frame::Json(frame)) if frame["type"] == kind => return frame,
                Some(Frame::Json(frame)) if frame["type"] == "error" => {
                    panic!("{name} waiting for {kind}: {frame}")
                }
                Some(Frame::Json(_)) => continue,
                Some(Frame::Closed(code)) => {
                    panic!("{name}: socket closed ({code:?}) while waiting for {kind}")
                }
                None => panic!("{name}: no {kind} within {FRAME_WAIT:?}"),
            }
        }
    }

    /// Whether the socket still answers a ping (`false`: nginx closed it, because the
    /// instance behind it went away).
    async fn alive(&mut self) -> bool {
        let socket = self.socket();
        // With an id: a host's earlier commands are answered with pongs too.
        let ping = json!({"type": "ping", "id": "alive"}).to_string();
        if socket.send(Message::text(ping)).await.is_err() {
            return false;
        }
        loop {
            match recv(socket, FRAME_WAIT).await {
                Some(Frame::Json(frame)) if frame["type"] == "pong" && frame["re"] == "alive" => {
                    return true;
                }
                Some(Frame::Json(_)) => continue,
                Some(Frame::Closed(_)) => return false,
                None => panic!("neither a pong nor a close within {FRAME_WAIT:?}"),
            }
        }
    }

    /// The `room.state` a player on a surviving instance gets, unasked, when the room
    /// moves (docs/protocol.md, "While a room moves").
    async fn told_state(&mut self) -> Value {
        self.next_of("room.state").await
    }

    /// Reads until the socket closes; the close code.
    async fn closed(&mut self) -> Option<u16> {
        let name = self.name.clone();
        loop {
            match recv(self.socket(), FRAME_WAIT).await {
                Some(Frame::Json(_)) => continue,
                Some(Frame::Closed(code)) => return code,
                None => panic!("{name}: socket not closed within {FRAME_WAIT:?}"),
            }
        }
    }

    /// Reconnects through nginx until a `wanted` frame arrives; with a room `code`, sends
    /// `room.join` once on every new socket (a join sent while a killed owner's lease
    /// runs is held and answered once the room is adopted), and again only after an
    /// `unavailable` error, as docs/protocol.md tells a client; any other error fails.
    async fn reconnect_until(&mut self, wanted: &str, code: Option<&str>) -> Value {
        let started = Instant::now();
        self.reconnects += 1;
        let mut last = String::new();
        loop {
            assert!(
                started.elapsed() < RECONNECT_DEADLINE,
                "{} found no {wanted} again within {RECONNECT_DEADLINE:?}: {last}",
                self.name
            );
            self.connect().await;
            let mut join =
                code.map(|code| json!({"type": "room.join", "id": "rejoin", "code": code}));
            loop {
                if let Some(join) = join.take() {
                    self.send(join).await;
                }
                match recv(self.socket(), FRAME_WAIT).await {
                    Some(Frame::Json(frame)) if frame["type"] == wanted => return frame,
                    Some(Frame::Json(frame)) if frame["type"] != "error" => continue,
                    Some(Frame::Json(error)) if error["code"] == "unavailable" => {
                        last = error.to_string()
                    }
                    Some(Frame::Json(error)) => {
                        panic!("{} waiting for {wanted}: {error}", self.name)
                    }
                    Some(Frame::Closed(code)) => {
                        last = format!("closed with {code:?}");
                        break;
                    }
                    // A quiz socket put on an instance that is going away: reconnect.
                    None if code.is_none() => {
                        last = format!("no {wanted} within {FRAME_WAIT:?}");
                        break;
                    }
                    None => panic!(
                        "{}: no answer to room.join within {FRAME_WAIT:?}",
                        self.name
                    ),
                }
                eprintln!("{} after {:?}: {last}", self.name, started.elapsed());
                assert!(
                    started.elapsed() < RECONNECT_DEADLINE,
                    "{} found no {wanted} again within {RECONNECT_DEADLINE:?}: {last}",
                    self.name
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
                join = code.map(|code| json!({"type": "room.join", "id": "rejoin", "code": code}));
            }
            eprintln!("{} after {:?}: {last}", self.name, started.elapsed());
        }
    }
}

/// A solo quiz in progress: its learner, level and the question open now.
struct Quiz {
    learner: Learner,
    level_id: String,
    reward: i64,
    quiz_id: Value,
    question: Value,
}

impl Quiz {
    /// Answers the open question right; the next question (or the result).
    async fn answer_right(&mut self, store: &impl GoalStore) -> Value {
        let level = uuid::Uuid::parse_str(&self.level_id).unwrap();
        let bank = store.questions(level).await.unwrap();
        let text = self.question["question"].as_str().unwrap();
        let found = bank.iter().find(|q| q.question == text).unwrap();
        let letter = ["A", "B", "C", "D"][found.answer as usize];
        let position = self.question["position"].as_i64().unwrap();
        self.learner
            .send(json!({"type": "quiz.answer", "position": position, "option": letter}))
            .await;
        let feedback = self.learner.next_of("quiz.feedback").await;
        assert_eq!(feedback["correct"], true, "{feedback}");
        if position == 4 {
            return self.learner.next_of("quiz.result").await;
        }
        self.question = self.learner.next_of("quiz.question").await;
        assert_eq!(self.question["position"], position + 1);
        assert_eq!(self.question["quiz_id"], self.quiz_id);
        self.question.clone()
    }

    /// After its socket went: reconnects and finds the same question open.
    async fn resume(&mut self) {
        let question = self.learner.reconnect_until("quiz.question", None).await;
        let name = &self.learner.name;
        assert_eq!(question["quiz_id"], self.quiz_id, "{name}: same quiz");
        assert_eq!(
            question["position"], self.question["position"],
            "{name}: same position"
        );
        assert_eq!(
            question["question"], self.question["question"],
            "{name}: same question"
        );
        self.question = question;
    }
}

/// A learner with a goal whose first level is ready for its quiz; the level.
async fn ready_for_quiz(learner: &Learner) -> Value {
    let goal_id = learner
        .api
        .create_goal(&learner.token, "Learn web development")
        .await;
    let goal: Value = learner
        .api
        .get_bearer(&format!("/api/v1/goals/{goal_id}"), &learner.token)
        .await
        .json()
        .await
        .unwrap();
    let level = goal["roadmap"]["levels"][0].clone();
    let level_id = level["id"].as_str().unwrap();
    for i in 0..level["topics"].as_array().unwrap().len() {
        let ticked = learner
            .api
            .call(
                Method::PUT,
                &format!("/api/v1/levels/{level_id}/topics/{i}"),
                &learner.token,
                Some(&json!({"completed": true})),
            )
            .await;
        assert_eq!(ticked.status(), 200);
    }
    level
}

/// The room's players: each answers question `index` right and sees its score.
async fn play_question(players: &mut [Learner], index: usize, score: u64) {
    for player in players.iter_mut() {
        player
            .send(json!({"type": "room.answer", "question": index, "option": "B"}))
            .await;
    }
    for player in players.iter_mut() {
        let ack = player.next_of("room.answer_ack").await;
        assert_eq!(ack["question"], index, "{}: {ack}", player.name);
    }
    for player in players.iter_mut() {
        let result = player.next_of("room.your_result").await;
        assert_eq!(result["question"], index);
        assert_eq!(result["correct"], true, "{}: {result}", player.name);
        assert_eq!(result["score"], score, "{}: {result}", player.name);
    }
}

/// What a REST prober saw: requests sent, and every answer that was not a 200.
#[derive(Default)]
struct Probed {
    sent: usize,
    failures: Vec<String>,
}

/// Reads `/api/v1/me` through nginx every 100 ms, for each learner in turn, until
/// aborted: REST must keep answering while instances go away.
fn rest_prober(
    learners: Vec<(Endpoint, String)>,
) -> (Arc<Mutex<Probed>>, tokio::task::JoinHandle<()>) {
    let probed = Arc::new(Mutex::new(Probed::default()));
    let seen = probed.clone();
    let handle = tokio::spawn(async move {
        for (api, token) in learners.iter().cycle() {
            let answer = api
                .client
                .get(api.url("/api/v1/me"))
                .bearer_auth(token)
                .send()
                .await;
            {
                let mut seen = seen.lock().unwrap();
                seen.sent += 1;
                match answer {
                    Ok(r) if r.status() == 200 => {}
                    Ok(r) => seen.failures.push(r.status().to_string()),
                    Err(e) => seen.failures.push(e.to_string()),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (probed, handle)
}

#[actix_web::test]
async fn three_instances_behind_nginx_keep_every_game_through_a_drain_and_a_kill() {
    let started = Instant::now();
    let stage = |what: &str| eprintln!("[{:>6.2?}] {what}", started.elapsed());
    let keyspace = cql::fresh_keyspace("test").await;
    questpath::adapters::scylla::migrate(&scylla_settings(&keyspace))
        .await
        .unwrap();
    let store = questpath::adapters::scylla::ScyllaStore::connect(&scylla_settings(&keyspace))
        .await
        .unwrap();
    let vars: Vec<(&str, String)> = vec![
        ("QUESTPATH_REDIS_URL", redis_url()),
        (
            "QUESTPATH_REDIS_PREFIX",
            format!("nginx_{}:", uuid::Uuid::new_v4().simple()),
        ),
        ("QUESTPATH_SCYLLA_NODES", scylla_nodes()),
        ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.clone()),
        ("QUESTPATH_SCYLLA_REPLICATION", "simple:1".into()),
        (
            "QUESTPATH_JWT_SECRET",
            "nginx-test-signing-key-0123456789abcdef".into(),
        ),
        ("QUESTPATH_TRUSTED_PROXIES", "127.0.0.1".into()),
        ("QUESTPATH_RATE_LIMIT_LOGIN", LOGIN_LIMIT.to_string()),
        ("QUESTPATH_RATE_LIMIT_REGISTER", "1000".into()),
        (
            "QUESTPATH_RATE_LIMIT_ANONYMOUS",
            ANONYMOUS_LIMIT.to_string(),
        ),
        ("QUESTPATH_ROOM_LEASE_SECS", "3".into()),
        // A killed instance's solo quizzes are taken over once their lease ran out.
        ("QUESTPATH_QUIZ_LEASE_SECS", "3".into()),
        ("QUESTPATH_SHUTDOWN_TIMEOUT_SECS", "2".into()),
        ("QUESTPATH_WORKERS", "1".into()),
        ("QUESTPATH_GENERATION_WORKERS", "1".into()),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut instances: Vec<Option<ServerProcess>> = (0..INSTANCES)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            Some(BIN.serve(dir.path(), &vars).hold(dir))
        })
        .collect();
    for instance in instances.iter_mut().flatten() {
        instance.wait_healthy().await;
    }
    let mut ports: Vec<Option<u16>> = instances.iter().flatten().map(|i| Some(i.port)).collect();
    let all_ports: Vec<u16> = ports.iter().flatten().copied().collect();
    let nginx = Nginx::start(&all_ports).await;
    let mut deployment = Deployment {
        instances,
        gone: Vec::new(),
        nginx,
    };
    let nginx = deployment.nginx.endpoint();
    let booted = started.elapsed();

    stage("nginx up");
    // nginx serves the API and keeps /metrics (scraped per instance) to itself.
    assert_eq!(nginx.get("/health").await.status(), 200);
    assert_eq!(nginx.get("/metrics").await.status(), 404);

    // X-Forwarded-For is believed from nginx: an address that guesses passwords is
    // refused after LOGIN_LIMIT tries, while everyone else, whose requests all reach the
    // instances from nginx's 127.0.0.1, still signs in below.
    let attacker = through(&nginx, client_address(66));
    for attempt in 0..=LOGIN_LIMIT {
        let refused = attacker.login_raw("nobody@example.org", "wrong").await;
        let expected = if attempt < LOGIN_LIMIT { 401 } else { 429 };
        assert_eq!(
            refused.status(),
            expected,
            "sign-in {attempt} from the attacker"
        );
    }
    // The same on the websocket route: an address that floods it is refused there, and
    // every learner's upgrade below still goes through (`open` fails on a 429).
    let flooder = through(&nginx, client_address(99));
    let mut flooded = false;
    for _ in 0..ANONYMOUS_LIMIT + 5 {
        let status = flooder.get("/api/v1/ws?ticket=none").await.status();
        if status == 429 {
            flooded = true;
            break;
        }
        assert_eq!(status, 401, "an upgrade without a valid ticket");
    }
    assert!(
        flooded,
        "{} upgrades from one address were not limited",
        ANONYMOUS_LIMIT + 5
    );

    // Learners sign in concurrently, each from its own address.
    let names: Vec<String> = std::iter::once("host".to_string())
        .chain((1..=ROOM_PLAYERS).map(|i| format!("P{i}")))
        .chain((1..=QUIZZERS).map(|i| format!("S{i}")))
        .collect();
    let mut learners = join_all(
        names
            .iter()
            .enumerate()
            .map(|(i, name)| Learner::sign_in(&nginx, name, client_address(i as u8 + 10))),
    )
    .await;
    let mut quizzers = learners.split_off(1 + ROOM_PLAYERS);
    let mut players = learners.split_off(1);
    let mut host = learners.pop().unwrap();
    let levels = join_all(quizzers.iter().map(ready_for_quiz)).await;
    let signed_in = started.elapsed();

    stage("signed in");
    // A room hosted through nginx, questions answered B, one point per right answer.
    let room: Value = host
        .api
        .call(
            Method::POST,
            "/api/v1/rooms",
            &host.token,
            Some(&json!({
                "scoring": "accuracy",
                "questions": (0..ROOM_QUESTIONS).map(|i| json!({
                    "question": format!("Q{i}"), "options": ["a", "b", "c"],
                    "correct_option": "B", "time_limit_secs": 60,
                })).collect::<Vec<_>>(),
            })),
        )
        .await
        .json()
        .await
        .unwrap();
    let code = room["code"].as_str().expect("room created").to_string();

    // Sockets open one at a time, so each instance's connection gauge tells where each
    // went. least_conn sends each to an instance with the fewest: the three quizzers go
    // to three instances, then each three players.
    let mut connected = 0.0;
    for learner in quizzers
        .iter_mut()
        .chain(players.iter_mut())
        .chain(std::iter::once(&mut host))
    {
        let before = metric_each(&ports, "questpath_ws_connections").await;
        learner.connect().await;
        connected += 1.0;
        let waited = Instant::now();
        learner.first_instance = loop {
            let now = metric_each(&ports, "questpath_ws_connections").await;
            if now.iter().flatten().sum::<f64>() == connected {
                break (0..INSTANCES).find(|&i| now[i] > before[i]).unwrap();
            }
            assert!(
                waited.elapsed() < FRAME_WAIT,
                "gauges {now:?}, {connected} sockets"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
    }
    for instance in 0..INSTANCES {
        let here = |group: &[Learner]| {
            group
                .iter()
                .filter(|l| l.first_instance == instance)
                .count()
        };
        assert!(
            here(&players) >= 1 && here(&quizzers) >= 1,
            "instance {instance} has {} room players and {} quizzers",
            here(&players),
            here(&quizzers)
        );
    }

    host.send(json!({"type": "room.join", "code": code})).await;
    assert_eq!(host.next_of("room.joined").await["room"]["role"], "host");
    let mut seats = Vec::new();
    for player in players.iter_mut() {
        let name = player.name.clone();
        player
            .send(json!({"type": "room.join", "code": code, "name": name}))
            .await;
        let joined = player.next_of("room.joined").await;
        assert_eq!(joined["room"]["you"]["name"], name.as_str());
        seats.push(joined["room"]["you"]["player_id"].clone());
    }
    let owner = room_owner(&ports).await;

    stage("connected");
    // Game: question 0 answered by all, question 1 open. Quizzes: at question 2.
    host.send(json!({"type": "room.start"})).await;
    for player in players.iter_mut() {
        assert_eq!(player.next_of("room.question").await["index"], 0);
    }
    play_question(&mut players, 0, 1000).await;
    host.next_of("room.question_closed").await;
    host.send(json!({"type": "room.next"})).await;
    for player in players.iter_mut() {
        assert_eq!(player.next_of("room.question").await["index"], 1);
    }
    let mut quizzes = Vec::new();
    for (mut learner, level) in quizzers.drain(..).zip(levels) {
        let level_id = level["id"].as_str().unwrap().to_string();
        learner
            .send(json!({"type": "quiz.start", "level_id": level_id}))
            .await;
        let question = learner.next_of("quiz.question").await;
        let mut quiz = Quiz {
            learner,
            level_id,
            reward: level["xp_reward"].as_i64().unwrap(),
            quiz_id: question["quiz_id"].clone(),
            question,
        };
        quiz.answer_right(&store).await;
        quiz.answer_right(&store).await;
        quizzes.push(quiz);
    }

    // REST through nginx from here to the end.
    let (probed, prober) = rest_prober(
        players
            .iter()
            .chain(quizzes.iter().map(|q| &q.learner))
            .map(|l| (l.api.clone(), l.token.clone()))
            .collect(),
    );

    stage("draining");
    // --- Drain the room's owner (a deploy): SIGTERM.
    let fault = Instant::now();
    let drained = owner;
    deployment.instances[drained]
        .as_ref()
        .unwrap()
        .signal("TERM");
    ports[drained] = None;
    let on = |learner: &Learner| learner.first_instance == drained;
    let mut moved = (0, 0);
    for learner in std::iter::once(&mut host)
        .chain(players.iter_mut())
        .chain(quizzes.iter_mut().map(|q| &mut q.learner))
        .filter(|l| on(l))
    {
        assert_eq!(
            learner.closed().await,
            Some(1012),
            "{}: told to reconnect",
            learner.name
        );
    }
    for quiz in quizzes.iter_mut().filter(|q| on(&q.learner)) {
        quiz.resume().await;
        moved.1 += 1;
    }
    for (player, seat) in players.iter_mut().zip(&seats) {
        let state = if on(player) {
            moved.0 += 1;
            player.reconnect_until("room.joined", Some(&code)).await
        } else {
            player.told_state().await
        };
        let room = &state["room"];
        assert_eq!(
            room["you"]["player_id"], *seat,
            "{}: same seat",
            player.name
        );
        assert_eq!(room["you"]["score"], 1000, "{}: score kept", player.name);
        assert_eq!(room["phase"], "question", "{}", player.name);
        assert_eq!(
            room["question"]["index"], 1,
            "{}: question 1 still open",
            player.name
        );
    }
    if on(&host) {
        let joined = host.reconnect_until("room.joined", Some(&code)).await;
        assert_eq!(joined["room"]["role"], "host");
    }
    let drained_after = fault.elapsed();
    let exit = deployment.instances[drained].as_mut().unwrap().wait();
    assert!(exit.success(), "drained instance exited with {exit}");
    let logs = deployment.instances[drained].take().unwrap().stdout_lines();
    deployment.gone.push((drained, logs));
    assert!(
        moved.0 >= 1 && moved.1 >= 1,
        "the drain moved {moved:?} players and quizzers"
    );

    stage("drain handled");
    // Play on: question 1 answered (streak bonus 100), question 2 open; quizzes at 3.
    play_question(&mut players, 1, 2100).await;
    host.next_of("room.question_closed").await;
    host.send(json!({"type": "room.next"})).await;
    for player in players.iter_mut() {
        assert_eq!(player.next_of("room.question").await["index"], 2);
    }
    for quiz in quizzes.iter_mut() {
        quiz.answer_right(&store).await;
    }

    stage("killing");
    // --- Kill the room's new owner: SIGKILL, no goodbye.
    let owner = room_owner(&ports).await;
    let fault = Instant::now();
    let killed = owner;
    let logs = deployment.instances[killed].take().unwrap().kill();
    deployment.gone.push((killed, logs));
    ports[killed] = None;
    // Sockets through the dead instance are closed by nginx; the others answer.
    let mut dropped = BTreeSet::new();
    for learner in std::iter::once(&mut host)
        .chain(players.iter_mut())
        .chain(quizzes.iter_mut().map(|q| &mut q.learner))
    {
        if !learner.alive().await {
            dropped.insert(learner.name.clone());
        }
    }
    let mut moved = (0, 0);
    for quiz in quizzes
        .iter_mut()
        .filter(|q| dropped.contains(&q.learner.name))
    {
        quiz.resume().await;
        moved.1 += 1;
    }
    for (player, seat) in players.iter_mut().zip(&seats) {
        let state = if dropped.contains(&player.name) {
            moved.0 += 1;
            player.reconnect_until("room.joined", Some(&code)).await
        } else {
            // Adopted by the survivor: its players are told where they stand.
            player.told_state().await
        };
        let room = &state["room"];
        assert_eq!(
            room["you"]["player_id"], *seat,
            "{}: same seat",
            player.name
        );
        assert_eq!(room["you"]["score"], 2100, "{}: score kept", player.name);
        assert_eq!(
            room["question"]["index"], 2,
            "{}: question 2 still open",
            player.name
        );
    }
    if dropped.contains(&host.name) {
        let joined = host.reconnect_until("room.joined", Some(&code)).await;
        assert_eq!(joined["room"]["role"], "host");
    }
    let killed_after = fault.elapsed();
    assert!(
        moved.0 >= 1 && moved.1 >= 1,
        "the kill moved {moved:?} players and quizzers"
    );

    stage("kill handled");
    // To the end on the last instance.
    play_question(&mut players, 2, 3300).await;
    host.next_of("room.question_closed").await;
    host.send(json!({"type": "room.next"})).await;
    for player in players.iter_mut() {
        assert_eq!(player.next_of("room.question").await["index"], 3);
    }
    play_question(&mut players, 3, 4600).await;
    host.next_of("room.question_closed").await;
    host.send(json!({"type": "room.next"})).await;
    let mut finals = Vec::new();
    for player in players.iter_mut() {
        let last = player.next_of("room.final").await;
        assert_eq!(last["score"], 4600, "{}: {last}", player.name);
        assert_eq!(last["correct"], ROOM_QUESTIONS);
        finals.push(last["xp"].as_i64().unwrap());
    }
    host.next_of("room.ended").await;
    for quiz in quizzes.iter_mut() {
        quiz.answer_right(&store).await;
        let result = quiz.answer_right(&store).await;
        assert_eq!(result["passed"], true, "{}: {result}", quiz.learner.name);
        assert_eq!(result["correct"], 5);
        assert_eq!(result["xp_earned"], quiz.reward, "{}", quiz.learner.name);
        assert_eq!(
            result["total_xp"], quiz.reward,
            "{}: XP once",
            quiz.learner.name
        );
    }

    stage("games over");
    // XP through the ledger exactly once, read through nginx.
    let total_xp = |learner: &Learner| {
        let (api, token) = (learner.api.clone(), learner.token.clone());
        async move {
            let me: Value = api
                .get_bearer("/api/v1/me", &token)
                .await
                .json()
                .await
                .unwrap();
            me["total_xp"].as_i64().unwrap()
        }
    };
    for quiz in &quizzes {
        assert_eq!(total_xp(&quiz.learner).await, quiz.reward);
    }
    for (player, xp) in players.iter().zip(&finals) {
        assert!(*xp > 0);
        let waited = Instant::now();
        while total_xp(player).await < *xp {
            assert!(
                waited.elapsed() < FRAME_WAIT,
                "{}: room XP not granted",
                player.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(total_xp(player).await, *xp, "{}: room XP once", player.name);
    }

    prober.abort();
    let (probes, failures) = {
        let probed = probed.lock().unwrap();
        (probed.sent, probed.failures.clone())
    };
    assert!(
        failures.is_empty(),
        "REST through nginx failed: {failures:?}"
    );
    assert!(probes >= 20, "only {probes} REST probes");
    let reconnects: u32 = players
        .iter()
        .chain(quizzes.iter().map(|q| &q.learner))
        .chain(std::iter::once(&host))
        .map(|l| l.reconnects)
        .sum();
    eprintln!(
        "behind nginx: booted in {booted:?}, signed in by {signed_in:?}; drain handled in \
         {drained_after:?}, kill in {killed_after:?}; {reconnects} reconnects, {probes} REST probes; total {:?}",
        started.elapsed()
    );
    // nginx's access log: each learner's own address, and every instance served some.
    let log = deployment.nginx.access_log();
    for learner in players.iter().chain(std::iter::once(&host)) {
        assert!(
            log.contains(&format!("{} ", learner.address)),
            "{}",
            learner.name
        );
    }
    for port in all_ports {
        assert!(
            log.contains(&format!(" 127.0.0.1:{port} ")),
            "nothing went to {port}"
        );
    }
    drop(deployment);
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}
