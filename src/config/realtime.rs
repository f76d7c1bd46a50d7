//! Websocket, quiz and multiplayer-room timings and limits.
//!
//! The websocket layer's settings type lives here (the transport reads it); the rooms'
//! is the game core's. Fields without a variable keep their defaults; tests shorten them.

use std::time::Duration;

use questpath_actors::session::SessionSettings;

use super::ConfigError;
use super::lookup::{Vars, bad};

pub(super) use questpath_actors::room::RoomSettings;

pub(super) fn realtime(vars: &Vars) -> Result<RealtimeSettings, ConfigError> {
    let heartbeat = vars.seconds("QUESTPATH_WS_HEARTBEAT_SECS", 1..=300)?;
    let client_timeout = vars.seconds("QUESTPATH_WS_TIMEOUT_SECS", 2..=3600)?;
    if client_timeout <= heartbeat {
        return Err(bad(
            "QUESTPATH_WS_TIMEOUT_SECS",
            "must be longer than QUESTPATH_WS_HEARTBEAT_SECS, or live clients are dropped between pings",
        ));
    }
    let rate = vars.number("QUESTPATH_WS_RATE_PER_SEC", 1..=10_000)? as f64;
    Ok(RealtimeSettings {
        heartbeat,
        client_timeout,
        max_frame: vars.number("QUESTPATH_WS_MAX_FRAME_BYTES", 256..=1_048_576)? as usize,
        grace: vars.seconds("QUESTPATH_WS_GRACE_SECS", 0..=3600)?,
        outbound_queue: vars.number("QUESTPATH_WS_OUTBOUND_QUEUE", 1..=100_000)? as usize,
        rate_per_sec: rate,
        rate_burst: rate * 2.0,
        question_time: vars.seconds("QUESTPATH_QUIZ_QUESTION_SECS", 5..=3600)?,
        quiz_lease: vars.seconds("QUESTPATH_QUIZ_LEASE_SECS", 2..=3600)?,
        ..RealtimeSettings::default()
    })
}

pub(super) fn rooms(vars: &Vars) -> Result<RoomSettings, ConfigError> {
    Ok(RoomSettings {
        max_players: vars.number("QUESTPATH_ROOM_MAX_PLAYERS", 1..=100_000)? as usize,
        max_rooms: vars.number("QUESTPATH_ROOMS_PER_INSTANCE", 1..=100_000)? as usize,
        lease: vars.seconds("QUESTPATH_ROOM_LEASE_SECS", 3..=3600)?,
        host_grace: vars.seconds("QUESTPATH_ROOM_HOST_GRACE_SECS", 0..=3600)?,
        empty_grace: vars.seconds("QUESTPATH_ROOM_EMPTY_GRACE_SECS", 0..=3600)?,
        ..RoomSettings::default()
    })
}

/// Limits and timings of the realtime layer.
#[derive(Debug, Clone)]
pub struct RealtimeSettings {
    /// The server pings this often.
    pub heartbeat: Duration,
    /// A connection silent this long is dropped.
    pub client_timeout: Duration,
    /// Largest frame accepted, in bytes.
    pub max_frame: usize,
    /// How long a session outlives its last connection.
    pub grace: Duration,
    /// Messages waiting for a connection before it counts as a slow consumer.
    pub outbound_queue: usize,
    /// Sustained messages per second per connection.
    pub rate_per_sec: f64,
    /// Burst of messages per connection.
    pub rate_burst: f64,
    /// Rate-limit violations (each answered with an error) before the socket closes.
    pub flood_strikes: u32,
    /// Time to answer one quiz question.
    pub question_time: Duration,
    /// Life of a solo quiz's owner lease without a renewal: a dead instance's quizzes
    /// are taken over by another instance of the learner within about this long.
    pub quiz_lease: Duration,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        RealtimeSettings {
            heartbeat: Duration::from_secs(15),
            client_timeout: Duration::from_secs(30),
            max_frame: 4 * 1024,
            grace: Duration::from_secs(60),
            outbound_queue: 64,
            rate_per_sec: 10.0,
            rate_burst: 20.0,
            flood_strikes: 20,
            question_time: questpath_actors::rules::quiz::QUESTION_TIME,
            quiz_lease: Duration::from_secs(10),
        }
    }
}

impl RealtimeSettings {
    /// The session actors' part.
    pub fn session(&self) -> SessionSettings {
        SessionSettings {
            grace: self.grace,
            question_time: self.question_time,
            quiz_lease: self.quiz_lease,
        }
    }
}
