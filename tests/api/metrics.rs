//! `/metrics`.

use crate::helpers::{spawn_app, spawn_app_with};

#[actix_web::test]
async fn requests_are_counted_by_route_template_method_and_status() {
    let app = spawn_app().await;
    app.get("/health").await;
    app.get("/health").await;
    app.get("/no/such/route/12345").await;

    let response = app.get("/metrics").await;

    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/health",status="200"} 2"#),
        "{text}"
    );
    // Unknown paths share one series instead of one per path.
    assert!(text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#));
    assert!(!text.contains("12345"));
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("process_resident_memory_bytes"));
}

#[actix_web::test]
async fn metrics_need_the_token_when_one_is_configured() {
    let app = spawn_app_with(&[("QUESTPATH_METRICS_TOKEN", "scrape-secret")], |b| b).await;

    let anonymous = app.get("/metrics").await;
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();

    assert_eq!(anonymous.status(), 401);
    assert_eq!(wrong.status(), 401);
    assert_eq!(right.status(), 200);
}
