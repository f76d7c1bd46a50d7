//! What waits in a connection's outgoing queue: a message for that connection alone, or
//! one shared by many connections (a room's question to 10,000 players) that is encoded
//! once per wire format, by whichever connection needs it first, instead of being copied
//! and encoded once per socket.

use std::sync::{Arc, OnceLock};

use actix_web::web::Bytes;
use bytestring::ByteString;

use super::protocol::ServerMessage;

/// One frame in a connection's queue.
pub enum Outgoing {
    One(ServerMessage),
    Shared(Arc<SharedFrame>),
}

impl Outgoing {
    pub fn message(&self) -> &ServerMessage {
        match self {
            Outgoing::One(message) => message,
            Outgoing::Shared(shared) => &shared.message,
        }
    }
}

impl From<ServerMessage> for Outgoing {
    fn from(message: ServerMessage) -> Self {
        Outgoing::One(message)
    }
}

/// A message delivered to many connections, with its encodings made at most once.
pub struct SharedFrame {
    message: ServerMessage,
    json: OnceLock<Option<ByteString>>,
    msgpack: OnceLock<Option<Bytes>>,
}

impl SharedFrame {
    pub fn new(message: ServerMessage) -> Arc<Self> {
        Arc::new(SharedFrame {
            message,
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
        })
    }

    /// The JSON text (shared: cloning it does not copy).
    pub fn json(&self) -> Option<ByteString> {
        self.json
            .get_or_init(|| json(&self.message).map(ByteString::from))
            .clone()
    }

    /// The MessagePack bytes (shared).
    pub fn msgpack(&self) -> Option<Bytes> {
        self.msgpack
            .get_or_init(|| msgpack(&self.message).map(Bytes::from))
            .clone()
    }
}

/// A message as JSON text.
pub fn json(message: &ServerMessage) -> Option<String> {
    serde_json::to_string(message).ok()
}

/// A message as MessagePack in human-readable mode: ids travel as strings, exactly as in
/// JSON.
pub fn msgpack(message: &ServerMessage) -> Option<Vec<u8>> {
    let mut buffer = Vec::new();
    let mut serializer = rmp_serde::Serializer::new(&mut buffer)
        .with_struct_map()
        .with_human_readable();
    serde::Serialize::serialize(message, &mut serializer).ok()?;
    Some(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_frame_is_encoded_once_and_reads_like_a_single_one() {
        let frame = SharedFrame::new(ServerMessage::Pong {
            re: Some("1".into()),
        });
        let first = frame.json().unwrap();
        let second = frame.json().unwrap();
        assert_eq!(first, r#"{"type":"pong","re":"1"}"#);
        assert_eq!(
            first.as_bytes().as_ptr(),
            second.as_bytes().as_ptr(),
            "not copied"
        );
        assert_eq!(
            frame.msgpack().unwrap().to_vec(),
            msgpack(&ServerMessage::Pong {
                re: Some("1".into())
            })
            .unwrap()
        );
    }
}
