//! Email routes: verifying the address, resetting a forgotten password, the learner's
//! email preferences, and one-click unsubscribe (RFC 8058).
//!
//! The links in mails open the web client's pages (`/#/verify-email?token=`,
//! `/#/reset-password?token=`, `/#/unsubscribe?token=`; see `crate::mail::links`),
//! which call these routes.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::openapi::{BearerErrors, BodyErrors, Conflict, ServiceErrors, Unprocessable};
use crate::mail::unsubscribe::MailList;
use crate::ports::store::MailPreferences;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/verify-email", web::post().to(verify_email))
        .route("/auth/password-reset", web::post().to(request_reset))
        .route(
            "/auth/password-reset/confirm",
            web::post().to(confirm_reset),
        )
        .route(
            "/me/email/verification",
            web::post().to(resend_verification),
        )
        .route("/me/email", web::get().to(get_preferences))
        .route("/me/email", web::patch().to(patch_preferences))
        .route("/email/unsubscribe", web::post().to(unsubscribe))
        .route("/email/unsubscribe", web::get().to(unsubscribe_page));
}

/// The token of a link from a mail.
#[derive(Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
pub(crate) struct TokenBody {
    /// The `token` parameter of the link.
    #[schema(example = "kY3v0x8sQ2mWb1TqJ5rL7nHc9dFa4eZuPiOgXyVtRsA")]
    token: String,
}

/// An address to mail a reset link to.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ResetRequestBody {
    #[schema(format = Email, example = "ada@example.org")]
    email: String,
}

/// A reset link's token and the new password.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ResetConfirmBody {
    token: String,
    /// 8 to 128 characters, not a commonly used password.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// What every request of a reset link answers, registered address or not.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Accepted {
    #[schema(example = "accepted")]
    status: &'static str,
    message: &'static str,
}

/// The learner's address and email preferences.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EmailPreferences {
    #[schema(format = Email)]
    email: String,
    /// Whether the address is verified; optional mails go only to a verified address.
    email_verified: bool,
    /// "Your streak is at risk" mails in the evening of the learner's day (opt-in).
    streak_reminders: bool,
    /// A summary of the week's XP, league and streak (opt-in).
    weekly_summary: bool,
}

/// Changes to the email preferences; absent fields stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreferencesPatch {
    streak_reminders: Option<bool>,
    weekly_summary: Option<bool>,
}

/// What an unsubscribe link did.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Unsubscribed {
    /// The mails the learner no longer gets.
    list: MailList,
    #[schema(example = true)]
    unsubscribed: bool,
}

/// Verifies the address a verification mail was sent to. The link works once, for 7
/// days, and only its latest copy.
#[utoipa::path(
    post,
    path = "/api/v1/auth/verify-email",
    tag = "email",
    request_body = TokenBody,
    responses(
        (status = 200, description = "The address is verified", body = EmailPreferences),
        BodyErrors,
        ServiceErrors,
    )
)]
pub(crate) async fn verify_email(
    state: web::Data<AppState>,
    body: crate::http::json::Json<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let user = state.auth.verify_email(&body.token).await?;
    preferences_of(&state, user).await
}

/// Mails a password-reset link, valid for 30 minutes, if an account has this address.
/// The answer is the same whether or not one has (202 either way), and at most 3 mails
/// per address per hour go out.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset",
    tag = "email",
    request_body = ResetRequestBody,
    responses(
        (status = 202, description = "A link is on its way if the address is registered", body = Accepted),
        BodyErrors,
        ServiceErrors,
    )
)]
pub(crate) async fn request_reset(
    state: web::Data<AppState>,
    body: crate::http::json::Json<ResetRequestBody>,
) -> Result<HttpResponse, ApiError> {
    state.auth.request_password_reset(&body.email)?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "accepted",
        message: "If an account has this email, a link to reset its password is on its way.",
    }))
}

/// Sets a new password with a reset link's token. The link works once; afterwards every
/// session of the account is signed out, and the address counts as verified.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset/confirm",
    tag = "email",
    request_body = ResetConfirmBody,
    responses(
        (status = 204, description = "Password changed; sign in with it"),
        BodyErrors,
        ServiceErrors,
    )
)]
pub(crate) async fn confirm_reset(
    state: web::Data<AppState>,
    body: crate::http::json::Json<ResetConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    state
        .auth
        .reset_password(&body.token, &body.password)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mails a new verification link (the previous one stops working). 409 when the address
/// is verified already.
#[utoipa::path(
    post,
    path = "/api/v1/me/email/verification",
    tag = "email",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A verification mail is on its way", body = Accepted),
        (status = 409, response = Conflict),
        BearerErrors,
    )
)]
pub(crate) async fn resend_verification(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    state.auth.send_verification(&user.0).await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "accepted",
        message: "A verification mail is on its way.",
    }))
}

/// The signed-in learner's address and email preferences.
#[utoipa::path(
    get,
    path = "/api/v1/me/email",
    tag = "email",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Address and preferences", body = EmailPreferences),
        BearerErrors,
    )
)]
pub(crate) async fn get_preferences(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    preferences_of(&state, user.0).await
}

/// Turns the optional mails on or off. They go out only once the address is verified.
#[utoipa::path(
    patch,
    path = "/api/v1/me/email",
    tag = "email",
    security(("bearer" = [])),
    request_body = PreferencesPatch,
    responses(
        (status = 200, description = "The updated preferences", body = EmailPreferences),
        BodyErrors,
        BearerErrors,
    )
)]
pub(crate) async fn patch_preferences(
    state: web::Data<AppState>,
    user: AuthUser,
    body: crate::http::json::Json<PreferencesPatch>,
) -> Result<HttpResponse, ApiError> {
    let store = &state.backends.store;
    let current = store.mail_settings(user.0.id).await?;
    let preferences = MailPreferences {
        streak_reminders: body.streak_reminders.unwrap_or(current.streak_reminders),
        weekly_summary: body.weekly_summary.unwrap_or(current.weekly_summary),
    };
    store.set_mail_preferences(user.0.id, preferences).await?;
    preferences_of(&state, user.0).await
}

/// One-click unsubscribe: the target of the `List-Unsubscribe` header that mail clients
/// POST to (`List-Unsubscribe=One-Click` in a form body, which is not needed), and what
/// the web client's unsubscribe page calls. The signed token names the learner and the
/// mails; no sign-in needed. Repeating it is harmless.
#[utoipa::path(
    post,
    path = "/api/v1/email/unsubscribe",
    tag = "email",
    params(TokenBody),
    responses(
        (status = 200, description = "Unsubscribed", body = Unsubscribed),
        (status = 422, response = Unprocessable),
        ServiceErrors,
    )
)]
pub(crate) async fn unsubscribe(
    state: web::Data<AppState>,
    query: web::Query<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let Some((user_id, list)) = state.mail.unsubscribe_keys().verify(&query.token) else {
        return Err(ApiError::bad_request(
            "invalid_link",
            "This unsubscribe link is not valid.",
        ));
    };
    let store = &state.backends.store;
    // A deleted account has nothing left to unsubscribe from.
    if store.user_by_id(user_id).await?.is_some() {
        let mut preferences = MailPreferences::from(&store.mail_settings(user_id).await?);
        match list {
            MailList::StreakReminders => preferences.streak_reminders = false,
            MailList::WeeklySummary => preferences.weekly_summary = false,
        }
        store.set_mail_preferences(user_id, preferences).await?;
        tracing::info!(%user_id, ?list, "unsubscribed by link");
    }
    Ok(HttpResponse::Ok().json(Unsubscribed {
        list,
        unsubscribed: true,
    }))
}

/// A browser that opens the `List-Unsubscribe` link (a mail client without one-click
/// support) is sent to the web client's confirmation page: a GET changes nothing, as
/// link scanners fetch every URL of a mail.
#[utoipa::path(
    get,
    path = "/api/v1/email/unsubscribe",
    tag = "email",
    params(TokenBody),
    responses(
        (status = 303, description = "To the web client's unsubscribe page (`/#/unsubscribe?token=`)",
            headers(("Location" = String, description = "The page"))),
        (status = 422, response = Unprocessable),
        ServiceErrors,
    )
)]
pub(crate) async fn unsubscribe_page(
    state: web::Data<AppState>,
    query: web::Query<TokenBody>,
) -> HttpResponse {
    let token: String = query
        .token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            state.mail.links().unsubscribe_page(&token),
        ))
        .finish()
}

async fn preferences_of(
    state: &AppState,
    user: crate::ports::User,
) -> Result<HttpResponse, ApiError> {
    let settings = state.backends.store.mail_settings(user.id).await?;
    Ok(HttpResponse::Ok().json(EmailPreferences {
        email_verified: settings.is_verified(&user.email),
        streak_reminders: settings.streak_reminders,
        weekly_summary: settings.weekly_summary,
        email: user.email,
    }))
}
