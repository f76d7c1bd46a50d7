//! The game core's monitoring trait (`questpath_actors::observe`), answered by the registry's own methods.

use std::time::Duration;

use questpath_actors::events::room::RoomPhase;
use questpath_actors::observe::GameMetrics as CoreMetrics;

use super::Metrics;

impl CoreMetrics for Metrics {
    fn set_sessions(&self, count: usize) {
        Metrics::set_sessions(self, count)
    }
    fn ws_handled(&self, kind: &'static str, elapsed: Duration) {
        Metrics::ws_handled(self, kind, elapsed)
    }
    fn quiz_started(&self) {
        Metrics::quiz_started(self)
    }
    fn quiz_answered(&self, since_open: Duration, to_feedback: Duration) {
        Metrics::quiz_answered(self, since_open, to_feedback)
    }
    fn quiz_late_answer(&self) {
        Metrics::quiz_late_answer(self)
    }
    fn quiz_question_timed_out(&self) {
        Metrics::quiz_question_timed_out(self)
    }
    fn quiz_finished(&self, result: &'static str) {
        Metrics::quiz_finished(self, result)
    }
    fn level_up(&self) {
        Metrics::level_up(self)
    }
    fn xp_granted(&self, source: &'static str, amount: i64) {
        Metrics::xp_granted(self, source, amount)
    }
    fn xp_pending_dropped(&self) {
        Metrics::xp_pending_dropped(self)
    }
    // streaks (issue 18)
    fn streak_day_kept(&self) {
        Metrics::streak_day_kept(self)
    }
    fn streaks_broken(&self, count: u32) {
        Metrics::streaks_broken(self, count)
    }
    fn streak_freezes_used(&self, count: u32) {
        Metrics::streak_freezes_used(self, count)
    }
    fn streak_at_risk(&self) {
        Metrics::streak_at_risk(self)
    }
    fn room_created(&self) {
        Metrics::room_created(self)
    }
    fn room_adopted(&self) {
        Metrics::room_adopted(self)
    }
    fn room_phase_changed_from_none(&self, phase: RoomPhase) {
        Metrics::room_phase_changed_from_none(self, phase.name())
    }
    fn room_phase_changed(&self, from: RoomPhase, to: RoomPhase) {
        Metrics::room_phase_changed(self, from.name(), to.name())
    }
    fn room_phase_changed_to_none(&self, phase: RoomPhase) {
        Metrics::room_phase_changed_to_none(self, phase.name())
    }
    fn room_players_changed(&self, from: u32, to: u32) {
        Metrics::room_players_changed(self, from, to)
    }
    fn room_ended(&self, reason: &'static str) {
        Metrics::room_ended(self, reason)
    }
    fn room_answer(&self, outcome: &'static str) {
        Metrics::room_answer(self, outcome)
    }
    fn room_fanout(&self, elapsed: Duration) {
        Metrics::room_fanout(self, elapsed)
    }
    fn job_finished(&self, queue: &str, outcome: &'static str, elapsed: Duration) {
        Metrics::job_finished(self, queue, outcome, elapsed)
    }
    fn job_dead_lettered(&self, queue: &str) {
        Metrics::job_dead_lettered(self, queue)
    }
    fn notification_created(&self, kind: &'static str) {
        Metrics::notification_created(self, kind)
    }
    fn league_moves(&self, moved: &'static str, count: u64) {
        Metrics::league_moves(self, moved, count)
    }
    fn league_cohort_formed(&self, tier: &'static str) {
        Metrics::league_cohort_formed(self, tier)
    }
}
