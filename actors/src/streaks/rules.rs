//! The rules of days and streaks, as pure functions over a [`StreakRecord`] and explicit
//! instants (no clock, no store), so DST changes, zone changes and midnights are tested
//! over exact times.
//!
//! - A grant belongs to the learner's local date at the grant's recorded time, in the
//!   zone in effect at that time ([`StreakRecord::zones`]): a quiz that ends after
//!   midnight counts for the new day; a retried or recovered grant keeps its date and
//!   is counted once (by grant id).
//! - A day is reached when its XP reaches the daily goal in effect when the XP (or a
//!   lowered goal) arrives; once reached it stays reached.
//! - Walking the dates in order: a reached date adds one to the streak (every
//!   [`FREEZE_EVERY`] reached dates earn a freeze, at most [`MAX_FREEZES`] held); a past
//!   date not reached uses a freeze if one is held, else breaks the streak; today, not
//!   yet reached, changes nothing. Dates a zone change jumped over were never lived and
//!   count neither way, and a date lived twice (a change westwards) is one date.
//! - Days are calendar dates, so a 23-hour or 25-hour day (DST) is one day like any other.

use std::collections::BTreeSet;

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::ports::store::{StreakBase, StreakCheck, StreakRecord, ZoneSpan};

/// The daily goals a learner may choose, in XP.
pub const DAILY_GOALS: [u32; 4] = [10, 20, 30, 50];
pub const DEFAULT_GOAL: u32 = 20;
pub const DEFAULT_ZONE: &str = "UTC";
/// Reached days that earn one freeze.
pub const FREEZE_EVERY: u32 = 7;
/// Freezes held at most.
pub const MAX_FREEZES: u32 = 2;
/// Local dates kept day by day in the record; older ones are folded into its base (a
/// grant recovered later than that no longer changes the streak).
pub const WINDOW_DAYS: u64 = 35;
/// Zone changes kept (older ones beyond the window are dropped anyway).
pub const MAX_ZONE_SPANS: usize = 32;
/// The local hour from which a streak not yet kept today is at risk.
pub const EVENING_HOUR: u32 = 19;

/// A setting refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("time_zone must be an IANA time zone name such as Europe/Berlin")]
    TimeZone,
    #[error("daily_goal must be one of 10, 20, 30 or 50")]
    DailyGoal,
}

impl SettingsError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            SettingsError::TimeZone => "time_zone",
            SettingsError::DailyGoal => "daily_goal",
        }
    }
}

/// An IANA zone by its exact name (`Europe/Berlin`, `UTC`).
pub fn parse_zone(name: &str) -> Result<Tz, SettingsError> {
    name.parse::<Tz>().map_err(|_| SettingsError::TimeZone)
}

/// A daily goal, if it is one of [`DAILY_GOALS`].
pub fn check_goal(goal: u32) -> Result<u32, SettingsError> {
    if DAILY_GOALS.contains(&goal) {
        Ok(goal)
    } else {
        Err(SettingsError::DailyGoal)
    }
}

/// A stored zone name; UTC if the zone database no longer knows it.
pub fn zone(name: &str) -> Tz {
    parse_zone(name).unwrap_or(Tz::UTC)
}

/// The local date of `at` in `tz`.
pub fn local_date(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The first instant at which `tz`'s wall clock shows `date` at `time` or later: the
/// earlier of two when the time repeats (fall-back), the end of the gap when it does
/// not exist (spring-forward, or a midnight some zones skip).
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut local = date.and_time(time);
    // Gaps last hours (a whole day once, Samoa 2011); step through them by the minute.
    for _ in 0..=2 * 24 * 60 {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(at) => return at.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => local += chrono::Duration::minutes(1),
        }
    }
    // No zone has a gap of two days; read it as UTC rather than fail.
    date.and_time(time).and_utc()
}

/// When `date` begins in `tz`.
pub fn day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    local_instant(tz, date, NaiveTime::MIN)
}

/// When `date`'s evening begins in `tz` (streak at risk from then).
pub fn evening(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    local_instant(
        tz,
        date,
        NaiveTime::from_hms_opt(EVENING_HOUR, 0, 0).unwrap_or(NaiveTime::MIN),
    )
}

fn next_day(date: NaiveDate) -> NaiveDate {
    date.checked_add_days(Days::new(1)).unwrap_or(date)
}

fn prev_day(date: NaiveDate) -> NaiveDate {
    date.checked_sub_days(Days::new(1)).unwrap_or(date)
}

impl StreakRecord {
    /// A learner's record before anything happened: a zone and a goal, no days.
    pub fn new(time_zone: &str, daily_goal: u32) -> Self {
        StreakRecord {
            time_zone: time_zone.to_string(),
            daily_goal,
            zones: Vec::new(),
            days: Default::default(),
            base: StreakBase::default(),
            at_risk_sent: None,
            check: None,
            noted_through: None,
        }
    }

    /// The current zone.
    pub fn tz(&self) -> Tz {
        zone(&self.time_zone)
    }

    /// The zone in effect at `at`: the last span begun by then (the first span before
    /// any; the current zone without spans).
    pub fn zone_at(&self, at: DateTime<Utc>) -> Tz {
        let span = self
            .zones
            .iter()
            .rev()
            .find(|s| s.since <= at)
            .or(self.zones.first());
        zone(span.map_or(&self.time_zone, |s| &s.time_zone))
    }

    /// The learner's local date at `at` (in the zone in effect then).
    pub fn date_at(&self, at: DateTime<Utc>) -> NaiveDate {
        local_date(self.zone_at(at), at)
    }

    /// Dates a zone change jumped over (never lived): strictly between the date the
    /// old zone showed at the change and the date the new one did.
    pub fn skipped_dates(&self) -> BTreeSet<NaiveDate> {
        let mut skipped = BTreeSet::new();
        for pair in self.zones.windows(2) {
            let (from, to) = (zone(&pair[0].time_zone), zone(&pair[1].time_zone));
            let at = pair[1].since;
            let mut date = next_day(local_date(from, at));
            let until = local_date(to, at);
            while date < until {
                skipped.insert(date);
                date = next_day(date);
            }
        }
        skipped
    }

    /// Counts a grant of `amount` XP made at `at` (its ledger time) under `grant_id`,
    /// once. Returns the date it counted for and whether that date became reached;
    /// `None` when it had been counted already, or its date was folded into the base.
    pub fn add_grant(
        &mut self,
        grant_id: &str,
        amount: i64,
        at: DateTime<Utc>,
    ) -> Option<(NaiveDate, bool)> {
        let date = self.date_at(at);
        if self.base.through.is_some_and(|through| date <= through) {
            return None;
        }
        let goal = i64::from(self.daily_goal);
        let day = self.days.entry(date).or_default();
        if day.grants.iter().any(|g| g == grant_id) {
            return None;
        }
        day.grants.push(grant_id.to_string());
        day.xp = day.xp.saturating_add(amount);
        let newly = !day.reached && day.xp >= goal;
        day.reached |= newly;
        Some((date, newly))
    }

    /// Sets the daily goal from `now` on: today's XP already meeting a lowered goal
    /// reaches today (true when it did); past days keep what they were.
    pub fn set_goal(&mut self, goal: u32, now: DateTime<Utc>) -> bool {
        self.daily_goal = goal;
        let today = local_date(self.tz(), now);
        match self.days.get_mut(&today) {
            Some(day) if !day.reached && day.xp >= i64::from(goal) => {
                day.reached = true;
                true
            }
            _ => false,
        }
    }

    /// Moves the learner to zone `name` from `now` on.
    pub fn set_zone(&mut self, name: &str, now: DateTime<Utc>) {
        if name == self.time_zone {
            return;
        }
        // Nothing counted yet (a sign-up): no day to keep in the old zone, so the new one
        // applies from the start, also to a grant stamped by a clock a little behind.
        if self.zones.is_empty() && self.days.is_empty() && self.base.through.is_none() {
            self.time_zone = name.to_string();
            return;
        }
        if self.zones.is_empty() {
            self.zones.push(ZoneSpan {
                since: DateTime::<Utc>::UNIX_EPOCH,
                time_zone: self.time_zone.clone(),
            });
        }
        self.zones.push(ZoneSpan {
            since: now,
            time_zone: name.to_string(),
        });
        if self.zones.len() > MAX_ZONE_SPANS {
            let extra = self.zones.len() - MAX_ZONE_SPANS;
            self.zones.drain(..extra);
        }
        self.time_zone = name.to_string();
    }

    /// Folds the dates older than the window (before `today` - [`WINDOW_DAYS`]) into the
    /// base, so the record stays small; the streak it yields is unchanged.
    pub fn fold(&mut self, today: NaiveDate) {
        let Some(cutoff) = today.checked_sub_days(Days::new(WINDOW_DAYS)) else {
            return;
        };
        let Some(&first) = self.days.keys().next() else {
            return;
        };
        if first >= cutoff {
            return;
        }
        let skipped = self.skipped_dates();
        let mut base = self.base.clone();
        let mut date = base.through.map_or(first, next_day);
        while date < cutoff {
            let reached = self.days.get(&date).is_some_and(|d| d.reached);
            step(&mut base, date, reached, false, skipped.contains(&date));
            date = next_day(date);
        }
        base.through = Some(prev_day(cutoff));
        self.base = base;
        self.days = self.days.split_off(&cutoff);
        // Zone spans that ended before the window's first day no longer date anything.
        let start = day_start(self.zone_at(day_start(self.tz(), cutoff)), cutoff);
        while self.zones.len() > 1 && self.zones[1].since <= start {
            self.zones.remove(0);
        }
    }

    /// The streak as of `today` (the learner's local date now).
    pub fn walk(&self, today: NaiveDate) -> Walk {
        let skipped = self.skipped_dates();
        let mut base = self.base.clone();
        let mut walk = Walk {
            streak: 0,
            longest: 0,
            freezes: 0,
            frozen: Vec::new(),
            broken: Vec::new(),
            today_reached: false,
        };
        let first = match base.through {
            Some(through) => Some(next_day(through)),
            None => self.days.keys().next().copied(),
        };
        if let Some(mut date) = first {
            while date <= today {
                let reached = self.days.get(&date).is_some_and(|d| d.reached);
                match step(
                    &mut base,
                    date,
                    reached,
                    date == today,
                    skipped.contains(&date),
                ) {
                    Step::Frozen => walk.frozen.push(date),
                    Step::Broken => walk.broken.push(date),
                    Step::Kept | Step::Nothing => {}
                }
                date = next_day(date);
            }
        }
        walk.streak = base.streak;
        walk.longest = base.longest;
        walk.freezes = base.freezes;
        walk.today_reached = self.days.get(&today).is_some_and(|d| d.reached);
        walk
    }

    /// What the learner is shown at `now`.
    pub fn view(&self, now: DateTime<Utc>) -> StreakView {
        let tz = self.tz();
        let today = local_date(tz, now);
        let walk = self.walk(today);
        StreakView {
            streak: walk.streak,
            longest: walk.longest,
            freezes: walk.freezes,
            today,
            today_xp: self.days.get(&today).map_or(0, |d| d.xp),
            daily_goal: self.daily_goal,
            goal_reached: walk.today_reached,
            time_zone: self.time_zone.clone(),
        }
    }

    /// The at-risk check this record should have in the index at `now`: this evening
    /// while today is not kept (and not yet notified), else tomorrow's; none without a
    /// streak to lose.
    pub fn next_check(&self, user_id: Uuid, now: DateTime<Utc>) -> Option<StreakCheck> {
        let tz = self.tz();
        let today = local_date(tz, now);
        let walk = self.walk(today);
        if walk.streak == 0 {
            return None;
        }
        let date = if !walk.today_reached && self.at_risk_sent != Some(today) {
            today
        } else {
            next_day(today)
        };
        Some(StreakCheck {
            user_id,
            due_at: evening(tz, date),
            local_date: date,
        })
    }

    /// The streak at risk at `now`: its length and today's date, when the evening has
    /// come, there is a streak, today is not kept and the learner was not told today.
    pub fn at_risk(&self, now: DateTime<Utc>) -> Option<(u32, NaiveDate)> {
        let tz = self.tz();
        let today = local_date(tz, now);
        let walk = self.walk(today);
        let due = now >= evening(tz, today);
        (due && walk.streak > 0 && !walk.today_reached && self.at_risk_sent != Some(today))
            .then_some((walk.streak, today))
    }

    /// Freezes used and streaks broken on past dates not counted yet (for the
    /// metrics), and marks them counted.
    pub fn note(&mut self, now: DateTime<Utc>) -> Noted {
        let today = local_date(self.tz(), now);
        let walk = self.walk(today);
        let fresh = |d: &&NaiveDate| self.noted_through.is_none_or(|n| **d > n) && **d < today;
        let noted = Noted {
            frozen: walk.frozen.iter().filter(fresh).count() as u32,
            broken: walk.broken.iter().filter(fresh).count() as u32,
        };
        let yesterday = prev_day(today);
        if self.noted_through.is_none_or(|n| n < yesterday) {
            self.noted_through = Some(yesterday);
        }
        noted
    }
}

/// What one date did to the streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Kept,
    Frozen,
    Broken,
    Nothing,
}

/// One date of the walk: `today` is not over, so not reaching it changes nothing yet.
fn step(base: &mut StreakBase, date: NaiveDate, reached: bool, today: bool, skipped: bool) -> Step {
    base.through = Some(date);
    if skipped {
        return Step::Nothing;
    }
    if reached {
        base.streak += 1;
        base.longest = base.longest.max(base.streak);
        base.toward_freeze += 1;
        if base.toward_freeze >= FREEZE_EVERY {
            base.toward_freeze = 0;
            base.freezes = (base.freezes + 1).min(MAX_FREEZES);
        }
        return Step::Kept;
    }
    if today || base.streak == 0 {
        return Step::Nothing;
    }
    if base.freezes > 0 {
        base.freezes -= 1;
        Step::Frozen
    } else {
        base.streak = 0;
        base.toward_freeze = 0;
        Step::Broken
    }
}

/// The streak walked up to today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    pub streak: u32,
    pub longest: u32,
    pub freezes: u32,
    /// Past dates in the window a freeze covered.
    pub frozen: Vec<NaiveDate>,
    /// Past dates in the window that broke a streak.
    pub broken: Vec<NaiveDate>,
    pub today_reached: bool,
}

/// Freezes used and streaks broken, newly counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Noted {
    pub frozen: u32,
    pub broken: u32,
}

/// A learner's streak and today's progress, as shown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreakView {
    /// Days kept in a row (today counts once reached).
    pub streak: u32,
    pub longest: u32,
    /// Streak freezes held (at most 2), used by themselves on a missed day.
    pub freezes: u32,
    /// The learner's local date now.
    pub today: NaiveDate,
    /// XP granted today (local day).
    pub today_xp: i64,
    pub daily_goal: u32,
    /// Today's goal is reached.
    pub goal_reached: bool,
    pub time_zone: String,
}
