//! Legacy `/auth/...`: register, form login, refresh (now rotating), me, and the old
//! unverified oauth-login, refused unless an operator enables it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::auth::cookie;
use crate::auth::service::{AuthError, Session};
use crate::http::client_ip;
use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::users::LegacyUser;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/register", web::post().to(register))
        .route("/login", web::post().to(login))
        .route("/refresh", web::post().to(refresh))
        .route("/me", web::get().to(get_me))
        .route("/me", web::patch().to(patch_me))
        .route("/oauth-login", web::post().to(oauth_login));
}

#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    password: String,
}

/// The OAuth2 password form the old frontend posts (`username` is the email).
#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct LegacyToken {
    access_token: String,
    token_type: &'static str,
}

fn token_response(state: &AppState, session: Session) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if let Some((token, expires_at)) = &session.refresh {
        response.cookie(cookie::set(
            token,
            *expires_at,
            state.settings.cookie_secure,
        ));
    }
    response.json(LegacyToken {
        access_token: session.access.token,
        token_type: "bearer",
    })
}

/// 200 with the user (the old backend did not sign in here; the frontend logs in next).
async fn register(
    state: web::Data<AppState>,
    body: crate::http::json::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    match state.auth.register(&body.email, &body.password, None).await {
        Ok(user) => Ok(HttpResponse::Ok().json(LegacyUser::from(user))),
        // The old contract answers 400 here.
        Err(AuthError::EmailTaken) => Err(ApiError::bad_request(
            "email_taken",
            "Email already registered",
        )),
        Err(e) => Err(e.into()),
    }
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ApiError> {
    let session = state
        .auth
        .login(&form.username, &form.password, &client_ip(&req))
        .await?;
    Ok(token_response(&state, session))
}

/// Unlike the old backend, every refresh rotates the cookie.
async fn refresh(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match state.auth.refresh(cookie::read(&req).as_deref()).await {
        Ok(session) => Ok(token_response(&state, session)),
        Err(e) => Ok(ApiError::from(e)
            .error_response_with_cookie(cookie::clear(state.settings.cookie_secure))),
    }
}

async fn get_me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(LegacyUser::from(user.0))
}

#[derive(Deserialize)]
struct MePatch {
    display_name: Option<String>,
}

/// `display_name: null` (or absent) changes nothing, as before; a name is now
/// validated (trimmed, 1 to 50 characters, no control characters).
async fn patch_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: crate::http::json::Json<MePatch>,
) -> Result<HttpResponse, ApiError> {
    let user = match &body.display_name {
        Some(name) => state.auth.rename(user.0.id, name).await?,
        None => user.0,
    };
    Ok(HttpResponse::Ok().json(LegacyUser::from(user)))
}

#[derive(Deserialize)]
struct OauthBody {
    email: String,
    google_id: String,
    display_name: Option<String>,
    profile_picture: Option<String>,
}

/// The old endpoint trusted any posted email, so anyone could sign in as anyone.
/// Refused unless `QUESTPATH_LEGACY_OAUTH_LOGIN=true`; clients should post a Google ID
/// token to `/api/v1/auth/google` instead.
async fn oauth_login(
    state: web::Data<AppState>,
    body: crate::http::json::Json<OauthBody>,
) -> Result<HttpResponse, ApiError> {
    if !state.settings.legacy_oauth_login {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "oauth_login_disabled",
            "This sign-in method trusted unverified identities and is disabled. Sign in with Google through POST /api/v1/auth/google with a Google ID token.",
        ));
    }
    tracing::warn!("unverified legacy oauth-login used (QUESTPATH_LEGACY_OAUTH_LOGIN=true)");
    let body = body.into_inner();
    let session = state
        .auth
        .legacy_oauth_login(
            &body.email,
            &body.google_id,
            body.display_name,
            body.profile_picture,
        )
        .await?;
    Ok(token_response(&state, session))
}
