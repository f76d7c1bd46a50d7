//! The streak rules over explicit instants: DST in three zones, zone changes, freezes,
//! midnight during a quiz, retried and recovered grants, goal changes, folding, at-risk.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use super::rules::*;
use crate::ports::store::StreakRecord;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

const BERLIN: Tz = chrono_tz::Europe::Berlin;
const NEW_YORK: Tz = chrono_tz::America::New_York;
const SYDNEY: Tz = chrono_tz::Australia::Sydney;

/// A grant of `xp` at local noon of `day` in the record's zone then.
fn noon_grant(record: &mut StreakRecord, day: &str, xp: i64) -> Option<(NaiveDate, bool)> {
    let noon = local_instant(record.tz(), date(day), hm(12, 0));
    record.add_grant(&format!("g:{day}:{}", Uuid::new_v4()), xp, noon)
}

/// Reaches each of `days` (goal 20) in the record's zone.
fn reach(record: &mut StreakRecord, days: &[&str]) {
    for day in days {
        assert_eq!(
            noon_grant(record, day, 20),
            Some((date(day), true)),
            "{day}"
        );
    }
}

/// The dates from `first`, `n` of them, as strings.
fn dates(first: &str, n: u64) -> Vec<String> {
    let first = date(first);
    (0..n)
        .map(|i| (first + chrono::Days::new(i)).to_string())
        .collect()
}

fn streak_at(record: &StreakRecord, now: &str) -> u32 {
    record.view(at(now)).streak
}

#[test]
fn settings_are_checked() {
    assert_eq!(parse_zone("Europe/Berlin"), Ok(BERLIN));
    assert!(parse_zone("UTC").is_ok());
    assert_eq!(parse_zone("Europe/Atlantis"), Err(SettingsError::TimeZone));
    assert_eq!(parse_zone(""), Err(SettingsError::TimeZone));
    assert_eq!(parse_zone("+02:00"), Err(SettingsError::TimeZone));
    for goal in DAILY_GOALS {
        assert_eq!(check_goal(goal), Ok(goal));
    }
    assert_eq!(check_goal(15), Err(SettingsError::DailyGoal));
    assert_eq!(check_goal(0), Err(SettingsError::DailyGoal));
    assert_eq!(SettingsError::DailyGoal.field(), "daily_goal");
    assert_eq!(SettingsError::TimeZone.field(), "time_zone");
    // A name the zone database dropped reads as UTC rather than failing.
    assert_eq!(zone("Mars/Olympus_Mons"), Tz::UTC);
}

#[test]
fn berlin_spring_forward_day_has_23_hours_and_dates_grants_by_the_wall_clock() {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00Z).
    let day = date("2026-03-29");
    assert_eq!(day_start(BERLIN, day), at("2026-03-28T23:00:00Z"));
    assert_eq!(
        day_start(BERLIN, date("2026-03-30")),
        at("2026-03-29T22:00:00Z")
    );
    // 02:30 does not exist: the first instant after the gap.
    assert_eq!(
        local_instant(BERLIN, day, hm(2, 30)),
        at("2026-03-29T01:00:00Z")
    );
    assert_eq!(
        evening(BERLIN, date("2026-03-28")),
        at("2026-03-28T18:00:00Z")
    );
    assert_eq!(evening(BERLIN, day), at("2026-03-29T17:00:00Z"));

    let mut record = StreakRecord::new("Europe/Berlin", 20);
    reach(&mut record, &["2026-03-28"]);
    // 23:59 CEST is still the 29th; a minute later is the 30th.
    assert_eq!(
        record.add_grant("late", 20, at("2026-03-29T21:59:00Z")),
        Some((day, true))
    );
    assert_eq!(
        record.add_grant("next", 20, at("2026-03-29T22:00:00Z")),
        Some((date("2026-03-30"), true))
    );
    assert_eq!(streak_at(&record, "2026-03-30T10:00:00Z"), 3);
}

#[test]
fn berlin_fall_back_day_has_25_hours_and_its_repeated_hour_is_one_day() {
    // 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00Z); 02:30 happens twice.
    let day = date("2026-10-25");
    assert_eq!(day_start(BERLIN, day), at("2026-10-24T22:00:00Z"));
    assert_eq!(
        day_start(BERLIN, date("2026-10-26")),
        at("2026-10-25T23:00:00Z")
    );
    assert_eq!(
        local_instant(BERLIN, day, hm(2, 30)),
        at("2026-10-25T00:30:00Z")
    );
    assert_eq!(evening(BERLIN, day), at("2026-10-25T18:00:00Z"));

    let mut record = StreakRecord::new("Europe/Berlin", 20);
    // 02:30 CEST and 02:30 CET: the same date, summed towards one goal.
    assert_eq!(
        record.add_grant("first", 10, at("2026-10-25T00:30:00Z")),
        Some((day, false))
    );
    assert_eq!(
        record.add_grant("second", 10, at("2026-10-25T01:30:00Z")),
        Some((day, true))
    );
    // 23:30 CET, the 25th hour's day still.
    assert_eq!(
        record.add_grant("late", 5, at("2026-10-25T22:30:00Z")),
        Some((day, false))
    );
    assert_eq!(record.days[&day].xp, 25);
    assert_eq!(streak_at(&record, "2026-10-25T23:30:00Z"), 1);
}

#[test]
fn new_york_dst_changes_move_the_day_and_the_evening() {
    // 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z).
    let spring = date("2026-03-08");
    assert_eq!(day_start(NEW_YORK, spring), at("2026-03-08T05:00:00Z"));
    assert_eq!(
        day_start(NEW_YORK, date("2026-03-09")),
        at("2026-03-09T04:00:00Z")
    );
    assert_eq!(
        local_instant(NEW_YORK, spring, hm(2, 15)),
        at("2026-03-08T07:00:00Z")
    );
    assert_eq!(
        evening(NEW_YORK, date("2026-03-07")),
        at("2026-03-08T00:00:00Z")
    );
    assert_eq!(evening(NEW_YORK, spring), at("2026-03-08T23:00:00Z"));
    // 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00Z); 01:30 happens twice.
    let fall = date("2026-11-01");
    assert_eq!(
        local_instant(NEW_YORK, fall, hm(1, 30)),
        at("2026-11-01T05:30:00Z")
    );
    assert_eq!(
        day_start(NEW_YORK, date("2026-11-02")),
        at("2026-11-02T05:00:00Z")
    );

    let mut record = StreakRecord::new("America/New_York", 20);
    reach(&mut record, &["2026-03-07"]);
    // 23:30 EDT on the short day, then 00:30 EDT: two days.
    assert_eq!(
        record.add_grant("a", 20, at("2026-03-09T03:30:00Z")),
        Some((spring, true))
    );
    assert_eq!(
        record.add_grant("b", 20, at("2026-03-09T04:30:00Z")),
        Some((date("2026-03-09"), true))
    );
    assert_eq!(streak_at(&record, "2026-03-09T12:00:00Z"), 3);
    // Both 01:30s of the long day are the 1st of November.
    assert_eq!(record.date_at(at("2026-11-01T05:30:00Z")), fall);
    assert_eq!(record.date_at(at("2026-11-01T06:30:00Z")), fall);
    assert_eq!(record.date_at(at("2026-11-02T04:59:00Z")), fall);
}

#[test]
fn sydney_dst_changes_in_april_and_october() {
    // 2026-04-05: 03:00 AEDT becomes 02:00 AEST (16:00Z on the 4th).
    let end = date("2026-04-05");
    assert_eq!(day_start(SYDNEY, end), at("2026-04-04T13:00:00Z"));
    assert_eq!(
        day_start(SYDNEY, date("2026-04-06")),
        at("2026-04-05T14:00:00Z")
    );
    assert_eq!(evening(SYDNEY, end), at("2026-04-05T09:00:00Z"));
    // 2026-10-04: 02:00 AEST becomes 03:00 AEDT (16:00Z on the 3rd).
    let start = date("2026-10-04");
    assert_eq!(day_start(SYDNEY, start), at("2026-10-03T14:00:00Z"));
    assert_eq!(
        day_start(SYDNEY, date("2026-10-05")),
        at("2026-10-04T13:00:00Z")
    );
    assert_eq!(
        local_instant(SYDNEY, start, hm(2, 30)),
        at("2026-10-03T16:00:00Z")
    );

    let mut record = StreakRecord::new("Australia/Sydney", 20);
    reach(&mut record, &["2026-10-03", "2026-10-04", "2026-10-05"]);
    assert_eq!(streak_at(&record, "2026-10-05T01:00:00Z"), 3);
    // At-risk evenings follow the offset: 19:00 AEDT is 08:00Z.
    assert_eq!(
        record
            .next_check(Uuid::nil(), at("2026-10-05T01:00:00Z"))
            .map(|c| c.due_at),
        Some(at("2026-10-06T08:00:00Z"))
    );
}

#[test]
fn a_zone_whose_midnight_is_skipped_starts_its_day_after_the_gap() {
    // America/Havana springs forward at midnight: 2026-03-08 00:00 CST becomes 01:00 CDT.
    let havana: Tz = chrono_tz::America::Havana;
    let day = date("2026-03-08");
    assert_eq!(day_start(havana, day), at("2026-03-08T05:00:00Z"));
    assert_eq!(local_date(havana, day_start(havana, day)), day);
    assert_eq!(
        local_date(
            havana,
            day_start(havana, day) - chrono::Duration::seconds(1)
        ),
        date("2026-03-07")
    );
}

#[test]
fn moving_west_mid_streak_relives_a_date_without_counting_it_twice() {
    let mut record = StreakRecord::new("Europe/Berlin", 20);
    reach(&mut record, &["2026-06-01", "2026-06-02"]);
    // Tuesday 01:00 in Berlin is Monday 19:00 in New York.
    let change = at("2026-06-01T23:00:00Z");
    record.set_zone("America/New_York", change);
    assert_eq!(record.view(change).today, date("2026-06-01"));
    // XP on New York's Monday joins Monday, already reached: nothing new.
    assert_eq!(
        record.add_grant("ny-monday", 30, at("2026-06-01T23:30:00Z")),
        Some((date("2026-06-01"), false))
    );
    assert_eq!(record.days[&date("2026-06-01")].xp, 50);
    assert_eq!(record.view(at("2026-06-01T23:30:00Z")).streak, 1);
    // Tuesday (reached in Berlin) counts once New York's Tuesday comes.
    assert_eq!(streak_at(&record, "2026-06-02T12:00:00Z"), 2);
    // Grants keep the zone of their time: Berlin's Tuesday stays Tuesday.
    assert_eq!(
        record.date_at(at("2026-06-01T22:30:00Z")),
        date("2026-06-02")
    );
    reach(&mut record, &["2026-06-03"]);
    assert_eq!(streak_at(&record, "2026-06-03T20:00:00Z"), 3);
    assert!(record.walk(date("2026-06-03")).frozen.is_empty());
}

#[test]
fn moving_east_across_the_date_line_skips_a_date_without_breaking_the_streak() {
    // Pago Pago is UTC-11, Kiritimati UTC+14: 25 hours apart, so a change late in the
    // evening jumps a whole date (24 hours apart would only shorten one).
    let mut record = StreakRecord::new("Pacific/Pago_Pago", 20);
    reach(&mut record, &["2026-07-05", "2026-07-06"]);
    // Monday 23:30 in Pago Pago (10:30Z Tuesday) is Wednesday 00:30 in Kiritimati.
    let change = at("2026-07-07T10:30:00Z");
    record.set_zone("Pacific/Kiritimati", change);
    assert_eq!(record.view(change).today, date("2026-07-08"));
    assert!(record.skipped_dates().contains(&date("2026-07-07")));
    // Tuesday was never lived there: neither a miss nor a freeze.
    assert_eq!(record.view(change).streak, 2);
    reach(&mut record, &["2026-07-08"]);
    let walk = record.walk(date("2026-07-08"));
    assert_eq!(
        (walk.streak, walk.frozen.len(), walk.broken.len()),
        (3, 0, 0)
    );
}

#[test]
fn moving_east_by_hours_shortens_the_day_but_keeps_it() {
    let mut record = StreakRecord::new("America/Los_Angeles", 20);
    reach(&mut record, &["2026-09-01"]);
    // Wednesday 22:00 in Los Angeles is Thursday 14:00 in Tokyo: Wednesday was lived
    // (not skipped), and missed.
    record.set_zone("Asia/Tokyo", at("2026-09-03T05:00:00Z"));
    assert!(record.skipped_dates().is_empty());
    let walk = record.walk(date("2026-09-03"));
    assert_eq!(walk.broken, vec![date("2026-09-02")]);
}

#[test]
fn a_freeze_earned_by_seven_days_covers_a_missed_day() {
    let mut record = StreakRecord::new("Europe/Berlin", 20);
    let week = dates("2026-01-01", 7);
    reach(
        &mut record,
        &week.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let walk = record.walk(date("2026-01-07"));
    assert_eq!((walk.streak, walk.freezes), (7, 1));
    // The 8th is missed; the 9th is reached: the freeze covered the 8th.
    reach(&mut record, &["2026-01-09"]);
    let walk = record.walk(date("2026-01-09"));
    assert_eq!(walk.frozen, vec![date("2026-01-08")]);
    assert_eq!((walk.streak, walk.freezes, walk.longest), (8, 0, 8));
    // Shown as used the day after the miss already, before any XP.
    let view = record.view(at("2026-01-09T08:00:00Z"));
    assert_eq!((view.streak, view.freezes, view.goal_reached), (8, 0, true));
    // Without a freeze, the next missed day ends it; the longest stays.
    let walk = record.walk(date("2026-01-11"));
    assert_eq!(walk.broken, vec![date("2026-01-10")]);
    assert_eq!((walk.streak, walk.longest), (0, 8));
}

#[test]
fn at_most_two_freezes_are_held_and_two_missed_days_use_both() {
    let mut record = StreakRecord::new("UTC", 20);
    let days = dates("2026-02-01", 21);
    reach(
        &mut record,
        &days.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(record.walk(date("2026-02-21")).freezes, MAX_FREEZES);
    // Two missed days, then a reached one: both freezes used, the streak goes on.
    reach(&mut record, &["2026-02-24"]);
    let walk = record.walk(date("2026-02-24"));
    assert_eq!(walk.frozen, vec![date("2026-02-22"), date("2026-02-23")]);
    assert_eq!((walk.streak, walk.freezes), (22, 0));
}

#[test]
fn midnight_during_a_quiz_counts_the_grant_for_the_day_it_was_recorded() {
    let mut record = StreakRecord::new("Europe/Berlin", 20);
    reach(&mut record, &["2026-05-10"]);
    // The quiz started at 23:55 on the 11th; its grant was recorded at 00:02 on the 12th.
    let recorded = at("2026-05-11T22:02:00Z");
    assert_eq!(
        record.add_grant("quiz:1", 25, recorded),
        Some((date("2026-05-12"), true))
    );
    assert!(!record.days.contains_key(&date("2026-05-11")));
    // So the 11th was missed (no freeze yet): the streak restarted on the 12th.
    assert_eq!(streak_at(&record, "2026-05-12T10:00:00Z"), 1);
}

#[test]
fn a_retried_or_recovered_grant_counts_once_and_for_its_own_date() {
    let mut record = StreakRecord::new("America/New_York", 20);
    reach(&mut record, &["2026-04-01"]);
    let made = at("2026-04-03T02:00:00Z"); // 22:00 EDT on the 2nd
    assert_eq!(
        record.add_grant("quiz:7", 20, made),
        Some((date("2026-04-02"), true))
    );
    // The same grant again (a retry, or the recovery re-applying it): no change.
    let before = record.clone();
    assert_eq!(record.add_grant("quiz:7", 20, made), None);
    assert_eq!(record, before);
    assert_eq!(record.days[&date("2026-04-02")].xp, 20);

    // A grant made on the 3rd but applied only on the 4th (a crash, then recovery):
    // the 3rd is repaired, not missed.
    let mut late = record.clone();
    assert_eq!(
        streak_at(&late, "2026-04-04T15:00:00Z"),
        0,
        "the 3rd looks missed"
    );
    assert_eq!(
        late.add_grant("quiz:8", 20, at("2026-04-03T15:00:00Z")),
        Some((date("2026-04-03"), true))
    );
    assert_eq!(streak_at(&late, "2026-04-04T15:00:00Z"), 3);
}

#[test]
fn a_lowered_goal_reaches_today_and_a_raised_one_takes_nothing_back() {
    let mut record = StreakRecord::new("UTC", 30);
    assert_eq!(
        noon_grant(&mut record, "2026-08-01", 20),
        Some((date("2026-08-01"), false))
    );
    assert!(!record.set_goal(30, at("2026-08-01T13:00:00Z")));
    assert!(record.set_goal(20, at("2026-08-01T13:00:00Z")));
    assert!(record.days[&date("2026-08-01")].reached);
    assert!(!record.set_goal(50, at("2026-08-01T14:00:00Z")));
    assert!(record.days[&date("2026-08-01")].reached);
    assert_eq!(streak_at(&record, "2026-08-01T15:00:00Z"), 1);
    // The next day needs 50.
    assert_eq!(
        noon_grant(&mut record, "2026-08-02", 40),
        Some((date("2026-08-02"), false))
    );
}

#[test]
fn folding_old_days_keeps_the_streak_and_bounds_the_record() {
    let mut folded = StreakRecord::new("Europe/Berlin", 20);
    let mut whole = folded.clone();
    let days = dates("2026-01-01", 100);
    for (i, day) in days.iter().enumerate() {
        // A miss every 10 days (freezes cover some, others break the streak).
        if i % 10 == 9 || i % 23 == 22 {
            continue;
        }
        reach(&mut folded, &[day]);
        reach(&mut whole, &[day]);
        folded.fold(date(day));
    }
    let today = date("2026-04-10");
    folded.fold(today);
    assert!(folded.days.len() as u64 <= WINDOW_DAYS);
    let (a, b) = (folded.walk(today), whole.walk(today));
    assert_eq!(
        (a.streak, a.longest, a.freezes),
        (b.streak, b.longest, b.freezes)
    );
    // A grant dated before the window no longer changes anything.
    assert_eq!(noon_grant(&mut folded, "2026-01-05", 50), None);
}

#[test]
fn at_risk_from_the_evening_once_a_day_and_the_next_check_follows() {
    let user = Uuid::nil();
    let mut record = StreakRecord::new("Europe/Berlin", 20);
    reach(&mut record, &["2026-12-01", "2026-12-02"]);
    // The 3rd, 18:59 Berlin: not yet; 19:00: at risk with a streak of 2.
    assert_eq!(record.at_risk(at("2026-12-03T17:59:00Z")), None);
    assert_eq!(
        record.at_risk(at("2026-12-03T18:00:00Z")),
        Some((2, date("2026-12-03")))
    );
    let check = record.next_check(user, at("2026-12-03T09:00:00Z")).unwrap();
    assert_eq!(
        (check.due_at, check.local_date),
        (at("2026-12-03T18:00:00Z"), date("2026-12-03"))
    );
    // Told: not again today, and the next check is tomorrow's evening.
    record.at_risk_sent = Some(date("2026-12-03"));
    assert_eq!(record.at_risk(at("2026-12-03T20:00:00Z")), None);
    let next = record.next_check(user, at("2026-12-03T20:00:00Z")).unwrap();
    assert_eq!(next.local_date, date("2026-12-04"));
    // Kept today: no risk, and the check moves to tomorrow.
    let mut kept = record.clone();
    kept.at_risk_sent = None;
    reach(&mut kept, &["2026-12-03"]);
    assert_eq!(kept.at_risk(at("2026-12-03T20:00:00Z")), None);
    assert_eq!(
        kept.next_check(user, at("2026-12-03T20:00:00Z"))
            .map(|c| c.local_date),
        Some(date("2026-12-04"))
    );
    // No streak, nothing to check.
    assert_eq!(
        StreakRecord::new("UTC", 20).next_check(user, at("2026-12-03T20:00:00Z")),
        None
    );
    // Broken since: nothing at risk, no check.
    assert_eq!(record.at_risk(at("2026-12-05T20:00:00Z")), None);
    assert_eq!(record.next_check(user, at("2026-12-05T20:00:00Z")), None);
}

#[test]
fn freezes_and_breaks_are_noted_once() {
    let mut record = StreakRecord::new("UTC", 20);
    let week = dates("2026-03-01", 7);
    reach(
        &mut record,
        &week.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    // The 8th and 9th missed: one freeze, then a break.
    let noted = record.note(at("2026-03-10T12:00:00Z"));
    assert_eq!(
        noted,
        Noted {
            frozen: 1,
            broken: 1
        }
    );
    assert_eq!(record.note(at("2026-03-10T18:00:00Z")), Noted::default());
    assert_eq!(record.note(at("2026-03-11T12:00:00Z")), Noted::default());
}

#[test]
fn a_zone_set_before_anything_counted_applies_from_the_start() {
    // Sign-up in Sydney: the record starts in UTC and gets its zone at once. A grant
    // stamped a moment before that (another instance's clock) is still a Sydney day.
    let mut record = StreakRecord::new("UTC", 10);
    let signed_up = at("2026-12-05T13:30:00Z");
    record.set_zone("Australia/Sydney", signed_up);
    assert!(record.zones.is_empty());
    let earlier = at("2026-12-05T13:29:59Z");
    assert_eq!(record.date_at(earlier).to_string(), "2026-12-06");
    // Once a day counted, a later change keeps the earlier days in their zone.
    record.add_grant("level:1", 10, earlier);
    record.set_zone("Europe/Berlin", at("2026-12-06T00:00:00Z"));
    assert_eq!(record.date_at(earlier).to_string(), "2026-12-06");
    assert_eq!(record.zones.len(), 2);
}
