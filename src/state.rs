//! What every handler can reach, shared through `web::Data<AppState>`.

use std::sync::Arc;

use crate::auth::service::AuthService;
use crate::backends::Backends;
use crate::config::Settings;
use crate::goals::service::GoalService;
use crate::metrics::Metrics;

/// Shared application state.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub backends: Backends,
    pub metrics: Arc<Metrics>,
    pub auth: AuthService,
    pub goals: GoalService,
    pub realtime: Arc<Realtime>,
    pub xp: crate::xp::XpService,
    /// Hosts' saved quizzes.
    pub quizzes: crate::quizzes::service::QuizService,
    /// Finished rooms, for their hosts.
    pub hosted_rooms: crate::rooms::hosted::HostedRooms,
    /// The old client's quiz hand-outs.
    pub legacy_quizzes: crate::goals::legacy_quiz::LegacyQuizzes,
    /// A learner's own data: its export, and deleting the account.
    pub accounts: questpath_actors::account::Accounts,
    /// A learner's in-app notifications.
    pub notifications: questpath_actors::notifications::Notifications,
    /// Streaks and the daily goal (the learner's day settings too).
    pub streaks: questpath_actors::streaks::Streaks,
    /// Queuing mail (the enqueue functions), links and unsubscribe tokens.
    pub mail: crate::mail::service::MailService,
    /// The access log's budget for successful, fast requests.
    pub access_log: crate::telemetry::access_log::AccessLog,
}

pub use crate::realtime::Realtime;
