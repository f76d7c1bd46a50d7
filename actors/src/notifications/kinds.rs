//! The kinds of notifications, each with its data and its dedupe key: the key is what
//! makes a retried trigger (a grant applied again, a room's XP job run again, a week end
//! rerun, a second check of the same evening) the same notification.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    LeagueResult,
    StreakAtRisk,
    LevelUp,
    RoomEnded,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 4] = [
        NotificationKind::LeagueResult,
        NotificationKind::StreakAtRisk,
        NotificationKind::LevelUp,
        NotificationKind::RoomEnded,
    ];

    /// The stored and sent name (and the metrics' `kind` label).
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::LeagueResult => "league_result",
            NotificationKind::StreakAtRisk => "streak_at_risk",
            NotificationKind::LevelUp => "level_up",
            NotificationKind::RoomEnded => "room_ended",
        }
    }
}

/// A notification to create: [`crate::notifications::Notifications::notify`] stores it
/// once per (learner, `dedupe_key`). Build it with the constructors below, which fix
/// each kind's data and key.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub kind: NotificationKind,
    pub data: serde_json::Value,
    pub dedupe_key: String,
}

impl NewNotification {
    fn of(kind: NotificationKind, data: &impl Serialize, dedupe_key: String) -> Self {
        NewNotification {
            kind,
            data: serde_json::to_value(data).expect("notification data serializes"),
            dedupe_key,
        }
    }

    /// Key `level_up:{level}`: once per level reached.
    pub fn level_up(data: LevelUp) -> Self {
        let key = format!("level_up:{}", data.level);
        Self::of(NotificationKind::LevelUp, &data, key)
    }

    /// Key `room_ended:{room_id}`: once per room and player.
    pub fn room_ended(data: RoomEnded) -> Self {
        let key = format!("room_ended:{}", data.room_id);
        Self::of(NotificationKind::RoomEnded, &data, key)
    }

    /// Key `league_result:{week}`: once per learner and week.
    pub fn league_result(data: LeagueResult) -> Self {
        let key = format!("league_result:{}", data.week);
        Self::of(NotificationKind::LeagueResult, &data, key)
    }

    /// Key `streak_at_risk:{local_date}`: once per learner and local day.
    pub fn streak_at_risk(data: StreakAtRisk) -> Self {
        let key = format!("streak_at_risk:{}", data.local_date);
        Self::of(NotificationKind::StreakAtRisk, &data, key)
    }
}

/// `level_up`: an XP grant moved the learner up to `level` (from `previous_level`; a
/// grant may cross more than one level, which makes one notification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelUp {
    pub level: u32,
    pub previous_level: u32,
    pub total_xp: i64,
}

/// `room_ended`: a room the learner played signed in ended, with their place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEnded {
    pub room_id: Uuid,
    pub code: String,
    pub title: String,
    /// `finished`, `ended_by_host`, `host_left`, `abandoned`.
    pub end_reason: String,
    /// 1 is the winner.
    pub rank: u64,
    /// Players who took part.
    pub players: u32,
    pub score: u64,
    /// XP the room earned the learner (0 when they answered nothing).
    pub xp: i64,
}

/// How a week's league moved the learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeagueMove {
    Promoted,
    Demoted,
    Stayed,
}

/// `league_result`: the learner's league week ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeagueResult {
    /// The ISO week, `2026-W48`.
    pub week: String,
    /// Tier names, lowercase (`bronze`, `silver`, ...).
    pub tier_before: String,
    pub tier_after: String,
    pub outcome: LeagueMove,
    /// The learner's final rank in their cohort (1 is the top).
    pub rank: u64,
    /// XP earned in the week.
    pub xp: i64,
}

/// `streak_at_risk`: the learner's local evening came with their streak alive and
/// today's goal not reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreakAtRisk {
    pub streak: u32,
    /// The learner's day (in their zone) at risk, `2026-12-05`.
    pub local_date: NaiveDate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_key_and_data_shape() {
        let level = NewNotification::level_up(LevelUp {
            level: 3,
            previous_level: 2,
            total_xp: 205,
        });
        assert_eq!(level.kind.as_str(), "level_up");
        assert_eq!(level.dedupe_key, "level_up:3");
        assert_eq!(
            level.data,
            serde_json::json!({"level": 3, "previous_level": 2, "total_xp": 205})
        );
        let risk = NewNotification::streak_at_risk(StreakAtRisk {
            streak: 4,
            local_date: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
        });
        assert_eq!(risk.dedupe_key, "streak_at_risk:2026-12-05");
        assert_eq!(risk.data["local_date"], "2026-12-05");
        let league = NewNotification::league_result(LeagueResult {
            week: "2026-W49".into(),
            tier_before: "bronze".into(),
            tier_after: "silver".into(),
            outcome: LeagueMove::Promoted,
            rank: 2,
            xp: 340,
        });
        assert_eq!(league.dedupe_key, "league_result:2026-W49");
        assert_eq!(league.data["outcome"], "promoted");
        let room = Uuid::now_v7();
        let ended = NewNotification::room_ended(RoomEnded {
            room_id: room,
            code: "ABC234".into(),
            title: "Rust".into(),
            end_reason: "finished".into(),
            rank: 1,
            players: 3,
            score: 900,
            xp: 40,
        });
        assert_eq!(ended.dedupe_key, format!("room_ended:{room}"));
        for kind in NotificationKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
    }
}
