//! `GET /api/v1/ws?ticket=...`: the ticket is checked before the upgrade (401 over
//! plain HTTP otherwise), then one task per socket reads frames (size cap, rate limit,
//! heartbeat) and writes what the session sends through a bounded queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::RealtimeSettings;
use super::outgoing::{self, Outgoing};
use super::protocol::{
    ClientFrame, ClientMessage, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, ServerMessage, close, codes,
};
use super::registry::GetOrStart;
use super::session::{Connect, Disconnect, Outbound, Request};
use crate::http::error::ApiError;
use crate::metrics::{Metrics, client_message_type, disconnect, server_message_type};
use crate::rooms::link::{Player, RoomLink, is_room_message};
use crate::state::{AppState, Realtime};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws", web::get().to(upgrade));
}

#[derive(Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

/// Wire encoding chosen by subprotocol.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Json,
    MessagePack,
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
    body: web::Payload,
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
    let (response, session, stream) = actix_ws::handle_with_protocols(&req, body, &[protocol])
        .map_err(|e| ApiError::bad_request("websocket_handshake", e.to_string()))?;
    let realtime = state.realtime.clone();
    let settings = realtime.settings.clone();
    let stream = stream.max_frame_size(settings.max_frame);
    actix_web::rt::spawn(run(
        state.metrics.clone(),
        realtime.clone(),
        settings,
        player,
        encoding,
        session,
        stream,
    ));
    Ok(response)
}

/// A token bucket: `rate` per second, `burst` at once.
struct Bucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn encode(encoding: Encoding, outgoing: &Outgoing) -> Option<Message> {
    match (encoding, outgoing) {
        (Encoding::Json, Outgoing::One(message)) => {
            outgoing::json(message).map(|t| Message::Text(t.into()))
        }
        (Encoding::MessagePack, Outgoing::One(message)) => {
            outgoing::msgpack(message).map(|b| Message::Binary(b.into()))
        }
        (Encoding::Json, Outgoing::Shared(shared)) => shared.json().map(Message::Text),
        (Encoding::MessagePack, Outgoing::Shared(shared)) => shared.msgpack().map(Message::Binary),
    }
}

fn parse(encoding: Encoding, message: &Message) -> Result<ClientFrame, (&'static str, String)> {
    let value: serde_json::Value = match (encoding, message) {
        (Encoding::Json, Message::Text(text)) => {
            serde_json::from_str(text).map_err(|e| (codes::MALFORMED, format!("not JSON: {e}")))?
        }
        (Encoding::MessagePack, Message::Binary(bytes)) => {
            let mut deserializer = rmp_serde::Deserializer::new(&bytes[..]).with_human_readable();
            serde::Deserialize::deserialize(&mut deserializer)
                .map_err(|e| (codes::MALFORMED, format!("not MessagePack: {e}")))?
        }
        _ => {
            return Err((
                codes::MALFORMED,
                "wrong frame kind for the negotiated subprotocol".into(),
            ));
        }
    };
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .map(str::to_string);
    serde_json::from_value::<ClientFrame>(value).map_err(|e| match kind {
        Some(kind) if !KNOWN_TYPES.contains(&kind.as_str()) => (
            codes::UNKNOWN_TYPE,
            format!("unknown message type {kind:?}"),
        ),
        Some(_) => (codes::MALFORMED, e.to_string()),
        None => (codes::MALFORMED, "a message needs a \"type\"".into()),
    })
}

/// The socket's round trip, from the server's own pings: each carries a sequence
/// number, and the pong that echoes the latest one gives a sample (smoothed).
#[derive(Default)]
struct RoundTrip {
    sequence: u64,
    sent: Option<(u64, Instant)>,
    smoothed: Option<Duration>,
}

impl RoundTrip {
    fn next(&mut self) -> [u8; 8] {
        self.sequence += 1;
        self.sent = Some((self.sequence, Instant::now()));
        self.sequence.to_be_bytes()
    }

    fn answered(&mut self, payload: &[u8]) {
        let Some((sequence, at)) = self.sent else {
            return;
        };
        if payload != sequence.to_be_bytes() {
            return;
        }
        self.sent = None;
        let sample = at.elapsed();
        self.smoothed = Some(match self.smoothed {
            Some(old) => (old * 3 + sample) / 4,
            None => sample,
        });
    }

    fn round_trip(&self) -> Option<Duration> {
        self.smoothed
    }
}

const KNOWN_TYPES: &[&str] = &[
    "ping",
    "quiz.start",
    "quiz.answer",
    "quiz.abandon",
    "session.state",
    "leaderboard.subscribe",
    "leaderboard.unsubscribe",
    "room.join",
    "room.leave",
    "room.answer",
    "room.state",
    "room.start",
    "room.next",
    "room.close_question",
    "room.skip",
    "room.kick",
    "room.pause",
    "room.resume",
    "room.end",
];

fn reply_id(message: &Message) -> Option<String> {
    let Message::Text(text) = message else {
        return None;
    };
    serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("id")?
        .as_str()
        .map(str::to_string)
}

async fn run(
    metrics: Arc<Metrics>,
    realtime: Arc<Realtime>,
    settings: RealtimeSettings,
    player: Player,
    encoding: Encoding,
    mut ws: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
) {
    let draining = realtime.draining.clone();
    let user_id = player.id();
    let connection_id = Uuid::now_v7();
    let (sender, mut outgoing) = mpsc::channel::<Outgoing>(settings.outbound_queue);
    let kill = CancellationToken::new();
    let close_code = Arc::new(AtomicU16::new(0));
    let outbound = Outbound {
        sender: sender.clone(),
        kill: kill.clone(),
        close_code: close_code.clone(),
    };
    // Learners have a session (quizzes, pushes); guests only play rooms.
    let session = match &player {
        Player::User(user_id) => match realtime
            .registry
            .send(GetOrStart { user_id: *user_id })
            .await
        {
            Ok(session) => Some(session),
            Err(_) => {
                metrics.ws_refused(disconnect::SESSION_ERROR);
                let _ = ws.close(Some(CloseReason::from(CloseCode::Error))).await;
                return;
            }
        },
        Player::Guest(_) => None,
    };
    let mut room = RoomLink::new(
        realtime.rooms.clone(),
        player,
        connection_id,
        outbound.clone(),
    );
    let hello = ServerMessage::Hello {
        user_id,
        connection_id,
        server_time: chrono::Utc::now().to_rfc3339(),
        heartbeat_secs: settings.heartbeat.as_secs(),
        late_grace_ms: questpath_actors::rules::quiz::LATE_GRACE.as_millis() as u64,
    };
    if let Some(frame) = encode(encoding, &Outgoing::One(hello.clone())) {
        if send(&mut ws, frame).await.is_err() {
            metrics.ws_refused(disconnect::CLOSED);
            return;
        }
        metrics.ws_sent(server_message_type(&hello), 0);
    }
    if let Some(session) = &session
        && session
            .send(Connect {
                connection_id,
                outbound,
            })
            .await
            .is_err()
    {
        metrics.ws_refused(disconnect::SESSION_ERROR);
        let _ = ws.close(Some(CloseReason::from(CloseCode::Error))).await;
        return;
    }
    metrics.ws_connected();
    // A player with a seat in a live room is put back in it.
    room.resume().await;
    tracing::debug!(%user_id, %connection_id, "websocket connected");

    let mut bucket = Bucket {
        tokens: settings.rate_burst,
        last: Instant::now(),
        rate: settings.rate_per_sec,
        burst: settings.rate_burst,
    };
    let mut strikes = 0u32;
    let mut broken = false;
    let mut client_closed = false;
    let mut last_seen = Instant::now();
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.tick().await;
    // Round trips measured with our own pings (never a value the client reports).
    let mut pinger = RoundTrip::default();
    let reason: Option<CloseReason> = loop {
        tokio::select! {
            _ = draining.cancelled() => {
                break Some(CloseReason { code: CloseCode::Restart, description: Some("server restarting: reconnect".into()) });
            }
            _ = kill.cancelled() => {
                let code = close_code.load(Ordering::SeqCst);
                break Some(CloseReason { code: CloseCode::Other(code), description: Some("too slow to read".into()) });
            }
            _ = heartbeat.tick() => {
                if last_seen.elapsed() > settings.client_timeout {
                    break Some(CloseReason { code: CloseCode::Other(close::TIMEOUT), description: Some("no heartbeat".into()) });
                }
                if ws.ping(&pinger.next()).await.is_err() { break None; }
            }
            message = outgoing.recv() => {
                let Some(message) = message else { break None };
                let kind = server_message_type(message.message());
                room.written(message.message());
                let Some(frame) = encode(encoding, &message) else { continue };
                // A client that does not read blocks this write; the session then sees
                // our queue fill up and cancels `kill`.
                tokio::select! {
                    result = send(&mut ws, frame) => {
                        if result.is_err() { break None }
                        metrics.ws_sent(kind, outgoing.len());
                    }
                    _ = kill.cancelled() => {
                        let code = close_code.load(Ordering::SeqCst);
                        break Some(CloseReason { code: CloseCode::Other(code), description: Some("too slow to read".into()) });
                    }
                }
            }
            incoming = stream.next() => {
                let Some(incoming) = incoming else { break None };
                last_seen = Instant::now();
                let message = match incoming {
                    Ok(message) => message,
                    Err(actix_ws::ProtocolError::Overflow) => {
                        let error = ServerMessage::Error { re: None, code: codes::FRAME_TOO_LARGE.into(), message: format!("frames are limited to {} bytes", settings.max_frame) };
                        if let Some(frame) = encode(encoding, &Outgoing::One(error)) { let _ = send(&mut ws, frame).await; }
                        break Some(CloseReason { code: CloseCode::Size, description: Some("frame too large".into()) });
                    }
                    Err(actix_ws::ProtocolError::Io(_)) => {
                        // The connection broke (no close frame): not the client's protocol.
                        broken = true;
                        break Some(CloseReason::from(CloseCode::Protocol));
                    }
                    Err(_) => break Some(CloseReason::from(CloseCode::Protocol)),
                };
                match message {
                    Message::Ping(bytes) if ws.pong(&bytes).await.is_err() => break None,
                    Message::Ping(_) => {}
                    Message::Pong(bytes) => pinger.answered(&bytes),
                    // Answer with the client's own code (RFC 6455 5.5.1), so a client
                    // that closed with 1000 sees 1000 come back, not 1005.
                    Message::Close(theirs) => {
                        client_closed = true;
                        break theirs.map(|r| CloseReason { code: r.code, description: None });
                    }
                    Message::Text(_) | Message::Binary(_) => {
                        if !bucket.take() {
                            metrics.ws_rate_limited();
                            strikes += 1;
                            if strikes >= settings.flood_strikes {
                                break Some(CloseReason { code: CloseCode::Other(close::FLOOD), description: Some("too many messages".into()) });
                            }
                            let error = ServerMessage::Error { re: reply_id(&message), code: codes::RATE_LIMITED.into(), message: "slow down".into() };
                            if sender.try_send(error.into()).is_err() { kill.cancel(); }
                            continue;
                        }
                        match parse(encoding, &message) {
                            Ok(frame) => {
                                metrics.ws_received(client_message_type(&frame.message));
                                let received_at = Instant::now();
                                if is_room_message(&frame.message) {
                                    let (refused, joined) = room.handle(frame.message, frame.id, received_at, pinger.round_trip()).await;
                                    if let Some(error) = refused && sender.try_send(error.into()).is_err() { kill.cancel(); }
                                    if joined && ws.ping(&pinger.next()).await.is_err() { break None; }
                                } else if let Some(session) = &session {
                                    session.do_send(Request { connection_id, frame, received_at })
                                } else if frame.message == ClientMessage::Ping {
                                    if sender.try_send(ServerMessage::Pong { re: frame.id }.into()).is_err() { kill.cancel(); }
                                } else {
                                    let error = ServerMessage::Error { re: frame.id, code: codes::GUEST_ONLY_ROOMS.into(), message: "guests can only play the room they joined".into() };
                                    if sender.try_send(error.into()).is_err() { kill.cancel(); }
                                }
                            }
                            Err((code, text)) => {
                                metrics.ws_received("invalid");
                                let error = ServerMessage::Error { re: reply_id(&message), code: code.into(), message: text };
                                if sender.try_send(error.into()).is_err() { kill.cancel(); }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    };
    room.close().await;
    if let Some(session) = &session {
        session.do_send(Disconnect { connection_id });
    }
    metrics.ws_disconnected(if broken {
        disconnect::ABNORMAL
    } else if client_closed {
        disconnect::CLOSED
    } else {
        disconnect_reason(reason.as_ref())
    });
    tracing::debug!(%user_id, %connection_id, ?reason, "websocket closed");
    let _ = ws.close(reason).await;
}

/// The `reason` label of a close: the close code the server sent, or `closed` when the
/// client left (or the socket broke) first.
fn disconnect_reason(reason: Option<&CloseReason>) -> &'static str {
    let Some(reason) = reason else {
        return disconnect::CLOSED;
    };
    match reason.code {
        CloseCode::Restart => disconnect::SERVER_RESTART,
        CloseCode::Size => disconnect::FRAME_TOO_LARGE,
        CloseCode::Protocol => disconnect::PROTOCOL_ERROR,
        CloseCode::Other(close::SLOW_CONSUMER) => disconnect::SLOW_CONSUMER,
        CloseCode::Other(close::FLOOD) => disconnect::RATE_LIMITED,
        CloseCode::Other(close::TIMEOUT) => disconnect::TIMEOUT,
        _ => disconnect::CLOSED,
    }
}

async fn send(ws: &mut actix_ws::Session, frame: Message) -> Result<(), actix_ws::Closed> {
    match frame {
        Message::Text(text) => ws.text(text).await,
        Message::Binary(bytes) => ws.binary(bytes).await,
        _ => Ok(()),
    }
}
