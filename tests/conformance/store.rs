//! Store conformance: users.

use std::sync::Arc;

use questpath::ports::{NewUser, Store, StoreError};

crate::conformance!(
    embedded => crate::common::embedded_store(),
    cql => crate::common::scylla_store();
    [
        ping_answers,
        created_user_reads_back_by_id_and_email,
        email_lookup_ignores_case_and_spaces,
        duplicate_email_is_a_conflict_whatever_its_case,
        concurrent_creates_of_one_email_let_exactly_one_win,
        unknown_user_is_none,
    ]
);

fn unique_email() -> String {
    format!("learner-{}@Example.org", uuid::Uuid::new_v4().simple())
}

async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
}

async fn created_user_reads_back_by_id_and_email(store: Arc<dyn Store>) {
    let email = unique_email();
    let mut new = NewUser::new(&email);
    new.display_name = Some("Ada".into());
    new.picture = Some("https://example.org/a.png".into());
    let created_at = new.created_at;

    let user = store.create_user(new.clone()).await.expect("create");

    assert_eq!(user.id, new.id);
    assert_eq!(user.email, email.to_lowercase());
    assert_eq!(user.total_xp, 0);
    let by_id = store.user_by_id(user.id).await.unwrap().expect("found by id");
    assert_eq!(by_id.email, user.email);
    assert_eq!(by_id.display_name.as_deref(), Some("Ada"));
    assert_eq!(by_id.picture.as_deref(), Some("https://example.org/a.png"));
    // CQL timestamps keep milliseconds.
    assert_eq!(by_id.created_at.timestamp_millis(), created_at.timestamp_millis());
    let by_email = store.user_by_email(&email).await.unwrap().expect("found by email");
    assert_eq!(by_email.id, user.id);
}

async fn email_lookup_ignores_case_and_spaces(store: Arc<dyn Store>) {
    let email = unique_email();
    let user = store.create_user(NewUser::new(&email)).await.unwrap();

    let shouted = format!("  {}  ", email.to_uppercase());
    let found = store.user_by_email(&shouted).await.unwrap().expect("found");

    assert_eq!(found.id, user.id);
}

async fn duplicate_email_is_a_conflict_whatever_its_case(store: Arc<dyn Store>) {
    let email = unique_email();
    let first = store.create_user(NewUser::new(&email)).await.unwrap();

    let again = store.create_user(NewUser::new(email.to_uppercase())).await;

    assert!(
        matches!(again, Err(StoreError::Conflict { what: "email" })),
        "{again:?}"
    );
    // The first account is untouched.
    let found = store.user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(found.id, first.id);
}

async fn concurrent_creates_of_one_email_let_exactly_one_win(store: Arc<dyn Store>) {
    let email = unique_email();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let new = NewUser::new(&email);
            tokio::spawn(async move { store.create_user(new).await })
        })
        .collect();

    let mut winners = Vec::new();
    let mut conflicts = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(user) => winners.push(user.id),
            Err(StoreError::Conflict { .. }) => conflicts += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    assert_eq!(winners.len(), 1, "exactly one create wins");
    assert_eq!(conflicts, 7);
    let found = store.user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(found.id, winners[0]);
}

async fn unknown_user_is_none(store: Arc<dyn Store>) {
    assert!(store.user_by_id(uuid::Uuid::new_v4()).await.unwrap().is_none());
    assert!(store.user_by_email(&unique_email()).await.unwrap().is_none());
}
