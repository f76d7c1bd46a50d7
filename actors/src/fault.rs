//! Fault injection for crash tests: `QUESTPATH_FAULT_CRASH_AT=<point>` makes the process
//! exit abruptly (no cleanup, like a kill -9) when it reaches that point. Honoured only
//! in development, so a production deployment cannot be crashed by an environment
//! variable left behind.

use std::sync::OnceLock;

static CRASH_AT: OnceLock<Option<String>> = OnceLock::new();

/// Exits the process with status 137 if the configured crash point is `name`.
pub fn point(name: &str) {
    let target = CRASH_AT.get_or_init(|| {
        let production = std::env::var("QUESTPATH_ENV")
            .map(|v| v.eq_ignore_ascii_case("production") || v.eq_ignore_ascii_case("prod"))
            .unwrap_or(false);
        if production {
            None
        } else {
            std::env::var("QUESTPATH_FAULT_CRASH_AT").ok()
        }
    });
    if target.as_deref() == Some(name) {
        eprintln!("fault injection: crashing at {name}");
        std::process::exit(137);
    }
}
