//! The embedded store as an operator handles it: `backup` while the server writes,
//! `restore`, and what a clean stop and a crash leave for the next start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use questpath::adapters::embedded::EmbeddedStore;
use questpath::ports::store::RoomResult;
use questpath::ports::{RoomResultStore, UserStore, XpStore};

use questpath_test_support::{ServerProcess, http, run};

use super::BIN;

const SECRET: &str = "backup-test-signing-key-0123456789abcdef";

/// Generous limits: the test registers and plays as fast as it can.
const VARS: &[(&str, &str)] = &[
    ("QUESTPATH_JWT_SECRET", SECRET),
    ("QUESTPATH_RATE_LIMIT_REGISTER", "100000"),
    ("QUESTPATH_RATE_LIMIT_LOGIN", "100000"),
    ("QUESTPATH_RATE_LIMIT_ANONYMOUS", "100000"),
    ("QUESTPATH_RATE_LIMIT_READS", "100000"),
    ("QUESTPATH_RATE_LIMIT_WRITES", "100000"),
];

/// Fills the store in `data` with about `megabytes` of room results (one transaction
/// each, as the server writes them), and closes it.
async fn fill(data: &Path, megabytes: usize) {
    let store = EmbeddedStore::open(data).await.unwrap();
    let chunk = "x".repeat(1024);
    for _ in 0..megabytes {
        let now = chrono::Utc::now();
        let answers: Vec<&str> = std::iter::repeat_n(chunk.as_str(), 1000).collect();
        store
            .save_room_result(&RoomResult {
                room_id: uuid::Uuid::now_v7(),
                code: "FILLER".into(),
                host_id: uuid::Uuid::now_v7(),
                title: "filler".into(),
                created_at: now,
                ended_at: now,
                end_reason: "finished".into(),
                players: 1000,
                results: serde_json::json!({ "answers": answers }),
            })
            .await
            .unwrap();
    }
    store.close().await;
}

/// The JSON log lines with this message.
fn logged(lines: &[String], message: &str) -> Vec<serde_json::Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|json| json["message"] == message)
        .collect()
}

async fn register_email(server: &ServerProcess, email: &str) -> String {
    let response = http()
        .post(server.url("/api/v1/auth/register"))
        .json(&serde_json::json!({"email": email, "password": "a long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "register {email}");
    let json: serde_json::Value = response.json().await.unwrap();
    json["access_token"].as_str().unwrap().to_string()
}

async fn sign_in(server: &ServerProcess, email: &str) -> reqwest::StatusCode {
    http()
        .post(server.url("/auth/login"))
        .form(&[("username", email), ("password", "a long password")])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_clean_stop_leaves_a_store_that_opens_without_a_repair() {
    let dir = tempfile::tempdir().unwrap();
    fill(&dir.path().join("data"), 48).await;
    let mut server = BIN.serve(dir.path(), VARS);
    server.wait_healthy().await;
    register_email(&server, "clean@example.org").await;
    let (status, first_run) = server.terminate();
    assert!(status.success());

    let mut again = BIN.serve(dir.path(), VARS);
    again.wait_healthy().await;
    let signed_in = sign_in(&again, "clean@example.org").await;
    let (_, second_run) = again.terminate();

    assert_eq!(logged(&first_run, "embedded store closed").len(), 1);
    for run in [&first_run, &second_run] {
        let opened = logged(run, "embedded store opened");
        assert_eq!(opened.len(), 1, "{run:?}");
        assert_eq!(opened[0]["repaired"], false, "{}", opened[0]);
        assert!(opened[0]["size_bytes"].as_u64().unwrap() > 48 << 20);
        eprintln!("opened without a repair: {}", opened[0]);
        assert!(
            logged(
                run,
                "embedded store was not closed cleanly: repairing it (reads the whole file)"
            )
            .is_empty()
        );
    }
    assert_eq!(signed_in, 200);
}

#[tokio::test]
async fn a_crash_is_repaired_at_the_next_start_and_the_repair_is_logged_with_its_duration() {
    let dir = tempfile::tempdir().unwrap();
    fill(&dir.path().join("data"), 48).await;
    let mut server = BIN.serve(dir.path(), VARS);
    server.wait_healthy().await;
    register_email(&server, "crash@example.org").await;
    server.kill();

    let mut again = BIN.serve(dir.path(), VARS);
    again.wait_healthy().await;
    let signed_in = sign_in(&again, "crash@example.org").await;
    let (status, lines) = again.terminate();

    let repairing = logged(
        &lines,
        "embedded store was not closed cleanly: repairing it (reads the whole file)",
    );
    assert_eq!(repairing.len(), 1, "{lines:?}");
    assert_eq!(repairing[0]["level"], "WARN");
    assert!(repairing[0]["size_bytes"].as_u64().unwrap() > 48 << 20);
    let repaired = logged(&lines, "embedded store repaired");
    assert_eq!(repaired.len(), 1);
    assert!(repaired[0]["duration_ms"].is_u64(), "{}", repaired[0]);
    eprintln!("repair: {}", repaired[0]);
    assert_eq!(logged(&lines, "embedded store opened")[0]["repaired"], true);
    assert_eq!(signed_in, 200, "the account written before the crash");
    assert!(status.success());
}

/// One learner's writes, each with when its request was sent and answered.
#[derive(Clone, Debug)]
struct Learner {
    email: String,
    token: String,
    sent: Instant,
    answered: Instant,
    /// (grant id, XP, sent, answered) of every passed level.
    grants: Vec<(String, i64, Instant, Instant)>,
}

/// Registers learners and passes their levels one after another until `stop`.
async fn play(server_url: String, stop: Arc<AtomicBool>, learners: Arc<Mutex<Vec<Learner>>>) {
    let client = http();
    let url = |path: &str| format!("{server_url}{path}");
    while !stop.load(Ordering::SeqCst) {
        let email = format!("load-{}@example.org", uuid::Uuid::new_v4().simple());
        let sent = Instant::now();
        let registered: serde_json::Value = client
            .post(url("/api/v1/auth/register"))
            .json(&serde_json::json!({"email": email, "password": "a long password"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = registered["access_token"].as_str().unwrap().to_string();
        let index = {
            let mut learners = learners.lock().unwrap();
            learners.push(Learner {
                email,
                token: token.clone(),
                sent,
                answered: Instant::now(),
                grants: Vec::new(),
            });
            learners.len() - 1
        };
        let goal: serde_json::Value = client
            .post(url("/goals"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"description": "Learn web development"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for level in goal["roadmap"]["levels"].as_array().unwrap() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let level_id = level["id"].as_str().unwrap();
            for i in 0..level["topics"].as_array().unwrap().len() {
                client
                    .put(url(&format!("/api/v1/levels/{level_id}/topics/{i}")))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"completed": true}))
                    .send()
                    .await
                    .unwrap();
            }
            client
                .get(url(&format!("/levels/{level_id}/quiz")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let sent = Instant::now();
            let submitted: serde_json::Value = client
                .post(url(&format!("/levels/{level_id}/quiz/submit")))
                .bearer_auth(&token)
                .json(&serde_json::json!({"score": 100, "passed": true, "time_taken": 0}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let xp = submitted["xp_earned"]
                .as_i64()
                .expect("a first pass earns XP");
            learners.lock().unwrap()[index].grants.push((
                format!("level:{level_id}:first-pass"),
                xp,
                sent,
                Instant::now(),
            ));
        }
    }
}

/// What the restored store holds of one learner.
struct Restored {
    total_xp: i64,
    ledger: HashMap<String, i64>,
    pending: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_write_load_restores_every_learner_with_xp_equal_to_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    // Enough data that the snapshot takes a while to copy.
    fill(&dir.path().join("data"), 64).await;
    // The access log is left out: nothing reads the server's output until it stops, and
    // a full pipe would stall it.
    let mut quiet = VARS.to_vec();
    quiet.push(("QUESTPATH_LOG", "warn,questpath::adapters::embedded=info"));
    let mut server = BIN.serve(dir.path(), &quiet);
    server.wait_healthy().await;
    let stop = Arc::new(AtomicBool::new(false));
    let learners = Arc::new(Mutex::new(Vec::new()));
    let players: Vec<_> = (0..4)
        .map(|_| tokio::spawn(play(server.url(""), stop.clone(), learners.clone())))
        .collect();
    // Some grants first, then the backup while the players go on.
    let warm = Instant::now();
    while learners
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.grants.len())
        .sum::<usize>()
        < 8
    {
        assert!(warm.elapsed() < Duration::from_secs(60), "no grants");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let backup_file = dir.path().join("backup.redb");
    let backup_started = Instant::now();
    let out = {
        let mut command = BIN.command(dir.path(), VARS);
        command.arg("backup").arg(&backup_file);
        tokio::task::spawn_blocking(move || run(&mut command))
            .await
            .unwrap()
    };
    let backup_ended = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for player in players {
        player.await.unwrap();
    }
    let (status, server_log) = server.terminate();
    assert!(status.success());
    let written = logged(&server_log, "backup written");
    assert_eq!(written.len(), 1, "{server_log:?}");
    eprintln!("{}", written[0]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("taken by the running server"), "{stdout}");
    eprintln!(
        "backup took {:?}: {}",
        backup_ended - backup_started,
        stdout.lines().last().unwrap_or_default()
    );
    let learners = learners.lock().unwrap().clone();
    // The server went on writing while the snapshot was copied.
    let written_meanwhile = learners
        .iter()
        .flat_map(|l| &l.grants)
        .filter(|(_, _, sent, answered)| *sent > backup_started && *answered < backup_ended)
        .count();
    eprintln!("grants written during the backup: {written_meanwhile}");
    assert!(written_meanwhile > 0, "the backup held the writers up");

    let restored_dir = tempfile::tempdir().unwrap();
    let restored_data = restored_dir.path().join("data");
    let restore = run(BIN
        .command(restored_dir.path(), VARS)
        .arg("restore")
        .arg(&backup_file));
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );

    // Read the restored store as it was restored, before any server touches it.
    let store = EmbeddedStore::open(&restored_data).await.unwrap();
    let mut restored: HashMap<String, Restored> = HashMap::new();
    let mut users_with_ledger = 0;
    for learner in &learners {
        let Some(user) = store.user_by_email(&learner.email).await.unwrap() else {
            continue;
        };
        let ledger: HashMap<String, i64> = store
            .xp_entries(user.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.grant_id, e.amount))
            .collect();
        users_with_ledger += usize::from(!ledger.is_empty());
        let pending = store.xp_pending(user.id).await.unwrap().len();
        restored.insert(
            learner.email.clone(),
            Restored {
                total_xp: user.total_xp,
                ledger,
                pending,
            },
        );
    }
    store.close().await;

    for learner in &learners {
        let found = restored.get(&learner.email);
        // Everything committed before the backup started is in it...
        if learner.answered < backup_started {
            let found = found.unwrap_or_else(|| panic!("{} lost", learner.email));
            for (grant, xp, _, answered) in &learner.grants {
                if *answered < backup_started {
                    assert_eq!(found.ledger.get(grant), Some(xp), "{grant} lost");
                }
            }
        }
        // ...and nothing asked for after it ended.
        if learner.sent > backup_ended {
            assert!(
                found.is_none(),
                "{} is newer than the backup",
                learner.email
            );
        }
        if let Some(found) = found {
            for (grant, _, sent, _) in &learner.grants {
                if *sent > backup_ended {
                    assert!(!found.ledger.contains_key(grant));
                }
            }
            // One transaction's view: the profile is the ledger's sum, except for grants
            // caught between their ledger entry and the profile (marked pending).
            let sum: i64 = found.ledger.values().sum();
            assert!(
                found.total_xp == sum || found.pending > 0,
                "{}: profile {} but ledger {sum} with nothing pending",
                learner.email,
                found.total_xp
            );
        }
    }
    assert!(users_with_ledger >= 2, "the backup holds XP");

    // A server on the restored store: every learner signs in with their token and has
    // the XP of their ledger (grants left pending are completed at start-up).
    let mut server = BIN.serve(restored_dir.path(), VARS);
    server.wait_healthy().await;
    let client = http();
    for learner in learners.iter().filter(|l| restored.contains_key(&l.email)) {
        let expected: i64 = restored[&learner.email].ledger.values().sum();
        let started = Instant::now();
        loop {
            let me: serde_json::Value = client
                .get(server.url("/api/v1/me"))
                .bearer_auth(&learner.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if me["total_xp"] == expected {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{}: {me} but the ledger sums to {expected}",
                learner.email
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let (status, lines) = server.terminate();
    assert!(status.success());
    assert_eq!(
        logged(&lines, "embedded store opened")[0]["repaired"],
        false,
        "a restored store opens without a repair"
    );
}

/// A small store with one learner, backed up with no server running.
async fn small_backup(dir: &Path) -> PathBuf {
    let mut server = BIN.serve(dir, VARS);
    server.wait_healthy().await;
    register_email(&server, "small@example.org").await;
    let (status, _) = server.terminate();
    assert!(status.success());
    let file = dir.join("small.redb");
    let out = run(BIN.command(dir, VARS).arg("backup").arg(&file));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("no server was running"), "{stdout}");
    file
}

#[cfg(unix)]
#[tokio::test]
async fn the_store_its_backups_and_a_restored_store_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    // The test process's umask (022 here) would make new files 0644.
    let file = small_backup(dir.path()).await;
    let restored = dir.path().join("restored");
    let (code, stderr) = restore_into(dir.path(), &restored, &file);
    assert_eq!(code, Some(0), "{stderr}");

    assert_eq!(mode(&dir.path().join("data/questpath.redb")), 0o600);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&restored.join("questpath.redb")), 0o600);
}

/// Runs `restore` of `file` into `data` and returns the exit code and stderr.
fn restore_into(dir: &Path, data: &Path, file: &Path) -> (Option<i32>, String) {
    let out = run(BIN
        .command(dir, VARS)
        .env("QUESTPATH_DATA_DIR", data)
        .arg("restore")
        .arg(file));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn restore_refuses_a_folder_in_use_and_damaged_files_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = small_backup(dir.path()).await;
    let bytes = std::fs::read(&file).unwrap();
    let damaged = |name: &str, content: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    let truncated = damaged("truncated.redb", &bytes[..bytes.len() / 2]);
    // Every page after the header overwritten.
    let mut garbled_bytes = bytes.clone();
    for byte in garbled_bytes.iter_mut().skip(4096) {
        *byte ^= 0x5a;
    }
    let garbled = damaged("garbled.redb", &garbled_bytes);
    let text = damaged("notes.txt", b"not a database\n");
    // A store that is not a backup (no manifest).
    let live = dir.path().join("data").join("questpath.redb");
    let empty = |name: &str| dir.path().join(name);

    let cases = [
        (
            "a folder in use",
            dir.path().join("data"),
            file.clone(),
            "not empty",
        ),
        (
            "a truncated file",
            empty("r1"),
            truncated,
            "not a valid backup",
        ),
        ("a garbled file", empty("r2"), garbled, "not a valid backup"),
        ("a text file", empty("r3"), text, "not a valid backup"),
        ("a store file", empty("r4"), live, "no backup manifest"),
        ("no file", empty("r5"), empty("missing.redb"), "not a file"),
    ];
    for (what, data, source, expected) in cases {
        let (code, stderr) = restore_into(dir.path(), &data, &source);
        assert_eq!(code, Some(2), "{what}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: {stderr}");
        assert!(stderr.contains(expected), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        if what != "a folder in use" {
            let left: Vec<_> = std::fs::read_dir(&data)
                .map(|d| d.map(|e| e.unwrap().file_name()).collect())
                .unwrap_or_default();
            assert!(left.is_empty(), "{what} left {left:?}");
        }
    }
    // A backup never overwrites a file, and the CQL store is not backed up this way.
    let again = run(BIN.command(dir.path(), VARS).arg("backup").arg(&file));
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let scylla = run(BIN
        .command(dir.path(), &[("QUESTPATH_SCYLLA_NODES", "127.0.0.1:9042")])
        .args(["backup", "elsewhere.redb"]));
    assert_eq!(scylla.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&scylla.stderr).contains("nodetool snapshot"));

    // The good file restores, and its learner signs in.
    let (code, stderr) = restore_into(dir.path(), &empty("good"), &file);
    assert_eq!(code, Some(0), "{stderr}");
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    std::fs::rename(empty("good"), dir.path().join("data")).unwrap();
    let mut server = BIN.serve(dir.path(), VARS);
    server.wait_healthy().await;
    assert_eq!(sign_in(&server, "small@example.org").await, 200);
    let (status, _) = server.terminate();
    assert!(status.success());
}
