//! The legacy `/auth/...` contract the old Next.js frontend speaks.

use serde_json::{Value, json};

use questpath_test_support::{
    TestApp, TestUser, cookie_value, set_cookie, spawn_app, spawn_app_with,
};

async fn legacy_register(app: &TestApp, user: &TestUser) -> reqwest::Response {
    app.post_json(
        "/auth/register",
        &json!({"email": user.email, "password": user.password}),
    )
    .await
}

/// The frontend's login: an OAuth2 password form.
async fn legacy_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/auth/login"))
        .form(&[
            ("username", email),
            ("password", password),
            ("grant_type", "password"),
        ])
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_frontend_flow_register_login_me_refresh_works() {
    let app = spawn_app().await;
    let user = TestUser::generate();

    // Register: 200 with UserResponse, no session yet.
    let registered = legacy_register(&app, &user).await;
    assert_eq!(registered.status(), 200);
    assert!(set_cookie(&registered, "refresh_token").is_none());
    let registered: Value = registered.json().await.unwrap();
    assert_eq!(registered["email"], user.email);
    assert_eq!(registered["total_exp"], 0);
    assert_eq!(registered["display_name"], Value::Null);
    assert_eq!(registered["profile_picture"], Value::Null);
    assert!(registered["id"].is_string());

    // Login with the form: token + refresh cookie.
    let login = legacy_login(&app, &user.email, &user.password).await;
    assert_eq!(login.status(), 200);
    let cookie = set_cookie(&login, "refresh_token").expect("refresh cookie");
    let login: Value = login.json().await.unwrap();
    assert_eq!(login["token_type"], "bearer");
    let access = login["access_token"].as_str().unwrap().to_string();

    let me: Value = app
        .get_bearer("/auth/me", &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me, registered);

    // Refresh now rotates the cookie.
    let refreshed = app
        .post_with_refresh("/auth/refresh", &cookie_value(&cookie))
        .await;
    assert_eq!(refreshed.status(), 200);
    let new_cookie = set_cookie(&refreshed, "refresh_token").expect("rotated cookie");
    assert_ne!(cookie_value(&new_cookie), cookie_value(&cookie));
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(refreshed["token_type"], "bearer");
    let again = app
        .get_bearer("/auth/me", refreshed["access_token"].as_str().unwrap())
        .await;
    assert_eq!(again.status(), 200);
    // Tokens from the legacy login work on v1 too.
    assert_eq!(app.get_bearer("/api/v1/me", &access).await.status(), 200);
}

#[actix_web::test]
async fn errors_keep_the_detail_shape_and_status_codes() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    legacy_register(&app, &user).await;

    let duplicate = legacy_register(&app, &user).await;
    let bad_login = legacy_login(&app, &user.email, "wrong password!").await;
    let no_token = app.get("/auth/me").await;
    let bad_token = app.get_bearer("/auth/me", "not.a.token").await;
    let no_cookie = app
        .client
        .post(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();

    assert_eq!(duplicate.status(), 400);
    assert_eq!(
        duplicate.json::<Value>().await.unwrap(),
        json!({"detail": "Email already registered"})
    );
    assert_eq!(bad_login.status(), 401);
    assert_eq!(
        bad_login.json::<Value>().await.unwrap(),
        json!({"detail": "Invalid email or password"})
    );
    assert_eq!(no_token.status(), 401);
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    assert_eq!(no_token.headers()["content-type"], "application/json");
    assert_eq!(
        no_token.json::<Value>().await.unwrap(),
        json!({"detail": "Not authenticated"})
    );
    assert_eq!(bad_token.status(), 401);
    assert_eq!(
        bad_token.json::<Value>().await.unwrap(),
        json!({"detail": "Could not validate credentials"})
    );
    assert_eq!(no_cookie.status(), 401);
    assert_eq!(
        no_cookie.json::<Value>().await.unwrap(),
        json!({"detail": "Refresh token missing"})
    );
}

#[actix_web::test]
async fn validation_failures_are_422_with_a_readable_detail() {
    let app = spawn_app().await;

    let short = app
        .post_json(
            "/auth/register",
            &json!({"email": "x@example.org", "password": "abc"}),
        )
        .await;
    let missing = app
        .post_json("/auth/register", &json!({"email": "x@example.org"}))
        .await;
    let malformed = app
        .client
        .post(app.url("/auth/register"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();

    assert_eq!(short.status(), 422);
    let short: Value = short.json().await.unwrap();
    assert!(
        short["detail"].as_str().unwrap().contains("at least 8"),
        "{short}"
    );
    assert_eq!(missing.status(), 422);
    assert!(
        missing.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .contains("password")
    );
    assert_eq!(malformed.status(), 400);
    assert!(malformed.json::<Value>().await.unwrap()["detail"].is_string());
}

#[actix_web::test]
async fn patch_me_renames_and_null_changes_nothing() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    legacy_register(&app, &user).await;
    let login: Value = legacy_login(&app, &user.email, &user.password)
        .await
        .json()
        .await
        .unwrap();
    let access = login["access_token"].as_str().unwrap();

    let patch = |body: Value| {
        app.client
            .patch(app.url("/auth/me"))
            .bearer_auth(access)
            .json(&body)
            .send()
    };
    let renamed: Value = patch(json!({"display_name": "Grace"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unchanged: Value = patch(json!({"display_name": null}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let blank = patch(json!({"display_name": ""})).await.unwrap();

    assert_eq!(renamed["display_name"], "Grace");
    assert_eq!(unchanged["display_name"], "Grace");
    assert_eq!(blank.status(), 422);
    assert!(blank.json::<Value>().await.unwrap()["detail"].is_string());
}

#[actix_web::test]
async fn the_unverified_oauth_login_is_refused_by_default() {
    let app = spawn_app().await;
    let body =
        json!({"email": "victim@example.org", "google_id": "123", "display_name": "Mallory"});

    let response = app.post_json("/auth/oauth-login", &body).await;

    assert_eq!(response.status(), 403);
    let detail: Value = response.json().await.unwrap();
    assert!(
        detail["detail"]
            .as_str()
            .unwrap()
            .contains("/api/v1/auth/google"),
        "{detail}"
    );
}

#[actix_web::test]
async fn an_operator_can_re_enable_the_old_oauth_login() {
    let app = spawn_app_with(&[("QUESTPATH_LEGACY_OAUTH_LOGIN", "true")], |b| b).await;
    let body = json!({"email": "Legacy@Example.org", "google_id": "g-123", "display_name": "Old Client",
                      "profile_picture": "https://example.org/p.png"});

    let first = app.post_json("/auth/oauth-login", &body).await;
    assert_eq!(first.status(), 200);
    assert!(set_cookie(&first, "refresh_token").is_some());
    let first: Value = first.json().await.unwrap();
    let second: Value = app
        .post_json("/auth/oauth-login", &body)
        .await
        .json()
        .await
        .unwrap();
    let me: Value = app
        .get_bearer("/auth/me", first["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let me_again: Value = app
        .get_bearer("/auth/me", second["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(me["email"], "legacy@example.org");
    assert_eq!(me["display_name"], "Old Client");
    assert_eq!(me["profile_picture"], "https://example.org/p.png");
    assert_eq!(me["id"], me_again["id"], "same Google id, same account");
}
