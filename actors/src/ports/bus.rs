//! Bus port: cross-instance events (to a user's sessions, to a room) delivered to every
//! instance subscribed to a topic. At-most-once, like Redis pub/sub: what must not be
//! lost goes to the store or the job queue, not only to the bus.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::PortResult;

/// Messages of one topic, in publication order. Dropping it unsubscribes.
pub struct BusSubscription {
    pub topic: String,
    pub receiver: mpsc::Receiver<Vec<u8>>,
}

impl BusSubscription {
    /// The next message, or `None` once the bus has shut down.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        self.receiver.recv().await
    }
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    fn backend(&self) -> &'static str;

    async fn ping(&self) -> PortResult<()>;

    /// Sends `payload` to every current subscriber of `topic`, on every instance.
    async fn publish(&self, topic: &str, payload: &[u8]) -> PortResult<()>;

    /// Subscribes to `topic`; messages published after this returns are delivered.
    async fn subscribe(&self, topic: &str) -> PortResult<BusSubscription>;
}
