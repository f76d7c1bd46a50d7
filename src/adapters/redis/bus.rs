//! Bus on Redis pub/sub: one Redis subscription per topic per instance, fanned out to
//! the local subscribers by a dispatcher task.
//!
//! On a Redis Cluster the bus uses sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7):
//! a topic's channel lives on the master that owns its slot, the subscriber connection
//! subscribes there, and a message crosses only that one master instead of being
//! broadcast over the cluster bus to every node as a classic `PUBLISH` is. On a single
//! server the classic commands stay (they work on Redis 6 too).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use fred::prelude::*;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::{BACKEND, Shared, port_err};
use crate::adapters::embedded::bus::{DEFAULT_SUBSCRIBER_CAPACITY, Subscriber, fan_out};
use questpath_actors::ports::{Bus, BusSubscription, PortResult};

type Subscribers = HashMap<String, Vec<Subscriber>>;

/// Local subscribers per topic, shared by every `RedisBus` of one [`super::Redis`].
/// A topic is in the map exactly while this instance is subscribed to its channel.
#[derive(Default)]
pub(crate) struct BusState {
    topics: Mutex<Subscribers>,
    /// Serialises (un)subscribing, so that a subscribe never returns before its
    /// channel's `SUBSCRIBE` is acknowledged, even when another caller is subscribing
    /// to the same new topic at the same moment.
    changes: tokio::sync::Mutex<()>,
    cleanup_scheduled: AtomicBool,
}

impl BusState {
    fn topics(&self) -> std::sync::MutexGuard<'_, Subscribers> {
        // Only senders inside: nothing a panic could leave half-updated.
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops every local subscription: receivers then see the end of their stream.
    pub(crate) fn close(&self) {
        self.topics().clear();
    }
}

/// Unsubscribes from the channels of topics whose local subscriptions were all
/// dropped. Called with `BusState::changes` held.
async fn unsubscribe_idle(shared: &Shared) {
    let idle: Vec<String> = {
        let mut topics = shared.bus.topics();
        let idle: Vec<String> = topics
            .iter_mut()
            .filter_map(|(topic, senders)| {
                senders.retain(|s| !s.is_closed());
                senders.is_empty().then(|| topic.clone())
            })
            .collect();
        for topic in &idle {
            topics.remove(topic);
        }
        idle
    };
    if idle.is_empty() {
        return;
    }
    let channels: Vec<String> = idle.iter().map(|topic| shared.key("bus", topic)).collect();
    if let Err(e) = unsubscribe_channels(shared, channels).await {
        tracing::warn!(error = %e, "cannot unsubscribe idle bus topics; will try again later");
        // Still subscribed in Redis: keep the topics known so a later pass retries.
        let mut topics = shared.bus.topics();
        for topic in idle {
            topics.entry(topic).or_default();
        }
    }
}

/// Runs `unsubscribe_idle` in the background, at most one pass at a time.
fn schedule_cleanup(shared: &Arc<Shared>) {
    if shared.bus.cleanup_scheduled.swap(true, Ordering::SeqCst) {
        return;
    }
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let _changes = shared.bus.changes.lock().await;
        shared.bus.cleanup_scheduled.store(false, Ordering::SeqCst);
        unsubscribe_idle(&shared).await;
    });
}

/// Starts the task that hands each pub/sub message to the local subscribers of its
/// topic. It holds the connection weakly and ends when the subscriber connection is
/// closed by `Redis::shutdown`.
pub(crate) fn spawn_dispatcher(shared: &Arc<Shared>) {
    let mut messages = shared.subscriber.message_rx();
    let channel_prefix = shared.key("bus", "");
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        loop {
            let message = match messages.recv().await {
                Ok(message) => message,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "bus dispatcher fell behind; messages dropped");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            let Some(shared) = weak.upgrade() else { break };
            let Some(topic) = message.channel.strip_prefix(channel_prefix.as_str()) else {
                continue;
            };
            let Some(payload) = message.value.as_bytes() else {
                tracing::warn!(topic, "bus message without a byte payload ignored");
                continue;
            };
            let all_gone = {
                let mut topics = shared.bus.topics();
                match topics.get_mut(topic) {
                    Some(senders) => {
                        fan_out(topic, senders, payload);
                        senders.is_empty()
                    }
                    None => false,
                }
            };
            if all_gone {
                schedule_cleanup(&shared);
            }
        }
    });
}

/// Subscribes the subscriber connection to `channels`. Sharded on a cluster: one
/// `SSUBSCRIBE` per channel, sent to the master of its slot (channels of one command
/// must share a slot) and answered by it, so it is active once this returns. On one
/// server, a `SUBSCRIBE` then a `PING`: fred completes `SUBSCRIBE` once it is written,
/// not once Redis has processed it; Redis answers a connection's commands in order, so
/// the PING's answer proves the subscription is active and later publications arrive.
async fn subscribe_channels(shared: &Shared, channels: Vec<String>) -> Result<(), Error> {
    if shared.clustered {
        for channel in channels {
            shared.subscriber.ssubscribe(channel).await?;
        }
        return Ok(());
    }
    shared.subscriber.subscribe(channels).await?;
    shared.subscriber.ping::<Value>(None).await?;
    Ok(())
}

/// Unsubscribes from `channels`, one `SUNSUBSCRIBE` per channel on a cluster.
async fn unsubscribe_channels(shared: &Shared, channels: Vec<String>) -> Result<(), Error> {
    if shared.clustered {
        for channel in channels {
            shared.subscriber.sunsubscribe(channel).await?;
        }
        return Ok(());
    }
    shared.subscriber.unsubscribe(channels).await
}

/// Subscribes again to the channel of every topic this instance has local subscribers
/// for: after the subscriber connection was re-established (a new connection starts
/// with none), or after a cluster's slots moved (their sharded subscriptions are gone).
pub(crate) async fn resubscribe(shared: &Shared) {
    let _changes = shared.bus.changes.lock().await;
    let channels: Vec<String> = shared
        .bus
        .topics()
        .keys()
        .map(|topic| shared.key("bus", topic))
        .collect();
    if channels.is_empty() {
        return;
    }
    match subscribe_channels(shared, channels).await {
        Ok(()) => tracing::info!("bus subscriptions renewed"),
        Err(e) => tracing::error!(error = %e, "cannot renew the bus subscriptions"),
    }
}

/// Starts the task that renews this instance's channel subscriptions after the
/// subscriber connection is re-established. fred's own `manage_subscriptions` is not
/// used: it also sends a bare `SUBSCRIBE` when there is nothing to renew, which Redis
/// rejects.
pub(crate) fn spawn_resubscriber(shared: &Arc<Shared>) {
    let mut reconnects = shared.subscriber.reconnect_rx();
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        loop {
            match reconnects.recv().await {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
            let Some(shared) = weak.upgrade() else { break };
            tracing::info!("reconnected to Redis: renewing the bus subscriptions");
            resubscribe(&shared).await;
        }
    });
}

/// The bus on Redis pub/sub (sharded on a cluster), reaching the subscribers of every
/// instance using the same Redis and prefix. At-most-once: a message published while an instance is
/// reconnecting is lost for that instance.
#[derive(Clone)]
pub struct RedisBus {
    shared: Arc<Shared>,
    capacity: usize,
}

impl RedisBus {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        RedisBus {
            shared,
            capacity: DEFAULT_SUBSCRIBER_CAPACITY,
        }
    }

    /// Buffers up to `capacity` messages (at least one) per local subscriber before
    /// dropping new ones for it, as in the in-process bus.
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }
}

#[async_trait]
impl Bus for RedisBus {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> PortResult<()> {
        self.shared.ping().await
    }

    async fn publish(&self, topic: &str, payload: &[u8]) -> PortResult<()> {
        // The pool does not offer pub/sub commands; any one of its clients publishes.
        let client = self.shared.pool.next();
        let channel = self.shared.key("bus", topic);
        if self.shared.clustered {
            client.spublish::<i64, _, _>(channel, payload).await
        } else {
            client.publish::<i64, _, _>(channel, payload).await
        }
        .map_err(port_err("publish"))?;
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> PortResult<BusSubscription> {
        let _changes = self.shared.bus.changes.lock().await;
        unsubscribe_idle(&self.shared).await;
        let known = self.shared.bus.topics().contains_key(topic);
        if !known {
            subscribe_channels(&self.shared, vec![self.shared.key("bus", topic)])
                .await
                .map_err(port_err("subscribe"))?;
        }
        let (sender, receiver) = mpsc::channel(self.capacity);
        self.shared
            .bus
            .topics()
            .entry(topic.to_string())
            .or_default()
            .push(Subscriber::new(sender));
        Ok(BusSubscription {
            topic: topic.to_string(),
            receiver,
        })
    }
}
