//! Google ID token verification against a local JWKS server.
//!
//! Each test starts its own stub server on 127.0.0.1:0 that serves a
//! JWKS from state the test can change, and counts requests, so caching and
//! refetch limits can be asserted. RSA keys are generated once per binary.

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use questpath::auth::google::{GoogleError, GoogleIdentity, GoogleVerifier};
use questpath::config::GoogleSettings;
use questpath_test_support::{StubServer, TestApp, free_port};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

const CLIENT_ID: &str = "1234-test.apps.googleusercontent.com";

// ---------------------------------------------------------------- keys

struct TestKey {
    kid: &'static str,
    private_pem: String,
    public_pem: String,
    n: String,
    e: String,
}

impl TestKey {
    fn generate(kid: &'static str) -> Self {
        let private =
            RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("generate RSA key");
        let public = private.to_public_key();
        Self {
            kid,
            private_pem: private
                .to_pkcs1_pem(LineEnding::LF)
                .expect("private key PEM")
                .to_string(),
            public_pem: public
                .to_public_key_pem(LineEnding::LF)
                .expect("public key PEM"),
            n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }
    }

    fn jwk(&self) -> Value {
        json!({"kty": "RSA", "kid": self.kid, "n": self.n, "e": self.e, "alg": "RS256", "use": "sig"})
    }

    /// Signs `claims` as RS256 with this key, naming `kid` in the header.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let key = EncodingKey::from_rsa_pem(self.private_pem.as_bytes()).expect("encoding key");
        jsonwebtoken::encode(&header, claims, &key).expect("sign token")
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.kid, claims)
    }
}

struct Keys {
    current: TestKey,
    rotated: TestKey,
    attacker: TestKey,
}

/// Generated in parallel, once per test binary.
static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let rotated = std::thread::spawn(|| TestKey::generate("key-2"));
    let attacker = std::thread::spawn(|| TestKey::generate("attacker"));
    Keys {
        current: TestKey::generate("key-1"),
        rotated: rotated.join().expect("keygen thread"),
        attacker: attacker.join().expect("keygen thread"),
    }
});

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn claims() -> Value {
    json!({
        "iss": "https://accounts.google.com",
        "azp": CLIENT_ID,
        "aud": CLIENT_ID,
        "sub": "110169484474386276334",
        "email": "ada@example.com",
        "email_verified": true,
        "name": "Ada Lovelace",
        "picture": "https://lh3.googleusercontent.com/a/ada",
        "iat": now() - 10,
        "exp": now() + 3600,
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    if let Some(map) = claims.as_object_mut() {
        map.remove(key);
    }
    claims
}

// ---------------------------------------------------------------- JWKS server

struct JwksState {
    keys: Mutex<Vec<Value>>,
    /// When set, served instead of the key set.
    raw_body: Mutex<Option<String>>,
    status: AtomicU16,
    hits: AtomicUsize,
}

struct JwksServer {
    url: String,
    state: Arc<JwksState>,
    server: StubServer,
}

impl JwksServer {
    async fn start(keys: Vec<Value>) -> Self {
        let state = Arc::new(JwksState {
            keys: Mutex::new(keys),
            raw_body: Mutex::new(None),
            status: AtomicU16::new(200),
            hits: AtomicUsize::new(0),
        });
        let data = web::Data::from(Arc::clone(&state));
        let server = StubServer::start(move |routes| {
            routes
                .app_data(data.clone())
                .route("/oauth2/v3/certs", web::get().to(serve_jwks));
        });
        Self {
            url: server.url("/oauth2/v3/certs"),
            state,
            server,
        }
    }

    fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    fn publish(&self, keys: Vec<Value>) {
        *self.state.keys.lock().expect("keys lock") = keys;
    }

    fn verifier(&self) -> GoogleVerifier {
        verifier_for(&self.url)
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

async fn serve_jwks(state: web::Data<JwksState>) -> HttpResponse {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let status = actix_web::http::StatusCode::from_u16(state.status.load(Ordering::SeqCst))
        .expect("valid status");
    let body = match state.raw_body.lock().expect("body lock").clone() {
        Some(raw) => raw,
        None => json!({ "keys": *state.keys.lock().expect("keys lock") }).to_string(),
    };
    HttpResponse::build(status)
        .insert_header((
            "Cache-Control",
            "public, max-age=19800, must-revalidate, no-transform",
        ))
        .content_type("application/json")
        .body(body)
}

fn verifier_for(url: &str) -> GoogleVerifier {
    GoogleVerifier::new(&GoogleSettings {
        client_id: CLIENT_ID.to_owned(),
        jwks_url: url.to_owned(),
    })
    .expect("build verifier")
}

/// Verifies `token`, expecting `InvalidToken`, and checks the message does
/// not echo the token.
async fn expect_invalid(verifier: &GoogleVerifier, token: &str) -> String {
    match verifier.verify(token).await {
        Err(GoogleError::InvalidToken(reason)) => {
            let message = GoogleError::InvalidToken(reason.clone()).to_string();
            if !token.is_empty() {
                assert!(
                    !message.contains(token),
                    "message leaks the token: {message}"
                );
            }
            reason
        }
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

// ---------------------------------------------------------------- tests

#[actix_web::test]
async fn valid_token_verifies_and_keys_are_cached() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    let identity = verifier
        .verify(&keys.current.sign(&claims()))
        .await
        .expect("valid token");
    assert_eq!(
        identity,
        GoogleIdentity {
            sub: "110169484474386276334".into(),
            email: "ada@example.com".into(),
            email_verified: true,
            name: Some("Ada Lovelace".into()),
            picture: Some("https://lh3.googleusercontent.com/a/ada".into()),
        }
    );

    // The issuer without scheme is also Google's; name and picture are optional;
    // a string "true" for email_verified is accepted; a clone shares the cache.
    let other = with(
        without(without(claims(), "name"), "picture"),
        "iss",
        json!("accounts.google.com"),
    );
    let other = with(other, "email_verified", json!("true"));
    let identity = verifier
        .clone()
        .verify(&keys.current.sign(&other))
        .await
        .expect("valid token");
    assert_eq!(identity.name, None);
    assert_eq!(identity.picture, None);

    assert_eq!(server.hits(), 1, "keys fetched once and cached");
    server.stop().await;
}

#[actix_web::test]
async fn wrong_audience_is_rejected() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    let token = keys.current.sign(&with(
        claims(),
        "aud",
        json!("someone-else.apps.googleusercontent.com"),
    ));
    assert_eq!(expect_invalid(&verifier, &token).await, "wrong audience");
    let token = keys.current.sign(&without(claims(), "aud"));
    expect_invalid(&verifier, &token).await;
    server.stop().await;
}

#[actix_web::test]
async fn wrong_issuer_is_rejected() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    for iss in [
        "https://evil.example.com",
        "http://accounts.google.com",
        "accounts.google.com.evil",
    ] {
        let token = keys.current.sign(&with(claims(), "iss", json!(iss)));
        assert_eq!(
            expect_invalid(&verifier, &token).await,
            "wrong issuer",
            "iss {iss}"
        );
    }
    let token = keys.current.sign(&without(claims(), "iss"));
    expect_invalid(&verifier, &token).await;
    server.stop().await;
}

#[actix_web::test]
async fn expired_token_is_rejected_with_small_leeway() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    let expired = keys
        .current
        .sign(&with(claims(), "exp", json!(now() - 120)));
    assert_eq!(expect_invalid(&verifier, &expired).await, "token expired");
    let long_expired = keys
        .current
        .sign(&with(claims(), "exp", json!(now() - 86_400)));
    assert_eq!(
        expect_invalid(&verifier, &long_expired).await,
        "token expired"
    );
    let no_exp = keys.current.sign(&without(claims(), "exp"));
    expect_invalid(&verifier, &no_exp).await;

    // A few seconds of clock skew is tolerated.
    let just_expired = keys.current.sign(&with(claims(), "exp", json!(now() - 5)));
    verifier.verify(&just_expired).await.expect("within leeway");
    server.stop().await;
}

#[actix_web::test]
async fn unverified_email_is_refused() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    let token = keys
        .current
        .sign(&with(claims(), "email_verified", json!(false)));
    assert_eq!(
        verifier.verify(&token).await,
        Err(GoogleError::EmailNotVerified)
    );
    let token = keys.current.sign(&without(claims(), "email_verified"));
    assert_eq!(
        verifier.verify(&token).await,
        Err(GoogleError::EmailNotVerified)
    );
    server.stop().await;
}

#[actix_web::test]
async fn missing_sub_or_email_is_rejected() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    expect_invalid(&verifier, &keys.current.sign(&without(claims(), "sub"))).await;
    expect_invalid(
        &verifier,
        &keys.current.sign(&with(claims(), "sub", json!(""))),
    )
    .await;
    expect_invalid(&verifier, &keys.current.sign(&without(claims(), "email"))).await;
    server.stop().await;
}

#[actix_web::test]
async fn token_signed_by_a_foreign_key_is_rejected() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    // Claims to be Google's key-1, but signed with the attacker's key.
    let forged = keys.attacker.sign_as(keys.current.kid, &claims());
    assert_eq!(expect_invalid(&verifier, &forged).await, "bad signature");
    // Names its own key, which Google does not publish.
    let foreign = keys.attacker.sign(&claims());
    assert_eq!(
        expect_invalid(&verifier, &foreign).await,
        "unknown signing key"
    );
    // A valid token with its signature altered.
    let valid = keys.current.sign(&claims());
    let (head, sig) = valid.rsplit_once('.').expect("three parts");
    let mut sig = URL_SAFE_NO_PAD.decode(sig).expect("signature b64");
    sig[0] ^= 1;
    let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(expect_invalid(&verifier, &tampered).await, "bad signature");
    // A valid token with its claims swapped for another account's.
    let (header, rest) = valid.split_once('.').expect("three parts");
    let (_, sig) = rest.split_once('.').expect("three parts");
    let other = URL_SAFE_NO_PAD.encode(with(claims(), "sub", json!("1")).to_string());
    let swapped = format!("{header}.{other}.{sig}");
    assert_eq!(expect_invalid(&verifier, &swapped).await, "bad signature");
    server.stop().await;
}

#[actix_web::test]
async fn alg_none_and_hmac_confusion_are_rejected_without_fetching() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    let header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": "key-1"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    expect_invalid(&verifier, &format!("{header}.{payload}.")).await;
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "None", "kid": "key-1"}).to_string());
    expect_invalid(&verifier, &format!("{header}.{payload}.")).await;

    // The classic confusion attack: HMAC keyed with the RSA public key.
    for (alg, secret) in [
        (
            Algorithm::HS256,
            keys.current.public_pem.as_bytes().to_vec(),
        ),
        (
            Algorithm::HS256,
            URL_SAFE_NO_PAD.decode(&keys.current.n).expect("n"),
        ),
        (
            Algorithm::HS512,
            keys.current.public_pem.as_bytes().to_vec(),
        ),
    ] {
        let mut header = Header::new(alg);
        header.kid = Some(keys.current.kid.to_owned());
        let token = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(&secret))
            .expect("sign HMAC token");
        assert_eq!(
            expect_invalid(&verifier, &token).await,
            "unsupported signing algorithm"
        );
    }

    // Other RSA variants are not what Google signs with either.
    let mut header = Header::new(Algorithm::RS512);
    header.kid = Some(keys.current.kid.to_owned());
    let key = EncodingKey::from_rsa_pem(keys.current.private_pem.as_bytes()).expect("key");
    let token = jsonwebtoken::encode(&header, &claims(), &key).expect("sign");
    expect_invalid(&verifier, &token).await;

    assert_eq!(server.hits(), 0, "rejected before any key fetch");
    // And a genuine token still works afterwards.
    verifier
        .verify(&keys.current.sign(&claims()))
        .await
        .expect("valid token");
    server.stop().await;
}

#[actix_web::test]
async fn rotated_key_verifies_after_one_refetch() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    verifier
        .verify(&keys.current.sign(&claims()))
        .await
        .expect("old key");
    assert_eq!(server.hits(), 1);

    server.publish(vec![keys.current.jwk(), keys.rotated.jwk()]);
    verifier
        .verify(&keys.rotated.sign(&claims()))
        .await
        .expect("new key after refetch");
    assert_eq!(server.hits(), 2, "exactly one refetch for the new kid");

    // Both keys now come from the cache.
    verifier
        .verify(&keys.rotated.sign(&claims()))
        .await
        .expect("new key");
    verifier
        .verify(&keys.current.sign(&claims()))
        .await
        .expect("old key");
    assert_eq!(server.hits(), 2);

    // Once Google has dropped the old key, old-key tokens fail.
    let fresh = JwksServer::start(vec![keys.rotated.jwk()]).await;
    let verifier = fresh.verifier();
    expect_invalid(&verifier, &keys.current.sign(&claims())).await;
    fresh.stop().await;
    server.stop().await;
}

#[actix_web::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    verifier
        .verify(&keys.current.sign(&claims()))
        .await
        .expect("valid token");
    assert_eq!(server.hits(), 1);

    // Sequential garbage kids.
    for i in 0..5 {
        let token = keys.current.sign_as(&format!("bogus-{i}"), &claims());
        assert_eq!(
            expect_invalid(&verifier, &token).await,
            "unknown signing key"
        );
    }
    assert_eq!(server.hits(), 2, "one refetch for all unknown kids");

    // Concurrent garbage kids, and a key published meanwhile: still no refetch
    // within the interval.
    server.publish(vec![keys.current.jwk(), keys.rotated.jwk()]);
    let tokens: Vec<String> = (0..8)
        .map(|i| keys.current.sign_as(&format!("concurrent-{i}"), &claims()))
        .collect();
    let results = futures_util::future::join_all(tokens.iter().map(|t| verifier.verify(t))).await;
    for result in results {
        assert!(
            matches!(result, Err(GoogleError::InvalidToken(_))),
            "{result:?}"
        );
    }
    assert_eq!(server.hits(), 2, "no further refetch within 30 s");

    // Valid tokens with known keys are unaffected.
    verifier
        .verify(&keys.current.sign(&claims()))
        .await
        .expect("valid token");
    server.stop().await;
}

#[actix_web::test]
async fn concurrent_first_verifications_fetch_once() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    let tokens: Vec<String> = (0..10)
        .map(|i| {
            keys.current
                .sign(&with(claims(), "sub", json!(format!("user-{i}"))))
        })
        .collect();
    let results = futures_util::future::join_all(tokens.iter().map(|t| verifier.verify(t))).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.expect("valid token").sub, format!("user-{i}"));
    }
    assert_eq!(server.hits(), 1, "one fetch shared by all");
    server.stop().await;
}

#[actix_web::test]
async fn unreachable_key_server_means_keys_unavailable() {
    let keys = &*KEYS;
    // A port that was free a moment ago and has nothing listening now.
    let port = free_port();
    let verifier = verifier_for(&format!("http://127.0.0.1:{port}/oauth2/v3/certs"));
    let token = keys.current.sign(&claims());
    match verifier.verify(&token).await {
        Err(GoogleError::KeysUnavailable(message)) => {
            assert!(!message.contains(&token));
        }
        other => panic!("expected KeysUnavailable, got {other:?}"),
    }
    // Within the back-off, the next call answers at once with the same error.
    assert!(matches!(
        verifier.verify(&token).await,
        Err(GoogleError::KeysUnavailable(_))
    ));
}

#[actix_web::test]
async fn broken_key_server_answers_mean_keys_unavailable() {
    let keys = &*KEYS;
    let token = keys.current.sign(&claims());

    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    server.state.status.store(500, Ordering::SeqCst);
    assert!(matches!(
        server.verifier().verify(&token).await,
        Err(GoogleError::KeysUnavailable(_))
    ));

    server.state.status.store(200, Ordering::SeqCst);
    for body in [
        "not json",
        r#"{"keys": []}"#,
        r#"{"keys": [{"kty": "RSA", "kid": "key-1", "n": "!!", "e": "AQAB"}]}"#,
        r#"{"keys": [{"kty": "EC", "kid": "key-1", "crv": "P-256", "x": "AA", "y": "AA"}]}"#,
    ] {
        *server.state.raw_body.lock().expect("body lock") = Some(body.to_owned());
        match server.verifier().verify(&token).await {
            Err(GoogleError::KeysUnavailable(_)) => {}
            other => panic!("body {body}: expected KeysUnavailable, got {other:?}"),
        }
    }
    server.stop().await;
}

#[actix_web::test]
async fn malformed_tokens_are_rejected_without_panicking_or_fetching() {
    let keys = &*KEYS;
    let server = JwksServer::start(vec![keys.current.jwk()]).await;
    let verifier = server.verifier();

    let valid = keys.current.sign(&claims());
    let parts: Vec<&str> = valid.split('.').collect();
    let random = URL_SAFE_NO_PAD.encode((0..=255u8).collect::<Vec<u8>>());
    let header_only = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"key-1"}"#);
    let huge = format!("{}.{}.{}", parts[0], "A".repeat(100_000), parts[2]);
    let candidates = [
        String::new(),
        "a.b".to_owned(),
        "a.b.c".to_owned(),
        "..".to_owned(),
        "....".to_owned(),
        random.clone(),
        format!("{random}.{random}.{random}"),
        format!("{}.{}", parts[0], parts[1]),
        format!("{}.{}.{}.{}", parts[0], parts[1], parts[2], parts[2]),
        format!("{header_only}.%%%.{}", parts[2]),
        format!("{header_only}.{random}.{random}"),
        "ünïcödé.ü.ü".to_owned(),
        "Bearer ".to_owned() + &valid,
        huge,
    ];
    for token in &candidates {
        expect_invalid(&verifier, token).await;
    }
    // Only the well-formed-header garbage (kid "key-1") may have caused a fetch.
    assert!(server.hits() <= 1, "hits: {}", server.hits());
    server.stop().await;
}

// ---------------------------------------------------------------- through the API

/// A QuestPath server whose Google sign-in trusts the given JWKS server.
struct QuestPath {
    app: TestApp,
}

impl QuestPath {
    async fn start(jwks_url: &str) -> QuestPath {
        let app = TestApp::builder()
            .env("QUESTPATH_WORKERS", "1")
            .env("QUESTPATH_GOOGLE_CLIENT_ID", CLIENT_ID)
            .env("QUESTPATH_GOOGLE_JWKS_URL", jwks_url)
            .start()
            .await;
        QuestPath { app }
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.app.post_json(path, &body).await
    }

    async fn google(&self, id_token: &str) -> reqwest::Response {
        self.post("/api/v1/auth/google", json!({ "id_token": id_token }))
            .await
    }
}

#[actix_web::test]
async fn google_sign_in_creates_the_account_once_and_signs_it_in() {
    let jwks = JwksServer::start(vec![KEYS.current.jwk()]).await;
    let app = QuestPath::start(&jwks.url).await;
    let sub = format!("sub-{}", uuid::Uuid::new_v4().simple());
    let email = format!("g-{}@example.com", uuid::Uuid::new_v4().simple());
    let token = KEYS.current.sign(&with(
        with(claims(), "sub", json!(sub)),
        "email",
        json!(email),
    ));

    let first = app.google(&token).await;
    assert_eq!(first.status(), 200);
    assert!(
        first.headers().get("set-cookie").is_some(),
        "refresh cookie"
    );
    let first: Value = first.json().await.unwrap();
    let second: Value = app.google(&token).await.json().await.unwrap();

    assert_eq!(first["user"]["email"], email);
    assert_eq!(first["user"]["display_name"], "Ada Lovelace");
    assert_eq!(
        first["user"]["picture"],
        "https://lh3.googleusercontent.com/a/ada"
    );
    assert_eq!(first["user"]["id"], second["user"]["id"]);
    jwks.stop().await;
}

/// F3 (docs/security.md): an account registered with a password and an email nobody
/// verified is not adopted by a Google sign-in with that email (it may be an attacker's
/// pre-registration of the victim's address); once its owner verified the email, it is.
#[actix_web::test]
async fn google_sign_in_adopts_a_password_account_only_once_its_email_is_verified() {
    let jwks = JwksServer::start(vec![KEYS.current.jwk()]).await;
    let app = QuestPath::start(&jwks.url).await;
    let email = format!("both-{}@example.com", uuid::Uuid::new_v4().simple());
    let registered: Value = app
        .post(
            "/api/v1/auth/register",
            json!({"email": email, "password": "a long password"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(registered["user"]["email_verified"], false);
    let token = KEYS.current.sign(&with(
        with(claims(), "sub", json!(format!("sub-{email}"))),
        "email",
        json!(email.to_uppercase()),
    ));

    let refused = app.google(&token).await;
    assert_eq!(refused.status(), 409);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "email_unverified");

    // The owner reads the verification mail (the outbox: no SMTP configured).
    let mails = questpath_test_support::mail::wait_for_mails(
        &app.app.outbox(),
        &email,
        1,
        std::time::Duration::from_secs(10),
    )
    .await;
    let link = mails[0].link("http://").expect("a link");
    let verify_token = link.split("token=").nth(1).unwrap();
    let verified = app
        .post(
            "/api/v1/auth/verify-email",
            json!({ "token": verify_token }),
        )
        .await;
    assert_eq!(verified.status(), 200);

    let google: Value = app.google(&token).await.json().await.unwrap();
    let password = app
        .post(
            "/api/v1/auth/login",
            json!({"email": email, "password": "a long password"}),
        )
        .await;
    assert_eq!(google["user"]["id"], registered["user"]["id"]);
    assert_eq!(google["user"]["email_verified"], true);
    assert_eq!(
        password.status(),
        200,
        "the password still works after linking"
    );

    // An account Google creates is verified by Google's word.
    let fresh = format!("fresh-{}@example.com", uuid::Uuid::new_v4().simple());
    let fresh_token = KEYS.current.sign(&with(
        with(claims(), "sub", json!(format!("sub-{fresh}"))),
        "email",
        json!(fresh),
    ));
    let created: Value = app.google(&fresh_token).await.json().await.unwrap();
    assert_eq!(created["user"]["email_verified"], true);
    jwks.stop().await;
}

#[actix_web::test]
async fn google_sign_in_refuses_bad_tokens_with_clear_codes() {
    let jwks = JwksServer::start(vec![KEYS.current.jwk()]).await;
    let app = QuestPath::start(&jwks.url).await;

    let unverified = app
        .google(
            &KEYS
                .current
                .sign(&with(claims(), "email_verified", json!(false))),
        )
        .await;
    let wrong_aud = app
        .google(
            &KEYS
                .current
                .sign(&with(claims(), "aud", json!("someone-else"))),
        )
        .await;
    let forged = app.google(&KEYS.attacker.sign_as("key-1", &claims())).await;

    assert_eq!(unverified.status(), 403);
    assert_eq!(
        unverified.json::<Value>().await.unwrap()["code"],
        "email_not_verified"
    );
    assert_eq!(wrong_aud.status(), 401);
    assert_eq!(
        wrong_aud.json::<Value>().await.unwrap()["code"],
        "invalid_google_token"
    );
    assert_eq!(forged.status(), 401);
    jwks.stop().await;
}

#[actix_web::test]
async fn google_keys_unreachable_is_a_503() {
    let jwks = JwksServer::start(vec![KEYS.current.jwk()]).await;
    let url = jwks.url.clone();
    jwks.stop().await;
    let app = QuestPath::start(&url).await;

    let response = app.google(&KEYS.current.sign(&claims())).await;

    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "unavailable");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no internal detail leaks: {body}"
    );
}
