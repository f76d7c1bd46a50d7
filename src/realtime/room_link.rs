//! A connection's link to rooms: turns its `room.*` frames into commands for the room
//! actor (wherever it runs), and measures what fair scoring needs on this side of the
//! socket: when each question was written to it and the socket's round trip.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use questpath_actors::rules::room::compensated_response;
use uuid::Uuid;

use crate::realtime::protocol::{ClientMessage, RoomRole, codes};
use crate::rooms::guests::GuestPass;
use questpath_actors::events::{Notice, RoomEvent};
use questpath_actors::outbound::Outbound;
use questpath_actors::room::Rooms;
use questpath_actors::room::directory::Entry;
use questpath_actors::room::event::{Command, HostAction, PlayerKind};
use questpath_actors::room::relay::Attachment;
use questpath_actors::room::setup::player_name;

/// Who is behind a connection, as far as rooms are concerned.
#[derive(Debug, Clone)]
pub enum Player {
    User(Uuid),
    Guest(GuestPass),
}

impl Player {
    pub fn id(&self) -> Uuid {
        match self {
            Player::User(id) => *id,
            Player::Guest(pass) => pass.guest_id,
        }
    }
}

pub struct RoomLink {
    rooms: Arc<Rooms>,
    player: Player,
    connection_id: Uuid,
    outbound: Outbound,
    current: Option<Attachment>,
    /// The open question's index and when this socket was given it.
    question_written: Option<(u32, Instant)>,
}

fn error(re: Option<String>, code: &str, message: impl Into<String>) -> Notice {
    Notice::Refused {
        re,
        code: code.into(),
        message: message.into(),
    }
}

/// A refusal of a `room.join` before it reaches a room: its code and sentence.
struct Refused(&'static str, &'static str);

/// The directory or the bus could not be reached.
const UNAVAILABLE: Refused = Refused(codes::UNAVAILABLE, "please try again in a moment");

impl Refused {
    fn notice(self, re: Option<String>) -> Notice {
        error(re, self.0, self.1)
    }
}

/// The host's control a frame asks for, if it is one.
fn host_action(message: &ClientMessage) -> Option<HostAction> {
    Some(match message {
        ClientMessage::RoomStart => HostAction::Start,
        ClientMessage::RoomNext => HostAction::Next,
        ClientMessage::RoomCloseQuestion => HostAction::CloseQuestion,
        ClientMessage::RoomSkip => HostAction::Skip,
        ClientMessage::RoomKick { player_id } => HostAction::Kick(*player_id),
        ClientMessage::RoomPause => HostAction::Pause,
        ClientMessage::RoomResume => HostAction::Resume,
        ClientMessage::RoomEnd => HostAction::End,
        _ => return None,
    })
}

/// How long a player's seat is remembered for their next connection.
const SEAT_TTL: Duration = Duration::from_secs(6 * 3600);

fn seat_key(player_id: Uuid) -> String {
    format!("room-seat:{player_id}")
}

/// Whether a client message is for rooms.
pub fn is_room_message(message: &ClientMessage) -> bool {
    matches!(
        message,
        ClientMessage::RoomJoin { .. }
            | ClientMessage::RoomLeave
            | ClientMessage::RoomAnswer { .. }
            | ClientMessage::RoomState
            | ClientMessage::RoomStart
            | ClientMessage::RoomNext
            | ClientMessage::RoomCloseQuestion
            | ClientMessage::RoomSkip
            | ClientMessage::RoomKick { .. }
            | ClientMessage::RoomPause
            | ClientMessage::RoomResume
            | ClientMessage::RoomEnd
    )
}

impl RoomLink {
    pub fn new(rooms: Arc<Rooms>, player: Player, connection_id: Uuid, outbound: Outbound) -> Self {
        RoomLink {
            rooms,
            player,
            connection_id,
            outbound,
            current: None,
            question_written: None,
        }
    }

    /// The room this connection is in, unless the room let it go.
    fn attached(&mut self) -> Option<&Attachment> {
        if self.current.as_ref().is_some_and(Attachment::is_left) {
            self.current = None;
            self.question_written = None;
        }
        self.current.as_ref()
    }

    /// Notes a frame just written to the socket: a question's clock starts for this
    /// player when it reaches their socket, not when the room opened it.
    pub fn written(&mut self, message: &Notice) {
        match message {
            Notice::Room(RoomEvent::Joined { room, .. })
                if room.you.is_some() || room.role == RoomRole::Host =>
            {
                self.remember_seat(room.code.clone());
            }
            Notice::Room(RoomEvent::Kicked { .. }) | Notice::Room(RoomEvent::Ended { .. }) => {
                self.forget_seat()
            }
            _ => {}
        }
        let index = match message {
            Notice::Room(RoomEvent::QuestionOpened(view)) => Some(view.index),
            Notice::Room(RoomEvent::Joined { room, .. })
            | Notice::Room(RoomEvent::State { room, .. }) => {
                room.question.as_ref().map(|q| q.index)
            }
            _ => None,
        };
        if let Some(index) = index
            && self
                .question_written
                .is_none_or(|(written, _)| written != index)
        {
            self.question_written = Some((index, Instant::now()));
        }
    }

    /// Handles a `room.*` frame. Returns an error to send at once when the frame
    /// cannot reach a room; `true` in the second place when a room was joined (the
    /// socket then measures its round trip at once).
    pub async fn handle(
        &mut self,
        message: ClientMessage,
        re: Option<String>,
        received_at: Instant,
        round_trip: Option<Duration>,
    ) -> (Option<Notice>, bool) {
        let player_id = self.player.id();
        let connection_id = self.connection_id;
        if let ClientMessage::RoomJoin { code, name } = message {
            return self.join(code, name, re).await;
        }
        let Some(room_id) = self.attached().map(|a| a.room_id) else {
            return (
                Some(error(
                    re,
                    codes::NOT_IN_ROOM,
                    "join a room first (room.join)",
                )),
                false,
            );
        };
        let command = match message {
            ClientMessage::RoomAnswer { question, option } => {
                self.answer(question, option, re, received_at, round_trip)
            }
            ClientMessage::RoomState => Command::State {
                player_id,
                connection_id,
                re,
                joined: false,
            },
            ClientMessage::RoomLeave => {
                self.current = None;
                self.forget_seat();
                self.rooms.detach(room_id, connection_id);
                self.rooms
                    .send(
                        room_id,
                        Command::Leave {
                            player_id,
                            connection_id,
                        },
                    )
                    .await;
                return (Some(Notice::Done { re }), false);
            }
            other => match host_action(&other) {
                Some(action) => Command::Host {
                    player_id,
                    connection_id,
                    re,
                    action,
                },
                None => return (None, false),
            },
        };
        self.rooms.send(room_id, command).await;
        (None, false)
    }

    /// An answer, with its response time as this socket measured it (from when the
    /// question was written to it, less half the round trip) when it knows it.
    fn answer(
        &self,
        question: u32,
        option: String,
        re: Option<String>,
        received_at: Instant,
        round_trip: Option<Duration>,
    ) -> Command {
        let response_ms = self.question_written.and_then(|(index, at)| {
            (index == question).then(|| {
                let measured = received_at.saturating_duration_since(at);
                compensated_response(measured, round_trip).as_millis() as u64
            })
        });
        Command::Answer {
            player_id: self.player.id(),
            connection_id: self.connection_id,
            re,
            question,
            option,
            received_at: Utc::now()
                - chrono::Duration::from_std(received_at.elapsed()).unwrap_or_default(),
            response_ms,
        }
    }

    async fn join(
        &mut self,
        code: String,
        name: Option<String>,
        re: Option<String>,
    ) -> (Option<Notice>, bool) {
        if let Some(current) = self.attached() {
            let same = questpath_actors::rules::room::normalize_code(&code)
                .is_some_and(|code| code == current.code);
            if same {
                // Already back in it (put back on connecting): answer as a join would.
                let room_id = current.room_id;
                let command = Command::State {
                    player_id: self.player.id(),
                    connection_id: self.connection_id,
                    re,
                    joined: true,
                };
                self.rooms.send(room_id, command).await;
                return (None, false);
            }
            return (
                Some(error(
                    re,
                    codes::ALREADY_IN_ROOM,
                    "leave this room first (room.leave)",
                )),
                false,
            );
        }
        let entry = match self.find(&code).await {
            Ok(entry) => entry,
            Err(refusal) => return (Some(refusal.notice(re)), false),
        };
        let (kind, name) = match self.seat_name(&entry, name).await {
            Ok(seat) => seat,
            Err(refusal) => return (Some(refusal.notice(re)), false),
        };
        let player_id = self.player.id();
        let attachment = match self
            .rooms
            .attach(&entry, player_id, self.connection_id, self.outbound.clone())
            .await
        {
            Ok(attachment) => attachment,
            Err(e) => {
                tracing::warn!(error = %e, "could not follow the room's events");
                return (Some(UNAVAILABLE.notice(re)), false);
            }
        };
        self.current = Some(attachment);
        self.question_written = None;
        self.rooms
            .send(
                entry.room_id,
                Command::Join {
                    player_id,
                    connection_id: self.connection_id,
                    kind,
                    name,
                    re,
                },
            )
            .await;
        (None, true)
    }

    /// The running room with this code.
    async fn find(&self, code: &str) -> Result<Entry, Refused> {
        match self.rooms.find(code).await {
            Ok(Some(entry)) => Ok(entry),
            Ok(None) => Err(Refused(
                codes::ROOM_NOT_FOUND,
                "no game is running with this code",
            )),
            Err(e) => {
                tracing::warn!(error = %e, "room directory unavailable");
                Err(UNAVAILABLE)
            }
        }
    }

    /// Whether the player sits as a learner or a guest, and their name in the room: a
    /// guest's from their pass, a learner's as asked or else their shown name.
    async fn seat_name(
        &self,
        entry: &Entry,
        name: Option<String>,
    ) -> Result<(PlayerKind, String), Refused> {
        let id = match &self.player {
            Player::Guest(pass) if pass.room_id != entry.room_id => {
                return Err(Refused(
                    codes::ROOM_NOT_FOUND,
                    "this guest pass is for another game",
                ));
            }
            Player::Guest(pass) => return Ok((PlayerKind::Guest, pass.name.clone())),
            Player::User(id) => *id,
        };
        let name = match name {
            Some(raw) => player_name(&raw)
                .ok_or(Refused(codes::INVALID_NAME, "a name is 1 to 24 characters"))?,
            None => match self.rooms.deps().store.user_by_id(id).await {
                Ok(Some(user)) => crate::leaderboard::names::shown_name(&user)
                    .chars()
                    .take(24)
                    .collect(),
                _ => "Player".to_string(),
            },
        };
        Ok((PlayerKind::User, name))
    }

    /// Remembers (in the cache port, so any instance knows) which room this player sits
    /// in, so their next connection is put back without re-entering the code.
    fn remember_seat(&self, code: String) {
        let cache = self.rooms.deps().cache.clone();
        let key = seat_key(self.player.id());
        tokio::spawn(async move {
            if let Err(e) = cache.set(&key, code.as_bytes(), SEAT_TTL).await {
                tracing::debug!(error = %e, "seat not remembered");
            }
        });
    }

    fn forget_seat(&self) {
        let cache = self.rooms.deps().cache.clone();
        let key = seat_key(self.player.id());
        tokio::spawn(async move {
            let _ = cache.delete(&key).await;
        });
    }

    /// Puts a new connection back in the room its player sits in (a phone that slept, a
    /// second device): it gets `room.joined` without asking. Guests go to their room.
    pub async fn resume(&mut self) {
        let code = match &self.player {
            Player::Guest(pass) => Some(pass.code.clone()),
            Player::User(id) => match self.rooms.deps().cache.get(&seat_key(*id)).await {
                Ok(Some(bytes)) => String::from_utf8(bytes).ok(),
                _ => None,
            },
        };
        let Some(code) = code else { return };
        let (refused, _) = self.join(code, None, None).await;
        if let Some(Notice::Refused { code, .. }) = refused {
            // The room is over (or the directory is down): nothing to resume, and the
            // client asked for nothing, so it is not told.
            if code == codes::ROOM_NOT_FOUND {
                self.forget_seat();
            }
        }
    }

    /// The connection closed: the seat is kept for a reconnect. Sent even when the
    /// relay let the connection go (a slow consumer): the room must stop counting it.
    pub async fn close(&mut self) {
        let connection_id = self.connection_id;
        let player_id = self.player.id();
        if let Some(attachment) = self.current.take() {
            self.rooms.detach(attachment.room_id, connection_id);
            self.rooms
                .send(
                    attachment.room_id,
                    Command::Disconnected {
                        player_id,
                        connection_id,
                    },
                )
                .await;
        }
    }
}
