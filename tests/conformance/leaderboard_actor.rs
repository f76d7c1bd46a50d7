//! The leaderboard actor over the in-process adapters: many grants at once are all
//! answered, and each learner's rank pushes leave in grant order.

use actix::Actor;

use chrono::Duration as Span;
use futures_util::future::join_all;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use questpath::adapters::embedded::{EmbeddedStore, InProcessBus, InProcessLeaderboard};
use questpath_actors::leaderboard::actor::{Apply, LeaderboardActor};
use questpath_actors::leaderboard::board::Board;
use questpath_actors::leaderboard::names::Names;
use questpath_actors::ports::Standing;
use questpath_actors::ports::bus::user_topic;
use questpath_actors::ports::{Bus, Leaderboard, ScoreUpdate, Store};
use uuid::Uuid;

fn update(user_id: Uuid, score: i64, entries: u64) -> ScoreUpdate {
    ScoreUpdate {
        board: Board::AllTime.key(),
        user_id,
        standing: Standing {
            score,
            reached_at: Utc::now() + Span::milliseconds(entries as i64),
            entries,
        },
        expires_at: None,
    }
}

#[actix_web::test]
async fn concurrent_grants_are_all_answered_and_pushed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).await.unwrap());
    let port: Arc<dyn Leaderboard> = Arc::new(InProcessLeaderboard::new());
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let actor = LeaderboardActor::new(
        Arc::clone(&port),
        Arc::clone(&store),
        Arc::clone(&bus),
        Names::new(store),
    )
    .start();
    let users: Vec<Uuid> = (0..200).map(|_| Uuid::new_v4()).collect();
    let mut pushes = Vec::new();
    for user in &users[..5] {
        let topic = user_topic(*user);
        pushes.push(bus.subscribe(&topic).await.unwrap());
    }

    // Three grants per learner, all sent at once: far more than one batch at a time.
    let sends = (1..=3u64).flat_map(|n| {
        users.iter().map(move |&user| Apply {
            updates: vec![update(user, n as i64 * 10, n)],
        })
    });
    let answers = join_all(sends.map(|apply| actor.send(apply))).await;
    for answer in answers {
        let placements = answer.expect("mailbox").expect("applied");
        assert_eq!(placements.len(), 1);
    }

    let top = port.range(&Board::AllTime.key(), 0, 1_000).await.unwrap();
    assert_eq!(top.len(), users.len());
    assert!(top.iter().all(|e| e.score == 30), "every last grant counts");
    // Each learner's pushes come in grant order.
    for subscription in &mut pushes {
        let mut scores = Vec::new();
        while scores.len() < 3 {
            let payload = tokio::time::timeout(Duration::from_secs(5), subscription.recv())
                .await
                .expect("a push")
                .expect("bus open");
            let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            assert_eq!(event["type"], "leaderboard.rank");
            scores.push(event["score"].as_i64().unwrap());
        }
        assert_eq!(scores, vec![10, 20, 30]);
    }
}
