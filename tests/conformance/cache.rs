//! Cache conformance: values, expiry, set-if-absent, one-time take.

use std::sync::Arc;
use std::time::Duration;

use questpath::ports::Cache;

crate::conformance!(
    in_process => crate::common::in_process_cache(),
    redis => crate::common::redis_cache(),
    redis_cluster => crate::common::redis_cluster_cache();
    [
        ping_answers,
        set_then_get_returns_the_value,
        absent_key_is_none,
        set_overwrites_the_value_and_its_ttl,
        values_are_binary_safe,
        entries_expire_after_their_ttl,
        set_if_absent_stores_only_the_first,
        set_if_absent_succeeds_again_after_expiry,
        take_returns_the_value_once,
        take_is_one_time_under_twenty_concurrent_takers,
        take_of_expired_value_is_none,
        delete_removes_and_tolerates_absent_keys,
    ]
);

const LONG: Duration = Duration::from_secs(60);

async fn ping_answers(cache: Arc<dyn Cache>) {
    cache.ping().await.expect("ping");
}

async fn set_then_get_returns_the_value(cache: Arc<dyn Cache>) {
    cache.set("roadmap:1", b"hello", LONG).await.unwrap();
    assert_eq!(
        cache.get("roadmap:1").await.unwrap(),
        Some(b"hello".to_vec())
    );
    // Other keys are unaffected.
    assert_eq!(cache.get("roadmap:2").await.unwrap(), None);
}

async fn absent_key_is_none(cache: Arc<dyn Cache>) {
    assert_eq!(cache.get("never-set").await.unwrap(), None);
}

async fn set_overwrites_the_value_and_its_ttl(cache: Arc<dyn Cache>) {
    cache
        .set("k", b"first", Duration::from_millis(300))
        .await
        .unwrap();
    cache.set("k", b"second", LONG).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b"second".to_vec()));
    // The second set's longer TTL replaced the first one's.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cache.get("k").await.unwrap(), Some(b"second".to_vec()));
}

async fn values_are_binary_safe(cache: Arc<dyn Cache>) {
    let binary: Vec<u8> = (0..=255u8).chain([0, 0xff, 0xfe]).collect();
    cache.set("bin", &binary, LONG).await.unwrap();
    assert_eq!(cache.get("bin").await.unwrap(), Some(binary));
    cache.set("empty", b"", LONG).await.unwrap();
    assert_eq!(cache.get("empty").await.unwrap(), Some(Vec::new()));
    cache.set("digits", b"12345", LONG).await.unwrap();
    assert_eq!(cache.get("digits").await.unwrap(), Some(b"12345".to_vec()));
}

async fn entries_expire_after_their_ttl(cache: Arc<dyn Cache>) {
    cache
        .set("short", b"v", Duration::from_millis(300))
        .await
        .unwrap();
    cache.set("long", b"v", LONG).await.unwrap();
    assert_eq!(cache.get("short").await.unwrap(), Some(b"v".to_vec()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cache.get("short").await.unwrap(), None);
    assert_eq!(cache.get("long").await.unwrap(), Some(b"v".to_vec()));
}

async fn set_if_absent_stores_only_the_first(cache: Arc<dyn Cache>) {
    assert!(cache.set_if_absent("once", b"first", LONG).await.unwrap());
    assert!(!cache.set_if_absent("once", b"second", LONG).await.unwrap());
    assert_eq!(cache.get("once").await.unwrap(), Some(b"first".to_vec()));
    // A plain set still overwrites.
    cache.set("once", b"third", LONG).await.unwrap();
    assert!(!cache.set_if_absent("once", b"fourth", LONG).await.unwrap());
    assert_eq!(cache.get("once").await.unwrap(), Some(b"third".to_vec()));
}

async fn set_if_absent_succeeds_again_after_expiry(cache: Arc<dyn Cache>) {
    assert!(
        cache
            .set_if_absent("lease", b"a", Duration::from_millis(300))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(cache.set_if_absent("lease", b"b", LONG).await.unwrap());
    assert_eq!(cache.get("lease").await.unwrap(), Some(b"b".to_vec()));
}

async fn take_returns_the_value_once(cache: Arc<dyn Cache>) {
    cache.set("ticket", b"t-1", LONG).await.unwrap();
    assert_eq!(cache.take("ticket").await.unwrap(), Some(b"t-1".to_vec()));
    assert_eq!(cache.take("ticket").await.unwrap(), None);
    assert_eq!(cache.get("ticket").await.unwrap(), None);
    assert_eq!(cache.take("no-such-ticket").await.unwrap(), None);
}

async fn take_is_one_time_under_twenty_concurrent_takers(cache: Arc<dyn Cache>) {
    for round in 0..5 {
        let key = format!("ticket:{round}");
        cache.set(&key, b"secret", LONG).await.unwrap();
        let start = Arc::new(tokio::sync::Barrier::new(20));
        let takers: Vec<_> = (0..20)
            .map(|_| {
                let cache = Arc::clone(&cache);
                let key = key.clone();
                let start = Arc::clone(&start);
                tokio::spawn(async move {
                    start.wait().await;
                    cache.take(&key).await.unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for taker in takers {
            if let Some(value) = taker.await.unwrap() {
                assert_eq!(value, b"secret");
                winners += 1;
            }
        }
        assert_eq!(
            winners, 1,
            "round {round}: exactly one taker gets the value"
        );
    }
}

async fn take_of_expired_value_is_none(cache: Arc<dyn Cache>) {
    cache
        .set("stale", b"v", Duration::from_millis(200))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.take("stale").await.unwrap(), None);
}

async fn delete_removes_and_tolerates_absent_keys(cache: Arc<dyn Cache>) {
    cache.set("gone", b"v", LONG).await.unwrap();
    cache.set("kept", b"v", LONG).await.unwrap();
    cache.delete("gone").await.unwrap();
    assert_eq!(cache.get("gone").await.unwrap(), None);
    assert_eq!(cache.get("kept").await.unwrap(), Some(b"v".to_vec()));
    cache.delete("gone").await.unwrap();
    cache.delete("never-existed").await.unwrap();
}

/// Start-up against a Redis that is not there fails fast with a clear error.
#[tokio::test]
async fn redis_connect_to_a_dead_address_fails_fast() {
    let settings = questpath::config::RedisSettings {
        url: questpath::config::Secret::new("redis://127.0.0.1:1"),
        prefix: "dead:".to_string(),
    };
    let started = std::time::Instant::now();
    let error = questpath::adapters::redis::Redis::connect(&settings)
        .await
        .expect_err("nothing listens on port 1");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(error.backend, "redis");
    assert_eq!(error.operation, "connect");
    assert!(error.to_string().contains("cannot connect"), "{error}");
}

/// A malformed URL is a configuration error, reported without the URL itself.
#[tokio::test]
async fn redis_connect_with_a_bad_url_fails() {
    let settings = questpath::config::RedisSettings {
        url: questpath::config::Secret::new("not a url with secret-password"),
        prefix: "bad:".to_string(),
    };
    let error = questpath::adapters::redis::Redis::connect(&settings)
        .await
        .expect_err("not a URL");
    assert!(!error.to_string().contains("secret-password"), "{error}");
}
