//! Notifications arrive live: a level-up reached on one device is a `notification`
//! frame on every connection of the learner, with the unread count, and the same
//! notification is in `GET /api/v1/notifications`.

use serde_json::Value;

use questpath_test_support::spawn_app;

#[actix_web::test]
async fn a_level_up_arrives_live_on_every_connection() {
    let app = spawn_app().await;
    let token = app.learner().await;
    let mut phone = app.connect(&token).await;
    let mut laptop = app.connect(&token).await;

    // The grant goes through the server's own path (the legacy quiz routes).
    let (_, xp) = app.pass_first_level(&token).await;
    assert!(xp >= 100, "the first level grants {xp} XP");

    let frame = phone.next_of("notification").await;
    let notification = &frame["notification"];
    assert_eq!(notification["kind"], "level_up", "{frame}");
    assert_eq!(notification["data"]["level"], 2);
    assert_eq!(notification["data"]["previous_level"], 1);
    assert_eq!(notification["read"], false);
    assert_eq!(frame["unread"], 1);
    assert_eq!(
        laptop.next_of("notification").await,
        frame,
        "every connection"
    );
    let listed: Value = app
        .get_bearer("/api/v1/notifications", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0], *notification);
}
