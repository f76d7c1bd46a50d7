//! Websocket tickets across instances: issued on one, redeemed once on another.

use std::sync::Arc;

use questpath::adapters::embedded::EmbeddedStore;
use questpath::adapters::redis::Redis;
use questpath::auth::service::AuthService;
use questpath::auth::tokens::TokenKeys;
use questpath::config::Secret;
use questpath_test_support::redis_settings;

#[actix_web::test]
async fn a_ticket_from_one_instance_is_redeemed_once_on_another() {
    // Two instances: separate Redis connections sharing one deployment prefix.
    let prefix = format!("tickets_{}:", uuid::Uuid::new_v4().simple());
    let first = Redis::connect(&redis_settings(&prefix)).await.unwrap();
    let second = Redis::connect(&redis_settings(&prefix)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path()).await.unwrap());
    let keys = TokenKeys::new(&Secret::new("k".repeat(40)));
    let instance_a = AuthService::new(store.clone(), Arc::new(first.cache()), keys.clone(), None);
    let instance_b = AuthService::new(store, Arc::new(second.cache()), keys, None);
    let user = uuid::Uuid::now_v7();

    let ticket = instance_a.issue_ticket(user).await.unwrap();
    let redeemed = instance_b.redeem_ticket(&ticket).await.unwrap();
    let again_b = instance_b.redeem_ticket(&ticket).await.unwrap();
    let again_a = instance_a.redeem_ticket(&ticket).await.unwrap();
    let garbage = instance_b.redeem_ticket("not a ticket").await.unwrap();

    assert_eq!(redeemed, Some(user));
    assert_eq!(again_b, None, "one use only");
    assert_eq!(again_a, None, "one use only, on any instance");
    assert_eq!(garbage, None);
    first.shutdown().await;
    second.shutdown().await;
}

#[actix_web::test]
async fn concurrent_redemptions_of_one_ticket_let_exactly_one_through() {
    let prefix = format!("tickets_{}:", uuid::Uuid::new_v4().simple());
    let redis = Redis::connect(&redis_settings(&prefix)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path()).await.unwrap());
    let service = AuthService::new(
        store,
        Arc::new(redis.cache()),
        TokenKeys::new(&Secret::new("k".repeat(40))),
        None,
    );
    let ticket = service.issue_ticket(uuid::Uuid::now_v7()).await.unwrap();

    let attempts = (0..10).map(|_| {
        let service = service.clone();
        let ticket = ticket.clone();
        actix_web::rt::spawn(async move { service.redeem_ticket(&ticket).await.unwrap() })
    });
    let mut winners = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        if attempt.await.unwrap().is_some() {
            winners += 1;
        }
    }

    assert_eq!(winners, 1);
    redis.shutdown().await;
}

#[actix_web::test]
async fn a_ticket_issued_by_an_earlier_version_is_still_redeemed_once() {
    use questpath::ports::Cache;
    // Earlier versions kept a random ticket in the cache, under its hash, for a user id:
    // during a rolling upgrade a socket opened with one must still open, once.
    let prefix = format!("tickets_{}:", uuid::Uuid::new_v4().simple());
    let redis = Redis::connect(&redis_settings(&prefix)).await.unwrap();
    let cache = Arc::new(redis.cache());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path()).await.unwrap());
    let keys = TokenKeys::new(&Secret::new("k".repeat(40)));
    let service = AuthService::new(store, cache.clone(), keys, None);
    let user = uuid::Uuid::now_v7();
    let ticket = questpath::auth::secret_token::generate();
    let key = format!("ws-ticket:{}", questpath::auth::secret_token::hash(&ticket));
    cache
        .set(&key, user.as_bytes(), std::time::Duration::from_secs(30))
        .await
        .unwrap();

    assert_eq!(service.redeem_ticket(&ticket).await.unwrap(), Some(user));
    assert_eq!(service.redeem_ticket(&ticket).await.unwrap(), None);
    redis.shutdown().await;
}
