//! One relay per room per instance with connections in that room: it subscribes to the
//! room's event batches on the bus and hands each event to the local connections it is
//! addressed to. The room actor publishes a batch once, whatever the number of players
//! and instances, and every instance (the owner's too) delivers it the same way, so all
//! players see the same events in the same order.
//!
//! The relay also carries its connections' commands to the room, numbered
//! ([`Ticketed`]): it holds each until a batch acknowledges it, sends what waits longer
//! than [`ACK_WAIT`] again (looking the room up first, which adopts it when its owner is
//! gone), and sends everything held to the room's next owner as soon as it sees the room
//! moved. So nothing a player sends is lost while a room moves between instances; what
//! no room took within the lease and [`HOLD_MARGIN`] is answered `unavailable`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Rooms;
use super::actor::{RoomCommand, TicketedCommand};
use super::directory::Entry;
use super::event::{Batch, Command, Event, RoomBusEvent, Target, Ticketed, commands_topic};
use crate::events::{Notice, RoomEvent, codes};
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
    /// A command of one of the relay's connections, for the room.
    Send(Command),
}

/// A command sent and not yet acknowledged.
struct Held {
    ticket: u64,
    command: Command,
    first_sent: Instant,
    last_sent: Instant,
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
    /// When the room last published to this relay (a batch or a beat).
    last_heard: Option<Instant>,
    /// This relay as its tickets name it (a new one per run: tickets count from 1).
    sender: Uuid,
    /// Whether the owner acknowledges tickets (else commands go plain, unheld).
    tickets: bool,
    last_ticket: u64,
    /// Sent, not yet acknowledged, in ticket order.
    held: VecDeque<Held>,
    /// Publishes commands on the room's commands topic, in order.
    publisher: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

impl Relay {
    pub fn new(entry: &Entry, local_owner: bool) -> Self {
        Relay {
            room_id: entry.room_id,
            code: entry.code.clone(),
            host_id: entry.host_id,
            local_owner,
            owner: Some(entry.owner),
            members: HashMap::new(),
            by_player: HashMap::new(),
            last_seq: None,
            last_heard: None,
            sender: Uuid::new_v4(),
            tickets: entry.tickets,
            last_ticket: 0,
            held: VecDeque::new(),
            publisher: None,
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
}

/// Runs a relay until no local connection is left in the room.
pub(super) async fn run(
    rooms: Arc<Rooms>,
    mut relay: Relay,
    mut subscription: BusSubscription,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let room_id = relay.room_id;
    relay.publisher = Some(publisher(&rooms, room_id));
    let mut watch = tokio::time::interval(rooms.directory.lease() / 2);
    watch.tick().await;
    let mut resend = tokio::time::interval(ACK_WAIT);
    resend.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    resend.tick().await;
    loop {
        tokio::select! {
            biased;
            command = control.recv() => match command {
                Some(Control::Attach { connection_id, player_id, outbound, left }) => {
                    relay.attach(connection_id, player_id, outbound, left);
                }
                Some(Control::Detach { connection_id }) => relay.detach(connection_id),
                Some(Control::Send(command)) => relay.send(&rooms, command),
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
            _ = resend.tick(), if !relay.held.is_empty() => relay.resend(&rooms).await,
        }
        if relay.members.is_empty()
            && relay.held.is_empty()
            && rooms.retire_relay(room_id, &mut control)
        {
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
        self.last_heard = Some(Instant::now());
        if batch.beat {
            // A beat repeats the number of the room's last batch: ahead of ours, that
            // batch was missed, and nothing may follow it soon.
            if self.last_seq.is_some_and(|last| batch.seq > last) {
                tracing::warn!(%room_id, "the room's last events missed: asking for the state");
                let players = self.players();
                self.send(rooms, Command::Resync { players });
            }
            if self.last_seq.is_none_or(|last| batch.seq > last) {
                self.last_seq = Some(batch.seq);
            }
            return;
        }
        match self.last_seq {
            Some(last) if batch.seq <= last => return,
            Some(last) if batch.seq > last + 1 => {
                tracing::warn!(%room_id, missed = batch.seq - last - 1, "room events missed: asking for the state");
                let players = self.players();
                self.send(rooms, Command::Resync { players });
            }
            _ => {}
        }
        self.last_seq = Some(batch.seq);
        if let Some(ack) = batch.acks.iter().find(|a| a.from == self.sender) {
            while self.held.front().is_some_and(|h| h.ticket <= ack.done) {
                self.held.pop_front();
            }
        }
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
                self.tickets = entry.tickets;
                if moved {
                    tracing::info!(%room_id, owner = %entry.owner, held = self.held.len(), "room moved: reattaching local players");
                    self.last_seq = None;
                    // What the old owner did not acknowledge first, in order.
                    let now = Instant::now();
                    for held in &self.held {
                        self.dispatch(rooms, held.ticket, &held.command);
                    }
                    for held in &mut self.held {
                        held.last_sent = now;
                    }
                    // Connections whose join is held are seated by it, not reattached.
                    let joining: Vec<Uuid> = self
                        .held
                        .iter()
                        .filter_map(|h| h.command.joining())
                        .collect();
                    let players = self
                        .members
                        .iter()
                        .filter(|(c, _)| !joining.contains(c))
                        .map(|(_, m)| m.player_id)
                        .collect();
                    self.send(rooms, Command::Reattach { players });
                }
            }
            // Not listed, but heard from lately: its entry was lost with Redis's data
            // (a master restarted, a flush) and the owner lists it again at its next
            // refresh. Closing it here would end a live game for these players.
            _ if self
                .last_heard
                .is_some_and(|heard| heard.elapsed() < OWNER_SILENCE) =>
            {
                tracing::info!(%room_id, "room not listed but alive: waiting for its owner to list it again");
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
                // Nobody will answer what is held: the room's end answers it.
                self.held.clear();
            }
        }
    }

    /// Sends a command of a local connection, held until the room acknowledges it (an
    /// owner of a version before tickets gets it plain, as before).
    ///
    /// A `Disconnected` is sent once, plain: it only means something to the owner that
    /// counted the connection (a room's next owner counts only the connections its
    /// reattach and joins bring), so it must not follow the room to its next owner.
    fn send(&mut self, rooms: &Arc<Rooms>, command: Command) {
        let local = rooms.local_actor(self.room_id);
        let once = matches!(command, Command::Disconnected { .. });
        if once || (!self.tickets && local.is_none()) {
            match local {
                Some(addr) => addr.do_send(RoomCommand(command)),
                None => self.publish(RoomBusEvent::Command(command)),
            }
            return;
        }
        if self.held.len() >= MAX_HELD {
            tracing::warn!(room_id = %self.room_id, "too many room commands held: refused");
            return self.refuse(command);
        }
        self.last_ticket += 1;
        let ticket = self.last_ticket;
        self.dispatch(rooms, ticket, &command);
        let now = Instant::now();
        self.held.push_back(Held {
            ticket,
            command,
            first_sent: now,
            last_sent: now,
        });
    }

    /// Hands a ticketed command to the room's actor: directly when it runs here, else
    /// on the room's commands topic (whichever instance runs it hears it there).
    fn dispatch(&self, rooms: &Arc<Rooms>, ticket: u64, command: &Command) {
        let ticketed = Ticketed {
            from: self.sender,
            ticket,
            command: command.clone(),
        };
        match rooms.local_actor(self.room_id) {
            Some(addr) => addr.do_send(TicketedCommand(ticketed)),
            None => self.publish(RoomBusEvent::Ticketed(ticketed)),
        }
    }

    fn publish(&self, event: RoomBusEvent) {
        if let Some(publisher) = &self.publisher {
            let _ = publisher.send(event.encode());
        }
    }

    /// Commands unacknowledged for [`ACK_WAIT`]: the room may be moving. Looks the room
    /// up (following or adopting it; a move sends everything held to the new owner),
    /// then sends again what still waits; what waited past the lease and
    /// [`HOLD_MARGIN`] is refused.
    async fn resend(&mut self, rooms: &Arc<Rooms>) {
        let waited = |held: &Held| held.last_sent.elapsed() >= ACK_WAIT;
        if !self.held.front().is_some_and(waited) {
            return;
        }
        if !rooms.is_draining() {
            self.follow_owner(rooms).await;
        }
        let limit = rooms.directory.lease() + HOLD_MARGIN;
        while self
            .held
            .front()
            .is_some_and(|h| h.first_sent.elapsed() > limit)
        {
            let held = self.held.pop_front().expect("front");
            tracing::warn!(room_id = %self.room_id, ticket = held.ticket, "room command not acknowledged in time: refused");
            self.refuse(held.command);
        }
        let now = Instant::now();
        let due: Vec<(u64, Command)> = self
            .held
            .iter()
            .filter(|h| waited(h))
            .map(|h| (h.ticket, h.command.clone()))
            .collect();
        for (ticket, command) in &due {
            self.dispatch(rooms, *ticket, command);
        }
        for held in self.held.iter_mut().filter(|h| waited(h)) {
            held.last_sent = now;
        }
    }

    /// Tells the connection that sent a command the room could not take it. A refused
    /// join leaves the room (as one the room refuses does), so that its next
    /// `room.join` is a join again.
    fn refuse(&mut self, command: Command) {
        if let Some((connection_id, re)) = command.asked_by() {
            let refused = Notice::Refused {
                re,
                code: codes::UNAVAILABLE.into(),
                message: "the game is moving to another server; send this again".into(),
            };
            let event = Event::to(Target::Connection(connection_id), refused);
            self.deliver(match command.joining() {
                Some(_) => event.detaching(),
                None => event,
            });
        }
    }
}

/// Starts the task that publishes a relay's commands one after the other.
fn publisher(rooms: &Arc<Rooms>, room_id: Uuid) -> mpsc::UnboundedSender<Vec<u8>> {
    let (sender, mut queue) = mpsc::unbounded_channel::<Vec<u8>>();
    let bus = rooms.deps.bus.clone();
    let topic = commands_topic(room_id);
    tokio::spawn(async move {
        while let Some(payload) = queue.recv().await {
            if let Err(e) = bus.publish(&topic, &payload).await {
                // Held: sent again after [`ACK_WAIT`].
                tracing::warn!(error = %e, %topic, "room command could not be relayed");
            }
        }
    });
    sender
}

/// How long a relay waits for a command's acknowledgement before it looks the room up
/// and sends the command again.
pub const ACK_WAIT: Duration = Duration::from_secs(1);

/// How long past the directory lease (within which a dead owner's room is adopted) a
/// command is held before its sender is told `unavailable`.
pub const HOLD_MARGIN: Duration = Duration::from_secs(15);

/// A room not listed in the directory is taken for gone only when it has not published
/// (a batch, or a beat every [`BEAT_EVERY`](super::actor::BEAT_EVERY)) for this long.
const OWNER_SILENCE: Duration = Duration::from_secs(3 * super::actor::BEAT_EVERY.as_secs());

/// Most commands one relay holds at once (more are refused `unavailable`).
const MAX_HELD: usize = 10_000;

/// How long a relay waits for its first subscription before giving up.
pub(super) const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
