//! Rate-limiter conformance: GCRA with a burst of `limit` per `window`.
//!
//! Decided behaviour: each (limit, key) pair is its own bucket, so two different
//! limits applied to the same key name never consume each other's quota.

use std::sync::Arc;
use std::time::Duration;

use questpath::ports::{RateLimit, RateLimiter};

crate::conformance!(
    in_process => crate::common::in_process_rate_limiter(),
    redis => crate::common::redis_rate_limiter(),
    redis_cluster => crate::common::redis_cluster_rate_limiter();
    [
        ping_answers,
        burst_of_limit_passes_then_the_next_is_refused,
        remaining_counts_down_and_reset_grows,
        refused_checks_consume_nothing,
        allowed_again_after_retry_after,
        quota_refills_gradually,
        keys_are_independent,
        different_limits_on_one_key_do_not_mix,
        zero_limit_refuses_everything,
    ]
);

fn limit(limit: u32, window_ms: u64) -> RateLimit {
    RateLimit {
        limit,
        window: Duration::from_millis(window_ms),
    }
}

/// Asserts `actual` is within `slack` below `expected` (time passes between checks).
fn assert_near(actual: Duration, expected: Duration, slack: Duration) {
    assert!(
        actual <= expected && actual + slack >= expected,
        "{actual:?} is not within {slack:?} below {expected:?}"
    );
}

async fn ping_answers(limiter: Arc<dyn RateLimiter>) {
    limiter.ping().await.expect("ping");
}

async fn burst_of_limit_passes_then_the_next_is_refused(limiter: Arc<dyn RateLimiter>) {
    let rule = limit(5, 10_000);
    for i in 0..5 {
        let d = limiter.check("login:ann", rule).await.unwrap();
        assert!(d.allowed, "check {i} is within the burst");
        assert_eq!(d.limit, 5);
        assert_eq!(d.retry_after, None);
    }
    let refused = limiter.check("login:ann", rule).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.limit, 5);
    assert_eq!(refused.remaining, 0);
    // One action "costs" window / limit = 2 s.
    let retry = refused.retry_after.expect("a refusal says when to retry");
    assert_near(retry, Duration::from_secs(2), Duration::from_millis(500));
    assert_near(
        refused.reset_after,
        Duration::from_secs(10),
        Duration::from_millis(500),
    );
}

async fn remaining_counts_down_and_reset_grows(limiter: Arc<dyn RateLimiter>) {
    let rule = limit(4, 60_000);
    let mut last_reset = Duration::ZERO;
    for expected in [3, 2, 1, 0] {
        let d = limiter.check("k", rule).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, expected);
        assert!(
            d.reset_after > last_reset,
            "reset_after grows with each action"
        );
        last_reset = d.reset_after;
    }
    // After the whole burst the full quota is a whole window away.
    assert_near(
        last_reset,
        Duration::from_secs(60),
        Duration::from_millis(500),
    );
}

async fn refused_checks_consume_nothing(limiter: Arc<dyn RateLimiter>) {
    let rule = limit(2, 1_000); // one action per 500 ms
    assert!(limiter.check("k", rule).await.unwrap().allowed);
    assert!(limiter.check("k", rule).await.unwrap().allowed);
    for _ in 0..20 {
        assert!(!limiter.check("k", rule).await.unwrap().allowed);
    }
    // Had the refusals counted, the bucket would be ten seconds in debt.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let d = limiter.check("k", rule).await.unwrap();
    assert!(d.allowed, "one interval later one action is allowed again");
    assert_eq!(d.remaining, 0);
    assert!(!limiter.check("k", rule).await.unwrap().allowed);
}

async fn allowed_again_after_retry_after(limiter: Arc<dyn RateLimiter>) {
    let rule = limit(3, 900); // one action per 300 ms
    for _ in 0..3 {
        assert!(limiter.check("k", rule).await.unwrap().allowed);
    }
    let refused = limiter.check("k", rule).await.unwrap();
    assert!(!refused.allowed);
    let retry = refused.retry_after.unwrap();
    assert_near(
        retry,
        Duration::from_millis(300),
        Duration::from_millis(150),
    );
    tokio::time::sleep(retry + Duration::from_millis(30)).await;
    let d = limiter.check("k", rule).await.unwrap();
    assert!(d.allowed, "allowed once retry_after has passed");
    assert_eq!(d.remaining, 0);
}

async fn quota_refills_gradually(limiter: Arc<dyn RateLimiter>) {
    let rule = limit(4, 800); // one action per 200 ms
    for _ in 0..4 {
        assert!(limiter.check("k", rule).await.unwrap().allowed);
    }
    assert!(!limiter.check("k", rule).await.unwrap().allowed);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    // A whole window later the full burst is back.
    let d = limiter.check("k", rule).await.unwrap();
    assert!(d.allowed);
    assert_eq!(d.remaining, 3);
}

async fn keys_are_independent(limiter: Arc<dyn RateLimiter>) {
    let rule = limit(2, 60_000);
    assert!(limiter.check("ip:1", rule).await.unwrap().allowed);
    assert!(limiter.check("ip:1", rule).await.unwrap().allowed);
    assert!(!limiter.check("ip:1", rule).await.unwrap().allowed);
    let other = limiter.check("ip:2", rule).await.unwrap();
    assert!(other.allowed);
    assert_eq!(other.remaining, 1);
}

async fn different_limits_on_one_key_do_not_mix(limiter: Arc<dyn RateLimiter>) {
    let strict = limit(2, 60_000);
    let loose = limit(3, 60_000);
    let slow = limit(2, 120_000);
    assert!(limiter.check("user:1", strict).await.unwrap().allowed);
    assert!(limiter.check("user:1", strict).await.unwrap().allowed);
    assert!(!limiter.check("user:1", strict).await.unwrap().allowed);
    for expected in [2, 1, 0] {
        let d = limiter.check("user:1", loose).await.unwrap();
        assert!(d.allowed, "another limit on the same key has its own quota");
        assert_eq!(d.remaining, expected);
    }
    // Same count, different window: also its own bucket.
    assert!(limiter.check("user:1", slow).await.unwrap().allowed);
    assert!(!limiter.check("user:1", strict).await.unwrap().allowed);
}

async fn zero_limit_refuses_everything(limiter: Arc<dyn RateLimiter>) {
    let d = limiter.check("k", limit(0, 1_000)).await.unwrap();
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    assert!(d.retry_after.is_some());
}
