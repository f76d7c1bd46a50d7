//! API errors: RFC 9457 `application/problem+json` with a stable machine-readable
//! `code`. Legacy routes get the old `{"detail": ...}` shape from the same errors,
//! through [`legacy_detail`], so every error is defined once.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Content type of v1 errors.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// The field as the client sent it (`email`, `limit`, ...).
    #[schema(example = "email")]
    pub field: String,
    /// What is wrong with it, for people.
    #[schema(example = "email must look like name@example.org")]
    pub message: String,
}

/// An error answered to a client. `message` is shown to people; `code` is for programs.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub errors: Vec<FieldError>,
    /// Seconds, for `Retry-After` on 429 and 503.
    pub retry_after: Option<u64>,
    /// Adds `WWW-Authenticate: Bearer` (401 on bearer-protected routes).
    pub bearer_challenge: bool,
}

// Both what `ApiError::error_response` serialises and the `ProblemDetails` schema of the
// OpenAPI document, so the document cannot drift from the wire format. (Its doc comment
// is the schema's description, shown to API users.)
/// An error: RFC 9457 problem details with a stable machine-readable `code`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "https://questpath.dev/problems/validation-failed",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "email must look like name@example.org",
    "code": "validation_failed",
    "errors": [{"field": "email", "message": "email must look like name@example.org"}]
}))]
pub struct ProblemDetails {
    /// A URI naming the kind of problem: `https://questpath.dev/problems/<code with dashes>`.
    #[serde(rename = "type")]
    #[schema(format = "uri")]
    pub kind: String,
    /// The HTTP reason phrase of `status`.
    pub title: String,
    /// The HTTP status code, repeated for clients that lose it.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
    /// Stable machine-readable code (`validation_failed`, `not_found`, `invalid_token`, ...).
    pub code: String,
    /// The invalid fields; present only on validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            errors: Vec::new(),
            retry_after: None,
            bearer_challenge: false,
        }
    }

    /// 422 naming the invalid field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message.clone(),
        );
        error.errors.push(FieldError {
            field: field.to_string(),
            message,
        });
        error
    }

    /// 422 naming every invalid field (`(field, message)`); the detail is the first
    /// message, and says how many other problems there are.
    pub fn invalid_fields(fields: Vec<(String, String)>) -> Self {
        let first = fields.first().map(|(_, message)| message.as_str());
        // Fields that share one message (two sources of one room) are one problem.
        let others = fields
            .iter()
            .filter(|(_, m)| Some(m.as_str()) != first)
            .count();
        let detail = match (first, others) {
            (None, _) => "The request is invalid".to_string(),
            (Some(first), 0) => first.to_string(),
            (Some(first), 1) => format!("{first} (and 1 more problem)"),
            (Some(first), n) => format!("{first} (and {n} more problems)"),
        };
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        );
        error.errors = fields
            .into_iter()
            .map(|(field, message)| FieldError { field, message })
            .collect();
        error
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 with a bearer challenge.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, code, message);
        error.bearer_challenge = true;
        error
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_many(code: &'static str, message: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message);
        error.retry_after = Some(retry_after_secs.max(1));
        error
    }

    /// 503: a backend is down; the cause goes to the log, not to the client.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "backend unavailable");
        ApiError::unavailable_quietly()
    }

    /// The 503 of [`ApiError::unavailable`] without its log line, for a caller that logs
    /// an outage itself (once, not per request).
    pub fn unavailable_quietly() -> Self {
        ApiError::try_later(
            "unavailable",
            "The service is temporarily unavailable. Please try again in a moment.",
        )
    }

    /// 503 with `Retry-After: 5`: try again shortly (behind a balancer, perhaps on
    /// another instance).
    pub fn try_later(code: &'static str, message: impl Into<String>) -> Self {
        let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message);
        error.retry_after = Some(5);
        error
    }

    /// 500 with an opaque body; the cause goes to the log.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
    }
}

impl ApiError {
    /// The error response, also setting `cookie` (e.g. to clear a refused token).
    pub fn error_response_with_cookie(
        &self,
        cookie: actix_web::cookie::Cookie<'static>,
    ) -> HttpResponse {
        let mut response = self.error_response();
        if let Err(e) = response.add_cookie(&cookie) {
            tracing::error!(error = %e, "cannot set cookie on error response");
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let problem = ProblemDetails {
            kind: format!(
                "https://questpath.dev/problems/{}",
                self.code.replace('_', "-")
            ),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.message.clone(),
            code: self.code.to_string(),
            errors: self.errors.clone(),
        };
        let mut response = HttpResponse::build(self.status);
        response.content_type(PROBLEM_JSON);
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.bearer_challenge {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(problem)
    }
}

impl From<crate::ports::StoreError> for ApiError {
    fn from(e: crate::ports::StoreError) -> Self {
        match e {
            crate::ports::StoreError::Unavailable(_) => ApiError::unavailable(e),
            crate::ports::StoreError::Conflict { .. } => {
                ApiError::conflict("conflict", e.to_string())
            }
            crate::ports::StoreError::Internal(_) => ApiError::internal(e),
        }
    }
}

impl From<crate::ports::PortError> for ApiError {
    fn from(e: crate::ports::PortError) -> Self {
        ApiError::unavailable(e)
    }
}

/// Middleware for the legacy routes: rewrites problem+json errors into the old
/// backend's `{"detail": "<message>"}`, keeping status and headers.
pub async fn legacy_detail(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody, BoxBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !is_problem {
        return Ok(res.map_body(|_, body| EitherBody::left(body.boxed())));
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
        .unwrap_or_else(|| "Error".to_string());
    let body = serde_json::json!({ "detail": detail }).to_string();
    head.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    head.headers_mut().remove(header::CONTENT_LENGTH);
    let res = head.set_body(BoxBody::new(body));
    Ok(ServiceResponse::new(req, res).map_body(|_, body| EitherBody::right(body)))
}

/// Turns extractor failures (malformed JSON, wrong content type, bad query or path)
/// into problem+json errors naming what was wrong.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let error = match &err {
        E::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json",
        ),
        E::OverflowKnownLength { .. } | E::Overflow { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Request body is too large",
        ),
        E::Deserialize(e) if e.is_data() => {
            let message = e.to_string();
            let field = missing_or_invalid_field(&message);
            let mut error = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message.clone(),
            );
            if let Some(field) = field {
                error.errors.push(FieldError { field, message });
            }
            error
        }
        _ => ApiError::bad_request(
            "malformed_json",
            format!("Request body is not valid JSON: {err}"),
        ),
    };
    error.into()
}

/// Same as [`json_error`] for form bodies.
pub fn form_error(
    err: actix_web::error::UrlencodedError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::UrlencodedError as E;
    let error = match &err {
        E::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/x-www-form-urlencoded",
        ),
        E::Overflow { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Request body is too large",
        ),
        _ => {
            let message = err.to_string();
            let mut error = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message.clone(),
            );
            if let Some(field) = missing_or_invalid_field(&message) {
                error.errors.push(FieldError { field, message });
            }
            error
        }
    };
    error.into()
}

/// Turns a query string the handler's type cannot read into a 422 naming the field
/// (when serde names it), instead of actix's default `text/plain` 400.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    let message = format!("Invalid query string: {err}");
    let mut error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        message.clone(),
    );
    if let Some(field) = missing_or_invalid_field(&message) {
        error.errors.push(FieldError { field, message });
    }
    error.into()
}

/// A path segment the handler's type cannot read (e.g. a topic index that is not a
/// number) names nothing: a problem+json 404, like an unknown id, instead of actix's
/// default `text/plain` 404.
pub fn path_error(
    _err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::not_found("Not found").into()
}

/// serde's messages name a missing or unknown field in backquotes: "missing field
/// `email`". (Type errors do not name the field, only the offending value.)
fn missing_or_invalid_field(message: &str) -> Option<String> {
    if !(message.starts_with("missing field")
        || message.starts_with("unknown field")
        || message.starts_with("duplicate field"))
    {
        return None;
    }
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

impl From<crate::auth::service::AuthError> for ApiError {
    fn from(e: crate::auth::service::AuthError) -> Self {
        use crate::auth::google::GoogleError;
        use crate::auth::service::AuthError as A;
        use crate::auth::tokens::TokenError;
        match e {
            A::Invalid { field, message } => ApiError::invalid_field(field, message),
            A::EmailTaken => ApiError::conflict("email_taken", "Email already registered"),
            A::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Invalid email or password",
            ),
            A::Locked { retry_after_secs } => ApiError::too_many(
                "too_many_attempts",
                format!(
                    "Too many failed sign-in attempts. Try again in {retry_after_secs} seconds."
                ),
                retry_after_secs,
            ),
            A::RefreshMissing => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_missing",
                "Refresh token missing",
            ),
            A::RefreshInvalid => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_invalid",
                "Invalid or expired refresh token",
            ),
            A::RefreshReused => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "Invalid or expired refresh token",
            ),
            A::GoogleDisabled => ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "google_sign_in_disabled",
                "Google sign-in is not configured on this server",
            ),
            A::Google(GoogleError::InvalidToken(_)) => {
                ApiError::unauthorized("invalid_google_token", "The Google ID token is not valid")
            }
            A::Google(GoogleError::EmailNotVerified) => ApiError::forbidden(
                "email_not_verified",
                "The Google account's email is not verified",
            ),
            A::Google(e @ GoogleError::KeysUnavailable(_)) => ApiError::unavailable(e),
            A::Token(TokenError::Expired) => {
                ApiError::unauthorized("token_expired", "Token has expired")
            }
            A::Token(TokenError::Invalid(_)) | A::UnknownUser => {
                ApiError::unauthorized("invalid_token", "Could not validate credentials")
            }
            A::PasswordRequired => ApiError::forbidden(
                "password_required",
                "Confirm with your current password (`password` in the body)",
            ),
            A::WrongPassword => {
                ApiError::forbidden("invalid_password", "The password is not this account's")
            }
            e @ A::FreshSignInRequired => ApiError::forbidden(
                "fresh_sign_in_required",
                format!("This account has no password: {e}. Sign in again, then retry."),
            ),
            A::MailTokenInvalid => ApiError::bad_request(
                "invalid_link",
                "This link is invalid, has expired or was used already. Ask for a new one.",
            ),
            A::AlreadyVerified => {
                ApiError::conflict("already_verified", "The email is verified already")
            }
            A::EmailUnverified => ApiError::conflict(
                "email_unverified",
                "An account with this email exists, but its email is not verified. Sign in with \
                 its password and verify the email, or reset the password, then sign in with Google.",
            ),
            A::Mail(crate::mail::service::EnqueueError::Store(e)) => e.into(),
            A::Mail(crate::mail::service::EnqueueError::Port(e)) => e.into(),
            A::Store(e) => e.into(),
            A::Cache(e) => e.into(),
            A::Hash(e) => ApiError::internal(e),
        }
    }
}

impl From<questpath_actors::account::AccountError> for ApiError {
    fn from(e: questpath_actors::account::AccountError) -> Self {
        use questpath_actors::account::AccountError as A;
        match e {
            A::Store(e) => e.into(),
            A::Port(e) => e.into(),
        }
    }
}

impl From<crate::goals::service::GoalError> for ApiError {
    fn from(e: crate::goals::service::GoalError) -> Self {
        use crate::goals::service::GoalError as G;
        match e {
            G::Invalid { field, message } => ApiError::invalid_field(field, message),
            G::NotFound(what) => {
                let mut name = what.to_string();
                if let Some(first) = name.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                ApiError::not_found(format!("{name} not found"))
            }
            G::TopicIndex => ApiError::bad_request("invalid_topic_index", "Invalid topic index"),
            G::LevelLocked => ApiError::conflict(
                "level_locked",
                "This level is locked: pass the previous level's quiz first",
            ),
            G::Store(e) => e.into(),
            G::Port(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_read_from_serde_messages() {
        assert_eq!(
            missing_or_invalid_field("missing field `email` at line 1").as_deref(),
            Some("email")
        );
        assert_eq!(missing_or_invalid_field("no field"), None);
        assert_eq!(
            missing_or_invalid_field("invalid type: integer `42`, expected a string"),
            None
        );
    }
}
