//! `AuthUser`: the signed-in user of a request, from `Authorization: Bearer <access>`.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use super::service::AuthError;
use crate::http::error::ApiError;
use crate::ports::User;
use crate::state::AppState;

/// The authenticated user; extracting it answers 401 when there is none.
pub struct AuthUser(pub User);

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
            match state.auth.authenticate(&token).await {
                Ok(user) => {
                    tracing::Span::current().record("user_id", tracing::field::display(user.id));
                    Ok(AuthUser(user))
                }
                Err(AuthError::Token(super::tokens::TokenError::Expired)) => {
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
