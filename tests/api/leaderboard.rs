//! Leaderboards over HTTP: `GET /api/v1/leaderboards/{board}` (archived weeks too) and
//! the legacy `GET /leaderboard`.

use std::time::Duration;

use questpath::xp::XpService;
use questpath_actors::rules::xp::{XpGrant, XpSource};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use questpath_test_support::{TestApp, TestUser, spawn_app_with};

/// A server, and an XP service over the same backends: grants made through it reach
/// the server's boards as another instance's would.
async fn app_with_xp() -> (TestApp, XpService) {
    let mut captured = None;
    let app = spawn_app_with(&[], |backends| {
        captured = Some(backends.clone());
        backends
    })
    .await;
    let backends = captured.expect("backends");
    let xp = XpService::new(backends.store, backends.leaderboard, backends.bus);
    (app, xp)
}

struct Learner {
    id: Uuid,
    email: String,
    token: String,
}

async fn learner(app: &TestApp, display_name: Option<&str>) -> Learner {
    let user = TestUser::generate();
    let token = app.register(&user).await.access;
    if let Some(name) = display_name {
        let renamed = app
            .call(
                Method::PATCH,
                "/api/v1/me",
                &token,
                Some(&json!({"display_name": name})),
            )
            .await;
        assert_eq!(renamed.status(), 200);
    }
    let me: Value = app
        .get_bearer("/api/v1/me", &token)
        .await
        .json()
        .await
        .unwrap();
    Learner {
        id: Uuid::parse_str(me["id"].as_str().unwrap()).unwrap(),
        email: user.email,
        token,
    }
}

async fn grant(xp: &XpService, learner: &Learner, amount: i64) {
    xp.grant(
        learner.id,
        &XpGrant {
            grant_id: format!("test:{}", Uuid::new_v4()),
            amount,
            source: XpSource::LevelFirstPass,
        },
    )
    .await
    .expect("grant");
    // Distinct milliseconds, so "who reached it first" is what the test says.
    tokio::time::sleep(Duration::from_millis(5)).await;
}

async fn board(app: &TestApp, path: &str, token: &str) -> (u16, Value, String) {
    let response = app.get_bearer(path, token).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body, text)
}

fn ranked(body: &Value, key: &str) -> Vec<(u64, String, i64)> {
    body[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["rank"].as_u64().unwrap(),
                e["user_id"].as_str().unwrap().to_string(),
                e["score"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn the_v1_board_ranks_pages_and_shows_names_never_emails() {
    let (app, xp) = app_with_xp().await;
    let ada = learner(&app, Some("Ada")).await;
    let bob = learner(&app, None).await;
    let cyd = learner(&app, Some("Cyd")).await;
    let newcomer = learner(&app, None).await;
    grant(&xp, &ada, 200).await;
    grant(&xp, &ada, 100).await; // Ada reaches 300 first
    grant(&xp, &bob, 300).await; // Bob reaches 300 later
    grant(&xp, &cyd, 100).await;

    let (status, body, text) = board(&app, "/api/v1/leaderboards/alltime", &bob.token).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        ranked(&body, "entries"),
        vec![
            (1, ada.id.to_string(), 300),
            (2, bob.id.to_string(), 300),
            (3, cyd.id.to_string(), 100),
        ],
        "at equal XP, whoever reached it first ranks higher"
    );
    assert_eq!(body["board"], "alltime");
    assert_eq!(body["period"], Value::Null);
    assert_eq!(body["next_reset"], Value::Null);
    assert_eq!(body["live"], true);
    assert_eq!(body["total"], 3);
    assert_eq!(body["me"]["rank"], 2);
    assert_eq!(body["me"]["score"], 300);
    assert_eq!(body["entries"][0]["name"], "Ada");
    assert_eq!(body["entries"][2]["name"], "Cyd");
    let masked = body["entries"][1]["name"].as_str().unwrap();
    assert!(masked.starts_with("l***@e***"), "{masked}");
    for email in [&ada.email, &bob.email, &cyd.email] {
        assert!(!text.contains(email.as_str()), "an email leaked: {text}");
    }
    assert!(body.get("around").is_none(), "only with around=me");

    // Around the learner at rank 1 and at the last rank.
    let (_, top, _) = board(
        &app,
        "/api/v1/leaderboards/alltime?around=me&k=1",
        &ada.token,
    )
    .await;
    assert_eq!(
        ranked(&top, "around"),
        vec![(1, ada.id.to_string(), 300), (2, bob.id.to_string(), 300)]
    );
    let (_, last, _) = board(
        &app,
        "/api/v1/leaderboards/alltime?around=me&k=1",
        &cyd.token,
    )
    .await;
    assert_eq!(
        ranked(&last, "around"),
        vec![(2, bob.id.to_string(), 300), (3, cyd.id.to_string(), 100)]
    );
    // A learner without XP: no entry, nobody around.
    let (_, none, _) = board(
        &app,
        "/api/v1/leaderboards/alltime?around=me",
        &newcomer.token,
    )
    .await;
    assert_eq!(none["me"], Value::Null);
    assert_eq!(none["around"], json!([]));

    // Pages by rank.
    let (_, first, _) = board(&app, "/api/v1/leaderboards/alltime?limit=2", &ada.token).await;
    assert_eq!(first["entries"].as_array().unwrap().len(), 2);
    assert_eq!(first["next_from_rank"], 3);
    let (_, second, _) = board(
        &app,
        "/api/v1/leaderboards/alltime?limit=2&from_rank=3",
        &ada.token,
    )
    .await;
    assert_eq!(
        ranked(&second, "entries"),
        vec![(3, cyd.id.to_string(), 100)]
    );
    assert_eq!(second["next_from_rank"], Value::Null);

    // This week's board: the same grants, a period and a reset.
    let (status, weekly, _) = board(&app, "/api/v1/leaderboards/weekly", &cyd.token).await;
    assert_eq!(status, 200);
    assert_eq!(weekly["board"], "weekly");
    assert_eq!(weekly["total"], 3);
    assert_eq!(weekly["me"]["rank"], 3);
    let period = weekly["period"].as_str().unwrap();
    let reset = weekly["next_reset"].as_str().unwrap();
    assert!(period.contains("-W"), "{period}");
    let reset = chrono::DateTime::parse_from_rfc3339(reset).unwrap();
    assert_eq!(
        chrono::Datelike::weekday(&reset),
        chrono::Weekday::Mon,
        "resets on Monday"
    );
    assert_eq!(reset.timestamp() % 86_400, 0, "at midnight UTC");
    let (status, by_name, _) = board(
        &app,
        &format!("/api/v1/leaderboards/weekly:{period}"),
        &cyd.token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(by_name["entries"], weekly["entries"]);
}

#[actix_web::test]
async fn bad_boards_and_parameters_are_refused() {
    let app = spawn_app_with(&[], |b| b).await;
    let someone = learner(&app, None).await;
    for (path, status) in [
        ("/api/v1/leaderboards/daily", 404),
        ("/api/v1/leaderboards/weekly:2999-W01", 404),
        ("/api/v1/leaderboards/alltime?limit=0", 422),
        ("/api/v1/leaderboards/alltime?limit=101", 422),
        ("/api/v1/leaderboards/alltime?from_rank=0", 422),
        ("/api/v1/leaderboards/alltime?around=you", 422),
        ("/api/v1/leaderboards/alltime?around=me&k=26", 422),
    ] {
        let (got, body, text) = board(&app, path, &someone.token).await;
        assert_eq!(got, status, "{path}: {text}");
        assert!(body["code"].is_string(), "{path}: problem+json expected");
    }
    let anonymous = app.get("/api/v1/leaderboards/alltime").await;
    assert_eq!(anonymous.status(), 401);
}

#[actix_web::test]
async fn the_legacy_leaderboard_keeps_the_old_shape_with_the_right_rank() {
    let (app, xp) = app_with_xp().await;
    let ada = learner(&app, Some("Ada")).await;
    let bob = learner(&app, None).await;
    let zero = learner(&app, Some("Zed")).await;
    grant(&xp, &ada, 500).await;
    grant(&xp, &bob, 200).await;

    let (status, body, text) = board(&app, "/leaderboard", &bob.token).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        body["leaderboard"][0],
        json!({"rank": 1, "user_id": ada.id, "email": "Ada", "total_exp": 500})
    );
    let second = &body["leaderboard"][1];
    assert_eq!(second["rank"], 2);
    assert_eq!(second["total_exp"], 200);
    assert!(
        second["email"].as_str().unwrap().contains("***"),
        "masked: {second}"
    );
    assert!(
        !text.contains(&ada.email) && !text.contains(&bob.email),
        "{text}"
    );
    assert_eq!(
        body["current_user"]["rank"], 2,
        "the old backend always said 1"
    );
    assert_eq!(body["current_user"]["user_id"], json!(bob.id));

    // Without XP: after everyone who has some.
    let (_, unranked, _) = board(&app, "/leaderboard", &zero.token).await;
    assert_eq!(
        unranked["current_user"],
        json!({"rank": 3, "user_id": zero.id, "email": "Zed", "total_exp": 0})
    );
    assert_eq!(unranked["leaderboard"].as_array().unwrap().len(), 2);
    let anonymous = app.get("/leaderboard").await;
    assert_eq!(anonymous.status(), 401);
}

#[actix_web::test]
async fn a_grant_that_changes_the_legacy_top_ten_shows_on_the_next_read() {
    let (app, xp) = app_with_xp().await;
    let mut seeded = Vec::new();
    for i in 1..=10 {
        let learner = learner(&app, Some(&format!("Learner {i}"))).await;
        grant(&xp, &learner, i * 10).await;
        seeded.push(learner);
    }
    let climber = learner(&app, Some("Climber")).await;

    let (_, before, _) = board(&app, "/leaderboard", &climber.token).await;
    let names = |body: &Value| -> Vec<String> {
        body["leaderboard"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["email"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&before).len(), 10);
    assert_eq!(names(&before)[0], "Learner 10");
    assert!(names(&before).contains(&"Learner 1".to_string()));
    assert_eq!(before["current_user"]["rank"], 11);

    let (_, earned) = app.pass_first_level(&climber.token).await;
    assert!(
        earned > 10,
        "the first pass earns the level's reward: {earned}"
    );

    let (_, after, _) = board(&app, "/leaderboard", &climber.token).await;
    let expected_rank = 1 + (1..=10).filter(|i| i * 10 >= earned).count();
    assert!(
        names(&after).contains(&"Climber".to_string()),
        "the very next read shows the grant: {after}"
    );
    assert_eq!(after["current_user"]["rank"], expected_rank);
    assert_eq!(after["current_user"]["total_exp"], earned);
    assert!(
        !names(&after).contains(&"Learner 1".to_string()),
        "pushed out of the top 10"
    );
    assert_eq!(names(&after).len(), 10);
}

#[actix_web::test]
async fn lost_boards_are_rebuilt_from_the_ledger_by_the_next_instance() {
    let mut captured = None;
    let app = spawn_app_with(&[], |backends| {
        captured = Some(backends.clone());
        backends
    })
    .await;
    let backends = captured.expect("backends");
    let xp = XpService::new(
        backends.store.clone(),
        backends.leaderboard.clone(),
        backends.bus.clone(),
    );
    let ada = learner(&app, Some("Ada")).await;
    let bob = learner(&app, Some("Bob")).await;
    grant(&xp, &ada, 120).await;
    grant(&xp, &bob, 120).await;
    grant(&xp, &bob, 30).await;
    let (_, before, _) = board(&app, "/api/v1/leaderboards/alltime", &ada.token).await;
    let (_, weekly_before, _) = board(&app, "/api/v1/leaderboards/weekly", &ada.token).await;
    assert_eq!(before["total"], 2);

    // Redis loses everything: boards and their marks.
    for key in [
        "alltime".to_string(),
        format!("weekly:{}", weekly_before["period"].as_str().unwrap()),
    ] {
        backends.leaderboard.clear(&key).await.unwrap();
    }
    let (_, empty, _) = board(&app, "/api/v1/leaderboards/alltime", &ada.token).await;
    assert_eq!(empty["total"], 0);

    // An instance starting (or any instance's next upkeep) sees the boards incomplete
    // and rebuilds them from the ledger.
    let _restarted = XpService::new(backends.store, backends.leaderboard, backends.bus);
    let started = std::time::Instant::now();
    loop {
        let (_, after, _) = board(&app, "/api/v1/leaderboards/alltime", &ada.token).await;
        if after["total"] == 2 {
            assert_eq!(
                after["entries"], before["entries"],
                "the rebuilt board is the lost one"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not rebuilt: {after}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, weekly_after, _) = board(&app, "/api/v1/leaderboards/weekly", &ada.token).await;
    assert_eq!(weekly_after["entries"], weekly_before["entries"]);
}

/// A week long gone from the board, once archived, is read from the store: the same
/// pages, entries and neighbours its board gave, after the board is gone.
#[actix_web::test]
async fn an_archived_week_reads_as_its_board_did_after_the_board_is_gone() {
    use questpath::leaderboard::archive::archive_week;
    use questpath::leaderboard::rebuild::rebuild_until;
    use questpath::leaderboard::{Board, Week};
    use questpath::ports::XpEntry;

    let mut captured = None;
    let app = spawn_app_with(&[], |backends| {
        captured = Some(backends.clone());
        backends
    })
    .await;
    let backends = captured.expect("backends");
    let (store, port) = (backends.store.clone(), backends.leaderboard.clone());
    let ada = learner(&app, Some("Ada")).await;
    let bob = learner(&app, None).await;
    let cyd = learner(&app, Some("Cyd")).await;
    let dan = learner(&app, Some("Dan")).await;
    let newcomer = learner(&app, None).await;
    // Nine weeks ago: far past the four weeks a board stays in Redis.
    let now = chrono::Utc::now();
    let week = Week::of(now - chrono::Duration::weeks(9));
    let tuesday = chrono::DateTime::from_timestamp_millis(
        (week.starts_at() + chrono::Duration::days(1)).timestamp_millis(),
    )
    .unwrap();
    for (i, (who, amount)) in [(&ada, 300), (&bob, 300), (&cyd, 100), (&dan, 50)]
        .into_iter()
        .enumerate()
    {
        let grant = XpEntry {
            user_id: who.id,
            grant_id: format!("old:{i}"),
            amount,
            source: "level_first_pass".into(),
            // Ada reaches 300 a millisecond before Bob.
            created_at: tuesday + chrono::Duration::milliseconds(i as i64),
        };
        assert!(store.record_xp(&grant).await.unwrap());
    }
    // The week's board as the archiver builds it: from the ledger, for an hour.
    let week_board = Board::Weekly(week);
    rebuild_until(store.clone(), port.as_ref(), &[week_board], |_| {
        Some(chrono::Utc::now() + chrono::Duration::hours(1))
    })
    .await
    .unwrap();
    let base = format!("/api/v1/leaderboards/weekly:{}", week.label());
    let reads = [
        (base.clone(), &bob),
        (format!("{base}?limit=2"), &ada),
        (format!("{base}?limit=2&from_rank=3"), &dan),
        (format!("{base}?around=me&k=1"), &cyd),
        (format!("{base}?around=me&k=25&limit=100"), &ada),
        (format!("{base}?from_rank=5"), &bob),
        (format!("{base}?around=me"), &newcomer),
    ];
    let mut from_board = Vec::new();
    for (path, who) in &reads {
        let (status, body, text) = board(&app, path, &who.token).await;
        assert_eq!(status, 200, "{path}: {text}");
        from_board.push(body);
    }
    assert_eq!(
        ranked(&from_board[0], "entries"),
        vec![
            (1, ada.id.to_string(), 300),
            (2, bob.id.to_string(), 300),
            (3, cyd.id.to_string(), 100),
            (4, dan.id.to_string(), 50),
        ]
    );

    // Archived, then gone from the board.
    let report = archive_week(store.clone(), port.as_ref(), week)
        .await
        .unwrap();
    assert_eq!(report.total, 4);
    port.clear(&week_board.key()).await.unwrap();
    assert_eq!(port.len(&week_board.key()).await.unwrap(), 0);

    for ((path, who), before) in reads.iter().zip(&from_board) {
        let (status, body, text) = board(&app, path, &who.token).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert_eq!(&body, before, "{path}: the archive reads as the board did");
    }
    let first = &from_board[0];
    assert_eq!(first["board"], "weekly");
    assert_eq!(first["period"], week.label());
    assert_eq!(first["live"], false);
    assert_eq!(first["total"], 4);
    assert_eq!(first["me"]["rank"], 2);
    let reset =
        chrono::DateTime::parse_from_rfc3339(first["next_reset"].as_str().unwrap()).unwrap();
    assert_eq!(reset, week.ends_at());
    assert_eq!(
        ranked(&from_board[3], "around"),
        vec![
            (2, bob.id.to_string(), 300),
            (3, cyd.id.to_string(), 100),
            (4, dan.id.to_string(), 50),
        ]
    );
    assert_eq!(from_board[5]["entries"], json!([]));
    assert_eq!(from_board[6]["me"], Value::Null);
    assert_eq!(from_board[6]["around"], json!([]));
}
