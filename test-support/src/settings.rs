//! The settings of a test server.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use questpath::config::Settings;

/// Question time of the solo quiz in in-process test servers: short, so timeouts are
/// testable (below the 5 s floor the environment variable allows).
pub const QUESTION_TIME: Duration = Duration::from_millis(1500);

/// How long an in-process test server keeps a dropped learner's quiz for a reconnect.
pub const RECONNECT_GRACE: Duration = Duration::from_secs(5);

/// The variables of a test server on a random loopback port with its data in `data_dir`.
pub fn base_vars(data_dir: &Path) -> Vec<(String, String)> {
    [
        ("QUESTPATH_BIND", "127.0.0.1:0".to_string()),
        ("QUESTPATH_DATA_DIR", data_dir.display().to_string()),
        ("QUESTPATH_WORKERS", "2".to_string()),
        ("QUESTPATH_SHUTDOWN_TIMEOUT_SECS", "1".to_string()),
        // Lockout and validation tests sign in and register many times from 127.0.0.1;
        // the tests of these limits set them explicitly.
        ("QUESTPATH_RATE_LIMIT_LOGIN", "1000".to_string()),
        ("QUESTPATH_RATE_LIMIT_REGISTER", "1000".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Settings for a test server: [`base_vars`], then `extra` (which wins).
pub fn test_settings(data_dir: &Path, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = base_vars(data_dir).into_iter().collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Settings::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

/// [`QUESTION_TIME`] and [`RECONNECT_GRACE`], which the variables cannot express.
pub fn short_quiz_timings(settings: &mut Settings) {
    settings.realtime.question_time = QUESTION_TIME;
    settings.realtime.grace = RECONNECT_GRACE;
}
