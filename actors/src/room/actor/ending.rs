//! The end of a room: results saved first (so "results saved" is true when said), then
//! the last events, then XP for every signed-in player, then the code is released. Once
//! saved, the results are checked for learners who deleted their accounts meanwhile
//! (see [`crate::room::forget`]).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use uuid::Uuid;

use super::RoomActor;
use crate::events::{Notice, RoomEvent};
use crate::ports::store::RoomResult;
use crate::room::Rooms;
use crate::room::forget::forget_deleted;
use crate::room::game::{EndReason, Results};
use crate::room::grants::{EndedRoom, Placed, QUEUE, grant_placed, grant_room, notify_ended};
use crate::room::snapshot::Write;

/// How long the store gets to save a room's results.
const SAVE_RESULTS_WITHIN: Duration = Duration::from_secs(10);

impl RoomActor {
    /// Ends the game (once): scores and ranks it, saves the results, tells everyone,
    /// grants XP and stops.
    pub(super) fn end(&mut self, reason: EndReason, ctx: &mut Context<Self>) {
        if self.ending {
            return;
        }
        self.ending = true;
        if let Some((_, handle)) = self.close_timer.take() {
            ctx.cancel_future(handle);
        }
        let (mut events, results) = self.game.end(reason, true);
        self.count();
        let _ = self.saver.send(Write::Delete);
        let record = self.record(reason, &results);
        let store = self.rooms.deps.store.clone();
        let save = async move {
            let saved =
                tokio::time::timeout(SAVE_RESULTS_WITHIN, store.save_room_result(&record)).await;
            if matches!(saved, Ok(Ok(()))) {
                // Someone who deleted their account while the room was played.
                tokio::spawn(async move {
                    if let Err(e) = forget_deleted(store.as_ref(), &record).await {
                        tracing::error!(room_id = %record.room_id, error = %e, "deleted learners not yet made anonymous in the room's results");
                    }
                });
            }
            saved
        };
        self.rooms.deps.metrics.room_ended(reason.as_str());
        ctx.wait(save.into_actor(self).map(move |saved, act, ctx| {
            let saved = matches!(saved, Ok(Ok(())));
            if !saved {
                tracing::error!(room_id = %act.entry.room_id, ?saved, "room results could not be saved");
                for event in &mut events {
                    if let Notice::Room(RoomEvent::Ended { results_saved, .. }) = &mut event.message {
                        *results_saved = false;
                    }
                }
            }
            act.push(events);
            act.flush();
            if saved {
                tokio::spawn(queue_xp(act.rooms.clone(), act.entry.room_id));
            } else {
                tokio::spawn(grant_from_memory(act.rooms.clone(), results));
            }
            let rooms = act.rooms.clone();
            let entry = act.entry.clone();
            tokio::spawn(async move {
                if let Err(e) = rooms.directory.release(&entry).await {
                    tracing::warn!(error = %e, "room code could not be released; it expires with its lease");
                }
            });
            ctx.stop();
        }));
    }

    /// The results as the store keeps them.
    fn record(&self, reason: EndReason, results: &Results) -> RoomResult {
        RoomResult {
            room_id: results.room_id,
            code: results.code.clone(),
            host_id: results.host_id,
            title: results.title.clone(),
            created_at: self.created_at,
            ended_at: Utc::now(),
            end_reason: reason.as_str().into(),
            players: results.players.len() as u32,
            results: serde_json::to_value(results).unwrap_or_default(),
        }
    }
}

/// Queues the room's XP: a worker grants it from the saved results (retried, and
/// taken over by another instance if this one dies). Without saved results (the store
/// failed) the grants are made here, from memory, as the only chance left.
async fn queue_xp(rooms: Arc<Rooms>, room_id: Uuid) {
    let queued = rooms
        .deps
        .job_queue
        .enqueue(QUEUE, room_id.to_string().as_bytes())
        .await;
    if let Err(e) = queued {
        tracing::warn!(error = %e, %room_id, "room XP job could not be queued; granting now");
        let deps = &rooms.deps;
        if let Err(e) =
            grant_room(deps.store.as_ref(), &deps.xp, &deps.notifications, room_id).await
        {
            tracing::error!(%room_id, error = %e, "room XP could not be granted");
        }
    }
}

/// Grants and notifies from the in-memory results (only when they could not be saved).
async fn grant_from_memory(rooms: Arc<Rooms>, results: Results) {
    let players: Vec<Placed> = results
        .players
        .iter()
        .map(|p| Placed {
            player_id: p.player_id,
            guest: p.guest,
            rank: p.rank,
            correct: p.correct,
            answered: p.answered,
            score: p.score,
            xp: p.xp,
        })
        .collect();
    if let Err(e) = grant_placed(&rooms.deps.xp, results.room_id, &players).await {
        tracing::error!(room_id = %results.room_id, error = %e, "room XP could not be granted");
    }
    let room = EndedRoom {
        room_id: results.room_id,
        code: results.code.clone(),
        title: results.title.clone(),
        end_reason: results.end_reason.as_str().into(),
    };
    if let Err(e) = notify_ended(&rooms.deps.notifications, &room, &players).await {
        tracing::error!(room_id = %results.room_id, error = %e, "players not told the room ended");
    }
}
