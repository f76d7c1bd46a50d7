//! `/api/v1/auth/...` and `/api/v1/ws/ticket`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::auth::cookie;
use crate::auth::service::{Session, TICKET_TTL};
use crate::http::client_ip;
use crate::http::error::ApiError;
use crate::http::extractor::{AuthUser, AuthUserId};
use crate::http::openapi::{
    BearerErrors, BodyErrors, Conflict, Forbidden, Internal, NotImplemented, ServiceErrors,
    TooManyRequests, Unauthorized,
};
use crate::http::users::Me;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/register", web::post().to(register))
        .route("/auth/login", web::post().to(login))
        .route("/auth/refresh", web::post().to(refresh))
        .route("/auth/logout", web::post().to(logout))
        .route("/auth/logout-all", web::post().to(logout_all))
        .route("/auth/google", web::post().to(google))
        .route("/auth/providers", web::get().to(providers))
        .route("/ws/ticket", web::post().to(ticket));
}

/// A new account.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RegisterBody {
    #[schema(format = Email, max_length = 254, example = "ada@example.org")]
    email: String,
    /// 8 to 128 characters, not a commonly used password.
    #[schema(
        min_length = 8,
        max_length = 128,
        example = "correct horse battery staple"
    )]
    password: String,
    /// 1 to 50 characters once trimmed; no control or invisible formatting characters.
    #[schema(min_length = 1, max_length = 50, pattern = r"\S", example = "Ada")]
    display_name: Option<String>,
    /// The learner's IANA time zone (the client's own, e.g. from
    /// `Intl.DateTimeFormat().resolvedOptions().timeZone`); `UTC` when absent. It decides
    /// when the learner's days (daily goal, streak) begin.
    #[schema(example = "Europe/Berlin")]
    time_zone: Option<String>,
}

/// Email and password of an existing account.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginBody {
    #[schema(example = "ada@example.org")]
    email: String,
    password: String,
}

/// A Google ID token from Google Identity Services.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct GoogleBody {
    id_token: String,
}

/// The refresh cookie that `refresh` and `logout` read (documentation only: the
/// handlers read it with `cookie::read`).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Cookie)]
pub struct RefreshCookie {
    /// The refresh token set at sign-in (HttpOnly: browsers send it by themselves).
    #[param(required = false)]
    pub refresh_token: String,
}

/// Tokens handed out at sign-in and refresh; the refresh token is set as the
/// `refresh_token` cookie, never in the body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenResponse {
    access_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: i64,
    user: Me,
}

/// The JSON body and refresh cookie of a new session.
async fn session_response(
    state: &AppState,
    session: Session,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, ApiError> {
    let verified = state.auth.email_verified(&session.user).await?;
    let mut response = HttpResponse::build(status);
    if let Some((token, expires_at)) = &session.refresh {
        response.cookie(cookie::set(
            token,
            *expires_at,
            state.settings.cookie_secure,
        ));
    }
    // Every access token is issued for the full configured lifetime.
    let expires_in = i64::try_from(state.settings.access_token_ttl.as_secs()).unwrap_or(i64::MAX);
    Ok(response.json(TokenResponse {
        access_token: session.access.token,
        token_type: "Bearer",
        expires_in,
        user: Me::new(session.user, verified),
    }))
}

/// Creates an account and signs it in: 201 with tokens.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Account created and signed in", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "The `refresh_token` cookie"))),
        (status = 409, response = Conflict),
        BodyErrors,
        ServiceErrors,
    )
)]
pub(crate) async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: crate::http::json::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    // Checked before the account exists, so a refused zone creates nothing.
    if let Some(Err(e)) = body
        .time_zone
        .as_deref()
        .map(questpath_actors::streaks::rules::parse_zone)
    {
        return Err(super::me::settings_error(e));
    }
    let user = state
        .auth
        .register(&body.email, &body.password, body.display_name.as_deref())
        .await?;
    if let Some(zone) = body.time_zone.as_deref()
        && let Err(e) = state
            .streaks
            .update_settings(user.id, Some(zone), None)
            .await
    {
        // The account exists; the learner's days run in UTC until the zone is set
        // again (`PATCH /api/v1/me`).
        tracing::warn!(user_id = %user.id, error = %e, "time zone not saved at sign-up");
    }
    let session = state
        .auth
        .login(&user.email, &body.password, &client_ip(&req))
        .await?;
    session_response(&state, session, actix_web::http::StatusCode::CREATED).await
}

/// Signs in with email and password. Repeated failures lock the account and the
/// client address out for a while (429).
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "The `refresh_token` cookie"))),
        (status = 401, response = Unauthorized),
        BodyErrors,
        ServiceErrors,
    )
)]
pub(crate) async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: crate::http::json::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let session = state
        .auth
        .login(&body.email, &body.password, &client_ip(&req))
        .await?;
    session_response(&state, session, actix_web::http::StatusCode::OK).await
}

/// Rotates the refresh cookie and returns a new access token. A refused cookie is
/// cleared. A token rotated out less than `QUESTPATH_REFRESH_GRACE_SECS` (30 s) ago
/// still yields an access token of its family, without a new cookie (two tabs
/// refreshing at once); presenting it later revokes the whole family.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    params(RefreshCookie),
    responses(
        (status = 200, description = "A new access token; the cookie is rotated (not within the grace window of a rotation just made)", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "The new `refresh_token` cookie"))),
        (status = 401, response = Unauthorized),
        ServiceErrors,
    )
)]
pub(crate) async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match state.auth.refresh(cookie::read(&req).as_deref()).await {
        Ok(session) => session_response(&state, session, actix_web::http::StatusCode::OK).await,
        Err(e) => {
            // A refused refresh token is useless: drop it from the browser too.
            let response = ApiError::from(e)
                .error_response_with_cookie(cookie::clear(state.settings.cookie_secure));
            Ok(response)
        }
    }
}

/// Signs this device out (revokes the family of the presented refresh cookie). Succeeds
/// without a cookie too.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    params(RefreshCookie),
    responses(
        (status = 204, description = "Signed out; the cookie is cleared",
            headers(("Set-Cookie" = String, description = "Clears the `refresh_token` cookie"))),
        ServiceErrors,
    )
)]
pub(crate) async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.auth.logout(cookie::read(&req).as_deref()).await?;
    Ok(HttpResponse::NoContent()
        .cookie(cookie::clear(state.settings.cookie_secure))
        .finish())
}

/// Signs every device of the user out.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout-all",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session of the user is revoked",
            headers(("Set-Cookie" = String, description = "Clears the `refresh_token` cookie"))),
        BearerErrors,
    )
)]
pub(crate) async fn logout_all(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    state.auth.logout_everywhere(user.0.id).await?;
    Ok(HttpResponse::NoContent()
        .cookie(cookie::clear(state.settings.cookie_secure))
        .finish())
}

/// Signs in (creating the account on first use) with a Google ID token issued for
/// this server's client id. 501 when Google sign-in is not configured.
#[utoipa::path(
    post,
    path = "/api/v1/auth/google",
    tag = "auth",
    request_body = GoogleBody,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "The `refresh_token` cookie"))),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 501, response = NotImplemented),
        BodyErrors,
        ServiceErrors,
    )
)]
pub(crate) async fn google(
    state: web::Data<AppState>,
    body: crate::http::json::Json<GoogleBody>,
) -> Result<HttpResponse, ApiError> {
    let session = state.auth.google_login(&body.id_token).await?;
    session_response(&state, session, actix_web::http::StatusCode::OK).await
}

/// The ways to sign in that this server offers, for a client to draw its buttons.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Providers {
    /// Email and password: always offered.
    password: bool,
    /// Google sign-in, when configured: the OAuth client id to give Google Identity
    /// Services; `null` when not configured.
    google: Option<GoogleProvider>,
}

/// What a browser needs to show Google's button.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct GoogleProvider {
    client_id: String,
}

/// Which sign-in methods are offered (public: the sign-in page asks before anyone is
/// signed in).
#[utoipa::path(
    get,
    path = "/api/v1/auth/providers",
    tag = "auth",
    responses(
        (status = 200, description = "The sign-in methods", body = Providers),
        (status = 429, response = TooManyRequests),
        (status = 500, response = Internal),
    )
)]
pub(crate) async fn providers(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Providers {
        password: true,
        google: state.settings.google.as_ref().map(|g| GoogleProvider {
            client_id: g.client_id.clone(),
        }),
    })
}

/// A websocket ticket: pass it as `?ticket=` when opening the websocket.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TicketResponse {
    ticket: String,
    /// Seconds the ticket stays valid.
    expires_in: u64,
}

/// A one-time ticket that authorises one websocket connection within 30 s.
#[utoipa::path(
    post,
    path = "/api/v1/ws/ticket",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "A new one-time ticket", body = TicketResponse),
        BearerErrors,
    )
)]
pub(crate) async fn ticket(
    state: web::Data<AppState>,
    user: AuthUserId,
) -> Result<HttpResponse, ApiError> {
    let ticket = state.auth.issue_ticket(user.0).await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(TicketResponse {
            ticket,
            expires_in: TICKET_TTL.as_secs(),
        }))
}
