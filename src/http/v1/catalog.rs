//! `GET /api/v1/catalog`: the built-in subjects shipped with the server and their levels,
//! each a question bank a host can play in a room (`POST /api/v1/rooms` with
//! `catalog: {subject, level}`).

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::openapi::BearerErrors;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/catalog", web::get().to(get));
}

/// A level of a subject and the size of its question bank.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CatalogLevel {
    /// What `catalog.level` names (from 0).
    index: u32,
    title: String,
    question_count: u32,
}

/// A built-in subject.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CatalogSubject {
    /// What `catalog.subject` names.
    #[schema(example = "python")]
    slug: String,
    title: String,
    category: String,
    levels: Vec<CatalogLevel>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Catalog {
    subjects: Vec<CatalogSubject>,
}

/// The built-in subjects and their levels, to play in a room.
#[utoipa::path(
    get,
    path = "/api/v1/catalog",
    tag = "rooms",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every subject with its levels, in name order", body = Catalog),
        BearerErrors,
    )
)]
pub(crate) async fn get(
    _state: web::Data<AppState>,
    _user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let catalog = crate::adapters::catalog::shared().map_err(ApiError::internal)?;
    let subjects = catalog
        .subjects()
        .iter()
        .map(|subject| CatalogSubject {
            slug: subject.slug.clone(),
            title: subject.title.clone(),
            category: subject.category.clone(),
            levels: subject
                .levels
                .iter()
                .enumerate()
                .map(|(index, level)| CatalogLevel {
                    index: index as u32,
                    title: level.title.clone(),
                    question_count: level.questions.len() as u32,
                })
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(Catalog { subjects }))
}
