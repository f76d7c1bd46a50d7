//! The `questpath` binary as an operator runs it: configuration errors, start-up on
//! the embedded default, graceful shutdown, `migrate`, and switching backends.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../support/cql.rs"]
mod cql;
mod store;

const BIN: &str = env!("CARGO_BIN_EXE_questpath");

/// The binary with a clean environment and a working directory without `.env`.
fn questpath(dir: &Path, vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .current_dir(dir)
        .env("QUESTPATH_DATA_DIR", dir.join("data"));
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// An HTTP client (rustls needs its crypto provider installed first).
fn http() -> reqwest::Client {
    questpath::tls::install_crypto_provider();
    reqwest::Client::new()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn required_env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the suite with scripts/test"))
}

/// A server process, killed if the test fails before stopping it.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path, vars: &[(&str, &str)]) -> Server {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let mut all = vars.to_vec();
        all.push(("QUESTPATH_BIND", &bind));
        all.push(("QUESTPATH_SHUTDOWN_TIMEOUT_SECS", "5"));
        let child = questpath(dir, &all)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start questpath");
        Server { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Polls `/health` until it answers; returns how long that took.
    async fn wait_healthy(&mut self) -> Duration {
        let started = Instant::now();
        let client = http();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err)
                    .unwrap();
                panic!("server exited with {status}: {err}");
            }
            if let Ok(r) = client.get(self.url("/health")).send().await
                && r.status() == 200
            {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server did not answer /health within 30 s");
    }

    /// Sends SIGTERM and waits for the exit; returns the status and stdout lines.
    fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = self.child.stdout.take().unwrap();
        let lines = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        (status, lines)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run questpath")
}

#[test]
fn each_bad_configuration_value_exits_2_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        ("QUESTPATH_BIND", "localhost"),
        ("QUESTPATH_SCYLLA_NODES", "no-port-here"),
        ("QUESTPATH_REDIS_URL", "memcached://127.0.0.1"),
        ("QUESTPATH_LOG_FORMAT", "yaml"),
        ("QUESTPATH_ENV", "staging"),
        ("QUESTPATH_WORKERS", "many"),
    ];
    for (name, value) in cases {
        let out = run(&mut questpath(dir.path(), &[(name, value)]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}={value}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(name), "names {name}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn production_without_a_signing_key_exits_2() {
    let dir = tempfile::tempdir().unwrap();

    let out = run(&mut questpath(
        dir.path(),
        &[("QUESTPATH_ENV", "production")],
    ));

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("QUESTPATH_JWT_SECRET"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1);
}

#[test]
fn a_bad_env_file_value_is_reported_like_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "QUESTPATH_BIND=nowhere\n").unwrap();

    let out = run(&mut questpath(dir.path(), &[]));

    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("QUESTPATH_BIND"));
}

#[test]
fn migrate_without_scylla_has_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();

    let out = run(questpath(dir.path(), &[]).arg("migrate"));

    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to migrate"));
}

#[tokio::test]
async fn serves_on_the_embedded_default_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);

    server.wait_healthy().await;
    let ready = http().get(server.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let (status, lines) = server.terminate();

    assert!(status.success(), "exit status {status}");
    let first: serde_json::Value = serde_json::from_str(&lines[0]).expect("JSON log line");
    assert_eq!(first["message"], "starting questpath");
    let backends = first["backends"].as_str().unwrap();
    assert!(backends.contains("store=embedded"), "{backends}");
    assert!(backends.contains("cache=in-process"), "{backends}");
    assert!(lines.iter().any(|l| l.contains("shutdown complete")));
    // The development signing key was generated in the data folder.
    assert!(dir.path().join("data").join("jwt-secret.dev").exists());
    assert!(dir.path().join("data").join("questpath.redb").exists());
}

#[tokio::test]
async fn logs_carry_the_request_id_of_their_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    server.wait_healthy().await;

    http()
        .get(server.url("/ready"))
        .header("X-Request-Id", "trace-me-42")
        .send()
        .await
        .unwrap();
    let (_, lines) = server.terminate();

    let line = lines
        .iter()
        .find(|l| l.contains("trace-me-42"))
        .expect("a log line with the request id");
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(json["span"]["request_id"], "trace-me-42");
    assert_eq!(json["span"]["route"], "/ready");
    assert_eq!(json["status"], 200);
}

#[tokio::test]
async fn pretty_logs_are_not_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[("QUESTPATH_LOG_FORMAT", "pretty")]);
    server.wait_healthy().await;

    let (status, lines) = server.terminate();

    assert!(status.success());
    assert!(lines.iter().any(|l| l.contains("starting questpath")));
    assert!(serde_json::from_str::<serde_json::Value>(&lines[0]).is_err());
}

#[tokio::test]
async fn redis_alone_switches_the_shared_ports() {
    let dir = tempfile::tempdir().unwrap();
    let redis = required_env("QUESTPATH_TEST_REDIS_URL");
    let prefix = format!("cli_{}:", uuid::Uuid::new_v4().simple());
    let mut server = Server::start(
        dir.path(),
        &[
            ("QUESTPATH_REDIS_URL", &redis),
            ("QUESTPATH_REDIS_PREFIX", &prefix),
        ],
    );
    server.wait_healthy().await;

    let ready: serde_json::Value = http()
        .get(server.url("/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, _) = server.terminate();

    assert_eq!(ready["status"], "ready", "{ready}");
    let backend = |i: usize| ready["checks"][i]["backend"].as_str().unwrap().to_string();
    assert_eq!(backend(0), "embedded");
    for i in 1..6 {
        assert_eq!(backend(i), "redis");
    }
    assert!(status.success());
}

#[tokio::test]
async fn serve_refuses_an_unmigrated_keyspace_until_migrate_runs() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = required_env("QUESTPATH_TEST_SCYLLA_NODES");
    let keyspace = cql::keyspace_name("cli");
    cql::sweep_stale(&nodes).await;
    let vars = [
        ("QUESTPATH_SCYLLA_NODES", nodes.as_str()),
        ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.as_str()),
        ("QUESTPATH_SCYLLA_REPLICATION", "simple:1"),
    ];

    let refused = run(questpath(dir.path(), &vars).arg("serve"));
    let first = run(questpath(dir.path(), &vars).arg("migrate"));
    let again = run(questpath(dir.path(), &vars).arg("migrate"));
    let mut server = Server::start(dir.path(), &vars);
    server.wait_healthy().await;
    let ready: serde_json::Value = http()
        .get(server.url("/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, _) = server.terminate();

    let refused_err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{refused_err}");
    assert!(refused_err.contains("questpath migrate"), "{refused_err}");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(again.status.success(), "migrate is idempotent");
    assert!(String::from_utf8_lossy(&again.stdout).contains("schema version"));
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["checks"][0]["backend"], "scylla");
    assert_eq!(ready["checks"][1]["backend"], "in-process");
    assert!(status.success());
    cql::drop_keyspace(&nodes, &keyspace).await;
}

#[tokio::test]
async fn passwords_tokens_and_tickets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[("QUESTPATH_LOG", "debug")]);
    server.wait_healthy().await;
    let client = http();
    let email = format!("logged-{}@example.org", uuid::Uuid::new_v4().simple());
    let password = "secret-password-do-not-log";
    let wrong = "wrong-password-do-not-log";

    let register: serde_json::Value = client
        .post(server.url("/api/v1/auth/register"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = register["access_token"].as_str().unwrap().to_string();
    let failed = client
        .post(server.url("/auth/login"))
        .form(&[("username", email.as_str()), ("password", wrong)])
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 401);
    let login = client
        .post(server.url("/auth/login"))
        .form(&[("username", email.as_str()), ("password", password)])
        .send()
        .await
        .unwrap();
    let refresh_cookie = login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let refresh = refresh_cookie
        .trim_start_matches("refresh_token=")
        .to_string();
    let refreshed: serde_json::Value = client
        .post(server.url("/auth/refresh"))
        .header("Cookie", &refresh_cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket: serde_json::Value = client
        .post(server.url("/api/v1/ws/ticket"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, lines) = server.terminate();
    let logs = lines.join("\n");

    assert!(
        logs.contains("account created"),
        "the flow was logged at all"
    );
    assert!(logs.contains("failed sign-in"));
    let secrets = [
        password.to_string(),
        wrong.to_string(),
        access,
        refresh,
        refreshed["access_token"].as_str().unwrap().to_string(),
        ticket["ticket"].as_str().unwrap().to_string(),
    ];
    for secret in secrets {
        assert!(!secret.is_empty());
        assert!(
            !logs.contains(&secret),
            "a secret reached the logs: {secret}"
        );
    }
}

#[tokio::test]
async fn serve_refuses_a_keyspace_older_than_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = required_env("QUESTPATH_TEST_SCYLLA_NODES");
    let keyspace = cql::keyspace_name("cli");
    cql::sweep_stale(&nodes).await;
    let vars = [
        ("QUESTPATH_SCYLLA_NODES", nodes.as_str()),
        ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.as_str()),
        ("QUESTPATH_SCYLLA_REPLICATION", "simple:1"),
    ];
    assert!(
        run(questpath(dir.path(), &vars).arg("migrate"))
            .status
            .success()
    );
    // Pretend the keyspace was migrated by an older release.
    let session = scylla::client::session_builder::SessionBuilder::new()
        .known_nodes(nodes.split(','))
        .build()
        .await
        .unwrap();
    let older = questpath::adapters::scylla::SCHEMA_VERSION - 1;
    session
        .query_unpaged(
            format!(
                "UPDATE {keyspace}.schema_version SET version = ? WHERE component = 'questpath'"
            ),
            (older,),
        )
        .await
        .unwrap();

    let refused = run(questpath(dir.path(), &vars).arg("serve"));
    let migrated = run(questpath(dir.path(), &vars).arg("migrate"));
    let mut server = Server::start(dir.path(), &vars);
    server.wait_healthy().await;
    let (status, _) = server.terminate();

    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("schema version {older}")),
        "{stderr}"
    );
    assert!(stderr.contains("questpath migrate"), "{stderr}");
    assert!(migrated.status.success());
    assert!(status.success());
    cql::drop_keyspace(&nodes, &keyspace).await;
}

/// A new learner on a running server; returns their access token.
async fn register(server: &Server) -> String {
    let email = format!("cli-{}@example.org", uuid::Uuid::new_v4().simple());
    let registered: serde_json::Value = http()
        .post(server.url("/api/v1/auth/register"))
        .json(&serde_json::json!({"email": email, "password": "a long password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    registered["access_token"].as_str().unwrap().to_string()
}

/// A learner ready for their first level's quiz on a running server; returns the token,
/// the level id and its reward.
async fn learner_ready_for_quiz(server: &Server) -> (String, String, i64) {
    let client = http();
    let token = register(server).await;
    let goal: serde_json::Value = client
        .post(server.url("/goals"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"description": "Learn web development"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let level = &goal["roadmap"]["levels"][0];
    let level_id = level["id"].as_str().unwrap().to_string();
    for i in 0..level["topics"].as_array().unwrap().len() {
        client
            .put(server.url(&format!("/api/v1/levels/{level_id}/topics/{i}")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"completed": true}))
            .send()
            .await
            .unwrap();
    }
    (token, level_id, level["xp_reward"].as_i64().unwrap())
}

/// Kills the server at `point` in the middle of an XP grant, restarts it, and checks
/// that the ledger, the profile and the leaderboard agree and the grant counted once.
async fn crash_during_grant_then_recover(point: &str) {
    let dir = tempfile::tempdir().unwrap();
    let redis = required_env("QUESTPATH_TEST_REDIS_URL");
    let prefix = format!("crash_{}:", uuid::Uuid::new_v4().simple());
    let base = [
        ("QUESTPATH_REDIS_URL", redis.as_str()),
        ("QUESTPATH_REDIS_PREFIX", prefix.as_str()),
    ];
    let mut crashing: Vec<(&str, &str)> = base.to_vec();
    crashing.push(("QUESTPATH_FAULT_CRASH_AT", point));
    let mut server = Server::start(dir.path(), &crashing);
    server.wait_healthy().await;
    let (token, level_id, reward) = learner_ready_for_quiz(&server).await;
    let client = http();
    client
        .get(server.url(&format!("/levels/{level_id}/quiz")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();

    let submit = client
        .post(server.url(&format!("/levels/{level_id}/quiz/submit")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"score": 100, "passed": true, "time_taken": 0}))
        .send()
        .await;
    assert!(submit.is_err(), "the server died mid-grant");
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(137), "crashed at {point}");

    // Restart on the same data and Redis, without the fault.
    let mut restarted = Server::start(dir.path(), &base);
    restarted.wait_healthy().await;
    // Recovery runs in the background from start-up: give it a moment.
    let started = Instant::now();
    let me: serde_json::Value = loop {
        let me: serde_json::Value = client
            .get(restarted.url("/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if me["total_xp"] == reward || started.elapsed() > Duration::from_secs(5) {
            break me;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let user_id = uuid::Uuid::parse_str(me["id"].as_str().unwrap()).unwrap();
    let redis_port =
        questpath::adapters::redis::Redis::connect(&questpath::config::RedisSettings {
            url: questpath::config::Secret::new(redis.clone()),
            prefix: prefix.clone(),
        })
        .await
        .unwrap();
    use questpath::ports::Leaderboard;
    let board = redis_port.leaderboard();
    let entry = board.entry(questpath::xp::ALL_TIME, user_id).await.unwrap();
    // Passing again the same day is a repass (a tenth), never a second first pass.
    client
        .get(restarted.url(&format!("/levels/{level_id}/quiz")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let again: serde_json::Value = client
        .post(restarted.url(&format!("/levels/{level_id}/quiz/submit")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"score": 100, "passed": true, "time_taken": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    redis_port.shutdown().await;
    let (status, _) = restarted.terminate();

    assert_eq!(
        me["total_xp"], reward,
        "profile = ledger after recovery ({point})"
    );
    assert_eq!(
        entry.map(|e| e.score),
        Some(reward),
        "leaderboard = ledger after recovery ({point})"
    );
    assert_eq!(again["xp_earned"], (reward / 10).max(1));
    assert!(status.success());
}

#[tokio::test]
async fn a_crash_after_the_ledger_write_is_completed_on_restart() {
    crash_during_grant_then_recover("xp.after_ledger").await;
}

#[tokio::test]
async fn a_crash_after_the_profile_write_is_completed_on_restart() {
    crash_during_grant_then_recover("xp.after_profile").await;
}

#[tokio::test]
async fn a_separate_worker_process_generates_roadmaps_for_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = required_env("QUESTPATH_TEST_SCYLLA_NODES");
    let redis = required_env("QUESTPATH_TEST_REDIS_URL");
    let keyspace = cql::keyspace_name("cli");
    cql::sweep_stale(&nodes).await;
    let prefix = format!("worker_{}:", uuid::Uuid::new_v4().simple());
    let shared = [
        ("QUESTPATH_SCYLLA_NODES", nodes.as_str()),
        ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.as_str()),
        ("QUESTPATH_SCYLLA_REPLICATION", "simple:1"),
        ("QUESTPATH_REDIS_URL", redis.as_str()),
        ("QUESTPATH_REDIS_PREFIX", prefix.as_str()),
        (
            "QUESTPATH_JWT_SECRET",
            "worker-test-signing-key-0123456789abcdef",
        ),
    ];
    assert!(
        run(questpath(dir.path(), &shared).arg("migrate"))
            .status
            .success()
    );
    // The front generates nothing itself...
    let mut front_vars = shared.to_vec();
    front_vars.push(("QUESTPATH_GENERATION_WORKERS", "0"));
    let mut front = Server::start(dir.path(), &front_vars);
    front.wait_healthy().await;
    let client = http();
    let token = register(&front).await;
    let created: serde_json::Value = client
        .post(front.url("/api/v1/goals"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"description": "Master Python"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_path = format!("/api/v1/jobs/{}", created["job"]["id"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waiting: serde_json::Value = client
        .get(front.url(&job_path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // ...until a worker process starts.
    let mut worker = WorkerProcess::start(dir.path(), &shared);
    let started = Instant::now();
    let done = loop {
        let job: serde_json::Value = client
            .get(front.url(&job_path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if job["status"] == "done" || started.elapsed() > Duration::from_secs(20) {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The attempt is counted where it ran: in the worker, which also times its store
    // and Redis calls.
    let done_attempts =
        r#"questpath_job_duration_seconds_count{outcome="done",queue="roadmaps"} 1"#;
    let mut scraped = String::new();
    for _ in 0..50 {
        scraped = worker.scrape(None).await.text().await.unwrap();
        if scraped.contains(done_attempts) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let worker_status = worker.terminate();
    let (front_status, _) = front.terminate();

    assert_eq!(waiting["status"], "queued", "no worker in the front");
    assert_eq!(done["status"], "done", "{done}");
    assert!(done["goal_id"].is_string());
    assert!(scraped.contains(done_attempts), "{scraped}");
    for family in [
        "questpath_store_operations_total{",
        "questpath_redis_operations_total{",
        "questpath_job_queue_depth{",
    ] {
        assert!(scraped.contains(family), "{family} missing:\n{scraped}");
    }
    assert!(
        worker_status.success(),
        "the worker stops cleanly on SIGTERM"
    );
    assert!(front_status.success());
    cql::drop_keyspace(&nodes, &keyspace).await;
}

/// A `questpath worker` process with its metrics on a free loopback port, killed if the
/// test fails before stopping it.
struct WorkerProcess {
    child: Child,
    metrics_url: String,
}

impl WorkerProcess {
    fn start(dir: &Path, vars: &[(&str, &str)]) -> WorkerProcess {
        let bind = format!("127.0.0.1:{}", free_port());
        let mut all = vars.to_vec();
        all.push(("QUESTPATH_WORKER_METRICS_BIND", &bind));
        let child = questpath(dir, &all)
            .arg("worker")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start questpath worker");
        WorkerProcess {
            child,
            metrics_url: format!("http://{bind}/metrics"),
        }
    }

    /// Waits until the listener accepts connections.
    async fn wait_listening(&mut self) {
        let address = self.metrics_url["http://".len()..].trim_end_matches("/metrics");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err)
                    .unwrap();
                panic!("worker exited with {status}: {err}");
            }
            if std::net::TcpStream::connect(address).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the worker did not listen on {address} within 30 s");
    }

    async fn scrape(&mut self, token: Option<&str>) -> reqwest::Response {
        self.wait_listening().await;
        let request = http().get(&self.metrics_url);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
        .await
        .unwrap()
    }

    /// Sends SIGTERM and waits for the exit.
    fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test]
async fn a_worker_serves_its_metrics_under_the_metrics_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut worker = WorkerProcess::start(dir.path(), &[("QUESTPATH_METRICS_TOKEN", "scrape-me")]);

    let bare = worker.scrape(None).await;
    let wrong = worker.scrape(Some("scrape-mE")).await;
    let right = worker.scrape(Some("scrape-me")).await;
    let other = http()
        .get(worker.metrics_url.replace("/metrics", "/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(bare.headers()["www-authenticate"], "Bearer");
    assert_eq!(wrong.status(), 401);
    assert_eq!(right.status(), 200);
    assert_eq!(
        right.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(other.status(), 404, "/metrics only");
    let text = right.text().await.unwrap();
    let status = worker.terminate();

    for expected in [
        // Sampled from the queue at scrape time, and created at 0. Job durations appear
        // with the first attempt (a_separate_worker_process_generates_roadmaps_for_the_server).
        r#"questpath_job_queue_depth{queue="roadmaps"} 0"#,
        r#"questpath_jobs_dead_lettered_total{queue="roadmaps"} 0"#,
        "questpath_build_info{commit=",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    for process in [
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(process)),
            "{process}missing:\n{text}"
        );
    }
    // A worker serves no HTTP API or websockets: those families stay out.
    for absent in [
        "http_request",
        "questpath_ws_",
        "questpath_quiz",
        "questpath_rooms",
    ] {
        assert!(!text.contains(absent), "{absent} exposed:\n{text}");
    }
    assert!(
        status.success(),
        "the worker stops cleanly on SIGTERM: {status}"
    );
}

#[test]
fn a_worker_whose_metrics_address_is_taken_exits_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();

    let out = run(questpath(
        dir.path(),
        &[("QUESTPATH_WORKER_METRICS_BIND", address.as_str())],
    )
    .arg("worker"));

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("QUESTPATH_WORKER_METRICS_BIND"), "{stderr}");
    assert!(stderr.contains(&address), "{stderr}");
}

#[tokio::test]
async fn leaderboard_rebuild_restores_a_lost_board_from_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let redis = required_env("QUESTPATH_TEST_REDIS_URL");
    let prefix = format!("rebuild_{}:", uuid::Uuid::new_v4().simple());
    let vars = [
        ("QUESTPATH_REDIS_URL", redis.as_str()),
        ("QUESTPATH_REDIS_PREFIX", prefix.as_str()),
    ];
    let mut server = Server::start(dir.path(), &vars);
    server.wait_healthy().await;
    let (token, level_id, reward) = learner_ready_for_quiz(&server).await;
    let client = http();
    client
        .get(server.url(&format!("/levels/{level_id}/quiz")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let submitted: serde_json::Value = client
        .post(server.url(&format!("/levels/{level_id}/quiz/submit")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"score": 100, "passed": true, "time_taken": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(submitted["xp_earned"], reward);
    let me: serde_json::Value = client
        .get(server.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_id = uuid::Uuid::parse_str(me["id"].as_str().unwrap()).unwrap();
    let (status, _) = server.terminate();
    assert!(status.success());

    // Redis loses everything (this deployment's keys).
    let redis_port =
        questpath::adapters::redis::Redis::connect(&questpath::config::RedisSettings {
            url: questpath::config::Secret::new(redis.clone()),
            prefix: prefix.clone(),
        })
        .await
        .unwrap();
    use questpath::ports::Leaderboard;
    let board = redis_port.leaderboard();
    board.clear(questpath::xp::ALL_TIME).await.unwrap();
    assert_eq!(
        board.entry(questpath::xp::ALL_TIME, user_id).await.unwrap(),
        None
    );
    let rebuilt = run(questpath(dir.path(), &vars).args(["leaderboard", "rebuild"]));
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let after = board.entry(questpath::xp::ALL_TIME, user_id).await.unwrap();
    assert_eq!(
        after.map(|e| e.score),
        Some(reward),
        "rebuilt from the ledger"
    );

    // Archiving a finished week works by hand too; a bad week is a usage error.
    let archived =
        run(questpath(dir.path(), &vars).args(["leaderboard", "archive", "--week", "2026-W40"]));
    assert!(
        archived.status.success(),
        "{}",
        String::from_utf8_lossy(&archived.stderr)
    );
    let refused =
        run(questpath(dir.path(), &vars).args(["leaderboard", "archive", "--week", "soon"]));
    assert_eq!(refused.status.code(), Some(2));
    redis_port.shutdown().await;
}
