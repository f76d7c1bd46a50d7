//! Encoding what waits in a connection's queue. A notice shared by many connections
//! (a room's question to 10,000 players) is turned into its frame and encoded once per
//! wire format, by whichever connection needs it first, instead of once per socket.

use actix_web::web::Bytes;
use bytestring::ByteString;
use questpath_actors::outbound::Outgoing;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::frames::frame;
use super::protocol::ServerMessage;

/// A queued item as JSON text.
pub fn text(outgoing: Outgoing) -> Option<Utf8Bytes> {
    match outgoing {
        Outgoing::One(notice) => json(&frame(*notice)).map(Utf8Bytes::from),
        Outgoing::Shared(shared) => shared
            .text(|notice| json(&frame(notice.clone())))
            .map(shared_text),
    }
}

/// A shared notice's text (a `ByteString`) as a websocket text payload, without a copy
/// or a second UTF-8 check per socket.
fn shared_text(text: ByteString) -> Utf8Bytes {
    // SAFETY: a `ByteString` holds valid UTF-8 by construction.
    unsafe { Utf8Bytes::from_bytes_unchecked(text.into_bytes()) }
}

/// A queued item as MessagePack.
pub fn binary(outgoing: Outgoing) -> Option<Bytes> {
    match outgoing {
        Outgoing::One(notice) => msgpack(&frame(*notice)).map(Bytes::from),
        Outgoing::Shared(shared) => shared.binary(|notice| msgpack(&frame(notice.clone()))),
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
    use questpath_actors::events::Notice;
    use questpath_actors::outbound::SharedNotice;

    use super::*;

    #[test]
    fn a_shared_notice_is_encoded_once_and_reads_like_a_single_one() {
        let done = || Notice::Done {
            re: Some("1".into()),
        };
        let shared = SharedNotice::new(done());
        let first = text(Outgoing::Shared(shared.clone())).unwrap();
        let second = text(Outgoing::Shared(shared.clone())).unwrap();
        assert_eq!(first, r#"{"type":"pong","re":"1"}"#);
        assert_eq!(first.as_ptr(), second.as_ptr(), "not copied");
        assert_eq!(text(Outgoing::from(done())).unwrap(), first);
        assert_eq!(
            binary(Outgoing::Shared(shared)).unwrap(),
            binary(Outgoing::from(done())).unwrap()
        );
    }
}
