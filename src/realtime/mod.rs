//! Realtime: the websocket endpoint, one session actor per signed-in user per
//! instance (all of that user's connections, the quiz in progress and its timers), and
//! the registry that finds them.
//!
//! Connection I/O uses actix-ws (a task per socket with a bounded outgoing queue, so a
//! client that stops reading is detected and closed); sessions and the registry are
//! actix actors. actix-web-actors is deprecated and hides its write buffer, which
//! would let a slow reader grow memory without bound.

pub mod connection;
pub mod frames;
pub mod outgoing;
pub mod protocol;
pub mod registry;
pub mod room_link;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use crate::goals::service::GoalService;
use crate::xp::XpService;
use questpath_actors::ports::{Bus, Cache, Store};

/// Limits and timings of the realtime layer.
#[derive(Debug, Clone)]
pub struct RealtimeSettings {
    /// The server pings this often.
    pub heartbeat: Duration,
    /// A connection silent this long is dropped.
    pub client_timeout: Duration,
    /// Largest frame accepted, in bytes.
    pub max_frame: usize,
    /// How long a session outlives its last connection.
    pub grace: Duration,
    /// Messages waiting for a connection before it counts as a slow consumer.
    pub outbound_queue: usize,
    /// Sustained messages per second per connection.
    pub rate_per_sec: f64,
    /// Burst of messages per connection.
    pub rate_burst: f64,
    /// Rate-limit violations (each answered with an error) before the socket closes.
    pub flood_strikes: u32,
    /// Time to answer one quiz question.
    pub question_time: Duration,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        RealtimeSettings {
            heartbeat: Duration::from_secs(15),
            client_timeout: Duration::from_secs(30),
            max_frame: 4 * 1024,
            grace: Duration::from_secs(60),
            outbound_queue: 64,
            rate_per_sec: 10.0,
            rate_burst: 20.0,
            flood_strikes: 20,
            question_time: questpath_actors::rules::quiz::QUESTION_TIME,
        }
    }
}

/// What sessions need.
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub cache: Arc<dyn Cache>,
    pub bus: Arc<dyn Bus>,
    pub goals: GoalService,
    pub xp: XpService,
    pub settings: RealtimeSettings,
    /// Connection, session and quiz metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
}
