//! What every handler can reach, shared through `web::Data<AppState>`.

use std::sync::Arc;

use crate::backends::Backends;
use crate::config::{Secret, Settings};
use crate::metrics::Metrics;

/// Shared application state.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub backends: Backends,
    pub metrics: Arc<Metrics>,
    /// Key that signs access tokens (from the settings, or the development key file).
    pub signing_key: Secret,
}
