//! Server-timed quizzes: which questions, when each closes, what counts as late, the
//! score and the pass mark. Pure functions over instants the server measured.

use std::time::Duration;

/// Questions per quiz.
pub const QUESTIONS_PER_QUIZ: usize = 5;
/// Time to answer one question.
pub const QUESTION_TIME: Duration = Duration::from_secs(60);
/// Published allowance for network delay: an answer the server receives up to this
/// long after the deadline still counts. Measured by the server only.
pub const LATE_GRACE: Duration = Duration::from_millis(500);
/// Pass mark, in percent.
pub const PASS_PERCENT: u32 = 80;

/// Score in percent, rounded to the nearest whole number.
pub fn score_percent(correct: usize, total: usize) -> u32 {
    if total == 0 {
        return 0;
    }
    ((correct as f64 / total as f64) * 100.0).round() as u32
}

pub fn passed(score_percent: u32) -> bool {
    score_percent >= PASS_PERCENT
}

/// Whether an answer received `received_after_open` after the question opened is in
/// time for a question of length `limit`.
pub fn in_time(received_after_open: Duration, limit: Duration) -> bool {
    received_after_open <= limit + LATE_GRACE
}

/// Picks `count` distinct question indexes out of a bank of `bank` questions, spread
/// by `seed` (the caller passes randomness), in the order they will be asked.
pub fn pick_questions(bank: usize, count: usize, mut seed: u64) -> Vec<usize> {
    let mut indexes: Vec<usize> = (0..bank).collect();
    // Fisher-Yates with a xorshift stream: deterministic for a seed, so tests can pin it.
    for i in (1..indexes.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        indexes.swap(i, j);
    }
    indexes.truncate(count.min(bank));
    indexes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_of_five_pass_three_do_not() {
        assert_eq!(score_percent(4, 5), 80);
        assert!(passed(score_percent(4, 5)));
        assert_eq!(score_percent(3, 5), 60);
        assert!(!passed(score_percent(3, 5)));
        assert_eq!(score_percent(0, 0), 0);
        assert_eq!(score_percent(2, 3), 67);
    }

    #[test]
    fn answers_count_until_the_deadline_plus_the_grace() {
        let limit = Duration::from_secs(60);
        assert!(in_time(Duration::from_secs(60), limit));
        assert!(in_time(Duration::from_millis(60_500), limit));
        assert!(!in_time(Duration::from_millis(60_501), limit));
    }

    #[test]
    fn picks_are_distinct_bounded_and_vary_with_the_seed() {
        let a = pick_questions(12, 5, 42);
        let mut sorted = a.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 5);
        assert!(a.iter().all(|&i| i < 12));
        assert_ne!(a, pick_questions(12, 5, 43));
        assert_eq!(a, pick_questions(12, 5, 42));
        assert_eq!(pick_questions(3, 5, 1).len(), 3);
    }
}
