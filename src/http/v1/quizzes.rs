//! Saved quizzes over HTTP (`/api/v1/quizzes`): a host's own quizzes to play in rooms
//! again (`POST /api/v1/rooms` with `quiz_id`), written by hand or imported from a JSON
//! or CSV file, and exported as either. Nobody but the owner sees a quiz: another
//! learner's quiz answers 404, like one that does not exist.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::json::Json;
use crate::http::openapi::{BearerErrors, BodyErrors, Conflict, NotFound};
use crate::ports::store::SavedQuiz as StoredQuiz;
use crate::quizzes::exchange::{self, QuizDocument};
use crate::quizzes::service::QuizError;
use crate::quizzes::{MAX_BODY, MAX_PER_OWNER, QuizContent, QuizInput};
use crate::state::AppState;
use questpath_actors::room::setup::CustomQuestion;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/quizzes", web::get().to(list))
        .route("/quizzes", web::post().to(create))
        .route("/quizzes/import", web::post().to(import))
        .route("/quizzes/{quiz_id}", web::get().to(get))
        .route("/quizzes/{quiz_id}", web::put().to(update))
        .route("/quizzes/{quiz_id}", web::delete().to(delete))
        .route("/quizzes/{quiz_id}/export.json", web::get().to(export_json))
        .route("/quizzes/{quiz_id}/export.csv", web::get().to(export_csv));
}

/// A saved quiz with its questions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SavedQuiz {
    quiz_id: Uuid,
    title: String,
    /// Empty when there is none.
    description: String,
    questions: Vec<CustomQuestion>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&StoredQuiz> for SavedQuiz {
    fn from(quiz: &StoredQuiz) -> Self {
        SavedQuiz {
            quiz_id: quiz.id,
            title: quiz.title.clone(),
            description: quiz.description.clone(),
            questions: quiz
                .questions
                .iter()
                .map(CustomQuestion::from_checked)
                .collect(),
            created_at: quiz.created_at,
            updated_at: quiz.updated_at,
        }
    }
}

/// A saved quiz as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct QuizSummary {
    quiz_id: Uuid,
    title: String,
    question_count: u32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct QuizList {
    /// Newest (created) first; all of them (at most 500).
    quizzes: Vec<QuizSummary>,
}

/// One of the caller's quizzes; 404 for anyone else's, as for none.
pub(crate) async fn owned(
    state: &AppState,
    user: &AuthUser,
    quiz_id: Uuid,
) -> Result<StoredQuiz, ApiError> {
    Ok(state.quizzes.owned(user.0.id, quiz_id).await?)
}

impl From<QuizError> for ApiError {
    fn from(e: QuizError) -> Self {
        match e {
            QuizError::NotFound => ApiError::not_found("No saved quiz with this id among yours"),
            QuizError::Limit => ApiError::conflict(
                "quiz_limit_reached",
                format!(
                    "You have {MAX_PER_OWNER} saved quizzes, the most one can keep: delete one to save another"
                ),
            ),
            QuizError::Store(e) => e.into(),
        }
    }
}

async fn owned_at(state: &AppState, user: &AuthUser, raw: &str) -> Result<StoredQuiz, ApiError> {
    let quiz_id = crate::http::path_id(raw, "Quiz")?;
    owned(state, user, quiz_id).await
}

/// Saves a new quiz of the caller: 201 with it, or 409 at the limit.
async fn save_new(
    state: &AppState,
    user: &AuthUser,
    content: QuizContent,
) -> Result<HttpResponse, ApiError> {
    let quiz = state.quizzes.create(user.0.id, content).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/quizzes/{}", quiz.id)))
        .json(SavedQuiz::from(&quiz)))
}

/// The caller's saved quizzes.
#[utoipa::path(
    get,
    path = "/api/v1/quizzes",
    tag = "quizzes",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Newest first, without their questions", body = QuizList),
        BearerErrors,
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let quizzes = state.quizzes.list(user.0.id).await?;
    Ok(HttpResponse::Ok().json(QuizList {
        quizzes: quizzes
            .into_iter()
            .map(|q| QuizSummary {
                quiz_id: q.id,
                title: q.title,
                question_count: q.question_count,
                created_at: q.created_at,
                updated_at: q.updated_at,
            })
            .collect(),
    }))
}

/// Saves a new quiz. Every question follows the rules of a room's own questions; a 422
/// names every field at fault (`questions[3].options[1]`). A host keeps at most 500
/// quizzes (409 `quiz_limit_reached`). Bodies up to 1 MiB.
#[utoipa::path(
    post,
    path = "/api/v1/quizzes",
    tag = "quizzes",
    security(("bearer" = [])),
    request_body = QuizInput,
    responses(
        (status = 201, description = "The saved quiz", body = SavedQuiz,
            headers(("Location" = String, description = "`/api/v1/quizzes/{quiz_id}`"))),
        (status = 409, response = Conflict),
        BodyErrors,
        BearerErrors,
    )
)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<QuizInput, MAX_BODY>,
) -> Result<HttpResponse, ApiError> {
    let content = body.check().map_err(ApiError::invalid_fields)?;
    save_new(&state, &user, content).await
}

/// One of the caller's quizzes, with its questions and answers.
#[utoipa::path(
    get,
    path = "/api/v1/quizzes/{quiz_id}",
    tag = "quizzes",
    security(("bearer" = [])),
    params(("quiz_id" = Uuid, Path, description = "Id of one of your saved quizzes")),
    responses(
        (status = 200, description = "The quiz", body = SavedQuiz),
        (status = 404, response = NotFound),
        BearerErrors,
    )
)]
pub(crate) async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let quiz = owned_at(&state, &user, &path).await?;
    Ok(HttpResponse::Ok().json(SavedQuiz::from(&quiz)))
}

/// Replaces a quiz's title, description and questions (checked like a new quiz).
#[utoipa::path(
    put,
    path = "/api/v1/quizzes/{quiz_id}",
    tag = "quizzes",
    security(("bearer" = [])),
    params(("quiz_id" = Uuid, Path, description = "Id of one of your saved quizzes")),
    request_body = QuizInput,
    responses(
        (status = 200, description = "The quiz as saved", body = SavedQuiz),
        (status = 404, response = NotFound),
        BodyErrors,
        BearerErrors,
    )
)]
pub(crate) async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: Json<QuizInput, MAX_BODY>,
) -> Result<HttpResponse, ApiError> {
    let quiz = owned_at(&state, &user, &path).await?;
    let content = body.check().map_err(ApiError::invalid_fields)?;
    let updated = state.quizzes.replace(quiz, content).await?;
    Ok(HttpResponse::Ok().json(SavedQuiz::from(&updated)))
}

/// Deletes one of the caller's quizzes (rooms already playing it go on).
#[utoipa::path(
    delete,
    path = "/api/v1/quizzes/{quiz_id}",
    tag = "quizzes",
    security(("bearer" = [])),
    params(("quiz_id" = Uuid, Path, description = "Id of one of your saved quizzes")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = NotFound),
        BearerErrors,
    )
)]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let quiz_id = crate::http::path_id(&path, "Quiz")?;
    state.quizzes.delete(user.0.id, quiz_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `attachment; filename="..."` for a quiz file: its title in lower-case ASCII letters,
/// digits and dashes (the quiz id when nothing is left).
fn attachment(quiz: &StoredQuiz, extension: &str) -> String {
    let mut slug = String::new();
    for c in quiz.title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let name = if slug.is_empty() {
        quiz.id.to_string()
    } else {
        slug.to_string()
    };
    format!("attachment; filename=\"questpath-quiz-{name}.{extension}\"")
}

/// The quiz as a JSON document (`format: "questpath.quiz.v1"`), to keep or to share;
/// `POST /api/v1/quizzes/import` takes it back.
#[utoipa::path(
    get,
    path = "/api/v1/quizzes/{quiz_id}/export.json",
    tag = "quizzes",
    security(("bearer" = [])),
    params(("quiz_id" = Uuid, Path, description = "Id of one of your saved quizzes")),
    responses(
        (status = 200, description = "The quiz document, as an attachment", body = QuizDocument,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"questpath-quiz-<title>.json\"`"))),
        (status = 404, response = NotFound),
        BearerErrors,
    )
)]
pub(crate) async fn export_json(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let quiz = owned_at(&state, &user, &path).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_DISPOSITION, attachment(&quiz, "json")))
        .json(QuizDocument::of(&quiz)))
}

/// The questions as CSV, one per row, for a spreadsheet: columns `question, option_a,
/// option_b, option_c, option_d, correct_option, explanation, time_limit_secs, points`.
/// A cell starting with `=`, `+`, `-`, `@` or `'` gets a leading `'` so that no
/// spreadsheet runs it as a formula; an import removes it again.
#[utoipa::path(
    get,
    path = "/api/v1/quizzes/{quiz_id}/export.csv",
    tag = "quizzes",
    security(("bearer" = [])),
    params(("quiz_id" = Uuid, Path, description = "Id of one of your saved quizzes")),
    responses(
        (status = 200, description = "RFC 4180 CSV with a header row, as an attachment",
            content_type = "text/csv", body = String,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"questpath-quiz-<title>.csv\"`"))),
        (status = 404, response = NotFound),
        BearerErrors,
    )
)]
pub(crate) async fn export_csv(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let quiz = owned_at(&state, &user, &path).await?;
    let csv = exchange::to_csv(&quiz.questions).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, attachment(&quiz, "csv")))
        .body(csv))
}

/// The title and description of an imported quiz.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportParams {
    /// The quiz's title (1 to 120 characters): for a CSV file (default `Imported quiz`);
    /// replaces a JSON document's.
    title: Option<String>,
    /// The quiz's description (up to 1,000 characters): for a CSV file; replaces a JSON
    /// document's.
    description: Option<String>,
}

/// Saves a quiz from a file: the JSON document `export.json` gives
/// (`Content-Type: application/json`), or a CSV with a header row naming the columns
/// `export.csv` has (`Content-Type: text/csv`; `question`, `option_a`, `option_b` and
/// `correct_option` are required, the others may be left out). A 422 names every
/// problem: `rows[4].option_b` is row 4 of the CSV as a spreadsheet counts (the header
/// is row 1). Files up to 1 MiB; at most 500 quizzes a host (409).
#[utoipa::path(
    post,
    path = "/api/v1/quizzes/import",
    tag = "quizzes",
    security(("bearer" = [])),
    params(ImportParams),
    request_body(
        description = "The JSON document of `export.json`, or a CSV file",
        content(
            (QuizDocument = "application/json"),
            (String = "text/csv"),
        )
    ),
    responses(
        (status = 201, description = "The saved quiz", body = SavedQuiz,
            headers(("Location" = String, description = "`/api/v1/quizzes/{quiz_id}`"))),
        (status = 409, response = Conflict),
        BodyErrors,
        BearerErrors,
    )
)]
pub(crate) async fn import(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    params: web::Query<ImportParams>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let is_csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.type_() == mime::TEXT && m.subtype() == mime::CSV);
    if !is_csv && !crate::http::json::is_json(&req) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json (a quiz document) or text/csv",
        ));
    }
    let body = crate::http::json::read_body(&req, payload.into_inner(), MAX_BODY).await?;
    let params = params.into_inner();
    let content = if is_csv {
        let questions = exchange::from_csv(&body);
        let title = crate::quizzes::check_title(params.title.as_deref().unwrap_or("Imported quiz"));
        let description =
            crate::quizzes::check_description(params.description.as_deref().unwrap_or_default());
        match (title, description, questions) {
            (Ok(title), Ok(description), Ok(questions)) => QuizContent {
                title,
                description,
                questions,
            },
            (title, description, questions) => {
                let mut problems: Vec<_> = [title.err(), description.err()]
                    .into_iter()
                    .flatten()
                    .collect();
                problems.extend(questions.err().unwrap_or_default());
                return Err(ApiError::invalid_fields(problems));
            }
        }
    } else {
        let mut document: QuizDocument = crate::http::json::from_slice(&body)?;
        if let Some(title) = params.title {
            document.title = title;
        }
        if let Some(description) = params.description {
            document.description = Some(description);
        }
        document.check().map_err(ApiError::invalid_fields)?
    };
    save_new(&state, &user, content).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_names_are_plain_ascii() {
        let quiz = |title: &str| StoredQuiz {
            id: Uuid::nil(),
            owner_id: Uuid::nil(),
            title: title.into(),
            description: String::new(),
            questions: vec![],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        assert_eq!(
            attachment(&quiz("Capitals of Europe, round 2!"), "csv"),
            "attachment; filename=\"questpath-quiz-capitals-of-europe-round-2.csv\""
        );
        assert_eq!(
            attachment(&quiz("\"; rm -rf /"), "json"),
            "attachment; filename=\"questpath-quiz-rm-rf.json\""
        );
        assert!(attachment(&quiz("日本語"), "json").contains(&Uuid::nil().to_string()));
    }
}
