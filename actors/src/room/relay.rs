//! One relay per room per instance with connections in that room: it subscribes to the
//! room's event batches on the bus and hands each event to the local connections it is
//! addressed to. The room actor publishes a batch once, whatever the number of players
//! and instances, and every instance (the owner's too) delivers it the same way, so all
//! players see the same events in the same order.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Rooms;
use super::event::{Batch, Command, Event, RoomBusEvent, Target};
use crate::events::{Notice, RoomEvent};
use crate::outbound::{Outbound, Outgoing, SharedNotice};
use crate::ports::BusSubscription;

/// A connection's place in a room, as its socket task holds it.
#[derive(Clone)]
pub struct Attachment {
    pub room_id: Uuid,
    pub code: String,
    pub player_id: Uuid,
    /// Set by the relay when the room let this connection go (kicked, refused, over).
    pub left: Arc<AtomicBool>,
}

impl Attachment {
    pub fn is_left(&self) -> bool {
        self.left.load(Ordering::SeqCst)
    }
}

pub(crate) enum Control {
    Attach {
        connection_id: Uuid,
        player_id: Uuid,
        outbound: Outbound,
        left: Arc<AtomicBool>,
    },
    Detach {
        connection_id: Uuid,
    },
}

struct Member {
    player_id: Uuid,
    outbound: Outbound,
    left: Arc<AtomicBool>,
}

pub(super) struct Relay {
    pub room_id: Uuid,
    pub code: String,
    pub host_id: Uuid,
    /// Whether the room's actor runs on this instance (else the relay watches the
    /// directory, to tell its players when the owner is gone).
    pub local_owner: bool,
    /// The instance running the room's actor, as last seen.
    owner: Option<Uuid>,
    members: HashMap<Uuid, Member>,
    by_player: HashMap<Uuid, Vec<Uuid>>,
    last_seq: Option<u64>,
}

impl Relay {
    pub fn new(room_id: Uuid, code: String, host_id: Uuid, owner: Uuid, local_owner: bool) -> Self {
        Relay {
            room_id,
            code,
            host_id,
            local_owner,
            owner: Some(owner),
            members: HashMap::new(),
            by_player: HashMap::new(),
            last_seq: None,
        }
    }

    fn attach(
        &mut self,
        connection_id: Uuid,
        player_id: Uuid,
        outbound: Outbound,
        left: Arc<AtomicBool>,
    ) {
        self.by_player
            .entry(player_id)
            .or_default()
            .push(connection_id);
        self.members.insert(
            connection_id,
            Member {
                player_id,
                outbound,
                left,
            },
        );
    }

    fn detach(&mut self, connection_id: Uuid) {
        if let Some(member) = self.members.remove(&connection_id) {
            member.left.store(true, Ordering::SeqCst);
            if let Some(list) = self.by_player.get_mut(&member.player_id) {
                list.retain(|c| *c != connection_id);
                if list.is_empty() {
                    self.by_player.remove(&member.player_id);
                }
            }
        }
    }

    fn targets(&self, to: Target) -> Vec<Uuid> {
        match to {
            Target::All => self.members.keys().copied().collect(),
            Target::Players => self
                .members
                .iter()
                .filter(|(_, m)| m.player_id != self.host_id)
                .map(|(c, _)| *c)
                .collect(),
            Target::Host => self
                .by_player
                .get(&self.host_id)
                .cloned()
                .unwrap_or_default(),
            Target::Player(id) => self.by_player.get(&id).cloned().unwrap_or_default(),
            Target::Connection(c) => {
                if self.members.contains_key(&c) {
                    vec![c]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Delivers one event; returns whether it carried a question (for the fan-out time).
    fn deliver(&mut self, event: Event) -> bool {
        let question = matches!(event.message, Notice::Room(RoomEvent::QuestionOpened(_)));
        let targets = self.targets(event.to);
        let mut gone = Vec::new();
        if let [only] = targets.as_slice() {
            if let Some(member) = self.members.get(only)
                && !member.outbound.deliver(event.message)
            {
                gone.push(*only);
            }
        } else if !targets.is_empty() {
            // One copy, encoded once, for every socket.
            let shared = SharedNotice::new(event.message);
            for connection_id in &targets {
                if let Some(member) = self.members.get(connection_id)
                    && !member
                        .outbound
                        .deliver(Outgoing::Shared(Arc::clone(&shared)))
                {
                    gone.push(*connection_id);
                }
            }
        }
        if event.detach {
            gone.extend(targets);
        }
        for connection_id in gone {
            self.detach(connection_id);
        }
        question
    }

    fn players(&self) -> Vec<Uuid> {
        self.by_player.keys().copied().collect()
    }

    /// One entry per local connection, by player.
    fn connections(&self) -> Vec<Uuid> {
        self.members.values().map(|m| m.player_id).collect()
    }
}

/// Runs a relay until no local connection is left in the room.
pub(super) async fn run(
    rooms: Arc<Rooms>,
    mut relay: Relay,
    mut subscription: BusSubscription,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let room_id = relay.room_id;
    let mut watch = tokio::time::interval(rooms.directory.lease() / 2);
    watch.tick().await;
    loop {
        tokio::select! {
            biased;
            command = control.recv() => match command {
                Some(Control::Attach { connection_id, player_id, outbound, left }) => {
                    relay.attach(connection_id, player_id, outbound, left);
                }
                Some(Control::Detach { connection_id }) => relay.detach(connection_id),
                None => break,
            },
            payload = subscription.recv() => {
                let Some(payload) = payload else { break };
                let Some(RoomBusEvent::Batch(batch)) = RoomBusEvent::decode(&payload) else {
                    tracing::warn!(%room_id, "a room bus event that is not a batch ignored");
                    continue;
                };
                relay.receive(&rooms, batch);
            }
            _ = watch.tick(), if !rooms.is_draining() => relay.follow_owner(&rooms).await,
        }
        if relay.members.is_empty() && rooms.retire_relay(room_id, &mut control) {
            break;
        }
    }
    // Anything attached meanwhile is let go (cannot happen once retired; kept safe).
    for member in relay.members.values() {
        member.left.store(true, Ordering::SeqCst);
    }
}

impl Relay {
    /// Delivers a batch, in order; a gap in the numbers (the bus is at-most-once) asks
    /// the room for its players' state.
    fn receive(&mut self, rooms: &Arc<Rooms>, batch: Batch) {
        let room_id = self.room_id;
        match self.last_seq {
            Some(last) if batch.seq <= last => return,
            Some(last) if batch.seq > last + 1 => {
                tracing::warn!(%room_id, missed = batch.seq - last - 1, "room events missed: asking for the state");
                let players = self.players();
                let rooms = rooms.clone();
                tokio::spawn(async move {
                    rooms.send(room_id, Command::Resync { players }).await;
                });
            }
            _ => {}
        }
        self.last_seq = Some(batch.seq);
        let mut fanned_question = false;
        for event in batch.events {
            fanned_question |= self.deliver(event);
        }
        if fanned_question {
            let elapsed = (Utc::now() - batch.at).to_std().unwrap_or_default();
            rooms.deps.metrics.room_fanout(elapsed);
        }
    }

    /// The owner may have died or drained: looks the room up (which adopts it when it
    /// is saved and nobody runs it) and follows it to its new owner, or tells the
    /// players it is gone.
    async fn follow_owner(&mut self, rooms: &Arc<Rooms>) {
        let room_id = self.room_id;
        let found = match rooms.find(&self.code).await {
            Ok(found) => found,
            // The cache is down, not necessarily the owner: keep waiting.
            Err(_) => return,
        };
        match found {
            Some(entry) if entry.room_id == room_id => {
                let moved = self.owner.is_some_and(|owner| owner != entry.owner);
                self.owner = Some(entry.owner);
                self.local_owner = entry.owner == rooms.instance_id;
                if moved {
                    tracing::info!(%room_id, owner = %entry.owner, "room moved: reattaching local players");
                    self.last_seq = None;
                    let players = self.connections();
                    rooms.send(room_id, Command::Reattach { players }).await;
                }
            }
            _ => {
                tracing::warn!(%room_id, "room owner gone: closing the room for local players");
                let gone = RoomEvent::Ended {
                    room_id,
                    reason: "unavailable".into(),
                    podium: Vec::new(),
                    players: 0,
                    results_saved: false,
                };
                self.deliver(Event::to(Target::All, Notice::Room(gone)).detaching());
            }
        }
    }
}

/// How long a relay waits for its first subscription before giving up.
pub(super) const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
