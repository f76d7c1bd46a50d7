//! `GET /api/v1/rooms/{code}/qr.svg`: the QR code a projector shows so phones join
//! without typing. It encodes `<origin>/join/<CODE>` (the app's join link) as SVG,
//! rendered here so the app needs no QR library. It does not look the room up: a code
//! is public, and the answer must not tell whether one is live.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use qrcode::QrCode;
use qrcode::render::svg;
use questpath_actors::rules::room::normalize_code;

use crate::http::error::ApiError;
use crate::http::openapi::{BadRequest, Internal, NotFound, TooManyRequests};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/rooms/{code}/qr.svg", web::get().to(qr));
}

/// A QR code (SVG) of the room's join link, `<origin>/join/<CODE>`, where the origin is
/// the one the request was made to (the projector's view of the server).
#[utoipa::path(
    get,
    path = "/api/v1/rooms/{code}/qr.svg",
    tag = "rooms",
    params(("code" = String, Path, description = "The room's join code, as typed")),
    responses(
        (status = 200, description = "The join link as a QR code", content_type = "image/svg+xml", body = String),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 500, response = Internal),
    )
)]
pub(crate) async fn qr(
    _state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code =
        normalize_code(&path).ok_or_else(|| ApiError::not_found("No room with this code"))?;
    let link = join_link(&req, &code);
    let svg = render(&link)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"))
        // The picture of a code never changes.
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(svg))
}

/// The app's join link for `code` on the origin the request reached.
pub fn join_link(req: &HttpRequest, code: &str) -> String {
    let info = req.connection_info();
    format!("{}://{}/join/{code}", info.scheme(), info.host())
}

fn render(link: &str) -> Result<String, ApiError> {
    let code = QrCode::new(link.as_bytes()).map_err(|e| {
        ApiError::bad_request(
            "invalid_host",
            format!("the join link is too long for a QR code: {e}"),
        )
    })?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_link_renders_as_an_svg_qr_code() {
        let svg = render("http://127.0.0.1:8080/join/K7XQ2M").unwrap();
        assert!(svg.starts_with("<?xml"), "{svg:.60}");
        assert!(svg.contains("<svg") && svg.contains("#000000"));
    }
}
