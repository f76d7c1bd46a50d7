//! `AuthUser`: the signed-in user of a request, from `Authorization: Bearer <access>`.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};

use crate::auth::service::AuthError;
use crate::http::error::ApiError;
use crate::state::AppState;
use questpath_actors::ports::User;

/// The authenticated user, and when they signed in (their access token's `auth_time`;
/// `None` for a token that does not say); extracting it answers 401 when there is none.
pub struct AuthUser(pub User, pub Option<DateTime<Utc>>);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("AppState missing"))?;
            let token = token
                .ok_or_else(|| ApiError::unauthorized("unauthenticated", "Not authenticated"))?;
            match state.auth.authenticate_session(&token).await {
                Ok((user, signed_in_at)) => {
                    tracing::Span::current().record("user_id", tracing::field::display(user.id));
                    Ok(AuthUser(user, signed_in_at))
                }
                Err(AuthError::Token(crate::auth::tokens::TokenError::Expired)) => {
                    Err(ApiError::unauthorized("token_expired", "Token has expired"))
                }
                Err(AuthError::Token(_)) | Err(AuthError::UnknownUser) => Err(
                    ApiError::unauthorized("invalid_token", "Could not validate credentials"),
                ),
                Err(other) => Err(other.into()),
            }
        })
    }
}

/// The bearer token of the request, if it has one.
fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

#[cfg(test)]
mod properties {
    use actix_web::http::header::HeaderValue;
    use actix_web::test::TestRequest;
    use proptest::prelude::*;

    use super::*;
    use crate::proptest_strategies::hostile_string;

    proptest! {
        #[test]
        fn any_authorization_header_yields_a_trimmed_token_or_none(
            value in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..80),
                hostile_string().prop_map(|s| format!("Bearer {s}").into_bytes()),
                "(?i:bearer)[ \t]{0,3}[ -~]{0,40}".prop_map(String::into_bytes),
            ],
        ) {
            let Ok(header) = HeaderValue::from_bytes(&value) else {
                return Ok(());
            };
            let req = TestRequest::default()
                .insert_header((header::AUTHORIZATION, header))
                .to_http_request();
            if let Some(token) = bearer_token(&req) {
                prop_assert!(!token.is_empty());
                prop_assert_eq!(token.trim(), token.as_str());
                let text = std::str::from_utf8(&value).unwrap();
                prop_assert!(text.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("bearer ")));
                prop_assert!(text.contains(&token));
            }
        }
    }
}
