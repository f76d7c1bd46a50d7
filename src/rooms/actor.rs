//! `RoomActor`: the single authority of one live room. It runs on the instance that
//! created the room, applies commands to the [`Game`] in arrival order, runs the
//! question clock, and publishes what happened as numbered batches of events on the
//! room's bus topic (relays on every instance deliver them). At the end it saves the
//! results, then grants XP through the ledger.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Rooms;
use super::directory::Entry;
use super::event::{Batch, Command, Event, HostAction, Target, events_topic};
use super::game::{EndReason, Game, Refusal, Results};
use super::snapshot::{Saved, SavedRef, Write};
use super::xp_jobs::{Placed, grant_placed};
use questpath_actors::events::room::RoomPhase;
use questpath_actors::events::{Notice, RoomEvent, codes};
use questpath_actors::ports::store::RoomResult;

/// A command for the room (from a local connection or relayed from another instance).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomCommand(pub Command);

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
    unsaved: bool,
    handed_over: bool,
}

impl RoomActor {
    /// An actor for a room another instance ran: its saved game, seats and clock.
    pub fn adopt(saved: Saved, rooms: Arc<Rooms>, entry: Entry) -> Self {
        let mut actor = RoomActor::new(saved.game.adopted(), rooms, entry);
        actor.created_at = saved.created_at;
        actor.host_ever_joined = saved.host_ever_joined;
        // Far past anything the old owner published, so every relay sees a gap.
        actor.seq = saved.seq + 1_000_000;
        actor.counted_phase = RoomPhase::Lobby;
        actor
    }

    pub fn new(game: Game, rooms: Arc<Rooms>, entry: Entry) -> Self {
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
            unsaved: true,
            handed_over: false,
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

    fn refuse(&mut self, connection_id: Uuid, re: Option<String>, refusal: Refusal) {
        self.outbox.push(error_to(connection_id, re, refusal));
    }

    /// Publishes what the last steps produced as one batch.
    fn flush(&mut self) {
        self.flush_scheduled = false;
        if self.outbox.is_empty() {
            return;
        }
        self.seq += 1;
        let batch = Batch {
            seq: self.seq,
            at: Utc::now(),
            events: std::mem::take(&mut self.outbox),
        };
        match serde_json::to_vec(&batch) {
            Ok(payload) => {
                let _ = self.publisher.send(payload);
            }
            Err(e) => tracing::error!(error = %e, "room batch could not be encoded"),
        }
    }

    /// Flushes soon: commands arriving together share one batch.
    fn schedule_flush(&mut self, ctx: &mut Context<Self>) {
        if !self.flush_scheduled && !self.outbox.is_empty() {
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
        if self.outbox.is_empty() {
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
            metrics.room_phase_changed(self.counted_phase.name(), phase.name());
            self.counted_phase = phase;
        }
        let players = self.game.connected();
        if players != self.counted_players {
            metrics.room_players_changed(self.counted_players, players);
            self.counted_players = players;
        }
    }

    fn host(
        &mut self,
        connection_id: Uuid,
        re: Option<String>,
        action: HostAction,
        ctx: &mut Context<Self>,
    ) {
        let now = Utc::now();
        let result = match action {
            HostAction::Start => self.game.start(now),
            HostAction::Next
                if self.game.phase() == RoomPhase::Reveal && self.game.out_of_questions() =>
            {
                self.outbox.push(Event::to(
                    Target::Connection(connection_id),
                    Notice::Done { re },
                ));
                return self.end(EndReason::Finished, ctx);
            }
            HostAction::Next => self.game.next(now),
            HostAction::CloseQuestion => self.game.close_question(false),
            HostAction::Skip => self.game.skip(now),
            HostAction::Kick(player) => self.game.kick(player),
            HostAction::Pause => self.game.pause(now),
            HostAction::Resume => self.game.resume(now),
            HostAction::End => {
                self.outbox.push(Event::to(
                    Target::Connection(connection_id),
                    Notice::Done { re },
                ));
                return self.end(EndReason::EndedByHost, ctx);
            }
        };
        match result {
            Ok(events) => {
                self.push(events);
                self.outbox.push(Event::to(
                    Target::Connection(connection_id),
                    Notice::Done { re },
                ));
            }
            Err(refusal) => self.refuse(connection_id, re, refusal),
        }
    }

    fn handle_command(&mut self, command: Command, ctx: &mut Context<Self>) {
        let now = Utc::now();
        match command {
            Command::Join {
                player_id,
                connection_id,
                kind,
                name,
                re,
            } => {
                // A game that ended refuses joins itself (`room_ended`).
                if self.game.is_host(player_id) {
                    self.host_ever_joined = true;
                }
                match self
                    .game
                    .join(player_id, connection_id, kind, &name, re.clone(), now)
                {
                    Ok(events) => self.push(events),
                    // A refused connection is not in the room.
                    Err(refusal) => self
                        .outbox
                        .push(error_to(connection_id, re, refusal).detaching()),
                }
            }
            Command::Disconnected { player_id, .. } => self.game.disconnected(player_id),
            Command::Leave { player_id, .. } => {
                let events = self.game.leave(player_id);
                self.push(events);
            }
            Command::Answer {
                player_id,
                connection_id,
                re,
                question,
                option,
                received_at,
                response_ms,
            } => {
                if self.ending {
                    return;
                }
                let response = response_ms.map(Duration::from_millis);
                match self.game.answer(
                    player_id,
                    re.clone(),
                    question,
                    &option,
                    received_at,
                    response,
                ) {
                    Ok(events) => {
                        self.rooms.deps.metrics.room_answer("accepted");
                        self.push(events);
                    }
                    Err(refusal) => {
                        self.rooms.deps.metrics.room_answer(refusal.0);
                        self.refuse(connection_id, re, refusal);
                    }
                }
            }
            Command::State {
                player_id,
                connection_id,
                re,
                joined,
            } => {
                let snapshot = self.game.snapshot(player_id, now);
                if snapshot.you.is_none() && !self.game.is_host(player_id) {
                    self.refuse(
                        connection_id,
                        re,
                        (codes::NOT_IN_ROOM, "you have no seat in this room".into()),
                    );
                } else {
                    let room = Box::new(snapshot);
                    let message = if joined {
                        Notice::Room(RoomEvent::Joined { re, room })
                    } else {
                        Notice::Room(RoomEvent::State { re, room })
                    };
                    self.outbox
                        .push(Event::to(Target::Connection(connection_id), message));
                }
            }
            Command::Host {
                player_id,
                connection_id,
                re,
                action,
            } => {
                if !self.game.is_host(player_id) {
                    self.refuse(
                        connection_id,
                        re,
                        (codes::NOT_HOST, "only the host can do that".into()),
                    );
                } else if !self.ending {
                    self.host(connection_id, re, action, ctx);
                }
            }
            Command::Reattach { players } => {
                for player in &players {
                    self.game.reattach(*player);
                    if self.game.is_host(*player) {
                        self.host_ever_joined = true;
                    }
                }
                let mut seen = std::collections::HashSet::new();
                for player in players.into_iter().filter(|p| seen.insert(*p)) {
                    let room = self.game.snapshot(player, now);
                    self.outbox.push(Event::to(
                        Target::Player(player),
                        Notice::Room(RoomEvent::State {
                            re: None,
                            room: Box::new(room),
                        }),
                    ));
                }
            }
            Command::Resync { players } => {
                for player in players {
                    let room = self.game.snapshot(player, now);
                    self.outbox.push(Event::to(
                        Target::Player(player),
                        Notice::Room(RoomEvent::State {
                            re: None,
                            room: Box::new(room),
                        }),
                    ));
                }
            }
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
    }

    /// Ends the game: results saved first (so "results saved" is true when said), then
    /// the last events, then XP for every signed-in player, then the code is released.
    fn end(&mut self, reason: EndReason, ctx: &mut Context<Self>) {
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
        let record = RoomResult {
            room_id: results.room_id,
            code: results.code.clone(),
            host_id: results.host_id,
            title: results.title.clone(),
            created_at: self.created_at,
            ended_at: Utc::now(),
            end_reason: reason.as_str().into(),
            players: results.players.len() as u32,
            results: serde_json::to_value(&results).unwrap_or_default(),
        };
        let store = self.rooms.deps.store.clone();
        let save = async move {
            tokio::time::timeout(Duration::from_secs(10), store.save_room_result(&record)).await
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
}

/// An `error` frame for one connection.
fn error_to(connection_id: Uuid, re: Option<String>, (code, message): Refusal) -> Event {
    Event::to(
        Target::Connection(connection_id),
        Notice::Refused {
            re,
            code: code.into(),
            message,
        },
    )
}

/// Queues the room's XP: a worker grants it from the saved results (retried, and
/// taken over by another instance if this one dies). Without saved results (the store
/// failed) the grants are made here, from memory, as the only chance left.
async fn queue_xp(rooms: Arc<Rooms>, room_id: Uuid) {
    let queued = rooms
        .deps
        .job_queue
        .enqueue(super::xp_jobs::QUEUE, room_id.to_string().as_bytes())
        .await;
    if let Err(e) = queued {
        tracing::warn!(error = %e, %room_id, "room XP job could not be queued; granting now");
        if let Err(e) =
            super::xp_jobs::grant_room(rooms.deps.store.as_ref(), &rooms.deps.xp, room_id).await
        {
            tracing::error!(%room_id, error = %e, "room XP could not be granted");
        }
    }
}

/// Grants from the in-memory results (only when they could not be saved).
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
        })
        .collect();
    if let Err(e) = grant_placed(&rooms.deps.xp, results.room_id, &players).await {
        tracing::error!(room_id = %results.room_id, error = %e, "room XP could not be granted");
    }
}

impl Actor for RoomActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.rooms
            .deps
            .metrics
            .room_phase_changed_from_none(RoomPhase::Lobby.name());
        // Commands from connections on other instances.
        let bus = self.rooms.deps.bus.clone();
        let topic = super::event::commands_topic(self.entry.room_id);
        let addr = ctx.address();
        self.commands = Some(tokio::spawn(async move {
            match bus.subscribe(&topic).await {
                Ok(mut subscription) => {
                    while let Some(payload) = subscription.recv().await {
                        match serde_json::from_slice::<Command>(&payload) {
                            Ok(command) => addr.do_send(RoomCommand(command)),
                            Err(e) => tracing::warn!(error = %e, "unreadable room command ignored"),
                        }
                        if !addr.connected() {
                            break;
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, %topic, "room cannot hear other instances"),
            }
        }));
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
        metrics.room_phase_changed_to_none(self.counted_phase.name());
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
