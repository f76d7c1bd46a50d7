//! The websocket protocol `questpath.v1`: every frame a client may send or the server
//! may send, as serde types tagged by `type`. `docs/protocol.md` documents them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Subprotocol of JSON text frames.
pub const SUBPROTOCOL_JSON: &str = "questpath.v1";
/// Subprotocol of MessagePack binary frames carrying the same messages.
pub const SUBPROTOCOL_MSGPACK: &str = "questpath.v1.msgpack";

/// A frame from a client: an optional correlation `id`, echoed as `re` in replies.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
pub struct ClientFrame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub message: ClientMessage,
}

/// What a client can ask.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum ClientMessage {
    /// Application-level ping; answered with `pong`.
    #[serde(rename = "ping")]
    Ping,
    /// Starts the quiz of a level (unlocked, all topics done).
    #[serde(rename = "quiz.start")]
    QuizStart { level_id: Uuid },
    /// Answers the open question with option `A` to `D`.
    #[serde(rename = "quiz.answer")]
    QuizAnswer {
        /// Position of the question being answered (from 0), so a stale answer to an
        /// earlier question is recognised.
        position: u32,
        option: String,
    },
    /// Gives the quiz in progress up (counted as failed, no XP).
    #[serde(rename = "quiz.abandon")]
    QuizAbandon,
    /// Asks for the current state (the question in flight, if any).
    #[serde(rename = "session.state")]
    SessionState,
    /// Sends this connection `leaderboard.top` of a live board (`alltime` or `weekly`)
    /// now and whenever it changes, at most once a second.
    #[serde(rename = "leaderboard.subscribe")]
    LeaderboardSubscribe { board: String },
    /// Stops `leaderboard.top` of that board; answered with `pong`.
    #[serde(rename = "leaderboard.unsubscribe")]
    LeaderboardUnsubscribe { board: String },
}

/// One learner in a `leaderboard.top` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LeaderboardRow {
    pub rank: u64,
    pub user_id: Uuid,
    /// Display name, or a masked address (never an email).
    pub name: String,
    pub score: i64,
}

/// One option of a question as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OptionView {
    pub value: String,
    pub text: String,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum ServerMessage {
    /// First frame of every connection.
    #[serde(rename = "hello")]
    Hello {
        user_id: Uuid,
        connection_id: Uuid,
        /// Server time (RFC 3339), for display; deadlines are server-side.
        server_time: String,
        heartbeat_secs: u64,
        /// Answers received this long after a deadline still count.
        late_grace_ms: u64,
    },
    #[serde(rename = "pong")]
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        re: Option<String>,
    },
    #[serde(rename = "error")]
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        code: String,
        message: String,
    },
    /// A question is open; answer before `remaining_ms` runs out.
    #[serde(rename = "quiz.question")]
    QuizQuestion {
        #[serde(skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        quiz_id: Uuid,
        level_id: Uuid,
        position: u32,
        total: u32,
        question: String,
        options: Vec<OptionView>,
        /// Time left, from the server's deadline, when this frame was sent.
        remaining_ms: u64,
        time_limit_ms: u64,
    },
    /// Feedback on an answer (or on a question whose time ran out).
    #[serde(rename = "quiz.feedback")]
    QuizFeedback {
        #[serde(skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        quiz_id: Uuid,
        position: u32,
        correct: bool,
        /// `A` to `D`.
        correct_option: String,
        explanation: String,
        /// True when no answer arrived in time.
        timed_out: bool,
    },
    /// The quiz is over.
    #[serde(rename = "quiz.result")]
    QuizResult {
        quiz_id: Uuid,
        level_id: Uuid,
        correct: u32,
        total: u32,
        score: u32,
        passed: bool,
        xp_earned: i64,
        total_xp: i64,
        player_level: u32,
        level_up: bool,
        next_level_unlocked: bool,
    },
    /// Progress of a roadmap-generation job.
    #[serde(rename = "job.status")]
    JobStatus { job: serde_json::Value },
    /// XP was granted (from any device or instance).
    #[serde(rename = "xp.granted")]
    XpGranted {
        amount: i64,
        total_xp: i64,
        player_level: u32,
    },
    /// The learner's place on a board after an XP grant (one frame per board).
    #[serde(rename = "leaderboard.rank")]
    LeaderboardRank {
        /// `alltime` or `weekly`.
        board: String,
        /// The ISO week of a weekly board (`2026-W48`).
        period: Option<String>,
        rank: u64,
        /// `None` when the learner was not on the board before.
        previous_rank: Option<u64>,
        score: i64,
        /// When a weekly board resets (Monday 00:00 UTC, RFC 3339).
        next_reset: Option<String>,
    },
    /// The top of a board this connection subscribed to: at once, then on change.
    #[serde(rename = "leaderboard.top")]
    LeaderboardTop {
        #[serde(skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        board: String,
        period: Option<String>,
        entries: Vec<LeaderboardRow>,
        /// Learners on the board.
        total: u64,
        next_reset: Option<String>,
    },
}

/// The JSON Schema of every frame, generated from these types; `docs/protocol.schema.json`
/// holds a copy that a test keeps current.
pub fn json_schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "QuestPath websocket protocol questpath.v1",
        "client_to_server": schemars::schema_for!(ClientFrame),
        "server_to_client": schemars::schema_for!(ServerMessage),
    })
}

/// Option letters by index.
pub const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// Error codes of `error` frames (stable; documented in docs/protocol.md).
pub mod codes {
    pub const MALFORMED: &str = "malformed_message";
    pub const UNKNOWN_TYPE: &str = "unknown_type";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const FRAME_TOO_LARGE: &str = "frame_too_large";
    pub const NOT_FOUND: &str = "not_found";
    pub const LEVEL_LOCKED: &str = "level_locked";
    pub const TOPICS_INCOMPLETE: &str = "topics_incomplete";
    pub const QUIZ_IN_PROGRESS: &str = "quiz_in_progress";
    pub const NO_QUIZ: &str = "no_quiz";
    pub const WRONG_QUESTION: &str = "wrong_question";
    pub const LATE_ANSWER: &str = "late_answer";
    pub const INVALID_OPTION: &str = "invalid_option";
    pub const UNAVAILABLE: &str = "unavailable";
}

/// Close codes (4000-4999 are the application's).
pub mod close {
    /// The client did not read fast enough: its outgoing queue filled up.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// Too many messages too fast, repeatedly.
    pub const FLOOD: u16 = 4009;
    /// No frame (not even a pong) for the heartbeat timeout.
    pub const TIMEOUT: u16 = 4010;
    /// The server is shutting down: reconnect (to another instance).
    pub const RESTART: u16 = 1012;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_parse_with_and_without_an_id() {
        let frame: ClientFrame =
            serde_json::from_str(r#"{"type":"quiz.answer","id":"7","position":2,"option":"C"}"#)
                .unwrap();
        assert_eq!(frame.id.as_deref(), Some("7"));
        assert_eq!(
            frame.message,
            ClientMessage::QuizAnswer {
                position: 2,
                option: "C".into()
            }
        );
        let ping: ClientFrame = serde_json::from_str(r#"{"type":"ping"}"#).unwrap();
        assert_eq!(ping.message, ClientMessage::Ping);
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"nope"}"#).is_err());
    }

    #[test]
    fn the_published_json_schema_is_current() {
        let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.schema.json");
        if std::env::var_os("QUESTPATH_UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let published = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            published == generated,
            "docs/protocol.schema.json is stale: run `QUESTPATH_UPDATE_SCHEMA=1 cargo test --lib protocol`"
        );
    }

    #[test]
    fn server_messages_carry_their_type() {
        let text = serde_json::to_string(&ServerMessage::Pong {
            re: Some("1".into()),
        })
        .unwrap();
        assert_eq!(text, r#"{"type":"pong","re":"1"}"#);
    }
}
