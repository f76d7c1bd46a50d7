//! Access tokens: short-lived HS256 JWTs. Each carries a type claim, and verification
//! pins the algorithm, issuer and audience, so no other token (a refresh token, a
//! websocket ticket, a token for another service) is ever accepted as one.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Secret;

/// Issuer of every token this server signs.
pub const ISSUER: &str = "questpath";
/// Audience of access tokens.
pub const AUDIENCE: &str = "questpath-api";
/// Value of the `typ` claim of access tokens.
pub const ACCESS_TYPE: &str = "access";
/// Default lifetime of an access token (`QUESTPATH_ACCESS_TOKEN_TTL_SECS`).
pub const ACCESS_TTL: Duration = Duration::minutes(15);

/// Claims of an access token, and of a websocket ticket: a one-time pass to open one
/// socket, checked without a lookup, with an audience and type of its own and no
/// `auth_time`. Only a ticket's id (`jti`) is kept, once redeemed, so that it cannot be
/// redeemed twice.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    /// Token type: `access` or `ticket`.
    pub typ: String,
    /// When the learner signed in (seconds since 1970): the sign-in that started the
    /// session, carried unchanged through every refresh (OpenID Connect's `auth_time`).
    /// `iat` is renewed by each refresh, so only this tells a fresh sign-in apart from
    /// a long-lived session. Absent in tokens of versions before it was carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

impl AccessClaims {
    /// When the learner signed in, if the token says.
    pub fn signed_in_at(&self) -> Option<DateTime<Utc>> {
        self.auth_time
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
    }
}

/// Audience of websocket tickets.
pub const TICKET_AUDIENCE: &str = "questpath-ws";
/// Value of the `typ` claim of websocket tickets.
pub const TICKET_TYPE: &str = "ticket";

/// A verified ticket: whose, its id, and until when it could be redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub user_id: Uuid,
    pub id: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs and verifies access tokens and websocket tickets with one key.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ticket_validation: Validation,
    access_ttl: Duration,
}

/// A signed access token and its expiry.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Why a token was refused. Clients only ever learn "invalid or expired".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("token invalid: {0}")]
    Invalid(String),
}

impl TokenKeys {
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.leeway = 5;
        let mut ticket_validation = validation.clone();
        ticket_validation.set_audience(&[TICKET_AUDIENCE]);
        ticket_validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud", "jti"]);
        // A ticket lives seconds: no leeway past its expiry.
        ticket_validation.leeway = 0;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            ticket_validation,
            access_ttl: ACCESS_TTL,
        }
    }

    /// The same keys issuing access tokens that live `ttl`.
    pub fn with_access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Signs an access token for `user_id` who signs in `now`, valid for the configured
    /// lifetime.
    pub fn issue_access(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError> {
        self.issue_access_since(user_id, now, now)
    }

    /// Signs an access token issued `now` (a refresh) for `user_id`, who signed in at
    /// `signed_in_at`, valid for the configured lifetime.
    pub fn issue_access_since(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
        signed_in_at: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError> {
        let expires_at = now + self.access_ttl;
        let claims = AccessClaims {
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: Uuid::new_v4().simple().to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            typ: ACCESS_TYPE.into(),
            auth_time: Some(signed_in_at.timestamp()),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Verifies signature, algorithm, issuer, audience, expiry and type; returns the
    /// user id and the claims.
    pub fn verify_access(&self, token: &str) -> Result<(Uuid, AccessClaims), TokenError> {
        self.decode_kind(token, &self.validation, ACCESS_TYPE)
    }

    /// Decodes a token of one kind: signature and claims as `validation` says, then its
    /// `typ`; the subject read as a user id, and the claims.
    fn decode_kind(
        &self,
        token: &str,
        validation: &Validation,
        kind: &str,
    ) -> Result<(Uuid, AccessClaims), TokenError> {
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid(e.to_string()),
            })?
            .claims;
        if claims.typ != kind {
            return Err(TokenError::Invalid(format!(
                "token type {:?} is not {kind}",
                claims.typ
            )));
        }
        let user_id = Uuid::parse_str(&claims.sub)
            .map_err(|_| TokenError::Invalid("subject is not a user id".into()))?;
        Ok((user_id, claims))
    }
}

impl TokenKeys {
    /// Signs a websocket ticket for `user_id`, valid `ttl` from `now`.
    pub fn issue_ticket(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        let claims = AccessClaims {
            sub: user_id.simple().to_string(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            jti: Uuid::new_v4().simple().to_string(),
            iss: ISSUER.into(),
            aud: TICKET_AUDIENCE.into(),
            typ: TICKET_TYPE.into(),
            auth_time: None,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Invalid(e.to_string()))
    }

    /// Verifies a ticket's signature, algorithm, issuer, audience, expiry and type. It
    /// says nothing of whether the ticket was used: that is the redeemer's check.
    pub fn verify_ticket(&self, token: &str) -> Result<Ticket, TokenError> {
        let (user_id, claims) = self.decode_kind(token, &self.ticket_validation, TICKET_TYPE)?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0)
            .ok_or_else(|| TokenError::Invalid("expiry out of range".into()))?;
        Ok(Ticket {
            user_id,
            id: claims.jti,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn keys() -> TokenKeys {
        TokenKeys::new(&Secret::new("k".repeat(40)))
    }

    fn b64(value: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[test]
    fn issued_tokens_verify_with_all_claims() {
        let user = Uuid::now_v7();
        let issued = keys().issue_access(user, Utc::now()).unwrap();
        let (id, claims) = keys().verify_access(&issued.token).unwrap();
        assert_eq!(id, user);
        assert_eq!(claims.typ, "access");
        assert_eq!(claims.iss, ISSUER);
        assert_eq!(claims.aud, AUDIENCE);
        assert_eq!(claims.exp - claims.iat, 15 * 60);
        assert!(!claims.jti.is_empty());
    }

    #[test]
    fn the_sign_in_time_is_carried_through_refreshes() {
        let user = Uuid::now_v7();
        let signed_in = Utc::now() - Duration::hours(3);
        let now = Utc::now();
        let refreshed = keys().issue_access_since(user, now, signed_in).unwrap();
        let (_, claims) = keys().verify_access(&refreshed.token).unwrap();
        assert_eq!(claims.iat, now.timestamp(), "iat is the refresh");
        assert_eq!(
            claims.signed_in_at().map(|t| t.timestamp()),
            Some(signed_in.timestamp())
        );
        let fresh = keys().issue_access(user, now).unwrap();
        let (_, claims) = keys().verify_access(&fresh.token).unwrap();
        assert_eq!(claims.auth_time, Some(now.timestamp()));
        // A token of a version without it reads as no known sign-in.
        let older: AccessClaims = serde_json::from_value(serde_json::json!({
            "sub": user.to_string(), "iat": 1, "exp": 2, "jti": "j", "iss": ISSUER,
            "aud": AUDIENCE, "typ": ACCESS_TYPE,
        }))
        .unwrap();
        assert_eq!(older.signed_in_at(), None);
    }

    #[test]
    fn expired_tokens_are_refused() {
        let issued = keys()
            .issue_access(Uuid::now_v7(), Utc::now() - Duration::minutes(16))
            .unwrap();
        assert_eq!(
            keys().verify_access(&issued.token).unwrap_err(),
            TokenError::Expired
        );
    }

    #[test]
    fn tickets_and_access_tokens_are_never_taken_for_each_other() {
        let user = Uuid::now_v7();
        let now = Utc::now();
        let ticket = keys()
            .issue_ticket(user, now, Duration::seconds(30))
            .unwrap();
        let verified = keys().verify_ticket(&ticket).unwrap();
        assert_eq!(verified.user_id, user);
        assert_eq!(verified.expires_at.timestamp(), now.timestamp() + 30);
        let again = keys()
            .issue_ticket(user, now, Duration::seconds(30))
            .unwrap();
        assert_ne!(keys().verify_ticket(&again).unwrap().id, verified.id);
        assert!(keys().verify_access(&ticket).is_err());
        let access = keys().issue_access(user, now).unwrap();
        assert!(keys().verify_ticket(&access.token).is_err());
        let other = TokenKeys::new(&Secret::new("o".repeat(40)));
        let forged = other
            .issue_ticket(user, now, Duration::seconds(30))
            .unwrap();
        assert!(matches!(
            keys().verify_ticket(&forged),
            Err(TokenError::Invalid(_))
        ));
        let old = keys()
            .issue_ticket(user, now - Duration::seconds(31), Duration::seconds(30))
            .unwrap();
        assert_eq!(keys().verify_ticket(&old), Err(TokenError::Expired));
    }

    #[test]
    fn another_key_is_refused() {
        let other = TokenKeys::new(&Secret::new("o".repeat(40)));
        let issued = other.issue_access(Uuid::now_v7(), Utc::now()).unwrap();
        assert!(matches!(
            keys().verify_access(&issued.token),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn alg_none_is_refused() {
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({"sub": Uuid::now_v7().to_string(), "iat": now, "exp": now + 600,
            "jti": "x", "iss": ISSUER, "aud": AUDIENCE, "typ": "access"});
        let token = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(&claims)
        );
        assert!(matches!(
            keys().verify_access(&token),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn wrong_audience_issuer_or_type_is_refused() {
        let secret = "k".repeat(40);
        let now = Utc::now().timestamp();
        let base = serde_json::json!({"sub": Uuid::now_v7().to_string(), "iat": now, "exp": now + 600,
            "jti": "x", "iss": ISSUER, "aud": AUDIENCE, "typ": "access"});
        for (field, value) in [
            ("aud", "other-api"),
            ("iss", "someone-else"),
            ("typ", "refresh"),
        ] {
            let mut claims = base.clone();
            claims[field] = serde_json::json!(value);
            let token = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap();
            assert!(
                matches!(keys().verify_access(&token), Err(TokenError::Invalid(_))),
                "{field}"
            );
        }
    }

    #[test]
    fn other_algorithms_are_refused() {
        let secret = "k".repeat(40);
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({"sub": Uuid::now_v7().to_string(), "iat": now, "exp": now + 600,
            "jti": "x", "iss": ISSUER, "aud": AUDIENCE, "typ": "access"});
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        assert!(matches!(
            keys().verify_access(&token),
            Err(TokenError::Invalid(_))
        ));
    }

    mod properties {
        //! No string a client can send verifies as an access token unless this server
        //! signed it, and none makes verification panic.

        use proptest::prelude::*;

        use super::*;
        use crate::proptest_strategies::{hostile_string, json_value};

        const CLAIMS: &[&str] = &["sub", "iat", "exp", "jti", "iss", "aud", "typ", "nbf"];

        fn segment() -> impl Strategy<Value = String> {
            prop_oneof![
                json_value(2).prop_map(|v| b64(&v)),
                prop::collection::vec(any::<u8>(), 0..64)
                    .prop_map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)),
                "[A-Za-z0-9_=+/-]{0,64}",
            ]
        }

        fn header() -> impl Strategy<Value = serde_json::Value> {
            let alg = prop::sample::select(
                &[
                    "HS256", "HS384", "HS512", "none", "None", "RS256", "ES256", "", "hs256",
                ][..],
            );
            (alg, json_value(1)).prop_map(
                |(alg, extra)| serde_json::json!({"alg": alg, "typ": "JWT", "kid": extra}),
            )
        }

        /// Sound claims with up to three of them removed or replaced by right or
        /// wrong values; the flag tells whether they were left sound.
        fn claims() -> impl Strategy<Value = (serde_json::Value, bool)> {
            let now = Utc::now().timestamp();
            let value = prop_oneof![
                json_value(1),
                Just(serde_json::json!(ISSUER)),
                Just(serde_json::json!(AUDIENCE)),
                Just(serde_json::json!(ACCESS_TYPE)),
                Just(serde_json::json!([AUDIENCE, "other"])),
                any::<u128>().prop_map(|u| serde_json::json!(Uuid::from_u128(u).to_string())),
                (-100_000i64..100_000).prop_map(move |d| serde_json::json!(now + d)),
            ];
            let edit = (prop::sample::select(CLAIMS), prop::option::of(value));
            (any::<u128>(), prop::collection::vec(edit, 0..=3)).prop_map(move |(user, edits)| {
                let mut claims = serde_json::json!({
                    "sub": Uuid::from_u128(user).to_string(), "iat": now, "exp": now + 600,
                    "jti": "j", "iss": ISSUER, "aud": AUDIENCE, "typ": ACCESS_TYPE,
                });
                let sound = edits.is_empty();
                for (claim, value) in edits {
                    match value {
                        Some(value) => claims[claim] = value,
                        None => {
                            claims.as_object_mut().unwrap().remove(claim);
                        }
                    }
                }
                (claims, sound)
            })
        }

        proptest! {
            #[test]
            fn no_arbitrary_string_verifies(token in hostile_string()) {
                prop_assert!(keys().verify_access(&token).is_err());
            }

            #[test]
            fn no_unsigned_or_foreign_token_verifies(
                header in prop_oneof![header().prop_map(|h| b64(&h)), segment()],
                claims in prop_oneof![claims().prop_map(|(c, _)| b64(&c)), segment()],
                signature in segment(),
            ) {
                let token = format!("{header}.{claims}.{signature}");
                prop_assert!(keys().verify_access(&token).is_err());
            }

            #[test]
            fn a_token_signed_with_our_key_verifies_only_with_sound_claims(
                (claims, sound) in claims(),
                algorithm in prop::sample::select(&[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512][..]),
            ) {
                let token = jsonwebtoken::encode(
                    &Header::new(algorithm),
                    &claims,
                    &EncodingKey::from_secret("k".repeat(40).as_bytes()),
                )
                .unwrap();
                let outcome = keys().verify_access(&token);
                if sound && algorithm == Algorithm::HS256 {
                    prop_assert!(outcome.is_ok(), "{:?}", outcome);
                }
                if let Ok((user_id, verified)) = outcome {
                    prop_assert_eq!(algorithm, Algorithm::HS256);
                    prop_assert_eq!(verified.typ.as_str(), ACCESS_TYPE);
                    prop_assert_eq!(verified.iss.as_str(), ISSUER);
                    prop_assert_eq!(verified.aud.as_str(), AUDIENCE);
                    prop_assert_eq!(user_id.to_string(), verified.sub);
                    prop_assert!(verified.exp >= Utc::now().timestamp() - 5);
                }
            }

            #[test]
            fn issued_tokens_verify_and_any_one_character_changed_does_not(
                user in any::<u128>(),
                at in any::<prop::sample::Index>(),
                replacement in any::<char>(),
            ) {
                let user = Uuid::from_u128(user);
                let token = keys().issue_access(user, Utc::now()).unwrap().token;
                prop_assert_eq!(keys().verify_access(&token).map(|(id, _)| id), Ok(user));
                let (i, original) = token.char_indices().nth(at.index(token.len())).unwrap();
                prop_assume!(original != replacement);
                let mut tampered = token.clone();
                tampered.replace_range(i..i + original.len_utf8(), &replacement.to_string());
                prop_assert!(keys().verify_access(&tampered).is_err(), "{}", tampered);
            }
        }
    }
}
