//! XP for a finished room: the room actor saves the results, then queues the room's id
//! on [`QUEUE`]; a worker (the server runs it) grants every signed-in player their XP
//! from the saved results with [`grant_room`]. The job queue retries a failed attempt
//! and hands the job of a worker that died to another one; the grant ids
//! (`room:{room}:{player}`) make every retry harmless. So an instance dying right after
//! a game cannot lose its XP.

use futures_util::StreamExt;
use serde::Deserialize;
use uuid::Uuid;

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
}

#[derive(Deserialize)]
struct Document {
    players: Vec<Placed>,
}

/// Grants the XP of one room's saved results. Errors name what failed.
pub async fn grant_room(store: &dyn Store, xp: &XpService, room_id: Uuid) -> Result<usize, String> {
    let Some(result) = store
        .room_result(room_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Err(format!("no saved results for room {room_id}"));
    };
    let document: Document =
        serde_json::from_value(result.results).map_err(|e| format!("unreadable results: {e}"))?;
    grant_placed(xp, room_id, &document.players).await
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
