//! What a room has handled of each relay's ticketed commands, so that a command a relay
//! sends again (it was not acknowledged before the room moved) is handled once. Saved
//! with the game: the next owner knows what its saved game already contains.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::event::Ack;

/// One relay's tickets: every one up to `done`, and those handled beyond a gap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Handled {
    done: u64,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    ahead: BTreeSet<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tickets {
    by_relay: HashMap<Uuid, Handled>,
    /// Relays whose acknowledgement the next batch carries.
    #[serde(skip)]
    unacked: HashSet<Uuid>,
}

impl Tickets {
    /// Records a ticket; `false` when it was handled before (a resend). Either way the
    /// relay is acknowledged again with the next batch.
    pub fn first_time(&mut self, from: Uuid, ticket: u64) -> bool {
        self.unacked.insert(from);
        let handled = self.by_relay.entry(from).or_default();
        if ticket <= handled.done || !handled.ahead.insert(ticket) {
            return false;
        }
        while handled.ahead.remove(&(handled.done + 1)) {
            handled.done += 1;
        }
        true
    }

    pub fn has_acks(&self) -> bool {
        !self.unacked.is_empty()
    }

    /// The acknowledgements owed: each relay's tickets handled without a gap. A ticket
    /// after a gap stays held by its relay until the missing one arrives again.
    pub fn take_acks(&mut self) -> Vec<Ack> {
        self.unacked
            .drain()
            .filter_map(|from| {
                let done = self.by_relay.get(&from)?.done;
                (done > 0).then_some(Ack { from, done })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_handled_once_and_acknowledged_up_to_the_first_gap() {
        let relay = Uuid::from_u128(1);
        let mut tickets = Tickets::default();
        assert!(tickets.first_time(relay, 1));
        assert!(tickets.first_time(relay, 3));
        assert!(!tickets.first_time(relay, 1));
        assert!(!tickets.first_time(relay, 3));
        assert_eq!(
            tickets.take_acks(),
            vec![Ack {
                from: relay,
                done: 1
            }]
        );
        assert!(!tickets.has_acks());
        assert!(tickets.first_time(relay, 2));
        assert_eq!(
            tickets.take_acks(),
            vec![Ack {
                from: relay,
                done: 3
            }]
        );

        // Saved and adopted: the next owner refuses what the old one handled.
        let bytes = serde_json::to_vec(&tickets).unwrap();
        let mut adopted: Tickets = serde_json::from_slice(&bytes).unwrap();
        assert!(!adopted.first_time(relay, 2));
        assert!(adopted.first_time(relay, 4));
        assert!(adopted.first_time(Uuid::from_u128(2), 1));
        let mut acks = adopted.take_acks();
        acks.sort_by_key(|a| a.from);
        assert_eq!(
            acks,
            vec![
                Ack {
                    from: relay,
                    done: 4
                },
                Ack {
                    from: Uuid::from_u128(2),
                    done: 1
                }
            ]
        );
    }
}
