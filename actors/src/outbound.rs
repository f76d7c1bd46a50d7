//! A connection as the actors see it: a bounded queue of [`Notice`]s and a way to close
//! it. The websocket endpoint owns the socket and turns each notice into a frame.
//!
//! A notice for many connections (a room's question to 10,000 players) travels as one
//! [`SharedNotice`] whose encodings the endpoint makes at most once, by whichever
//! connection needs each first, instead of once per socket.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use bytestring::ByteString;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::events::Notice;

/// One item of a connection's queue. The notice is boxed: a queue allocates its slots
/// 32 at a time, and an inline notice (136 bytes) made that 4.4 KiB per idle socket.
pub enum Outgoing {
    One(Box<Notice>),
    Shared(Arc<SharedNotice>),
}

impl Outgoing {
    pub fn notice(&self) -> &Notice {
        match self {
            Outgoing::One(notice) => notice,
            Outgoing::Shared(shared) => &shared.notice,
        }
    }
}

impl From<Notice> for Outgoing {
    fn from(notice: Notice) -> Self {
        Outgoing::One(Box::new(notice))
    }
}

/// A notice delivered to many connections, with room for its two encodings.
pub struct SharedNotice {
    notice: Notice,
    text: OnceLock<Option<ByteString>>,
    binary: OnceLock<Option<Bytes>>,
}

impl SharedNotice {
    pub fn new(notice: Notice) -> Arc<Self> {
        Arc::new(SharedNotice {
            notice,
            text: OnceLock::new(),
            binary: OnceLock::new(),
        })
    }

    pub fn notice(&self) -> &Notice {
        &self.notice
    }

    /// The text encoding, made by `encode` on the first call only (cloning the result
    /// does not copy it).
    pub fn text(&self, encode: impl FnOnce(&Notice) -> Option<String>) -> Option<ByteString> {
        self.text
            .get_or_init(|| encode(&self.notice).map(ByteString::from))
            .clone()
    }

    /// The binary encoding, made by `encode` on the first call only.
    pub fn binary(&self, encode: impl FnOnce(&Notice) -> Option<Vec<u8>>) -> Option<Bytes> {
        self.binary
            .get_or_init(|| encode(&self.notice).map(Bytes::from))
            .clone()
    }
}

/// Why the core closed a connection (the endpoint picks the close code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Closing {
    /// The client did not read fast enough: its queue filled up.
    SlowConsumer = 1,
    /// The learner deleted their account (on any device or instance).
    AccountDeleted = 2,
}

/// A connection's handle: its bounded queue and a way to close it.
#[derive(Clone)]
pub struct Outbound {
    pub sender: mpsc::Sender<Outgoing>,
    /// Cancelled to close the connection; `closing` says why.
    pub kill: CancellationToken,
    closing: Arc<AtomicU8>,
}

impl Outbound {
    pub fn new(sender: mpsc::Sender<Outgoing>, kill: CancellationToken) -> Self {
        Outbound {
            sender,
            kill,
            closing: Arc::new(AtomicU8::new(0)),
        }
    }

    /// Queues `notice` without waiting. A full queue closes the connection as a slow
    /// consumer instead of letting its backlog grow; false when the connection is gone
    /// (or was just closed for that).
    pub fn deliver(&self, notice: impl Into<Outgoing>) -> bool {
        match self.sender.try_send(notice.into()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(Closing::SlowConsumer);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Closes the connection for `reason`.
    pub fn close(&self, reason: Closing) {
        self.closing.store(reason as u8, Ordering::SeqCst);
        self.kill.cancel();
    }

    /// Why the core closed the connection, if it did.
    pub fn closing(&self) -> Option<Closing> {
        match self.closing.load(Ordering::SeqCst) {
            1 => Some(Closing::SlowConsumer),
            2 => Some(Closing::AccountDeleted),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue allocates its first 32 slots with the connection, idle or not.
    #[test]
    fn a_queue_slot_is_two_words() {
        assert!(std::mem::size_of::<Outgoing>() <= 16);
    }

    #[test]
    fn a_shared_notice_is_encoded_once() {
        let shared = SharedNotice::new(Notice::Done {
            re: Some("1".into()),
        });
        let mut calls = 0;
        let first = shared.text(|_| {
            calls += 1;
            Some("done".into())
        });
        let second = shared.text(|_| {
            calls += 1;
            Some("again".into())
        });
        assert_eq!(calls, 1);
        assert_eq!(first.as_deref(), Some("done"));
        assert_eq!(
            first.unwrap().as_bytes().as_ptr(),
            second.unwrap().as_bytes().as_ptr(),
            "not copied"
        );
    }

    #[tokio::test]
    async fn a_full_queue_closes_the_connection_as_a_slow_consumer() {
        let (sender, _receiver) = mpsc::channel(1);
        let outbound = Outbound::new(sender, CancellationToken::new());
        assert!(outbound.deliver(Notice::Done { re: None }));
        assert!(!outbound.deliver(Notice::Done { re: None }));
        assert!(outbound.kill.is_cancelled());
        assert_eq!(outbound.closing(), Some(Closing::SlowConsumer));
    }
}
