//! The websocket protocol `questpath.v1`: every frame a client may send or the server
//! may send, as serde types tagged by `type`. `docs/protocol.md` documents them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

// The views frames carry are the core's (their serde shape is part of this protocol, and
// the schema test below fails if one changes); so are the refusal codes.
pub use questpath_actors::events::quiz::OptionView;
pub use questpath_actors::events::room::{
    RoomOptionCount, RoomPhase, RoomQuestionView, RoomRole, RoomRosterJoined, RoomRosterLeft,
    RoomRosterSeat, RoomScoreRow, RoomSeat, RoomSnapshot,
};
pub use questpath_actors::events::{LETTERS, LeaderboardRow, LeagueRow, NotificationView, codes};

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
    /// Takes a seat in a multiplayer room by its join code (or the host's place). A
    /// player who had a seat gets it back, with their score and streak.
    #[serde(rename = "room.join")]
    RoomJoin {
        code: String,
        /// Display name in the room, 1 to 24 characters (signed-in learners default to
        /// their profile name; guests chose theirs when they got their ticket).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Leaves the room (in the lobby the seat is given up; in a game it is kept for
    /// the results).
    #[serde(rename = "room.leave")]
    RoomLeave,
    /// Answers the open question `question` (its index) with option `A` to `D`.
    #[serde(rename = "room.answer")]
    RoomAnswer { question: u32, option: String },
    /// The current state of the room, as in `room.joined`.
    #[serde(rename = "room.state")]
    RoomState,
    /// Host: opens the first question.
    #[serde(rename = "room.start")]
    RoomStart,
    /// Host: after a question closed, opens the next (or ends after the last).
    #[serde(rename = "room.next")]
    RoomNext,
    /// Host: closes the open question now and scores it.
    #[serde(rename = "room.close_question")]
    RoomCloseQuestion,
    /// Host: cancels the open question (nobody scores) and opens the next.
    #[serde(rename = "room.skip")]
    RoomSkip,
    /// Host: removes a player and keeps them out of this room.
    #[serde(rename = "room.kick")]
    RoomKick { player_id: Uuid },
    /// Host: stops the clock of the open question.
    #[serde(rename = "room.pause")]
    RoomPause,
    /// Host: restarts the clock with the time that was left.
    #[serde(rename = "room.resume")]
    RoomResume,
    /// Host: ends the game now (the open question is scored first).
    #[serde(rename = "room.end")]
    RoomEnd,
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
    // ---- streaks (issue 18) ----
    /// The learner's streak or today's progress changed (after a grant or a settings
    /// change, from any device or instance).
    #[serde(rename = "streak.updated")]
    StreakUpdated {
        /// Days kept in a row (today counts once its goal is reached).
        streak: u32,
        longest: u32,
        /// Streak freezes held (at most 2); one covers a missed day by itself.
        freezes: u32,
        /// The learner's local date (`YYYY-MM-DD`, in their `time_zone`).
        #[schemars(with = "String")]
        today: chrono::NaiveDate,
        /// XP granted within the local day.
        today_xp: i64,
        daily_goal: u32,
        goal_reached: bool,
    },
    /// A local day's XP reached the daily goal (once per day).
    #[serde(rename = "daily_goal.reached")]
    DailyGoalReached {
        /// The local date (`YYYY-MM-DD`).
        #[schemars(with = "String")]
        date: chrono::NaiveDate,
        xp: i64,
        daily_goal: u32,
        /// The streak with this day counted.
        streak: u32,
    },
    /// The learner's evening (19:00 local) came with a streak and today's goal not yet
    /// reached (at most once per local day).
    #[serde(rename = "streak.at_risk")]
    StreakAtRisk {
        streak: u32,
        /// The local date at risk (`YYYY-MM-DD`).
        #[schemars(with = "String")]
        local_date: chrono::NaiveDate,
        today_xp: i64,
        daily_goal: u32,
        freezes: u32,
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
    /// This connection is in the room (an answer to `room.join`).
    #[serde(rename = "room.joined")]
    RoomJoined {
        #[serde(skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        room: Box<RoomSnapshot>,
    },
    /// The state of the room (an answer to `room.state`, or after missed events).
    #[serde(rename = "room.state")]
    RoomStateView {
        #[serde(skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        room: Box<RoomSnapshot>,
    },
    /// Players in the lobby (coalesced: at most once a second).
    #[serde(rename = "room.lobby")]
    RoomLobby { players: u32 },
    /// To the host: who took (or took back) a seat and who left since the last roster
    /// (coalesced: at most four a second, so a 10,000-player join ramp stays a trickle).
    #[serde(rename = "room.roster")]
    RoomRoster {
        joined: Vec<RoomRosterJoined>,
        left: Vec<RoomRosterLeft>,
        /// Seated players now.
        players: u32,
    },
    /// A question opened for everyone.
    #[serde(rename = "room.question")]
    RoomQuestion(RoomQuestionView),
    /// The answer was received in time; correctness comes when the question closes.
    #[serde(rename = "room.answer_ack")]
    RoomAnswerAck {
        #[serde(skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        question: u32,
    },
    /// To the host: how many answered the open question (coalesced, 4 per second).
    #[serde(rename = "room.answered")]
    RoomAnswered {
        question: u32,
        answered: u32,
        /// Players who may answer it.
        expected: u32,
    },
    /// The host paused the open question.
    #[serde(rename = "room.paused")]
    RoomPaused { question: u32, remaining_ms: u64 },
    /// The host resumed it; the deadline moved by the pause.
    #[serde(rename = "room.resumed")]
    RoomResumed { question: u32, remaining_ms: u64 },
    /// A question closed: its answer, the counts, the top of the scoreboard.
    #[serde(rename = "room.question_closed")]
    RoomQuestionClosed {
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
    #[serde(rename = "room.your_result")]
    RoomYourResult {
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
    /// The host removed this player; the connection is out of the room.
    #[serde(rename = "room.kicked")]
    RoomKicked { room_id: Uuid },
    /// The game is over; the connection is out of the room.
    #[serde(rename = "room.ended")]
    RoomEnded {
        room_id: Uuid,
        /// `finished`, `ended_by_host`, `host_left`, `abandoned` or `unavailable`.
        reason: String,
        podium: Vec<RoomScoreRow>,
        players: u32,
        /// The host can download the results (`/api/v1/rooms/{room_id}/results`).
        results_saved: bool,
    },
    /// To one player at the end: their final place and the XP it earns.
    #[serde(rename = "room.final")]
    RoomFinal {
        rank: u64,
        score: u64,
        correct: u32,
        answered: u32,
        /// XP granted through the ledger (0 for guests, who have no account).
        xp: i64,
    },
    /// A notification was created for this learner (on any instance); it is also in
    /// `GET /api/v1/notifications`.
    #[serde(rename = "notification")]
    Notification {
        notification: NotificationView,
        /// The learner's unread notifications, this one included.
        unread: u32,
    },
    /// The standings of the learner's league cohort, after they changed (at most once
    /// a second per cohort).
    #[serde(rename = "league.standings")]
    LeagueStandings {
        /// The ISO week (`2026-W48`).
        week: String,
        /// `bronze`, `silver`, `gold`, `sapphire`, `ruby`, `emerald` or `diamond`.
        tier: String,
        /// The cohort's number within its tier and week.
        cohort: u32,
        /// When the week ends (Monday 00:00 UTC, RFC 3339).
        ends_at: String,
        /// Ranks 1 to this move up a tier at the week's end.
        promotion_ranks: u32,
        /// The last this many ranks move down a tier.
        demotion_ranks: u32,
        /// The whole cohort, best first.
        standings: Vec<LeagueRow>,
    },
}

impl ClientMessage {
    /// Its `type` on the wire (the metrics label of received messages).
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Ping => "ping",
            ClientMessage::QuizStart { .. } => "quiz.start",
            ClientMessage::QuizAnswer { .. } => "quiz.answer",
            ClientMessage::QuizAbandon => "quiz.abandon",
            ClientMessage::SessionState => "session.state",
            ClientMessage::LeaderboardSubscribe { .. } => "leaderboard.subscribe",
            ClientMessage::LeaderboardUnsubscribe { .. } => "leaderboard.unsubscribe",
            ClientMessage::RoomJoin { .. } => "room.join",
            ClientMessage::RoomLeave => "room.leave",
            ClientMessage::RoomAnswer { .. } => "room.answer",
            ClientMessage::RoomState => "room.state",
            ClientMessage::RoomStart => "room.start",
            ClientMessage::RoomNext => "room.next",
            ClientMessage::RoomCloseQuestion => "room.close_question",
            ClientMessage::RoomSkip => "room.skip",
            ClientMessage::RoomKick { .. } => "room.kick",
            ClientMessage::RoomPause => "room.pause",
            ClientMessage::RoomResume => "room.resume",
            ClientMessage::RoomEnd => "room.end",
        }
    }
}

impl ServerMessage {
    /// Its `type` on the wire (the metrics label of sent messages).
    pub fn kind(&self) -> &'static str {
        match self {
            ServerMessage::Hello { .. } => "hello",
            ServerMessage::Pong { .. } => "pong",
            ServerMessage::Error { .. } => "error",
            ServerMessage::QuizQuestion { .. } => "quiz.question",
            ServerMessage::QuizFeedback { .. } => "quiz.feedback",
            ServerMessage::QuizResult { .. } => "quiz.result",
            ServerMessage::JobStatus { .. } => "job.status",
            ServerMessage::XpGranted { .. } => "xp.granted",
            ServerMessage::StreakUpdated { .. } => "streak.updated",
            ServerMessage::DailyGoalReached { .. } => "daily_goal.reached",
            ServerMessage::StreakAtRisk { .. } => "streak.at_risk",
            ServerMessage::LeaderboardRank { .. } => "leaderboard.rank",
            ServerMessage::LeaderboardTop { .. } => "leaderboard.top",
            ServerMessage::RoomJoined { .. } => "room.joined",
            ServerMessage::RoomStateView { .. } => "room.state",
            ServerMessage::RoomLobby { .. } => "room.lobby",
            ServerMessage::RoomRoster { .. } => "room.roster",
            ServerMessage::RoomQuestion(_) => "room.question",
            ServerMessage::RoomAnswerAck { .. } => "room.answer_ack",
            ServerMessage::RoomAnswered { .. } => "room.answered",
            ServerMessage::RoomPaused { .. } => "room.paused",
            ServerMessage::RoomResumed { .. } => "room.resumed",
            ServerMessage::RoomQuestionClosed { .. } => "room.question_closed",
            ServerMessage::RoomYourResult { .. } => "room.your_result",
            ServerMessage::RoomKicked { .. } => "room.kicked",
            ServerMessage::RoomEnded { .. } => "room.ended",
            ServerMessage::RoomFinal { .. } => "room.final",
            ServerMessage::Notification { .. } => "notification",
            ServerMessage::LeagueStandings { .. } => "league.standings",
        }
    }
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

/// Close codes (4000-4999 are the application's).
pub mod close {
    /// The client did not read fast enough: its outgoing queue filled up.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// Too many messages too fast, repeatedly.
    pub const FLOOD: u16 = 4009;
    /// No frame (not even a pong) for the heartbeat timeout.
    pub const TIMEOUT: u16 = 4010;
    /// The learner deleted their account (on this device or another): do not reconnect.
    pub const ACCOUNT_DELETED: u16 = 4011;
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
    fn kinds_and_phase_names_are_the_wire_names() {
        let message = ServerMessage::Pong { re: None };
        let tagged = serde_json::to_value(&message).unwrap();
        assert_eq!(tagged["type"], message.kind());
        for text in [
            r#"{"type":"ping"}"#,
            r#"{"type":"quiz.answer","position":0,"option":"A"}"#,
            r#"{"type":"quiz.abandon"}"#,
            r#"{"type":"session.state"}"#,
            r#"{"type":"leaderboard.subscribe","board":"alltime"}"#,
        ] {
            let frame: ClientFrame = serde_json::from_str(text).unwrap();
            let tagged: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(tagged["type"], frame.message.kind());
        }
        for phase in [
            RoomPhase::Lobby,
            RoomPhase::Question,
            RoomPhase::Reveal,
            RoomPhase::Ended,
        ] {
            assert_eq!(serde_json::to_value(phase).unwrap(), phase.name());
            assert!(crate::metrics::ROOM_PHASES.contains(&phase.name()));
        }
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
