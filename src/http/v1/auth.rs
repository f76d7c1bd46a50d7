//! `/api/v1/auth/...` and `/api/v1/ws/ticket`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::auth::cookie;
use crate::auth::extractor::AuthUser;
use crate::auth::service::{Session, TICKET_TTL};
use crate::auth::tokens::ACCESS_TTL;
use crate::http::client_ip;
use crate::http::error::ApiError;
use crate::http::users::Me;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/register", web::post().to(register))
        .route("/auth/login", web::post().to(login))
        .route("/auth/refresh", web::post().to(refresh))
        .route("/auth/logout", web::post().to(logout))
        .route("/auth/logout-all", web::post().to(logout_all))
        .route("/auth/google", web::post().to(google))
        .route("/ws/ticket", web::post().to(ticket));
}

#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    password: String,
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct GoogleBody {
    id_token: String,
}

/// Tokens handed out at sign-in and refresh.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: i64,
    user: Me,
}

/// The JSON body and refresh cookie of a new session.
fn session_response(
    state: &AppState,
    session: Session,
    status: actix_web::http::StatusCode,
) -> HttpResponse {
    let cookie = cookie::set(
        &session.refresh_token,
        session.refresh_expires_at,
        state.settings.cookie_secure,
    );
    HttpResponse::build(status)
        .cookie(cookie)
        .json(TokenResponse {
            access_token: session.access.token,
            token_type: "Bearer",
            expires_in: ACCESS_TTL.num_seconds(),
            user: session.user.into(),
        })
}

/// Creates an account and signs it in: 201 with tokens.
async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let user = state
        .auth
        .register(&body.email, &body.password, body.display_name.as_deref())
        .await?;
    let session = state
        .auth
        .login(&user.email, &body.password, &client_ip(&req))
        .await?;
    Ok(session_response(
        &state,
        session,
        actix_web::http::StatusCode::CREATED,
    ))
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let session = state
        .auth
        .login(&body.email, &body.password, &client_ip(&req))
        .await?;
    Ok(session_response(
        &state,
        session,
        actix_web::http::StatusCode::OK,
    ))
}

/// Rotates the refresh cookie and returns a new access token.
async fn refresh(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match state.auth.refresh(cookie::read(&req).as_deref()).await {
        Ok(session) => Ok(session_response(
            &state,
            session,
            actix_web::http::StatusCode::OK,
        )),
        Err(e) => {
            // A refused refresh token is useless: drop it from the browser too.
            let response = ApiError::from(e)
                .error_response_with_cookie(cookie::clear(state.settings.cookie_secure));
            Ok(response)
        }
    }
}

/// Signs this device out (revokes the family of the presented refresh cookie).
async fn logout(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.auth.logout(cookie::read(&req).as_deref()).await?;
    Ok(HttpResponse::NoContent()
        .cookie(cookie::clear(state.settings.cookie_secure))
        .finish())
}

/// Signs every device of the user out.
async fn logout_all(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    state.auth.logout_everywhere(user.0.id).await?;
    Ok(HttpResponse::NoContent()
        .cookie(cookie::clear(state.settings.cookie_secure))
        .finish())
}

async fn google(
    state: web::Data<AppState>,
    body: web::Json<GoogleBody>,
) -> Result<HttpResponse, ApiError> {
    let session = state.auth.google_login(&body.id_token).await?;
    Ok(session_response(
        &state,
        session,
        actix_web::http::StatusCode::OK,
    ))
}

#[derive(Serialize)]
struct TicketResponse {
    ticket: String,
    expires_in: u64,
}

/// A one-time ticket that authorises one websocket connection within 30 s.
async fn ticket(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let ticket = state.auth.issue_ticket(user.0.id).await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(TicketResponse {
            ticket,
            expires_in: TICKET_TTL.as_secs(),
        }))
}
