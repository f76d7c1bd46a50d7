//! The solo game: quizzes started and finished, answer and feedback times, late answers
//! and timeouts, XP granted and level-ups, notifications created.

use std::time::Duration;

use prometheus::{Histogram, IntCounter, IntCounterVec, Registry};

use super::Metrics;
use super::collectors::{counter, counter_vec, histogram};
use super::websocket::WS_HANDLE_BUCKETS;

/// A learner's time to answer a question (the default limit is 30 s).
const ANSWER_TIME_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// How a quiz ended; the label values of `questpath_quizzes_finished_total`.
pub use questpath_actors::observe::quiz_result;

#[derive(Clone)]
pub(super) struct GameMetrics {
    quizzes_started: IntCounter,
    quizzes_finished: IntCounterVec,
    answer_time: Histogram,
    feedback: Histogram,
    late_answers: IntCounter,
    timeouts: IntCounter,
    xp_granted: IntCounterVec,
    level_ups: IntCounter,
    xp_pending_dropped: IntCounter,
    notifications_created: IntCounterVec,
    // streaks (issue 18)
    streak_days_kept: IntCounter,
    streaks_broken: IntCounter,
    streak_freezes_used: IntCounter,
    streak_at_risk: IntCounter,
}

impl GameMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = GameMetrics {
            quizzes_started: counter(r, "questpath_quizzes_started_total", "Quizzes started")?,
            quizzes_finished: counter_vec(
                r,
                "questpath_quizzes_finished_total",
                "Quizzes ended, by result (passed, failed, abandoned)",
                &["result"],
            )?,
            answer_time: histogram(
                r,
                "questpath_quiz_answer_time_seconds",
                "From a question opening to the learner's answer being accepted",
                ANSWER_TIME_BUCKETS,
            )?,
            feedback: histogram(
                r,
                "questpath_quiz_feedback_duration_seconds",
                "From an answer's arrival to its feedback being queued for the learner's sockets",
                WS_HANDLE_BUCKETS,
            )?,
            late_answers: counter(
                r,
                "questpath_quiz_late_answers_total",
                "Answers refused because they arrived after the deadline and its grace",
            )?,
            timeouts: counter(
                r,
                "questpath_quiz_questions_timed_out_total",
                "Questions closed unanswered when their time ran out",
            )?,
            xp_granted: counter_vec(
                r,
                "questpath_xp_granted_total",
                "XP written to the ledger, by source (each grant once, retries excluded)",
                &["source"],
            )?,
            level_ups: counter(
                r,
                "questpath_level_ups_total",
                "Grants that moved a learner to a higher player level",
            )?,
            xp_pending_dropped: counter(
                r,
                "questpath_xp_pending_dropped_total",
                "Pending XP marks dropped by recovery because their grant never reached the ledger",
            )?,
            notifications_created: counter_vec(
                r,
                "questpath_notifications_created_total",
                "In-app notifications created (repeats of a dedupe key not counted), by kind",
                &["kind"],
            )?,
            streak_days_kept: counter(
                r,
                "questpath_daily_goals_reached_total",
                "Learners' local days that reached their daily XP goal",
            )?,
            streaks_broken: counter(
                r,
                "questpath_streaks_broken_total",
                "Streaks ended by a missed day without a freeze (counted when next written)",
            )?,
            streak_freezes_used: counter(
                r,
                "questpath_streak_freezes_used_total",
                "Streak freezes used up on missed days",
            )?,
            streak_at_risk: counter(
                r,
                "questpath_streak_at_risk_notices_total",
                "Streak-at-risk notices sent (once per learner and local evening)",
            )?,
        };
        for result in quiz_result::ALL {
            metrics.quizzes_finished.with_label_values(&[result]);
        }
        for kind in questpath_actors::notifications::NotificationKind::ALL {
            metrics
                .notifications_created
                .with_label_values(&[kind.as_str()]);
        }
        Ok(metrics)
    }
}

impl Metrics {
    pub fn quiz_started(&self) {
        self.game.quizzes_started.inc();
    }

    /// A quiz ended with `result`, one of [`quiz_result`].
    pub fn quiz_finished(&self, result: &'static str) {
        self.game
            .quizzes_finished
            .with_label_values(&[result])
            .inc();
    }

    /// An answer was accepted `since_open` after its question opened, and its feedback
    /// was queued `to_feedback` after the answer arrived.
    pub fn quiz_answered(&self, since_open: Duration, to_feedback: Duration) {
        self.game.answer_time.observe(since_open.as_secs_f64());
        self.game.feedback.observe(to_feedback.as_secs_f64());
    }

    pub fn quiz_late_answer(&self) {
        self.game.late_answers.inc();
    }

    pub fn quiz_question_timed_out(&self) {
        self.game.timeouts.inc();
    }

    /// `amount` XP was written to the ledger for `source` (a fixed rule name).
    pub fn xp_granted(&self, source: &'static str, amount: i64) {
        if let Ok(amount) = u64::try_from(amount) {
            self.game
                .xp_granted
                .with_label_values(&[source])
                .inc_by(amount);
        }
    }

    pub fn level_up(&self) {
        self.game.level_ups.inc();
    }

    pub fn xp_pending_dropped(&self) {
        self.game.xp_pending_dropped.inc();
    }

    pub fn notification_created(&self, kind: &'static str) {
        self.game
            .notifications_created
            .with_label_values(&[kind])
            .inc();
    }

    pub fn streak_day_kept(&self) {
        self.game.streak_days_kept.inc();
    }

    pub fn streaks_broken(&self, count: u32) {
        self.game.streaks_broken.inc_by(u64::from(count));
    }

    pub fn streak_freezes_used(&self, count: u32) {
        self.game.streak_freezes_used.inc_by(u64::from(count));
    }

    pub fn streak_at_risk(&self) {
        self.game.streak_at_risk.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::metrics;

    #[test]
    fn game_methods_record_their_families() {
        let m = metrics();
        assert!(
            m.render()
                .contains(r#"questpath_quizzes_finished_total{result="abandoned"} 0"#)
        );
        assert!(m.render().contains("questpath_quiz_late_answers_total 0"));
        m.quiz_started();
        m.quiz_finished(quiz_result::PASSED);
        m.quiz_answered(Duration::from_secs(4), Duration::from_micros(200));
        m.quiz_late_answer();
        m.quiz_question_timed_out();
        m.xp_granted("level_first_pass", 100);
        m.xp_granted("level_repass", -5); // never negative on a counter
        m.level_up();
        m.notification_created("level_up");
        m.streak_day_kept();
        m.streaks_broken(2);
        m.streak_freezes_used(1);
        m.streak_at_risk();
        let text = m.render();
        for expected in [
            "questpath_quizzes_started_total 1",
            r#"questpath_notifications_created_total{kind="level_up"} 1"#,
            r#"questpath_notifications_created_total{kind="room_ended"} 0"#,
            r#"questpath_quizzes_finished_total{result="passed"} 1"#,
            r#"questpath_quiz_answer_time_seconds_bucket{le="5"} 1"#,
            "questpath_quiz_feedback_duration_seconds_count 1",
            "questpath_quiz_late_answers_total 1",
            "questpath_quiz_questions_timed_out_total 1",
            r#"questpath_xp_granted_total{source="level_first_pass"} 100"#,
            "questpath_level_ups_total 1",
            "questpath_daily_goals_reached_total 1",
            "questpath_streaks_broken_total 2",
            "questpath_streak_freezes_used_total 1",
            "questpath_streak_at_risk_notices_total 1",
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
        assert!(!text.contains(r#"source="level_repass""#));
    }
}
