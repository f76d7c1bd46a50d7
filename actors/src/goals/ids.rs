//! Deterministic ids for everything generated with a goal: a retried job writes the same
//! rows again instead of duplicates.

use uuid::Uuid;

pub fn roadmap(goal_id: Uuid) -> Uuid {
    Uuid::new_v5(&goal_id, b"roadmap")
}

/// Levels are numbered from 1.
pub fn level(goal_id: Uuid, order: u32) -> Uuid {
    Uuid::new_v5(&goal_id, format!("level:{order}").as_bytes())
}

/// Questions are numbered from 0 within their level.
pub fn question(level_id: Uuid, index: u32) -> Uuid {
    Uuid::new_v5(&level_id, format!("question:{index}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let goal = Uuid::now_v7();
        assert_eq!(level(goal, 1), level(goal, 1));
        assert_ne!(level(goal, 1), level(goal, 2));
        assert_ne!(question(level(goal, 1), 0), question(level(goal, 2), 0));
        assert_ne!(roadmap(goal), level(goal, 1));
    }
}
