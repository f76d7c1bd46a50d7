//! What travels between a room actor and the instances whose connections are in the
//! room: commands in, batches of addressed events out. Both go over the bus, so they
//! are serde types; on the owner instance commands skip the bus.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use questpath_actors::events::Notice;

/// Who an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// Every connection in the room, the host's included.
    All,
    /// Every player (not the host).
    Players,
    /// The host's connections.
    Host,
    /// One player's connections, on whatever instance.
    Player(Uuid),
    /// One connection (a reply with its `re`).
    Connection(Uuid),
}

/// One event of a batch. `detach` takes the addressed connections out of the room
/// once it is delivered (kicked, refused, room over).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub to: Target,
    pub message: Notice,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub detach: bool,
}

impl Event {
    pub fn to(to: Target, message: impl Into<Notice>) -> Self {
        Event {
            to,
            message: message.into(),
            detach: false,
        }
    }

    pub fn detaching(mut self) -> Self {
        self.detach = true;
        self
    }
}

/// Events of one step of the room, in order. `seq` grows by one per batch, so a relay
/// that missed one (the bus is at-most-once) notices and asks for the state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Batch {
    pub seq: u64,
    /// When the actor published it (the fan-out time is measured from here).
    pub at: DateTime<Utc>,
    pub events: Vec<Event>,
}

/// Whether a player has an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlayerKind {
    User,
    Guest,
}

/// What a connection asks of a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// A connection of `player_id` came in (a join, a second device, a reconnect).
    Join {
        player_id: Uuid,
        connection_id: Uuid,
        kind: PlayerKind,
        name: String,
        re: Option<String>,
    },
    /// A connection of `player_id` went away (closed, or moved to another room).
    Disconnected {
        player_id: Uuid,
        connection_id: Uuid,
    },
    /// The player gave their seat up.
    Leave {
        player_id: Uuid,
        connection_id: Uuid,
    },
    Answer {
        player_id: Uuid,
        connection_id: Uuid,
        re: Option<String>,
        question: u32,
        option: String,
        /// When the edge instance read the answer (server clock).
        received_at: DateTime<Utc>,
        /// Server-measured response time after latency compensation, when the edge
        /// knows when it wrote the question to this socket.
        response_ms: Option<u64>,
    },
    State {
        player_id: Uuid,
        connection_id: Uuid,
        re: Option<String>,
        /// Answer as to a `room.join` (`room.joined`): the connection asked to join the
        /// room it is already in (its client did not know it was put back).
        #[serde(default)]
        joined: bool,
    },
    Host {
        player_id: Uuid,
        connection_id: Uuid,
        re: Option<String>,
        action: HostAction,
    },
    /// A relay missed events: send these players the state again.
    Resync { players: Vec<Uuid> },
    /// The room was adopted by another instance: these connections (one entry per
    /// connection, by player) were in it on the relay's instance and still are.
    Reattach { players: Vec<Uuid> },
}

/// What the host can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostAction {
    Start,
    Next,
    CloseQuestion,
    Skip,
    Kick(Uuid),
    Pause,
    Resume,
    End,
}

/// Bus topic of a room's event batches.
pub fn events_topic(room_id: Uuid) -> String {
    format!("room:{room_id}:events")
}

/// Bus topic of commands for a room owned by another instance.
pub fn commands_topic(room_id: Uuid) -> String {
    format!("room:{room_id}:commands")
}
