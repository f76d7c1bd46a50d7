//! Leaderboard conformance: scores, ranks, ties by user id, neighbourhoods.

use std::sync::Arc;

use questpath::ports::{Leaderboard, LeaderboardEntry};
use uuid::Uuid;

crate::conformance!(
    in_process => crate::common::in_process_leaderboard(),
    redis => crate::common::redis_leaderboard();
    [
        ping_answers,
        increment_creates_then_adds_including_negative_deltas,
        set_score_replaces_the_score,
        top_is_best_first_and_bounded,
        ties_are_ordered_by_user_id_ascending,
        entry_has_rank_and_score,
        around_the_top_and_the_last_rank,
        around_the_middle_and_with_zero_neighbours,
        len_counts_learners_and_clear_removes_one_board,
        boards_are_independent,
        ranks_follow_score_changes,
    ]
);

const BOARD: &str = "weekly:2026-W48";

/// `n` learners with scores `n * 10`, `(n - 1) * 10`, ..., 10: rank i has score (n - i + 1) * 10.
async fn seed(board: &Arc<dyn Leaderboard>, n: usize) -> Vec<Uuid> {
    let mut users = Vec::new();
    for i in 0..n {
        let user = Uuid::new_v4();
        board
            .set_score(BOARD, user, ((n - i) * 10) as i64)
            .await
            .unwrap();
        users.push(user);
    }
    users
}

fn ranks(entries: &[LeaderboardEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.rank).collect()
}

async fn ping_answers(board: Arc<dyn Leaderboard>) {
    board.ping().await.expect("ping");
}

async fn increment_creates_then_adds_including_negative_deltas(board: Arc<dyn Leaderboard>) {
    let user = Uuid::new_v4();
    assert_eq!(board.increment(BOARD, user, 50).await.unwrap(), 50);
    assert_eq!(board.increment(BOARD, user, 25).await.unwrap(), 75);
    assert_eq!(board.increment(BOARD, user, -100).await.unwrap(), -25);
    assert_eq!(board.increment(BOARD, user, 0).await.unwrap(), -25);
    let entry = board.entry(BOARD, user).await.unwrap().unwrap();
    assert_eq!(entry.score, -25);
    let fresh = Uuid::new_v4();
    assert_eq!(board.increment(BOARD, fresh, -5).await.unwrap(), -5);
    assert_eq!(board.len(BOARD).await.unwrap(), 2);
}

async fn set_score_replaces_the_score(board: Arc<dyn Leaderboard>) {
    let user = Uuid::new_v4();
    board.set_score(BOARD, user, 1_000).await.unwrap();
    board.set_score(BOARD, user, 40).await.unwrap();
    assert_eq!(board.entry(BOARD, user).await.unwrap().unwrap().score, 40);
    assert_eq!(board.increment(BOARD, user, 2).await.unwrap(), 42);
    assert_eq!(board.len(BOARD).await.unwrap(), 1);
    // Large XP totals stay exact.
    board
        .set_score(BOARD, user, 9_007_199_254_740_000)
        .await
        .unwrap();
    assert_eq!(
        board.entry(BOARD, user).await.unwrap().unwrap().score,
        9_007_199_254_740_000
    );
}

async fn top_is_best_first_and_bounded(board: Arc<dyn Leaderboard>) {
    let users = seed(&board, 6).await;
    let top = board.top(BOARD, 3).await.unwrap();
    assert_eq!(
        top,
        vec![
            LeaderboardEntry {
                user_id: users[0],
                score: 60,
                rank: 1
            },
            LeaderboardEntry {
                user_id: users[1],
                score: 50,
                rank: 2
            },
            LeaderboardEntry {
                user_id: users[2],
                score: 40,
                rank: 3
            },
        ]
    );
    assert_eq!(board.top(BOARD, 100).await.unwrap().len(), 6);
    assert!(board.top(BOARD, 0).await.unwrap().is_empty());
    assert!(board.top("empty-board", 10).await.unwrap().is_empty());
}

async fn ties_are_ordered_by_user_id_ascending(board: Arc<dyn Leaderboard>) {
    let leader = Uuid::new_v4();
    board.set_score(BOARD, leader, 500).await.unwrap();
    let mut tied: Vec<Uuid> = (0..40).map(|_| Uuid::new_v4()).collect();
    // Ids that differ only in their last byte, and ones with digits against letters.
    tied.push(Uuid::from_u128(0x0000_0000_0000_0000_0000_0000_0000_00a0));
    tied.push(Uuid::from_u128(0x0000_0000_0000_0000_0000_0000_0000_0090));
    tied.push(Uuid::from_u128(0xf000_0000_0000_0000_0000_0000_0000_0000));
    for user in &tied {
        board.increment(BOARD, *user, 100).await.unwrap();
    }
    let last = Uuid::new_v4();
    board.set_score(BOARD, last, 1).await.unwrap();

    tied.sort();
    // The order of the lowercase hyphenated strings is the byte order of the ids.
    let mut as_strings: Vec<String> = tied.iter().map(Uuid::to_string).collect();
    as_strings.sort();
    assert_eq!(
        as_strings,
        tied.iter().map(Uuid::to_string).collect::<Vec<_>>()
    );

    let top = board.top(BOARD, 100).await.unwrap();
    assert_eq!(top.len(), tied.len() + 2);
    assert_eq!(top[0].user_id, leader);
    let middle: Vec<Uuid> = top[1..=tied.len()].iter().map(|e| e.user_id).collect();
    assert_eq!(
        middle, tied,
        "equal scores are ordered by user id ascending"
    );
    assert_eq!(top.last().unwrap().user_id, last);
    assert_eq!(ranks(&top), (1..=top.len() as u64).collect::<Vec<_>>());

    for (i, user) in tied.iter().enumerate() {
        let entry = board.entry(BOARD, *user).await.unwrap().unwrap();
        assert_eq!(
            entry.rank,
            i as u64 + 2,
            "entry rank agrees with top for tied ids"
        );
    }
    let around = board.around(BOARD, tied[5], 2).await.unwrap();
    let ids: Vec<Uuid> = around.iter().map(|e| e.user_id).collect();
    assert_eq!(ids, tied[3..=7].to_vec());
    assert_eq!(ranks(&around), vec![5, 6, 7, 8, 9]);
}

async fn entry_has_rank_and_score(board: Arc<dyn Leaderboard>) {
    let users = seed(&board, 5).await;
    assert_eq!(
        board.entry(BOARD, users[3]).await.unwrap(),
        Some(LeaderboardEntry {
            user_id: users[3],
            score: 20,
            rank: 4
        })
    );
    assert_eq!(board.entry(BOARD, Uuid::new_v4()).await.unwrap(), None);
    assert_eq!(board.entry("other-board", users[0]).await.unwrap(), None);
}

async fn around_the_top_and_the_last_rank(board: Arc<dyn Leaderboard>) {
    let users = seed(&board, 10).await;
    let at_top = board.around(BOARD, users[0], 2).await.unwrap();
    assert_eq!(ranks(&at_top), vec![1, 2, 3]);
    assert_eq!(at_top[0].user_id, users[0]);
    assert_eq!(at_top[0].score, 100);

    let at_bottom = board.around(BOARD, users[9], 2).await.unwrap();
    assert_eq!(ranks(&at_bottom), vec![8, 9, 10]);
    assert_eq!(at_bottom[2].user_id, users[9]);
    assert_eq!(at_bottom[2].score, 10);

    let near_bottom = board.around(BOARD, users[8], 3).await.unwrap();
    assert_eq!(ranks(&near_bottom), vec![6, 7, 8, 9, 10]);

    let everyone = board.around(BOARD, users[4], 1_000).await.unwrap();
    assert_eq!(ranks(&everyone), (1..=10).collect::<Vec<_>>());
}

async fn around_the_middle_and_with_zero_neighbours(board: Arc<dyn Leaderboard>) {
    let users = seed(&board, 9).await;
    let middle = board.around(BOARD, users[4], 2).await.unwrap();
    let ids: Vec<Uuid> = middle.iter().map(|e| e.user_id).collect();
    assert_eq!(ids, users[2..=6].to_vec());
    assert_eq!(ranks(&middle), vec![3, 4, 5, 6, 7]);
    assert_eq!(
        middle.iter().map(|e| e.score).collect::<Vec<_>>(),
        vec![70, 60, 50, 40, 30]
    );

    let alone = board.around(BOARD, users[4], 0).await.unwrap();
    assert_eq!(
        alone,
        vec![LeaderboardEntry {
            user_id: users[4],
            score: 50,
            rank: 5
        }]
    );

    assert!(
        board
            .around(BOARD, Uuid::new_v4(), 3)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        board
            .around("no-board", users[0], 3)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn len_counts_learners_and_clear_removes_one_board(board: Arc<dyn Leaderboard>) {
    assert_eq!(board.len(BOARD).await.unwrap(), 0);
    let users = seed(&board, 4).await;
    board.increment("alltime", users[0], 5).await.unwrap();
    assert_eq!(board.len(BOARD).await.unwrap(), 4);
    board.increment(BOARD, users[0], 1).await.unwrap();
    assert_eq!(
        board.len(BOARD).await.unwrap(),
        4,
        "updating a learner does not add one"
    );
    board.clear(BOARD).await.unwrap();
    assert_eq!(board.len(BOARD).await.unwrap(), 0);
    assert!(board.top(BOARD, 10).await.unwrap().is_empty());
    assert_eq!(board.entry(BOARD, users[0]).await.unwrap(), None);
    assert_eq!(board.len("alltime").await.unwrap(), 1);
    board.clear("never-existed").await.unwrap();
}

async fn boards_are_independent(board: Arc<dyn Leaderboard>) {
    let user = Uuid::new_v4();
    board.increment("alltime", user, 300).await.unwrap();
    board.increment("weekly:2026-W47", user, 20).await.unwrap();
    assert_eq!(
        board.entry("alltime", user).await.unwrap().unwrap().score,
        300
    );
    assert_eq!(
        board
            .entry("weekly:2026-W47", user)
            .await
            .unwrap()
            .unwrap()
            .score,
        20
    );
}

async fn ranks_follow_score_changes(board: Arc<dyn Leaderboard>) {
    let users = seed(&board, 5).await; // 50, 40, 30, 20, 10
    board.increment(BOARD, users[4], 100).await.unwrap(); // 110: to the top
    board.increment(BOARD, users[0], -45).await.unwrap(); // 5: to the bottom
    let top = board.top(BOARD, 5).await.unwrap();
    let ids: Vec<Uuid> = top.iter().map(|e| e.user_id).collect();
    assert_eq!(ids, vec![users[4], users[1], users[2], users[3], users[0]]);
    assert_eq!(
        top.iter().map(|e| e.score).collect::<Vec<_>>(),
        vec![110, 40, 30, 20, 5]
    );
    assert_eq!(board.entry(BOARD, users[0]).await.unwrap().unwrap().rank, 5);
    assert_eq!(board.entry(BOARD, users[4]).await.unwrap().unwrap().rank, 1);
}
