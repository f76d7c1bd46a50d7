//! Streaks and the daily goal over HTTP and the socket: the day settings in
//! `/api/v1/me` (and at sign-up), days counted from XP grants in the learner's zone
//! (across a DST change and a midnight), a retried and a recovered grant counted once,
//! the `streak.updated`, `daily_goal.reached` and `streak.at_risk` frames, a zone
//! change mid-streak, and the learner's export and deletion of it. On the embedded
//! store with a manual clock, and on Cassandra with Redis.
//!
//! Grants go through an XP service over the server's backends (as another instance's
//! would), with the same clock.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use questpath::ports::XpEntry;
use questpath::xp::XpService;
use questpath_actors::clock::{Clock, ManualClock};
use questpath_actors::ports::PortError;
use questpath_actors::rules::xp::{XpGrant, XpSource};
use questpath_actors::streaks::rules::{evening, local_date, parse_zone};
use questpath_actors::streaks::{AtRisk, AtRiskHook, Streaks};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use questpath_test_support::{
    TestApp, TestUser, WsClient, cql, redis_url, scylla_nodes, scylla_settings,
};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The hook the lead wires to a notification and an email; here it records.
#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<AtRisk>>>);

#[async_trait::async_trait]
impl AtRiskHook for Recorded {
    async fn at_risk(&self, at_risk: &AtRisk) -> Result<(), PortError> {
        self.0.lock().unwrap().push(at_risk.clone());
        Ok(())
    }
}

impl Recorded {
    fn taken(&self) -> Vec<AtRisk> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// An XP service with streaks over the app's backends, on `clock`.
fn services(app: &TestApp, clock: Arc<dyn Clock>) -> (XpService, Streaks) {
    let b = &app.backends;
    let streaks = Streaks::new(b.store.clone(), b.bus.clone(), clock.clone());
    let xp = XpService::new(b.store.clone(), b.leaderboard.clone(), b.bus.clone())
        .with_clock(clock)
        .with_streaks(streaks.clone());
    (xp, streaks)
}

async fn grant(xp: &XpService, user: Uuid, id: &str, amount: i64) -> i64 {
    xp.grant(
        user,
        &XpGrant {
            grant_id: id.to_string(),
            amount,
            source: XpSource::LevelFirstPass,
        },
    )
    .await
    .expect("grant")
    .earned
}

async fn me(app: &TestApp, token: &str) -> Value {
    let response = app.get_bearer("/api/v1/me", token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn patch(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    let response = app
        .call(Method::PATCH, "/api/v1/me", token, Some(&body))
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Signs up with `body` extra fields; the status and the body.
async fn register(app: &TestApp, user: &TestUser, extra: Value) -> (u16, Value) {
    let mut body = json!({"email": user.email, "password": user.password});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let response = app.post_json("/api/v1/auth/register", &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn refused_field(problem: &Value) -> (&str, &str) {
    (
        problem["code"].as_str().unwrap_or(""),
        problem["errors"][0]["field"].as_str().unwrap_or(""),
    )
}

/// A learner signed up in `zone`: id and access token.
async fn learner_in(app: &TestApp, user: &TestUser, zone: &str) -> (Uuid, String) {
    let (status, body) = register(app, user, json!({"time_zone": zone})).await;
    assert_eq!(status, 201, "{body}");
    let id = Uuid::parse_str(body["user"]["id"].as_str().unwrap()).unwrap();
    (id, body["access_token"].as_str().unwrap().to_string())
}

/// The server's own at-risk pass stays out of the way (the test runs its own).
fn quiet_checker(settings: &mut questpath::config::Settings) {
    settings.streak_check_every = std::time::Duration::from_secs(3600);
}

#[actix_web::test]
async fn a_streak_counts_local_days_across_dst_midnight_retries_recovery_and_a_zone_change() {
    let clock = ManualClock::new(at("2026-03-27T10:00:00Z"));
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let app = TestApp::builder()
        .tune(quiet_checker)
        .backends({
            let shared = shared.clone();
            move |b| b.with_clock(shared)
        })
        .start()
        .await;
    let (xp, streaks) = services(&app, shared);
    let user = TestUser::generate();

    // A zone the database does not know is refused before the account exists.
    let (status, problem) = register(&app, &user, json!({"time_zone": "Europe/Atlantis"})).await;
    assert_eq!(status, 422);
    assert_eq!(refused_field(&problem), ("validation_failed", "time_zone"));
    let (id, token) = learner_in(&app, &user, "Europe/Berlin").await;
    let profile = me(&app, &token).await;
    assert_eq!(profile["time_zone"], "Europe/Berlin");
    assert_eq!(profile["daily_goal"], 20);
    assert_eq!(
        profile["streak"],
        json!({"current": 0, "longest": 0, "freezes": 0, "today": "2026-03-27",
               "today_xp": 0, "goal_reached": false})
    );
    assert_eq!(profile["email"], user.email.as_str());

    // Settings are checked field by field; a refused one changes nothing.
    let (status, problem) = patch(&app, &token, json!({"daily_goal": 15})).await;
    assert_eq!(
        (status, refused_field(&problem)),
        (422, ("validation_failed", "daily_goal"))
    );
    let (status, problem) = patch(
        &app,
        &token,
        json!({"daily_goal": 30, "time_zone": "Mars/Olympus", "display_name": "Ada"}),
    )
    .await;
    assert_eq!(
        (status, refused_field(&problem)),
        (422, ("validation_failed", "time_zone"))
    );
    let (status, _) = patch(&app, &token, json!({"daily_goal": "thirty"})).await;
    assert!((400..500).contains(&status), "{status}");
    let unchanged = me(&app, &token).await;
    assert_eq!(
        (unchanged["daily_goal"].as_u64(), &unchanged["display_name"]),
        (Some(20), &Value::Null)
    );
    let (status, patched) = patch(&app, &token, json!({"daily_goal": 30})).await;
    assert_eq!((status, patched["daily_goal"].as_u64()), (200, Some(30)));

    // Friday: 15 XP, then 15 more reach the goal of 30.
    let mut socket = app.connect(&token).await;
    assert_eq!(grant(&xp, id, "level:a", 15).await, 15);
    let updated = socket.next_of("streak.updated").await;
    assert_eq!(
        (
            updated["today_xp"].as_i64(),
            updated["goal_reached"].as_bool(),
            updated["streak"].as_u64()
        ),
        (Some(15), Some(false), Some(0))
    );
    assert_eq!(grant(&xp, id, "level:b", 15).await, 15);
    let reached = socket.next_of("daily_goal.reached").await;
    assert_eq!(
        reached,
        json!({"type": "daily_goal.reached", "date": "2026-03-27", "xp": 30,
               "daily_goal": 30, "streak": 1})
    );
    let updated = socket.next_of("streak.updated").await;
    assert_eq!(
        (
            updated["streak"].as_u64(),
            updated["goal_reached"].as_bool()
        ),
        (Some(1), Some(true))
    );
    // The same grant again (a retry): nothing more.
    assert_eq!(grant(&xp, id, "level:b", 15).await, 0);
    assert_eq!(me(&app, &token).await["streak"]["today_xp"], 30);

    // Saturday: a grant written to the ledger, then a crash before it was applied. It
    // counts once the recovery applies it, once however often recovery runs.
    clock.set(at("2026-03-28T11:00:00Z"));
    let crashed = XpEntry {
        user_id: id,
        grant_id: "room:crashed".into(),
        amount: 30,
        source: "room".into(),
        created_at: clock.now(),
    };
    assert!(app.backends.store.record_xp(&crashed).await.unwrap());
    let before = me(&app, &token).await["streak"].clone();
    assert_eq!(
        (
            before["today"].as_str(),
            before["today_xp"].as_i64(),
            before["current"].as_u64()
        ),
        (Some("2026-03-28"), Some(0), Some(1))
    );
    // Recovered later in the day: the grant's own time decides its day.
    clock.set(at("2026-03-28T22:30:00Z"));
    // (The server's own recovery may have been first: at most once either way.)
    assert!(xp.recover().await.unwrap() <= 1);
    assert_eq!(xp.recover().await.unwrap(), 0);
    assert_eq!(
        socket.next_of("daily_goal.reached").await["date"],
        "2026-03-28"
    );
    let days = streaks.record(id).await.unwrap().unwrap().days;
    assert_eq!(days[&"2026-03-28".parse().unwrap()].xp, 30);
    assert_eq!(me(&app, &token).await["streak"]["current"], 2);

    // Sunday, the 23-hour day of the change to summer time: 23:00 CEST is the 29th.
    clock.set(at("2026-03-29T21:00:00Z"));
    grant(&xp, id, "level:c", 30).await;
    assert_eq!(
        socket.next_of("daily_goal.reached").await["date"],
        "2026-03-29"
    );
    // A quiz that ends ten seconds after midnight counts for Monday.
    clock.set(at("2026-03-29T22:00:10Z"));
    grant(&xp, id, "quiz:midnight", 30).await;
    let reached = socket.next_of("daily_goal.reached").await;
    assert_eq!(
        (reached["date"].as_str(), reached["streak"].as_u64()),
        (Some("2026-03-30"), Some(4))
    );
    let streak = me(&app, &token).await["streak"].clone();
    assert_eq!(
        (
            streak["today"].as_str(),
            streak["current"].as_u64(),
            streak["longest"].as_u64()
        ),
        (Some("2026-03-30"), Some(4), Some(4))
    );

    // Tuesday evening: at 18:59 nothing, at 19:00 Berlin the streak is at risk, once.
    let hook = Recorded::default();
    let lease = app.backends.leaderboard.clone();
    clock.set(at("2026-03-31T16:59:00Z"));
    assert_eq!(
        streaks
            .run_at_risk_pass(lease.as_ref(), &hook)
            .await
            .unwrap(),
        0
    );
    clock.set(at("2026-03-31T17:00:00Z"));
    assert_eq!(
        streaks
            .run_at_risk_pass(lease.as_ref(), &hook)
            .await
            .unwrap(),
        1
    );
    let told = hook.taken();
    assert_eq!(told.len(), 1);
    assert_eq!(
        (
            told[0].user_id,
            told[0].streak,
            told[0].local_date.to_string()
        ),
        (id, 4, "2026-03-31".to_string())
    );
    assert_eq!(
        socket.next_of("streak.at_risk").await,
        json!({"type": "streak.at_risk", "streak": 4, "local_date": "2026-03-31",
               "today_xp": 0, "daily_goal": 30, "freezes": 0})
    );
    clock.set(at("2026-03-31T17:20:00Z"));
    assert_eq!(
        streaks
            .run_at_risk_pass(lease.as_ref(), &hook)
            .await
            .unwrap(),
        0
    );
    assert!(hook.taken().is_empty());

    // The learner flies to New York (13:30 there, still Tuesday): no day lost or doubled.
    clock.set(at("2026-03-31T17:30:00Z"));
    let (status, moved) = patch(&app, &token, json!({"time_zone": "America/New_York"})).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["time_zone"], "America/New_York");
    assert_eq!(
        (
            moved["streak"]["today"].as_str(),
            moved["streak"]["current"].as_u64()
        ),
        (Some("2026-03-31"), Some(4))
    );
    grant(&xp, id, "level:d", 30).await;
    assert_eq!(socket.next_of("daily_goal.reached").await["streak"], 5);
    // New York's evening came: kept today, nothing at risk.
    clock.set(at("2026-03-31T23:30:00Z"));
    assert_eq!(
        streaks
            .run_at_risk_pass(lease.as_ref(), &hook)
            .await
            .unwrap(),
        0
    );
    assert_eq!(me(&app, &token).await["streak"]["current"], 5);

    // A lowered goal that today's XP already meets reaches today.
    clock.set(at("2026-04-01T14:00:00Z"));
    grant(&xp, id, "level:e", 10).await;
    let (_, lowered) = patch(&app, &token, json!({"daily_goal": 10})).await;
    assert_eq!(
        (
            lowered["streak"]["goal_reached"].as_bool(),
            lowered["streak"]["current"].as_u64()
        ),
        (Some(true), Some(6))
    );
    assert_eq!(
        socket.next_of("daily_goal.reached").await["date"],
        "2026-04-01"
    );
}

#[actix_web::test]
async fn streaks_on_cassandra_and_redis_count_once_warn_and_leave_with_the_account() {
    let keyspace = cql::fresh_keyspace("test").await;
    questpath::adapters::scylla::migrate(&scylla_settings(&keyspace))
        .await
        .expect("migrate");
    let prefix = format!("streaks_{}:", Uuid::new_v4().simple());
    let app = TestApp::builder()
        .envs(&[
            ("QUESTPATH_REDIS_URL", redis_url()),
            ("QUESTPATH_REDIS_PREFIX", prefix),
            ("QUESTPATH_SCYLLA_NODES", scylla_nodes()),
            ("QUESTPATH_SCYLLA_KEYSPACE", keyspace.clone()),
            ("QUESTPATH_SCYLLA_REPLICATION", "simple:1".to_string()),
            ("QUESTPATH_STREAK_CHECK_SECS", "3600".to_string()),
        ])
        .configured()
        .start()
        .await;
    assert_eq!(app.backends.store.backend(), "scylla");
    assert_eq!(app.backends.bus.backend(), "redis");
    // The server reads the system clock; the test's services start at the same time and
    // move on by themselves for the evening.
    let clock = ManualClock::new(Utc::now());
    let (xp, streaks) = services(&app, Arc::new(clock.clone()));
    let user = TestUser::generate();
    let zone = "Australia/Sydney";
    let (id, token) = learner_in(&app, &user, zone).await;
    let (status, _) = patch(&app, &token, json!({"daily_goal": 10})).await;
    assert_eq!(status, 200);
    let mut socket: WsClient = app.connect(&token).await;

    assert_eq!(grant(&xp, id, "level:x", 10).await, 10);
    let reached = socket.next_of("daily_goal.reached").await;
    let today = local_date(parse_zone(zone).unwrap(), clock.now());
    assert_eq!(reached["date"], today.to_string());
    assert_eq!(reached["streak"], 1);
    // A retry, and a grant recovered after a crash, each counted once.
    assert_eq!(grant(&xp, id, "level:x", 10).await, 0);
    let crashed = XpEntry {
        user_id: id,
        grant_id: "room:crashed".into(),
        amount: 5,
        source: "room".into(),
        created_at: clock.now(),
    };
    assert!(app.backends.store.record_xp(&crashed).await.unwrap());
    xp.recover().await.unwrap();
    xp.recover().await.unwrap();
    let profile = me(&app, &token).await;
    assert_eq!(profile["time_zone"], zone);
    assert_eq!(profile["daily_goal"], 10);
    let streak = &profile["streak"];
    assert_eq!(streak["today"], today.to_string());
    assert_eq!(
        (
            streak["today_xp"].as_i64(),
            streak["current"].as_u64(),
            streak["goal_reached"].as_bool()
        ),
        (Some(15), Some(1), Some(true))
    );

    // Tomorrow's evening in Sydney, nothing earned: at risk, told over Redis, once.
    let tomorrow = today.succ_opt().unwrap();
    clock.set(evening(parse_zone(zone).unwrap(), tomorrow) + Duration::minutes(1));
    let hook = Recorded::default();
    let lease = app.backends.leaderboard.clone();
    assert_eq!(
        streaks
            .run_at_risk_pass(lease.as_ref(), &hook)
            .await
            .unwrap(),
        1
    );
    assert_eq!(hook.taken()[0].local_date, tomorrow);
    let at_risk = socket.next_of("streak.at_risk").await;
    assert_eq!(
        (at_risk["streak"].as_u64(), at_risk["local_date"].as_str()),
        (Some(1), Some(tomorrow.to_string().as_str()))
    );
    assert_eq!(
        streaks
            .run_at_risk_pass(lease.as_ref(), &hook)
            .await
            .unwrap(),
        0
    );

    // The export holds the settings and the days; deletion removes them and the check.
    let export: Value = app
        .get_bearer("/api/v1/me/export", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(export["streak"]["time_zone"], zone);
    assert_eq!(export["streak"]["daily_goal"], 10);
    assert_eq!(export["streak"]["days"][0]["xp"], 15);
    assert_eq!(export["streak"]["days"][0]["date"], today.to_string());
    let check = streaks
        .record(id)
        .await
        .unwrap()
        .unwrap()
        .check
        .expect("a check");
    let deleted = app
        .call(
            Method::DELETE,
            "/api/v1/me",
            &token,
            Some(&json!({"password": user.password})),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.backends.store.streak(id).await.unwrap(), None);
    let left = app
        .backends
        .store
        .streak_checks_due(check.hour(), check.due_at, 1000)
        .await
        .unwrap();
    assert!(left.iter().all(|c| c.user_id != id), "{left:?}");
    drop(app);
    cql::drop_keyspace(&scylla_nodes(), &keyspace).await;
}
