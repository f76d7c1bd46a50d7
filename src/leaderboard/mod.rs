//! Leaderboards: all-time and weekly XP boards over the leaderboard port.
//!
//! - [`board`]: board names, ISO weeks (reset Monday 00:00 UTC), when boards expire.
//! - [`standing`]: a learner's standing from the XP ledger, the one computation behind
//!   live updates and rebuilds.
//! - [`actor`]: the single writer of live grants on an instance (batches, rank pushes,
//!   coalesced top pushes, upkeep).
//! - [`rebuild`]: boards rebuilt from the ledger when Redis lost them, or on demand
//!   (`questpath leaderboard rebuild`).
//! - [`names`]: what other learners see (display name or masked address, never an
//!   email).
//!
//! [`Leaderboards`] is the handle the XP service, the routes and the sessions share.

pub mod actor;
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
use self::names::Names;
use crate::ports::{
    Bus, Leaderboard, LeaderboardEntry, Placement, PortError, PortResult, Store, StoreError, User,
    XpEntry,
};
use crate::realtime::protocol::ServerMessage;

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
    names: Names,
    actor: Option<Addr<LeaderboardActor>>,
}

impl Leaderboards {
    /// Starts the leaderboard actor on the current actix system. Outside one (tools,
    /// benchmarks), writes go straight to the port and nothing is pushed.
    pub fn start(store: Arc<dyn Store>, port: Arc<dyn Leaderboard>, bus: Arc<dyn Bus>) -> Self {
        let names = Names::new(Arc::clone(&store));
        let actor = actix::System::try_current()
            .map(|_| LeaderboardActor::new(Arc::clone(&port), store, bus, names.clone()).start());
        Leaderboards { port, names, actor }
    }

    /// Without an actor: writes go straight to the port and nothing is pushed.
    pub fn direct(store: Arc<dyn Store>, port: Arc<dyn Leaderboard>) -> Self {
        Leaderboards {
            names: Names::new(store),
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

    /// Sends `leaderboard.top` of a live board (`alltime` or `weekly`) to a connection,
    /// at once (with `re`) and then on every change, at most once a second.
    pub fn subscribe(
        &self,
        board: &str,
        connection_id: Uuid,
        sender: mpsc::Sender<ServerMessage>,
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
    /// read at once.
    pub async fn view(
        &self,
        board: Board,
        viewer: &User,
        query: ViewQuery,
    ) -> Result<BoardView, LeaderboardError> {
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
