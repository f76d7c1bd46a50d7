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
}

pub use crate::realtime::Realtime;
