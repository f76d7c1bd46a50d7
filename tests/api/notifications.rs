//! Notifications over HTTP: a level-up from a real grant and a room that ended appear in
//! `GET /api/v1/notifications` (newest first, paged, with the unread count), once each
//! however often their trigger runs again (a recovered grant, a rerun room XP job);
//! marking one or all read; the errors. On the embedded store, and on Cassandra with
//! Redis.

use std::sync::Arc;

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use questpath::ports::Store;
use questpath::ports::store::{RoomResult, XpEntry};
use questpath::xp::XpService;
use questpath_actors::notifications::Notifications;
use questpath_actors::room::grants::grant_room;
use questpath_actors::rules::xp::player_level;
use questpath_test_support::{
    TestApp, TestUser, cql, redis_url, scylla_nodes, scylla_settings, spawn_app,
};

async fn learner(app: &TestApp) -> (Uuid, String) {
    let session = app.register(&TestUser::generate()).await;
    let me: Value = app
        .get_bearer("/api/v1/me", &session.access)
        .await
        .json()
        .await
        .unwrap();
    (me["id"].as_str().unwrap().parse().unwrap(), session.access)
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app
        .get_bearer(&format!("/api/v1/notifications{query}"), token)
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The XP service and notifications a second instance (or a retried worker) would have
/// over the same backends.
fn services(app: &TestApp) -> (XpService, Notifications) {
    let backends = &app.backends;
    let notifications = Notifications::new(backends.store.clone(), backends.bus.clone());
    let xp = XpService::new(
        backends.store.clone(),
        backends.leaderboard.clone(),
        backends.bus.clone(),
    )
    .with_notifications(notifications.clone());
    (xp, notifications)
}

/// A finished room saved as a room saves its results: `players` in rank order.
async fn saved_room(store: &dyn Store, players: &[Uuid]) -> RoomResult {
    let room_id = Uuid::now_v7();
    let lines: Vec<Value> = players
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({
                "rank": i + 1, "player_id": id, "name": format!("P{i}"), "guest": false,
                "score": 900 - 100 * i, "correct": 2, "answered": 2, "best_streak": 2,
                "xp": 30, "answers": [],
            })
        })
        .chain([json!({
            "rank": players.len() + 1, "player_id": Uuid::new_v4(), "name": "Guest",
            "guest": true, "score": 1, "correct": 0, "answered": 1, "best_streak": 0,
            "xp": 0, "answers": [],
        })])
        .collect();
    let result = RoomResult {
        room_id,
        code: "NT4K2Q".into(),
        host_id: Uuid::new_v4(),
        title: "Friday quiz".into(),
        created_at: Utc::now() - Duration::minutes(10),
        ended_at: Utc::now(),
        end_reason: "finished".into(),
        players: lines.len() as u32,
        results: json!({"room_id": room_id, "players": lines}),
    };
    store.save_room_result(&result).await.unwrap();
    result
}

#[actix_web::test]
async fn notifications_on_the_embedded_store() {
    let app = spawn_app().await;
    notifications_are_listed_once_and_marked_read(&app).await;
}

/// Redis for the boards and the bus; Cassandra for the store.
#[actix_web::test]
async fn notifications_on_redis_and_cassandra() {
    let keyspace = cql::fresh_keyspace("test").await;
    questpath::adapters::scylla::migrate(&scylla_settings(&keyspace))
        .await
        .expect("migrate");
    let prefix = format!("notify_{}:", Uuid::new_v4().simple());
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
    assert_eq!(app.backends.bus.backend(), "redis");
    notifications_are_listed_once_and_marked_read(&app).await;
    drop(app);
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}

async fn notifications_are_listed_once_and_marked_read(app: &TestApp) {
    let store = app.backends.store.clone();
    let (ann, token) = learner(app).await;
    let (bob, bob_token) = learner(app).await;

    // A first pass of a level is worth at least a player level.
    let (_, xp) = app.pass_first_level(&token).await;
    assert!((100..170).contains(&xp), "the first level grants {xp} XP");
    let level = player_level(xp);
    let page = list(app, &token, "").await;
    assert_eq!(page["unread"], 1, "{page}");
    let up = &page["items"][0];
    assert_eq!(up["kind"], "level_up");
    assert_eq!(up["read"], false);
    assert_eq!(
        up["data"],
        json!({"level": level, "previous_level": 1, "total_xp": xp})
    );

    // A room both played ended; its XP job runs twice (a retry): told once each.
    let room = saved_room(store.as_ref(), &[bob, ann]).await;
    let (xp_service, notifications) = services(app);
    for _ in 0..2 {
        grant_room(store.as_ref(), &xp_service, &notifications, room.room_id)
            .await
            .unwrap();
    }
    let page = list(app, &token, "").await;
    assert_eq!(page["unread"], 2, "{page}");
    let kinds: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["room_ended", "level_up"], "newest first");
    let ended = &page["items"][0]["data"];
    assert_eq!(ended["room_id"], json!(room.room_id));
    assert_eq!(ended["rank"], 2);
    assert_eq!(ended["players"], 3);
    assert_eq!(ended["score"], 800);
    assert_eq!(ended["xp"], 30);
    assert_eq!(ended["title"], "Friday quiz");
    assert_eq!(ended["end_reason"], "finished");
    let bobs = list(app, &bob_token, "").await;
    assert_eq!(bobs["items"][0]["data"]["rank"], 1);
    // The room's XP went through the ledger too, once (Ann's 29 XP reach no new level
    // from the first level's 100).
    assert_eq!(store.xp_entries(bob).await.unwrap().len(), 1);
    assert_eq!(store.xp_entries(ann).await.unwrap().len(), 2);

    // Paged with a cursor.
    let first = list(app, &token, "?limit=1").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = list(app, &token, &format!("?limit=1&after={cursor}")).await;
    assert_eq!(second["items"][0]["kind"], "level_up");
    assert_eq!(second["next_cursor"], Value::Null);

    // One read: the count and the filter follow.
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    let read = app
        .call(
            Method::POST,
            &format!("/api/v1/notifications/{id}/read"),
            &token,
            None,
        )
        .await;
    assert_eq!(read.status(), 204);
    let page = list(app, &token, "").await;
    assert_eq!(page["unread"], 1);
    assert_eq!(page["items"][0]["read"], true);
    let unread = list(app, &token, "?unread=true").await;
    assert_eq!(unread["items"].as_array().unwrap().len(), 1);
    assert_eq!(unread["items"][0]["kind"], "level_up");

    // Nobody marks another learner's; unknown and malformed ids are 404.
    for (path, who) in [
        (format!("/api/v1/notifications/{id}/read"), &bob_token),
        (
            format!("/api/v1/notifications/{}/read", Uuid::now_v7()),
            &token,
        ),
        ("/api/v1/notifications/not-an-id/read".to_string(), &token),
    ] {
        let response = app.call(Method::POST, &path, who, None).await;
        assert_eq!(response.status(), 404, "{path}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "not_found");
    }
    for query in ["?limit=0", "?limit=101", "?after=nope", "?unread=maybe"] {
        let response = app
            .get_bearer(&format!("/api/v1/notifications{query}"), &token)
            .await;
        assert_eq!(response.status(), 422, "{query}");
    }
    assert_eq!(app.get("/api/v1/notifications").await.status(), 401);

    // All read.
    let all = app
        .call(Method::POST, "/api/v1/notifications/read-all", &token, None)
        .await;
    assert_eq!(all.status(), 204);
    let page = list(app, &token, "").await;
    assert_eq!(page["unread"], 0);
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["read"] == true)
    );
    assert_eq!(
        list(app, &bob_token, "").await["unread"],
        1,
        "Bob's room_ended is untouched"
    );
}

/// A grant written to the ledger by an instance that died before applying it: recovery
/// (on another instance, and again) notifies the level it reached, once.
#[actix_web::test]
async fn a_recovered_grant_notifies_its_level_once() {
    let app = spawn_app().await;
    let (ann, token) = learner(&app).await;
    let store: Arc<dyn Store> = app.backends.store.clone();
    let written = store
        .record_xp(&XpEntry {
            user_id: ann,
            grant_id: format!("test:{}", Uuid::new_v4()),
            amount: 250,
            source: "room_game".into(),
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    assert!(written);
    assert_eq!(list(&app, &token, "").await["unread"], 0, "not applied yet");

    let (xp, _) = services(&app);
    xp.recover().await.unwrap();
    xp.recover().await.unwrap();
    xp.apply(ann).await.unwrap();

    let page = list(&app, &token, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(
        page["items"][0]["data"],
        json!({"level": 3, "previous_level": 1, "total_xp": 250}),
        "one notification for the two levels one grant crossed"
    );
}

/// Grants applied at once that only together cross a level: the level is notified once,
/// neither missed nor repeated, whichever apply clears which grant (20 learners at once).
#[actix_web::test]
async fn grants_applied_at_once_notify_the_level_they_reach_once() {
    let app = spawn_app().await;
    let (xp, _) = services(&app);
    let store = app.backends.store.clone();
    let learners: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
    let grant = |user: Uuid, id: &str, amount: i64| {
        let xp = xp.clone();
        let grant = questpath_actors::rules::xp::XpGrant {
            grant_id: format!("test:{user}:{id}"),
            amount,
            source: questpath_actors::rules::xp::XpSource::RoomGame,
        };
        async move { xp.grant(user, &grant).await.unwrap() }
    };
    for user in &learners {
        grant(*user, "base", 90).await;
    }
    let mut both = Vec::new();
    for user in &learners {
        both.push(tokio::spawn(grant(*user, "a", 10)));
        both.push(tokio::spawn(grant(*user, "b", 10)));
    }
    for task in both {
        task.await.unwrap();
    }
    xp.recover().await.unwrap();
    for user in learners {
        let page = store.notifications(user, None, 10, false).await.unwrap();
        let levels: Vec<&serde_json::Value> = page.items.iter().map(|n| &n.data["level"]).collect();
        assert_eq!(levels, [&json!(2)], "{user}: {:?}", page.items);
    }
}
