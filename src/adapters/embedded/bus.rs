//! In-process bus on tokio channels, for a single instance without Redis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use questpath_actors::ports::{Bus, BusSubscription, PortResult};

const BACKEND: &str = "in-process";

/// Messages buffered per subscriber before new ones are dropped for it. Generous,
/// because the bus is at-most-once anyway and a burst (a room broadcast) is common.
pub(crate) const DEFAULT_SUBSCRIBER_CAPACITY: usize = 1024;

/// One local subscription: its queue, and how many messages it has missed in the
/// current overflow, so that an overflow is logged once rather than per message.
pub(crate) struct Subscriber {
    sender: mpsc::Sender<Vec<u8>>,
    dropped: u64,
}

impl Subscriber {
    pub(crate) fn new(sender: mpsc::Sender<Vec<u8>>) -> Self {
        Subscriber { sender, dropped: 0 }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// Delivers `payload` to every live subscriber of a topic without waiting: a full
/// queue loses this message instead of stalling the publisher, and dropped
/// subscriptions are removed. Shared with the Redis bus, which fans out the same way.
pub(crate) fn fan_out(topic: &str, subscribers: &mut Vec<Subscriber>, payload: &[u8]) {
    subscribers.retain_mut(|sub| match sub.sender.try_send(payload.to_vec()) {
        Ok(()) => {
            if sub.dropped > 0 {
                tracing::warn!(
                    topic,
                    dropped = sub.dropped,
                    "bus subscriber caught up after missing messages"
                );
                sub.dropped = 0;
            }
            true
        }
        Err(TrySendError::Full(_)) => {
            if sub.dropped == 0 {
                tracing::warn!(
                    topic,
                    "bus subscriber is not keeping up; dropping messages for it"
                );
            }
            sub.dropped += 1;
            true
        }
        Err(TrySendError::Closed(_)) => false,
    });
}

/// Publish/subscribe within one process. Each subscriber has its own bounded queue,
/// so a slow subscriber loses messages rather than slowing publishers or the others.
#[derive(Clone)]
pub struct InProcessBus {
    topics: Arc<Mutex<Topics>>,
    capacity: usize,
}

#[derive(Default)]
struct Topics {
    senders: HashMap<String, Vec<Subscriber>>,
    /// Topic count at which dropped subscriptions are next swept out: doubling it after
    /// each sweep keeps subscribing O(1) on average.
    sweep_at: usize,
}

impl InProcessBus {
    /// A bus buffering up to 1024 messages per subscriber, as the Redis bus does.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_SUBSCRIBER_CAPACITY)
    }

    /// A bus buffering up to `capacity` messages per subscriber (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        InProcessBus {
            topics: Arc::new(Mutex::new(Topics::default())),
            capacity: capacity.max(1),
        }
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> PortResult<()> {
        Ok(())
    }

    async fn publish(&self, topic: &str, payload: &[u8]) -> PortResult<()> {
        // The map only holds senders, so a panic elsewhere cannot leave it inconsistent.
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(senders) = topics.senders.get_mut(topic) {
            fan_out(topic, senders, payload);
            if senders.is_empty() {
                topics.senders.remove(topic);
            }
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> PortResult<BusSubscription> {
        let (sender, receiver) = mpsc::channel(self.capacity);
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget subscriptions dropped on topics nobody publishes to any more, so they
        // do not accumulate (publishing cleans up the topics it touches).
        if topics.senders.len() >= topics.sweep_at {
            topics.senders.retain(|_, senders| {
                senders.retain(|s| !s.is_closed());
                !senders.is_empty()
            });
            topics.sweep_at = (topics.senders.len() * 2).max(64);
        }
        let senders = topics.senders.entry(topic.to_string()).or_default();
        senders.retain(|s| !s.is_closed());
        senders.push(Subscriber::new(sender));
        Ok(BusSubscription {
            topic: topic.to_string(),
            receiver,
        })
    }
}
