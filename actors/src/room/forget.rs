//! A deleted learner in finished rooms' results: as a player, they become an anonymous
//! guest named [`DELETED_PLAYER`] (under a fresh id), so everyone else keeps their place
//! and score; as the host, the room gets the nil host, which nobody's list shows.
//!
//! Rewrites are compare-and-sets on the stored document
//! ([`crate::ports::RoomResultStore::replace_room_result`]), retried on a conflict, so
//! two players of one room deleting their accounts at once both stay anonymous. A room
//! that ends while one of its players deletes their account is checked once its results
//! are saved ([`forget_deleted`]): the deletion marks the account before it lists the
//! learner's rooms, so either it finds the room or the room's check finds the mark.

use serde_json::Value;
use uuid::Uuid;

use crate::ports::store::RoomResult;
use crate::ports::{Store, StoreError};

/// The name a deleted learner has in the rooms they played.
pub const DELETED_PLAYER: &str = "deleted player";

/// Compare-and-set attempts on one room before giving up (each lost one means another
/// learner of the room was made anonymous meanwhile).
const ATTEMPTS: usize = 8;

/// `result` without `user_id`, or `None` when it does not name them. As a player they
/// keep their rank, score and answers under a fresh id, as a guest named
/// [`DELETED_PLAYER`] (a guest gets no XP, so a retried XP job grants them nothing); as
/// the host, the room's host becomes nil.
pub fn anonymised(result: &RoomResult, user_id: Uuid) -> Option<RoomResult> {
    let mut out = result.clone();
    let mut changed = false;
    let id = Value::String(user_id.to_string());
    if let Some(players) = out.results.get_mut("players").and_then(Value::as_array_mut) {
        for player in players.iter_mut().filter_map(Value::as_object_mut) {
            let guest = player.get("guest") == Some(&Value::Bool(true));
            if player.get("player_id") == Some(&id) && !guest {
                player.insert("player_id".into(), Uuid::new_v4().to_string().into());
                player.insert("name".into(), DELETED_PLAYER.into());
                player.insert("guest".into(), true.into());
                changed = true;
            }
        }
    }
    if out.host_id == user_id {
        out.host_id = Uuid::nil();
        changed = true;
    }
    if let Some(host) = out.results.get_mut("host_id")
        && *host == id
    {
        *host = Uuid::nil().to_string().into();
        changed = true;
    }
    changed.then_some(out)
}

/// Makes `user_id` anonymous in one room's stored results; false when the room does
/// not name them (or is unknown).
pub async fn forget_in_room(
    store: &dyn Store,
    room_id: Uuid,
    user_id: Uuid,
) -> Result<bool, StoreError> {
    for _ in 0..ATTEMPTS {
        let Some(stored) = store.room_result(room_id).await? else {
            return Ok(false);
        };
        let Some(anonymous) = anonymised(&stored, user_id) else {
            return Ok(false);
        };
        if store.replace_room_result(&stored, &anonymous).await? {
            return Ok(true);
        }
    }
    Err(StoreError::Unavailable(format!(
        "room {room_id} kept changing while a learner was made anonymous in it"
    )))
}

/// After a room's results are saved: makes anonymous those of its host and players
/// whose accounts were deleted while it was played. Returns how many.
pub async fn forget_deleted(store: &dyn Store, result: &RoomResult) -> Result<usize, StoreError> {
    let mut people = result.player_ids();
    if result.listed() {
        people.push(result.host_id);
    }
    let deleted = store.deleted_users(&people).await?;
    for &user_id in &deleted {
        forget_in_room(store, result.room_id, user_id).await?;
    }
    Ok(deleted.len())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    fn room(host: Uuid, players: &[(Uuid, &str, bool)]) -> RoomResult {
        RoomResult {
            room_id: Uuid::now_v7(),
            code: "ABC123".into(),
            host_id: host,
            title: "Quiz".into(),
            created_at: Utc::now(),
            ended_at: Utc::now(),
            end_reason: "finished".into(),
            players: players.len() as u32,
            results: json!({
                "host_id": host,
                "players": players.iter().enumerate().map(|(i, (id, name, guest))| json!({
                    "rank": i + 1, "player_id": id, "name": name, "guest": guest,
                    "score": 900 - i * 100, "xp": 10,
                })).collect::<Vec<_>>(),
            }),
        }
    }

    #[test]
    fn a_deleted_player_keeps_their_place_under_another_id_as_a_guest() {
        let (ann, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let before = room(Uuid::new_v4(), &[(ann, "Ann", false), (bob, "Bob", false)]);

        let after = anonymised(&before, ann).expect("Ann is in it");

        let gone = &after.results["players"][0];
        assert_eq!(gone["name"], DELETED_PLAYER);
        assert_eq!(gone["guest"], true);
        assert_eq!(gone["rank"], 1);
        assert_eq!(gone["score"], 900);
        assert_ne!(gone["player_id"], json!(ann));
        assert_eq!(after.results["players"][1], before.results["players"][1]);
        assert_eq!(after.player_ids(), vec![bob]);
        assert_eq!(after.host_id, before.host_id);
        assert!(anonymised(&after, ann).is_none(), "nothing left to change");
    }

    #[test]
    fn a_deleted_host_leaves_the_nil_host() {
        let host = Uuid::new_v4();
        let before = room(host, &[(Uuid::new_v4(), "Ann", false)]);

        let after = anonymised(&before, host).expect("the host");

        assert!(after.host_id.is_nil());
        assert_eq!(after.results["host_id"], json!(Uuid::nil()));
        assert_eq!(after.results["players"], before.results["players"]);
        assert!(!after.listed());
    }

    #[test]
    fn guests_are_not_accounts() {
        let id = Uuid::new_v4();
        let before = room(Uuid::new_v4(), &[(id, "Guest", true)]);
        assert!(anonymised(&before, id).is_none());
    }
}
