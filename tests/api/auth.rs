//! v1 accounts and authentication.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use questpath_test_support::{
    Session, TestApp, TestUser, cookie_value, set_cookie, spawn_app, spawn_app_with,
};

/// Signing key of servers started by [`app_with_known_key`], so tests can forge tokens.
const KEY: &str = "test-signing-key-0123456789-abcdefghijklmnop";

async fn app_with_known_key() -> TestApp {
    spawn_app_with(&[("QUESTPATH_JWT_SECRET", KEY)], |b| b).await
}

fn forge(claims: &Value, key: &str, alg: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

fn claims_for(user_id: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": user_id, "iat": now, "exp": now + 600, "jti": "t",
           "iss": "questpath", "aud": "questpath-api", "typ": "access"})
}

#[actix_web::test]
async fn register_signs_in_with_an_access_token_and_a_refresh_cookie() {
    let app = spawn_app().await;
    let user = TestUser::generate();

    let session = app.register(&user).await;

    assert_eq!(session.body["token_type"], "Bearer");
    assert_eq!(session.body["expires_in"], 900);
    assert_eq!(session.body["user"]["email"], user.email);
    assert_eq!(session.body["user"]["total_xp"], 0);
    assert_eq!(session.body["user"]["level"], 1);
    let cookie = session.refresh_cookie.to_lowercase();
    assert!(cookie.contains("httponly"), "{cookie}");
    assert!(cookie.contains("samesite=lax"), "{cookie}");
    assert!(cookie.contains("path=/"), "{cookie}");
    assert!(cookie.contains("max-age=2592000"), "{cookie}");
    assert!(
        !cookie.contains("secure"),
        "development cookies are not Secure: {cookie}"
    );
    assert_eq!(session.refresh.len(), 43);
}

#[actix_web::test]
async fn production_style_config_marks_the_cookie_secure() {
    let app = spawn_app_with(&[("QUESTPATH_COOKIE_SECURE", "true")], |b| b).await;

    let session = app.register(&TestUser::generate()).await;

    assert!(session.refresh_cookie.to_lowercase().contains("secure"));
}

#[actix_web::test]
async fn registration_input_is_validated_field_by_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": "long enough pw"}),
            "email",
        ),
        (
            json!({"email": "a@example.org", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "b@example.org", "password": "password123"}),
            "password",
        ),
        (
            json!({"email": "c@example.org", "password": "x".repeat(129)}),
            "password",
        ),
        (
            json!({"email": "d@example.org", "password": "long enough pw", "display_name": "x".repeat(51)}),
            "display_name",
        ),
        (json!({"email": "e@example.org"}), "password"),
    ];
    for (body, field) in cases {
        let response = app.post_json("/api/v1/auth/register", &body).await;

        assert_eq!(response.status(), 422, "{body}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/problem+json")
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 422);
        assert_eq!(problem["code"], "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
}

#[actix_web::test]
async fn malformed_json_is_a_400_problem() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "malformed_json");
}

#[actix_web::test]
async fn an_email_registers_once_whatever_its_case() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;

    let again = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": user.email.to_uppercase(), "password": "another password"}),
        )
        .await;

    assert_eq!(again.status(), 409);
    let problem: Value = again.json().await.unwrap();
    assert_eq!(problem["code"], "email_taken");
    // The mixed-case address signs in to the same account.
    let session = app
        .login(&TestUser {
            email: user.email.to_uppercase(),
            password: user.password,
        })
        .await;
    assert_eq!(session.body["user"]["email"], user.email);
}

#[actix_web::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;

    let wrong = app.login_raw(&user.email, "wrong password!").await;
    let unknown = app
        .login_raw("nobody-here@example.org", "wrong password!")
        .await;

    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["detail"], "Invalid email or password");
}

#[actix_web::test]
async fn me_shows_the_profile_and_patch_renames() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    let session = app.register(&user).await;

    let me: Value = app
        .get_bearer("/api/v1/me", &session.access)
        .await
        .json()
        .await
        .unwrap();
    let patched = app
        .client
        .patch(app.url("/api/v1/me"))
        .bearer_auth(&session.access)
        .json(&json!({"display_name": "  Ada Lovelace  "}))
        .send()
        .await
        .unwrap();

    assert_eq!(me["email"], user.email);
    assert_eq!(me["display_name"], Value::Null);
    assert_eq!(me["level"], 1);
    for key in ["id", "picture", "total_xp", "created_at"] {
        assert!(me.get(key).is_some(), "missing {key}");
    }
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["display_name"], "Ada Lovelace");
    let again: Value = app
        .get_bearer("/api/v1/me", &session.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["display_name"], "Ada Lovelace");
}

#[actix_web::test]
async fn bad_display_names_are_refused() {
    let app = spawn_app().await;
    let session = app.register(&TestUser::generate()).await;
    for name in [
        json!("   "),
        json!("x".repeat(51)),
        json!("line\nbreak"),
        json!("rtl\u{202E}override"),
    ] {
        let response = app
            .client
            .patch(app.url("/api/v1/me"))
            .bearer_auth(&session.access)
            .json(&json!({"display_name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{name}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "display_name");
    }
}

#[actix_web::test]
async fn refresh_rotates_and_a_reused_token_revokes_its_family() {
    // No grace window: any second use of a rotated token is reuse.
    let app = spawn_app_with(&[("QUESTPATH_REFRESH_GRACE_SECS", "0")], |b| b).await;
    let first = app.register(&TestUser::generate()).await;

    let second = app
        .post_with_refresh("/api/v1/auth/refresh", &first.refresh)
        .await;
    assert_eq!(second.status(), 200);
    let second = Session::from_response(second).await;
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(
        app.get_bearer("/api/v1/me", &second.access).await.status(),
        200
    );

    // The first token was used: presenting it again is theft, so the family dies.
    let reused = app
        .post_with_refresh("/api/v1/auth/refresh", &first.refresh)
        .await;
    assert_eq!(reused.status(), 401);
    let cleared = set_cookie(&reused, "refresh_token").expect("cookie cleared");
    let problem: Value = reused.json().await.unwrap();
    assert_eq!(problem["code"], "refresh_token_reused");
    assert!(cleared.to_lowercase().contains("max-age=0"), "{cleared}");
    let after = app
        .post_with_refresh("/api/v1/auth/refresh", &second.refresh)
        .await;
    assert_eq!(
        after.status(),
        401,
        "the rotated token of a revoked family is dead too"
    );
}

#[actix_web::test]
async fn two_tabs_refreshing_with_one_cookie_both_stay_signed_in() {
    let app = spawn_app().await;
    let first = app.register(&TestUser::generate()).await;

    let (a, b) = tokio::join!(
        app.post_with_refresh("/api/v1/auth/refresh", &first.refresh),
        app.post_with_refresh("/api/v1/auth/refresh", &first.refresh),
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let cookies: Vec<_> = [&a, &b]
        .iter()
        .filter_map(|r| set_cookie(r, "refresh_token"))
        .collect();
    assert_eq!(
        cookies.len(),
        1,
        "only the rotation sets a cookie: {cookies:?}"
    );
    for response in [a, b] {
        let body: Value = response.json().await.unwrap();
        let access = body["access_token"].as_str().unwrap();
        assert_eq!(app.get_bearer("/api/v1/me", access).await.status(), 200);
    }
    let rotated = cookie_value(&cookies[0]);
    let next = app
        .post_with_refresh("/api/v1/auth/refresh", &rotated)
        .await;
    assert_eq!(next.status(), 200, "the family lives on");
}

#[actix_web::test]
async fn a_rotated_token_after_the_grace_window_revokes_its_family() {
    let app = spawn_app_with(&[("QUESTPATH_REFRESH_GRACE_SECS", "1")], |b| b).await;
    let first = app.register(&TestUser::generate()).await;
    let second = app
        .post_with_refresh("/api/v1/auth/refresh", &first.refresh)
        .await;
    let second = Session::from_response(second).await;

    let within = app
        .post_with_refresh("/api/v1/auth/refresh", &first.refresh)
        .await;
    assert_eq!(within.status(), 200);
    assert!(set_cookie(&within, "refresh_token").is_none());

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let late = app
        .post_with_refresh("/api/v1/auth/refresh", &first.refresh)
        .await;
    assert_eq!(late.status(), 401);
    assert_eq!(
        late.json::<Value>().await.unwrap()["code"],
        "refresh_token_reused"
    );
    let after = app
        .post_with_refresh("/api/v1/auth/refresh", &second.refresh)
        .await;
    assert_eq!(after.status(), 401, "the family is revoked");
}

#[actix_web::test]
async fn access_tokens_live_as_long_as_configured() {
    let app = spawn_app_with(&[("QUESTPATH_ACCESS_TOKEN_TTL_SECS", "60")], |b| b).await;
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": format!("{}@example.org", uuid::Uuid::new_v4().simple()),
                "password": "correct horse battery staple"}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
}

#[actix_web::test]
async fn refresh_without_or_with_a_garbage_cookie_is_401() {
    let app = spawn_app().await;

    let missing = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    let garbage = app
        .post_with_refresh("/api/v1/auth/refresh", "garbage")
        .await;
    let unknown = app
        .post_with_refresh(
            "/api/v1/auth/refresh",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .await;

    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["code"],
        "refresh_token_missing"
    );
    assert_eq!(garbage.status(), 401);
    assert_eq!(unknown.status(), 401);
}

#[actix_web::test]
async fn logout_revokes_this_device_and_logout_all_every_device() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    let phone = app.register(&user).await;
    let laptop = app.login(&user).await;
    let tablet = app.login(&user).await;

    let logout = app
        .post_with_refresh("/api/v1/auth/logout", &phone.refresh)
        .await;
    assert_eq!(logout.status(), 204);
    assert_eq!(
        app.post_with_refresh("/api/v1/auth/refresh", &phone.refresh)
            .await
            .status(),
        401
    );
    let laptop2 = app
        .post_with_refresh("/api/v1/auth/refresh", &laptop.refresh)
        .await;
    assert_eq!(laptop2.status(), 200, "other devices stay signed in");
    let laptop2 = Session::from_response(laptop2).await;

    let all = app
        .client
        .post(app.url("/api/v1/auth/logout-all"))
        .bearer_auth(&laptop2.access)
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), 204);
    assert_eq!(
        app.post_with_refresh("/api/v1/auth/refresh", &laptop2.refresh)
            .await
            .status(),
        401
    );
    assert_eq!(
        app.post_with_refresh("/api/v1/auth/refresh", &tablet.refresh)
            .await
            .status(),
        401
    );
    // Signing out again is harmless.
    assert_eq!(
        app.post_with_refresh("/api/v1/auth/logout", &phone.refresh)
            .await
            .status(),
        204
    );
}

#[actix_web::test]
async fn no_other_kind_of_token_is_accepted_as_a_bearer_token() {
    let app = app_with_known_key().await;
    let session = app.register(&TestUser::generate()).await;
    let user_id = session.body["user"]["id"].as_str().unwrap().to_string();
    let ticket: Value = app
        .client
        .post(app.url("/api/v1/ws/ticket"))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket = ticket["ticket"].as_str().unwrap().to_string();

    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims_for(&user_id))
    );
    let mut wrong_aud = claims_for(&user_id);
    wrong_aud["aud"] = json!("another-api");
    let mut wrong_iss = claims_for(&user_id);
    wrong_iss["iss"] = json!("someone-else");
    let mut refresh_type = claims_for(&user_id);
    refresh_type["typ"] = json!("refresh");
    let mut expired = claims_for(&user_id);
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 120);
    let unknown_user = claims_for(&uuid::Uuid::now_v7().to_string());

    let cases = [
        ("refresh token", session.refresh.clone()),
        ("websocket ticket", ticket),
        ("alg none", alg_none),
        (
            "wrong algorithm",
            forge(&claims_for(&user_id), KEY, Algorithm::HS384),
        ),
        (
            "wrong key",
            forge(
                &claims_for(&user_id),
                "another-key-0123456789-abcdefghijklmnop",
                Algorithm::HS256,
            ),
        ),
        ("wrong audience", forge(&wrong_aud, KEY, Algorithm::HS256)),
        ("wrong issuer", forge(&wrong_iss, KEY, Algorithm::HS256)),
        ("wrong type", forge(&refresh_type, KEY, Algorithm::HS256)),
        ("expired", forge(&expired, KEY, Algorithm::HS256)),
        ("unknown user", forge(&unknown_user, KEY, Algorithm::HS256)),
        ("garbage", "abc.def.ghi".to_string()),
    ];
    for (name, token) in cases {
        let response = app.get_bearer("/api/v1/me", &token).await;
        assert_eq!(response.status(), 401, "{name} accepted");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{name}");
    }
    // The real token, forged the same way with the right claims, passes: the cases
    // above fail for their one difference.
    assert_eq!(
        app.get_bearer(
            "/api/v1/me",
            &forge(&claims_for(&user_id), KEY, Algorithm::HS256)
        )
        .await
        .status(),
        200
    );
    let expired_problem: Value = app
        .get_bearer("/api/v1/me", &forge(&expired, KEY, Algorithm::HS256))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(expired_problem["code"], "token_expired");
}

#[actix_web::test]
async fn a_user_only_ever_sees_and_changes_their_own_account() {
    let app = spawn_app().await;
    let ann = app.register(&TestUser::generate()).await;
    let bob = app.register(&TestUser::generate()).await;

    let renamed = app
        .client
        .patch(app.url("/api/v1/me"))
        .bearer_auth(&bob.access)
        .json(&json!({"display_name": "Bob"}))
        .send()
        .await
        .unwrap();
    let ann_me: Value = app
        .get_bearer("/api/v1/me", &ann.access)
        .await
        .json()
        .await
        .unwrap();
    let bob_me: Value = app
        .get_bearer("/api/v1/me", &bob.access)
        .await
        .json()
        .await
        .unwrap();
    // Bob's refresh token cannot rotate into Ann's session, and logout-all by Bob
    // leaves Ann signed in.
    let bob_refreshed = Session::from_response(
        app.post_with_refresh("/api/v1/auth/refresh", &bob.refresh)
            .await,
    )
    .await;
    let bob_sees: Value = app
        .get_bearer("/api/v1/me", &bob_refreshed.access)
        .await
        .json()
        .await
        .unwrap();
    app.client
        .post(app.url("/api/v1/auth/logout-all"))
        .bearer_auth(&bob_refreshed.access)
        .send()
        .await
        .unwrap();
    let ann_refresh = app
        .post_with_refresh("/api/v1/auth/refresh", &ann.refresh)
        .await;

    assert_eq!(renamed.status(), 200);
    assert_eq!(ann_me["display_name"], Value::Null);
    assert_eq!(ann_me["id"], ann.body["user"]["id"]);
    assert_eq!(bob_me["display_name"], "Bob");
    assert_eq!(bob_sees["id"], bob.body["user"]["id"]);
    assert_eq!(ann_refresh.status(), 200);
}

#[actix_web::test]
async fn repeated_failures_lock_the_account_without_revealing_it_exists() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let ghost = "ghost-account@example.org";

    for _ in 0..5 {
        assert_eq!(
            app.login_raw(&user.email, "wrong password!").await.status(),
            401
        );
        assert_eq!(app.login_raw(ghost, "wrong password!").await.status(), 401);
    }
    let locked = app.login_raw(&user.email, &user.password).await;
    let ghost_locked = app.login_raw(ghost, "wrong password!").await;

    assert_eq!(
        locked.status(),
        429,
        "even the right password waits out the lock"
    );
    assert_eq!(
        ghost_locked.status(),
        429,
        "unknown emails lock the same way"
    );
    let retry: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let locked: Value = locked.json().await.unwrap();
    let ghost_locked: Value = ghost_locked.json().await.unwrap();
    assert_eq!(locked["code"], "too_many_attempts");
    assert_eq!(locked["code"], ghost_locked["code"]);
    // Another account from the same address is not locked yet.
    let other = TestUser::generate();
    app.register(&other).await;
    assert_eq!(
        app.login_raw(&other.email, &other.password).await.status(),
        200
    );
}

#[actix_web::test]
async fn many_failures_from_one_address_lock_that_address() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;

    for i in 0..20 {
        let response = app
            .login_raw(&format!("spray-{i}@example.org"), "wrong password!")
            .await;
        assert_eq!(response.status(), 401);
    }
    let response = app.login_raw(&user.email, &user.password).await;

    assert_eq!(response.status(), 429);
}

#[actix_web::test]
async fn tickets_need_a_bearer_token_and_are_one_time_values() {
    let app = spawn_app().await;
    let session = app.register(&TestUser::generate()).await;

    let anonymous = app
        .client
        .post(app.url("/api/v1/ws/ticket"))
        .send()
        .await
        .unwrap();
    let first = app
        .client
        .post(app.url("/api/v1/ws/ticket"))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap();
    assert_eq!(first.headers()["cache-control"], "no-store");
    let first: Value = first.json().await.unwrap();
    let second: Value = app
        .client
        .post(app.url("/api/v1/ws/ticket"))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(anonymous.status(), 401);
    assert_eq!(first["expires_in"], 30);
    assert_ne!(first["ticket"], second["ticket"]);
}

#[actix_web::test]
async fn google_sign_in_is_501_when_not_configured() {
    let app = spawn_app().await;

    let response = app
        .post_json("/api/v1/auth/google", &json!({"id_token": "x.y.z"}))
        .await;

    assert_eq!(response.status(), 501);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "google_sign_in_disabled"
    );
}
