//! A websocket frame as a client sends it: the first byte picks a text (JSON) or binary
//! (MessagePack) frame, the rest is the frame. Decoding must answer, never panic, and a
//! frame it accepts must survive a JSON round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use questpath::realtime::codec::decode_client_frame;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, frame)) = data.split_first() else {
        return;
    };
    if let Ok(decoded) = decode_client_frame(frame, kind & 1 == 1) {
        let json = serde_json::to_vec(&decoded).expect("a decoded frame serializes");
        let again = decode_client_frame(&json, false).expect("its JSON decodes");
        assert_eq!(again, decoded);
    }
});
