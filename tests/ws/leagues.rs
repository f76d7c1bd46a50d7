//! `league.standings` over the websocket: every learner of a cohort hears when its
//! standings change, with the zones and the week's end.

use serde_json::{Value, json};

use questpath_test_support::spawn_app;

#[actix_web::test]
async fn the_learners_of_a_cohort_hear_its_standings_change() {
    let app = spawn_app().await;
    let ada = app.learner().await;
    let bob = app.learner().await;
    let mut ada_socket = app.connect(&ada).await;

    let (_, ada_xp) = app.pass_first_level(&ada).await;
    let first = ada_socket.next_of("league.standings").await;
    let week = questpath_actors::leaderboard::Week::of(chrono::Utc::now());
    assert_eq!(first["week"], json!(week.label()));
    assert_eq!(first["tier"], "bronze");
    assert_eq!(first["cohort"], 0);
    assert_eq!(
        first["ends_at"],
        json!(
            week.ends_at()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    );
    assert_eq!(first["promotion_ranks"], 1);
    assert_eq!(first["demotion_ranks"], 0);
    let rows = first["standings"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{first}");
    assert_eq!(rows[0]["rank"], 1);
    assert_eq!(rows[0]["xp"], ada_xp);
    assert_eq!(rows[0]["zone"], "promotion");

    // Bob's first XP of the week places him in the same cohort: Ada hears it.
    let mut bob_socket = app.connect(&bob).await;
    app.pass_first_level(&bob).await;
    let both = loop {
        let frame = ada_socket.next_of("league.standings").await;
        if frame["standings"].as_array().unwrap().len() == 2 {
            break frame;
        }
    };
    let zones: Vec<&Value> = both["standings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["zone"])
        .collect();
    assert_eq!(zones, vec!["promotion", "stay"], "{both}");
    // And so does Bob, on his own socket.
    let his = bob_socket.next_of("league.standings").await;
    assert_eq!(his["standings"].as_array().unwrap().len(), 2, "{his}");
}
