//! Guests: people without an account that a host lets into one room. A guest gets a
//! one-time websocket ticket (like a learner's) and a rejoin token that trades for a
//! new ticket with the same guest id, so a guest whose phone slept keeps the seat.
//! Both live in the cache port under their hash, like learners' tickets.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::secret_token;
use crate::auth::service::TICKET_TTL;
use questpath_actors::ports::{Cache, PortResult};

/// How long a rejoin token works (longer than any game).
pub const REJOIN_TTL: Duration = Duration::from_secs(12 * 3600);

/// Who a guest is, for the one room they may join.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestPass {
    pub guest_id: Uuid,
    pub name: String,
    pub room_id: Uuid,
    pub code: String,
}

/// A guest's credentials.
pub struct GuestTicket {
    pub ticket: String,
    pub rejoin_token: String,
}

#[derive(Clone)]
pub struct Guests {
    cache: Arc<dyn Cache>,
}

fn ticket_key(ticket: &str) -> String {
    format!("ws-guest-ticket:{}", secret_token::hash(ticket))
}

fn rejoin_key(token: &str) -> String {
    format!("room-guest:{}", secret_token::hash(token))
}

impl Guests {
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        Guests { cache }
    }

    /// A ticket for `pass`, and a rejoin token (a new one, or the one given back).
    pub async fn issue(
        &self,
        pass: &GuestPass,
        rejoin_token: Option<String>,
    ) -> PortResult<GuestTicket> {
        let value = serde_json::to_vec(pass).expect("passes serialize");
        let ticket = secret_token::generate();
        self.cache
            .set(&ticket_key(&ticket), &value, TICKET_TTL)
            .await?;
        let rejoin_token = match rejoin_token {
            Some(token) => token,
            None => {
                let token = secret_token::generate();
                self.cache
                    .set(&rejoin_key(&token), &value, REJOIN_TTL)
                    .await?;
                token
            }
        };
        Ok(GuestTicket {
            ticket,
            rejoin_token,
        })
    }

    /// The guest a rejoin token stands for.
    pub async fn rejoin(&self, token: &str) -> PortResult<Option<GuestPass>> {
        if !secret_token::well_formed(token) {
            return Ok(None);
        }
        Ok(self
            .cache
            .get(&rejoin_key(token))
            .await?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Redeems a guest ticket once.
    pub async fn redeem(&self, ticket: &str) -> PortResult<Option<GuestPass>> {
        if !secret_token::well_formed(ticket) {
            return Ok(None);
        }
        Ok(self
            .cache
            .take(&ticket_key(ticket))
            .await?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }
}
