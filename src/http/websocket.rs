//! `GET /api/v1/ws?ticket=...`: the ticket is checked before the upgrade (401 over
//! plain HTTP otherwise), the subprotocol picks the encoding, and the 101 carries the
//! socket's task (`realtime::connection`), which the server's upgrade handler
//! (`http::server`) starts on the raw connection.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::http::error::ApiError;
use crate::realtime::codec::Encoding;
use crate::realtime::connection;
use crate::realtime::handover::Accepted;
use crate::realtime::protocol::{SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK};
use crate::realtime::room_link::Player;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws", web::get().to(upgrade));
}

#[derive(Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

fn requested_encoding(req: &HttpRequest) -> Option<Encoding> {
    let offered = req
        .headers()
        .get_all("sec-websocket-protocol")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    // Prefer the client's first supported choice.
    offered.iter().find_map(|p| match *p {
        SUBPROTOCOL_JSON => Some(Encoding::Json),
        SUBPROTOCOL_MSGPACK => Some(Encoding::MessagePack),
        _ => None,
    })
}

async fn upgrade(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TicketQuery>,
) -> Result<HttpResponse, ApiError> {
    let ticket = query.ticket.as_deref().unwrap_or_default();
    // A learner's ticket, else a guest's (who may only play the room they were let in).
    let player = match state.auth.redeem_ticket(ticket).await? {
        Some(user_id) => Player::User(user_id),
        None => match state.realtime.guests.redeem(ticket).await {
            Ok(Some(pass)) => Player::Guest(pass),
            Ok(None) => {
                return Err(ApiError::unauthorized(
                    "invalid_ticket",
                    "A valid, unused websocket ticket is required",
                ));
            }
            Err(e) => return Err(ApiError::unavailable(e)),
        },
    };
    let encoding = requested_encoding(&req).ok_or_else(|| {
        ApiError::bad_request(
            "subprotocol_required",
            format!("Request the subprotocol {SUBPROTOCOL_JSON} or {SUBPROTOCOL_MSGPACK}"),
        )
    })?;
    let protocol = match encoding {
        Encoding::Json => SUBPROTOCOL_JSON,
        Encoding::MessagePack => SUBPROTOCOL_MSGPACK,
    };
    let mut handshake = actix_http::ws::handshake(req.head())
        .map_err(|e| ApiError::bad_request("websocket_handshake", e.to_string()))?;
    handshake.insert_header((actix_web::http::header::SEC_WEBSOCKET_PROTOCOL, protocol));
    let metrics = state.metrics.clone();
    let realtime = state.realtime.clone();
    let settings = realtime.settings.clone();
    let accepted = Accepted::new(settings.max_frame, move |ws| {
        Box::pin(connection::run(
            metrics, realtime, settings, player, encoding, ws,
        ))
    });
    let mut response = HttpResponse::from(handshake.finish().map_into_boxed_body());
    response.extensions_mut().insert(accepted);
    Ok(response)
}
