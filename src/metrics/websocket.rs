//! Websockets and sessions: connections, disconnects by reason, messages by protocol
//! type, the per-connection rate limit, outgoing queue depth and handling time.
//!
//! Message types arrive as the protocol's own names (`ClientMessage::kind`,
//! `ServerMessage::kind` in `realtime::protocol`): this module does not know the protocol.

use std::time::Duration;

use prometheus::{Histogram, HistogramVec, IntCounter, IntCounterVec, IntGauge, Registry};

use super::Metrics;
use super::collectors::{counter, counter_vec, gauge, histogram, histogram_vec};

/// Websocket message handling: from the frame's arrival to the session having handled it.
pub(super) const WS_HANDLE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Messages still queued for a connection; the default queue holds 64.
const QUEUE_DEPTH_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0, 64.0, 128.0];

/// Why a websocket closed; the label values of `questpath_ws_disconnects_total`.
pub mod disconnect {
    /// The client closed, the stream ended or a write failed.
    pub const CLOSED: &str = "closed";
    /// The connection broke without a close frame (network loss, a crashed client).
    pub const ABNORMAL: &str = "abnormal";
    /// No frame within the heartbeat timeout (4010).
    pub const TIMEOUT: &str = "timeout";
    /// Its outgoing queue filled up (4008).
    pub const SLOW_CONSUMER: &str = "slow_consumer";
    /// Repeated rate-limit violations (4009).
    pub const RATE_LIMITED: &str = "rate_limited";
    /// A frame over the size cap (1009).
    pub const FRAME_TOO_LARGE: &str = "frame_too_large";
    /// A websocket protocol error (1002).
    pub const PROTOCOL_ERROR: &str = "protocol_error";
    /// The server drained for a restart (1012).
    pub const SERVER_RESTART: &str = "server_restart";
    /// The session could not be reached or started.
    pub const SESSION_ERROR: &str = "session_error";
    /// The learner deleted their account (4011).
    pub const ACCOUNT_DELETED: &str = "account_deleted";
    /// Every reason, so each series exists (at 0) before its first event.
    pub const ALL: &[&str] = &[
        CLOSED,
        ABNORMAL,
        TIMEOUT,
        SLOW_CONSUMER,
        RATE_LIMITED,
        FRAME_TOO_LARGE,
        PROTOCOL_ERROR,
        SERVER_RESTART,
        SESSION_ERROR,
        ACCOUNT_DELETED,
    ];
}

#[derive(Clone)]
pub(super) struct WebsocketMetrics {
    connections: IntGauge,
    connects: IntCounter,
    disconnects: IntCounterVec,
    received: IntCounterVec,
    sent: IntCounterVec,
    rate_limited: IntCounter,
    queue_depth: Histogram,
    handle: HistogramVec,
    sessions: IntGauge,
}

impl WebsocketMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = WebsocketMetrics {
            connections: gauge(r, "questpath_ws_connections", "Websockets open now")?,
            connects: counter(
                r,
                "questpath_ws_connects_total",
                "Websockets opened (ticket redeemed, session joined)",
            )?,
            disconnects: counter_vec(
                r,
                "questpath_ws_disconnects_total",
                "Websockets closed, by reason",
                &["reason"],
            )?,
            received: counter_vec(
                r,
                "questpath_ws_messages_received_total",
                "Websocket messages received, by protocol type (invalid: unparsable)",
                &["type"],
            )?,
            sent: counter_vec(
                r,
                "questpath_ws_messages_sent_total",
                "Websocket messages written to sockets, by protocol type",
                &["type"],
            )?,
            rate_limited: counter(
                r,
                "questpath_ws_rate_limited_messages_total",
                "Websocket messages refused by the per-connection rate limit",
            )?,
            queue_depth: histogram(
                r,
                "questpath_ws_outbound_queue_depth",
                "Messages still queued for a connection each time one is written",
                QUEUE_DEPTH_BUCKETS,
            )?,
            handle: histogram_vec(
                r,
                "questpath_ws_message_handle_duration_seconds",
                "From a websocket message's arrival to its session having handled it, by type",
                WS_HANDLE_BUCKETS,
                &["type"],
            )?,
            sessions: gauge(
                r,
                "questpath_sessions",
                "Session actors alive on this instance (one per connected learner, kept for a grace period)",
            )?,
        };
        // Every reason at 0, so a rate over them is 0 rather than absent.
        for reason in disconnect::ALL {
            metrics.disconnects.with_label_values(&[reason]);
        }
        Ok(metrics)
    }
}

impl Metrics {
    /// A websocket joined its session; pair with [`Metrics::ws_disconnected`].
    pub fn ws_connected(&self) {
        self.websocket.connections.inc();
        self.websocket.connects.inc();
    }

    /// A websocket that [`Metrics::ws_connected`] counted closed, for `reason` (one of
    /// [`disconnect`]).
    pub fn ws_disconnected(&self, reason: &'static str) {
        self.websocket.connections.dec();
        self.websocket
            .disconnects
            .with_label_values(&[reason])
            .inc();
    }

    /// A websocket closed before it joined a session (not counted as open).
    pub fn ws_refused(&self, reason: &'static str) {
        self.websocket
            .disconnects
            .with_label_values(&[reason])
            .inc();
    }

    /// A message of protocol type `kind` arrived (`invalid` when it did not parse).
    pub fn ws_received(&self, kind: &'static str) {
        self.websocket.received.with_label_values(&[kind]).inc();
    }

    /// A message of protocol type `kind` was written; `still_queued` messages wait behind it.
    pub fn ws_sent(&self, kind: &'static str, still_queued: usize) {
        self.websocket.sent.with_label_values(&[kind]).inc();
        self.websocket.queue_depth.observe(still_queued as f64);
    }

    /// A message was refused by the per-connection rate limit.
    pub fn ws_rate_limited(&self) {
        self.websocket.rate_limited.inc();
    }

    /// A session handled a message of type `kind` that arrived `elapsed` ago.
    pub fn ws_handled(&self, kind: &'static str, elapsed: Duration) {
        self.websocket
            .handle
            .with_label_values(&[kind])
            .observe(elapsed.as_secs_f64());
    }

    /// The number of live sessions on this instance.
    pub fn set_sessions(&self, count: usize) {
        self.websocket
            .sessions
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::metrics;

    #[test]
    fn websocket_methods_record_their_families() {
        let m = metrics();
        m.ws_received("quiz.answer");
        m.ws_sent("quiz.feedback", 3);
        m.ws_rate_limited();
        m.ws_handled("quiz.answer", Duration::from_micros(300));
        m.set_sessions(4);
        let text = m.render();
        for expected in [
            r#"questpath_ws_messages_received_total{type="quiz.answer"} 1"#,
            r#"questpath_ws_messages_sent_total{type="quiz.feedback"} 1"#,
            r#"questpath_ws_outbound_queue_depth_bucket{le="4"} 1"#,
            "questpath_ws_rate_limited_messages_total 1",
            r#"questpath_ws_message_handle_duration_seconds_count{type="quiz.answer"} 1"#,
            "questpath_sessions 4",
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
    }

    #[test]
    fn every_disconnect_reason_exists_before_its_first_event() {
        let text = metrics().render();
        for reason in disconnect::ALL {
            assert!(
                text.contains(&format!(
                    r#"questpath_ws_disconnects_total{{reason="{reason}"}} 0"#
                )),
                "{reason}: {text}"
            );
        }
    }
}
