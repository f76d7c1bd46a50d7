//! Standings from the XP ledger: the one computation behind live updates and rebuilds,
//! which is why a rebuilt board equals the lost one.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::board::{Board, Week};
use crate::ports::{ScoreUpdate, Standing, XpEntry};

/// The standing the entries give: their sum, the time that sum was reached, and how
/// many entries it counts. `None` without entries.
///
/// The time reached is that of the latest entry that changed the sum (a zero-XP entry
/// changes nothing), so at equal XP whoever got there first ranks higher; when no entry
/// changed it, that of the first entry.
pub fn standing<'a>(entries: impl IntoIterator<Item = &'a XpEntry>) -> Option<Standing> {
    let mut score: i64 = 0;
    let mut count: u64 = 0;
    let mut first: Option<DateTime<Utc>> = None;
    let mut last_change: Option<DateTime<Utc>> = None;
    for entry in entries {
        score = score.saturating_add(entry.amount);
        count += 1;
        first = Some(first.map_or(entry.created_at, |t| t.min(entry.created_at)));
        if entry.amount != 0 {
            last_change = Some(last_change.map_or(entry.created_at, |t| t.max(entry.created_at)));
        }
    }
    Some(Standing {
        score,
        reached_at: last_change.or(first)?,
        entries: count,
    })
}

/// The standing on `board`: every entry for all-time, the week's entries for a week.
pub fn standing_on(board: Board, entries: &[XpEntry]) -> Option<Standing> {
    match board {
        Board::AllTime => standing(entries),
        Board::Weekly(week) => standing(entries.iter().filter(|e| Week::of(e.created_at) == week)),
    }
}

/// The updates that bring `boards` to what the user's ledger says. A board on which the
/// user has no entry gets no update.
pub fn updates(user_id: Uuid, entries: &[XpEntry], boards: &[Board]) -> Vec<ScoreUpdate> {
    boards
        .iter()
        .filter_map(|&board| {
            Some(ScoreUpdate {
                board: board.key(),
                user_id,
                standing: standing_on(board, entries)?,
                expires_at: board.expires_at(),
            })
        })
        .collect()
}

/// The boards a grant (or its recovery) changes: all-time, and the weeks of the grants
/// being applied that are still kept at `now` (a grant applied late, after a crash,
/// lands on the week it was earned in). Without pending grants, the current week.
pub fn boards_for(entries: &[XpEntry], pending: &[String], now: DateTime<Utc>) -> Vec<Board> {
    let mut weeks: BTreeSet<Week> = entries
        .iter()
        .filter(|e| pending.contains(&e.grant_id))
        .map(|e| Week::of(e.created_at))
        .collect();
    if weeks.is_empty() {
        weeks.insert(Week::of(now));
    }
    std::iter::once(Board::AllTime)
        .chain(
            weeks
                .into_iter()
                .filter(|w| w.expires_at() > now && w.starts_at() <= now)
                .map(Board::Weekly),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(amount: i64, at: &str) -> XpEntry {
        XpEntry {
            user_id: Uuid::nil(),
            grant_id: format!("g-{at}-{amount}"),
            amount,
            source: "test".into(),
            created_at: DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn the_time_reached_is_the_last_change() {
        let entries = vec![
            entry(100, "2026-11-24T10:00:00Z"),
            entry(50, "2026-11-25T10:00:00Z"),
            entry(0, "2026-11-26T10:00:00Z"),
        ];
        let s = standing(&entries).unwrap();
        assert_eq!(s.score, 150);
        assert_eq!(s.entries, 3);
        assert_eq!(s.reached_at, entries[1].created_at);
        assert_eq!(standing([].iter()), None);
        let zero = vec![
            entry(0, "2026-11-26T10:00:00Z"),
            entry(0, "2026-11-25T10:00:00Z"),
        ];
        assert_eq!(standing(&zero).unwrap().reached_at, zero[1].created_at);
    }

    #[test]
    fn weekly_standings_count_the_week_only() {
        let entries = vec![
            entry(100, "2026-11-22T23:59:59Z"), // Sunday of W47
            entry(30, "2026-11-23T00:00:00Z"),  // Monday of W48
            entry(20, "2026-11-26T00:00:00Z"),
        ];
        let w48 = Board::Weekly(Week::parse("2026-W48").unwrap());
        let w47 = Board::Weekly(Week::parse("2026-W47").unwrap());
        assert_eq!(standing_on(w48, &entries).unwrap().score, 50);
        assert_eq!(standing_on(w48, &entries).unwrap().entries, 2);
        assert_eq!(standing_on(w47, &entries).unwrap().score, 100);
        assert_eq!(standing_on(Board::AllTime, &entries).unwrap().score, 150);
        let w49 = Board::Weekly(Week::parse("2026-W49").unwrap());
        assert!(updates(Uuid::nil(), &entries, &[w49]).is_empty());
    }

    #[test]
    fn a_late_grant_lands_on_its_own_week() {
        let entries = vec![
            entry(100, "2026-11-22T23:59:59Z"),
            entry(30, "2026-11-23T00:00:00Z"),
        ];
        let now = entries[1].created_at + chrono::Duration::hours(1);
        let pending = vec![entries[0].grant_id.clone()];
        let boards = boards_for(&entries, &pending, now);
        assert_eq!(
            boards,
            vec![
                Board::AllTime,
                Board::Weekly(Week::parse("2026-W47").unwrap())
            ]
        );
        assert_eq!(
            boards_for(&entries, &[], now),
            vec![
                Board::AllTime,
                Board::Weekly(Week::parse("2026-W48").unwrap())
            ]
        );
    }
}
