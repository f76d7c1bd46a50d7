//! XP and player levels.

/// XP needed per player level: the old frontend's rule, kept so existing learners
/// keep their level.
pub const XP_PER_LEVEL: i64 = 100;

/// Player level for a total XP: `floor(total / 100) + 1`, never below 1.
pub fn player_level(total_xp: i64) -> u32 {
    let level = total_xp.max(0) / XP_PER_LEVEL + 1;
    u32::try_from(level).unwrap_or(u32::MAX)
}

/// XP earned inside the current level, and the XP that level needs in all.
pub fn level_progress(total_xp: i64) -> (i64, i64) {
    (total_xp.max(0) % XP_PER_LEVEL, XP_PER_LEVEL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_start_at_one_and_step_every_hundred_xp() {
        assert_eq!(player_level(0), 1);
        assert_eq!(player_level(99), 1);
        assert_eq!(player_level(100), 2);
        assert_eq!(player_level(250), 3);
    }

    #[test]
    fn negative_or_huge_totals_stay_in_range() {
        assert_eq!(player_level(-5), 1);
        assert_eq!(player_level(i64::MAX), u32::MAX);
    }

    #[test]
    fn progress_is_xp_within_the_level() {
        assert_eq!(level_progress(250), (50, 100));
        assert_eq!(level_progress(0), (0, 100));
    }
}

/// Why XP is granted: the source of a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XpSource {
    /// The first pass of a level: its full reward.
    LevelFirstPass,
    /// A later pass of a level: a tenth of its reward, once per day.
    LevelRepass,
    /// Taking part in a multiplayer room: by correct answers and placement.
    RoomGame,
}

impl XpSource {
    pub fn as_str(self) -> &'static str {
        match self {
            XpSource::LevelFirstPass => "level_first_pass",
            XpSource::LevelRepass => "level_repass",
            XpSource::RoomGame => "room_game",
        }
    }
}

/// An XP grant as the rules decide it. Its id is deterministic, so writing it to the
/// ledger twice (a retry, a reconnect, a second device) can only succeed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XpGrant {
    pub grant_id: String,
    pub amount: i64,
    pub source: XpSource,
}

/// The grant for passing a level: the full reward the first time (`first_pass` is true
/// when the level was not completed before), else 10 percent of it (at least 1), at
/// most once per UTC day. Failing grants nothing: callers only ask on a pass.
pub fn level_pass_grant(
    level_id: &str,
    xp_reward: u32,
    first_pass: bool,
    day: chrono::NaiveDate,
) -> XpGrant {
    if first_pass {
        XpGrant {
            grant_id: format!("level:{level_id}:first-pass"),
            amount: i64::from(xp_reward),
            source: XpSource::LevelFirstPass,
        }
    } else {
        XpGrant {
            grant_id: format!("level:{level_id}:repass:{day}"),
            amount: (i64::from(xp_reward) / 10).max(1),
            source: XpSource::LevelRepass,
        }
    }
}

#[cfg(test)]
mod grant_tests {
    use super::*;

    fn day(d: u32) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn the_first_pass_grants_the_full_reward_once() {
        let a = level_pass_grant("L1", 150, true, day(25));
        let b = level_pass_grant("L1", 150, true, day(26));
        assert_eq!(a.amount, 150);
        assert_eq!(
            a.grant_id, b.grant_id,
            "one first pass per level, whatever the day"
        );
    }

    #[test]
    fn later_passes_grant_a_tenth_once_per_day() {
        let same_day = level_pass_grant("L1", 150, false, day(25));
        let again = level_pass_grant("L1", 150, false, day(25));
        let next_day = level_pass_grant("L1", 150, false, day(26));
        assert_eq!(same_day.amount, 15);
        assert_eq!(same_day.grant_id, again.grant_id);
        assert_ne!(same_day.grant_id, next_day.grant_id);
        assert_eq!(level_pass_grant("L2", 5, false, day(25)).amount, 1);
    }
}
