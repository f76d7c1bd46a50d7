//! Multiplayer rooms: rooms by phase, players, rooms created, adopted and ended,
//! answers by outcome, and the fan-out of a question to this instance's players.
//!
//! Phases arrive as their protocol names (`RoomPhase::name` in `realtime::protocol`).

use std::time::Duration;

use prometheus::{Histogram, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry};

use super::Metrics;
use super::collectors::{counter, counter_vec, gauge, gauge_vec, histogram};

/// Phases of a room, as labels.
pub const ROOM_PHASES: [&str; 4] = ["lobby", "question", "reveal", "ended"];

/// Why a room ended, as labels.
const END_REASONS: [&str; 4] = ["finished", "ended_by_host", "host_left", "abandoned"];

/// The answer outcomes whose series exist before their first event.
const ANSWER_OUTCOMES: [&str; 3] = ["accepted", "late_answer", "already_answered"];

/// Fan-out of one question to up to 10,000 local sockets: milliseconds to a second.
const FANOUT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5,
];

#[derive(Clone)]
pub(super) struct RoomMetrics {
    rooms: IntGaugeVec,
    players: IntGauge,
    created: IntCounter,
    adopted: IntCounter,
    ended: IntCounterVec,
    answers: IntCounterVec,
    fanout: Histogram,
}

impl RoomMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = RoomMetrics {
            rooms: gauge_vec(
                r,
                "questpath_rooms",
                "Multiplayer rooms whose actor runs on this instance, by phase (lobby, question, reveal, ended)",
                &["phase"],
            )?,
            players: gauge(
                r,
                "questpath_room_players",
                "Connected players in the rooms this instance runs",
            )?,
            created: counter(
                r,
                "questpath_rooms_created_total",
                "Multiplayer rooms created on this instance",
            )?,
            adopted: counter(
                r,
                "questpath_rooms_adopted_total",
                "Multiplayer rooms this instance took over from a saved game (their instance died or drained)",
            )?,
            ended: counter_vec(
                r,
                "questpath_rooms_ended_total",
                "Multiplayer rooms ended, by reason (finished, ended_by_host, host_left, abandoned)",
                &["reason"],
            )?,
            answers: counter_vec(
                r,
                "questpath_room_answers_total",
                "Answers in multiplayer rooms, by outcome (accepted, or the refusal's error code)",
                &["outcome"],
            )?,
            fanout: histogram(
                r,
                "questpath_room_fanout_seconds",
                "From a room actor publishing a question to this instance having queued it for every local player",
                FANOUT_BUCKETS,
            )?,
        };
        for phase in ROOM_PHASES {
            metrics.rooms.with_label_values(&[phase]);
        }
        for reason in END_REASONS {
            metrics.ended.with_label_values(&[reason]);
        }
        for outcome in ANSWER_OUTCOMES {
            metrics.answers.with_label_values(&[outcome]);
        }
        Ok(metrics)
    }
}

impl Metrics {
    pub fn room_created(&self) {
        self.rooms.created.inc();
    }

    pub fn room_adopted(&self) {
        self.rooms.adopted.inc();
    }

    /// A room's actor started in `phase` (one of [`ROOM_PHASES`]).
    pub fn room_phase_changed_from_none(&self, phase: &'static str) {
        self.rooms.rooms.with_label_values(&[phase]).inc();
    }

    pub fn room_phase_changed(&self, from: &'static str, to: &'static str) {
        self.rooms.rooms.with_label_values(&[from]).dec();
        self.rooms.rooms.with_label_values(&[to]).inc();
    }

    /// A room's actor stopped in `phase`.
    pub fn room_phase_changed_to_none(&self, phase: &'static str) {
        self.rooms.rooms.with_label_values(&[phase]).dec();
    }

    /// A room's connected players went from `from` to `to`.
    pub fn room_players_changed(&self, from: u32, to: u32) {
        self.rooms.players.add(i64::from(to) - i64::from(from));
    }

    /// A room ended for `reason` (a fixed name).
    pub fn room_ended(&self, reason: &'static str) {
        self.rooms.ended.with_label_values(&[reason]).inc();
    }

    /// An answer reached a room: `accepted` or a protocol error code.
    pub fn room_answer(&self, outcome: &'static str) {
        self.rooms.answers.with_label_values(&[outcome]).inc();
    }

    /// A question reached every local player's queue `elapsed` after it was published.
    pub fn room_fanout(&self, elapsed: Duration) {
        self.rooms.fanout.observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::tests::metrics;

    #[test]
    fn rooms_are_counted_by_phase() {
        let m = metrics();
        assert!(m.render().contains(r#"questpath_rooms{phase="reveal"} 0"#));
        m.room_phase_changed_from_none("lobby");
        m.room_phase_changed_from_none("lobby");
        m.room_phase_changed("lobby", "question");
        m.room_phase_changed_to_none("lobby");
        m.room_players_changed(0, 3);
        m.room_ended("finished");
        let text = m.render();
        for expected in [
            r#"questpath_rooms{phase="lobby"} 0"#,
            r#"questpath_rooms{phase="question"} 1"#,
            "questpath_room_players 3",
            r#"questpath_rooms_ended_total{reason="finished"} 1"#,
            r#"questpath_room_answers_total{outcome="late_answer"} 0"#,
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
    }
}
