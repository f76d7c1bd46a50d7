//! Configuration from the environment: each input line sets one variable, chosen by its
//! first byte (modulo the number of variables), to the rest of the line. Loading must
//! give settings or an error naming a known variable, never a panic.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use questpath::config::{Settings, VARIABLES};

fuzz_target!(|data: &[u8]| {
    let mut values: HashMap<&'static str, String> = HashMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some((&pick, value)) = line.split_first() else {
            continue;
        };
        let name = VARIABLES[usize::from(pick) % VARIABLES.len()].name;
        values.insert(name, String::from_utf8_lossy(value).into_owned());
    }
    if let Err(error) = Settings::from_lookup(|name| values.get(name).cloned()) {
        assert!(
            VARIABLES.iter().any(|v| v.name == error.variable),
            "{error}"
        );
    }
});
