//! Events of a multiplayer room, and the views of a room they carry (the same views
//! a connection gets on joining). The room actor emits them in addressed batches.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::quiz::OptionView;

/// Whether a connection in a room hosts it or plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoomRole {
    Host,
    Player,
}

/// Phase of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoomPhase {
    /// Waiting for the host to start.
    Lobby,
    /// A question is open.
    Question,
    /// A question closed: its answer and the scoreboard are shown.
    Reveal,
    /// The game is over.
    Ended,
}

/// A room question as players see it (never its answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoomQuestionView {
    /// Index of the question, from 0.
    pub index: u32,
    pub total: u32,
    pub question: String,
    pub options: Vec<OptionView>,
    pub time_limit_ms: u64,
    /// Time left when this frame was sent, from the server's deadline.
    pub remaining_ms: u64,
    /// Points multiplier of this question (0: no points, 1: standard, 2: double).
    pub points: u32,
    /// True while the host has paused the clock.
    pub paused: bool,
}

/// One line of a room scoreboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoomScoreRow {
    pub rank: u64,
    /// Rank after the previous question (`None` before the first).
    pub previous_rank: Option<u64>,
    pub player_id: Uuid,
    pub name: String,
    pub score: u64,
    pub streak: u32,
}

/// Answers per option of a closed question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoomOptionCount {
    pub option: String,
    pub count: u32,
}

/// A player who took a seat (or came back to theirs), in a `room.roster`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoomRosterJoined {
    pub player_id: Uuid,
    pub name: String,
    pub guest: bool,
    /// True when the player had the seat before (a reconnect).
    pub returning: bool,
}

/// A player who left, dropped or was kicked, in a `room.roster`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoomRosterLeft {
    pub player_id: Uuid,
    pub name: String,
    /// `left`, `disconnected` or `kicked`.
    pub reason: String,
}

/// A room as one connection sees it: sent on joining and on `room.state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoomSnapshot {
    pub room_id: Uuid,
    pub code: String,
    pub title: String,
    pub role: RoomRole,
    pub phase: RoomPhase,
    /// Seated players (the host is not one).
    pub players: u32,
    pub max_players: u32,
    pub question_count: u32,
    /// `speed` (Kahoot's formula) or `accuracy`.
    pub scoring: String,
    pub streak_bonus: bool,
    pub allow_guests: bool,
    /// The open question, if any, with the time left.
    pub question: Option<RoomQuestionView>,
    /// The player's own seat (`None` for the host).
    pub you: Option<RoomSeat>,
    /// The scoreboard after the last closed question (top 10).
    pub scoreboard: Vec<RoomScoreRow>,
    /// Host only (`null` for players): every seat, so a host who reloads can show and
    /// kick everyone; `room.roster` frames then carry the changes.
    pub roster: Option<Vec<RoomRosterSeat>>,
    /// Host only, while a question is open: answers so far, as in `room.answered`.
    pub answered: Option<u32>,
}

/// A seat in the host's snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoomRosterSeat {
    pub player_id: Uuid,
    pub name: String,
    pub guest: bool,
    /// Has a connection right now.
    pub connected: bool,
}

/// A player's seat: what a reconnect gives back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoomSeat {
    pub player_id: Uuid,
    pub name: String,
    pub guest: bool,
    pub score: u64,
    pub streak: u32,
    pub rank: Option<u64>,
    /// True when the open question was already answered.
    pub answered: bool,
    /// First question this player may answer (late joiners wait for the next one).
    pub first_question: u32,
}

/// Something that happened in a room, for the connections it is addressed to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoomEvent {
    /// This connection took its seat (or the host's place).
    Joined {
        re: Option<String>,
        room: Box<RoomSnapshot>,
    },
    /// The room as this connection sees it (asked for, or after missed events).
    State {
        re: Option<String>,
        room: Box<RoomSnapshot>,
    },
    /// Players in the lobby (coalesced).
    Lobby { players: u32 },
    /// To the host: seats taken and left since the last roster (coalesced).
    Roster {
        joined: Vec<RoomRosterJoined>,
        left: Vec<RoomRosterLeft>,
        /// Seated players now.
        players: u32,
    },
    /// A question opened for everyone.
    QuestionOpened(RoomQuestionView),
    /// An answer arrived in time; its correctness comes when the question closes.
    AnswerReceived { re: Option<String>, question: u32 },
    /// To the host: how many answered the open question (coalesced).
    Answered {
        question: u32,
        answered: u32,
        /// Players who may answer it.
        expected: u32,
    },
    /// The host stopped the clock of the open question.
    Paused { question: u32, remaining_ms: u64 },
    /// The host restarted it; the deadline moved by the pause.
    Resumed { question: u32, remaining_ms: u64 },
    /// A question closed: its answer, the counts, the top of the scoreboard.
    QuestionClosed {
        question: u32,
        correct_option: String,
        explanation: String,
        counts: Vec<RoomOptionCount>,
        answered: u32,
        /// True when the host skipped it: nobody scored.
        skipped: bool,
        scoreboard: Vec<RoomScoreRow>,
        players: u32,
    },
    /// To one player after each question: their answer's outcome and their place.
    YourResult {
        question: u32,
        answered: bool,
        correct: bool,
        /// Points of the answer, the streak bonus included.
        points: u32,
        streak_bonus: u32,
        streak: u32,
        score: u64,
        rank: u64,
        previous_rank: Option<u64>,
    },
    /// The host removed this player.
    Kicked { room_id: Uuid },
    /// The game is over.
    Ended {
        room_id: Uuid,
        /// `finished`, `ended_by_host`, `host_left`, `abandoned` or `unavailable`.
        reason: String,
        podium: Vec<RoomScoreRow>,
        players: u32,
        /// The host can download the results.
        results_saved: bool,
    },
    /// To one player at the end: their final place and the XP it earns.
    Final {
        rank: u64,
        score: u64,
        correct: u32,
        answered: u32,
        /// XP granted through the ledger (0 for guests).
        xp: i64,
    },
}

impl RoomPhase {
    /// Its name as the protocol and the metrics label of rooms by phase write it.
    pub fn name(self) -> &'static str {
        match self {
            RoomPhase::Lobby => "lobby",
            RoomPhase::Question => "question",
            RoomPhase::Reveal => "reveal",
            RoomPhase::Ended => "ended",
        }
    }
}
