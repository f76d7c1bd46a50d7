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
