//! Weekly leagues over HTTP: `GET /api/v1/leagues/current` and
//! `GET /api/v1/leagues/history`.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use questpath::xp::XpService;
use questpath_actors::domain::Tier;
use questpath_actors::leaderboard::Week;
use questpath_actors::ports::store::LeagueResult;
use questpath_actors::rules::xp::{XpGrant, XpSource};
use questpath_test_support::{TestApp, TestUser, spawn_app_with};

/// A server, and an XP service over the same backends (another instance's grants).
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

async fn learner(app: &TestApp, name: &str) -> (Uuid, String) {
    let token = app.register(&TestUser::generate()).await.access;
    let renamed = app
        .call(
            Method::PATCH,
            "/api/v1/me",
            &token,
            Some(&json!({"display_name": name})),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let me: Value = app
        .get_bearer("/api/v1/me", &token)
        .await
        .json()
        .await
        .unwrap();
    (Uuid::parse_str(me["id"].as_str().unwrap()).unwrap(), token)
}

async fn grant(xp: &XpService, user_id: Uuid, amount: i64) {
    xp.grant(
        user_id,
        &XpGrant {
            grant_id: format!("test:{}", Uuid::new_v4()),
            amount,
            source: XpSource::LevelFirstPass,
        },
    )
    .await
    .expect("grant");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let response = app.get_bearer(path, token).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn the_current_league_shows_the_cohort_its_zones_and_the_time_left() {
    let (app, xp) = app_with_xp().await;
    let (ada, ada_token) = learner(&app, "Ada").await;
    let (bob, _) = learner(&app, "Bob").await;
    let week = Week::of(Utc::now());

    // Before any XP this week: not placed, in the tier a first XP places her in.
    let (status, before) = get(&app, "/api/v1/leagues/current", &ada_token).await;
    assert_eq!(status, 200);
    assert_eq!(before["week"], json!(week.label()));
    assert_eq!(before["tier"], "bronze");
    assert_eq!(before["placed"], false);
    assert_eq!(before["cohort"], Value::Null);
    let ends_at: DateTime<Utc> = before["ends_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(ends_at, week.ends_at());
    let left = before["seconds_left"].as_i64().unwrap();
    assert!(left > 0 && left <= 7 * 86_400, "{left}");

    grant(&xp, bob, 80).await;
    grant(&xp, ada, 50).await;

    let (status, current) = get(&app, "/api/v1/leagues/current", &ada_token).await;
    assert_eq!(status, 200);
    assert_eq!(current["placed"], true, "{current}");
    let cohort = &current["cohort"];
    assert_eq!(cohort["number"], 0);
    assert_eq!(cohort["size"], 2);
    // Two in Bronze: the top one moves up, nobody moves down from the lowest tier.
    assert_eq!(cohort["promotion_ranks"], 1);
    assert_eq!(cohort["demotion_ranks"], 0);
    let standings = cohort["standings"].as_array().unwrap();
    assert_eq!(
        standings
            .iter()
            .map(|r| (
                r["name"].as_str().unwrap(),
                r["xp"].as_i64().unwrap(),
                r["zone"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        vec![("Bob", 80, "promotion"), ("Ada", 50, "stay")]
    );
    assert_eq!(cohort["me"]["user_id"], json!(ada));
    assert_eq!(cohort["me"]["rank"], 2);

    // More XP moves her up; a grant retried counts once.
    let again = XpGrant {
        grant_id: "test:retried".into(),
        amount: 40,
        source: XpSource::LevelFirstPass,
    };
    xp.grant(ada, &again).await.unwrap();
    xp.grant(ada, &again).await.unwrap();
    let (_, current) = get(&app, "/api/v1/leagues/current", &ada_token).await;
    assert_eq!(current["cohort"]["me"]["rank"], 1, "{current}");
    assert_eq!(current["cohort"]["me"]["xp"], 90);
    assert_eq!(current["cohort"]["me"]["zone"], "promotion");
    assert_eq!(app.get("/api/v1/leagues/current").await.status(), 401);
}

#[actix_web::test]
async fn history_lists_decided_weeks_newest_first_in_pages() {
    let (app, _xp) = app_with_xp().await;
    let (ada, token) = learner(&app, "Ada").await;
    let store = app.backends.store.clone();

    let (status, empty) = get(&app, "/api/v1/leagues/history", &token).await;
    assert_eq!(status, 200);
    assert_eq!(empty, json!({"weeks": [], "next_before": null}));

    // Three decided weeks and one not decided yet.
    let weeks = [
        ("2026-W10", Tier::Silver, Tier::Gold, 1),
        ("2026-W11", Tier::Gold, Tier::Gold, 9),
        ("2026-W12", Tier::Gold, Tier::Silver, 28),
    ];
    for (week, tier, after, rank) in weeks {
        store
            .place_in_league(ada, week, tier, 30, Utc::now())
            .await
            .unwrap();
        let result = LeagueResult {
            tier_after: after,
            rank,
            xp: 100 - i64::from(rank),
            cohort_size: 30,
        };
        store
            .set_league_results(week, &[(ada, result)])
            .await
            .unwrap();
    }
    store
        .place_in_league(ada, "2026-W13", Tier::Silver, 30, Utc::now())
        .await
        .unwrap();

    let (status, page) = get(&app, "/api/v1/leagues/history?limit=2", &token).await;
    assert_eq!(status, 200);
    assert_eq!(
        page["weeks"],
        json!([
            {"week": "2026-W12", "tier": "gold", "tier_after": "silver", "outcome": "demoted",
             "rank": 28, "xp": 72, "cohort_size": 30},
            {"week": "2026-W11", "tier": "gold", "tier_after": "gold", "outcome": "stayed",
             "rank": 9, "xp": 91, "cohort_size": 30},
        ])
    );
    assert_eq!(page["next_before"], "2026-W11");
    let (_, last) = get(
        &app,
        "/api/v1/leagues/history?limit=2&before=2026-W11",
        &token,
    )
    .await;
    assert_eq!(last["weeks"].as_array().unwrap().len(), 1);
    assert_eq!(last["weeks"][0]["outcome"], "promoted");
    assert_eq!(last["next_before"], Value::Null);

    for bad in [
        "before=2026-48",
        "before=W12",
        "limit=0",
        "limit=51",
        "limit=x",
    ] {
        let (status, problem) = get(&app, &format!("/api/v1/leagues/history?{bad}"), &token).await;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(problem["code"], "validation_failed", "{bad}: {problem}");
    }
}

#[actix_web::test]
async fn a_cohort_formed_is_counted() {
    let (app, _xp) = app_with_xp().await;
    let token = app.learner().await;
    app.pass_first_level(&token).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    for family in [
        "questpath_league_cohorts_formed_total",
        "questpath_league_moves_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} counter")),
            "{family}"
        );
    }
    assert!(
        text.contains(r#"questpath_league_cohorts_formed_total{tier="bronze"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"questpath_league_moves_total{move="promoted"} 0"#));
}
