//! Quiz-owner conformance: a lease held by one owner at a time, renewed by its holder,
//! given back only by it, taken once it ran out; a saved copy written or deleted only
//! by the lease's holder.

use std::sync::Arc;
use std::time::Duration;

use questpath::ports::QuizOwners;
use uuid::Uuid;

crate::conformance!(
    in_process => crate::common::in_process_quiz_owners(),
    redis => crate::common::redis_quiz_owners(),
    redis_cluster => crate::common::redis_cluster_quiz_owners();
    [
        one_owner_at_a_time_until_released,
        the_holder_renews_and_an_expired_lease_is_taken,
        only_the_holder_saves_or_deletes_the_copy,
        saved_copies_expire,
        learners_are_independent,
    ]
);

const LONG: Duration = Duration::from_secs(30);

async fn one_owner_at_a_time_until_released(owners: Arc<dyn QuizOwners>) {
    let (user, first, second) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(owners.owner(user).await.unwrap(), None);
    assert!(owners.hold(user, first, LONG).await.unwrap());
    assert!(!owners.hold(user, second, LONG).await.unwrap(), "held");
    assert_eq!(owners.owner(user).await.unwrap(), Some(first));
    owners.release(user, second).await.unwrap();
    assert_eq!(
        owners.owner(user).await.unwrap(),
        Some(first),
        "only the holder gives it back"
    );
    owners.release(user, first).await.unwrap();
    assert_eq!(owners.owner(user).await.unwrap(), None);
    assert!(owners.hold(user, second, LONG).await.unwrap(), "released");
    assert_eq!(owners.owner(user).await.unwrap(), Some(second));
}

async fn the_holder_renews_and_an_expired_lease_is_taken(owners: Arc<dyn QuizOwners>) {
    let (user, first, second) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let short = Duration::from_millis(400);
    assert!(owners.hold(user, first, short).await.unwrap());
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(owners.hold(user, first, short).await.unwrap(), "renewed");
        assert!(!owners.hold(user, second, short).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(owners.owner(user).await.unwrap(), None, "ran out");
    assert!(owners.hold(user, second, LONG).await.unwrap(), "taken over");
    assert!(
        !owners.hold(user, first, LONG).await.unwrap(),
        "the old owner is out"
    );
}

async fn only_the_holder_saves_or_deletes_the_copy(owners: Arc<dyn QuizOwners>) {
    let (user, first, second) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    assert!(
        !owners.save(user, first, Some(b"q0"), LONG).await.unwrap(),
        "no lease, no save"
    );
    assert_eq!(owners.load(user).await.unwrap(), None);
    owners.hold(user, first, LONG).await.unwrap();
    assert!(owners.save(user, first, Some(b"q1"), LONG).await.unwrap());
    assert!(
        !owners
            .save(user, second, Some(b"stale"), LONG)
            .await
            .unwrap()
    );
    assert!(!owners.save(user, second, None, LONG).await.unwrap());
    assert_eq!(
        owners.load(user).await.unwrap().as_deref(),
        Some(&b"q1"[..])
    );
    // Released, the copy stays for whoever takes the quiz over.
    owners.release(user, first).await.unwrap();
    assert!(!owners.save(user, first, Some(b"late"), LONG).await.unwrap());
    assert_eq!(
        owners.load(user).await.unwrap().as_deref(),
        Some(&b"q1"[..])
    );
    owners.hold(user, second, LONG).await.unwrap();
    assert!(owners.save(user, second, Some(b"q2"), LONG).await.unwrap());
    assert_eq!(
        owners.load(user).await.unwrap().as_deref(),
        Some(&b"q2"[..])
    );
    assert!(owners.save(user, second, None, LONG).await.unwrap());
    assert_eq!(owners.load(user).await.unwrap(), None, "deleted");
    assert_eq!(
        owners.owner(user).await.unwrap(),
        Some(second),
        "lease kept"
    );
}

async fn saved_copies_expire(owners: Arc<dyn QuizOwners>) {
    let (user, owner) = (Uuid::new_v4(), Uuid::new_v4());
    owners.hold(user, owner, LONG).await.unwrap();
    let state = vec![7u8; 2048];
    owners
        .save(user, owner, Some(&state), Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(owners.load(user).await.unwrap(), Some(state));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(owners.load(user).await.unwrap(), None);
}

async fn learners_are_independent(owners: Arc<dyn QuizOwners>) {
    let (one, two, owner, other) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    assert!(owners.hold(one, owner, LONG).await.unwrap());
    assert!(owners.hold(two, other, LONG).await.unwrap());
    assert!(owners.save(one, owner, Some(b"one"), LONG).await.unwrap());
    assert!(!owners.save(two, owner, Some(b"two"), LONG).await.unwrap());
    assert_eq!(owners.load(two).await.unwrap(), None);
    owners.release(one, owner).await.unwrap();
    assert_eq!(owners.owner(two).await.unwrap(), Some(other));
}
