//! The room bus: what travels between a room actor and the instances whose connections
//! are in the room (commands in, batches of addressed events out), as one type,
//! [`RoomBusEvent`], and the bus topics it is published on ([`commands_topic`],
//! [`events_topic`]). They are defined here, next to the one type they carry, as the
//! user bus's topic and event are next to the port ([`crate::ports::bus`]). On the owner
//! instance commands skip the bus.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::Notice;

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
    /// What the room has handled of each relay's ticketed commands since the last
    /// batch (a batch may carry only acknowledgements).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acks: Vec<Ack>,
    /// A beat: no events, `seq` is the last batch's. An idle room sends one now and
    /// then, so a relay that missed the room's last batch (published while the bus was
    /// down) notices, though no batch follows it, and asks for the state; without it a
    /// host waiting for a close that was lost and a room waiting for the host's
    /// `room.next` would wait for each other.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub beat: bool,
}

/// Every ticket of relay `from` up to `done` was handled by the room: the relay stops
/// holding them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub from: Uuid,
    pub done: u64,
}

/// A command from a relay, numbered so that the relay can hold it until the room
/// acknowledges it and send it again (to the room's next owner) when the room moved
/// before it was handled. `from` is the relay (one per run, not per instance) and
/// `ticket` counts its commands from 1; the room handles each ticket once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticketed {
    pub from: Uuid,
    pub ticket: u64,
    pub command: Command,
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

impl Command {
    /// The connection waiting for an answer to this command, and its `re`: a command
    /// that cannot reach the room is answered with an error to them.
    pub fn asked_by(&self) -> Option<(Uuid, Option<String>)> {
        match self {
            Command::Join {
                connection_id, re, ..
            }
            | Command::Answer {
                connection_id, re, ..
            }
            | Command::State {
                connection_id, re, ..
            }
            | Command::Host {
                connection_id, re, ..
            } => Some((*connection_id, re.clone())),
            Command::Disconnected { .. }
            | Command::Leave { .. }
            | Command::Resync { .. }
            | Command::Reattach { .. } => None,
        }
    }

    /// The connection this command seats, if it is a join.
    pub fn joining(&self) -> Option<Uuid> {
        match self {
            Command::Join { connection_id, .. } => Some(*connection_id),
            _ => None,
        }
    }
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

/// Everything published on a room's bus topics: a [`Batch`] on [`events_topic`], a
/// [`Command`] or a [`Ticketed`] one on [`commands_topic`].
///
/// Untagged on purpose: each variant is recognised by its own shape (a command by its
/// serde variant name, `{"Join":{..}}`; a batch by its `seq`, `at` and `events`), so the
/// payloads are byte for byte those published before this type existed, and instances of
/// both versions share rooms during a rolling deploy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RoomBusEvent {
    /// What the room actor did, for the relay of every instance with players in it.
    Batch(Batch),
    /// What a connection on another instance asks of the room's actor (an instance
    /// of a version before tickets).
    Command(Command),
    /// The same, numbered by the relay that holds it until it is acknowledged.
    Ticketed(Ticketed),
}

impl RoomBusEvent {
    /// The payload to publish.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("room bus events serialize")
    }

    /// A payload read from the bus; `None` for one this version cannot read.
    pub fn decode(payload: &[u8]) -> Option<Self> {
        match serde_json::from_slice(payload) {
            Ok(event) => Some(event),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable room bus event ignored");
                None
            }
        }
    }
}

/// Bus topic of a room's event batches ([`RoomBusEvent::Batch`]).
pub fn events_topic(room_id: Uuid) -> String {
    format!("room:{room_id}:events")
}

/// Bus topic of commands for a room owned by another instance ([`RoomBusEvent::Command`]).
pub fn commands_topic(room_id: Uuid) -> String {
    format!("room:{room_id}:commands")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payloads are those of the instances before the bus had one type: a relay or
    /// an actor of either version reads the other's.
    #[test]
    fn room_bus_events_read_and_write_as_they_did_before_they_were_one_type() {
        let player = Uuid::from_u128(7);
        let command = Command::Resync {
            players: vec![player],
        };
        let before = format!(r#"{{"Resync":{{"players":["{player}"]}}}}"#);
        assert_eq!(
            String::from_utf8(RoomBusEvent::Command(command.clone()).encode()).unwrap(),
            before
        );
        assert!(matches!(
            RoomBusEvent::decode(before.as_bytes()),
            Some(RoomBusEvent::Command(read)) if read == command
        ));

        let batch = Batch {
            seq: 3,
            at: DateTime::from_timestamp_millis(1_800_000_000_000).unwrap(),
            events: vec![
                Event::to(Target::Player(player), Notice::Done { re: None }).detaching(),
                Event::to(
                    Target::All,
                    Notice::Done {
                        re: Some("r1".into()),
                    },
                ),
            ],
            acks: Vec::new(),
            beat: false,
        };
        let before = format!(
            r#"{{"seq":3,"at":"2027-01-15T08:00:00Z","events":[{{"to":{{"Player":"{player}"}},"message":{{"Done":{{"re":null}}}},"detach":true}},{{"to":"All","message":{{"Done":{{"re":"r1"}}}}}}]}}"#
        );
        assert_eq!(
            String::from_utf8(RoomBusEvent::Batch(batch.clone()).encode()).unwrap(),
            before
        );
        match RoomBusEvent::decode(before.as_bytes()) {
            Some(RoomBusEvent::Batch(read)) => {
                assert_eq!(
                    (read.seq, read.at, read.events),
                    (3, batch.at, batch.events)
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(RoomBusEvent::decode(br#"{"Later":{}}"#).is_none());
    }

    /// A ticketed command is read as one (not as a plain command or a batch), and a
    /// batch's acknowledgements survive the trip; a batch without any reads as before.
    #[test]
    fn ticketed_commands_and_acknowledgements_travel_as_themselves() {
        let relay = Uuid::from_u128(9);
        let ticketed = Ticketed {
            from: relay,
            ticket: 4,
            command: Command::Resync {
                players: vec![Uuid::from_u128(7)],
            },
        };
        let payload = RoomBusEvent::Ticketed(ticketed.clone()).encode();
        assert!(matches!(
            RoomBusEvent::decode(&payload),
            Some(RoomBusEvent::Ticketed(read)) if read == ticketed
        ));
        let batch = Batch {
            seq: 5,
            at: DateTime::from_timestamp_millis(1_800_000_000_000).unwrap(),
            events: Vec::new(),
            acks: vec![Ack {
                from: relay,
                done: 4,
            }],
            beat: false,
        };
        match RoomBusEvent::decode(&RoomBusEvent::Batch(batch).encode()) {
            Some(RoomBusEvent::Batch(read)) => {
                assert_eq!(
                    read.acks,
                    vec![Ack {
                        from: relay,
                        done: 4
                    }]
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
