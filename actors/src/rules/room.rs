//! Rules of multiplayer rooms: join codes, points per answer, ranking, and the XP a
//! game earns. Pure functions; the room actor applies them.

use std::cmp::Ordering;
use std::time::Duration;

use super::xp::{XpGrant, XpSource};

/// Join-code alphabet: no 0/O, 1/I/L or U/V, so a code read aloud or off a projector is
/// typed right the first time. 29 symbols, so 29^6 = 595 million codes.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTWXYZ23456789";

/// Length of a join code.
pub const CODE_LENGTH: usize = 6;

/// A join code from `CODE_LENGTH` random indexes (any `u32`s; reduced here).
pub fn join_code(random: [u32; CODE_LENGTH]) -> String {
    random
        .iter()
        .map(|r| CODE_ALPHABET[*r as usize % CODE_ALPHABET.len()] as char)
        .collect()
}

/// A code as typed (any case, spaces or dashes between groups) in canonical form, or
/// `None` when it cannot be a join code.
pub fn normalize_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LENGTH && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

/// How a room scores answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scoring {
    /// Kahoot's public formula: `round((1 - (t / limit) / 2) * base)`, full points for an
    /// answer within half a second, half at the deadline.
    Speed,
    /// Every correct answer scores the base, whatever its speed.
    Accuracy,
}

/// Points of a correct answer worth `base`.
pub const BASE_POINTS: u32 = 1000;
/// Answers within this time score full points under [`Scoring::Speed`].
pub const FULL_POINTS_WITHIN: Duration = Duration::from_millis(500);
/// Bonus per consecutive correct answer after the first.
pub const STREAK_STEP: u32 = 100;
/// Largest streak bonus.
pub const STREAK_CAP: u32 = 500;

/// Points of one answer before the streak bonus: 0 when wrong; under `Speed`, from the
/// server-measured response time (never below half the base, even in the grace window).
pub fn answer_points(
    scoring: Scoring,
    correct: bool,
    response: Duration,
    limit: Duration,
    base: u32,
) -> u32 {
    if !correct {
        return 0;
    }
    match scoring {
        Scoring::Accuracy => base,
        Scoring::Speed => {
            if response <= FULL_POINTS_WITHIN || limit.is_zero() {
                return base;
            }
            let fraction = (response.as_secs_f64() / limit.as_secs_f64()).min(1.0);
            let points = ((1.0 - fraction / 2.0) * f64::from(base)).round();
            (points as u32).clamp(base / 2, base)
        }
    }
}

/// Streak bonus for a correct answer that makes a streak of `streak` (the first correct
/// answer in a row is 1): +100 per step after the first, at most +500.
pub fn streak_bonus(streak: u32) -> u32 {
    streak
        .saturating_sub(1)
        .saturating_mul(STREAK_STEP)
        .min(STREAK_CAP)
}

/// What ranks a player: score first, then the total time of correct answers (faster
/// first), then the order they joined, so every scoreboard is a total order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub score: u64,
    pub correct_time_ms: u64,
    pub joined: u64,
}

/// Ordering for scoreboards: better first.
pub fn rank_order(a: &Standing, b: &Standing) -> Ordering {
    b.score
        .cmp(&a.score)
        .then(a.correct_time_ms.cmp(&b.correct_time_ms))
        .then(a.joined.cmp(&b.joined))
}

/// XP per correct answer in a room.
pub const XP_PER_CORRECT: i64 = 2;
/// XP for taking part (at least one answer).
pub const XP_PARTICIPATION: i64 = 5;
/// Extra XP for the podium: first, second, third.
pub const XP_PODIUM: [i64; 3] = [30, 20, 10];

/// XP a player earns from a finished room, or `None` when they answered nothing. The
/// grant id names the room and the player, so it is written once whatever happens.
pub fn room_grant(
    room_id: &str,
    player_id: &str,
    correct: u32,
    answered: u32,
    rank: u64,
) -> Option<XpGrant> {
    if answered == 0 {
        return None;
    }
    let podium = match rank {
        1..=3 => XP_PODIUM[(rank - 1) as usize],
        _ => 0,
    };
    Some(XpGrant {
        grant_id: format!("room:{room_id}:{player_id}"),
        amount: XP_PARTICIPATION + XP_PER_CORRECT * i64::from(correct) + podium,
        source: XpSource::RoomGame,
    })
}

/// How much of a client's round trip is taken off its response time: the whole measured
/// round trip (the question travelled half of it, the answer the other half), but never
/// more than this, so a client cannot buy time by answering pings slowly.
pub const MAX_LATENCY_COMPENSATION: Duration = Duration::from_millis(300);

/// Response time after latency compensation: the time between the server writing the
/// question to the socket and reading the answer, minus the measured round trip (capped).
pub fn compensated_response(measured: Duration, round_trip: Option<Duration>) -> Duration {
    let compensation = round_trip.unwrap_or_default().min(MAX_LATENCY_COMPENSATION);
    measured.saturating_sub(compensation)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(20);

    #[test]
    fn codes_use_the_unambiguous_alphabet_and_normalize() {
        let code = join_code([0, 1, 2, 3, 4, 1000]);
        assert_eq!(code.len(), CODE_LENGTH);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        for confusable in [b'0', b'O', b'1', b'I', b'L', b'U', b'V'] {
            assert!(!CODE_ALPHABET.contains(&confusable));
        }
        assert_eq!(normalize_code(" abc-def ").as_deref(), Some("ABCDEF"));
        assert_eq!(normalize_code("ab2 34x").as_deref(), Some("AB234X"));
        assert_eq!(normalize_code("ABCDE0"), None, "0 is not in the alphabet");
        assert_eq!(normalize_code("ABCDE"), None);
        assert_eq!(normalize_code("ABCDEFG"), None);
    }

    #[test]
    fn speed_scoring_follows_kahoots_formula() {
        let points = |ms| answer_points(Scoring::Speed, true, Duration::from_millis(ms), T, 1000);
        assert_eq!(points(0), 1000);
        assert_eq!(points(500), 1000, "full points within half a second");
        assert_eq!(points(10_000), 750);
        assert_eq!(points(20_000), 500, "half at the deadline");
        assert_eq!(points(20_400), 500, "never below half in the grace window");
        assert_eq!(points(4_000), 900);
        assert_eq!(
            answer_points(Scoring::Speed, false, Duration::ZERO, T, 1000),
            0
        );
    }

    #[test]
    fn accuracy_scoring_ignores_speed() {
        for ms in [0, 7_000, 19_999] {
            assert_eq!(
                answer_points(Scoring::Accuracy, true, Duration::from_millis(ms), T, 1000),
                1000
            );
        }
        assert_eq!(
            answer_points(Scoring::Accuracy, false, Duration::ZERO, T, 1000),
            0
        );
    }

    #[test]
    fn the_streak_bonus_grows_by_a_hundred_up_to_five_hundred() {
        assert_eq!(streak_bonus(0), 0);
        assert_eq!(streak_bonus(1), 0);
        assert_eq!(streak_bonus(2), 100);
        assert_eq!(streak_bonus(6), 500);
        assert_eq!(streak_bonus(60), 500);
    }

    #[test]
    fn ranking_is_total_score_then_speed_then_join_order() {
        let s = |score, time, joined| Standing {
            score,
            correct_time_ms: time,
            joined,
        };
        let mut players = [s(900, 10, 3), s(1000, 50, 2), s(900, 5, 4), s(900, 5, 1)];
        players.sort_by(rank_order);
        assert_eq!(
            players,
            [s(1000, 50, 2), s(900, 5, 1), s(900, 5, 4), s(900, 10, 3)]
        );
    }

    #[test]
    fn room_xp_counts_answers_and_the_podium_once_per_player() {
        let first = room_grant("R", "P", 8, 10, 1).unwrap();
        assert_eq!(first.amount, 5 + 16 + 30);
        assert_eq!(first.grant_id, "room:R:P");
        assert_eq!(first.source, XpSource::RoomGame);
        assert_eq!(room_grant("R", "P", 0, 3, 7).unwrap().amount, 5);
        assert_eq!(room_grant("R", "P", 0, 0, 1), None, "no answer, no XP");
    }

    #[test]
    fn latency_compensation_uses_the_measured_round_trip_up_to_a_cap() {
        let ms = Duration::from_millis;
        assert_eq!(compensated_response(ms(1200), Some(ms(80))), ms(1120));
        assert_eq!(compensated_response(ms(1200), Some(ms(5000))), ms(900));
        assert_eq!(compensated_response(ms(50), Some(ms(80))), ms(0));
        assert_eq!(compensated_response(ms(700), None), ms(700));
    }
}
