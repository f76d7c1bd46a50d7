//! Secrets a client presents: as an access token (a JWT) nothing verifies, since only
//! this server's key signs; as a refresh token or websocket ticket, the shape check
//! answers and the hash is 64 hex digits.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use questpath::auth::secret_token;
use questpath::auth::tokens::TokenKeys;
use questpath::config::Secret;

fuzz_target!(|data: &[u8]| {
    static KEYS: OnceLock<TokenKeys> = OnceLock::new();
    let keys = KEYS.get_or_init(|| TokenKeys::new(&Secret::new("k".repeat(40))));
    let text = String::from_utf8_lossy(data);
    assert!(keys.verify_access(&text).is_err());
    let _ = secret_token::well_formed(&text);
    assert_eq!(secret_token::hash(&text).len(), 64);
});
