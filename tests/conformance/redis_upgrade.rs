//! Start-up renames what a version without hash tags left in Redis: a queued job (a
//! finished room's XP) and a board are found under the new names, nothing is lost.

use std::time::Duration;

use fred::cmd;
use fred::prelude::*;
use questpath::ports::{JobQueue, Leaderboard};
use uuid::Uuid;

#[tokio::test]
async fn keys_of_the_untagged_layout_are_renamed_and_still_work() {
    let settings = crate::common::redis_settings();
    let p = settings.prefix.clone();
    let client = Builder::from_config(Config::from_url(settings.url.expose()).unwrap())
        .build()
        .unwrap();
    client.init().await.unwrap();

    // A waiting job, a delayed retry and a dead letter of queue `room-xp`, as the old
    // adapter wrote them.
    let stream = format!("{p}jobs:room-xp");
    let _: Value = client
        .custom(
            cmd!("XGROUP"),
            vec!["CREATE", &stream, "workers", "0", "MKSTREAM"],
        )
        .await
        .unwrap();
    let eid: String = client
        .custom(
            cmd!("XADD"),
            vec![
                &stream, "*", "id", "job-1", "payload", "room-a", "attempt", "1",
            ],
        )
        .await
        .unwrap();
    let _: () = client
        .hset(format!("{stream}:entries"), ("job-1", eid.as_str()))
        .await
        .unwrap();
    let _: () = client
        .zadd(
            format!("{stream}:delayed"),
            None,
            None,
            false,
            false,
            (4e12, "job-2"),
        )
        .await
        .unwrap();
    let _: () = client
        .hset(format!("{stream}:delayed:data"), ("job-2", "2:room-b"))
        .await
        .unwrap();
    let _: Value = client
        .custom(
            cmd!("XADD"),
            vec![
                format!("{stream}:dead"),
                "*".into(),
                "id".into(),
                "job-0".into(),
                "payload".into(),
                "room-z".into(),
                "attempt".into(),
                "5".into(),
                "reason".into(),
                "gone".into(),
            ],
        )
        .await
        .unwrap();
    // A board with one learner, built.
    let user = Uuid::now_v7();
    let member = format!("1700000000000:{user}");
    let _: () = client
        .zadd(
            format!("{p}lb:alltime"),
            None,
            None,
            false,
            false,
            (-42.0, member.as_str()),
        )
        .await
        .unwrap();
    let _: () = client
        .hset(
            format!("{p}lb:alltime#members"),
            (user.to_string(), format!("3 {member}")),
        )
        .await
        .unwrap();
    let _: () = client
        .set(
            format!("{p}lb:alltime#built"),
            1_700_000_000_000i64,
            None,
            None,
            false,
        )
        .await
        .unwrap();

    let redis = questpath::adapters::redis::Redis::connect(&settings)
        .await
        .unwrap();
    assert_eq!(redis.upgrade_key_names().await.unwrap(), 8);
    assert_eq!(redis.upgrade_key_names().await.unwrap(), 0, "idempotent");

    let queue = redis.job_queue();
    assert_eq!(
        queue.depth("room-xp").await.unwrap(),
        2,
        "waiting + delayed"
    );
    let job = queue
        .claim("room-xp", "w", Duration::ZERO)
        .await
        .unwrap()
        .expect("the job queued before the upgrade");
    assert_eq!(
        (job.id.as_str(), job.payload.as_slice()),
        ("job-1", &b"room-a"[..])
    );
    queue.ack(&job).await.unwrap();
    let dead = queue.dead_letters("room-xp", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1, "gone");

    let board = redis.leaderboard();
    let entry = board
        .entry("alltime", user)
        .await
        .unwrap()
        .expect("on the board");
    assert_eq!((entry.score, entry.rank), (42, 1));
    assert!(board.built_at("alltime").await.unwrap().is_some());

    let left: Vec<String> = client
        .custom(cmd!("KEYS"), vec![format!("{p}jobs:*")])
        .await
        .unwrap();
    assert!(left.is_empty(), "old names left: {left:?}");
    redis.shutdown().await;
    client.quit().await.unwrap();
}
