//! A learner's own data over HTTP: `GET /api/v1/me/export` holds what they made and no
//! secret; `DELETE /api/v1/me` needs proof of presence, then forgets them everywhere
//! (sign-in, boards, the ledger, rooms) while what others need stays consistent. The
//! deletion runs on the embedded store with in-process boards, and on Cassandra with
//! Redis.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use questpath::auth::tokens::TokenKeys;
use questpath::config::Secret;
use questpath::leaderboard::rebuild::{kept_boards, rebuild};
use questpath::ports::store::RoomResult;
use questpath::ports::{NewUser, Store};
use questpath_test_support::{
    TestApp, TestUser, cql, redis_url, scylla_nodes, scylla_settings, spawn_app,
};

/// A learner signed up through v1: id, email, password and access token.
struct Learner {
    id: Uuid,
    user: TestUser,
    token: String,
    refresh: String,
}

async fn learner(app: &TestApp, name: &str) -> Learner {
    let user = TestUser::generate();
    let session = app.register(&user).await;
    let renamed = app
        .call(
            Method::PATCH,
            "/api/v1/me",
            &session.access,
            Some(&json!({"display_name": name})),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let me: Value = renamed.json().await.unwrap();
    Learner {
        id: Uuid::parse_str(me["id"].as_str().unwrap()).unwrap(),
        user,
        token: session.access,
        refresh: session.refresh,
    }
}

/// A finished room hosted by `host`, saved as a room saves its results: `players` in
/// rank order (id, name, score).
async fn played_room(store: &dyn Store, host: Uuid, players: &[(Uuid, &str, u64)]) -> RoomResult {
    let room_id = Uuid::now_v7();
    let lines: Vec<Value> = players
        .iter()
        .enumerate()
        .map(|(i, (id, name, score))| {
            json!({
                "rank": i + 1, "player_id": id, "name": name, "guest": false,
                "score": score, "correct": 2, "answered": 2, "best_streak": 2, "xp": 20,
                "answers": [
                    {"option": 1, "correct": true, "points": score / 2, "response_ms": 900},
                    {"option": 2, "correct": true, "points": score / 2, "response_ms": 1200},
                ],
            })
        })
        .collect();
    let result = RoomResult {
        room_id,
        code: "RM7K2Q".into(),
        host_id: host,
        title: "Friday quiz".into(),
        created_at: Utc::now() - Duration::minutes(10),
        ended_at: Utc::now(),
        end_reason: "finished".into(),
        players: players.len() as u32,
        results: json!({
            "room_id": room_id, "code": "RM7K2Q", "title": "Friday quiz", "host_id": host,
            "scoring": "speed", "streak_bonus": true, "end_reason": "finished",
            "questions": [
                {"index": 0, "question": "2 + 2?", "correct_option": "B", "counts": [0, 2, 0, 0], "answered": 2, "skipped": false},
                {"index": 1, "question": "3 + 3?", "correct_option": "C", "counts": [0, 0, 2, 0], "answered": 2, "skipped": false},
            ],
            "players": lines,
        }),
    };
    store.save_room_result(&result).await.unwrap();
    result
}

async fn delete(app: &TestApp, token: &str, body: Option<&Value>) -> (u16, Value) {
    let response = app.call(Method::DELETE, "/api/v1/me", token, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[actix_web::test]
async fn the_export_holds_what_the_learner_made_and_no_secret() {
    let app = spawn_app().await;
    let ann = learner(&app, "Ann").await;
    let rival = learner(&app, "Rival Zed").await;
    let (goal_id, xp) = app.pass_first_level(&ann.token).await;
    let room = played_room(
        app.backends.store.as_ref(),
        rival.id,
        &[(ann.id, "Ann", 900), (rival.id, "Rival Zed", 400)],
    )
    .await;

    let prefs = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me/email",
            &ann.token,
            Some(&json!({"weekly_summary": true})),
        )
        .await;
    assert_eq!(prefs.status(), 200);
    let response = app.get_bearer("/api/v1/me/export", &ann.token).await;

    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    let today = Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"questpath-export-{today}.json\"")
    );
    let text = response.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(export["format"], "questpath-export/1");
    assert_eq!(export["profile"]["id"], json!(ann.id));
    assert_eq!(export["profile"]["email"], json!(ann.user.email));
    assert_eq!(export["profile"]["display_name"], "Ann");
    assert_eq!(export["profile"]["has_password"], true);
    let goal = &export["goals"][0];
    assert_eq!(goal["id"], json!(goal_id));
    let level = &goal["levels"][0];
    assert_eq!(level["status"], "completed", "{level}");
    assert!(
        level["topics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["completed"] == true)
    );
    assert_eq!(export["generation_jobs"][0]["goal_id"], json!(goal_id));
    assert_eq!(export["xp"]["total"], xp);
    assert_eq!(export["xp"]["ledger"].as_array().unwrap().len(), 1);
    assert_eq!(export["xp"]["ledger"][0]["amount"], xp);
    let current = export["leaderboards"]["current"].as_array().unwrap();
    let all_time = current.iter().find(|s| s["board"] == "alltime").unwrap();
    assert_eq!(all_time["score"], xp);
    assert_eq!(all_time["rank"], 1);
    // The league week the XP placed her in (her own line only).
    let week = questpath_actors::leaderboard::Week::of(Utc::now()).label();
    assert_eq!(
        export["leagues"].as_array().unwrap().len(),
        1,
        "{}",
        export["leagues"]
    );
    assert_eq!(export["leagues"][0]["week"], json!(week));
    assert_eq!(export["leagues"][0]["tier"], "bronze");
    assert_eq!(export["leagues"][0]["tier_after"], Value::Null);
    let played = &export["rooms"]["played"][0];
    assert_eq!(played["room_id"], json!(room.room_id));
    assert_eq!(played["code"], "RM7K2Q");
    assert_eq!(played["rank"], 1);
    assert_eq!(played["score"], 900);
    assert_eq!(played["players"], 2);
    assert!(export["rooms"]["hosted"].as_array().unwrap().is_empty());
    let notifications = export["notifications"].as_array().unwrap();
    assert_eq!(notifications.len(), 1, "{notifications:?}");
    assert_eq!(notifications[0]["kind"], "level_up");
    assert_eq!(notifications[0]["read"], false);
    // The day settings and the day the level's XP counted for (issue 18).
    assert_eq!(export["streak"]["time_zone"], "UTC");
    assert_eq!(export["streak"]["daily_goal"], 20);
    assert_eq!(export["streak"]["current"], 1);
    assert_eq!(export["streak"]["days"][0]["xp"], xp);
    assert_eq!(export["streak"]["days"][0]["reached"], true);
    let sessions = export["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "signed up once");
    assert_eq!(sessions[0]["revoked"], false);
    assert_eq!(
        export["email"],
        json!({"verified_email": null, "verified_at": null, "streak_reminders": false, "weekly_summary": true})
    );
    // Nothing secret, and nothing of the other player but a rank and a score.
    let hash = app
        .backends
        .store
        .password_hash(ann.id)
        .await
        .unwrap()
        .unwrap();
    for secret in [
        hash.as_str(),
        "$argon2",
        "password_hash",
        "token_hash",
        ann.user.password.as_str(),
        ann.refresh.as_str(),
        "Rival Zed",
        &rival.id.to_string(),
        &rival.user.email,
    ] {
        assert!(!text.contains(secret), "the export holds {secret:?}");
    }
    // Only one's own data: the rival's export has the room as hosted, not as played by Ann.
    let theirs: Value = app
        .get_bearer("/api/v1/me/export", &rival.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["rooms"]["hosted"][0]["room_id"], json!(room.room_id));
    assert_eq!(theirs["rooms"]["played"][0]["rank"], 2);
    assert!(theirs["goals"].as_array().unwrap().is_empty());
    assert_eq!(app.get("/api/v1/me/export").await.status(), 401);
}

#[actix_web::test]
async fn deletion_forgets_the_learner_on_the_embedded_store() {
    let app = spawn_app().await;
    deletion_forgets_the_learner(&app).await;
}

/// Redis for the boards, the bus and the cache; Cassandra for the store.
#[actix_web::test]
async fn deletion_forgets_the_learner_on_redis_and_cassandra() {
    let keyspace = cql::fresh_keyspace("test").await;
    questpath::adapters::scylla::migrate(&scylla_settings(&keyspace))
        .await
        .expect("migrate");
    let prefix = format!("rights_{}:", Uuid::new_v4().simple());
    let app = TestApp::builder()
        .envs(&[
            ("QUESTPATH_REDIS_URL", redis_url()),
            ("QUESTPATH_REDIS_PREFIX", prefix),
            ("QUESTPATH_SCYLLA_NODES", scylla_nodes()),
            ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.clone()),
            ("QUESTPATH_SCYLLA_REPLICATION", "simple:1".to_string()),
        ])
        .configured()
        .start()
        .await;
    assert_eq!(app.backends.store.backend(), "scylla");
    assert_eq!(app.backends.leaderboard.backend(), "redis");
    deletion_forgets_the_learner(&app).await;
    drop(app);
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}

async fn deletion_forgets_the_learner(app: &TestApp) {
    let store = app.backends.store.clone();
    let board = app.backends.leaderboard.clone();
    let ann = learner(app, "Ann").await;
    let bob = learner(app, "Bob").await;
    let (_, ann_xp) = app.pass_first_level(&ann.token).await;
    let (_, bob_xp) = app.pass_first_level(&bob.token).await;
    let room = played_room(
        store.as_ref(),
        bob.id,
        &[(ann.id, "Ann", 900), (bob.id, "Bob", 400)],
    )
    .await;
    let hosted = played_room(store.as_ref(), ann.id, &[(bob.id, "Bob", 300)]).await;
    let mut socket = app.connect(&ann.token).await;
    assert_eq!(
        store.unread_notifications(ann.id).await.unwrap(),
        1,
        "a level-up"
    );
    let streak = store
        .streak(ann.id)
        .await
        .unwrap()
        .expect("a streak record");
    let check = streak.record.check.expect("an at-risk check");

    let prefs = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me/email",
            &ann.token,
            Some(&json!({"streak_reminders": true})),
        )
        .await;
    assert_eq!(prefs.status(), 200);
    // The sign-up's verification mail (the outbox: no SMTP server here).
    let verification = questpath_test_support::mail::wait_for_mails(
        &app.outbox(),
        &ann.user.email,
        1,
        std::time::Duration::from_secs(10),
    )
    .await;
    let link = verification[0].link("http://").unwrap();
    let verify_token = link.split("token=").nth(1).unwrap().to_string();

    // Proof of presence: the password, right.
    let (status, problem) = delete(app, &ann.token, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("password_required"))
    );
    let wrong = json!({"password": "not-the-password"});
    let (status, problem) = delete(app, &ann.token, Some(&wrong)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("invalid_password"))
    );
    let stray = json!({"password": ann.user.password, "confirm": true});
    let (status, problem) = delete(app, &ann.token, Some(&stray)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("validation_failed"))
    );
    assert_eq!(app.get_bearer("/api/v1/me", &ann.token).await.status(), 200);

    // Both earned XP this week: both are in the week's league.
    let week = questpath_actors::leaderboard::Week::of(Utc::now()).label();
    let ann_league = store
        .league_membership(ann.id, &week)
        .await
        .unwrap()
        .unwrap();
    let cohort_board = questpath_actors::leagues::cohort_board(&ann_league.cohort);
    assert!(board.entry(&cohort_board, ann.id).await.unwrap().is_some());

    let right = json!({"password": ann.user.password});
    let (status, _) = delete(app, &ann.token, Some(&right)).await;
    assert_eq!(status, 204);
    // Her leagues are gone: memberships, the cohort's list and board; Bob's stays.
    assert!(
        store
            .league_memberships(ann.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .league_cohort_members(&ann_league.cohort)
            .await
            .unwrap()
            .contains(&ann.id)
    );
    assert!(board.entry(&cohort_board, ann.id).await.unwrap().is_none());
    assert!(
        store
            .league_membership(bob.id, &week)
            .await
            .unwrap()
            .is_some()
    );

    // Every session ends: the socket closes, tokens and the refresh cookie are refused.
    assert_eq!(socket.closed_with().await, 4011);
    let (status, problem) = delete(app, &ann.token, Some(&right)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("invalid_token"))
    );
    assert_eq!(app.get_bearer("/api/v1/me", &ann.token).await.status(), 401);
    // She connected a moment ago, but no new websocket ticket: this instance forgot her.
    let ticket = app
        .call(reqwest::Method::POST, "/api/v1/ws/ticket", &ann.token, None)
        .await;
    assert_eq!(ticket.status(), 401);
    assert_eq!(
        app.post_with_refresh("/api/v1/auth/refresh", &ann.refresh)
            .await
            .status(),
        401
    );
    let signed_in = app.login_raw(&ann.user.email, &ann.user.password).await;
    assert_eq!(signed_in.status(), 401);
    // Email settings and outstanding links are gone.
    assert_eq!(
        store.mail_settings(ann.id).await.unwrap(),
        questpath::ports::store::MailSettings::default()
    );
    let verify = app
        .post_json(
            "/api/v1/auth/verify-email",
            &json!({ "token": verify_token }),
        )
        .await;
    assert_eq!(verify.status(), 400, "the deleted account's link is dead");
    // The email signs up again, as a new account.
    let again = app.register(&ann.user).await;
    let me: Value = app
        .get_bearer("/api/v1/me", &again.access)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(me["id"], json!(ann.id));
    assert_eq!(me["total_xp"], 0);

    // Ann is off the boards; Bob keeps his standing, and every board entry is what the
    // ledger of a remaining learner says.
    let top: Value = app
        .get_bearer("/api/v1/leaderboards/alltime?limit=100", &bob.token)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&Value> = top["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["user_id"])
        .collect();
    assert!(!ids.contains(&&json!(ann.id)), "{top}");
    assert!(ids.contains(&&json!(bob.id)), "{top}");
    let weekly: Value = app
        .get_bearer("/api/v1/leaderboards/weekly?limit=100", &bob.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !weekly.to_string().contains(&ann.id.to_string()),
        "{weekly}"
    );
    assert!(store.xp_entries(ann.id).await.unwrap().is_empty());
    assert!(store.xp_pending(ann.id).await.unwrap().is_empty());
    assert!(
        store
            .notifications(ann.id, None, 10, false)
            .await
            .unwrap()
            .items
            .is_empty(),
        "the level-up notification is gone"
    );
    assert_eq!(store.unread_notifications(ann.id).await.unwrap(), 0);
    // Her streak record and its at-risk check are gone.
    assert_eq!(store.streak(ann.id).await.unwrap(), None);
    assert!(
        store
            .streak_checks_due(check.hour(), check.due_at, 10_000)
            .await
            .unwrap()
            .iter()
            .all(|c| c.user_id != ann.id)
    );
    let before = as_ledgers_say(&store, board.top("alltime", 1000).await.unwrap()).await;
    assert_eq!(before.get(&bob.id), Some(&bob_xp));
    assert!(!before.contains_key(&ann.id));
    // A rebuild of every board from the ledger does not bring Ann back.
    for kept in kept_boards(Utc::now()) {
        board.clear(&kept.key()).await.unwrap();
    }
    rebuild(store.clone(), board.as_ref(), &kept_boards(Utc::now()))
        .await
        .unwrap();
    let rebuilt = as_ledgers_say(&store, board.top("alltime", 1000).await.unwrap()).await;
    assert_eq!(rebuilt, before);
    // Nor does a grant for her that comes late (a retried room XP job, say).
    let late = questpath::ports::XpEntry {
        user_id: ann.id,
        grant_id: format!("room:{}:{}", room.room_id, ann.id),
        amount: 25,
        source: "room".into(),
        created_at: Utc::now(),
    };
    assert!(!store.record_xp(&late).await.unwrap());
    assert!(store.xp_entries(ann.id).await.unwrap().is_empty());
    assert!(ann_xp > 0);

    // The room Bob hosted keeps Ann's place and score, without her.
    let results: Value = app
        .get_bearer(
            &format!("/api/v1/rooms/{}/results", room.room_id),
            &bob.token,
        )
        .await
        .json()
        .await
        .unwrap();
    let players = results["players"].as_array().unwrap();
    assert_eq!(players[0]["name"], "deleted player", "{results}");
    assert_eq!(players[0]["rank"], 1);
    assert_eq!(players[0]["score"], 900);
    assert_eq!(players[0]["guest"], true);
    assert_ne!(players[0]["player_id"], json!(ann.id));
    assert_eq!(players[1]["name"], "Bob");
    assert!(!results.to_string().contains(&ann.id.to_string()));
    // The room Ann hosted is nobody's now; Bob's line in it stays his.
    assert!(
        store
            .room_results_of_host(ann.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let kept = store.room_result(hosted.room_id).await.unwrap().unwrap();
    assert!(kept.host_id.is_nil());
    assert_eq!(kept.results["players"][0]["name"], "Bob");
    let bobs: Value = app
        .get_bearer("/api/v1/me/export", &bob.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bobs["rooms"]["played"].as_array().unwrap().len(), 2);
    assert!(!bobs.to_string().contains(&ann.id.to_string()));
    assert!(store.rooms_of_player(ann.id, 10).await.unwrap().is_empty());
    assert!(store.jobs_of_user(ann.id).await.unwrap().is_empty());
    assert!(
        store
            .goals_of_user(ann.id, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        store
            .refresh_families_of_user(ann.id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Checks that every entry's score is its learner's ledger sum; the scores by learner.
async fn as_ledgers_say(
    store: &std::sync::Arc<dyn Store>,
    entries: Vec<questpath::ports::LeaderboardEntry>,
) -> HashMap<Uuid, i64> {
    let mut scores = HashMap::new();
    for entry in entries {
        let sum: i64 = store
            .xp_entries(entry.user_id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.amount)
            .sum();
        assert_eq!(entry.score, sum, "board and ledger of {}", entry.user_id);
        scores.insert(entry.user_id, entry.score);
    }
    scores
}

/// An account without a password (Google sign-in only) proves presence by a recent
/// sign-in: a session started ten minutes ago, refreshed or not, is not enough.
#[actix_web::test]
async fn an_account_without_a_password_needs_a_fresh_sign_in() {
    let secret = "data-rights-test-signing-key-0123456789";
    let app = TestApp::builder()
        .env("QUESTPATH_JWT_SECRET", secret)
        .start()
        .await;
    let keys = TokenKeys::new(&Secret::new(secret.to_string()));
    let user = app
        .backends
        .store
        .create_user(NewUser::new(format!(
            "google-{}@example.org",
            Uuid::new_v4().simple()
        )))
        .await
        .unwrap();
    let now = Utc::now();
    let stale = keys
        .issue_access_since(user.id, now, now - Duration::minutes(10))
        .unwrap()
        .token;

    let (status, problem) = delete(&app, &stale, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("fresh_sign_in_required"))
    );
    let with_password = json!({"password": "anything"});
    let (status, _) = delete(&app, &stale, Some(&with_password)).await;
    assert_eq!(status, 403, "no password to check: the sign-in decides");
    assert_eq!(app.get_bearer("/api/v1/me", &stale).await.status(), 200);

    let fresh = keys.issue_access(user.id, Utc::now()).unwrap().token;
    let (status, _) = delete(&app, &fresh, None).await;
    assert_eq!(status, 204);
    assert_eq!(app.get_bearer("/api/v1/me", &fresh).await.status(), 401);
    assert_eq!(app.backends.store.user_by_id(user.id).await.unwrap(), None);
}

/// Wrong passwords count like failed sign-ins: enough of them lock the account.
#[actix_web::test]
async fn wrong_passwords_lock_deletion_like_sign_in() {
    let app = spawn_app().await;
    let ann = learner(&app, "Ann").await;
    let wrong = json!({"password": "not-the-password"});
    let mut codes = Vec::new();
    for _ in 0..6 {
        let (status, problem) = delete(&app, &ann.token, Some(&wrong)).await;
        codes.push((
            status,
            problem["code"].as_str().unwrap_or_default().to_string(),
        ));
    }
    assert_eq!(codes[0], (403, "invalid_password".to_string()));
    assert_eq!(
        codes.last().unwrap(),
        &(429, "too_many_attempts".to_string()),
        "{codes:?}"
    );
    let right = json!({"password": ann.user.password});
    let (status, _) = delete(&app, &ann.token, Some(&right)).await;
    assert_eq!(status, 429, "locked, even with the right password");
    assert_eq!(app.get_bearer("/api/v1/me", &ann.token).await.status(), 200);
}

/// A roadmap generator that, while it generates, sees its learner delete their account
/// (the deletion marks the account before it removes anything).
struct DeletedWhileGenerating {
    store: std::sync::Arc<dyn Store>,
    learner: Uuid,
    catalog: questpath::adapters::catalog::CatalogGenerator,
}

#[async_trait::async_trait]
impl questpath::ports::RoadmapGenerator for DeletedWhileGenerating {
    fn name(&self) -> &'static str {
        "deleted-while-generating"
    }

    async fn generate(
        &self,
        goal: &str,
    ) -> Result<questpath::domain::roadmap::GeneratedRoadmap, questpath::ports::GenerateError> {
        self.store
            .mark_user_deleted(self.learner, Utc::now())
            .await
            .unwrap();
        self.catalog.generate(goal).await
    }
}

/// A roadmap generated for a learner who deleted their account meanwhile is not kept:
/// the worker sees the mark after saving and removes the goal and the job; a job still
/// queued for a deleted learner is dropped without generating.
#[actix_web::test]
async fn a_roadmap_generated_for_a_deleted_learner_is_not_kept() {
    use questpath::adapters::embedded::{
        EmbeddedStore, InProcessBus, InProcessCache, InProcessJobQueue,
    };
    use questpath::goals::QUEUE;
    use questpath::goals::service::GoalService;
    use questpath::goals::worker::{Outcome, Worker};
    use questpath::ports::JobQueue;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).await.unwrap());
    let queue: Arc<dyn JobQueue> = Arc::new(InProcessJobQueue::new());
    let goals = GoalService::new(
        store.clone(),
        Arc::new(InProcessCache::new()),
        queue.clone(),
    );
    let learner = Uuid::now_v7();
    let worker = Worker {
        store: store.clone(),
        queue: queue.clone(),
        bus: Arc::new(InProcessBus::new()),
        cache: Arc::new(InProcessCache::new()),
        generator: Arc::new(DeletedWhileGenerating {
            store: store.clone(),
            learner,
            catalog: questpath::adapters::catalog::CatalogGenerator::load().unwrap(),
        }),
        consumer: "w1".into(),
        metrics: None,
    };
    let job = goals
        .create(learner, "Learn web development")
        .await
        .unwrap();
    let queued = goals.create(learner, "Learn to juggle").await.unwrap();

    let mut outcomes = Vec::new();
    for _ in 0..2 {
        outcomes.push(worker.try_execute().await.unwrap());
    }

    assert_eq!(
        outcomes,
        vec![
            Outcome::Failed(job.id, "the learner deleted their account".into()),
            Outcome::Idle,
        ]
    );
    assert_eq!(store.goal(job.goal_id).await.unwrap(), None);
    assert_eq!(store.job(job.id).await.unwrap(), None);
    assert_eq!(store.job(queued.id).await.unwrap(), None, "dropped unread");
    assert!(store.jobs_of_user(learner).await.unwrap().is_empty());
    assert_eq!(queue.depth(QUEUE).await.unwrap(), 0);
}
