//! The `questpath` binary as an operator runs it: configuration errors, start-up on
//! the embedded default, graceful shutdown, `migrate`, and switching backends.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use questpath_test_support::{
    Binary, ServerProcess, cql, free_port, http, redis_settings, redis_url, run, scylla_nodes,
};

mod audit;
mod redis_cluster;
mod store;

/// The binary under test (Cargo names it to this package's tests only).
const BIN: Binary = Binary::new(env!("CARGO_BIN_EXE_questpath"));

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
        let out = run(&mut BIN.command(dir.path(), &[(name, value)]));
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

    let out = run(&mut BIN.command(dir.path(), &[("QUESTPATH_ENV", "production")]));

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("QUESTPATH_JWT_SECRET"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1);
}

#[test]
fn a_bad_env_file_value_is_reported_like_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "QUESTPATH_BIND=nowhere\n").unwrap();

    let out = run(&mut BIN.command(dir.path(), &[]));

    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("QUESTPATH_BIND"));
}

#[test]
fn migrate_without_scylla_has_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();

    let out = run(BIN.command(dir.path(), &[]).arg("migrate"));

    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to migrate"));
}

#[tokio::test]
async fn serves_on_the_embedded_default_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = BIN.serve(dir.path(), &[]);

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
    let mut server = BIN.serve(dir.path(), &[]);
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
    let mut server = BIN.serve(dir.path(), &[("QUESTPATH_LOG_FORMAT", "pretty")]);
    server.wait_healthy().await;

    let (status, lines) = server.terminate();

    assert!(status.success());
    assert!(lines.iter().any(|l| l.contains("starting questpath")));
    assert!(serde_json::from_str::<serde_json::Value>(&lines[0]).is_err());
}

#[tokio::test]
async fn redis_alone_switches_the_shared_ports() {
    let dir = tempfile::tempdir().unwrap();
    let redis = redis_url();
    let prefix = format!("cli_{}:", uuid::Uuid::new_v4().simple());
    let mut server = BIN.serve(
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

/// A redis-server of the test's own, with the given extra arguments; killed when dropped.
struct OwnRedis {
    child: std::process::Child,
    url: String,
}

impl OwnRedis {
    fn start(args: &[&str]) -> OwnRedis {
        let port = free_port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test installs it from Debian)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnRedis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_refuses_a_redis_that_may_evict_keys() {
    let dir = tempfile::tempdir().unwrap();
    let redis = OwnRedis::start(&["--maxmemory-policy", "allkeys-lru"]);

    let refused = run(BIN
        .command(dir.path(), &[("QUESTPATH_REDIS_URL", &redis.url)])
        .arg("serve"));

    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("maxmemory-policy is allkeys-lru") && stderr.contains("noeviction"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_refuses_an_unmigrated_keyspace_until_migrate_runs() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = scylla_nodes();
    let keyspace = cql::fresh_keyspace("cli").await;
    let vars = [
        ("QUESTPATH_SCYLLA_NODES", nodes.as_str()),
        ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.as_str()),
        ("QUESTPATH_SCYLLA_REPLICATION", "simple:1"),
    ];

    let refused = run(BIN.command(dir.path(), &vars).arg("serve"));
    let first = run(BIN.command(dir.path(), &vars).arg("migrate"));
    let again = run(BIN.command(dir.path(), &vars).arg("migrate"));
    let mut server = BIN.serve(dir.path(), &vars);
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
    let mut server = BIN.serve(dir.path(), &[("QUESTPATH_LOG", "debug")]);
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
    let nodes = scylla_nodes();
    let keyspace = cql::fresh_keyspace("cli").await;
    let vars = [
        ("QUESTPATH_SCYLLA_NODES", nodes.as_str()),
        ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.as_str()),
        ("QUESTPATH_SCYLLA_REPLICATION", "simple:1"),
    ];
    assert!(
        run(BIN.command(dir.path(), &vars).arg("migrate"))
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

    let refused = run(BIN.command(dir.path(), &vars).arg("serve"));
    let migrated = run(BIN.command(dir.path(), &vars).arg("migrate"));
    let mut server = BIN.serve(dir.path(), &vars);
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

/// A learner ready for their first level's quiz on a running server; returns the token,
/// the level id and its reward.
/// Takes the level's quiz through the legacy routes and submits a pass; returns the
/// submit's answer.
pub(crate) async fn pass_level(
    server: &ServerProcess,
    token: &str,
    level_id: &str,
) -> serde_json::Value {
    let client = http();
    client
        .get(server.url(&format!("/levels/{level_id}/quiz")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    client
        .post(server.url(&format!("/levels/{level_id}/quiz/submit")))
        .bearer_auth(token)
        .json(&serde_json::json!({"score": 100, "passed": true, "time_taken": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn learner_ready_for_quiz(server: &ServerProcess) -> (String, String, i64) {
    let (token, level, _) = server.learner_ready_for_quiz().await;
    let level_id = level["id"].as_str().unwrap().to_string();
    (token, level_id, level["xp_reward"].as_i64().unwrap())
}

/// Kills the server at `point` in the middle of an XP grant, restarts it, and checks
/// that the ledger, the profile and the leaderboard agree and the grant counted once.
async fn crash_during_grant_then_recover(point: &str) {
    let dir = tempfile::tempdir().unwrap();
    let redis = redis_url();
    let prefix = format!("crash_{}:", uuid::Uuid::new_v4().simple());
    let base = [
        ("QUESTPATH_REDIS_URL", redis.as_str()),
        ("QUESTPATH_REDIS_PREFIX", prefix.as_str()),
    ];
    let mut crashing: Vec<(&str, &str)> = base.to_vec();
    crashing.push(("QUESTPATH_FAULT_CRASH_AT", point));
    let mut server = BIN.serve(dir.path(), &crashing);
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
    let status = server.wait();
    assert_eq!(status.code(), Some(137), "crashed at {point}");

    // Restart on the same data and Redis, without the fault.
    let mut restarted = BIN.serve(dir.path(), &base);
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
    let redis_port = questpath::adapters::redis::Redis::connect(&redis_settings(&prefix))
        .await
        .unwrap();
    use questpath::ports::Leaderboard;
    let board = redis_port.leaderboard();
    let entry = board.entry(questpath::xp::ALL_TIME, user_id).await.unwrap();
    // Passing again the same day is a repass (a tenth), never a second first pass.
    let again = pass_level(&restarted, &token, &level_id).await;
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
    let nodes = scylla_nodes();
    let redis = redis_url();
    let keyspace = cql::fresh_keyspace("cli").await;
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
        run(BIN.command(dir.path(), &shared).arg("migrate"))
            .status
            .success()
    );
    // The front generates nothing itself...
    let mut front_vars = shared.to_vec();
    front_vars.push(("QUESTPATH_GENERATION_WORKERS", "0"));
    let mut front = BIN.serve(dir.path(), &front_vars);
    front.wait_healthy().await;
    let client = http();
    let token = front.learner().await;
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
    let mut worker = BIN.worker(dir.path(), &shared);
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

#[tokio::test]
async fn a_worker_serves_its_metrics_under_the_metrics_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut worker = BIN.worker(dir.path(), &[("QUESTPATH_METRICS_TOKEN", "scrape-me")]);

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

    let out = run(BIN
        .command(
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
    let redis = redis_url();
    let prefix = format!("rebuild_{}:", uuid::Uuid::new_v4().simple());
    let vars = [
        ("QUESTPATH_REDIS_URL", redis.as_str()),
        ("QUESTPATH_REDIS_PREFIX", prefix.as_str()),
    ];
    let mut server = BIN.serve(dir.path(), &vars);
    server.wait_healthy().await;
    let (token, level_id, reward) = learner_ready_for_quiz(&server).await;
    let client = http();
    let submitted = pass_level(&server, &token, &level_id).await;
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
    let redis_port = questpath::adapters::redis::Redis::connect(&redis_settings(&prefix))
        .await
        .unwrap();
    use questpath::ports::Leaderboard;
    let board = redis_port.leaderboard();
    board.clear(questpath::xp::ALL_TIME).await.unwrap();
    assert_eq!(
        board.entry(questpath::xp::ALL_TIME, user_id).await.unwrap(),
        None
    );
    let rebuilt = run(BIN
        .command(dir.path(), &vars)
        .args(["leaderboard", "rebuild"]));
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
        run(BIN
            .command(dir.path(), &vars)
            .args(["leaderboard", "archive", "--week", "2026-W40"]));
    assert!(
        archived.status.success(),
        "{}",
        String::from_utf8_lossy(&archived.stderr)
    );
    let refused =
        run(BIN
            .command(dir.path(), &vars)
            .args(["leaderboard", "archive", "--week", "soon"]));
    assert_eq!(refused.status.code(), Some(2));
    redis_port.shutdown().await;
}
