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

/// The realtime layer's entry points.
pub struct Realtime {
    pub registry: actix::Addr<crate::realtime::registry::Registry>,
    pub settings: crate::realtime::RealtimeSettings,
    /// Cancelled when the server drains: every socket is closed with 1012 so clients
    /// reconnect (to another instance) instead of holding the shutdown.
    pub draining: tokio_util::sync::CancellationToken,
    /// Multiplayer rooms: the actors this instance runs and the relays it feeds.
    pub rooms: Arc<questpath_actors::room::Rooms>,
    /// Guests' tickets and rejoin tokens.
    pub guests: crate::rooms::guests::Guests,
}
