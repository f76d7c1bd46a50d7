//! `RoomActor`: the single authority of one live room. It runs on the instance that
//! created the room, applies commands to the [`Game`] in arrival order, runs the
//! question clock, and publishes what happened as numbered batches of events on the
//! room's bus topic (relays on every instance deliver them). At the end it saves the
//! results, then grants XP through the ledger.
//!
//! Here: its state, the clock, batching, saves and its lifecycle; `commands` applies
//! what connections ask, `ending` ends the game.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

mod commands;
mod ending;

use super::Rooms;
use super::directory::Entry;
use super::event::{Batch, Command, Event, RoomBusEvent, Ticketed, events_topic};
use super::game::{EndReason, Game};
use super::snapshot::{Saved, SavedRef, Write};
use super::tickets::Tickets;
use crate::events::room::RoomPhase;
use crate::ports::BusSubscription;

/// A command for the room (from a local connection or relayed from another instance).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomCommand(pub Command);

/// A relay's numbered command: handled once however often it comes, and acknowledged.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TicketedCommand(pub Ticketed);

/// The state of the room and the way out, for a draining instance: the saved game
/// (for the next instance to adopt) after which the actor stops without ending.
#[derive(Message)]
#[rtype(result = "Option<(Entry, Vec<u8>)>")]
pub struct HandOver;

/// Saves between phase changes happen at most this often.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// How often coalesced counters (lobby, answered) and presence are looked at.
const TICK: Duration = Duration::from_millis(250);
/// Players in the lobby are told the count at most this often.
const LOBBY_EVERY: Duration = Duration::from_secs(1);
/// A room that published nothing for this long publishes a beat (see [`Batch::beat`]):
/// how long a relay can go without noticing that it missed the room's last batch.
pub(in crate::room) const BEAT_EVERY: Duration = Duration::from_secs(2);

pub struct RoomActor {
    game: Game,
    rooms: Arc<Rooms>,
    entry: Entry,
    created_at: DateTime<Utc>,
    seq: u64,
    outbox: Vec<Event>,
    flush_scheduled: bool,
    publisher: mpsc::UnboundedSender<Vec<u8>>,
    close_timer: Option<(DateTime<Utc>, SpawnHandle)>,
    host_ever_joined: bool,
    host_absent_since: Instant,
    empty_since: Option<Instant>,
    last_lobby: Instant,
    ending: bool,
    counted_phase: RoomPhase,
    counted_players: u32,
    commands: Option<tokio::task::JoinHandle<()>>,
    saver: tokio::sync::watch::Sender<Write>,
    saved_phase: Option<RoomPhase>,
    last_save: Instant,
    /// When the last batch or beat went to the publisher.
    last_published: Instant,
    unsaved: bool,
    handed_over: bool,
    /// The room's commands topic, subscribed before the room was listed (so nothing
    /// sent to a listed room misses it); read from `started` on.
    inbox: Option<BusSubscription>,
    tickets: Tickets,
}

impl RoomActor {
    /// An actor for a room another instance ran: its saved game, seats and clock.
    pub fn adopt(saved: Saved, rooms: Arc<Rooms>, entry: Entry, inbox: BusSubscription) -> Self {
        let mut actor = RoomActor::new(saved.game.adopted(), rooms, entry, inbox);
        actor.tickets = saved.tickets;
        actor.created_at = saved.created_at;
        actor.host_ever_joined = saved.host_ever_joined;
        // Far past anything the old owner published, so every relay sees a gap.
        actor.seq = saved.seq + 1_000_000;
        actor.counted_phase = RoomPhase::Lobby;
        actor
    }

    /// `inbox` is the room's commands topic, subscribed by the caller before it listed
    /// the room in the directory.
    pub fn new(game: Game, rooms: Arc<Rooms>, entry: Entry, inbox: BusSubscription) -> Self {
        let (publisher, mut queue) = mpsc::unbounded_channel::<Vec<u8>>();
        // One task publishes the batches one after the other, so they leave in order.
        let bus = rooms.deps.bus.clone();
        let topic = events_topic(entry.room_id);
        tokio::spawn(async move {
            while let Some(payload) = queue.recv().await {
                if let Err(e) = bus.publish(&topic, &payload).await {
                    tracing::warn!(error = %e, %topic, "room events could not be published");
                }
            }
        });
        let saver = super::snapshot::writer(rooms.deps.cache.clone(), entry.code.clone());
        RoomActor {
            game,
            rooms,
            entry,
            created_at: Utc::now(),
            seq: 0,
            outbox: Vec::new(),
            flush_scheduled: false,
            publisher,
            close_timer: None,
            host_ever_joined: false,
            host_absent_since: Instant::now(),
            empty_since: None,
            last_lobby: Instant::now(),
            ending: false,
            counted_phase: RoomPhase::Lobby,
            counted_players: 0,
            commands: None,
            saver,
            saved_phase: None,
            last_save: Instant::now(),
            last_published: Instant::now(),
            unsaved: true,
            handed_over: false,
            inbox: Some(inbox),
            tickets: Tickets::default(),
        }
    }

    /// The game as the next owner would need it.
    fn encode(&self) -> Option<Vec<u8>> {
        let saved = SavedRef {
            entry: &self.entry,
            created_at: self.created_at,
            seq: self.seq,
            host_ever_joined: self.host_ever_joined,
            game: &self.game,
            tickets: &self.tickets,
        };
        match serde_json::to_vec(&saved) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::error!(error = %e, "room state could not be encoded");
                None
            }
        }
    }

    /// Saves the game when its phase changed, else at most once a second.
    fn save(&mut self, force: bool) {
        if self.ending || self.handed_over {
            return;
        }
        let phase = Some(self.game.phase());
        let due = force
            || phase != self.saved_phase
            || (self.unsaved && self.last_save.elapsed() >= SAVE_EVERY);
        if !due {
            return;
        }
        if let Some(bytes) = self.encode() {
            let _ = self.saver.send(Write::Save(Arc::new(bytes)));
            self.saved_phase = phase;
            self.last_save = Instant::now();
            self.unsaved = false;
        }
    }

    fn push(&mut self, events: impl IntoIterator<Item = Event>) {
        self.outbox.extend(events);
    }

    /// Publishes what the last steps produced as one batch, with the relays'
    /// acknowledgements.
    fn flush(&mut self) {
        self.flush_scheduled = false;
        if self.outbox.is_empty() && !self.tickets.has_acks() {
            return;
        }
        self.seq += 1;
        let batch = Batch {
            seq: self.seq,
            at: Utc::now(),
            events: std::mem::take(&mut self.outbox),
            acks: self.tickets.take_acks(),
            beat: false,
        };
        self.publish(batch);
    }

    fn publish(&mut self, batch: Batch) {
        self.last_published = Instant::now();
        let _ = self.publisher.send(RoomBusEvent::Batch(batch).encode());
    }

    /// Publishes a beat when the room has been quiet for [`BEAT_EVERY`].
    fn beat(&mut self) {
        if self.last_published.elapsed() < BEAT_EVERY {
            return;
        }
        self.publish(Batch {
            seq: self.seq,
            at: Utc::now(),
            events: Vec::new(),
            acks: Vec::new(),
            beat: true,
        });
    }

    /// Flushes soon: commands arriving together share one batch.
    fn schedule_flush(&mut self, ctx: &mut Context<Self>) {
        if !self.flush_scheduled && (!self.outbox.is_empty() || self.tickets.has_acks()) {
            self.flush_scheduled = true;
            // Events first, then the save: serialising a big room's game takes
            // milliseconds that must not delay a question.
            ctx.run_later(Duration::ZERO, |act, _| {
                act.flush();
                act.save(false);
            });
        }
    }

    /// After every step: close a question everyone answered, keep the clock armed.
    fn settle(&mut self, ctx: &mut Context<Self>) {
        if self.game.phase() == RoomPhase::Question && self.game.everyone_answered() {
            self.close_question();
        }
        let due = self.game.closes_at();
        if self.close_timer.as_ref().map(|(at, _)| *at) != due {
            if let Some((_, handle)) = self.close_timer.take() {
                ctx.cancel_future(handle);
            }
            if let Some(at) = due {
                let wait = (at - Utc::now()).to_std().unwrap_or_default();
                let handle = ctx.run_later(wait, move |act, ctx| {
                    act.close_timer = None;
                    if act.game.closes_at().is_some_and(|due| due <= Utc::now()) {
                        act.close_question();
                    }
                    act.settle(ctx);
                });
                self.close_timer = Some((at, handle));
            }
        }
        self.count();
        if self.outbox.is_empty() && !self.tickets.has_acks() {
            self.save(false);
        } else {
            self.schedule_flush(ctx);
        }
    }

    fn close_question(&mut self) {
        if let Ok(events) = self.game.close_question(false) {
            self.push(events);
        }
    }

    /// Keeps the room gauges current.
    fn count(&mut self) {
        let metrics = &self.rooms.deps.metrics;
        let phase = self.game.phase();
        if phase != self.counted_phase {
            metrics.room_phase_changed(self.counted_phase, phase);
            self.counted_phase = phase;
        }
        let players = self.game.connected();
        if players != self.counted_players {
            metrics.room_players_changed(self.counted_players, players);
            self.counted_players = players;
        }
    }

    /// Every tick: the coalesced counters, and whether the room has been left alone.
    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.ending {
            return;
        }
        if self.game.answered_dirty && self.game.phase() == RoomPhase::Question {
            self.game.answered_dirty = false;
            if let Some(event) = self.game.answered_event() {
                self.outbox.push(event);
            }
        }
        if let Some(roster) = self.game.roster_event() {
            self.outbox.push(roster);
        }
        // The lobby count belongs to the lobby: once a game started, a pending count
        // must not reach players after the first question (they would jump back).
        if self.game.phase() != RoomPhase::Lobby {
            self.game.lobby_dirty = false;
        }
        if self.game.lobby_dirty && self.last_lobby.elapsed() >= LOBBY_EVERY {
            self.game.lobby_dirty = false;
            self.last_lobby = Instant::now();
            let event = self.game.lobby_event();
            self.outbox.push(event);
        }
        let settings = &self.rooms.settings;
        if self.game.host_connected() {
            self.host_absent_since = Instant::now();
        } else {
            let allowed = if self.host_ever_joined {
                settings.host_grace
            } else {
                settings.first_join_wait
            };
            if self.host_absent_since.elapsed() > allowed {
                let reason = if self.host_ever_joined {
                    EndReason::HostLeft
                } else {
                    EndReason::Abandoned
                };
                return self.end(reason, ctx);
            }
        }
        if self.host_ever_joined && !self.game.host_connected() && self.game.connected() == 0 {
            let since = *self.empty_since.get_or_insert_with(Instant::now);
            if since.elapsed() > settings.empty_grace {
                return self.end(EndReason::Abandoned, ctx);
            }
        } else {
            self.empty_since = None;
        }
        self.settle(ctx);
        if !self.flush_scheduled {
            self.beat();
        }
    }
}

impl Actor for RoomActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.rooms
            .deps
            .metrics
            .room_phase_changed_from_none(RoomPhase::Lobby);
        // Commands from connections on other instances.
        let addr = ctx.address();
        if let Some(mut inbox) = self.inbox.take() {
            self.commands = Some(tokio::spawn(async move {
                while let Some(payload) = inbox.recv().await {
                    match RoomBusEvent::decode(&payload) {
                        Some(RoomBusEvent::Command(command)) => addr.do_send(RoomCommand(command)),
                        Some(RoomBusEvent::Ticketed(ticketed)) => {
                            addr.do_send(TicketedCommand(ticketed))
                        }
                        Some(RoomBusEvent::Batch(_)) => {
                            tracing::warn!(topic = %inbox.topic, "a batch on a commands topic ignored")
                        }
                        None => {}
                    }
                    if !addr.connected() {
                        break;
                    }
                }
            }));
        }
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
        // The directory entry is a lease: refreshed well before it lapses.
        let every = self.rooms.directory.lease() / 3;
        ctx.run_interval(every, |act, ctx| {
            if act.ending {
                return;
            }
            let directory = act.rooms.directory.clone();
            let entry = act.entry.clone();
            ctx.spawn(
                async move { directory.refresh(&entry).await }
                    .into_actor(act)
                    .map(|refreshed, act, ctx| match refreshed {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::error!(room_id = %act.entry.room_id, "room code taken over after a lapsed lease: ending");
                            act.end(EndReason::Abandoned, ctx);
                        }
                        Err(e) => tracing::warn!(error = %e, "room lease could not be refreshed"),
                    }),
            );
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Some(task) = self.commands.take() {
            task.abort();
        }
        let metrics = &self.rooms.deps.metrics;
        metrics.room_phase_changed_to_none(self.counted_phase);
        metrics.room_players_changed(self.counted_players, 0);
        self.rooms.forget_local(self.entry.room_id);
    }
}

impl Handler<HandOver> for RoomActor {
    type Result = Option<(Entry, Vec<u8>)>;

    fn handle(&mut self, _: HandOver, ctx: &mut Context<Self>) -> Self::Result {
        if self.ending {
            return None;
        }
        self.flush();
        let bytes = self.encode()?;
        self.handed_over = true;
        ctx.stop();
        Some((self.entry.clone(), bytes))
    }
}

impl Handler<RoomCommand> for RoomActor {
    type Result = ();

    fn handle(&mut self, RoomCommand(command): RoomCommand, ctx: &mut Context<Self>) {
        self.unsaved = true;
        self.handle_command(command, ctx);
        if !self.ending {
            self.settle(ctx);
        } else {
            self.schedule_flush(ctx);
        }
    }
}

impl Handler<TicketedCommand> for RoomActor {
    type Result = ();

    fn handle(&mut self, TicketedCommand(ticketed): TicketedCommand, ctx: &mut Context<Self>) {
        if self.tickets.first_time(ticketed.from, ticketed.ticket) {
            self.handle(RoomCommand(ticketed.command), ctx);
        } else {
            // Sent again (the acknowledgement was late or lost): acknowledged again only.
            self.schedule_flush(ctx);
        }
    }
}
