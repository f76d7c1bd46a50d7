//! Websocket, quiz and multiplayer-room timings and limits.
//!
//! The only file of `config` that names the realtime and rooms settings types (their
//! other fields keep their defaults; tests shorten them).

use super::ConfigError;
use super::lookup::{Vars, bad};

pub(super) use crate::realtime::RealtimeSettings;
pub(super) use crate::rooms::RoomSettings;

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
