//! `GET /api/v1/ws?ticket=...`: the ticket is checked before the upgrade (401 over
//! plain HTTP otherwise), then one task per socket reads frames (size cap, rate limit,
//! heartbeat) and writes what the session sends through a bounded queue.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::RealtimeSettings;
use super::protocol::{
    ClientFrame, ClientMessage, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, ServerMessage, close, codes,
};
use super::registry::GetOrStart;
use super::session::{Connect, Disconnect, Request};
use super::{frames, outgoing};
use crate::http::error::ApiError;
use crate::metrics::{Metrics, client_message_type, disconnect, server_message_type};
use crate::realtime::room_link::{Player, RoomLink, is_room_message};
use crate::state::{AppState, Realtime};
use questpath_actors::events::Notice;
use questpath_actors::outbound::{Closing, Outbound, Outgoing};

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
    let (release, released) = oneshot::channel();
    let socket = req.conn_data::<AcceptedSocket>().copied();
    let response = response
        .map_body(|_, frames| ClosingBody {
            frames,
            frames_ended: false,
            released: Some(released),
            socket,
        })
        .map_into_boxed_body();
    actix_web::rt::spawn(run(
        state.metrics.clone(),
        realtime.clone(),
        settings,
        player,
        encoding,
        Ends {
            ws: session,
            stream,
            release,
        },
    ));
    Ok(response)
}

/// The accepted TCP socket of a connection, recorded by the server's `on_connect` so a
/// websocket can end its connection once the close handshake is over.
#[derive(Clone, Copy, Debug)]
pub struct AcceptedSocket {
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
}

impl AcceptedSocket {
    pub fn of(tcp: &actix_web::rt::net::TcpStream) -> Self {
        #[cfg(not(unix))]
        let _ = tcp;
        AcceptedSocket {
            #[cfg(unix)]
            fd: std::os::fd::AsRawFd::as_raw_fd(tcp),
        }
    }

    /// Shuts the socket's reading half: the HTTP/1 dispatcher reads end-of-stream, so it
    /// flushes what it has to write (our close frame), sends FIN and drops the socket.
    ///
    /// # Safety
    /// Only while the dispatcher that owns this socket is polling us (it closes the
    /// descriptor when it is dropped, and the number may then be reused).
    unsafe fn stop_reading(self) {
        #[cfg(unix)]
        {
            use std::os::fd::FromRawFd;
            // SAFETY: the caller guarantees the descriptor is open and is this
            // connection's; `ManuallyDrop` leaves closing it to its owner.
            let tcp =
                std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(self.fd) });
            if let Err(e) = tcp.shutdown(std::net::Shutdown::Read) {
                tracing::debug!(error = %e, "websocket socket not shut for reading");
            }
        }
    }
}

/// The websocket's response body: actix-ws's frames, then the end of the connection.
///
/// actix-http (3.13 and later) lingers after a response whose request body was not read
/// to its end, and a websocket's request body is the rest of the connection: after our
/// close frame it keeps the socket open until the client closes it or
/// `client_disconnect_timeout` (1 s) passes. Clients wait for the server to close first
/// (RFC 6455 7.1.1), so every close took 0.5-1 s. Instead, once the task reports the
/// handshake over, this body shuts the socket's reading half, which ends the linger at
/// once. A shorter `client_disconnect_timeout` is no cure: it also cuts the linger that
/// early answers to HTTP uploads need, and under the 500 ms tick of the clock its deadline
/// is taken from, the deadline is often already past, which actix-http's timer never
/// wakes for: the socket then stays open until the client gives up.
struct ClosingBody {
    frames: BoxBody,
    frames_ended: bool,
    /// Fires when the connection may end; dropped unsent (the task failed before its
    /// close), the body ends and actix-http lingers as usual.
    released: Option<oneshot::Receiver<()>>,
    socket: Option<AcceptedSocket>,
}

impl MessageBody for ClosingBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.frames.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if !this.frames_ended {
            match ready!(Pin::new(&mut this.frames).poll_next(cx)) {
                Some(frame) => return Poll::Ready(Some(frame)),
                None => this.frames_ended = true,
            }
        }
        // The frames end with our close frame; holding the body open keeps the client's
        // answer flowing to the task's message stream.
        if let Some(released) = this.released.as_mut() {
            let outcome = ready!(Pin::new(released).poll(cx));
            this.released = None;
            if outcome.is_ok()
                && let Some(socket) = this.socket.take()
            {
                // SAFETY: a response body is polled only by (or within a poll of) the
                // dispatcher serving the request, which owns the socket `on_connect`
                // recorded until it is dropped, and it cannot be dropped mid-poll.
                unsafe { socket.stop_reading() };
            }
        }
        Poll::Ready(None)
    }
}

/// How long a client gets to answer a close frame the server sent (RFC 6455 wants the
/// server to close TCP once the client's close frame is in); actix-http's own linger
/// after a response is as long.
const CLOSE_ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// The task's ends of a websocket: frames out, frames in, and the body's release.
struct Ends {
    ws: actix_ws::Session,
    stream: actix_ws::MessageStream,
    release: oneshot::Sender<()>,
}

/// Sends our close frame, waits (bounded) for the client's when the server closes first,
/// then releases the body, which ends the connection.
async fn finish_close(
    ws: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
    release: oneshot::Sender<()>,
    reason: Option<CloseReason>,
    client_closed: bool,
    client_timeout: Duration,
) {
    // A client that reads nothing can keep the frame queued; it gets as long as a silent
    // client does.
    let sent = matches!(
        tokio::time::timeout(client_timeout, ws.close(reason)).await,
        Ok(Ok(()))
    );
    if sent && !client_closed {
        let answer = async {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_ANSWER_TIMEOUT, answer).await;
    }
    let _ = release.send(());
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

/// A queued notice as a frame of the connection's encoding.
fn encode(encoding: Encoding, queued: Outgoing) -> Option<Message> {
    match encoding {
        Encoding::Json => outgoing::text(queued).map(Message::Text),
        Encoding::MessagePack => outgoing::binary(queued).map(Message::Binary),
    }
}

/// A frame the endpoint itself sends (the greeting, a refusal before any session).
fn encode_message(encoding: Encoding, message: &ServerMessage) -> Option<Message> {
    match encoding {
        Encoding::Json => outgoing::json(message).map(|t| Message::Text(t.into())),
        Encoding::MessagePack => outgoing::msgpack(message).map(|b| Message::Binary(b.into())),
    }
}

/// The close code of a connection the core closed.
fn closed_by_core(outbound: &Outbound) -> CloseReason {
    let code = match outbound.closing() {
        Some(Closing::SlowConsumer) | None => close::SLOW_CONSUMER,
    };
    CloseReason {
        code: CloseCode::Other(code),
        description: Some("too slow to read".into()),
    }
}

/// Nesting a MessagePack frame may have: serde_json's own limit for JSON frames. The
/// decoder's default (1024) let a 700-byte frame of nested arrays overflow a 2 MiB
/// worker stack in a debug build, which aborts the whole process.
const MSGPACK_MAX_DEPTH: usize = 128;

/// Reads one client frame as the socket loop does: a text frame as JSON, a binary one as
/// MessagePack. The error is the `error` frame's code and message. Public for the
/// coverage-guided fuzz targets in `fuzz/`, which see only the library's public items.
pub fn decode_client_frame(
    bytes: &[u8],
    binary: bool,
) -> Result<ClientFrame, (&'static str, String)> {
    if binary {
        parse(
            Encoding::MessagePack,
            &Message::Binary(bytes.to_vec().into()),
        )
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| (codes::MALFORMED, "a text frame must be UTF-8".to_string()))?;
        parse(Encoding::Json, &Message::Text(text.to_string().into()))
    }
}

fn parse(encoding: Encoding, message: &Message) -> Result<ClientFrame, (&'static str, String)> {
    let value: serde_json::Value = match (encoding, message) {
        (Encoding::Json, Message::Text(text)) => {
            serde_json::from_str(text).map_err(|e| (codes::MALFORMED, format!("not JSON: {e}")))?
        }
        (Encoding::MessagePack, Message::Binary(bytes)) => {
            let mut deserializer = rmp_serde::Deserializer::new(&bytes[..]).with_human_readable();
            deserializer.set_max_depth(MSGPACK_MAX_DEPTH);
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
    ends: Ends,
) {
    let Ends {
        mut ws,
        mut stream,
        release,
    } = ends;
    let draining = realtime.draining.clone();
    let user_id = player.id();
    let connection_id = Uuid::now_v7();
    let (sender, mut outgoing) = mpsc::channel::<Outgoing>(settings.outbound_queue);
    let kill = CancellationToken::new();
    let outbound = Outbound::new(sender, kill.clone());
    let own = outbound.clone();
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
                let reason = Some(CloseReason::from(CloseCode::Error));
                finish_close(ws, stream, release, reason, false, settings.client_timeout).await;
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
    if let Some(frame) = encode_message(encoding, &hello) {
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
        let reason = Some(CloseReason::from(CloseCode::Error));
        finish_close(ws, stream, release, reason, false, settings.client_timeout).await;
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
            _ = kill.cancelled() => break Some(closed_by_core(&own)),
            _ = heartbeat.tick() => {
                if last_seen.elapsed() > settings.client_timeout {
                    break Some(CloseReason { code: CloseCode::Other(close::TIMEOUT), description: Some("no heartbeat".into()) });
                }
                if ws.ping(&pinger.next()).await.is_err() { break None; }
            }
            message = outgoing.recv() => {
                let Some(message) = message else { break None };
                let kind = frames::kind(message.notice());
                room.written(message.notice());
                let Some(frame) = encode(encoding, message) else { continue };
                // A client that does not read blocks this write; the session then sees
                // our queue fill up and cancels `kill`.
                tokio::select! {
                    result = send(&mut ws, frame) => {
                        if result.is_err() { break None }
                        metrics.ws_sent(kind, outgoing.len());
                    }
                    _ = kill.cancelled() => break Some(closed_by_core(&own)),
                }
            }
            incoming = stream.next() => {
                let Some(incoming) = incoming else { break None };
                last_seen = Instant::now();
                let message = match incoming {
                    Ok(message) => message,
                    Err(actix_ws::ProtocolError::Overflow) => {
                        let error = ServerMessage::Error { re: None, code: codes::FRAME_TOO_LARGE.into(), message: format!("frames are limited to {} bytes", settings.max_frame) };
                        if let Some(frame) = encode_message(encoding, &error) { let _ = send(&mut ws, frame).await; }
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
                            own.deliver(Notice::refused(reply_id(&message), codes::RATE_LIMITED, "slow down"));
                            continue;
                        }
                        match parse(encoding, &message) {
                            Ok(frame) => {
                                metrics.ws_received(client_message_type(&frame.message));
                                let received_at = Instant::now();
                                if is_room_message(&frame.message) {
                                    let (refused, joined) = room.handle(frame.message, frame.id, received_at, pinger.round_trip()).await;
                                    if let Some(error) = refused { own.deliver(error); }
                                    if joined && ws.ping(&pinger.next()).await.is_err() { break None; }
                                } else if let Some(session) = &session {
                                    session.do_send(Request { connection_id, frame, received_at })
                                } else if frame.message == ClientMessage::Ping {
                                    own.deliver(Notice::Done { re: frame.id });
                                } else {
                                    own.deliver(Notice::refused(frame.id, codes::GUEST_ONLY_ROOMS, "guests can only play the room they joined"));
                                }
                            }
                            Err((code, text)) => {
                                metrics.ws_received("invalid");
                                own.deliver(Notice::refused(reply_id(&message), code, text));
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
    finish_close(
        ws,
        stream,
        release,
        reason,
        client_closed,
        settings.client_timeout,
    )
    .await;
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

#[cfg(test)]
mod properties {
    //! Property tests of the frame parser: whatever a client sends, `parse` answers
    //! with a frame or an error code, and never panics or overflows the stack.

    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::proptest_strategies::{hostile_string, json_value, nested_json_arrays, object_with};

    fn text(value: impl Into<String>) -> Message {
        Message::Text(value.into().into())
    }

    fn binary(bytes: Vec<u8>) -> Message {
        Message::Binary(bytes.into())
    }

    /// MessagePack as clients write it: maps with field names, ids as strings.
    fn msgpack<T: serde::Serialize>(value: &T) -> Vec<u8> {
        let mut buffer = Vec::new();
        let mut serializer = rmp_serde::Serializer::new(&mut buffer)
            .with_struct_map()
            .with_human_readable();
        value.serialize(&mut serializer).unwrap();
        buffer
    }

    fn uuid() -> impl Strategy<Value = Uuid> {
        any::<u128>().prop_map(Uuid::from_u128)
    }

    fn client_message() -> impl Strategy<Value = ClientMessage> {
        let s = hostile_string;
        prop_oneof![
            Just(ClientMessage::Ping),
            uuid().prop_map(|level_id| ClientMessage::QuizStart { level_id }),
            (any::<u32>(), s())
                .prop_map(|(position, option)| ClientMessage::QuizAnswer { position, option }),
            Just(ClientMessage::QuizAbandon),
            Just(ClientMessage::SessionState),
            s().prop_map(|board| ClientMessage::LeaderboardSubscribe { board }),
            s().prop_map(|board| ClientMessage::LeaderboardUnsubscribe { board }),
            (s(), prop::option::of(s()))
                .prop_map(|(code, name)| ClientMessage::RoomJoin { code, name }),
            Just(ClientMessage::RoomLeave),
            (any::<u32>(), s())
                .prop_map(|(question, option)| ClientMessage::RoomAnswer { question, option }),
            Just(ClientMessage::RoomState),
            Just(ClientMessage::RoomStart),
            Just(ClientMessage::RoomNext),
            Just(ClientMessage::RoomCloseQuestion),
            Just(ClientMessage::RoomSkip),
            uuid().prop_map(|player_id| ClientMessage::RoomKick { player_id }),
            Just(ClientMessage::RoomPause),
            Just(ClientMessage::RoomResume),
            Just(ClientMessage::RoomEnd),
        ]
    }

    fn client_frame() -> impl Strategy<Value = ClientFrame> {
        (prop::option::of(hostile_string()), client_message())
            .prop_map(|(id, message)| ClientFrame { id, message })
    }

    /// Objects that look like frames: a known or unknown `type`, the protocol's field
    /// names, with values of any kind (or well-typed ones).
    fn frame_like() -> impl Strategy<Value = Value> {
        let kind = prop_oneof![
            3 => prop::sample::select(KNOWN_TYPES).prop_map(Value::from),
            1 => hostile_string().prop_map(Value::String),
            1 => json_value(2),
        ];
        let field = prop_oneof![
            2 => json_value(3),
            1 => uuid().prop_map(|id| Value::String(id.to_string())),
            1 => any::<u32>().prop_map(Value::from),
            1 => prop::sample::select(&["A", "B", "C", "D", "alltime", "weekly"][..]).prop_map(Value::from),
        ];
        let keys: &'static [&'static str] = &[
            "id",
            "level_id",
            "position",
            "option",
            "board",
            "code",
            "name",
            "question",
            "player_id",
        ];
        (kind, object_with(keys, field)).prop_map(|(kind, mut object)| {
            object["type"] = kind;
            object
        })
    }

    /// The outcome must be a frame, or one of the two error codes with a message.
    fn check(outcome: Result<ClientFrame, (&'static str, String)>) -> Result<(), TestCaseError> {
        if let Err((code, message)) = outcome {
            prop_assert!(
                code == codes::MALFORMED || code == codes::UNKNOWN_TYPE,
                "{code}"
            );
            prop_assert!(!message.is_empty());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::default())]

        #[test]
        fn any_text_frame_is_answered(frame in hostile_string()) {
            let message = text(frame);
            check(parse(Encoding::Json, &message))?;
            let _ = reply_id(&message);
        }

        #[test]
        fn any_binary_frame_is_answered(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            check(parse(Encoding::MessagePack, &binary(bytes.clone())))?;
            // The wrong frame kind for the subprotocol is refused, not guessed at.
            prop_assert!(parse(Encoding::Json, &binary(bytes)).is_err());
        }

        #[test]
        fn any_json_document_is_answered_in_both_encodings(value in json_value(6)) {
            check(parse(Encoding::Json, &text(value.to_string())))?;
            check(parse(Encoding::MessagePack, &binary(msgpack(&value))))?;
        }

        #[test]
        fn frame_like_documents_are_answered_in_both_encodings(value in frame_like()) {
            let kind = value.get("type").and_then(Value::as_str).map(str::to_string);
            for outcome in [
                parse(Encoding::Json, &text(value.to_string())),
                parse(Encoding::MessagePack, &binary(msgpack(&value))),
            ] {
                match (&outcome, kind.as_deref()) {
                    (Err((code, _)), Some(kind)) if !KNOWN_TYPES.contains(&kind) => {
                        prop_assert_eq!(*code, codes::UNKNOWN_TYPE)
                    }
                    (Err((code, _)), _) => prop_assert_eq!(*code, codes::MALFORMED),
                    (Ok(_), kind) => prop_assert!(kind.is_some_and(|k| KNOWN_TYPES.contains(&k))),
                }
                check(outcome)?;
            }
        }

        #[test]
        fn every_client_frame_round_trips_through_both_encodings(frame in client_frame()) {
            let json = serde_json::to_string(&frame).unwrap();
            prop_assert_eq!(parse(Encoding::Json, &text(json.clone())).ok(), Some(frame.clone()));
            prop_assert_eq!(reply_id(&text(json)), frame.id.clone());
            let packed = msgpack(&frame);
            prop_assert_eq!(parse(Encoding::MessagePack, &binary(packed)).ok(), Some(frame.clone()));
            // The type is one the error path knows, so a bad field is never "unknown type".
            let tagged = serde_json::to_value(&frame).unwrap();
            prop_assert!(KNOWN_TYPES.contains(&tagged["type"].as_str().unwrap_or_default()));
        }

        #[test]
        fn deep_nesting_is_refused_without_overflowing_the_stack(depth in 0usize..5000) {
            // JSON: serde_json stops at 128 levels.
            let nested = nested_json_arrays(depth);
            check(parse(Encoding::Json, &text(format!(r#"{{"type":"ping","x":{nested}}}"#))))?;
            check(parse(Encoding::MessagePack, &binary(deep_ping(depth))))?;
        }

        #[test]
        fn huge_declared_lengths_are_refused_without_allocating_them(
            header in prop::sample::select(&[0xdcu8, 0xdd, 0xde, 0xdf, 0xda, 0xdb, 0xc5, 0xc6, 0xc9][..]),
            tail in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            // A 16- or 32-bit length of all ones, then too little data.
            let mut packed = vec![header, 0xff, 0xff, 0xff, 0xff];
            packed.extend(tail);
            check(parse(Encoding::MessagePack, &binary(packed)))?;
        }
    }

    /// A MessagePack ping whose extra field `x` holds `depth` nested one-element arrays.
    fn deep_ping(depth: usize) -> Vec<u8> {
        let mut packed = msgpack(&serde_json::json!({"type": "ping"}));
        packed[0] = 0x82; // fixmap of 2 entries instead of 1
        packed.extend(msgpack(&"x"));
        packed.extend(std::iter::repeat_n(0x91, depth)); // fixarray of 1
        packed.push(0xc0); // nil
        packed
    }

    #[test]
    fn regression_deeply_nested_msgpack_is_malformed_not_a_stack_overflow() {
        // Found by `deep_nesting_is_refused_without_overflowing_the_stack`: at 700 levels
        // (a 711-byte frame, under the 4 KiB cap) the test process aborted.
        for depth in [700, 1022, 1023, 4000] {
            let outcome = parse(Encoding::MessagePack, &binary(deep_ping(depth)));
            assert!(
                matches!(&outcome, Err((code, _)) if *code == codes::MALFORMED),
                "{depth}: {outcome:?}"
            );
        }
        // Ordinary nesting still parses.
        let frame = parse(Encoding::MessagePack, &binary(deep_ping(100))).unwrap();
        assert_eq!(frame.message, ClientMessage::Ping);
    }

    #[test]
    fn known_types_are_exactly_the_client_messages() {
        // Every tag in the schema is known to the error path, and nothing else is.
        let schema = serde_json::to_value(schemars::schema_for!(ClientFrame)).unwrap();
        let mut tags: Vec<String> = Vec::new();
        fn collect(value: &Value, tags: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::Object(kind)) =
                        map.get("properties").and_then(|p| p.get("type"))
                        && let Some(Value::String(tag)) = kind.get("const")
                    {
                        tags.push(tag.clone());
                    }
                    map.values().for_each(|v| collect(v, tags));
                }
                Value::Array(items) => items.iter().for_each(|v| collect(v, tags)),
                _ => {}
            }
        }
        collect(&schema, &mut tags);
        tags.sort();
        tags.dedup();
        let mut known: Vec<String> = KNOWN_TYPES.iter().map(|t| t.to_string()).collect();
        known.sort();
        assert_eq!(tags, known);
    }
}
