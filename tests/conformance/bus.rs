//! Bus conformance: fan-out per topic, order, unsubscribing, two instances.
//!
//! Each case gets two handles on one bus, as two server instances would have them
//! (for Redis: two separate connections sharing a prefix).

use std::time::{Duration, Instant};

use questpath::ports::BusSubscription;

use crate::common::BusPair;

crate::conformance!(
    in_process => crate::common::in_process_buses(),
    redis => crate::common::redis_buses(),
    redis_cluster => crate::common::redis_cluster_buses();
    [
        ping_answers,
        publish_reaches_every_subscriber_of_the_topic_and_no_other,
        messages_arrive_in_publication_order,
        payloads_are_binary_safe,
        publishing_without_subscribers_is_fine,
        dropped_subscription_stops_delivery_without_errors,
        resubscribing_after_everyone_left_works,
        subscribers_on_two_instances_both_receive,
        slow_subscriber_does_not_block_publishers_or_others,
    ]
);

const PATIENCE: Duration = Duration::from_secs(2);

async fn next(sub: &mut BusSubscription) -> Vec<u8> {
    tokio::time::timeout(PATIENCE, sub.recv())
        .await
        .unwrap_or_else(|_| panic!("no message on {} within {PATIENCE:?}", sub.topic))
        .expect("bus still open")
}

async fn assert_quiet(sub: &mut BusSubscription) {
    if let Ok(Some(message)) = tokio::time::timeout(Duration::from_millis(300), sub.recv()).await {
        panic!("unexpected message on {}: {message:?}", sub.topic);
    }
}

async fn ping_answers(buses: BusPair) {
    buses.first.ping().await.expect("ping");
    buses.second.ping().await.expect("ping");
}

async fn publish_reaches_every_subscriber_of_the_topic_and_no_other(buses: BusPair) {
    let bus = buses.first;
    let mut room_a = bus.subscribe("room:a").await.unwrap();
    let mut room_a_again = bus.subscribe("room:a").await.unwrap();
    let mut room_b = bus.subscribe("room:b").await.unwrap();
    bus.publish("room:a", b"hello a").await.unwrap();
    assert_eq!(next(&mut room_a).await, b"hello a");
    assert_eq!(next(&mut room_a_again).await, b"hello a");
    assert_quiet(&mut room_b).await;
    assert_eq!(room_b.topic, "room:b");
    bus.publish("room:b", b"hello b").await.unwrap();
    assert_eq!(next(&mut room_b).await, b"hello b");
    assert_quiet(&mut room_a).await;
}

async fn messages_arrive_in_publication_order(buses: BusPair) {
    let bus = buses.first;
    let mut sub = bus.subscribe("user:1").await.unwrap();
    for i in 0..200u32 {
        bus.publish("user:1", &i.to_be_bytes()).await.unwrap();
    }
    for i in 0..200u32 {
        assert_eq!(next(&mut sub).await, i.to_be_bytes());
    }
}

async fn payloads_are_binary_safe(buses: BusPair) {
    let bus = buses.first;
    let mut sub = bus.subscribe("bin").await.unwrap();
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    bus.publish("bin", &binary).await.unwrap();
    bus.publish("bin", b"").await.unwrap();
    assert_eq!(next(&mut sub).await, binary);
    assert_eq!(next(&mut sub).await, b"");
}

async fn publishing_without_subscribers_is_fine(buses: BusPair) {
    buses.first.publish("nobody:listens", b"x").await.unwrap();
}

async fn dropped_subscription_stops_delivery_without_errors(buses: BusPair) {
    let bus = buses.first;
    let dropped = bus.subscribe("room").await.unwrap();
    let mut kept = bus.subscribe("room").await.unwrap();
    drop(dropped);
    for i in 0..3u8 {
        bus.publish("room", &[i]).await.unwrap();
    }
    for i in 0..3u8 {
        assert_eq!(next(&mut kept).await, [i]);
    }
}

async fn resubscribing_after_everyone_left_works(buses: BusPair) {
    let bus = buses.first;
    let mut first = bus.subscribe("room").await.unwrap();
    bus.publish("room", b"1").await.unwrap();
    assert_eq!(next(&mut first).await, b"1");
    drop(first);
    // Deliveries to nobody; the adapter may now unsubscribe from the topic.
    bus.publish("room", b"2").await.unwrap();
    bus.publish("room", b"3").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = bus.subscribe("room").await.unwrap();
    bus.publish("room", b"4").await.unwrap();
    assert_eq!(next(&mut again).await, b"4");
    assert_quiet(&mut again).await;
}

async fn subscribers_on_two_instances_both_receive(buses: BusPair) {
    let mut on_first = buses.first.subscribe("user:42").await.unwrap();
    let mut on_second = buses.second.subscribe("user:42").await.unwrap();
    buses.first.publish("user:42", b"from first").await.unwrap();
    assert_eq!(next(&mut on_first).await, b"from first");
    assert_eq!(next(&mut on_second).await, b"from first");
    buses
        .second
        .publish("user:42", b"from second")
        .await
        .unwrap();
    assert_eq!(next(&mut on_first).await, b"from second");
    assert_eq!(next(&mut on_second).await, b"from second");
}

async fn slow_subscriber_does_not_block_publishers_or_others(buses: BusPair) {
    const MESSAGES: u32 = 1_500;
    const BATCH: u32 = 300;
    let bus = buses.first;
    let mut slow = bus.subscribe("busy").await.unwrap();
    let mut fast = bus.subscribe("busy").await.unwrap();
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0u32);
    let reader = tokio::spawn(async move {
        let mut received = 0u32;
        while received < MESSAGES {
            let message = next(&mut fast).await;
            assert_eq!(
                message,
                received.to_be_bytes(),
                "fast subscriber sees every message in order"
            );
            received += 1;
            let _ = progress_tx.send(received);
        }
    });
    let started = Instant::now();
    for batch in 0..MESSAGES / BATCH {
        for i in batch * BATCH..(batch + 1) * BATCH {
            bus.publish("busy", &i.to_be_bytes()).await.unwrap();
        }
        // Let the reader keep up, as a live subscriber would; the slow one never reads.
        let sent = (batch + 1) * BATCH;
        tokio::time::timeout(PATIENCE, progress.wait_for(|&n| n >= sent))
            .await
            .expect("fast subscriber kept up")
            .unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "publishing was not held up"
    );
    reader.await.unwrap();
    // The slow subscriber kept what fitted in its queue, from the start, in order.
    let mut kept = 0u32;
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(300), slow.recv()).await
    {
        assert_eq!(message, kept.to_be_bytes());
        kept += 1;
    }
    assert!(
        kept > 0 && kept < MESSAGES,
        "slow subscriber kept {kept} of {MESSAGES}"
    );
}
