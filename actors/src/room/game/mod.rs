//! One room's game as a plain state machine over the server clock: seats, phases,
//! answers, scores, ranks and results. The room actor feeds it commands and times (the
//! clock is always passed in) and sends the domain events it returns, addressed
//! ([`Event`](crate::room::event::Event)); everything here is testable without actors or sockets.
//!
//! The [`Game`] type and its records are here; its methods by concern:
//! - `seats`: joins, reconnects, leaves and kicks, and the presence counts.
//! - `phases`: the host's controls (start, next, skip, pause, resume) and opening questions.
//! - `scoring`: answers, closing a question, ranks, the end and the results.
//! - `views`: what a connection is shown (snapshots, the coalesced counters, the roster).

mod phases;
mod scoring;
mod seats;
mod views;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::event::PlayerKind;
use crate::events::room::{RoomPhase, RoomRosterJoined, RoomRosterLeft, RoomScoreRow};
use crate::rules::quiz::LATE_GRACE;
use crate::rules::room::{Scoring, Standing};

/// Rows of the scoreboard broadcast after each question.
pub const SCOREBOARD_TOP: usize = 10;

/// A question as the room plays it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RoomQuestion {
    pub question: String,
    pub options: Vec<String>,
    /// Index of the correct option.
    pub answer: u8,
    pub explanation: String,
    pub time_limit: Duration,
    /// Points multiplier: 0 (no points), 1 or 2.
    pub points: u32,
}

/// How a room was set up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoomConfig {
    pub room_id: Uuid,
    pub code: String,
    pub title: String,
    pub host_id: Uuid,
    pub scoring: Scoring,
    pub streak_bonus: bool,
    pub allow_guests: bool,
    pub max_players: usize,
    pub questions: Vec<RoomQuestion>,
}

/// A refused command: an error code of the protocol and a message.
pub type Refusal = (&'static str, String);

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    (code, message.into())
}

/// One player's answer to one question.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnswerRecord {
    pub option: u8,
    pub correct: bool,
    pub points: u32,
    pub response_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Player {
    id: Uuid,
    name: String,
    kind: PlayerKind,
    joined: u64,
    connections: u32,
    /// Left on purpose (still in the results).
    left: bool,
    first_question: u32,
    score: u64,
    streak: u32,
    best_streak: u32,
    correct: u32,
    answered: u32,
    correct_time_ms: u64,
    rank: Option<u64>,
    previous_rank: Option<u64>,
    answers: Vec<Option<AnswerRecord>>,
}

impl Player {
    fn standing(&self) -> Standing {
        Standing {
            score: self.score,
            correct_time_ms: self.correct_time_ms,
            joined: self.joined,
        }
    }

    fn present(&self) -> bool {
        self.connections > 0 && !self.left
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OpenQuestion {
    index: u32,
    opened_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    /// Time that was left when the host paused.
    paused: Option<Duration>,
    answers: HashMap<Uuid, AnswerRecord>,
}

/// Why a game ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Finished,
    EndedByHost,
    HostLeft,
    Abandoned,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Finished => "finished",
            EndReason::EndedByHost => "ended_by_host",
            EndReason::HostLeft => "host_left",
            EndReason::Abandoned => "abandoned",
        }
    }
}

/// A closed question in the results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuestionOutcome {
    pub index: u32,
    pub question: String,
    pub correct_option: String,
    pub counts: Vec<u32>,
    pub answered: u32,
    pub skipped: bool,
}

/// A player in the final results.
#[derive(Debug, Clone, Serialize)]
pub struct PlayerResult {
    pub rank: u64,
    pub player_id: Uuid,
    pub name: String,
    pub guest: bool,
    pub score: u64,
    pub correct: u32,
    pub answered: u32,
    pub best_streak: u32,
    pub xp: i64,
    /// One entry per question (`None`: not answered).
    pub answers: Vec<Option<AnswerRecord>>,
}

/// The whole outcome of a game, kept in the store.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub room_id: Uuid,
    pub code: String,
    pub title: String,
    pub host_id: Uuid,
    pub scoring: &'static str,
    pub streak_bonus: bool,
    pub end_reason: EndReason,
    pub questions: Vec<QuestionOutcome>,
    pub players: Vec<PlayerResult>,
}

/// A game of one room. Serializable: the actor snapshots it, so another instance can
/// adopt the room if this one dies or drains.
#[derive(Serialize, Deserialize)]
pub struct Game {
    config: RoomConfig,
    phase: RoomPhase,
    players: HashMap<Uuid, Player>,
    banned: HashSet<Uuid>,
    names: HashSet<String>,
    host_connections: u32,
    next_join: u64,
    /// The next question to open.
    next_question: u32,
    open: Option<OpenQuestion>,
    closed: Vec<QuestionOutcome>,
    scoreboard: Vec<RoomScoreRow>,
    /// Players with a connection (kept in step with every seat change, so no command
    /// walks the seats).
    present: u32,
    /// Of those, the ones who may answer the open question.
    expected: u32,
    /// Of those, the ones who have not answered it yet: the question closes early when
    /// this reaches zero. Counted apart from the answers, because an answer may come
    /// from a player who has since dropped (and a reconnect must not close it).
    #[serde(default)]
    pending: u32,
    /// The question that was open when this instance adopted the room: its players are
    /// still reconnecting, so it closes early only once every seated player who may
    /// answer has answered (not just the first ones back).
    #[serde(skip)]
    adopted_during: Option<u32>,
    /// Roster changes the host has not been told yet.
    #[serde(skip)]
    roster_joined: Vec<RoomRosterJoined>,
    #[serde(skip)]
    roster_left: Vec<RoomRosterLeft>,
    /// Something the coalesced lobby / answered counters should report.
    pub lobby_dirty: bool,
    pub answered_dirty: bool,
}

impl Game {
    pub fn new(config: RoomConfig) -> Self {
        Game {
            config,
            phase: RoomPhase::Lobby,
            players: HashMap::new(),
            banned: HashSet::new(),
            names: HashSet::new(),
            host_connections: 0,
            next_join: 0,
            next_question: 0,
            open: None,
            closed: Vec::new(),
            scoreboard: Vec::new(),
            present: 0,
            expected: 0,
            pending: 0,
            adopted_during: None,
            roster_joined: Vec::new(),
            roster_left: Vec::new(),
            lobby_dirty: false,
            answered_dirty: false,
        }
    }

    /// The game as another instance takes it over: nobody is connected until their
    /// instances reattach them (or they join again).
    pub fn adopted(mut self) -> Self {
        self.host_connections = 0;
        for player in self.players.values_mut() {
            player.connections = 0;
        }
        self.present = 0;
        self.expected = 0;
        self.pending = 0;
        self.adopted_during = self.open.as_ref().map(|o| o.index);
        self
    }

    pub fn config(&self) -> &RoomConfig {
        &self.config
    }

    pub fn phase(&self) -> RoomPhase {
        self.phase
    }

    /// Seated players (present or not; not those who left the lobby or were kicked).
    pub fn seated(&self) -> u32 {
        self.players.len() as u32
    }

    /// Players with at least one connection.
    pub fn connected(&self) -> u32 {
        self.present
    }

    pub fn host_connected(&self) -> bool {
        self.host_connections > 0
    }

    pub fn is_host(&self, id: Uuid) -> bool {
        id == self.config.host_id
    }

    /// When the open question closes by itself (its deadline plus the grace), unless
    /// paused.
    pub fn closes_at(&self) -> Option<DateTime<Utc>> {
        let open = self.open.as_ref()?;
        if open.paused.is_some() {
            return None;
        }
        Some(open.deadline + grace())
    }

    /// Whether the last question has been played.
    pub fn out_of_questions(&self) -> bool {
        self.next_question as usize >= self.config.questions.len()
    }

    /// Questions that were closed (played or skipped).
    pub fn questions_closed(&self) -> usize {
        self.closed.len()
    }
}

fn grace() -> chrono::Duration {
    chrono::Duration::from_std(LATE_GRACE).unwrap_or_default()
}

pub fn scoring_name(scoring: Scoring) -> &'static str {
    match scoring {
        Scoring::Speed => "speed",
        Scoring::Accuracy => "accuracy",
    }
}

#[cfg(test)]
mod tests;
