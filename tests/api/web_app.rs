//! The browser app served from the binary (`web/`): its pages and files, their headers
//! (the app's own strict CSP, revalidation, compression), what is never served, the
//! sign-in methods the app asks for, and the QR code of a room's join link.

use reqwest::header;
use serde_json::Value;

use questpath_test_support::{spawn_app, spawn_app_with};

#[actix_web::test]
async fn the_app_is_served_at_the_root_and_at_join_links_with_its_own_csp() {
    let app = spawn_app().await;

    for path in ["/", "/index.html", "/join", "/join/K7XQ2M"] {
        let page = app.get(path).await;
        assert_eq!(page.status(), 200, "{path}");
        let headers = page.headers().clone();
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("https:"),
            "{csp}"
        );
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"<script type="module" src="/js/app.js">"#));
        assert!(
            !html.contains("<style") && !html.contains("style="),
            "nothing inline"
        );
    }
    let script = app.get("/js/app.js").await;
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    let manifest = app.get("/manifest.webmanifest").await;
    assert_eq!(
        manifest.headers()[header::CONTENT_TYPE],
        "application/manifest+json; charset=utf-8"
    );
}

#[actix_web::test]
async fn files_revalidate_with_their_etag_and_compress() {
    let app = spawn_app().await;
    let first = app.get("/vendor/preact-htm.js").await;
    let etag = first.headers()[header::ETAG].to_str().unwrap().to_string();
    let full = first.bytes().await.unwrap().len();

    let again = app
        .client
        .get(app.url("/vendor/preact-htm.js"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()[header::ETAG], etag.as_str());

    let gzipped = app
        .client
        .get(app.url("/vendor/preact-htm.js"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
    let compressed = gzipped.bytes().await.unwrap().len();
    assert!(compressed * 2 < full, "{compressed} of {full} bytes");
}

#[actix_web::test]
async fn only_the_app_is_served_never_the_tests_or_other_files() {
    let app = spawn_app().await;
    for path in [
        "/tests/package.json",
        "/js/../Cargo.toml",
        "/js/%2e%2e/%2e%2e/Cargo.toml",
        "/js/nothing-here.js",
        "/README.md",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    // API paths keep their JSON answers.
    let api = app.get("/api/v1/nothing").await;
    assert_eq!(api.status(), 404);
    assert_eq!(
        api.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
}

#[actix_web::test]
async fn sign_in_methods_name_google_only_when_configured() {
    let plain = spawn_app().await;
    let providers: Value = plain
        .get("/api/v1/auth/providers")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(providers["password"], true);
    assert_eq!(providers["google"], Value::Null);

    let with_google = spawn_app_with(
        &[(
            "QUESTPATH_GOOGLE_CLIENT_ID",
            "client-123.apps.googleusercontent.com",
        )],
        |b| b,
    )
    .await;
    let providers: Value = with_google
        .get("/api/v1/auth/providers")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        providers["google"]["client_id"],
        "client-123.apps.googleusercontent.com"
    );
    // The page may then load Google's button, and nothing else from elsewhere.
    let page = with_google.get("/").await;
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self' https://accounts.google.com/gsi/client;"),
        "{csp}"
    );
}

#[actix_web::test]
async fn a_rooms_join_link_is_drawn_as_a_qr_code() {
    let app = spawn_app().await;
    let qr = app.get("/api/v1/rooms/k7x-q2m/qr.svg").await;
    assert_eq!(qr.status(), 200);
    assert_eq!(
        qr.headers()[header::CONTENT_TYPE],
        "image/svg+xml; charset=utf-8"
    );
    let svg = qr.text().await.unwrap();
    assert!(svg.contains("<svg"), "{svg:.80}");

    let bad = app.get("/api/v1/rooms/not-a-code/qr.svg").await;
    assert_eq!(bad.status(), 404);
}
