//! Pending XP marks older than the bound (issue 16): recovery drops a mark whose grant
//! never reached the ledger once it has stayed so for the bound, and completes one whose
//! grant did. Only the CQL store can hold such a mark (it writes the mark before the
//! ledger's lightweight transaction; the embedded store writes both in one transaction),
//! so the orphan is written by hand into `xp_pending`, as a crash between the two leaves
//! it.
//!
//! And the audit's side of pending marks, on both stores: a grant whose mark is still
//! there is in flight, not a difference.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use questpath::adapters::embedded::{InProcessBus, InProcessLeaderboard};
use questpath::ports::store::NewUser;
use questpath::ports::{Store, XpEntry};
use questpath::xp::XpService;
use questpath_actors::audit::XpAudit;
use questpath_actors::clock::ManualClock;
use uuid::Uuid;

crate::conformance!(
    embedded => crate::common::embedded_store(),
    cql => crate::common::scylla_store();
    [a_pending_grant_is_in_flight_for_the_audit_and_a_difference_once_its_mark_is_gone]
);

async fn a_pending_grant_is_in_flight_for_the_audit_and_a_difference_once_its_mark_is_gone(
    store: Arc<dyn Store>,
) {
    let user = learner(&store).await;
    let entry = XpEntry {
        user_id: user,
        grant_id: "in-flight".into(),
        amount: 25,
        source: "level_first_pass".into(),
        created_at: Utc::now(),
    };
    assert!(store.record_xp(&entry).await.unwrap());
    let boards: Arc<dyn questpath::ports::Leaderboard> = Arc::new(InProcessLeaderboard::new());
    let audit = XpAudit::new(store.clone(), Some(boards), Utc::now());

    let pending = audit.run().await.unwrap();
    assert_eq!((pending.in_flight, pending.learners), (1, 0), "{pending:?}");
    assert!(pending.is_clean(), "{pending:?}");

    // The mark gone without the profile or boards written: every derived value differs.
    store
        .clear_xp_pending(user, &["in-flight".to_string()])
        .await
        .unwrap();
    let found = audit.run().await.unwrap();
    assert_eq!((found.in_flight, found.learners), (0, 1), "{found:?}");
    let whats: Vec<&str> = found.differences.iter().map(|d| d.what.as_str()).collect();
    assert!(
        whats.contains(&"total_xp") && whats.contains(&"alltime") && whats.contains(&"league"),
        "{whats:?}"
    );
    let total = &found.differences[whats.iter().position(|w| *w == "total_xp").unwrap()];
    assert_eq!(
        (total.user_id, total.expected.as_str(), total.found.as_str()),
        (user, "25 XP (level 1)", "0 XP (level 1)")
    );
}

const BOUND: Duration = Duration::from_secs(3600);

async fn learner(store: &Arc<dyn Store>) -> Uuid {
    let new = NewUser::new(format!("{}@example.com", Uuid::new_v4().simple()));
    store.create_user(new).await.unwrap().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_marks_are_dropped_or_completed_on_the_cql_store() {
    crate::common::with_cleanup(async {
        let settings = crate::common::scylla_settings();
        let store = crate::common::scylla_store_with(&settings).await;
        let (orphaned, granted) = (learner(&store).await, learner(&store).await);
        // A mark whose ledger write never happened.
        let session = scylla::client::session_builder::SessionBuilder::new()
            .known_nodes(&settings.nodes)
            .build()
            .await
            .unwrap();
        session
            .query_unpaged(
                format!(
                    "INSERT INTO {}.xp_pending (bucket, user_id, grant_id) VALUES (0, ?, 'lost')",
                    settings.keyspace
                ),
                (orphaned,),
            )
            .await
            .unwrap();
        // A grant in the ledger whose apply never ran (a crash after the ledger).
        let entry = XpEntry {
            user_id: granted,
            grant_id: "kept".into(),
            amount: 40,
            source: "level_first_pass".into(),
            created_at: Utc::now(),
        };
        assert!(store.record_xp(&entry).await.unwrap());

        let clock = ManualClock::new(Utc::now());
        let xp = XpService::new(
            store.clone(),
            Arc::new(InProcessLeaderboard::new()),
            Arc::new(InProcessBus::new()),
        )
        .with_clock(Arc::new(clock.clone()))
        .with_stale_pending_after(BOUND);

        xp.recover().await.unwrap();
        assert!(store.xp_pending(granted).await.unwrap().is_empty());
        assert_eq!(
            store.user_by_id(granted).await.unwrap().unwrap().total_xp,
            40
        );
        assert_eq!(
            store.xp_pending(orphaned).await.unwrap(),
            vec!["lost".to_string()],
            "a mark younger than the bound may be a grant in flight: kept"
        );

        clock.advance(chrono::Duration::minutes(59));
        xp.recover().await.unwrap();
        assert_eq!(store.xp_pending(orphaned).await.unwrap().len(), 1);

        clock.advance(chrono::Duration::minutes(2));
        xp.recover().await.unwrap();
        assert!(
            store.xp_pending(orphaned).await.unwrap().is_empty(),
            "a mark without its ledger entry for longer than the bound is dropped"
        );
        assert!(store.xp_pending_users(10).await.unwrap().is_empty());
        assert!(store.xp_entries(orphaned).await.unwrap().is_empty());
        let kept = store.xp_entries(granted).await.unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (kept[0].grant_id.as_str(), kept[0].amount),
            ("kept", entry.amount)
        );
    })
    .await;
}
