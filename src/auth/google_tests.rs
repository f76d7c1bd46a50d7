//! Tests of `google` (kept apart: they are longer than the code).

use super::*;

#[test]
fn ttl_follows_max_age_within_bounds() {
    assert_eq!(cache_ttl(None), DEFAULT_TTL);
    assert_eq!(cache_ttl(Some("no-cache")), DEFAULT_TTL);
    assert_eq!(
        cache_ttl(Some("public, max-age=19800, must-revalidate, no-transform")),
        Duration::from_secs(19800)
    );
    assert_eq!(cache_ttl(Some("Max-Age = 600")), Duration::from_secs(600));
    assert_eq!(cache_ttl(Some("max-age=0")), MIN_TTL);
    assert_eq!(cache_ttl(Some("max-age=999999999")), MAX_TTL);
    assert_eq!(cache_ttl(Some("max-age=abc")), DEFAULT_TTL);
}

#[test]
fn email_verified_accepts_bool_and_string() {
    let claims = |v: Option<Value>| Claims {
        sub: Some("1".into()),
        email: Some("a@b.c".into()),
        email_verified: v,
        name: None,
        picture: None,
    };
    assert!(identity_from(claims(Some(Value::Bool(true)))).is_ok());
    assert!(identity_from(claims(Some(Value::String("true".into())))).is_ok());
    assert_eq!(
        identity_from(claims(Some(Value::Bool(false)))),
        Err(GoogleError::EmailNotVerified)
    );
    assert_eq!(
        identity_from(claims(None)),
        Err(GoogleError::EmailNotVerified)
    );
}

#[test]
fn jwks_parsing_skips_foreign_keys() {
    let body = br#"{"keys":[
        {"kty":"EC","kid":"ec","crv":"P-256","x":"AA","y":"AA"},
        {"kty":"RSA","kid":"enc","n":"AQAB","e":"AQAB","use":"enc"},
        {"kty":"RSA","kid":"good","n":"AQAB","e":"AQAB","alg":"RS256","use":"sig"}
    ]}"#;
    let keys = parse_jwks(body).unwrap_or_default();
    assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["good"]);
    assert!(parse_jwks(br#"{"keys":[]}"#).is_err());
    assert!(parse_jwks(b"not json").is_err());
}

mod properties {
    //! Whatever a client or the key endpoint sends, parsing and verification answer
    //! and never panic, and only a token signed with Google's key and holding sound
    //! claims is accepted.

    use std::sync::OnceLock;

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header};
    use proptest::prelude::*;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::LineEnding;
    use rsa::traits::PublicKeyParts;
    use serde_json::json;

    use super::*;
    use crate::proptest_strategies::{fewer_cases, hostile_string, json_value};

    const CLIENT_ID: &str = "client-1.apps.googleusercontent.com";
    const KID: &str = "key-1";

    /// One RSA key for the whole test binary (generating one takes a while):
    /// its signing PEM and its public components, base64url.
    fn key() -> &'static (String, String, String) {
        static KEY: OnceLock<(String, String, String)> = OnceLock::new();
        KEY.get_or_init(|| {
            let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
            let public = private.to_public_key();
            (
                private.to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
                URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            )
        })
    }

    /// A verifier holding `keys` as fresh, so nothing is fetched (the JWKS URL is a
    /// closed loopback port, should a token name an unknown key).
    fn verifier(keys: HashMap<String, DecodingKey>) -> GoogleVerifier {
        let verifier = GoogleVerifier::new(&GoogleSettings {
            client_id: CLIENT_ID.into(),
            jwks_url: "http://127.0.0.1:9/certs".into(),
        })
        .unwrap();
        *verifier.inner.keys.write().unwrap() = Some(Arc::new(KeySet {
            keys,
            expires_at: Instant::now() + Duration::from_secs(3600),
        }));
        verifier
    }

    fn our_verifier() -> GoogleVerifier {
        let (_, n, e) = key();
        let jwks = json!({"keys": [{"kty": "RSA", "kid": KID, "n": n, "e": e}]});
        verifier(parse_jwks(jwks.to_string().as_bytes()).unwrap())
    }

    fn runtime() -> &'static tokio::runtime::Runtime {
        static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        })
    }

    /// Built once: each verifier builds an HTTP client.
    fn shared_verifier() -> &'static GoogleVerifier {
        static VERIFIER: OnceLock<GoogleVerifier> = OnceLock::new();
        VERIFIER.get_or_init(our_verifier)
    }

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    /// Base64url text of any bytes, or any text at all.
    fn component() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
            Just(key().1.clone()),
            Just("AQAB".to_string()),
            Just(String::new()),
            hostile_string(),
        ]
    }

    fn jwk() -> impl Strategy<Value = Value> {
        let kty = prop::sample::select(&["RSA", "EC", "rsa", ""][..]);
        let alg = prop::option::of(prop::sample::select(&["RS256", "RS512", "none"][..]));
        let usage = prop::option::of(prop::sample::select(&["sig", "enc"][..]));
        (kty, component(), component(), alg, usage, json_value(1)).prop_map(
            |(kty, n, e, alg, usage, kid)| {
                let mut jwk = json!({"kty": kty, "kid": kid, "n": n, "e": e});
                if let Some(alg) = alg {
                    jwk["alg"] = json!(alg);
                }
                if let Some(usage) = usage {
                    jwk["use"] = json!(usage);
                }
                if jwk["kid"].is_null() {
                    jwk["kid"] = json!(KID);
                }
                jwk
            },
        )
    }

    /// Sound Google claims with up to three removed or replaced; the flag tells
    /// whether they were left sound.
    fn claims() -> impl Strategy<Value = (Value, bool)> {
        let now = chrono::Utc::now().timestamp();
        let value = prop_oneof![
            json_value(1),
            prop::sample::select(&[ISSUERS[0], ISSUERS[1], CLIENT_ID, "true", ""][..])
                .prop_map(Value::from),
            Just(json!([CLIENT_ID, "other"])),
            any::<bool>().prop_map(Value::Bool),
            (-200_000i64..200_000).prop_map(move |d| json!(now + d)),
        ];
        let names = &[
            "iss",
            "aud",
            "sub",
            "exp",
            "iat",
            "nbf",
            "email",
            "email_verified",
        ][..];
        let edit = (prop::sample::select(names), prop::option::of(value));
        prop::collection::vec(edit, 0..=3).prop_map(move |edits| {
            let mut claims = json!({
                "iss": ISSUERS[1], "aud": CLIENT_ID, "sub": "1234567890",
                "exp": now + 600, "iat": now, "email": "learner@example.org",
                "email_verified": true, "name": "Learner",
            });
            let sound = edits.is_empty();
            for (name, value) in edits {
                match value {
                    Some(value) => claims[name] = value,
                    None => {
                        claims.as_object_mut().unwrap().remove(name);
                    }
                }
            }
            (claims, sound)
        })
    }

    proptest! {
        #[test]
        fn any_key_set_body_is_keys_or_an_error(
            body in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..256),
                json_value(4).prop_map(|v| v.to_string().into_bytes()),
                prop::collection::vec(prop_oneof![jwk(), json_value(2)], 0..4)
                    .prop_map(|keys| json!({"keys": keys}).to_string().into_bytes()),
            ],
        ) {
            if let Ok(keys) = parse_jwks(&body) {
                prop_assert!(!keys.is_empty());
            }
        }

        #[test]
        fn any_cache_control_gives_a_bounded_lifetime(value in prop_oneof![
            hostile_string(),
            "(public, )?(?i:max-age) ?= ?\"?[0-9]{0,25}\"?(, no-transform)?",
        ]) {
            let ttl = cache_ttl(Some(&value));
            prop_assert!((MIN_TTL..=MAX_TTL).contains(&ttl));
        }

        #[test]
        fn no_arbitrary_string_verifies(token in prop_oneof![
            hostile_string(),
            (json_value(2), json_value(2), component())
                .prop_map(|(h, c, s)| format!("{}.{}.{s}", b64(&h), b64(&c))),
            (
                prop::sample::select(&["RS256", "HS256", "none", "RS512", "PS256"][..]),
                prop::sample::select(&[KID, "other", ""][..]),
                json_value(2),
                component(),
            )
                .prop_map(|(alg, kid, c, s)| {
                    let header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
                    format!("{}.{}.{s}", b64(&header), b64(&c))
                }),
        ]) {
            let outcome = runtime().block_on(shared_verifier().verify(&token));
            prop_assert!(outcome.is_err());
        }
    }

    proptest! {
        #![proptest_config(fewer_cases(4))]

        /// Keys with any components, published by a broken or hostile endpoint, are
        /// skipped or used without panicking.
        #[test]
        fn keys_with_any_components_verify_nothing_and_never_panic(
            jwks in prop::collection::vec(jwk(), 1..4),
            (claims, _) in claims(),
            signature in component(),
        ) {
            let Ok(keys) = parse_jwks(json!({"keys": jwks}).to_string().as_bytes()) else {
                return Ok(());
            };
            let header = json!({"alg": "RS256", "kid": KID, "typ": "JWT"});
            let token = format!("{}.{}.{signature}", b64(&header), b64(&claims));
            let outcome = runtime().block_on(verifier(keys).verify(&token));
            prop_assert!(outcome.is_err());
        }

        #[test]
        fn a_token_signed_with_the_key_is_accepted_only_with_sound_claims(
            (claims, sound) in claims(),
        ) {
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some(KID.into());
            let signing = EncodingKey::from_rsa_pem(key().0.as_bytes()).unwrap();
            let token = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
            let outcome = runtime().block_on(shared_verifier().verify(&token));
            if sound {
                prop_assert!(outcome.is_ok(), "{:?}", outcome);
            }
            if let Ok(identity) = outcome {
                let now = chrono::Utc::now().timestamp();
                prop_assert!(ISSUERS.contains(&claims["iss"].as_str().unwrap_or_default()));
                let aud = &claims["aud"];
                prop_assert!(aud == CLIENT_ID || aud.as_array().is_some_and(|a| a.contains(&json!(CLIENT_ID))));
                // Any JSON number: 2^63 is a valid, far-off expiry.
                let (now, leeway) = (now as f64, LEEWAY_SECS as f64);
                prop_assert!(claims["exp"].as_f64().is_some_and(|exp| exp >= now - leeway));
                prop_assert!(claims["nbf"].as_f64().is_none_or(|nbf| nbf <= now + leeway));
                prop_assert!(!identity.sub.is_empty() && !identity.email.is_empty());
                prop_assert!(identity.email_verified);
            }
        }
    }
}
