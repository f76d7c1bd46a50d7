//! Job-queue conformance: claiming, acknowledging, retries, dead letters, reclaiming.
//!
//! The queues under test have a 500 ms visibility timeout and 3 attempts
//! (`crate::common::TEST_VISIBILITY_TIMEOUT`, `TEST_MAX_ATTEMPTS`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use questpath::ports::JobQueue;

use crate::common::{TEST_MAX_ATTEMPTS, TEST_VISIBILITY_TIMEOUT};

crate::conformance!(
    in_process => crate::common::in_process_job_queue(),
    redis => crate::common::redis_job_queue(),
    redis_cluster => crate::common::redis_cluster_job_queue();
    [
        ping_answers,
        enqueued_job_is_claimed_once_and_acked,
        claim_waits_and_returns_none_on_timeout,
        waiting_claim_wakes_up_on_enqueue,
        jobs_are_claimed_in_fifo_order,
        payloads_are_binary_safe,
        retry_with_delay_is_claimed_again_with_attempt_two,
        retry_without_delay_is_claimable_at_once,
        dead_letter_after_max_attempts_with_reason,
        unacked_job_is_reclaimed_by_another_consumer_after_the_visibility_timeout,
        job_abandoned_on_every_attempt_ends_in_dead_letters,
        depth_counts_waiting_jobs_not_claimed_ones,
        queues_are_independent,
    ]
);

const Q: &str = "roadmaps";
const NO_WAIT: Duration = Duration::ZERO;
const WAIT: Duration = Duration::from_secs(2);

async fn ping_answers(queue: Arc<dyn JobQueue>) {
    queue.ping().await.expect("ping");
}

async fn enqueued_job_is_claimed_once_and_acked(queue: Arc<dyn JobQueue>) {
    let id = queue.enqueue(Q, b"goal-1").await.unwrap();
    let job = queue
        .claim(Q, "worker-a", WAIT)
        .await
        .unwrap()
        .expect("a job");
    assert_eq!(job.id, id);
    assert_eq!(job.queue, Q);
    assert_eq!(job.payload, b"goal-1");
    assert_eq!(job.attempt, 1);
    // Claimed: nobody else gets it.
    assert_eq!(queue.claim(Q, "worker-b", NO_WAIT).await.unwrap(), None);
    queue.ack(&job).await.unwrap();
    // Acknowledged: not handed out again, even after the visibility timeout.
    tokio::time::sleep(TEST_VISIBILITY_TIMEOUT + Duration::from_millis(100)).await;
    assert_eq!(queue.claim(Q, "worker-b", NO_WAIT).await.unwrap(), None);
    assert_eq!(queue.depth(Q).await.unwrap(), 0);
    assert!(queue.dead_letters(Q, 10).await.unwrap().is_empty());
    // Acknowledging twice is harmless.
    queue.ack(&job).await.unwrap();
}

async fn claim_waits_and_returns_none_on_timeout(queue: Arc<dyn JobQueue>) {
    let started = Instant::now();
    assert_eq!(
        queue
            .claim(Q, "w", Duration::from_millis(400))
            .await
            .unwrap(),
        None
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(380),
        "returned after {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(1_500),
        "returned after {waited:?}"
    );
    assert_eq!(queue.claim(Q, "w", NO_WAIT).await.unwrap(), None);
}

async fn waiting_claim_wakes_up_on_enqueue(queue: Arc<dyn JobQueue>) {
    let waiter = {
        let queue = Arc::clone(&queue);
        tokio::spawn(async move {
            let started = Instant::now();
            let job = queue.claim(Q, "w", Duration::from_secs(4)).await.unwrap();
            (job, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = queue.enqueue(Q, b"late").await.unwrap();
    let (job, waited) = waiter.await.unwrap();
    assert_eq!(job.expect("woken with the job").id, id);
    assert!(waited < Duration::from_millis(1_500), "took {waited:?}");
}

async fn jobs_are_claimed_in_fifo_order(queue: Arc<dyn JobQueue>) {
    let mut ids = Vec::new();
    for i in 0..5u8 {
        ids.push(queue.enqueue(Q, &[i]).await.unwrap());
    }
    for (i, id) in ids.iter().enumerate() {
        let job = queue.claim(Q, "w", WAIT).await.unwrap().unwrap();
        assert_eq!(&job.id, id);
        assert_eq!(job.payload, [i as u8]);
        queue.ack(&job).await.unwrap();
    }
}

async fn payloads_are_binary_safe(queue: Arc<dyn JobQueue>) {
    let binary: Vec<u8> = (0..=255u8).chain(b"1:2:3".iter().copied()).collect();
    queue.enqueue(Q, &binary).await.unwrap();
    queue.enqueue(Q, b"").await.unwrap();
    let first = queue.claim(Q, "w", WAIT).await.unwrap().unwrap();
    assert_eq!(first.payload, binary);
    // Binary payloads survive a delayed retry too.
    assert!(
        queue
            .retry(&first, Duration::from_millis(50), "again")
            .await
            .unwrap()
    );
    let empty = queue.claim(Q, "w", WAIT).await.unwrap().unwrap();
    assert_eq!(empty.payload, b"");
    queue.ack(&empty).await.unwrap();
    let again = queue.claim(Q, "w", WAIT).await.unwrap().unwrap();
    assert_eq!(again.payload, binary);
    assert_eq!(again.attempt, 2);
}

async fn retry_with_delay_is_claimed_again_with_attempt_two(queue: Arc<dyn JobQueue>) {
    let id = queue.enqueue(Q, b"flaky").await.unwrap();
    let job = queue.claim(Q, "w", WAIT).await.unwrap().unwrap();
    let retried_at = Instant::now();
    assert!(
        queue
            .retry(&job, Duration::from_millis(400), "upstream 503")
            .await
            .unwrap()
    );
    assert_eq!(queue.depth(Q).await.unwrap(), 1, "a delayed job is waiting");
    assert_eq!(
        queue.claim(Q, "w", NO_WAIT).await.unwrap(),
        None,
        "not before its delay"
    );
    let again = queue
        .claim(Q, "w", WAIT)
        .await
        .unwrap()
        .expect("claimed after the delay");
    assert!(retried_at.elapsed() >= Duration::from_millis(380));
    assert_eq!(again.id, id, "a job keeps its id across attempts");
    assert_eq!(again.attempt, 2);
    assert_eq!(again.payload, b"flaky");
    // The stale handle of attempt 1 can no longer be retried.
    assert!(queue.retry(&job, Duration::ZERO, "stale").await.is_err());
    queue.ack(&again).await.unwrap();
    assert_eq!(queue.depth(Q).await.unwrap(), 0);
}

async fn retry_without_delay_is_claimable_at_once(queue: Arc<dyn JobQueue>) {
    queue.enqueue(Q, b"a").await.unwrap();
    let job = queue.claim(Q, "w", WAIT).await.unwrap().unwrap();
    assert!(
        queue
            .retry(&job, Duration::ZERO, "try again")
            .await
            .unwrap()
    );
    let again = queue
        .claim(Q, "w", Duration::from_millis(300))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id.as_str(), again.attempt), (job.id.as_str(), 2));
}

async fn dead_letter_after_max_attempts_with_reason(queue: Arc<dyn JobQueue>) {
    let id = queue.enqueue(Q, b"poison").await.unwrap();
    for attempt in 1..=TEST_MAX_ATTEMPTS {
        let job = queue.claim(Q, "w", WAIT).await.unwrap().expect("claimable");
        assert_eq!(job.attempt, attempt);
        let requeued = queue
            .retry(&job, Duration::ZERO, &format!("failure {attempt}"))
            .await
            .unwrap();
        assert_eq!(requeued, attempt < TEST_MAX_ATTEMPTS, "attempt {attempt}");
    }
    assert_eq!(
        queue
            .claim(Q, "w", Duration::from_millis(200))
            .await
            .unwrap(),
        None
    );
    assert_eq!(queue.depth(Q).await.unwrap(), 0);
    let dead = queue.dead_letters(Q, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let (job, reason) = &dead[0];
    assert_eq!(job.id, id);
    assert_eq!(job.queue, Q);
    assert_eq!(job.payload, b"poison");
    assert_eq!(job.attempt, TEST_MAX_ATTEMPTS);
    assert_eq!(reason, &format!("failure {TEST_MAX_ATTEMPTS}"));
}

async fn unacked_job_is_reclaimed_by_another_consumer_after_the_visibility_timeout(
    queue: Arc<dyn JobQueue>,
) {
    let id = queue.enqueue(Q, b"long").await.unwrap();
    let first = queue.claim(Q, "worker-a", WAIT).await.unwrap().unwrap();
    let first_claimed = Instant::now();
    assert_eq!(first.attempt, 1);
    assert_eq!(
        queue.claim(Q, "worker-b", NO_WAIT).await.unwrap(),
        None,
        "still within its timeout"
    );
    let second = queue
        .claim(Q, "worker-b", WAIT)
        .await
        .unwrap()
        .expect("reclaimed");
    let idle = first_claimed.elapsed();
    assert!(
        idle + Duration::from_millis(50) >= TEST_VISIBILITY_TIMEOUT,
        "reclaimed after {idle:?}, before the visibility timeout"
    );
    assert_eq!(second.id, id);
    assert_eq!(second.payload, b"long");
    assert_eq!(second.attempt, 2, "a reclaim is a new attempt");
    // Worker a comes back late: its retry must not requeue the job a second time.
    assert!(queue.retry(&first, Duration::ZERO, "late").await.is_err());
    queue.ack(&second).await.unwrap();
    assert_eq!(
        queue
            .claim(Q, "worker-a", Duration::from_millis(700))
            .await
            .unwrap(),
        None
    );
    assert_eq!(queue.depth(Q).await.unwrap(), 0);
}

async fn job_abandoned_on_every_attempt_ends_in_dead_letters(queue: Arc<dyn JobQueue>) {
    let id = queue.enqueue(Q, b"crashes workers").await.unwrap();
    for attempt in 1..=TEST_MAX_ATTEMPTS {
        let job = queue
            .claim(Q, &format!("worker-{attempt}"), WAIT)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((job.id.as_str(), job.attempt), (id.as_str(), attempt));
        // ... and the worker dies without acknowledging.
    }
    assert_eq!(
        queue
            .claim(Q, "survivor", Duration::from_millis(900))
            .await
            .unwrap(),
        None
    );
    let dead = queue.dead_letters(Q, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0.id, id);
    assert_eq!(dead[0].0.attempt, TEST_MAX_ATTEMPTS);
    assert!(!dead[0].1.is_empty(), "the reason says what happened");
}

async fn depth_counts_waiting_jobs_not_claimed_ones(queue: Arc<dyn JobQueue>) {
    assert_eq!(queue.depth(Q).await.unwrap(), 0);
    for i in 0..3u8 {
        queue.enqueue(Q, &[i]).await.unwrap();
    }
    assert_eq!(queue.depth(Q).await.unwrap(), 3);
    let job = queue.claim(Q, "w", WAIT).await.unwrap().unwrap();
    assert_eq!(queue.depth(Q).await.unwrap(), 2);
    assert!(
        queue
            .retry(&job, Duration::from_secs(30), "later")
            .await
            .unwrap()
    );
    assert_eq!(
        queue.depth(Q).await.unwrap(),
        3,
        "delayed retries are waiting jobs"
    );
    let next = queue.claim(Q, "w", WAIT).await.unwrap().unwrap();
    queue.ack(&next).await.unwrap();
    assert_eq!(queue.depth(Q).await.unwrap(), 2);
    assert_eq!(queue.depth("unknown-queue").await.unwrap(), 0);
}

async fn queues_are_independent(queue: Arc<dyn JobQueue>) {
    queue.enqueue("emails", b"mail").await.unwrap();
    assert_eq!(queue.claim(Q, "w", NO_WAIT).await.unwrap(), None);
    assert_eq!(queue.depth(Q).await.unwrap(), 0);
    let job = queue.claim("emails", "w", WAIT).await.unwrap().unwrap();
    assert_eq!(job.queue, "emails");
    assert_eq!(job.payload, b"mail");
    assert!(queue.dead_letters(Q, 10).await.unwrap().is_empty());
}
