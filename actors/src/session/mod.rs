//! A learner's session: one [`actor::SessionActor`] per signed-in learner per instance
//! owns their connections (a phone and a browser at once), the solo quiz in progress
//! and its timer, and their bus topic; the [`registry::Registry`] finds or starts it.
//! Connections speak to it in [`Command`]s and hear [`crate::events::Notice`]s; the
//! websocket endpoint translates both to and from the wire.
//!
//! A learner's quiz runs in one session at a time, whichever instance it is on: the one
//! holding the quiz's lease ([`crate::ports::QuizOwners`]). The learner's sessions on
//! other instances forward their quiz commands to it over the learner's bus topic and
//! show the frames it publishes there, and take the quiz over when its lease runs out
//! (the private `owner` module).

pub mod actor;
mod owner;
pub mod quiz;
mod quiz_flow;
pub mod registry;

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::goals::service::GoalService;
use crate::observe::GameMetrics;
use crate::ports::{Bus, Cache, QuizOwners, Store};
use crate::xp::XpService;

/// Timings of sessions.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// How long a session outlives its last connection.
    pub grace: Duration,
    /// Time to answer one quiz question.
    pub question_time: Duration,
    /// Life of a quiz's owner lease without a renewal; the owner renews it three times
    /// per period, and another instance's session takes the quiz over once it ran out.
    pub quiz_lease: Duration,
}

/// What sessions need.
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub cache: Arc<dyn Cache>,
    pub bus: Arc<dyn Bus>,
    /// The quizzes' leases and saved copies.
    pub quiz_owners: Arc<dyn QuizOwners>,
    pub goals: GoalService,
    pub xp: XpService,
    pub settings: SessionSettings,
    /// Session and quiz metrics.
    pub metrics: Arc<dyn GameMetrics>,
}

/// What a learner's connection asks of their session (forwarded over the bus to the
/// quiz's owner when another instance runs it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Command {
    /// Answered with [`crate::events::Notice::Done`] (a liveness check through the mailbox).
    Ping,
    /// Starts the quiz of a level (unlocked, all topics done).
    StartQuiz { level_id: Uuid },
    /// Answers the open question (`position`, from 0) with option `A` to `D`.
    Answer { position: u32, option: String },
    /// Gives the quiz up (counted as failed, no XP).
    Abandon,
    /// The question in flight, if any.
    State,
    /// Follows the top of a board (`alltime` or `weekly`).
    FollowBoard { board: String },
    /// Stops following it.
    UnfollowBoard { board: String },
}
