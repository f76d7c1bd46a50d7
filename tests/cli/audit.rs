//! `questpath audit xp` as an operator runs it: on Redis + Cassandra beside the servers,
//! and on the embedded default both through the running server (whose boards are in its
//! memory) and with no server running. Derived state is corrupted by hand; the audit
//! names each difference and exits 1, `--repair` brings it back, and the next audit
//! exits 0.

use std::process::Output;

use chrono::Utc;
use questpath::adapters::embedded::EmbeddedStore;
use questpath::leaderboard::{Board, Week};
use questpath::ports::{Leaderboard, ScoreUpdate, Standing, UserStore, XpStore};
use questpath_test_support::{ServerProcess, cql, redis_settings, redis_url, run, scylla_nodes};
use uuid::Uuid;

use super::{BIN, pass_level};

/// Passes the first level's quiz of a new learner; returns their id and the XP earned.
async fn earn(server: &ServerProcess) -> (Uuid, i64) {
    let (token, level, _) = server.learner_ready_for_quiz().await;
    let level_id = level["id"].as_str().unwrap();
    let submitted = pass_level(server, &token, level_id).await;
    let earned = submitted["xp_earned"].as_i64().unwrap();
    assert!(earned > 0, "{submitted}");
    let me: serde_json::Value = server
        .get_bearer("/api/v1/me", &token)
        .await
        .json()
        .await
        .unwrap();
    (Uuid::parse_str(me["id"].as_str().unwrap()).unwrap(), earned)
}

fn audit(dir: &std::path::Path, vars: &[(&str, &str)], repair: bool) -> (Option<i32>, String) {
    let mut command = BIN.command(dir, vars);
    command.args(["audit", "xp"]);
    if repair {
        command.arg("--repair");
    }
    let Output {
        status,
        stdout,
        stderr,
    } = run(&mut command);
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        !String::from_utf8_lossy(&stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&stderr)
    );
    (status.code(), stdout)
}

/// The printed line about `user` and `what`.
fn line_of<'a>(out: &'a str, user: Uuid, what: &str) -> Option<&'a str> {
    out.lines()
        .find(|l| l.starts_with(&format!("{user} {what}")))
}

#[tokio::test]
async fn audit_xp_on_redis_and_cassandra_names_each_difference_and_repair_fixes_them() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = scylla_nodes();
    let redis = redis_url();
    let keyspace = cql::fresh_keyspace("audit").await;
    let prefix = format!("audit_{}:", Uuid::new_v4().simple());
    let vars = [
        ("QUESTPATH_SCYLLA_NODES", nodes.as_str()),
        ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.as_str()),
        ("QUESTPATH_SCYLLA_REPLICATION", "simple:1"),
        ("QUESTPATH_REDIS_URL", redis.as_str()),
        ("QUESTPATH_REDIS_PREFIX", prefix.as_str()),
    ];
    assert!(
        run(BIN.command(dir.path(), &vars).arg("migrate"))
            .status
            .success()
    );
    let mut server = BIN.serve(dir.path(), &vars);
    server.wait_healthy().await;
    let (a, a_xp) = earn(&server).await;
    let (b, _) = earn(&server).await;
    let (c, c_xp) = earn(&server).await;

    let (clean, out) = audit(dir.path(), &vars, false);
    assert_eq!(clean, Some(0), "a fresh deployment is clean:\n{out}");
    assert!(out.contains("3 learners checked"), "{out}");

    // By hand: a total, an all-time entry, a weekly entry, and a learner the ledger
    // does not know.
    let store = questpath::adapters::scylla::ScyllaStore::connect(
        &questpath_test_support::scylla_settings(&keyspace),
    )
    .await
    .unwrap();
    store.set_total_xp(a, a_xp + 7).await.unwrap();
    let redis_port = questpath::adapters::redis::Redis::connect(&redis_settings(&prefix))
        .await
        .unwrap();
    let boards = redis_port.leaderboard();
    let weekly = Board::Weekly(Week::of(Utc::now())).key();
    let forged = |user_id, board: &str, score| ScoreUpdate {
        board: board.to_string(),
        user_id,
        standing: Standing {
            score,
            reached_at: Utc::now(),
            entries: 1_000,
        },
        expires_at: None,
    };
    let stranger = Uuid::new_v4();
    boards
        .apply(&[
            forged(b, "alltime", 999_999),
            forged(stranger, "alltime", 5),
        ])
        .await
        .unwrap();
    assert!(boards.remove(&weekly, c).await.unwrap());

    let (found, out) = audit(dir.path(), &vars, false);
    assert_eq!(found, Some(1), "{out}");
    let total = line_of(&out, a, "total_xp").unwrap_or_else(|| panic!("{out}"));
    assert!(
        total.contains(&format!("expected {a_xp} XP"))
            && total.contains(&format!("found {} XP", a_xp + 7)),
        "{total}"
    );
    assert!(
        line_of(&out, b, "alltime").is_some_and(|l| l.contains("found 999999 XP")),
        "{out}"
    );
    let week_line = line_of(&out, c, &weekly).unwrap_or_else(|| panic!("{out}"));
    assert!(
        week_line.contains(&format!("expected {c_xp} XP, found absent")),
        "{week_line}"
    );
    assert!(
        line_of(&out, stranger, "alltime").is_some_and(|l| l.contains("no ledger")),
        "{out}"
    );
    assert!(out.contains("4 differences"), "{out}");

    let (repaired, out) = audit(dir.path(), &vars, true);
    assert_eq!(repaired, Some(0), "{out}");
    assert!(out.contains("repaired:"), "{out}");
    assert!(
        out.contains("after repair: audit xp: 3 learners checked"),
        "{out}"
    );

    let (again, out) = audit(dir.path(), &vars, false);
    assert_eq!(again, Some(0), "{out}");
    assert!(out.contains(" 0 differences"), "{out}");
    assert_eq!(boards.entry("alltime", stranger).await.unwrap(), None);
    assert_eq!(
        boards.entry(&weekly, c).await.unwrap().map(|e| e.score),
        Some(c_xp)
    );
    redis_port.shutdown().await;
    let (status, _) = server.terminate();
    assert!(status.success());
    cql::drop_keyspace(&nodes, &keyspace).await;
}

#[tokio::test]
async fn audit_xp_on_the_embedded_store_runs_in_the_server_or_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = BIN.serve(dir.path(), &[]);
    server.wait_healthy().await;
    let (a, a_xp) = earn(&server).await;
    let (status, _) = server.terminate();
    assert!(status.success());

    // No server: the store is opened here; the in-process boards exist only in a server.
    let (clean, out) = audit(dir.path(), &[], false);
    assert_eq!(clean, Some(0), "{out}");
    assert!(out.contains("boards and leagues not checked"), "{out}");
    assert!(out.contains("(run in this process)"), "{out}");

    let store = EmbeddedStore::open(&data).await.unwrap();
    store.set_total_xp(a, 1).await.unwrap();
    store.close().await;
    let (found, out) = audit(dir.path(), &[], false);
    assert_eq!(found, Some(1), "{out}");
    assert!(
        line_of(&out, a, "total_xp").is_some_and(|l| l.contains(&format!("expected {a_xp} XP"))),
        "{out}"
    );

    // A server holds the store: it runs the audit, boards included.
    let mut server = BIN.serve(dir.path(), &[]);
    server.wait_healthy().await;
    let (found, out) = audit(dir.path(), &[], false);
    assert_eq!(found, Some(1), "{out}");
    assert!(out.contains("(run by the running server)"), "{out}");
    assert!(line_of(&out, a, "total_xp").is_some(), "{out}");
    assert!(
        !out.contains("not checked"),
        "the server's boards are checked:\n{out}"
    );
    let (repaired, out) = audit(dir.path(), &[], true);
    assert_eq!(repaired, Some(0), "{out}");
    let (again, out) = audit(dir.path(), &[], false);
    assert_eq!(again, Some(0), "{out}");
    let (status, _) = server.terminate();
    assert!(status.success());

    let store = EmbeddedStore::open(&data).await.unwrap();
    assert_eq!(store.user_by_id(a).await.unwrap().unwrap().total_xp, a_xp);
    store.close().await;
}

#[tokio::test]
async fn audit_xp_on_the_embedded_store_with_redis_boards_names_and_repairs_each_difference() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let redis = redis_url();
    let prefix = format!("audit_{}:", Uuid::new_v4().simple());
    let vars = [
        ("QUESTPATH_REDIS_URL", redis.as_str()),
        ("QUESTPATH_REDIS_PREFIX", prefix.as_str()),
    ];
    let mut server = BIN.serve(dir.path(), &vars);
    server.wait_healthy().await;
    let (a, a_xp) = earn(&server).await;
    let (b, b_xp) = earn(&server).await;
    let (status, _) = server.terminate();
    assert!(status.success());
    // The total by hand while no server holds the store, the boards in Redis while one
    // runs.
    let store = EmbeddedStore::open(&data).await.unwrap();
    store.set_total_xp(a, a_xp * 3).await.unwrap();
    store.close().await;
    let mut server = BIN.serve(dir.path(), &vars);
    server.wait_healthy().await;
    let redis_port = questpath::adapters::redis::Redis::connect(&redis_settings(&prefix))
        .await
        .unwrap();
    let boards = redis_port.leaderboard();
    let weekly = Board::Weekly(Week::of(Utc::now())).key();
    let forged = |board: &str, score| ScoreUpdate {
        board: board.to_string(),
        user_id: b,
        standing: Standing {
            score,
            reached_at: Utc::now(),
            entries: 1_000,
        },
        expires_at: None,
    };
    boards
        .apply(&[forged("alltime", 1), forged(&weekly, b_xp + 1)])
        .await
        .unwrap();

    let (found, out) = audit(dir.path(), &vars, false);
    assert_eq!(found, Some(1), "{out}");
    assert!(out.contains("(run by the running server)"), "{out}");
    assert!(
        line_of(&out, a, "total_xp").is_some_and(|l| l.contains(&format!("found {} XP", a_xp * 3))),
        "{out}"
    );
    assert!(
        line_of(&out, b, "alltime")
            .is_some_and(|l| l.contains(&format!("expected {b_xp} XP, found 1 XP"))),
        "{out}"
    );
    assert!(
        line_of(&out, b, &weekly).is_some_and(|l| l.contains(&format!("found {} XP", b_xp + 1))),
        "{out}"
    );
    assert!(out.contains(" 3 differences"), "{out}");
    let (repaired, out) = audit(dir.path(), &vars, true);
    assert_eq!(repaired, Some(0), "{out}");
    let (again, out) = audit(dir.path(), &vars, false);
    assert_eq!(again, Some(0), "{out}");
    assert_eq!(
        boards.entry("alltime", b).await.unwrap().map(|e| e.score),
        Some(b_xp)
    );
    redis_port.shutdown().await;
    let (status, _) = server.terminate();
    assert!(status.success());
}
