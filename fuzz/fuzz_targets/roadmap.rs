//! A roadmap as an LLM wrote it (JSON): read and checked against every rule without
//! panicking; an accepted roadmap survives a JSON round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use questpath::domain::roadmap::GeneratedRoadmap;

fuzz_target!(|data: &[u8]| {
    let Ok(roadmap) = serde_json::from_slice::<GeneratedRoadmap>(data) else {
        return;
    };
    if roadmap.validate().is_ok() {
        let json = serde_json::to_vec(&roadmap).expect("a roadmap serializes");
        let again: GeneratedRoadmap = serde_json::from_slice(&json).expect("its JSON reads");
        assert_eq!(again, roadmap);
    }
});
