//! Bus port: cross-instance events (to a user's sessions, to a room) delivered to every
//! instance subscribed to a topic. At-most-once, like Redis pub/sub: what must not be
//! lost goes to the store or the job queue, not only to the bus.
//!
//! Each bus carries one typed event: a learner's topic [`UserEvent`] (here), a room's
//! topics `RoomBusEvent` (with the rooms, `crate::room::event`). The learner's topic
//! also carries their solo quiz between their sessions (`crate::session`'s
//! `QuizTraffic`), which [`UserEvent::decode`] does not read.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::PortResult;

/// Messages of one topic, in publication order. Dropping it unsubscribes.
pub struct BusSubscription {
    pub topic: String,
    pub receiver: mpsc::Receiver<Vec<u8>>,
}

impl BusSubscription {
    /// The next message, or `None` once the bus has shut down.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        self.receiver.recv().await
    }
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    fn backend(&self) -> &'static str;

    async fn ping(&self) -> PortResult<()>;

    /// Sends `payload` to every current subscriber of `topic`, on every instance.
    async fn publish(&self, topic: &str, payload: &[u8]) -> PortResult<()>;

    /// Subscribes to `topic`; messages published after this returns are delivered.
    async fn subscribe(&self, topic: &str) -> PortResult<BusSubscription>;
}

/// Bus topic of one learner's events (all their sessions, on every instance).
pub fn user_topic(user_id: uuid::Uuid) -> String {
    format!("user:{user_id}")
}

/// What is published on a learner's topic: one JSON object tagged by `type`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type")]
pub enum UserEvent {
    /// Progress of a roadmap-generation job (its public view).
    #[serde(rename = "job.status")]
    JobStatus { job: serde_json::Value },
    /// XP was granted.
    #[serde(rename = "xp.granted")]
    XpGranted(crate::events::XpGranted),
    /// The learner's place on a board moved.
    #[serde(rename = "leaderboard.rank")]
    RankChanged(crate::events::RankChanged),
    /// A notification was created for the learner.
    #[serde(rename = "notification")]
    Notification(crate::events::NotificationCreated),
    /// The learner deleted their account: every connection of theirs closes.
    #[serde(rename = "account.deleted")]
    AccountDeleted,
    /// The standings of the learner's league cohort changed.
    #[serde(rename = "league.standings")]
    LeagueStandings(crate::events::LeagueStandings),
    // ---- streaks (issue 18) ----
    #[serde(rename = "streak.updated")]
    StreakUpdated(crate::events::StreakUpdated),
    #[serde(rename = "daily_goal.reached")]
    DailyGoalReached(crate::events::DailyGoalReached),
    #[serde(rename = "streak.at_risk")]
    StreakAtRisk(crate::events::StreakAtRisk),
}

impl UserEvent {
    /// The payload to publish.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("user events serialize")
    }

    /// A payload read from the bus; `None` for one this version does not know.
    pub fn decode(payload: &[u8]) -> Option<Self> {
        serde_json::from_slice(payload).ok()
    }

    /// What the learner's connections are told; `None` for an event that closes them
    /// instead ([`UserEvent::AccountDeleted`]).
    pub fn into_notice(self) -> Option<crate::events::Notice> {
        use crate::events::Notice;
        match self {
            UserEvent::JobStatus { job } => Some(Notice::JobProgress(job)),
            UserEvent::XpGranted(granted) => Some(Notice::XpGranted(granted)),
            UserEvent::RankChanged(rank) => Some(Notice::RankChanged(rank)),
            UserEvent::Notification(created) => Some(Notice::Notification(created)),
            UserEvent::AccountDeleted => None,
            UserEvent::LeagueStandings(standings) => Some(Notice::LeagueStandings(standings)),
            UserEvent::StreakUpdated(e) => Some(Notice::StreakUpdated(e)),
            UserEvent::DailyGoalReached(e) => Some(Notice::DailyGoalReached(e)),
            UserEvent::StreakAtRisk(e) => Some(Notice::StreakAtRisk(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{RankChanged, XpGranted};

    #[test]
    fn user_events_read_as_they_were_published_before_they_were_typed() {
        let job = UserEvent::decode(br#"{"type":"job.status","job":{"id":1}}"#).unwrap();
        assert_eq!(
            job,
            UserEvent::JobStatus {
                job: serde_json::json!({"id": 1})
            }
        );
        let xp = UserEvent::XpGranted(XpGranted {
            amount: 5,
            total_xp: 105,
            player_level: 2,
        });
        assert_eq!(
            String::from_utf8(xp.encode()).unwrap(),
            r#"{"type":"xp.granted","amount":5,"total_xp":105,"player_level":2}"#
        );
        let rank = UserEvent::RankChanged(RankChanged {
            board: "alltime".into(),
            period: None,
            rank: 3,
            previous_rank: Some(4),
            score: 105,
            next_reset: None,
        });
        assert_eq!(UserEvent::decode(&rank.encode()), Some(rank));
        assert_eq!(
            UserEvent::AccountDeleted.encode(),
            br#"{"type":"account.deleted"}"#
        );
        assert_eq!(UserEvent::AccountDeleted.into_notice(), None);
        assert_eq!(UserEvent::decode(br#"{"type":"later.kind"}"#), None);
        let reached = UserEvent::DailyGoalReached(crate::events::DailyGoalReached {
            date: "2026-03-30".parse().unwrap(),
            xp: 30,
            daily_goal: 30,
            streak: 4,
        });
        assert_eq!(
            String::from_utf8(reached.encode()).unwrap(),
            r#"{"type":"daily_goal.reached","date":"2026-03-30","xp":30,"daily_goal":30,"streak":4}"#
        );
        assert!(matches!(
            UserEvent::decode(&reached.encode()).and_then(UserEvent::into_notice),
            Some(crate::events::Notice::DailyGoalReached(_))
        ));
    }
}
