//! XP for a finished room: the room actor saves the results, then queues the room's id
//! on [`QUEUE`]; a worker (the server runs it) grants every signed-in player their XP
//! from the saved results with [`grant_room`]. The job queue retries a failed attempt
//! and hands the job of a worker that died to another one; the grant ids
//! (`room:{room}:{player}`) make every retry harmless. So an instance dying right after
//! a game cannot lose its XP.
//!
//! The same job then tells every signed-in player that the room ended, with their place
//! ([`notify_ended`]); a notification's key (`room_ended:{room}`) makes a retried job
//! notify nobody twice, and a failed notification fails the job, so it is retried.

use futures_util::StreamExt;
use serde::Deserialize;
use uuid::Uuid;

use crate::notifications::{NewNotification, Notifications, RoomEnded};
use crate::ports::Store;
use crate::rules::room::room_grant;
use crate::xp::XpService;

/// The queue of room XP jobs.
pub const QUEUE: &str = "room-xp";
/// Grants running at once within one job.
const GRANTS_AT_ONCE: usize = 8;

/// A player's final place, as XP needs it (read from the results document).
#[derive(Deserialize)]
pub struct Placed {
    pub player_id: Uuid,
    pub guest: bool,
    pub rank: u64,
    pub correct: u32,
    pub answered: u32,
    #[serde(default)]
    pub score: u64,
    /// The XP the results show for the player.
    #[serde(default)]
    pub xp: i64,
}

#[derive(Deserialize)]
struct Document {
    players: Vec<Placed>,
}

/// What a `room_ended` notification says of the room itself.
pub struct EndedRoom {
    pub room_id: Uuid,
    pub code: String,
    pub title: String,
    pub end_reason: String,
}

/// Grants the XP of one room's saved results, then notifies its signed-in players.
/// Errors name what failed.
pub async fn grant_room(
    store: &dyn Store,
    xp: &XpService,
    notifications: &Notifications,
    room_id: Uuid,
) -> Result<usize, String> {
    let Some(result) = store
        .room_result(room_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Err(format!("no saved results for room {room_id}"));
    };
    let document: Document =
        serde_json::from_value(result.results).map_err(|e| format!("unreadable results: {e}"))?;
    let granted = grant_placed(xp, room_id, &document.players).await?;
    let room = EndedRoom {
        room_id,
        code: result.code,
        title: result.title,
        end_reason: result.end_reason,
    };
    notify_ended(notifications, &room, &document.players).await?;
    Ok(granted)
}

/// Tells every signed-in player of the room that it ended, with their place; guests
/// (and players whose account was deleted, kept as guests) are nobody to tell. Returns
/// how many were notified by this call (a repeat notifies none).
pub async fn notify_ended(
    notifications: &Notifications,
    room: &EndedRoom,
    players: &[Placed],
) -> Result<usize, String> {
    let count = players.len() as u32;
    // Owned before the stream: a future spawned over borrowed players is not `Send`
    // for every lifetime the compiler asks about.
    let ended: Vec<(Uuid, NewNotification)> = players
        .iter()
        .filter(|p| !p.guest)
        .map(|p| {
            let data = RoomEnded {
                room_id: room.room_id,
                code: room.code.clone(),
                title: room.title.clone(),
                end_reason: room.end_reason.clone(),
                rank: p.rank,
                players: count,
                score: p.score,
                xp: p.xp,
            };
            (p.player_id, NewNotification::room_ended(data))
        })
        .collect();
    let outcomes: Vec<Result<bool, String>> = futures_util::stream::iter(ended)
        .map(|(player, ended)| async move {
            notifications
                .notify(player, ended)
                .await
                .map(|created| created.is_some())
                .map_err(|e| format!("{player}: {e}"))
        })
        .buffer_unordered(GRANTS_AT_ONCE)
        .collect()
        .await;
    let failures: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    if let Some(first) = failures.first() {
        return Err(format!(
            "{} room-ended notifications failed, first: {first}",
            failures.len()
        ));
    }
    Ok(outcomes.iter().filter(|o| matches!(o, Ok(true))).count())
}

/// Grants every signed-in player of a room their XP; guests and players who answered
/// nothing get none. Returns how many grants were asked for.
pub async fn grant_placed(
    xp: &XpService,
    room_id: Uuid,
    players: &[Placed],
) -> Result<usize, String> {
    let room = room_id.to_string();
    let grants: Vec<_> = players
        .iter()
        .filter(|p| !p.guest)
        .filter_map(|p| {
            room_grant(
                &room,
                &p.player_id.to_string(),
                p.correct,
                p.answered,
                p.rank,
            )
            .map(|grant| (p.player_id, grant))
        })
        .collect();
    let count = grants.len();
    let failures: Vec<String> = futures_util::stream::iter(grants)
        .map(|(player, grant)| async move {
            xp.grant(player, &grant)
                .await
                .err()
                .map(|e| format!("{player}: {e}"))
        })
        .buffer_unordered(GRANTS_AT_ONCE)
        .filter_map(|failed| async move { failed })
        .collect()
        .await;
    if failures.is_empty() {
        Ok(count)
    } else {
        Err(format!(
            "{} grants failed, first: {}",
            failures.len(),
            failures[0]
        ))
    }
}
