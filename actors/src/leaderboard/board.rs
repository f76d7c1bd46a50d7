//! Board names and weeks.
//!
//! Two kinds of board: all-time XP (`alltime`, never reset) and weekly XP, one board
//! per ISO week (`weekly:2026-W48`), which starts Monday 00:00 UTC. Clients name the
//! current week `weekly`; a past week by its own name. The port key of a board is its
//! full name (`alltime`, `weekly:2026-W48`).

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Utc, Weekday};

/// The all-time board's name and key.
pub const ALL_TIME: &str = "alltime";

/// What clients call the current week's board.
pub const WEEKLY: &str = "weekly";

/// How long a week's board stays in Redis after its week ends: past weeks are read
/// from there with every rank, until then.
pub const WEEKLY_RETENTION: Duration = Duration::days(28);

/// An ISO week (Monday to Sunday, UTC), the period of a weekly board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Week {
    year: i32,
    week: u32,
}

impl Week {
    /// The week holding `at`.
    pub fn of(at: DateTime<Utc>) -> Week {
        let iso = at.date_naive().iso_week();
        Week {
            year: iso.year(),
            week: iso.week(),
        }
    }

    /// Parses `2026-W48`; `None` for anything else, or a week the year does not have.
    pub fn parse(text: &str) -> Option<Week> {
        let (year, week) = text.split_once("-W")?;
        if year.len() != 4 || week.len() != 2 {
            return None;
        }
        let year: i32 = year.parse().ok()?;
        let week: u32 = week.parse().ok()?;
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)?;
        Some(Week { year, week })
    }

    /// Monday 00:00 UTC of this week.
    pub fn starts_at(self) -> DateTime<Utc> {
        NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            // Unreachable: a `Week` is only built from a valid date.
            .unwrap_or_default()
    }

    /// Monday 00:00 UTC of the next week: when this week's board stops counting.
    pub fn ends_at(self) -> DateTime<Utc> {
        self.starts_at() + Duration::days(7)
    }

    pub fn next(self) -> Week {
        Week::of(self.ends_at())
    }

    pub fn previous(self) -> Week {
        Week::of(self.starts_at() - Duration::days(1))
    }

    /// `2026-W48`.
    pub fn label(self) -> String {
        format!("{:04}-W{:02}", self.year, self.week)
    }

    /// When the week's board may leave Redis.
    pub fn expires_at(self) -> DateTime<Utc> {
        self.ends_at() + WEEKLY_RETENTION
    }
}

/// A board, resolved against the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Board {
    AllTime,
    Weekly(Week),
}

impl Board {
    /// Resolves a client's board name at `now`: `alltime`, `weekly` (the current week)
    /// or `weekly:2026-W47` (a week that has started).
    pub fn parse(name: &str, now: DateTime<Utc>) -> Option<Board> {
        match name {
            ALL_TIME => Some(Board::AllTime),
            WEEKLY => Some(Board::Weekly(Week::of(now))),
            other => {
                let week = Week::parse(other.strip_prefix("weekly:")?)?;
                (week.starts_at() <= now).then_some(Board::Weekly(week))
            }
        }
    }

    /// The port key: `alltime` or `weekly:2026-W48`.
    pub fn key(self) -> String {
        match self {
            Board::AllTime => ALL_TIME.to_string(),
            Board::Weekly(week) => format!("weekly:{}", week.label()),
        }
    }

    /// `alltime` or `weekly`.
    pub fn kind(self) -> &'static str {
        match self {
            Board::AllTime => ALL_TIME,
            Board::Weekly(_) => WEEKLY,
        }
    }

    /// The week's label, for weekly boards.
    pub fn period(self) -> Option<String> {
        match self {
            Board::AllTime => None,
            Board::Weekly(week) => Some(week.label()),
        }
    }

    /// When the board was reset last (weekly boards).
    pub fn starts_at(self) -> Option<DateTime<Utc>> {
        match self {
            Board::AllTime => None,
            Board::Weekly(week) => Some(week.starts_at()),
        }
    }

    /// When the board resets (weekly boards): for a past week, when it did.
    pub fn next_reset(self) -> Option<DateTime<Utc>> {
        match self {
            Board::AllTime => None,
            Board::Weekly(week) => Some(week.ends_at()),
        }
    }

    /// [`Board::next_reset`] as frames carry it (`2026-11-30T00:00:00Z`).
    pub fn next_reset_text(self) -> Option<String> {
        self.next_reset()
            .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    /// When the board may leave Redis (weekly boards).
    pub fn expires_at(self) -> Option<DateTime<Utc>> {
        match self {
            Board::AllTime => None,
            Board::Weekly(week) => Some(week.expires_at()),
        }
    }

    /// Whether grants still change this board at `now` (all-time, or the current week).
    pub fn is_live(self, now: DateTime<Utc>) -> bool {
        match self {
            Board::AllTime => true,
            Board::Weekly(week) => week == Week::of(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn weeks_reset_monday_midnight_utc() {
        // Sunday 23:59:59.999 is still the old week; Monday 00:00 the new one.
        let sunday = at("2026-11-29T23:59:59.999Z");
        let monday = at("2026-11-30T00:00:00Z");
        assert_eq!(Week::of(sunday).label(), "2026-W48");
        assert_eq!(Week::of(monday).label(), "2026-W49");
        assert_eq!(Week::of(sunday).ends_at(), monday);
        assert_eq!(Week::of(monday).starts_at(), monday);
        assert_eq!(Week::of(sunday).next(), Week::of(monday));
        assert_eq!(Week::of(monday).previous(), Week::of(sunday));
    }

    #[test]
    fn iso_years_cross_calendar_years() {
        // 2026-12-31 is a Thursday of 2026-W53; 2027-01-01 (Friday) too.
        assert_eq!(Week::of(at("2026-12-31T12:00:00Z")).label(), "2026-W53");
        assert_eq!(Week::of(at("2027-01-01T12:00:00Z")).label(), "2026-W53");
        assert_eq!(Week::of(at("2027-01-04T00:00:00Z")).label(), "2027-W01");
        // 2024-12-30 (Monday) already belongs to 2025-W01.
        assert_eq!(Week::of(at("2024-12-30T00:00:00Z")).label(), "2025-W01");
        assert_eq!(Week::parse("2026-W53").unwrap().next().label(), "2027-W01");
        assert!(Week::parse("2027-W53").is_none(), "2027 has 52 weeks");
    }

    #[test]
    fn board_names_resolve_against_the_clock() {
        let now = at("2026-11-26T10:00:00Z");
        assert_eq!(Board::parse("alltime", now), Some(Board::AllTime));
        let current = Board::parse("weekly", now).unwrap();
        assert_eq!(current.key(), "weekly:2026-W48");
        assert_eq!(current.next_reset(), Some(at("2026-11-30T00:00:00Z")));
        assert_eq!(
            current.next_reset_text().as_deref(),
            Some("2026-11-30T00:00:00Z")
        );
        assert_eq!(current.starts_at(), Some(at("2026-11-23T00:00:00Z")));
        assert!(current.is_live(now));
        let past = Board::parse("weekly:2026-W47", now).unwrap();
        assert!(!past.is_live(now));
        assert_eq!(Board::parse(&current.key(), now), Some(current));
        for bad in [
            "weekly:2026-W49",
            "weekly:2026-48",
            "weekly:26-W48",
            "weekly:2026-W00",
            "daily",
            "",
        ] {
            assert_eq!(Board::parse(bad, now), None, "{bad}");
        }
    }
}
