//! One-click unsubscribe tokens: which list and which learner, signed with HMAC-SHA256
//! under a key derived from the server's signing key. Nothing is stored, so a link in
//! a mail of last year still works, and no one can make a link for another learner.
//!
//! Layout (URL-safe base64, 46 characters): version (1 byte), list (1 byte), user id
//! (16 bytes), then the first 16 bytes of the MAC over those 18.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::config::Secret;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const PAYLOAD: usize = 18;
const MAC: usize = 16;

/// The optional mails a learner can leave with one click.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MailList {
    StreakReminders,
    WeeklySummary,
}

impl MailList {
    fn byte(self) -> u8 {
        match self {
            MailList::StreakReminders => 1,
            MailList::WeeklySummary => 2,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(MailList::StreakReminders),
            2 => Some(MailList::WeeklySummary),
            _ => None,
        }
    }
}

/// Signs and checks unsubscribe tokens.
#[derive(Clone)]
pub struct UnsubscribeKeys {
    key: [u8; 32],
}

impl UnsubscribeKeys {
    /// A key of its own, derived from the signing key (so an access token's MAC is
    /// never a valid unsubscribe MAC, and the other way round).
    pub fn derive(signing_key: &Secret) -> Self {
        let mut mac = HmacSha256::new_from_slice(signing_key.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(b"questpath one-click unsubscribe v1");
        UnsubscribeKeys {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("32-byte key");
        mac.update(payload);
        mac
    }

    /// The token that unsubscribes `user_id` from `list`.
    pub fn token(&self, user_id: Uuid, list: MailList) -> String {
        let mut bytes = Vec::with_capacity(PAYLOAD + MAC);
        bytes.push(VERSION);
        bytes.push(list.byte());
        bytes.extend_from_slice(user_id.as_bytes());
        let tag = self.mac(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..MAC]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The learner and list of a genuine token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<(Uuid, MailList)> {
        if token.len() > 64 {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        if bytes.len() != PAYLOAD + MAC || bytes[0] != VERSION {
            return None;
        }
        let (payload, tag) = bytes.split_at(PAYLOAD);
        // Constant-time comparison of the truncated MAC.
        self.mac(payload).verify_truncated_left(tag).ok()?;
        let list = MailList::from_byte(payload[1])?;
        let user_id = Uuid::from_slice(&payload[2..]).ok()?;
        Some((user_id, list))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::proptest_strategies::hostile_string;

    fn keys() -> UnsubscribeKeys {
        UnsubscribeKeys::derive(&Secret::new("k".repeat(40)))
    }

    #[test]
    fn a_token_names_its_learner_and_list_and_nothing_else_verifies() {
        let keys = keys();
        let user = Uuid::new_v4();
        let token = keys.token(user, MailList::WeeklySummary);
        assert_eq!(token.len(), 46);
        assert_eq!(keys.verify(&token), Some((user, MailList::WeeklySummary)));
        let other_key = UnsubscribeKeys::derive(&Secret::new("j".repeat(40)));
        assert_eq!(other_key.verify(&token), None, "another server's key");
        // The list byte changed: the MAC no longer matches.
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .unwrap();
        bytes[1] = 1;
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(keys.verify(&forged), None);
    }

    proptest! {
        #[test]
        fn no_other_string_verifies(value in prop_oneof![hostile_string(), "[A-Za-z0-9_-]{40,50}"]) {
            let keys = keys();
            let genuine = keys.token(Uuid::nil(), MailList::StreakReminders);
            prop_assume!(value != genuine);
            prop_assert_eq!(keys.verify(&value), None);
        }
    }
}
