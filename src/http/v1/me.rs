//! `GET`, `PATCH` and `DELETE /api/v1/me`, and `GET /api/v1/me/export` (the last two in
//! `account.rs`: a learner's own data).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::openapi::{BearerErrors, BodyErrors};
use crate::http::users::Me;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(get_me))
        .route("/me", web::patch().to(patch_me))
        .route("/me", web::delete().to(super::account::delete))
        .route("/me/export", web::get().to(super::account::export));
}

/// The signed-in user.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = Me),
        BearerErrors,
    )
)]
pub(crate) async fn get_me(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let verified = state.auth.email_verified(&user.0).await?;
    Ok(HttpResponse::Ok().json(Me::new(user.0, verified)))
}

/// Changes to the signed-in user; absent fields stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MePatch {
    /// 1 to 50 characters once trimmed; no control or invisible formatting characters.
    #[schema(min_length = 1, max_length = 50, pattern = r"\S", example = "Ada")]
    display_name: Option<String>,
}

/// Changes the signed-in user's profile.
#[utoipa::path(
    patch,
    path = "/api/v1/me",
    tag = "me",
    security(("bearer" = [])),
    request_body = MePatch,
    responses(
        (status = 200, description = "The updated user", body = Me),
        BodyErrors,
        BearerErrors,
    )
)]
pub(crate) async fn patch_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: crate::http::json::Json<MePatch>,
) -> Result<HttpResponse, ApiError> {
    let user = match &body.display_name {
        Some(name) => state.auth.rename(user.0.id, name).await?,
        None => user.0,
    };
    let verified = state.auth.email_verified(&user).await?;
    Ok(HttpResponse::Ok().json(Me::new(user, verified)))
}
