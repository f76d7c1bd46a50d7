//! Realtime: the websocket endpoint, one session actor per signed-in user per
//! instance (all of that user's connections, the quiz in progress and its timers), and
//! the registry that finds them.
//!
//! Connection I/O uses tokio-tungstenite on the raw connection the HTTP layer hands over
//! after the upgrade (`handover`), a task per socket with a bounded outgoing queue, so a
//! client that stops reading is detected and closed; sessions and the registry are actix
//! actors.

pub mod closing;
pub mod codec;
pub mod commands;
pub mod connection;
pub mod frames;
pub mod handover;
pub mod outgoing;
pub mod protocol;
pub mod room_link;

pub use crate::config::RealtimeSettings;

/// The realtime layer's entry points.
pub struct Realtime {
    pub registry: actix::Addr<questpath_actors::session::registry::Registry>,
    pub settings: RealtimeSettings,
    /// Cancelled when the server drains: every socket is closed with 1012 so clients
    /// reconnect (to another instance) instead of holding the shutdown.
    pub draining: tokio_util::sync::CancellationToken,
    /// Multiplayer rooms: the actors this instance runs and the relays it feeds.
    pub rooms: std::sync::Arc<questpath_actors::room::Rooms>,
    /// Guests' tickets and rejoin tokens.
    pub guests: crate::rooms::guests::Guests,
}
