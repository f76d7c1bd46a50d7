//! One websocket's task: it reads frames (size cap, rate limit, heartbeat), hands
//! session commands to the learner's session actor and room messages to the room link,
//! and writes what the core queues for it, each notice turned into a frame here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Realtime;
use super::RealtimeSettings;
use super::closing::{Answer, finish_close};
use super::codec::{Encoding, encode, encode_message, parse, reply_id};
use super::commands::session_command;
use super::frames;
use super::handover::Websocket;
use super::protocol::{ClientFrame, ClientMessage, ServerMessage, close, codes};
use super::room_link::{Player, RoomLink, is_room_message};
use crate::metrics::{Metrics, disconnect};
use questpath_actors::events::Notice;
use questpath_actors::outbound::{Closing, Outbound, Outgoing};
use questpath_actors::session::actor::{Connect, Disconnect, Request, SessionActor};
use questpath_actors::session::registry::GetOrStart;

/// Runs one websocket from its greeting to the end of its connection.
pub async fn run(
    metrics: Arc<Metrics>,
    realtime: Arc<Realtime>,
    settings: RealtimeSettings,
    player: Player,
    encoding: Encoding,
    ws: Websocket,
) {
    // This future lives as long as the socket, so it holds the socket's state and its
    // loop only: the start, the room link's calls and the end are large and rare, and
    // boxed they take no room in it (docs/performance.md, memory per connection).
    let start = start(metrics, realtime, settings, player, encoding, ws);
    let Some(mut socket) = Box::pin(start).await else {
        return;
    };
    // A player with a seat in a live room is put back in it.
    Box::pin(socket.room.resume()).await;
    let reason = socket.serve().await;
    Box::pin(socket.finish(reason)).await;
}

/// Greets the client and joins the learner's session: the connected socket, or `None`
/// when it was closed instead.
async fn start(
    metrics: Arc<Metrics>,
    realtime: Arc<Realtime>,
    settings: RealtimeSettings,
    player: Player,
    encoding: Encoding,
    mut ws: Websocket,
) -> Option<Socket> {
    let user_id = player.id();
    let connection_id = Uuid::now_v7();
    let (sender, outgoing) = mpsc::channel::<Outgoing>(settings.outbound_queue);
    let outbound = Outbound::new(sender, CancellationToken::new());
    let refused = Some(close_frame(CloseCode::Error, ""));
    let Ok(session) = session_of(&realtime, &player).await else {
        metrics.ws_refused(disconnect::SESSION_ERROR);
        finish_close(ws, refused, Answer::Awaited, settings.client_timeout).await;
        return None;
    };
    let room = RoomLink::new(
        realtime.rooms.clone(),
        player,
        connection_id,
        outbound.clone(),
    );
    if !greet(
        &mut ws,
        encoding,
        user_id,
        connection_id,
        &settings,
        &metrics,
    )
    .await
    {
        metrics.ws_refused(disconnect::CLOSED);
        return None;
    }
    if !joined(session.as_ref(), connection_id, &outbound).await {
        metrics.ws_refused(disconnect::SESSION_ERROR);
        finish_close(ws, refused, Answer::Awaited, settings.client_timeout).await;
        return None;
    }
    metrics.ws_connected();
    tracing::debug!(%user_id, %connection_id, "websocket connected");
    Some(Socket {
        bucket: Bucket::new(settings.rate_per_sec, settings.rate_burst),
        draining: realtime.draining.clone(),
        ws,
        encoding,
        settings,
        metrics,
        session,
        room,
        outbound,
        outgoing,
        connection_id,
        strikes: 0,
        broken: false,
        unreadable: false,
        client_closed: false,
        last_seen: Instant::now(),
        pinger: RoundTrip::default(),
    })
}

/// A learner's session actor (started if need be); guests have none, they only play
/// rooms. `Err` when the registry could not be reached.
async fn session_of(
    realtime: &Realtime,
    player: &Player,
) -> Result<Option<actix::Addr<SessionActor>>, ()> {
    match player {
        Player::User(user_id) => realtime
            .registry
            .send(GetOrStart { user_id: *user_id })
            .await
            .map(Some)
            .map_err(|_| ()),
        Player::Guest(_) => Ok(None),
    }
}

/// Hands the connection to the learner's session (guests have none); false when the
/// session could not take it.
async fn joined(
    session: Option<&actix::Addr<SessionActor>>,
    connection_id: Uuid,
    outbound: &Outbound,
) -> bool {
    let Some(session) = session else {
        return true;
    };
    session
        .send(Connect {
            connection_id,
            outbound: outbound.clone(),
        })
        .await
        .is_ok()
}

/// Sends `hello`; false when the socket is already gone.
async fn greet(
    ws: &mut Websocket,
    encoding: Encoding,
    user_id: Uuid,
    connection_id: Uuid,
    settings: &RealtimeSettings,
    metrics: &Metrics,
) -> bool {
    let hello = ServerMessage::Hello {
        user_id,
        connection_id,
        server_time: chrono::Utc::now().to_rfc3339(),
        heartbeat_secs: settings.heartbeat.as_secs(),
        late_grace_ms: questpath_actors::rules::quiz::LATE_GRACE.as_millis() as u64,
    };
    if let Some(frame) = encode_message(encoding, &hello) {
        if ws.send(frame).await.is_err() {
            return false;
        }
        metrics.ws_sent(hello.kind(), 0);
    }
    true
}

/// What woke the socket's loop.
enum Wake {
    Draining,
    ClosedByCore,
    Heartbeat,
    Queued(Option<Outgoing>),
    Incoming(Option<Result<Message, WsError>>),
}

/// After one event: go on, or close (with our close frame's reason, if any).
enum Step {
    Continue,
    Close(Option<CloseFrame>),
}

/// A connected websocket and what its loop keeps.
struct Socket {
    ws: Websocket,
    encoding: Encoding,
    settings: RealtimeSettings,
    metrics: Arc<Metrics>,
    session: Option<actix::Addr<SessionActor>>,
    room: RoomLink,
    outbound: Outbound,
    outgoing: mpsc::Receiver<Outgoing>,
    draining: CancellationToken,
    connection_id: Uuid,
    bucket: Bucket,
    /// Rate-limit violations so far.
    strikes: u32,
    /// The connection broke (no close frame).
    broken: bool,
    /// A frame too large to read was left half read: nothing more can be read.
    unreadable: bool,
    client_closed: bool,
    last_seen: Instant,
    /// Round trips measured with our own pings (never a value the client reports).
    pinger: RoundTrip,
}

impl Socket {
    /// Runs until the socket closes; the reason of our close frame, if we send one.
    async fn serve(&mut self) -> Option<CloseFrame> {
        let mut heartbeat = tokio::time::interval(self.settings.heartbeat);
        heartbeat.tick().await;
        loop {
            let wake = tokio::select! {
                _ = self.draining.cancelled() => Wake::Draining,
                _ = self.outbound.kill.cancelled() => Wake::ClosedByCore,
                _ = heartbeat.tick() => Wake::Heartbeat,
                queued = self.outgoing.recv() => Wake::Queued(queued),
                incoming = self.ws.next() => Wake::Incoming(incoming),
            };
            let step = match wake {
                Wake::Draining => Step::Close(Some(close_frame(
                    CloseCode::Restart,
                    "server restarting: reconnect",
                ))),
                Wake::ClosedByCore => Step::Close(Some(closed_by_core(&self.outbound))),
                Wake::Heartbeat => self.on_heartbeat().await,
                Wake::Queued(None) | Wake::Incoming(None) => Step::Close(None),
                Wake::Queued(Some(queued)) => self.on_queued(queued).await,
                // Boxed: its future is the largest of the loop's (672 bytes against
                // 296 for a write), and the loop's future lives as long as the socket.
                Wake::Incoming(Some(incoming)) => Box::pin(self.on_incoming(incoming)).await,
            };
            if let Step::Close(reason) = step {
                return reason;
            }
        }
    }

    /// Sends our ping, numbered for the round trip.
    async fn ping(&mut self) -> Result<(), WsError> {
        let payload = self.pinger.next();
        self.ws.send(Message::Ping(payload.to_vec().into())).await
    }

    async fn on_heartbeat(&mut self) -> Step {
        if self.last_seen.elapsed() > self.settings.client_timeout {
            return Step::Close(Some(close_frame(close::TIMEOUT.into(), "no heartbeat")));
        }
        if self.ping().await.is_err() {
            return Step::Close(None);
        }
        Step::Continue
    }

    /// Writes one queued notice. A client that does not read blocks this write; the core
    /// then sees the queue fill up and closes the connection as a slow consumer.
    async fn on_queued(&mut self, queued: Outgoing) -> Step {
        let kind = frames::kind(queued.notice());
        self.room.written(queued.notice());
        let Some(frame) = encode(self.encoding, queued) else {
            return Step::Continue;
        };
        let sent = tokio::select! {
            result = self.ws.send(frame) => Some(result.is_ok()),
            _ = self.outbound.kill.cancelled() => None,
        };
        match sent {
            Some(true) => {
                self.metrics.ws_sent(kind, self.outgoing.len());
                Step::Continue
            }
            Some(false) => Step::Close(None),
            None => Step::Close(Some(closed_by_core(&self.outbound))),
        }
    }

    async fn on_incoming(&mut self, incoming: Result<Message, WsError>) -> Step {
        self.last_seen = Instant::now();
        let message = match incoming {
            Ok(message) => message,
            Err(WsError::Capacity(_)) => {
                // Past the reader's own limit the rest of the frame is never read, so
                // nothing after it can be either: close without waiting for an answer.
                self.unreadable = true;
                return self.too_large().await;
            }
            Err(
                WsError::Io(_)
                | WsError::ConnectionClosed
                | WsError::AlreadyClosed
                | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake),
            ) => {
                // The connection broke (no close frame): not the client's protocol.
                self.broken = true;
                return Step::Close(None);
            }
            Err(_) => return Step::Close(Some(close_frame(CloseCode::Protocol, ""))),
        };
        match message {
            // tungstenite queues the pong and writes it with the next read or write.
            Message::Ping(_) => Step::Continue,
            Message::Pong(bytes) => {
                self.pinger.answered(&bytes);
                Step::Continue
            }
            // Answer with the client's own code (RFC 6455 5.5.1), so a client that closed
            // with 1000 sees 1000 come back, not 1005.
            Message::Close(theirs) => {
                self.client_closed = true;
                Step::Close(theirs.map(|r| close_frame(r.code, "")))
            }
            Message::Text(_) | Message::Binary(_) if message.len() > self.settings.max_frame => {
                self.too_large().await
            }
            Message::Text(_) | Message::Binary(_) => self.on_data(&message).await,
            _ => Step::Continue,
        }
    }

    /// A frame over the limit: an `error` frame, then close 1009.
    async fn too_large(&mut self) -> Step {
        let error = ServerMessage::Error {
            re: None,
            code: codes::FRAME_TOO_LARGE.into(),
            message: format!("frames are limited to {} bytes", self.settings.max_frame),
        };
        if let Some(frame) = encode_message(self.encoding, &error) {
            let _ = self.ws.send(frame).await;
        }
        Step::Close(Some(close_frame(CloseCode::Size, "frame too large")))
    }

    /// A data frame: rate-limited, parsed, then handed to the room link or the session.
    async fn on_data(&mut self, message: &Message) -> Step {
        if !self.bucket.take() {
            self.metrics.ws_rate_limited();
            self.strikes += 1;
            if self.strikes >= self.settings.flood_strikes {
                return Step::Close(Some(close_frame(close::FLOOD.into(), "too many messages")));
            }
            self.outbound.deliver(Notice::refused(
                reply_id(message),
                codes::RATE_LIMITED,
                "slow down",
            ));
            return Step::Continue;
        }
        match parse(self.encoding, message) {
            Ok(frame) => self.on_frame(frame).await,
            Err((code, text)) => {
                self.metrics.ws_received("invalid");
                self.outbound
                    .deliver(Notice::refused(reply_id(message), code, text));
                Step::Continue
            }
        }
    }

    async fn on_frame(&mut self, frame: ClientFrame) -> Step {
        let kind = frame.message.kind();
        self.metrics.ws_received(kind);
        let received_at = Instant::now();
        if is_room_message(&frame.message) {
            let round_trip = self.pinger.round_trip();
            let (refused, joined) =
                Box::pin(
                    self.room
                        .handle(frame.message, frame.id, received_at, round_trip),
                )
                .await;
            if let Some(error) = refused {
                self.outbound.deliver(error);
            }
            if joined && self.ping().await.is_err() {
                return Step::Close(None);
            }
        } else if let Some(session) = &self.session {
            if let Some(command) = session_command(frame.message) {
                session.do_send(Request {
                    connection_id: self.connection_id,
                    re: frame.id,
                    command,
                    kind,
                    received_at,
                });
            }
        } else if frame.message == ClientMessage::Ping {
            self.outbound.deliver(Notice::Done { re: frame.id });
        } else {
            self.outbound.deliver(Notice::refused(
                frame.id,
                codes::GUEST_ONLY_ROOMS,
                "guests can only play the room they joined",
            ));
        }
        Step::Continue
    }

    /// Leaves the room and the session, records why, and ends the connection.
    async fn finish(mut self, reason: Option<CloseFrame>) {
        self.room.close().await;
        if let Some(session) = &self.session {
            session.do_send(Disconnect {
                connection_id: self.connection_id,
            });
        }
        self.metrics.ws_disconnected(if self.broken {
            disconnect::ABNORMAL
        } else if self.client_closed {
            disconnect::CLOSED
        } else {
            disconnect_reason(reason.as_ref())
        });
        tracing::debug!(connection_id = %self.connection_id, ?reason, "websocket closed");
        let answer = if self.broken {
            return;
        } else if self.client_closed {
            Answer::Given
        } else if self.unreadable {
            Answer::Unreadable
        } else {
            Answer::Awaited
        };
        finish_close(self.ws, reason, answer, self.settings.client_timeout).await;
    }
}

/// A token bucket: `rate` per second, `burst` at once.
struct Bucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl Bucket {
    fn new(rate: f64, burst: f64) -> Self {
        Bucket {
            tokens: burst,
            last: Instant::now(),
            rate,
            burst,
        }
    }

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

/// The close code of a connection the core closed.
fn closed_by_core(outbound: &Outbound) -> CloseFrame {
    let (code, description) = match outbound.closing() {
        Some(Closing::SlowConsumer) | None => (close::SLOW_CONSUMER, "too slow to read"),
        Some(Closing::AccountDeleted) => (close::ACCOUNT_DELETED, "account deleted"),
    };
    close_frame(code.into(), description)
}

fn close_frame(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
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

/// The `reason` label of a close: the close code the server sent, or `closed` when the
/// client left (or the socket broke) first.
fn disconnect_reason(reason: Option<&CloseFrame>) -> &'static str {
    let Some(reason) = reason else {
        return disconnect::CLOSED;
    };
    match reason.code {
        CloseCode::Restart => disconnect::SERVER_RESTART,
        CloseCode::Size => disconnect::FRAME_TOO_LARGE,
        CloseCode::Protocol => disconnect::PROTOCOL_ERROR,
        // Ours (4000-4999): tungstenite's `Library` codes.
        code => match u16::from(code) {
            close::SLOW_CONSUMER => disconnect::SLOW_CONSUMER,
            close::FLOOD => disconnect::RATE_LIMITED,
            close::TIMEOUT => disconnect::TIMEOUT,
            close::ACCOUNT_DELETED => disconnect::ACCOUNT_DELETED,
            _ => disconnect::CLOSED,
        },
    }
}
