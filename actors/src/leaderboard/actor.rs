//! `LeaderboardActor`: the single writer of live grants on an instance.
//!
//! - **Batching.** Standings from the XP service arrive as [`Apply`] messages. While
//!   `IN_FLIGHT` (2) batches are in flight to the board, new ones queue; when one returns,
//!   what is queued goes as the next batch (one script call on Redis). At low load a
//!   grant is written at once; under load, grants share round trips instead of waiting
//!   for them.
//!   Each caller gets its own placements back, so the XP service only clears a pending
//!   grant once the board holds it.
//! - **Rank pushes.** After a batch, each learner whose standing was written gets
//!   `leaderboard.rank` on the bus topic `user:{id}`, which reaches their sessions on
//!   every instance. One task publishes them, batch after batch, and a learner is in
//!   one batch in flight at most, so a learner's pushes arrive in grant order.
//! - **Top pushes.** Connections subscribe to a live board (`alltime`, `weekly`). Every
//!   [`TICK`] the actor reads the top of the boards someone watches (grants from any
//!   instance show up there) and sends `leaderboard.top` to each watcher whose view
//!   changed, at most once per [`MIN_GAP`] per watcher, straight into the connection's
//!   outgoing queue. A closed connection is dropped from the watchers.
//! - **Upkeep.** At start and every [`UPKEEP`], boards that are not complete (Redis lost
//!   its data) are rebuilt from the ledger in the background (see [`super::rebuild`]),
//!   then finished weeks not yet archived are archived in the store (see
//!   [`super::archive`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::archive::{self, ArchivedWeeks};
use super::board::Board;
use super::names::Names;
use super::rebuild;
use crate::events::{BoardTop, LeaderboardRow, Notice, RankChanged};
use crate::outbound::Outgoing;
use crate::ports::bus::{UserEvent, user_topic};
use crate::ports::leaderboard::check_scores;
use crate::ports::{
    Bus, Leaderboard, LeaderboardEntry, Placement, PortError, PortResult, ScoreUpdate, Store,
};

/// How often watched boards are read.
pub const TICK: Duration = Duration::from_millis(250);

/// Least time between two `leaderboard.top` frames to one connection.
pub const MIN_GAP: Duration = Duration::from_secs(1);

/// How often the actor checks that the boards are complete.
pub const UPKEEP: Duration = Duration::from_secs(30);

/// Entries of a `leaderboard.top` frame.
pub const TOP_SIZE: usize = 10;

/// Most updates one batch carries; more wait for the next.
const MAX_BATCH: usize = 2_000;

/// Batches in flight at once.
const IN_FLIGHT: usize = 2;

/// Batches of rank pushes waiting for the bus before new ones are dropped.
const PUSH_BACKLOG: usize = 1_024;

const BACKEND: &str = "leaderboard-actor";

/// Sets the standings of one learner (or a rebuild's page) and answers with their
/// placements, in order.
#[derive(Message)]
#[rtype(result = "PortResult<Vec<Placement>>")]
pub struct Apply {
    pub updates: Vec<ScoreUpdate>,
}

/// Starts sending `leaderboard.top` of `board` (`alltime` or `weekly`) to a
/// connection; the first frame carries `re`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub board: String,
    pub connection_id: Uuid,
    pub sender: mpsc::Sender<Outgoing>,
    pub re: Option<String>,
}

/// Stops sending `board` to a connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub board: String,
    pub connection_id: Uuid,
}

/// Number of watching connections (for tests and metrics).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct WatcherCount;

/// The tops of the watched boards just read, with each board's length.
type Tops = HashMap<Board, (Vec<LeaderboardEntry>, u64)>;

/// One batch's rank pushes: (bus topic, payload).
type Pushes = Vec<(String, Vec<u8>)>;

struct Queued {
    updates: Vec<ScoreUpdate>,
    reply: oneshot::Sender<PortResult<Vec<Placement>>>,
}

struct Watcher {
    sender: mpsc::Sender<Outgoing>,
    /// `re` of the subscription, for the first frame.
    re: Option<String>,
    /// Board key and top last sent.
    last: Option<(String, Vec<LeaderboardEntry>, u64)>,
    sent_at: Option<Instant>,
}

pub struct LeaderboardActor {
    port: Arc<dyn Leaderboard>,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    names: Names,
    queue: Vec<Queued>,
    /// Batches sent and not yet answered.
    in_flight: usize,
    /// Learners in those batches.
    busy: HashSet<Uuid>,
    /// Batches of rank pushes for the publishing task (set when started).
    publisher: Option<mpsc::Sender<Pushes>>,
    /// Client board name -> connection -> watcher.
    watchers: HashMap<String, HashMap<Uuid, Watcher>>,
    refreshing: bool,
    /// Set while an upkeep (rebuild, then archive) runs.
    rebuilding: Arc<AtomicBool>,
    archived: ArchivedWeeks,
}

impl LeaderboardActor {
    pub fn new(
        port: Arc<dyn Leaderboard>,
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        names: Names,
    ) -> Self {
        LeaderboardActor {
            archived: ArchivedWeeks::new(Arc::clone(&store)),
            port,
            store,
            bus,
            names,
            queue: Vec::new(),
            in_flight: 0,
            busy: HashSet::new(),
            publisher: None,
            watchers: HashMap::new(),
            refreshing: false,
            rebuilding: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Shares what this instance knows of archived weeks with its readers.
    pub fn with_archived(mut self, archived: ArchivedWeeks) -> Self {
        self.archived = archived;
        self
    }

    /// Sends what is queued as batches of up to [`MAX_BATCH`] updates, at most
    /// [`IN_FLIGHT`] at once; each returning batch sends the next. A learner is in at
    /// most one batch in flight (their later standings wait for it), so their rank
    /// pushes go out in order; batches of different learners overlap, which keeps Redis
    /// busy while a batch's answer travels back.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        while self.in_flight < IN_FLIGHT {
            let mut size = 0;
            let mut taken = HashSet::new();
            let mut batch = Vec::new();
            let mut waiting = Vec::new();
            for queued in self.queue.drain(..) {
                let users: Vec<Uuid> = queued.updates.iter().map(|u| u.user_id).collect();
                let free = users
                    .iter()
                    .all(|u| !self.busy.contains(u) && !taken.contains(u));
                if free && (batch.is_empty() || size + queued.updates.len() <= MAX_BATCH) {
                    size += queued.updates.len();
                    taken.extend(users);
                    batch.push(queued);
                } else {
                    waiting.push(queued);
                }
            }
            self.queue = waiting;
            if batch.is_empty() {
                return;
            }
            self.busy.extend(taken.iter().copied());
            self.in_flight += 1;
            self.send_batch(batch, taken, ctx);
        }
    }

    fn send_batch(&mut self, batch: Vec<Queued>, users: HashSet<Uuid>, ctx: &mut Context<Self>) {
        let updates: Vec<ScoreUpdate> = batch
            .iter()
            .flat_map(|q| q.updates.iter().cloned())
            .collect();
        let port = Arc::clone(&self.port);
        let write = async move {
            let result = port.apply(&updates).await;
            (updates, result)
        };
        ctx.spawn(
            write
                .into_actor(self)
                .map(move |(updates, result), act, ctx| {
                    match result {
                        Ok(placements) if placements.len() == updates.len() => {
                            let mut at = 0;
                            for queued in batch {
                                let n = queued.updates.len();
                                let _ = queued.reply.send(Ok(placements[at..at + n].to_vec()));
                                at += n;
                            }
                            act.announce(updates, placements);
                        }
                        Ok(_) => {
                            for queued in batch {
                                let _ = queued.reply.send(Err(PortError::new(
                                    BACKEND,
                                    "apply",
                                    "the board answered a different number of placements",
                                )));
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "leaderboard batch failed");
                            for queued in batch {
                                let _ = queued.reply.send(Err(PortError::new(
                                    e.backend,
                                    e.operation,
                                    &e.message,
                                )));
                            }
                        }
                    }
                    act.in_flight -= 1;
                    for user in &users {
                        act.busy.remove(user);
                    }
                    act.flush(ctx);
                }),
        );
    }

    /// Publishes `leaderboard.rank` to each learner whose standing was written.
    fn announce(&self, updates: Vec<ScoreUpdate>, placements: Vec<Placement>) {
        let now = Utc::now();
        let events: Pushes = updates
            .into_iter()
            .zip(placements)
            .filter(|(_, placement)| placement.applied)
            .filter_map(|(update, placement)| {
                let board = Board::parse(&update.board, now)?;
                let event = UserEvent::RankChanged(RankChanged {
                    board: board.kind().to_owned(),
                    period: board.period(),
                    rank: placement.entry.rank,
                    previous_rank: placement.previous_rank,
                    score: placement.entry.score,
                    next_reset: board.next_reset_text(),
                });
                Some((user_topic(update.user_id), event.encode()))
            })
            .collect();
        if events.is_empty() {
            return;
        }
        let Some(publisher) = &self.publisher else {
            return;
        };
        // Pushes are a courtesy (the board is already right): when the bus falls this far
        // behind, drop them rather than hold memory.
        if publisher.try_send(events).is_err() {
            tracing::warn!("rank pushes dropped: the bus is not keeping up");
        }
    }

    /// Reads the watched boards and sends each watcher its changed top.
    fn refresh(&mut self, ctx: &mut Context<Self>) {
        for watchers in self.watchers.values_mut() {
            watchers.retain(|_, w| !w.sender.is_closed());
        }
        self.watchers.retain(|_, w| !w.is_empty());
        if self.refreshing || self.watchers.is_empty() {
            return;
        }
        let now = Utc::now();
        let boards: HashSet<Board> = self
            .watchers
            .keys()
            .filter_map(|name| Board::parse(name, now))
            .collect();
        self.refreshing = true;
        let port = Arc::clone(&self.port);
        let read = async move {
            let mut tops = HashMap::new();
            for board in boards {
                let key = board.key();
                let (top, len) = tokio::join!(port.top(&key, TOP_SIZE), port.len(&key));
                match (top, len) {
                    (Ok(top), Ok(len)) => {
                        tops.insert(board, (top, len));
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::debug!(error = %e, board = %key, "could not read a watched board");
                    }
                }
            }
            tops
        };
        ctx.spawn(read.into_actor(self).map(|tops, act, ctx| {
            act.send_tops(tops, ctx);
        }));
    }

    /// Sends the tops just read to the watchers whose view changed, names resolved
    /// once per board.
    fn send_tops(&mut self, tops: Tops, ctx: &mut Context<Self>) {
        let due = self.due(&tops);
        if due.is_empty() {
            self.refreshing = false;
            return;
        }
        let ids: HashSet<Uuid> = due
            .iter()
            .filter_map(|(_, _, board)| tops.get(board))
            .flat_map(|(top, _)| top.iter().map(|e| e.user_id))
            .collect();
        let names = self.names.clone();
        ctx.spawn(
            async move { names.resolve(ids).await }
                .into_actor(self)
                .map(move |resolved, act, _ctx| {
                    act.refreshing = false;
                    match resolved {
                        Ok(resolved) => act.deliver_tops(due, &tops, &resolved),
                        Err(e) => {
                            tracing::debug!(error = %e, "could not resolve names for a top push");
                        }
                    }
                }),
        );
    }

    /// Who needs what: (board name, connection, board) of the watchers whose last frame
    /// differs from `tops` and who have rested long enough.
    fn due(&self, tops: &Tops) -> Vec<(String, Uuid, Board)> {
        let now = Utc::now();
        let instant = Instant::now();
        let mut due = Vec::new();
        for (name, watchers) in &self.watchers {
            let Some(board) = Board::parse(name, now) else {
                continue;
            };
            let Some((top, len)) = tops.get(&board) else {
                continue;
            };
            let key = board.key();
            for (connection, watcher) in watchers {
                let changed = watcher
                    .last
                    .as_ref()
                    .is_none_or(|(k, t, l)| *k != key || t != top || l != len);
                let rested = watcher
                    .sent_at
                    .is_none_or(|at| instant.duration_since(at) >= MIN_GAP);
                if changed && rested {
                    due.push((name.clone(), *connection, board));
                }
            }
        }
        due
    }

    /// Queues each due watcher its board's top; a closed connection stops watching.
    fn deliver_tops(
        &mut self,
        due: Vec<(String, Uuid, Board)>,
        tops: &Tops,
        names: &HashMap<Uuid, Arc<str>>,
    ) {
        let sent_at = Instant::now();
        for (name, connection, board) in due {
            let Some((top, len)) = tops.get(&board) else {
                continue;
            };
            let Some(watcher) = self
                .watchers
                .get_mut(&name)
                .and_then(|w| w.get_mut(&connection))
            else {
                continue;
            };
            let frame = Notice::BoardTop(BoardTop {
                re: watcher.re.take(),
                board: board.kind().to_string(),
                period: board.period(),
                entries: top
                    .iter()
                    .map(|e| LeaderboardRow {
                        rank: e.rank,
                        user_id: e.user_id,
                        name: names
                            .get(&e.user_id)
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                        score: e.score,
                    })
                    .collect(),
                total: *len,
                next_reset: board.next_reset_text(),
            });
            match watcher.sender.try_send(frame.into()) {
                Ok(()) => {
                    watcher.last = Some((board.key(), top.clone(), *len));
                    watcher.sent_at = Some(sent_at);
                }
                // A full queue: the session closes slow consumers; try again on a later
                // tick if it is still there.
                Err(mpsc::error::TrySendError::Full(_)) => {}
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    if let Some(w) = self.watchers.get_mut(&name) {
                        w.remove(&connection);
                    }
                }
            }
        }
    }

    /// Rebuilds incomplete boards, then archives finished weeks, in the background, one
    /// upkeep at a time.
    fn upkeep(&self) {
        if self.rebuilding.swap(true, Ordering::SeqCst) {
            return;
        }
        let flag = Arc::clone(&self.rebuilding);
        let store = Arc::clone(&self.store);
        let port = Arc::clone(&self.port);
        let archived = self.archived.clone();
        tokio::spawn(async move {
            match rebuild::rebuild_missing(Arc::clone(&store), port.as_ref(), Utc::now()).await {
                Ok(_) => {
                    if let Err(e) =
                        archive::archive_due(store, port.as_ref(), &archived, Utc::now()).await
                    {
                        tracing::warn!(error = %e, "weekly board archive failed; will retry");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "leaderboard rebuild failed; will retry"),
            }
            flag.store(false, Ordering::SeqCst);
        });
    }
}

impl Actor for LeaderboardActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Callers wait for their batch anyway; a bounded mailbox would only add a
        // second queue in front of the actor's own. Not `usize::MAX`: actix computes
        // `MAX_CAPACITY - capacity` whenever the address is cloned, which overflows
        // (a panic in debug builds, a wrapped count in release).
        ctx.set_mailbox_capacity(1 << 20);
        // One task publishes every batch's pushes in turn, so a learner's pushes leave
        // in the order their grants were written.
        let (publisher, mut batches) = mpsc::channel::<Pushes>(PUSH_BACKLOG);
        let bus = Arc::clone(&self.bus);
        tokio::spawn(async move {
            while let Some(events) = batches.recv().await {
                for (topic, payload) in events {
                    if let Err(e) = bus.publish(&topic, &payload).await {
                        tracing::warn!(error = %e, "could not publish a rank change");
                    }
                }
            }
        });
        self.publisher = Some(publisher);
        self.upkeep();
        ctx.run_interval(UPKEEP, |act, _| act.upkeep());
        ctx.run_interval(TICK, |act, ctx| act.refresh(ctx));
    }
}

impl Handler<Apply> for LeaderboardActor {
    type Result = ResponseFuture<PortResult<Vec<Placement>>>;

    fn handle(&mut self, msg: Apply, ctx: &mut Context<Self>) -> Self::Result {
        // Checked here so one bad update cannot fail a whole batch of other learners.
        if let Err(e) = check_scores(BACKEND, &msg.updates) {
            return Box::pin(async move { Err(e) });
        }
        if msg.updates.is_empty() {
            return Box::pin(async { Ok(Vec::new()) });
        }
        let (reply, answer) = oneshot::channel();
        self.queue.push(Queued {
            updates: msg.updates,
            reply,
        });
        self.flush(ctx);
        Box::pin(async move {
            answer.await.unwrap_or_else(|_| {
                Err(PortError::new(
                    BACKEND,
                    "apply",
                    "the leaderboard actor stopped",
                ))
            })
        })
    }
}

impl Handler<Subscribe> for LeaderboardActor {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, ctx: &mut Context<Self>) {
        self.watchers.entry(msg.board).or_default().insert(
            msg.connection_id,
            Watcher {
                sender: msg.sender,
                re: msg.re,
                last: None,
                sent_at: None,
            },
        );
        // The current top at once, as the answer to the subscription.
        self.refresh(ctx);
    }
}

impl Handler<Unsubscribe> for LeaderboardActor {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) {
        if let Some(watchers) = self.watchers.get_mut(&msg.board) {
            watchers.remove(&msg.connection_id);
        }
    }
}

impl Handler<WatcherCount> for LeaderboardActor {
    type Result = usize;

    fn handle(&mut self, _: WatcherCount, _: &mut Context<Self>) -> usize {
        self.watchers.values().map(HashMap::len).sum()
    }
}
