//! What a learner is told when their streak is at risk or their league week ends: the
//! core's hooks (`questpath_actors::streaks::AtRiskHook`,
//! `questpath_actors::leagues::LeagueOutcomes`) turned into in-app notifications and the
//! opt-in mails.
//!
//! Both paths may run twice for one event (a check or a week's end redone after a
//! crash): the notification's dedupe key and the mail's derived message id make the
//! second run tell nobody again.

mod at_risk;
mod league_results;

pub use at_risk::TellAtRisk;
pub use league_results::{LeagueResultsQueue, LeagueResultsWorker, OutcomeJob, QUEUE};
