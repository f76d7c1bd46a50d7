//! What the game core reports for monitoring. The server's Prometheus registry
//! implements [`GameMetrics`]. Every method has an empty default so a test double names
//! only what it checks.

use std::time::Duration;

use crate::events::room::RoomPhase;

/// `result` label of finished quizzes.
pub mod quiz_result {
    pub const PASSED: &str = "passed";
    pub const FAILED: &str = "failed";
    pub const ABANDONED: &str = "abandoned";
    pub const ALL: &[&str] = &[PASSED, FAILED, ABANDONED];
}

/// `outcome` label of finished jobs.
pub mod job_outcome {
    /// Done and acknowledged.
    pub const DONE: &str = "done";
    /// Failed, requeued with a backoff.
    pub const RETRIED: &str = "retried";
    /// Failed for good: attempts exhausted (dead-lettered) or refused.
    pub const FAILED: &str = "failed";
    /// The worker itself failed (store or queue error); the queue hands the job out again.
    pub const ERROR: &str = "error";
}

/// `move` label of league results at a week's end.
pub mod league_move {
    pub const PROMOTED: &str = "promoted";
    pub const DEMOTED: &str = "demoted";
    pub const STAYED: &str = "stayed";
    pub const ALL: &[&str] = &[PROMOTED, DEMOTED, STAYED];
}

/// Counters and timings of sessions, quizzes, XP, rooms and jobs.
#[allow(unused_variables)]
pub trait GameMetrics: Send + Sync + 'static {
    /// Live session actors on this instance.
    fn set_sessions(&self, count: usize) {}
    /// A client frame of type `kind` was handled `elapsed` after it was read.
    fn ws_handled(&self, kind: &'static str, elapsed: Duration) {}
    fn quiz_started(&self) {}
    /// An answer came `since_open` after its question opened; its feedback left
    /// `to_feedback` after the frame was read.
    fn quiz_answered(&self, since_open: Duration, to_feedback: Duration) {}
    fn quiz_late_answer(&self) {}
    fn quiz_question_timed_out(&self) {}
    /// One of [`quiz_result`].
    fn quiz_finished(&self, result: &'static str) {}
    fn level_up(&self) {}
    fn xp_granted(&self, source: &'static str, amount: i64) {}
    /// A pending XP mark was dropped: its grant never reached the ledger.
    fn xp_pending_dropped(&self) {}
    fn room_created(&self) {}
    fn room_adopted(&self) {}
    fn room_phase_changed_from_none(&self, phase: RoomPhase) {}
    fn room_phase_changed(&self, from: RoomPhase, to: RoomPhase) {}
    fn room_phase_changed_to_none(&self, phase: RoomPhase) {}
    fn room_players_changed(&self, from: u32, to: u32) {}
    fn room_ended(&self, reason: &'static str) {}
    fn room_answer(&self, outcome: &'static str) {}
    /// From a room batch's publication to its delivery to this instance's sockets.
    fn room_fanout(&self, elapsed: Duration) {}
    /// One of [`job_outcome`].
    fn job_finished(&self, queue: &str, outcome: &'static str, elapsed: Duration) {}
    fn job_dead_lettered(&self, queue: &str) {}
    /// A notification of `kind` was created (a repeat of its key is not counted).
    fn notification_created(&self, kind: &'static str) {}
    /// `count` learners of a week's end moved as `moved` (one of [`league_move`]).
    fn league_moves(&self, moved: &'static str, count: u64) {}
    /// A league cohort opened in `tier`.
    fn league_cohort_formed(&self, tier: &'static str) {}
    // ---- streaks (issue 18) ----
    /// A learner's local day reached its daily goal (a streak day kept).
    fn streak_day_kept(&self) {}
    /// Streaks ended by a missed day without a freeze.
    fn streaks_broken(&self, count: u32) {}
    /// Streak freezes used up on missed days.
    fn streak_freezes_used(&self, count: u32) {}
    /// Streak-at-risk notices sent.
    fn streak_at_risk(&self) {}
}
