//! Leaderboards: all-time and weekly XP boards over the leaderboard port.
//!
//! - [`board`]: board names, ISO weeks (reset Monday 00:00 UTC), when boards expire.
//! - [`standing`]: a learner's standing from the XP ledger, the one computation behind
//!   live updates and rebuilds.
//! - [`actor`]: the single writer of live grants on an instance (batches, rank pushes,
//!   coalesced top pushes, upkeep).
//! - [`rebuild`]: boards rebuilt from the ledger when Redis lost them, or on demand
//!   (`questpath leaderboard rebuild`).
//! - [`archive`]: each finished week's final standings kept for good in the store; an
//!   archived week is read from there.
//! - [`names`]: what other learners see (display name or masked address, never an
//!   email).
//!
//! [`Leaderboards`] is the handle the XP service, the routes and the sessions share.

pub mod actor;
pub mod archive;
pub mod board;
pub mod names;
pub mod rebuild;
pub mod standing;

use std::collections::HashMap;
use std::sync::Arc;

use actix::{Actor, Addr};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use uuid::Uuid;

pub use board::{ALL_TIME, Board, WEEKLY, Week};

use self::actor::{Apply, LeaderboardActor, Subscribe, Unsubscribe};
use self::archive::ArchivedWeeks;
use self::names::Names;
use crate::ports::store::{ArchivedEntry, ArchivedWeek};
use crate::ports::{
    Bus, Leaderboard, LeaderboardEntry, Placement, PortError, PortResult, Store, StoreError, User,
    XpEntry,
};

/// Most entries one page holds.
pub const MAX_PAGE: usize = 100;

/// Most neighbours on each side of the viewer.
pub const MAX_AROUND: usize = 25;

#[derive(Debug, thiserror::Error)]
pub enum LeaderboardError {
    #[error("there is no board {0:?}")]
    UnknownBoard(String),
    #[error(transparent)]
    Board(#[from] PortError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("live leaderboard updates are not running on this instance")]
    NotRunning,
}

/// One learner as a board shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub rank: u64,
    pub user_id: Uuid,
    /// Display name, or a masked address.
    pub name: String,
    pub score: i64,
    pub reached_at: DateTime<Utc>,
}

/// What to read of a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewQuery {
    /// First rank of the page (1 is the top).
    pub from_rank: u64,
    /// Entries in the page, 1 to [`MAX_PAGE`].
    pub limit: usize,
    /// Neighbours on each side of the viewer, when asked (0 to [`MAX_AROUND`]).
    pub around: Option<usize>,
}

/// A page of a board, with the viewer's own entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardView {
    pub board: Board,
    /// Learners on the board.
    pub total: u64,
    pub entries: Vec<Row>,
    /// The viewer and their neighbours, when asked (empty when not on the board).
    pub around: Option<Vec<Row>>,
    /// The viewer's entry; `None` when they have no XP on this board.
    pub me: Option<Row>,
}

/// The leaderboards of this instance: reads, the actor that writes, and names.
#[derive(Clone)]
pub struct Leaderboards {
    port: Arc<dyn Leaderboard>,
    store: Arc<dyn Store>,
    names: Names,
    archived: ArchivedWeeks,
    actor: Option<Addr<LeaderboardActor>>,
}

impl Leaderboards {
    /// Starts the leaderboard actor on the current actix system. Outside one (tools,
    /// benchmarks), writes go straight to the port and nothing is pushed.
    pub fn start(store: Arc<dyn Store>, port: Arc<dyn Leaderboard>, bus: Arc<dyn Bus>) -> Self {
        let mut leaderboards = Leaderboards::direct(store, port);
        leaderboards.actor = actix::System::try_current().map(|_| {
            LeaderboardActor::new(
                Arc::clone(&leaderboards.port),
                Arc::clone(&leaderboards.store),
                bus,
                leaderboards.names.clone(),
            )
            .with_archived(leaderboards.archived.clone())
            .start()
        });
        leaderboards
    }

    /// Without an actor: writes go straight to the port, nothing is pushed, and no
    /// week is archived by this instance.
    pub fn direct(store: Arc<dyn Store>, port: Arc<dyn Leaderboard>) -> Self {
        Leaderboards {
            names: Names::new(Arc::clone(&store)),
            archived: ArchivedWeeks::new(Arc::clone(&store)),
            store,
            port,
            actor: None,
        }
    }

    pub fn port(&self) -> &Arc<dyn Leaderboard> {
        &self.port
    }

    /// The actor, when running (tests count its watchers).
    pub fn actor(&self) -> Option<&Addr<LeaderboardActor>> {
        self.actor.as_ref()
    }

    /// Resolves a client's board name now.
    pub fn board(&self, name: &str) -> Result<Board, LeaderboardError> {
        Board::parse(name, Utc::now()).ok_or_else(|| LeaderboardError::UnknownBoard(name.into()))
    }

    /// Brings the boards a grant changes to what the user's ledger says (`pending`: the
    /// grants being applied, which say which weeks changed).
    pub async fn apply_ledger(
        &self,
        user_id: Uuid,
        entries: &[XpEntry],
        pending: &[String],
    ) -> PortResult<Vec<Placement>> {
        let boards = standing::boards_for(entries, pending, Utc::now());
        self.apply(standing::updates(user_id, entries, &boards))
            .await
    }

    /// Writes standings through the actor (batched, with rank pushes), or straight to
    /// the port without one.
    pub async fn apply(
        &self,
        updates: Vec<crate::ports::ScoreUpdate>,
    ) -> PortResult<Vec<Placement>> {
        match &self.actor {
            Some(actor) => actor.send(Apply { updates }).await.unwrap_or_else(|_| {
                Err(PortError::new(
                    "leaderboard-actor",
                    "apply",
                    "the leaderboard actor stopped",
                ))
            }),
            None => self.port.apply(&updates).await,
        }
    }

    /// Takes a deleted learner off every board kept (all-time and the weeks still on
    /// the board); returns how many boards had them. Straight to the port: watchers see
    /// the change at the actor's next read of the tops.
    pub async fn remove_user(&self, user_id: Uuid) -> PortResult<u32> {
        let mut removed = 0;
        for board in rebuild::kept_boards(Utc::now()) {
            if self.port.remove(&board.key(), user_id).await? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Sends `leaderboard.top` of a live board (`alltime` or `weekly`) to a connection,
    /// at once (with `re`) and then on every change, at most once a second.
    pub fn subscribe(
        &self,
        board: &str,
        connection_id: Uuid,
        sender: mpsc::Sender<crate::outbound::Outgoing>,
        re: Option<String>,
    ) -> Result<(), LeaderboardError> {
        if board != ALL_TIME && board != WEEKLY {
            return Err(LeaderboardError::UnknownBoard(board.into()));
        }
        let actor = self.actor.as_ref().ok_or(LeaderboardError::NotRunning)?;
        actor.do_send(Subscribe {
            board: board.to_string(),
            connection_id,
            sender,
            re,
        });
        Ok(())
    }

    pub fn unsubscribe(&self, board: &str, connection_id: Uuid) {
        if let Some(actor) = &self.actor {
            actor.do_send(Unsubscribe {
                board: board.to_string(),
                connection_id,
            });
        }
    }

    /// A page of `board`, the viewer's entry and, when asked, their neighbours; all
    /// read at once. A past week that is archived is read from the archive, which
    /// holds what its board held: the same ranks, scores and times.
    pub async fn view(
        &self,
        board: Board,
        viewer: &User,
        query: ViewQuery,
    ) -> Result<BoardView, LeaderboardError> {
        if let Board::Weekly(week) = board
            && !board.is_live(Utc::now())
            && let Some(archived) = self.archived.get(week).await?
        {
            return self.view_archived(board, &archived, viewer, query).await;
        }
        let key = board.key();
        let offset = query.from_rank.max(1) - 1;
        let limit = query.limit.min(MAX_PAGE);
        let around = async {
            match query.around {
                Some(k) => self
                    .port
                    .around(&key, viewer.id, k.min(MAX_AROUND))
                    .await
                    .map(Some),
                None => Ok(None),
            }
        };
        let (page, total, me, around) = tokio::join!(
            self.port.range(&key, offset, limit),
            self.port.len(&key),
            self.port.entry(&key, viewer.id),
            around,
        );
        let (page, total, me, around) = (page?, total?, me?, around?);
        self.named(board, total, page, around, me, viewer).await
    }

    /// [`Leaderboards::view`] of an archived week, from the store: the page and the
    /// viewer's entry at once, then the neighbours around that entry.
    async fn view_archived(
        &self,
        board: Board,
        archived: &ArchivedWeek,
        viewer: &User,
        query: ViewQuery,
    ) -> Result<BoardView, LeaderboardError> {
        let period = archived.period.as_str();
        let total = archived.total;
        // Ranks `from..=to` of the archive, clipped to its total.
        let ranks = |from: u64, to: u64| async move {
            let to = to.min(total);
            if from > to {
                return Ok(Vec::new());
            }
            let limit = usize::try_from(to - from + 1).unwrap_or(usize::MAX);
            let entries = self.store.archived_entries(period, from, limit).await?;
            Ok::<_, StoreError>(entries.iter().map(entry_of).collect::<Vec<_>>())
        };
        let from = query.from_rank.max(1);
        let limit = query.limit.min(MAX_PAGE) as u64;
        let (page, me) = tokio::join!(
            ranks(from, from.saturating_add(limit).saturating_sub(1)),
            self.store.archived_entry(period, viewer.id),
        );
        let (page, me) = (page?, me?.map(|e| entry_of(&e)));
        let around = match (query.around, &me) {
            (None, _) => None,
            (Some(_), None) => Some(Vec::new()),
            (Some(k), Some(me)) => {
                let k = k.min(MAX_AROUND) as u64;
                Some(ranks(me.rank.saturating_sub(k).max(1), me.rank.saturating_add(k)).await?)
            }
        };
        self.named(board, total, page, around, me, viewer).await
    }

    /// The view of entries read, with the names other learners see.
    async fn named(
        &self,
        board: Board,
        total: u64,
        page: Vec<LeaderboardEntry>,
        around: Option<Vec<LeaderboardEntry>>,
        me: Option<LeaderboardEntry>,
        viewer: &User,
    ) -> Result<BoardView, LeaderboardError> {
        self.names.remember(viewer).await;
        let ids = page
            .iter()
            .chain(around.iter().flatten())
            .chain(me.iter())
            .map(|e| e.user_id);
        let names = self.names.resolve(ids.collect::<Vec<_>>()).await?;
        let rows = |entries: &[LeaderboardEntry]| -> Vec<Row> {
            entries.iter().map(|e| row(e, &names)).collect()
        };
        Ok(BoardView {
            board,
            total,
            entries: rows(&page),
            around: around.as_deref().map(rows),
            me: me.as_ref().map(|e| row(e, &names)),
        })
    }
}

fn entry_of(archived: &ArchivedEntry) -> LeaderboardEntry {
    LeaderboardEntry {
        user_id: archived.user_id,
        score: archived.score,
        reached_at: archived.reached_at,
        rank: archived.rank,
    }
}

fn row(entry: &LeaderboardEntry, names: &HashMap<Uuid, Arc<str>>) -> Row {
    Row {
        rank: entry.rank,
        user_id: entry.user_id,
        name: names
            .get(&entry.user_id)
            .map(|n| n.to_string())
            .unwrap_or_default(),
        score: entry.score,
        reached_at: entry.reached_at,
    }
}
