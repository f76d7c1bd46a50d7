//! Domain events: what the game core tells a learner's connections. Sessions, rooms and
//! the leaderboard emit them; the websocket endpoint (the server crate's transport) turns
//! each into a `questpath.v1` frame. Nothing here knows the wire format.
//!
//! Events addressed to a request carry its correlation id (`re`), opaque to the core.
//! They are serde types because room events travel between instances over the bus.

pub mod codes;
pub mod league;
pub mod notification;
pub mod progress;
pub mod quiz;
pub mod room;
pub mod streaks;

use serde::{Deserialize, Serialize};

pub use league::{LeagueRow, LeagueStandings};
pub use notification::{NotificationCreated, NotificationView};
pub use progress::{BoardTop, LeaderboardRow, RankChanged, XpGranted};
pub use quiz::{AnswerJudged, QuestionOpened, QuizFinished};
pub use room::RoomEvent;
pub use streaks::{DailyGoalReached, StreakAtRisk, StreakUpdated};

/// Option letters by index.
pub const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// One thing a connection is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Notice {
    /// A request was carried out and has no other answer.
    Done { re: Option<String> },
    /// A request was refused: a stable `code` (see [`codes`]) and a sentence.
    Refused {
        re: Option<String>,
        code: String,
        message: String,
    },
    /// A solo-quiz question opened (or is shown again).
    QuestionOpened(QuestionOpened),
    /// A solo-quiz answer was judged, or its time ran out.
    AnswerJudged(AnswerJudged),
    /// A solo quiz ended, with the XP it earned.
    QuizFinished(QuizFinished),
    /// Progress of a roadmap-generation job (the job's public view).
    JobProgress(serde_json::Value),
    /// XP was granted to this learner (on any device or instance).
    XpGranted(XpGranted),
    /// The learner's place on a board moved after a grant.
    RankChanged(RankChanged),
    /// The top of a board a connection follows.
    BoardTop(BoardTop),
    /// Something happened in a multiplayer room.
    Room(RoomEvent),
    /// A notification was created for this learner.
    Notification(NotificationCreated),
    /// The standings of the learner's league cohort changed.
    LeagueStandings(LeagueStandings),
    // ---- streaks (issue 18) ----
    /// The learner's streak or today's progress changed.
    StreakUpdated(StreakUpdated),
    /// A local day's goal was reached.
    DailyGoalReached(DailyGoalReached),
    /// The evening came with the streak not yet kept today.
    StreakAtRisk(StreakAtRisk),
}

impl Notice {
    /// A refusal of the request `re`.
    pub fn refused(re: Option<String>, code: &str, message: impl Into<String>) -> Self {
        Notice::Refused {
            re,
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl From<RoomEvent> for Notice {
    fn from(event: RoomEvent) -> Self {
        Notice::Room(event)
    }
}
