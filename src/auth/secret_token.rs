//! Opaque secret values (refresh tokens, websocket tickets): random, and stored only
//! as a SHA-256, so a leaked database does not leak usable tokens.

use base64::Engine;
use rand::RngExt;
use sha2::{Digest, Sha256};

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Lower-case hex SHA-256 of a token value: the only form that is stored.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a presented value has the shape of a generated token (cheap rejection of
/// garbage before any lookup).
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_hashed() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(well_formed(&a));
        assert_eq!(hash(&a).len(), 64);
        assert_eq!(hash(&a), hash(&a));
        assert!(!well_formed("short"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::proptest_strategies::hostile_string;

        /// The shape check, written out independently of `well_formed`.
        fn has_token_shape(value: &str) -> bool {
            value.chars().count() == 43
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }

        proptest! {
            #[test]
            fn only_strings_shaped_like_a_token_are_well_formed(
                value in prop_oneof![hostile_string(), "[A-Za-z0-9_=+/.-]{41,45}"],
            ) {
                prop_assert_eq!(well_formed(&value), has_token_shape(&value));
                let hashed = hash(&value);
                prop_assert_eq!(hashed.len(), 64);
                prop_assert!(hashed.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            }

            #[test]
            fn generated_tokens_are_well_formed_and_hash_apart(_round in 0..4u8) {
                let (a, b) = (generate(), generate());
                prop_assert!(well_formed(&a) && well_formed(&b));
                prop_assert_ne!(hash(&a), hash(&b));
            }
        }
    }
}
