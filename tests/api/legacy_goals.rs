//! The legacy `/goals` and `/progression/stats` contract of the old frontend.

use serde_json::{Value, json};

use questpath_test_support::{TestApp, TestUser, spawn_app};

async fn legacy_token(app: &TestApp) -> String {
    app.register(&TestUser::generate()).await.access
}

#[actix_web::test]
async fn creating_a_goal_waits_and_answers_201_with_the_whole_roadmap() {
    let app = spawn_app().await;
    let token = legacy_token(&app).await;

    let created = app
        .client
        .post(app.url("/goals"))
        .bearer_auth(&token)
        .json(&json!({"description": "Learn web development"}))
        .send()
        .await
        .unwrap();

    assert_eq!(created.status(), 201);
    let goal: Value = created.json().await.unwrap();
    for key in [
        "id",
        "title",
        "description",
        "category",
        "difficulty_level",
        "status",
        "created_at",
    ] {
        assert!(goal.get(key).is_some(), "missing {key}: {goal}");
    }
    assert_eq!(goal["status"], "not_started");
    assert!(
        ["beginner", "intermediate", "advanced"]
            .contains(&goal["difficulty_level"].as_str().unwrap())
    );
    let roadmap = &goal["roadmap"];
    assert!(roadmap["id"].is_string() && roadmap["name"].is_string());
    let level = &roadmap["levels"][0];
    for key in [
        "id",
        "order",
        "title",
        "description",
        "topics",
        "xp_reward",
        "status",
    ] {
        assert!(level.get(key).is_some(), "missing level {key}");
    }
    assert_eq!(level["status"], "unlocked");
    assert_eq!(level["topics"][0]["completed"], false);
    assert!(level["topics"][0]["name"].is_string());
    assert!(level["topics"][0]["explanation"].is_string());

    // The dashboard list and the goal page.
    let mine: Value = app
        .get_bearer("/goals/me", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["id"], goal["id"]);
    for key in [
        "id",
        "title",
        "category",
        "difficulty_level",
        "status",
        "created_at",
    ] {
        assert!(mine[0].get(key).is_some(), "missing list {key}");
    }
    let page: Value = app
        .get_bearer(&format!("/goals/{}", goal["id"].as_str().unwrap()), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page, goal);
}

#[actix_web::test]
async fn the_topic_toggle_flips_and_reports_like_before() {
    let app = spawn_app().await;
    let token = legacy_token(&app).await;
    let goal_id = app.create_goal(&token, "Master Python").await;
    let goal: Value = app
        .get_bearer(&format!("/goals/{goal_id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    let level = goal["roadmap"]["levels"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let toggle = |index: &str| {
        let url = app.url(&format!("/goals/levels/{level}/topics/{index}"));
        app.client.patch(url).bearer_auth(&token).send()
    };

    let first = toggle("0").await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(
        first.json::<Value>().await.unwrap(),
        json!({"detail": "Topic marked as completed"})
    );
    let on: Value = app
        .get_bearer(&format!("/goals/{goal_id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    toggle("0").await.unwrap();
    let off: Value = app
        .get_bearer(&format!("/goals/{goal_id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    let bad = toggle("99").await.unwrap();
    let negative = toggle("-1").await.unwrap();

    assert_eq!(on["roadmap"]["levels"][0]["topics"][0]["completed"], true);
    assert_eq!(off["roadmap"]["levels"][0]["topics"][0]["completed"], false);
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap(),
        json!({"detail": "Invalid topic index"})
    );
    assert_eq!(negative.status(), 400);
}

#[actix_web::test]
async fn errors_and_other_learners_data_keep_the_old_shapes() {
    let app = spawn_app().await;
    let owner = legacy_token(&app).await;
    let other = legacy_token(&app).await;
    let goal_id = app.create_goal(&owner, "Master TypeScript").await;
    let goal: Value = app
        .get_bearer(&format!("/goals/{goal_id}"), &owner)
        .await
        .json()
        .await
        .unwrap();
    let level = goal["roadmap"]["levels"][0]["id"].as_str().unwrap();

    let foreign_goal = app.get_bearer(&format!("/goals/{goal_id}"), &other).await;
    let foreign_toggle = app
        .client
        .patch(app.url(&format!("/goals/levels/{level}/topics/0")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    let numeric_id = app.get_bearer("/goals/123", &owner).await;
    let short = app
        .client
        .post(app.url("/goals"))
        .bearer_auth(&owner)
        .json(&json!({"description": "short"}))
        .send()
        .await
        .unwrap();

    assert_eq!(foreign_goal.status(), 404);
    assert_eq!(
        foreign_goal.json::<Value>().await.unwrap(),
        json!({"detail": "Goal not found"})
    );
    assert_eq!(foreign_toggle.status(), 404);
    assert_eq!(
        foreign_toggle.json::<Value>().await.unwrap(),
        json!({"detail": "Level not found"})
    );
    assert_eq!(numeric_id.status(), 404);
    assert_eq!(short.status(), 422);
    assert!(
        short.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .contains("10 to 500")
    );
}

#[actix_web::test]
async fn progression_stats_keep_the_old_shape() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    let token = app.register(&user).await.access;
    app.create_goal(&token, "Learn web development").await;

    let stats: Value = app
        .get_bearer("/progression/stats", &token)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(
        stats,
        json!({
            "email": user.email,
            "display_name": null,
            "profile_picture": null,
            "total_exp": 0,
            "levels_completed": 0,
            "goal_completion_percentage": 0,
        })
    );
}
