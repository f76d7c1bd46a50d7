//! `AuthUser`: the signed-in user of a request, from `Authorization: Bearer <access>`;
//! `AuthUserId`: only their id, for routes that need nothing else of the account.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};

use crate::auth::service::AuthError;
use crate::http::error::ApiError;
use crate::state::AppState;
use questpath_actors::ports::User;
use uuid::Uuid;

/// The authenticated user, and when they signed in (their access token's `auth_time`;
/// `None` for a token that does not say); extracting it answers 401 when there is none.
pub struct AuthUser(pub User, pub Option<DateTime<Utc>>);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let credentials = credentials(req);
        Box::pin(async move {
            let (state, token) = credentials?;
            let (user, signed_in_at) = state
                .auth
                .authenticate_session(&token)
                .await
                .map_err(refused)?;
            tracing::Span::current().record("user_id", tracing::field::display(user.id));
            Ok(AuthUser(user, signed_in_at))
        })
    }
}

/// The id of the signed-in user, whose account was seen to exist within
/// [`crate::auth::service::KNOWN_USER_TTL`]: the store is read once for a burst of
/// requests (a learner's websocket tickets), not once a request.
pub struct AuthUserId(pub Uuid);

impl FromRequest for AuthUserId {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let credentials = credentials(req);
        Box::pin(async move {
            let (state, token) = credentials?;
            let user_id = state
                .auth
                .authenticate_known(&token)
                .await
                .map_err(refused)?;
            tracing::Span::current().record("user_id", tracing::field::display(user_id));
            Ok(AuthUserId(user_id))
        })
    }
}

/// The app's state and the request's bearer token; 401 without a token.
fn credentials(req: &HttpRequest) -> Result<(web::Data<AppState>, String), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("AppState missing"))?;
    let token = bearer_token(req)
        .ok_or_else(|| ApiError::unauthorized("unauthenticated", "Not authenticated"))?;
    Ok((state, token))
}

/// The answer to a token that does not authenticate.
fn refused(error: AuthError) -> ApiError {
    match error {
        AuthError::Token(crate::auth::tokens::TokenError::Expired) => {
            ApiError::unauthorized("token_expired", "Token has expired")
        }
        AuthError::Token(_) | AuthError::UnknownUser => {
            ApiError::unauthorized("invalid_token", "Could not validate credentials")
        }
        other => other.into(),
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
