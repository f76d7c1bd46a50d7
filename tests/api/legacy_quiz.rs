//! The legacy quiz routes: the old frontend gets the answers and reports `passed`, but
//! the XP rules and the ledger still decide what a pass is worth.

use reqwest::Method;
use serde_json::{Value, json};

use questpath_test_support::{TestUser, spawn_app};

#[actix_web::test]
async fn the_old_quiz_flow_works_and_cannot_farm_xp() {
    let app = spawn_app().await;
    let token = app.register(&TestUser::generate()).await.access;
    let goal_id = app.create_goal(&token, "Learn web development").await;
    let goal: Value = app
        .get_bearer(&format!("/goals/{goal_id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    let level = &goal["roadmap"]["levels"][0];
    let level_id = level["id"].as_str().unwrap().to_string();
    let reward = level["xp_reward"].as_i64().unwrap();
    let quiz_path = format!("/levels/{level_id}/quiz");
    let submit_path = format!("/levels/{level_id}/quiz/submit");
    let submit = |body: Value| {
        let app = &app;
        let token = &token;
        let path = submit_path.clone();
        async move { app.call(Method::POST, &path, token, Some(&body)).await }
    };

    let too_early = app.get_bearer(&quiz_path, &token).await;
    assert_eq!(too_early.status(), 403);
    assert_eq!(
        too_early.json::<Value>().await.unwrap(),
        json!({"detail": "Complete all topics before taking the quiz"})
    );
    for i in 0..level["topics"].as_array().unwrap().len() {
        app.call(
            Method::PUT,
            &format!("/api/v1/levels/{level_id}/topics/{i}"),
            &token,
            Some(&json!({"completed": true})),
        )
        .await;
    }
    let unsolicited = submit(json!({"score": 100, "passed": true, "time_taken": 0})).await;
    assert_eq!(
        unsolicited.status(),
        409,
        "a result needs a quiz handed out first"
    );

    let quiz: Value = app
        .get_bearer(&quiz_path, &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(quiz["level_id"], level["id"]);
    assert_eq!(quiz["time_limit"], 300);
    let questions = quiz["questions"].as_array().unwrap();
    assert_eq!(questions.len(), 5);
    for (n, q) in questions.iter().enumerate() {
        assert_eq!(q["id"], n + 1);
        assert_eq!(q["options"].as_array().unwrap().len(), 4);
        assert_eq!(q["options"][2]["value"], "C");
        assert!(["A", "B", "C", "D"].contains(&q["correct_answer"].as_str().unwrap()));
    }
    let inconsistent = submit(json!({"score": 40, "passed": true, "time_taken": 0})).await;
    assert_eq!(inconsistent.status(), 422);
    let first: Value = submit(json!({"score": 100, "passed": true, "time_taken": 0}))
        .await
        .json()
        .await
        .unwrap();
    let replay = submit(json!({"score": 100, "passed": true, "time_taken": 0})).await;
    app.get_bearer(&quiz_path, &token).await;
    let second: Value = submit(json!({"score": 80, "passed": true, "time_taken": 0}))
        .await
        .json()
        .await
        .unwrap();
    app.get_bearer(&quiz_path, &token).await;
    let third: Value = submit(json!({"score": 100, "passed": true, "time_taken": 0}))
        .await
        .json()
        .await
        .unwrap();
    app.get_bearer(&quiz_path, &token).await;
    let failed: Value = submit(json!({"score": 20, "passed": false, "time_taken": 0}))
        .await
        .json()
        .await
        .unwrap();
    let me: Value = app
        .get_bearer("/auth/me", &token)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(first["passed"], true);
    assert_eq!(first["xp_earned"], reward);
    assert_eq!(first["next_level_unlocked"], true);
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("unlocked the next level")
    );
    assert_eq!(replay.status(), 409, "one result per quiz handed out");
    assert_eq!(second["xp_earned"], (reward / 10).max(1));
    assert_eq!(third["xp_earned"], 0, "the repass reward is once a day");
    assert_eq!(
        failed,
        json!({"passed": false, "xp_earned": 0, "next_level_unlocked": false,
        "message": "You didn't pass this time. Review the topics and try again!"})
    );
    assert_eq!(me["total_exp"], reward + (reward / 10).max(1));
}
