//! Multiplayer rooms over HTTP: create one (`POST /api/v1/rooms`), let a guest in
//! (`POST /api/v1/rooms/{code}/guests`), list the rooms you hosted, and download a
//! finished room's results as JSON or CSV. Playing happens on the websocket.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::json::Json;
use crate::http::openapi::{
    BearerErrors, BodyErrors, Forbidden, NotFound, TooManyRequests, Unavailable,
};
use crate::rooms::guests::GuestPass;
use crate::state::AppState;
use questpath_actors::room::RoomError;
use questpath_actors::room::setup::{Bank, CatalogChoice, NewRoom, Source, player_name};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/rooms", web::post().to(create))
        .route("/rooms", web::get().to(list))
        .route("/rooms/{code}/guests", web::post().to(guest))
        .route("/rooms/{room_id}/results", web::get().to(results))
        .route("/rooms/{room_id}/results.csv", web::get().to(results_csv));
}

impl From<RoomError> for ApiError {
    fn from(e: RoomError) -> Self {
        match e {
            // Behind a balancer the next try may reach a less busy instance.
            RoomError::Capacity(_) => ApiError::try_later("rooms_at_capacity", e.to_string()),
            RoomError::NoCode => ApiError::unavailable(e),
            RoomError::Port(e) => e.into(),
        }
    }
}

/// A room just created: share `code` with the players, then connect to the websocket
/// and send `room.join` with it to host.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedRoom {
    room_id: Uuid,
    /// Six characters from an alphabet without look-alikes (no 0/O, 1/I/L, U/V).
    #[schema(example = "K7XQ2M")]
    code: String,
    title: String,
    question_count: u32,
    max_players: u32,
    /// `speed` or `accuracy`.
    scoring: &'static str,
    streak_bonus: bool,
    allow_guests: bool,
}

/// Creates a live room hosted by the signed-in learner, with exactly one source of
/// questions: the quiz bank of one of their levels (`level_id`), their own questions
/// (`questions`), one of their saved quizzes (`quiz_id`), or a level of a built-in
/// subject (`catalog`, from `GET /api/v1/catalog`). Naming none or several is a 422
/// naming the fields. The room waits 10 minutes for its host's first `room.join`.
#[utoipa::path(
    post,
    path = "/api/v1/rooms",
    tag = "rooms",
    security(("bearer" = [])),
    request_body = NewRoom,
    responses(
        (status = 201, description = "The room and its join code", body = CreatedRoom),
        (status = 404, response = NotFound),
        BodyErrors,
        BearerErrors,
    )
)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<NewRoom>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let source = request.source().map_err(ApiError::invalid_fields)?;
    let bank = match source {
        Source::Level(level_id) => {
            let (level, questions) = state
                .goals
                .level_with_questions(user.0.id, level_id)
                .await?;
            Some(Bank::Level(level.title, questions.to_vec()))
        }
        Source::Quiz(quiz_id) => {
            let quiz = crate::http::v1::quizzes::owned(&state, &user, quiz_id).await?;
            Some(Bank::Quiz(quiz))
        }
        Source::Catalog(choice) => Some(catalog_bank(&choice)?),
        Source::Questions => None,
    };
    let rooms = &state.realtime.rooms;
    let setup = request
        .validate(bank, rooms.settings.max_players)
        .map_err(ApiError::invalid_fields)?;
    let created = CreatedRoom {
        room_id: Uuid::nil(),
        code: String::new(),
        title: setup.title.clone(),
        question_count: setup.questions.len() as u32,
        max_players: setup.max_players as u32,
        scoring: questpath_actors::room::game::scoring_name(setup.scoring),
        streak_bonus: setup.streak_bonus,
        allow_guests: setup.allow_guests,
    };
    let entry = rooms.create(user.0.id, setup).await?;
    Ok(HttpResponse::Created().json(CreatedRoom {
        room_id: entry.room_id,
        code: entry.code,
        ..created
    }))
}

/// The questions of a catalog level, and the room's default title.
fn catalog_bank(choice: &CatalogChoice) -> Result<Bank, ApiError> {
    let catalog = crate::adapters::catalog::shared().map_err(ApiError::internal)?;
    let subject = catalog
        .subjects()
        .iter()
        .find(|s| s.slug == choice.subject)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "catalog.subject",
                format!(
                    "catalog.subject {:?} is not a subject of GET /api/v1/catalog",
                    choice.subject
                ),
            )
        })?;
    let level = subject.levels.get(choice.level as usize).ok_or_else(|| {
        ApiError::invalid_field(
            "catalog.level",
            format!(
                "catalog.level must be 0 to {} for {}",
                subject.levels.len().saturating_sub(1),
                subject.slug
            ),
        )
    })?;
    Ok(Bank::Catalog(
        format!("{}: {}", subject.title, level.title),
        level.questions.clone(),
    ))
}

/// A guest's name, or the rejoin token from an earlier answer (same seat).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct GuestRequest {
    /// 1 to 24 characters (for a first entry).
    #[serde(default)]
    name: Option<String>,
    /// The `rejoin_token` this route gave before: a new ticket for the same guest.
    #[serde(default)]
    rejoin_token: Option<String>,
}

/// What a guest needs to play.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct GuestAccess {
    /// One-time websocket ticket (30 s): `GET /api/v1/ws?ticket=...`, then `room.join`.
    ticket: String,
    /// Trade it here for a new ticket after a disconnect: the seat, score and streak stay.
    rejoin_token: String,
    guest_id: Uuid,
    name: String,
    room_id: Uuid,
    code: String,
}

/// Lets someone without an account into a room whose host allows guests. No sign-in;
/// the anonymous per-address rate limit applies.
#[utoipa::path(
    post,
    path = "/api/v1/rooms/{code}/guests",
    tag = "rooms",
    params(("code" = String, Path, description = "The room's join code, as typed")),
    request_body = GuestRequest,
    responses(
        (status = 201, description = "A ticket for the websocket", body = GuestAccess),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
        BodyErrors,
    )
)]
pub(crate) async fn guest(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Json<GuestRequest>,
) -> Result<HttpResponse, ApiError> {
    let rooms = &state.realtime.rooms;
    let guests = &state.realtime.guests;
    let entry = rooms
        .find(&path)
        .await?
        .ok_or_else(|| ApiError::not_found("No game is running with this code"))?;
    if !entry.allow_guests {
        return Err(ApiError::forbidden(
            "guests_not_allowed",
            "This room is for signed-in learners",
        ));
    }
    let request = body.into_inner();
    let (pass, rejoin) = match (&request.rejoin_token, &request.name) {
        (Some(token), _) => {
            let pass = guests
                .rejoin(token)
                .await?
                .filter(|p| p.room_id == entry.room_id)
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "rejoin_token",
                        "this rejoin token is not for this room",
                    )
                })?;
            (pass, Some(token.clone()))
        }
        (None, Some(name)) => {
            let name = player_name(name).ok_or_else(|| {
                ApiError::invalid_field("name", "name must be 1 to 24 characters")
            })?;
            let pass = GuestPass {
                guest_id: Uuid::new_v4(),
                name,
                room_id: entry.room_id,
                code: entry.code.clone(),
            };
            (pass, None)
        }
        (None, None) => return Err(ApiError::invalid_field("name", "name is required")),
    };
    let issued = guests.issue(&pass, rejoin).await?;
    Ok(HttpResponse::Created().json(GuestAccess {
        ticket: issued.ticket,
        rejoin_token: issued.rejoin_token,
        guest_id: pass.guest_id,
        name: pass.name,
        room_id: pass.room_id,
        code: pass.code,
    }))
}

/// A finished room, as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct HostedRoom {
    room_id: Uuid,
    code: String,
    title: String,
    created_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    /// `finished`, `ended_by_host`, `host_left` or `abandoned`.
    end_reason: String,
    players: u32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct HostedRooms {
    /// Most recently ended first (up to 50).
    items: Vec<HostedRoom>,
}

/// The finished rooms the signed-in learner hosted.
#[utoipa::path(
    get,
    path = "/api/v1/rooms",
    tag = "rooms",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Rooms hosted, most recent first", body = HostedRooms),
        BearerErrors,
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let rooms = state.hosted_rooms.list(user.0.id).await?;
    Ok(HttpResponse::Ok().json(HostedRooms {
        items: rooms
            .into_iter()
            .map(|r| HostedRoom {
                room_id: r.room_id,
                code: r.code,
                title: r.title,
                created_at: r.created_at,
                ended_at: r.ended_at,
                end_reason: r.end_reason,
                players: r.players,
            })
            .collect(),
    }))
}

/// The stored results of a room the caller hosted; 404 for anyone else.
async fn hosted_result(
    state: &AppState,
    user: &AuthUser,
    raw: &str,
) -> Result<crate::ports::store::RoomResult, ApiError> {
    let room_id = crate::http::path_id(raw, "Room")?;
    state
        .hosted_rooms
        .result(user.0.id, room_id)
        .await?
        .ok_or_else(|| ApiError::not_found("No finished room with this id among yours"))
}

/// The full results of a finished room you hosted: every player's place, score, and
/// answer to each question (JSON).
#[utoipa::path(
    get,
    path = "/api/v1/rooms/{room_id}/results",
    tag = "rooms",
    security(("bearer" = [])),
    params(("room_id" = Uuid, Path, description = "`room_id` from the room's creation")),
    responses(
        (status = 200, description = "The results document", body = crate::rooms::results::RoomResults),
        (status = 404, response = NotFound),
        BearerErrors,
    )
)]
pub(crate) async fn results(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let result = hosted_result(&state, &user, &path).await?;
    let results = crate::rooms::results::RoomResults::from_stored(&result.results)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(results))
}

/// The same results as CSV, one row per player, ready for a spreadsheet.
#[utoipa::path(
    get,
    path = "/api/v1/rooms/{room_id}/results.csv",
    tag = "rooms",
    security(("bearer" = [])),
    params(("room_id" = Uuid, Path, description = "`room_id` from the room's creation")),
    responses(
        (status = 200, description = "RFC 4180 CSV with a header row", content_type = "text/csv", body = String),
        (status = 404, response = NotFound),
        BearerErrors,
    )
)]
pub(crate) async fn results_csv(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let result = hosted_result(&state, &user, &path).await?;
    let csv = crate::rooms::results::to_csv(&result.results).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"questpath-room-{}.csv\"",
                result.code
            ),
        ))
        .body(csv))
}
