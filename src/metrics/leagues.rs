//! Weekly leagues: cohorts formed, and how each week's end moved learners.

use prometheus::{IntCounterVec, Registry};

use super::Metrics;
use super::collectors::counter_vec;
use questpath_actors::domain::Tier;
use questpath_actors::observe::league_move;

#[derive(Clone)]
pub(super) struct LeagueMetrics {
    moves: IntCounterVec,
    cohorts_formed: IntCounterVec,
}

impl LeagueMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = LeagueMetrics {
            moves: counter_vec(
                r,
                "questpath_league_moves_total",
                "Learners whose league week was decided, by move (promoted, demoted, stayed)",
                &["move"],
            )?,
            cohorts_formed: counter_vec(
                r,
                "questpath_league_cohorts_formed_total",
                "League cohorts opened, by tier",
                &["tier"],
            )?,
        };
        for moved in league_move::ALL {
            metrics.moves.with_label_values(&[moved]);
        }
        for tier in Tier::ALL {
            metrics.cohorts_formed.with_label_values(&[tier.as_str()]);
        }
        Ok(metrics)
    }
}

impl Metrics {
    /// `count` learners moved as `moved`, one of [`league_move`].
    pub fn league_moves(&self, moved: &'static str, count: u64) {
        self.leagues.moves.with_label_values(&[moved]).inc_by(count);
    }

    pub fn league_cohort_formed(&self, tier: &'static str) {
        self.leagues.cohorts_formed.with_label_values(&[tier]).inc();
    }
}
