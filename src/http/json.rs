//! `Json<T>`: a JSON body extractor whose errors name the field that is wrong, also for
//! type errors deep inside the body (`levels[2].xp_reward`), which serde's own messages
//! do not. Everything else (content type, size limit, malformed JSON) answers like
//! actix's extractor, through `ApiError`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

/// Largest JSON body accepted by default.
pub const LIMIT: usize = 64 * 1024;

/// A deserialised JSON body of at most `MAX` bytes (64 KiB unless a route says more).
pub struct Json<T, const MAX: usize = LIMIT>(pub T);

impl<T, const MAX: usize> std::ops::Deref for Json<T, MAX> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T, const MAX: usize> Json<T, MAX> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Whether the request says its body is JSON (`application/json` or `*/*+json`).
pub fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
}

/// Reads the whole body, refusing one over `limit` bytes with 413 (before reading, when
/// `Content-Length` says so).
pub async fn read_body(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Request body is too large",
        )
    };
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(
                "malformed_body",
                format!("Request body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Deserialises a JSON body: 400 when it is not JSON, 422 naming the field (its path,
/// `levels[2].xp_reward`) when a value does not fit.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize::<_, T>(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad_request(
                "malformed_json",
                format!("Request body is not valid JSON: {inner}"),
            );
        }
        let message = inner.to_string();
        // A missing field is reported at its parent; serde names it.
        let field = missing_field(&message).map_or(path.clone(), |f| {
            if path == "." {
                f
            } else {
                format!("{path}.{f}")
            }
        });
        let mut problem = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message.clone(),
        );
        problem.errors.push(FieldError { field, message });
        problem
    })
}

impl<T: DeserializeOwned + 'static, const MAX: usize> FromRequest for Json<T, MAX> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            if !is_json(&req) {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Content-Type must be application/json",
                ));
            }
            let body = read_body(&req, payload, MAX).await?;
            from_slice(&body).map(Json)
        })
    }
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_are_read_from_the_message() {
        assert_eq!(
            missing_field("missing field `email` at line 1 column 2").as_deref(),
            Some("email")
        );
        assert_eq!(missing_field("invalid type: integer `42`"), None);
    }
}
