//! `GET` and `PATCH /api/v1/me`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::extractor::AuthUser;
use crate::http::error::ApiError;
use crate::http::users::Me;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(get_me))
        .route("/me", web::patch().to(patch_me));
}

async fn get_me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(Me::from(user.0))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MePatch {
    display_name: Option<String>,
}

async fn patch_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<MePatch>,
) -> Result<HttpResponse, ApiError> {
    let user = match &body.display_name {
        Some(name) => state.auth.rename(user.0.id, name).await?,
        None => user.0,
    };
    Ok(HttpResponse::Ok().json(Me::from(user)))
}
