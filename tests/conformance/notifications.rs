//! Notification store conformance: pages newest first with a cursor, the unread count
//! and filter, marking read, one notification per dedupe key (also when adds race),
//! bounded retention, and a learner's deletion.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use questpath::ports::Store;
use questpath::ports::store::{Notification, Retention};
use uuid::{NoContext, Timestamp, Uuid};

crate::conformance!(
    embedded => crate::common::embedded_store(),
    cql => crate::common::scylla_store();
    [
        notifications_are_paged_newest_first_with_a_cursor,
        a_dedupe_key_notifies_once_even_when_adds_race,
        marking_read_counts_and_filters_the_unread,
        only_the_newest_are_kept,
        notifications_past_their_age_are_dropped,
        deleting_a_learners_notifications_frees_their_keys_and_spares_others,
    ]
);

/// A point in time to the millisecond, `ms` after a fixed start near now.
fn at(start: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(start.timestamp_millis() + ms).unwrap()
}

/// A notification of `user_id` created at `created_at`, its v7 id from that time (so
/// ids order as the times do).
fn notification(user_id: Uuid, key: &str, created_at: DateTime<Utc>) -> Notification {
    let ms = created_at.timestamp_millis() as u64;
    let ts = Timestamp::from_unix(NoContext, ms / 1000, (ms % 1000) as u32 * 1_000_000);
    Notification {
        id: Uuid::new_v7(ts),
        user_id,
        kind: "level_up".into(),
        data: serde_json::json!({"level": 2, "key": key}),
        dedupe_key: key.into(),
        created_at,
        read: false,
    }
}

/// `count` notifications of a new learner, a millisecond apart, oldest first.
async fn notified(store: &Arc<dyn Store>, count: usize) -> (Uuid, Vec<Notification>) {
    let user = Uuid::new_v4();
    let start = Utc::now();
    let mut all = Vec::new();
    for i in 0..count {
        let n = notification(user, &format!("k{i}"), at(start, i as i64));
        assert!(
            store
                .add_notification(&n, Retention::default())
                .await
                .unwrap()
        );
        all.push(n);
    }
    (user, all)
}

fn ids(items: &[Notification]) -> Vec<Uuid> {
    items.iter().map(|n| n.id).collect()
}

async fn notifications_are_paged_newest_first_with_a_cursor(store: Arc<dyn Store>) {
    let (user, all) = notified(&store, 5).await;
    let newest_first: Vec<Uuid> = all.iter().rev().map(|n| n.id).collect();

    let first = store.notifications(user, None, 2, false).await.unwrap();
    assert_eq!(ids(&first.items), newest_first[..2]);
    assert_eq!(first.next, Some(newest_first[1]));
    assert_eq!(first.items[0], all[4], "read back exactly");
    let second = store
        .notifications(user, first.next, 2, false)
        .await
        .unwrap();
    assert_eq!(ids(&second.items), newest_first[2..4]);
    let last = store
        .notifications(user, second.next, 2, false)
        .await
        .unwrap();
    assert_eq!(ids(&last.items), newest_first[4..]);
    assert_eq!(last.next, None);
    let whole = store.notifications(user, None, 5, false).await.unwrap();
    assert_eq!(ids(&whole.items), newest_first);
    assert_eq!(whole.next, None, "an exact last page has no next");
    assert!(
        store
            .notifications(Uuid::new_v4(), None, 10, false)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn a_dedupe_key_notifies_once_even_when_adds_race(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    let start = Utc::now();
    let adds = (0..8).map(|i| {
        let store = store.clone();
        // Each attempt has its own id, as retried triggers do.
        let n = notification(user, "room_ended:r1", at(start, i));
        tokio::spawn(async move { store.add_notification(&n, Retention::default()).await })
    });
    let mut written = 0;
    for add in adds {
        if add.await.unwrap().unwrap() {
            written += 1;
        }
    }
    assert_eq!(written, 1, "one of the racing adds writes it");
    let page = store.notifications(user, None, 10, false).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(store.unread_notifications(user).await.unwrap(), 1);
    // Later repeats too.
    let again = notification(user, "room_ended:r1", at(start, 100));
    assert!(
        !store
            .add_notification(&again, Retention::default())
            .await
            .unwrap()
    );
    // The same key is another learner's own.
    let other = notification(Uuid::new_v4(), "room_ended:r1", at(start, 100));
    assert!(
        store
            .add_notification(&other, Retention::default())
            .await
            .unwrap()
    );
}

async fn marking_read_counts_and_filters_the_unread(store: Arc<dyn Store>) {
    let (user, all) = notified(&store, 4).await;
    assert_eq!(store.unread_notifications(user).await.unwrap(), 4);

    assert!(store.mark_notification_read(user, all[2].id).await.unwrap());
    assert!(
        store.mark_notification_read(user, all[2].id).await.unwrap(),
        "again: harmless"
    );
    assert_eq!(store.unread_notifications(user).await.unwrap(), 3);
    let page = store.notifications(user, None, 10, false).await.unwrap();
    let read: Vec<bool> = page.items.iter().map(|n| n.read).collect();
    assert_eq!(read, vec![false, true, false, false]);

    // The unread ones only, newest first, paged.
    let unread = store.notifications(user, None, 2, true).await.unwrap();
    assert_eq!(ids(&unread.items), vec![all[3].id, all[1].id]);
    assert!(unread.items.iter().all(|n| !n.read));
    let rest = store
        .notifications(user, unread.next, 2, true)
        .await
        .unwrap();
    assert_eq!(ids(&rest.items), vec![all[0].id]);
    assert_eq!(rest.next, None);

    // Nobody else's, and no unknown one.
    let stranger = Uuid::new_v4();
    assert!(
        !store
            .mark_notification_read(stranger, all[0].id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_notification_read(user, Uuid::now_v7())
            .await
            .unwrap()
    );
    assert_eq!(store.unread_notifications(user).await.unwrap(), 3);

    store.mark_all_notifications_read(user).await.unwrap();
    assert_eq!(store.unread_notifications(user).await.unwrap(), 0);
    assert!(
        store
            .notifications(user, None, 10, true)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let page = store.notifications(user, None, 10, false).await.unwrap();
    assert_eq!(page.items.len(), 4, "read, not gone");
    assert!(page.items.iter().all(|n| n.read));
}

async fn only_the_newest_are_kept(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    let keep = Retention {
        max_count: 3,
        max_age: Duration::days(90),
    };
    let start = Utc::now();
    let all: Vec<Notification> = (0..5)
        .map(|i| notification(user, &format!("k{i}"), at(start, i)))
        .collect();
    for n in &all {
        assert!(store.add_notification(n, keep).await.unwrap());
    }
    let page = store.notifications(user, None, 10, false).await.unwrap();
    assert_eq!(ids(&page.items), vec![all[4].id, all[3].id, all[2].id]);
    assert_eq!(store.unread_notifications(user).await.unwrap(), 3);
    assert_eq!(
        store
            .notifications(user, None, 10, true)
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    // A kept key is still taken.
    let again = notification(user, "k4", at(start, 10));
    assert!(!store.add_notification(&again, keep).await.unwrap());
}

async fn notifications_past_their_age_are_dropped(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    let retention = Retention {
        max_count: 200,
        max_age: Duration::hours(1),
    };
    let now = Utc::now();
    // Two seconds of its hour left.
    let old = notification(user, "old", at(now - Duration::hours(1), 2_000));
    assert!(store.add_notification(&old, retention).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(3_500)).await;
    let new = notification(user, "new", at(Utc::now(), 0));
    assert!(store.add_notification(&new, retention).await.unwrap());

    let page = store.notifications(user, None, 10, false).await.unwrap();
    assert_eq!(ids(&page.items), vec![new.id]);
    assert_eq!(store.unread_notifications(user).await.unwrap(), 1);
}

async fn deleting_a_learners_notifications_frees_their_keys_and_spares_others(
    store: Arc<dyn Store>,
) {
    let (user, all) = notified(&store, 3).await;
    let (other, theirs) = notified(&store, 2).await;

    store.delete_notifications(user).await.unwrap();
    assert!(
        store
            .notifications(user, None, 10, false)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(store.unread_notifications(user).await.unwrap(), 0);
    assert!(!store.mark_notification_read(user, all[0].id).await.unwrap());
    let again = notification(user, "k0", Utc::now());
    assert!(
        store
            .add_notification(&again, Retention::default())
            .await
            .unwrap(),
        "the keys are free again"
    );
    let page = store.notifications(other, None, 10, false).await.unwrap();
    assert_eq!(page.items.len(), theirs.len());
    assert_eq!(store.unread_notifications(other).await.unwrap(), 2);
}

/// CQL only: an add that died between claiming its key and writing the notification
/// (the key row alone) is completed by the next add of that key, under the claimed id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cql_completes_an_add_that_died_after_claiming_its_key() {
    crate::common::with_cleanup(async {
        let settings = crate::common::scylla_settings();
        let store = crate::common::scylla_store_with(&settings).await;
        let session = scylla::client::session_builder::SessionBuilder::new()
            .known_nodes(&settings.nodes)
            .build()
            .await
            .unwrap();
        let user = Uuid::new_v4();
        let start = Utc::now();
        let died = notification(user, "level_up:4", at(start, 0));
        session
            .query_unpaged(
                format!(
                    "INSERT INTO {}.notification_keys (user_id, dedupe_key, notification_id) VALUES (?, ?, ?)",
                    settings.keyspace
                ),
                (user, "level_up:4", died.id),
            )
            .await
            .unwrap();
        assert!(
            store
                .notifications(user, None, 10, false)
                .await
                .unwrap()
                .items
                .is_empty()
        );

        let retry = notification(user, "level_up:4", at(start, 50));
        assert!(
            store
                .add_notification(&retry, Retention::default())
                .await
                .unwrap(),
            "the retry completes it"
        );
        let page = store.notifications(user, None, 10, false).await.unwrap();
        assert_eq!(ids(&page.items), vec![died.id], "under the claimed id");
        assert_eq!(store.unread_notifications(user).await.unwrap(), 1);
        assert!(
            !store
                .add_notification(&retry, Retention::default())
                .await
                .unwrap(),
            "and only once"
        );
    })
    .await;
}
