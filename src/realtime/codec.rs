//! Frames on the wire: client frames read (JSON text or MessagePack binary, by the
//! negotiated subprotocol) and what the server sends encoded the same way.

use questpath_actors::outbound::Outgoing;
use tokio_tungstenite::tungstenite::Message;

use super::outgoing;
use super::protocol::{ClientFrame, ServerMessage, codes};

/// Wire encoding chosen by subprotocol.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    MessagePack,
}

/// A queued notice as a frame of the connection's encoding.
pub fn encode(encoding: Encoding, queued: Outgoing) -> Option<Message> {
    match encoding {
        Encoding::Json => outgoing::text(queued).map(Message::Text),
        Encoding::MessagePack => outgoing::binary(queued).map(Message::Binary),
    }
}

/// A frame the endpoint itself sends (the greeting, a refusal before any session).
pub fn encode_message(encoding: Encoding, message: &ServerMessage) -> Option<Message> {
    match encoding {
        Encoding::Json => outgoing::json(message).map(|t| Message::Text(t.into())),
        Encoding::MessagePack => outgoing::msgpack(message).map(|b| Message::Binary(b.into())),
    }
}

/// Nesting a MessagePack frame may have: serde_json's own limit for JSON frames. The
/// decoder's default (1024) let a 700-byte frame of nested arrays overflow a 2 MiB
/// worker stack in a debug build, which aborts the whole process.
const MSGPACK_MAX_DEPTH: usize = 128;

/// Reads one client frame as the socket loop does: a text frame as JSON, a binary one as
/// MessagePack. The error is the `error` frame's code and message. Public for the
/// coverage-guided fuzz targets in `fuzz/`, which see only the library's public items.
pub fn decode_client_frame(
    bytes: &[u8],
    binary: bool,
) -> Result<ClientFrame, (&'static str, String)> {
    if binary {
        parse(
            Encoding::MessagePack,
            &Message::Binary(bytes.to_vec().into()),
        )
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| (codes::MALFORMED, "a text frame must be UTF-8".to_string()))?;
        parse(Encoding::Json, &Message::Text(text.to_string().into()))
    }
}

pub fn parse(encoding: Encoding, message: &Message) -> Result<ClientFrame, (&'static str, String)> {
    let value: serde_json::Value = match (encoding, message) {
        (Encoding::Json, Message::Text(text)) => {
            serde_json::from_str(text).map_err(|e| (codes::MALFORMED, format!("not JSON: {e}")))?
        }
        (Encoding::MessagePack, Message::Binary(bytes)) => {
            let mut deserializer = rmp_serde::Deserializer::new(&bytes[..]).with_human_readable();
            deserializer.set_max_depth(MSGPACK_MAX_DEPTH);
            serde::Deserialize::deserialize(&mut deserializer)
                .map_err(|e| (codes::MALFORMED, format!("not MessagePack: {e}")))?
        }
        _ => {
            return Err((
                codes::MALFORMED,
                "wrong frame kind for the negotiated subprotocol".into(),
            ));
        }
    };
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .map(str::to_string);
    serde_json::from_value::<ClientFrame>(value).map_err(|e| match kind {
        Some(kind) if !KNOWN_TYPES.contains(&kind.as_str()) => (
            codes::UNKNOWN_TYPE,
            format!("unknown message type {kind:?}"),
        ),
        Some(_) => (codes::MALFORMED, e.to_string()),
        None => (codes::MALFORMED, "a message needs a \"type\"".into()),
    })
}

const KNOWN_TYPES: &[&str] = &[
    "ping",
    "quiz.start",
    "quiz.answer",
    "quiz.abandon",
    "session.state",
    "leaderboard.subscribe",
    "leaderboard.unsubscribe",
    "room.join",
    "room.leave",
    "room.answer",
    "room.state",
    "room.start",
    "room.next",
    "room.close_question",
    "room.skip",
    "room.kick",
    "room.pause",
    "room.resume",
    "room.end",
];

pub fn reply_id(message: &Message) -> Option<String> {
    let Message::Text(text) = message else {
        return None;
    };
    serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("id")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod properties {
    //! Property tests of the frame parser: whatever a client sends, `parse` answers
    //! with a frame or an error code, and never panics or overflows the stack.

    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::proptest_strategies::{hostile_string, json_value, nested_json_arrays, object_with};
    use crate::realtime::protocol::ClientMessage;
    use uuid::Uuid;

    fn text(value: impl Into<String>) -> Message {
        Message::Text(value.into().into())
    }

    fn binary(bytes: Vec<u8>) -> Message {
        Message::Binary(bytes.into())
    }

    /// MessagePack as clients write it: maps with field names, ids as strings.
    fn msgpack<T: serde::Serialize>(value: &T) -> Vec<u8> {
        let mut buffer = Vec::new();
        let mut serializer = rmp_serde::Serializer::new(&mut buffer)
            .with_struct_map()
            .with_human_readable();
        value.serialize(&mut serializer).unwrap();
        buffer
    }

    fn uuid() -> impl Strategy<Value = Uuid> {
        any::<u128>().prop_map(Uuid::from_u128)
    }

    fn client_message() -> impl Strategy<Value = ClientMessage> {
        let s = hostile_string;
        prop_oneof![
            Just(ClientMessage::Ping),
            uuid().prop_map(|level_id| ClientMessage::QuizStart { level_id }),
            (any::<u32>(), s())
                .prop_map(|(position, option)| ClientMessage::QuizAnswer { position, option }),
            Just(ClientMessage::QuizAbandon),
            Just(ClientMessage::SessionState),
            s().prop_map(|board| ClientMessage::LeaderboardSubscribe { board }),
            s().prop_map(|board| ClientMessage::LeaderboardUnsubscribe { board }),
            (s(), prop::option::of(s()))
                .prop_map(|(code, name)| ClientMessage::RoomJoin { code, name }),
            Just(ClientMessage::RoomLeave),
            (any::<u32>(), s())
                .prop_map(|(question, option)| ClientMessage::RoomAnswer { question, option }),
            Just(ClientMessage::RoomState),
            Just(ClientMessage::RoomStart),
            Just(ClientMessage::RoomNext),
            Just(ClientMessage::RoomCloseQuestion),
            Just(ClientMessage::RoomSkip),
            uuid().prop_map(|player_id| ClientMessage::RoomKick { player_id }),
            Just(ClientMessage::RoomPause),
            Just(ClientMessage::RoomResume),
            Just(ClientMessage::RoomEnd),
        ]
    }

    fn client_frame() -> impl Strategy<Value = ClientFrame> {
        (prop::option::of(hostile_string()), client_message())
            .prop_map(|(id, message)| ClientFrame { id, message })
    }

    /// Objects that look like frames: a known or unknown `type`, the protocol's field
    /// names, with values of any kind (or well-typed ones).
    fn frame_like() -> impl Strategy<Value = Value> {
        let kind = prop_oneof![
            3 => prop::sample::select(KNOWN_TYPES).prop_map(Value::from),
            1 => hostile_string().prop_map(Value::String),
            1 => json_value(2),
        ];
        let field = prop_oneof![
            2 => json_value(3),
            1 => uuid().prop_map(|id| Value::String(id.to_string())),
            1 => any::<u32>().prop_map(Value::from),
            1 => prop::sample::select(&["A", "B", "C", "D", "alltime", "weekly"][..]).prop_map(Value::from),
        ];
        let keys: &'static [&'static str] = &[
            "id",
            "level_id",
            "position",
            "option",
            "board",
            "code",
            "name",
            "question",
            "player_id",
        ];
        (kind, object_with(keys, field)).prop_map(|(kind, mut object)| {
            object["type"] = kind;
            object
        })
    }

    /// The outcome must be a frame, or one of the two error codes with a message.
    fn check(outcome: Result<ClientFrame, (&'static str, String)>) -> Result<(), TestCaseError> {
        if let Err((code, message)) = outcome {
            prop_assert!(
                code == codes::MALFORMED || code == codes::UNKNOWN_TYPE,
                "{code}"
            );
            prop_assert!(!message.is_empty());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::default())]

        #[test]
        fn any_text_frame_is_answered(frame in hostile_string()) {
            let message = text(frame);
            check(parse(Encoding::Json, &message))?;
            let _ = reply_id(&message);
        }

        #[test]
        fn any_binary_frame_is_answered(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            check(parse(Encoding::MessagePack, &binary(bytes.clone())))?;
            // The wrong frame kind for the subprotocol is refused, not guessed at.
            prop_assert!(parse(Encoding::Json, &binary(bytes)).is_err());
        }

        #[test]
        fn any_json_document_is_answered_in_both_encodings(value in json_value(6)) {
            check(parse(Encoding::Json, &text(value.to_string())))?;
            check(parse(Encoding::MessagePack, &binary(msgpack(&value))))?;
        }

        #[test]
        fn frame_like_documents_are_answered_in_both_encodings(value in frame_like()) {
            let kind = value.get("type").and_then(Value::as_str).map(str::to_string);
            for outcome in [
                parse(Encoding::Json, &text(value.to_string())),
                parse(Encoding::MessagePack, &binary(msgpack(&value))),
            ] {
                match (&outcome, kind.as_deref()) {
                    (Err((code, _)), Some(kind)) if !KNOWN_TYPES.contains(&kind) => {
                        prop_assert_eq!(*code, codes::UNKNOWN_TYPE)
                    }
                    (Err((code, _)), _) => prop_assert_eq!(*code, codes::MALFORMED),
                    (Ok(_), kind) => prop_assert!(kind.is_some_and(|k| KNOWN_TYPES.contains(&k))),
                }
                check(outcome)?;
            }
        }

        #[test]
        fn every_client_frame_round_trips_through_both_encodings(frame in client_frame()) {
            let json = serde_json::to_string(&frame).unwrap();
            prop_assert_eq!(parse(Encoding::Json, &text(json.clone())).ok(), Some(frame.clone()));
            prop_assert_eq!(reply_id(&text(json)), frame.id.clone());
            let packed = msgpack(&frame);
            prop_assert_eq!(parse(Encoding::MessagePack, &binary(packed)).ok(), Some(frame.clone()));
            // The type is one the error path knows, so a bad field is never "unknown type".
            let tagged = serde_json::to_value(&frame).unwrap();
            prop_assert!(KNOWN_TYPES.contains(&tagged["type"].as_str().unwrap_or_default()));
        }

        #[test]
        fn deep_nesting_is_refused_without_overflowing_the_stack(depth in 0usize..5000) {
            // JSON: serde_json stops at 128 levels.
            let nested = nested_json_arrays(depth);
            check(parse(Encoding::Json, &text(format!(r#"{{"type":"ping","x":{nested}}}"#))))?;
            check(parse(Encoding::MessagePack, &binary(deep_ping(depth))))?;
        }

        #[test]
        fn huge_declared_lengths_are_refused_without_allocating_them(
            header in prop::sample::select(&[0xdcu8, 0xdd, 0xde, 0xdf, 0xda, 0xdb, 0xc5, 0xc6, 0xc9][..]),
            tail in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            // A 16- or 32-bit length of all ones, then too little data.
            let mut packed = vec![header, 0xff, 0xff, 0xff, 0xff];
            packed.extend(tail);
            check(parse(Encoding::MessagePack, &binary(packed)))?;
        }
    }

    /// A MessagePack ping whose extra field `x` holds `depth` nested one-element arrays.
    fn deep_ping(depth: usize) -> Vec<u8> {
        let mut packed = msgpack(&serde_json::json!({"type": "ping"}));
        packed[0] = 0x82; // fixmap of 2 entries instead of 1
        packed.extend(msgpack(&"x"));
        packed.extend(std::iter::repeat_n(0x91, depth)); // fixarray of 1
        packed.push(0xc0); // nil
        packed
    }

    #[test]
    fn regression_deeply_nested_msgpack_is_malformed_not_a_stack_overflow() {
        // Found by `deep_nesting_is_refused_without_overflowing_the_stack`: at 700 levels
        // (a 711-byte frame, under the 4 KiB cap) the test process aborted.
        for depth in [700, 1022, 1023, 4000] {
            let outcome = parse(Encoding::MessagePack, &binary(deep_ping(depth)));
            assert!(
                matches!(&outcome, Err((code, _)) if *code == codes::MALFORMED),
                "{depth}: {outcome:?}"
            );
        }
        // Ordinary nesting still parses.
        let frame = parse(Encoding::MessagePack, &binary(deep_ping(100))).unwrap();
        assert_eq!(frame.message, ClientMessage::Ping);
    }

    #[test]
    fn known_types_are_exactly_the_client_messages() {
        // Every tag in the schema is known to the error path, and nothing else is.
        let schema = serde_json::to_value(schemars::schema_for!(ClientFrame)).unwrap();
        let mut tags: Vec<String> = Vec::new();
        fn collect(value: &Value, tags: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::Object(kind)) =
                        map.get("properties").and_then(|p| p.get("type"))
                        && let Some(Value::String(tag)) = kind.get("const")
                    {
                        tags.push(tag.clone());
                    }
                    map.values().for_each(|v| collect(v, tags));
                }
                Value::Array(items) => items.iter().for_each(|v| collect(v, tags)),
                _ => {}
            }
        }
        collect(&schema, &mut tags);
        tags.sort();
        tags.dedup();
        let mut known: Vec<String> = KNOWN_TYPES.iter().map(|t| t.to_string()).collect();
        known.sort();
        assert_eq!(tags, known);
    }
}
