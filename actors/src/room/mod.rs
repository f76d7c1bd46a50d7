//! Multiplayer quiz rooms (Kahoot-style): one [`actor::RoomActor`] per live room on the
//! instance that created it, a [`directory`] of join codes in the cache port, and on
//! every instance with players in a room a [`relay`] that delivers the room's events
//! to its local connections. Commands from connections on other instances reach the
//! actor over the bus ([`event`] holds everything the room bus carries).
//!
//! # Layout
//! - `game`: one room's game as a state machine over an injected clock (seats, phases,
//!   scoring, views); it returns addressed domain events.
//! - `actor`: the room's single authority; runs the clock, batches and publishes events.
//! - `relay`: delivers a room's batches to this instance's connections.
//! - `directory`, `snapshot`: join codes as leases, and saved games another instance adopts.
//! - `tickets`: which relays' numbered commands a room handled (each once, across moves).
//! - `setup`: a host's request checked into a room's questions and settings.
//! - `grants`: the XP of a finished room's placed players.
//! - `forget`: a deleted learner made anonymous in finished rooms' results.
//!
//! The websocket endpoint (the server) turns frames into [`event::Command`]s and the
//! events into frames; results export and guest passes are server services.

pub mod actor;
pub mod directory;
pub mod event;
pub mod forget;
pub mod game;
pub mod grants;
pub mod relay;
pub mod setup;
pub mod snapshot;
pub mod tickets;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::mpsc;
use uuid::Uuid;

use self::actor::{RoomActor, RoomCommand};
use self::directory::{Directory, Entry};
use self::event::{Command, RoomBusEvent, commands_topic, events_topic};
use self::game::{Game, RoomConfig};
use self::relay::{Attachment, Control, Relay};
use self::setup::RoomSetup;
use crate::events::room::RoomPhase;
use crate::observe::GameMetrics;
use crate::outbound::Outbound;
use crate::ports::{Bus, BusSubscription, Cache, JobQueue, PortError, Store};
use crate::xp::XpService;

/// Limits and timings of rooms.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    /// Most players a room may seat (a room may ask for fewer).
    pub max_players: usize,
    /// Most rooms this instance runs at once.
    pub max_rooms: usize,
    /// Life of a directory entry without a refresh (an owner's death is noticed within it).
    pub lease: Duration,
    /// How long a room waits for its host to come back before ending.
    pub host_grace: Duration,
    /// How long a room with nobody connected lives.
    pub empty_grace: Duration,
    /// How long a new room waits for its host's first connection.
    pub first_join_wait: Duration,
    /// Default time per question.
    pub question_time: Duration,
}

impl Default for RoomSettings {
    fn default() -> Self {
        RoomSettings {
            max_players: 1_000,
            max_rooms: 500,
            lease: Duration::from_secs(15),
            host_grace: Duration::from_secs(60),
            empty_grace: Duration::from_secs(60),
            first_join_wait: Duration::from_secs(600),
            question_time: Duration::from_secs(20),
        }
    }
}

/// What rooms use of the application.
pub struct RoomDeps {
    pub store: Arc<dyn Store>,
    pub cache: Arc<dyn Cache>,
    pub bus: Arc<dyn Bus>,
    /// Where finished rooms' XP waits to be granted.
    pub job_queue: Arc<dyn JobQueue>,
    pub xp: XpService,
    /// Tells players a room they played ended.
    pub notifications: crate::notifications::Notifications,
    pub metrics: Arc<dyn GameMetrics>,
}

/// Why a room could not be created or reached.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("this server runs as many rooms as it may ({0}); try again later")]
    Capacity(usize),
    #[error("no free join code was found")]
    NoCode,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The rooms of this instance: the actors it owns and the relays of rooms it has
/// players in.
pub struct Rooms {
    /// This instance, as named in directory entries.
    pub instance_id: Uuid,
    pub settings: RoomSettings,
    deps: RoomDeps,
    directory: Directory,
    local: Mutex<HashMap<Uuid, Addr<RoomActor>>>,
    relays: Mutex<HashMap<Uuid, mpsc::UnboundedSender<Control>>>,
    arbiters: Vec<Arbiter>,
    next_arbiter: AtomicUsize,
    draining: AtomicBool,
    /// Rooms this instance handed over while draining.
    handed_over: Mutex<HashSet<Uuid>>,
}

impl Rooms {
    /// Room actors run on `arbiters` threads of their own.
    pub fn new(settings: RoomSettings, deps: RoomDeps, arbiters: usize) -> Arc<Self> {
        Arc::new(Rooms {
            instance_id: Uuid::new_v4(),
            directory: Directory::new(deps.cache.clone(), settings.lease),
            settings,
            deps,
            local: Mutex::new(HashMap::new()),
            relays: Mutex::new(HashMap::new()),
            arbiters: (0..arbiters.max(1)).map(|_| Arbiter::new()).collect(),
            next_arbiter: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            handed_over: Mutex::new(HashSet::new()),
        })
    }

    /// The ports and services rooms use (a connection's link reads the store and the
    /// cache through them).
    pub fn deps(&self) -> &RoomDeps {
        &self.deps
    }

    /// Rooms whose actor runs here.
    pub fn local_rooms(&self) -> usize {
        self.local.lock().expect("rooms lock").len()
    }

    /// Creates a room hosted by `host_id` and starts its actor here.
    pub async fn create(
        self: &Arc<Self>,
        host_id: Uuid,
        setup: RoomSetup,
    ) -> Result<Entry, RoomError> {
        if self.draining.load(Ordering::SeqCst) || self.local_rooms() >= self.settings.max_rooms {
            return Err(RoomError::Capacity(self.settings.max_rooms));
        }
        let room_id = Uuid::now_v7();
        let inbox = self.inbox(room_id).await?;
        let mut entry = None;
        for _ in 0..10 {
            let candidate = Entry {
                room_id,
                code: crate::rules::room::join_code(rand::random()),
                owner: self.instance_id,
                host_id,
                title: setup.title.clone(),
                allow_guests: setup.allow_guests,
                tickets: true,
            };
            if self.directory.claim(&candidate).await? {
                entry = Some(candidate);
                break;
            }
        }
        let entry = entry.ok_or(RoomError::NoCode)?;
        let game = Game::new(RoomConfig {
            room_id,
            code: entry.code.clone(),
            title: setup.title,
            host_id,
            scoring: setup.scoring,
            streak_bonus: setup.streak_bonus,
            allow_guests: setup.allow_guests,
            max_players: setup.max_players.min(self.settings.max_players),
            questions: setup.questions,
        });
        self.start_actor(&entry, move |rooms, entry| {
            RoomActor::new(game, rooms, entry, inbox)
        });
        self.deps.metrics.room_created();
        tracing::info!(%room_id, code = %entry.code, %host_id, "room created");
        Ok(entry)
    }

    /// Subscribes to a room's commands topic for its actor-to-be. Done before the room
    /// is listed in the directory: whoever finds the listing reaches the actor, even
    /// before it runs (the subscription keeps what arrives until then).
    async fn inbox(&self, room_id: Uuid) -> Result<BusSubscription, PortError> {
        tokio::time::timeout(
            relay::SUBSCRIBE_TIMEOUT,
            self.deps.bus.subscribe(&commands_topic(room_id)),
        )
        .await
        .map_err(|_| PortError::new("bus", "subscribe", "timed out"))?
    }

    /// Starts a room's actor on the next of the rooms' arbiters and lists it as local.
    fn start_actor(
        self: &Arc<Self>,
        entry: &Entry,
        make: impl FnOnce(Arc<Rooms>, Entry) -> RoomActor + Send + 'static,
    ) {
        let arbiter =
            &self.arbiters[self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.arbiters.len()];
        let rooms = self.clone();
        let actor_entry = entry.clone();
        let addr =
            RoomActor::start_in_arbiter(&arbiter.handle(), move |_| make(rooms, actor_entry));
        self.local
            .lock()
            .expect("rooms lock")
            .insert(entry.room_id, addr);
    }

    /// The running room with this join code (as typed), if any. A room whose instance
    /// died or drained is adopted here from its saved game.
    pub async fn find(self: &Arc<Self>, code: &str) -> Result<Option<Entry>, PortError> {
        let Some(code) = crate::rules::room::normalize_code(code) else {
            return Ok(None);
        };
        match self.directory.find(&code).await? {
            Some(entry) => Ok(Some(entry)),
            None => self.adopt(&code).await,
        }
    }

    /// Takes over the room saved under `code`, if one is saved and nobody runs it.
    async fn adopt(self: &Arc<Self>, code: &str) -> Result<Option<Entry>, PortError> {
        if self.draining.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let Some(bytes) = self.deps.cache.get(&snapshot::key(code)).await? else {
            return Ok(None);
        };
        let saved: snapshot::Saved = match serde_json::from_slice(&bytes) {
            Ok(saved) => saved,
            Err(e) => {
                tracing::warn!(error = %e, code, "saved room unreadable; not adopted");
                return Ok(None);
            }
        };
        if saved.game.phase() == RoomPhase::Ended {
            return Ok(None);
        }
        let entry = Entry {
            owner: self.instance_id,
            tickets: true,
            ..saved.entry.clone()
        };
        let inbox = self.inbox(entry.room_id).await?;
        if !self.directory.claim(&entry).await? {
            // Another instance adopted it first (or a new room took the code).
            return self.directory.find(code).await;
        }
        let room_id = entry.room_id;
        self.start_actor(&entry, move |rooms, entry| {
            RoomActor::adopt(saved, rooms, entry, inbox)
        });
        self.deps.metrics.room_adopted();
        tracing::info!(%room_id, code, "room adopted from its saved state");
        Ok(Some(entry))
    }

    /// Draining: every room this instance runs is saved and its code released, so the
    /// players' next `room.join` (on another instance, after the 1012 close) adopts it.
    pub async fn hand_over_all(&self) {
        self.drain();
        let actors: Vec<Addr<RoomActor>> = self
            .local
            .lock()
            .expect("rooms lock")
            .values()
            .cloned()
            .collect();
        for addr in actors {
            let Ok(Some((entry, bytes))) = addr.send(actor::HandOver).await else {
                continue;
            };
            let saved = self
                .deps
                .cache
                .set(&snapshot::key(&entry.code), &bytes, snapshot::TTL)
                .await;
            match saved {
                Ok(()) => {
                    self.handed_over
                        .lock()
                        .expect("rooms lock")
                        .insert(entry.room_id);
                    if let Err(e) = self.directory.release(&entry).await {
                        tracing::warn!(error = %e, "room code not released; it lapses with its lease");
                    }
                    tracing::info!(room_id = %entry.room_id, "room handed over");
                }
                Err(e) => {
                    tracing::error!(error = %e, room_id = %entry.room_id, "room could not be handed over")
                }
            }
        }
    }

    /// Sends a command to the room's actor. Through the room's relay here when there is
    /// one (a connection in the room has one): it holds the command until the room
    /// acknowledges it, and sends it again to the room's next owner when the room moves
    /// first. Otherwise (a connection that just left) directly: to the actor when it
    /// runs here, else over the bus.
    pub async fn send(&self, room_id: Uuid, command: Command) {
        // The sockets of a draining instance close after its rooms were handed over:
        // their next owner never counted these connections (it counts those its
        // reattach and joins bring), so their disconnections are not its business.
        if matches!(command, Command::Disconnected { .. })
            && self
                .handed_over
                .lock()
                .expect("rooms lock")
                .contains(&room_id)
        {
            return;
        }
        let relay = self
            .relays
            .lock()
            .expect("relays lock")
            .get(&room_id)
            .cloned();
        let command = match relay {
            Some(relay) => match relay.send(Control::Send(command)) {
                Ok(()) => return,
                Err(mpsc::error::SendError(Control::Send(command))) => command,
                Err(_) => return,
            },
            None => command,
        };
        match self.local_actor(room_id) {
            Some(addr) => addr.do_send(RoomCommand(command)),
            None => {
                let payload = RoomBusEvent::Command(command).encode();
                if let Err(e) = self
                    .deps
                    .bus
                    .publish(&commands_topic(room_id), &payload)
                    .await
                {
                    tracing::warn!(error = %e, %room_id, "room command could not be relayed");
                }
            }
        }
    }

    /// The room's actor, when it runs here.
    fn local_actor(&self, room_id: Uuid) -> Option<Addr<RoomActor>> {
        self.local
            .lock()
            .expect("rooms lock")
            .get(&room_id)
            .cloned()
    }

    /// Puts a connection in the room's local relay (starting the relay and its bus
    /// subscription first when it is the first one here), so that it receives every
    /// event from the next batch on.
    pub async fn attach(
        self: &Arc<Self>,
        entry: &Entry,
        player_id: Uuid,
        connection_id: Uuid,
        outbound: Outbound,
    ) -> Result<Attachment, PortError> {
        let left = Arc::new(AtomicBool::new(false));
        let control = Control::Attach {
            connection_id,
            player_id,
            outbound,
            left: left.clone(),
        };
        let existing = self
            .relays
            .lock()
            .expect("relays lock")
            .get(&entry.room_id)
            .cloned();
        let control = match existing {
            Some(sender) => match sender.send(control) {
                Ok(()) => None,
                Err(mpsc::error::SendError(control)) => Some(control),
            },
            None => Some(control),
        };
        if let Some(control) = control {
            let subscription = tokio::time::timeout(
                relay::SUBSCRIBE_TIMEOUT,
                self.deps.bus.subscribe(&events_topic(entry.room_id)),
            )
            .await
            .map_err(|_| PortError::new("bus", "subscribe", "timed out"))??;
            let (sender, receiver) = mpsc::unbounded_channel();
            let _ = sender.send(control);
            let mut relays = self.relays.lock().expect("relays lock");
            match relays.get(&entry.room_id) {
                // Another connection started one meanwhile: join it, drop ours.
                Some(running) if !running.is_closed() => {
                    let mut receiver = receiver;
                    if let Ok(control) = receiver.try_recv() {
                        let _ = running.send(control);
                    }
                }
                _ => {
                    relays.insert(entry.room_id, sender);
                    let local_owner = entry.owner == self.instance_id;
                    let relay = Relay::new(entry, local_owner);
                    tokio::spawn(relay::run(self.clone(), relay, subscription, receiver));
                }
            }
        }
        Ok(Attachment {
            room_id: entry.room_id,
            code: entry.code.clone(),
            player_id,
            left,
        })
    }

    /// Takes a connection out of its room's local relay.
    pub fn detach(&self, room_id: Uuid, connection_id: Uuid) {
        if let Some(sender) = self.relays.lock().expect("relays lock").get(&room_id) {
            let _ = sender.send(Control::Detach { connection_id });
        }
    }

    /// A relay with no connections (and no commands) left asks to stop; refused when
    /// a control message is queued for it.
    fn retire_relay(&self, room_id: Uuid, control: &mut mpsc::UnboundedReceiver<Control>) -> bool {
        let mut relays = self.relays.lock().expect("relays lock");
        if !control.is_empty() {
            return false;
        }
        relays.remove(&room_id);
        control.close();
        true
    }

    fn forget_local(&self, room_id: Uuid) {
        self.local.lock().expect("rooms lock").remove(&room_id);
    }

    /// No new rooms while the instance drains.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

impl Drop for Rooms {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }
}
