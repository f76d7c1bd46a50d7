//! Store conformance of streaks: the learner's record by compare-and-set, and the index
//! of streak-at-risk checks by hour.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use questpath::ports::Store;
use questpath::ports::store::{StreakCheck, StreakDay, StreakRecord, ZoneSpan, due_hour};
use uuid::Uuid;

crate::conformance!(
    embedded => crate::common::embedded_store(),
    cql => crate::common::scylla_store();
    [
        streak_record_reads_back_exactly_with_its_version,
        a_stale_version_writes_nothing,
        concurrent_writes_of_one_version_let_exactly_one_win,
        deleted_streak_record_is_gone,
        streak_checks_are_listed_by_hour_and_due_time_and_removed,
        streak_checks_of_an_hour_are_limited,
    ]
);

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A whole second (what both stores keep exactly).
fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn record() -> StreakRecord {
    let mut record = StreakRecord::new("Europe/Berlin", 30);
    record.zones = vec![
        ZoneSpan {
            since: DateTime::<Utc>::UNIX_EPOCH,
            time_zone: "UTC".into(),
        },
        ZoneSpan {
            since: at("2026-12-01T08:00:00Z"),
            time_zone: "Europe/Berlin".into(),
        },
    ];
    record.days.insert(
        date("2026-12-01"),
        StreakDay {
            xp: 35,
            reached: true,
            grants: vec!["level:1".into(), "room:2".into()],
        },
    );
    record.base.streak = 4;
    record.base.longest = 9;
    record.base.freezes = 1;
    record.base.through = Some(date("2026-10-20"));
    record.at_risk_sent = Some(date("2026-11-30"));
    record.check = Some(StreakCheck {
        user_id: Uuid::new_v4(),
        due_at: at("2026-12-02T18:00:00Z"),
        local_date: date("2026-12-02"),
    });
    record
}

async fn streak_record_reads_back_exactly_with_its_version(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    assert_eq!(store.streak(user).await.unwrap(), None);
    let first = record();
    assert!(store.put_streak(user, &first, None).await.unwrap());
    let stored = store.streak(user).await.unwrap().expect("written");
    assert_eq!((stored.record, stored.version), (first.clone(), 1));
    let mut second = first.clone();
    second.daily_goal = 50;
    second.days.get_mut(&date("2026-12-01")).unwrap().xp = 60;
    assert!(store.put_streak(user, &second, Some(1)).await.unwrap());
    let stored = store.streak(user).await.unwrap().expect("written");
    assert_eq!((stored.record, stored.version), (second.clone(), 2));
    // The read to show sees every completed write too, version included.
    let shown = store.streak_to_show(user).await.unwrap().expect("written");
    assert_eq!((shown.record, shown.version), (second, 2));
    // Another learner's record is apart.
    assert_eq!(store.streak(Uuid::new_v4()).await.unwrap(), None);
    assert_eq!(store.streak_to_show(Uuid::new_v4()).await.unwrap(), None);
}

async fn a_stale_version_writes_nothing(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    let first = record();
    // No record yet: only "none expected" writes.
    assert!(!store.put_streak(user, &first, Some(1)).await.unwrap());
    assert_eq!(store.streak(user).await.unwrap(), None);
    assert!(store.put_streak(user, &first, None).await.unwrap());
    let mut other = first.clone();
    other.time_zone = "Asia/Tokyo".into();
    // A second first write, a wrong version: refused, the record unchanged.
    assert!(!store.put_streak(user, &other, None).await.unwrap());
    assert!(!store.put_streak(user, &other, Some(7)).await.unwrap());
    let stored = store.streak(user).await.unwrap().unwrap();
    assert_eq!((stored.record, stored.version), (first, 1));
}

async fn concurrent_writes_of_one_version_let_exactly_one_win(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    assert!(store.put_streak(user, &record(), None).await.unwrap());
    let writers: Vec<_> = (0..8u32)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = record();
                mine.daily_goal = 10 + i;
                (i, store.put_streak(user, &mine, Some(1)).await.unwrap())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for writer in writers {
        let (i, won) = writer.await.unwrap();
        if won {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one compare-and-set wins");
    let stored = store.streak(user).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.record.daily_goal, 10 + winners[0]);
}

async fn deleted_streak_record_is_gone(store: Arc<dyn Store>) {
    let (user, other) = (Uuid::new_v4(), Uuid::new_v4());
    assert!(store.put_streak(user, &record(), None).await.unwrap());
    assert!(store.put_streak(other, &record(), None).await.unwrap());
    assert!(store.delete_streak(user).await.unwrap());
    assert_eq!(store.streak(user).await.unwrap(), None);
    assert!(!store.delete_streak(user).await.unwrap());
    assert!(store.streak(other).await.unwrap().is_some());
    // Written again from scratch after a deletion.
    assert!(store.put_streak(user, &record(), None).await.unwrap());
    assert_eq!(store.streak(user).await.unwrap().unwrap().version, 1);
}

fn check(due: DateTime<Utc>, day: &str) -> StreakCheck {
    StreakCheck {
        user_id: Uuid::new_v4(),
        due_at: due,
        local_date: date(day),
    }
}

/// Every check of `hour` (due by its end), at most `limit`.
async fn all_in_hour(store: &Arc<dyn Store>, hour: i64, limit: usize) -> Vec<StreakCheck> {
    let end = DateTime::from_timestamp((hour + 1) * 3600 - 1, 0).unwrap();
    store.streak_checks_due(hour, end, limit).await.unwrap()
}

fn sorted(mut checks: Vec<StreakCheck>) -> Vec<StreakCheck> {
    checks.sort_by_key(|c| (c.due_at, c.user_id));
    checks
}

async fn streak_checks_are_listed_by_hour_and_due_time_and_removed(store: Arc<dyn Store>) {
    // Due in the future (the CQL rows' TTL counts from their due time).
    let hour_start = DateTime::from_timestamp((due_hour(Utc::now()) + 48) * 3600, 0).unwrap();
    let hour = due_hour(hour_start);
    let day = hour_start.date_naive().to_string();
    let in_hour = vec![
        check(hour_start, &day),
        check(hour_start + Duration::minutes(30), &day),
        check(hour_start + Duration::minutes(59), &day),
    ];
    let next_hour = check(hour_start + Duration::hours(1), &day);
    for c in in_hour.iter().chain([&next_hour]) {
        store.schedule_streak_check(c).await.unwrap();
    }
    // Scheduling again is harmless.
    store.schedule_streak_check(&in_hour[1]).await.unwrap();
    assert_eq!(
        sorted(all_in_hour(&store, hour, 100).await),
        sorted(in_hour.clone())
    );
    assert_eq!(
        all_in_hour(&store, hour + 1, 100).await,
        vec![next_hour.clone()]
    );
    assert!(all_in_hour(&store, hour - 1, 100).await.is_empty());
    // Only those due by a time: the first two.
    assert_eq!(
        sorted(
            store
                .streak_checks_due(hour, hour_start + Duration::minutes(30), 100)
                .await
                .unwrap()
        ),
        sorted(in_hour[..2].to_vec())
    );
    store.unschedule_streak_check(&in_hour[0]).await.unwrap();
    // Removing one that is not there changes nothing.
    store
        .unschedule_streak_check(&check(hour_start, &day))
        .await
        .unwrap();
    assert_eq!(
        sorted(all_in_hour(&store, hour, 100).await),
        sorted(in_hour[1..].to_vec())
    );
}

async fn streak_checks_of_an_hour_are_limited(store: Arc<dyn Store>) {
    let hour_start = DateTime::from_timestamp((due_hour(Utc::now()) + 30) * 3600, 0).unwrap();
    let day = hour_start.date_naive().to_string();
    let mut all = Vec::new();
    for minute in 0..40 {
        let c = check(hour_start + Duration::minutes(minute), &day);
        store.schedule_streak_check(&c).await.unwrap();
        all.push(c);
    }
    let hour = due_hour(hour_start);
    let some = all_in_hour(&store, hour, 25).await;
    assert_eq!(some.len(), 25);
    assert!(some.iter().all(|c| all.contains(c)));
    assert_eq!(sorted(all_in_hour(&store, hour, 1000).await), sorted(all));
}

/// `migrate` brings a keyspace of schema version 7 (before streaks) to the current
/// version: the new tables work, nothing needed filling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_upgrades_a_version_7_keyspace_with_the_streak_tables() {
    crate::common::with_cleanup(async {
        let (store, user) = Box::pin(crate::store::upgraded_from(
            7,
            &["streaks", "streak_checks"],
        ))
        .await;
        assert!(store.put_streak(user.id, &record(), None).await.unwrap());
        assert_eq!(store.streak(user.id).await.unwrap().unwrap().version, 1);
        let due = DateTime::from_timestamp((due_hour(Utc::now()) + 5) * 3600, 0).unwrap();
        let c = check(due, "2026-12-05");
        store.schedule_streak_check(&c).await.unwrap();
        assert_eq!(all_in_hour(&store, c.hour(), 10).await, vec![c]);
    })
    .await;
}
