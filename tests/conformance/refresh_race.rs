//! Refresh-token rotation under concurrency, on every store: two tabs of one learner
//! refresh with the same cookie at the same moment. The compare-and-set in the store
//! (an LWT on CQL, a write transaction in redb) lets exactly one rotate; the other
//! falls in the grace window and gets an access token of the same family. Reuse after
//! the window is theft and revokes the family.

use std::sync::Arc;

use chrono::Duration;
use questpath::adapters::embedded::InProcessCache;
use questpath::auth::service::{AuthError, AuthService};
use questpath::auth::tokens::TokenKeys;
use questpath::config::Secret;
use questpath::ports::Store;

crate::conformance!(
    embedded => crate::common::embedded_store(),
    cql => crate::common::scylla_store();
    [
        parallel_refreshes_with_one_cookie_all_succeed_and_one_rotates,
        reuse_after_the_grace_window_revokes_the_family,
    ]
);

fn service(store: Arc<dyn Store>, grace: Duration) -> AuthService {
    AuthService::new(
        store,
        Arc::new(InProcessCache::new()),
        TokenKeys::new(&Secret::new("k".repeat(40))),
        None,
    )
    .with_refresh_grace(grace)
}

/// A signed-in learner's refresh token.
async fn signed_in(auth: &AuthService) -> String {
    let email = format!("{}@example.org", uuid::Uuid::new_v4().simple());
    let password = "correct horse battery staple";
    auth.register(&email, password, None)
        .await
        .expect("register");
    let session = auth
        .login(&email, password, "127.0.0.1")
        .await
        .expect("login");
    session.refresh.expect("a sign-in sets the cookie").0
}

async fn parallel_refreshes_with_one_cookie_all_succeed_and_one_rotates(store: Arc<dyn Store>) {
    let auth = Arc::new(service(store, Duration::seconds(30)));
    let cookie = signed_in(&auth).await;

    let tabs: Vec<_> = (0..4)
        .map(|_| {
            let auth = auth.clone();
            let cookie = cookie.clone();
            tokio::spawn(async move { auth.refresh(Some(&cookie)).await })
        })
        .collect();
    let mut rotated = Vec::new();
    for tab in tabs {
        let session = tab.await.unwrap().expect("every tab stays signed in");
        assert!(auth.keys().verify_access(&session.access.token).is_ok());
        rotated.extend(session.refresh.map(|(token, _)| token));
    }

    assert_eq!(rotated.len(), 1, "exactly one tab rotates the cookie");
    let next = auth
        .refresh(Some(&rotated[0]))
        .await
        .expect("the family is alive: the rotated token refreshes");
    assert!(next.refresh.is_some());
}

async fn reuse_after_the_grace_window_revokes_the_family(store: Arc<dyn Store>) {
    let auth = service(store, Duration::milliseconds(300));
    let cookie = signed_in(&auth).await;
    let rotated = auth
        .refresh(Some(&cookie))
        .await
        .expect("rotate")
        .refresh
        .unwrap()
        .0;

    // Inside the window: an access token, no new cookie.
    let again = auth
        .refresh(Some(&cookie))
        .await
        .expect("within the window");
    assert!(again.refresh.is_none());

    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert!(matches!(
        auth.refresh(Some(&cookie)).await,
        Err(AuthError::RefreshReused)
    ));
    assert!(
        matches!(
            auth.refresh(Some(&rotated)).await,
            Err(AuthError::RefreshInvalid)
        ),
        "the whole family is revoked, the rotated token with it"
    );
}
