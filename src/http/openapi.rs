//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! attributes, served at `GET /api/v1/openapi.json`, and an interactive Swagger UI at
//! `/docs`.
//!
//! Swagger UI's files are compiled into the binary (utoipa-swagger-ui's `vendored`
//! feature), so the docs page works without internet access and loads nothing from
//! another origin; its strict Content-Security-Policy says so to the browser.
//!
//! `tests/api/openapi.rs` keeps an explicit list of the v1 routes and fails when a route
//! is registered without being documented here (or the other way round).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Required};
use utoipa::{IntoResponses, Modify, OpenApi, ToResponse};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::http::error::ProblemDetails;
use crate::http::versioning;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The security scheme of the operations that need an access token.
pub const BEARER: &str = "bearer";

/// The security scheme of the websocket: a one-time ticket in the query.
pub const TICKET: &str = "ticket";

/// Content-Security-Policy of the docs page: everything from this origin only. Swagger
/// UI sets `style` attributes from script (hence `'unsafe-inline'` for styles only) and
/// draws its icons from `data:` URLs in its stylesheet; it has no inline scripts.
pub const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; \
     font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; \
     frame-ancestors 'none'";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "QuestPath API",
        version = env!("CARGO_PKG_VERSION"),
        description = "QuestPath game server, version 1 of the HTTP API.\n\n\
            Errors are `application/problem+json` (RFC 9457) with a stable `code`. \
            Protected operations need `Authorization: Bearer <access token>` from \
            `/api/v1/auth/login` or `/api/v1/auth/register`; the refresh token travels \
            in the `refresh_token` cookie. Every response says the version that answered \
            in an `API-Version` header, and limited routes carry `RateLimit-Limit`, \
            `RateLimit-Remaining` and `RateLimit-Reset`. See `docs/api-versioning.md` \
            for how long this version lives."
    ),
    paths(
        openapi_json,
        crate::http::v1::auth::register,
        crate::http::v1::auth::login,
        crate::http::v1::auth::refresh,
        crate::http::v1::auth::logout,
        crate::http::v1::auth::logout_all,
        crate::http::v1::auth::google,
        crate::http::v1::auth::providers,
        crate::http::v1::auth::ticket,
        websocket,
        crate::http::v1::me::get_me,
        crate::http::v1::me::patch_me,
        crate::http::v1::account::delete,
        crate::http::v1::account::export,
        crate::http::v1::goals::create,
        crate::http::v1::goals::list,
        crate::http::v1::goals::get,
        crate::http::v1::goals::delete,
        crate::http::v1::goals::level,
        crate::http::v1::goals::set_topic,
        crate::http::v1::goals::job,
        crate::http::v1::goals::stats,
        crate::http::v1::leaderboards::get,
        crate::http::v1::leagues::current,
        crate::http::v1::leagues::history,
        crate::http::v1::rooms::create,
        crate::http::v1::rooms::list,
        crate::http::v1::rooms::guest,
        crate::http::v1::rooms::results,
        crate::http::v1::rooms::results_csv,
        crate::http::v1::room_qr::qr,
        crate::http::v1::quizzes::list,
        crate::http::v1::quizzes::create,
        crate::http::v1::quizzes::get,
        crate::http::v1::quizzes::update,
        crate::http::v1::quizzes::delete,
        crate::http::v1::quizzes::export_json,
        crate::http::v1::quizzes::export_csv,
        crate::http::v1::quizzes::import,
        crate::http::v1::catalog::get,
        crate::http::v1::notifications::list,
        crate::http::v1::notifications::read,
        crate::http::v1::notifications::read_all,
        crate::http::v1::email::verify_email,
        crate::http::v1::email::request_reset,
        crate::http::v1::email::confirm_reset,
        crate::http::v1::email::resend_verification,
        crate::http::v1::email::get_preferences,
        crate::http::v1::email::patch_preferences,
        crate::http::v1::email::unsubscribe,
        crate::http::v1::email::unsubscribe_page,
    ),
    components(
        schemas(ProblemDetails, crate::http::error::FieldError),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            Unprocessable,
            TooManyRequests,
            Internal,
            NotImplemented,
            Unavailable,
        )
    ),
    modifiers(&SecuritySchemes, &ApiVersionHeader),
    tags(
        (name = "auth", description = "Accounts, sessions and websocket tickets"),
        (name = "me", description = "The signed-in user"),
        (name = "goals", description = "Learning goals and their generated roadmaps"),
        (name = "levels", description = "Levels of a roadmap and their topics"),
        (name = "jobs", description = "Roadmap-generation jobs"),
        (name = "leaderboards", description = "All-time and weekly XP leaderboards"),
        (name = "leagues", description = "Weekly leagues: tiers, cohorts, promotion and demotion"),
        (name = "rooms", description = "Live multiplayer quiz rooms: create, guests, results"),
        (name = "quizzes", description = "Saved quizzes to play in rooms: write, export, import"),
        (name = "notifications", description = "The learner's in-app notifications: list, mark read"),
        (name = "realtime", description = "The websocket: quizzes, rooms and live events"),
        (name = "email", description = "Email verification, password reset, email preferences and one-click unsubscribe"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme (an HS256 JWT access token) and the websocket's
/// `ticket` scheme.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            TICKET,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "ticket",
                "One-time ticket from `POST /api/v1/ws/ticket`, valid for 30 seconds.",
            ))),
        );
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Access token from login, register, refresh or Google sign-in; \
                         it expires after `expires_in` seconds.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Documents the optional `API-Version` request header, which the versioning middleware
/// checks on every request (`crate::http::versioning`), and the 400 it answers for an
/// unsupported or mismatched version. Added to every path here rather than repeated on
/// each handler, as the middleware is not part of any handler.
struct ApiVersionHeader;

impl Modify for ApiVersionHeader {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let header = ParameterBuilder::new()
            .name("API-Version")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "The API version the client expects. Optional; anything but the \
                 path's version answers 400 naming the supported versions.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([versioning::CURRENT])),
            ))
            .build();
        for item in openapi.paths.paths.values_mut() {
            item.parameters
                .get_or_insert_with(Vec::new)
                .push(RefOr::T(header.clone()));
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .entry("400".to_string())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name("BadRequest")));
            }
        }
    }
}

/// The document, serialised once: it is the same for the life of the process.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serialises")
});

/// Registers `GET /api/v1/openapi.json` and the docs page. Must come before the
/// `/api/v1` scope, which would otherwise answer 404 for the document.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(OPENAPI_PATH, web::get().to(openapi_json))
        // Swagger UI's files use relative URLs, so the page must be `/docs/`.
        .route("/docs", web::get().to(docs_redirect))
        .service(
            web::scope("/docs")
                .wrap(DefaultHeaders::new().add((
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(DOCS_CSP),
                )))
                .service(
                    SwaggerUi::new("/{_:.*}").config(
                        Config::new([OPENAPI_PATH])
                            // The default validator badge loads an image from
                            // validator.swagger.io: off, the page stays same-origin.
                            .validator_url("none")
                            .try_it_out_enabled(true)
                            .persist_authorization(false),
                    ),
                ),
        );
}

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of `/api/v1`",
            body = Object, content_type = "application/json"),
    )
)]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}

/// Opens the realtime websocket (quizzes, rooms, live events).
///
/// A websocket handshake (`Connection: Upgrade`, `Upgrade: websocket`), authorised by a
/// one-time ticket from `POST /api/v1/ws/ticket` that is checked before the upgrade. The
/// client must offer a subprotocol: `questpath.v1` (JSON text frames) or
/// `questpath.v1.msgpack` (MessagePack binary frames).
// The handler is `crate::http::websocket::upgrade`; this function only carries its
// documentation, so that the document lists every v1 route.
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    tag = "realtime",
    operation_id = "websocket",
    security(("ticket" = [])),
    params(
        ("Sec-WebSocket-Protocol" = String, Header,
            description = "Offered subprotocols: `questpath.v1`, `questpath.v1.msgpack`"),
    ),
    responses(
        (status = 101, description = "Switched to the websocket protocol",
            headers(("Sec-WebSocket-Protocol" = String, description = "The chosen subprotocol"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        ServiceErrors,
    )
)]
pub async fn websocket() {}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

// ---- shared error sets: the errors most operations answer, named once. Each maps its
// statuses to the reusable responses below (references into `components`), so the
// document is the same as with the statuses listed on every handler. ----

/// Declares a set of error responses, usable in `responses(...)` of `#[utoipa::path]`:
/// the statuses listed, plus those of the sets it includes.
macro_rules! error_set {
    (
        $(#[$doc:meta])*
        $name:ident $(: $($includes:ty),+)? { $($status:literal => $response:ty),+ $(,)? }
    ) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                #[allow(unused_mut)]
                let mut responses = BTreeMap::from([$((
                    $status.to_string(),
                    RefOr::Ref(Ref::from_response_name(<$response as ToResponse>::response().0)),
                )),+]);
                $($(responses.extend(<$includes as IntoResponses>::responses());)+)?
                responses
            }
        }
    };
}

error_set! {
    /// What any operation may answer: a rate limit (429), an unexpected error (500), a
    /// backend out of reach (503).
    ServiceErrors {
        "429" => TooManyRequests,
        "500" => Internal,
        "503" => Unavailable,
    }
}

error_set! {
    /// An operation that needs an access token: 401 without a valid one, and
    /// [`ServiceErrors`].
    BearerErrors: ServiceErrors {
        "401" => Unauthorized,
    }
}

error_set! {
    /// An operation that reads a request body: malformed (400), too large (413), of
    /// another media type (415), or invalid (422).
    BodyErrors {
        "400" => BadRequest,
        "413" => PayloadTooLarge,
        "415" => UnsupportedMediaType,
        "422" => Unprocessable,
    }
}

// ---- reusable error responses: every one is a `ProblemDetails` body. The types exist
// only to describe responses in the document; handlers answer with `ApiError`. ----

/// The request is malformed: the body is not JSON, a value is of the wrong kind, or the
/// `API-Version` header names another version (`malformed_json`, `invalid_topic_index`,
/// `unsupported_api_version`, `api_version_mismatch`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct BadRequest(pub ProblemDetails);

/// Not signed in, or the access token (or refresh cookie) is missing, invalid or
/// expired (`unauthenticated`, `invalid_token`, `token_expired`, ...).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers((
        "WWW-Authenticate" = String,
        description = "`Bearer` on routes that need an access token"
    ))
)]
pub struct Unauthorized(pub ProblemDetails);

/// Signed in, but not allowed (`email_not_verified`), or not proven present for
/// something that cannot be undone (`password_required`, `invalid_password`,
/// `fresh_sign_in_required`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Forbidden(pub ProblemDetails);

/// Nothing with this id belongs to the signed-in user (`not_found`); malformed ids
/// answer the same.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotFound(pub ProblemDetails);

/// The request conflicts with the current state (`email_taken`, `level_locked`,
/// `quiz_limit_reached`, `conflict`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Conflict(pub ProblemDetails);

/// The body is larger than the route accepts (`payload_too_large`; JSON bodies: 64 KiB,
/// saved quizzes and their imports: 1 MiB).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct PayloadTooLarge(pub ProblemDetails);

/// The body is not `application/json` (or, for a quiz import, `text/csv`)
/// (`unsupported_media_type`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct UnsupportedMediaType(pub ProblemDetails);

/// A field or parameter is missing or invalid (`validation_failed`); `errors` names
/// the fields.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unprocessable(pub ProblemDetails);

/// A rate limit or a sign-in lockout holds (`rate_limited`, `too_many_attempts`); retry
/// after `Retry-After` seconds.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(
        ("Retry-After" = u64, description = "Seconds to wait before retrying"),
        ("RateLimit-Limit" = u64, description = "Requests allowed in the window"),
        ("RateLimit-Remaining" = u64, description = "Requests left in the window"),
        ("RateLimit-Reset" = u64, description = "Seconds until the window resets"),
    )
)]
pub struct TooManyRequests(pub ProblemDetails);

/// An unexpected server error (`internal`); the cause is logged, not shown.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Internal(pub ProblemDetails);

/// The feature is not configured on this server (`google_sign_in_disabled`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotImplemented(pub ProblemDetails);

/// A backend (database, cache, Google's keys) is unreachable (`unavailable`); retry
/// after `Retry-After` seconds.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
)]
pub struct Unavailable(pub ProblemDetails);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_openapi_3_1_with_the_security_schemes() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        assert_eq!(
            doc["components"]["securitySchemes"][BEARER]["scheme"],
            "bearer"
        );
        assert_eq!(doc["components"]["securitySchemes"][TICKET]["in"], "query");
    }
}
