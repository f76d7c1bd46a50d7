//! Leaderboard conformance: standings, ranks, ties by the time reached, exact scores,
//! neighbourhoods at the edges, versions, expiry, weekly rollover, a rebuild from the
//! ledger that equals the lost board, and the archive of finished weeks in the store
//! (embedded and CQL) that equals their boards.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use questpath::leaderboard::archive::{
    ArchiveError, ArchivedWeeks, archive_due, archive_week, due_weeks,
};
use questpath::leaderboard::rebuild::{kept_boards, rebuild, rebuild_missing};
use questpath::leaderboard::{Board, Week, standing};
use questpath::ports::leaderboard::MAX_SCORE;
use questpath::ports::{Leaderboard, LeaderboardEntry, ScoreUpdate, Standing, XpEntry};
use uuid::Uuid;

crate::conformance!(
    in_process => crate::common::in_process_leaderboard(),
    redis => crate::common::redis_leaderboard(),
    redis_cluster => crate::common::redis_cluster_leaderboard();
    [
        ping_answers,
        apply_sets_and_replaces_standings,
        top_is_best_first_and_bounded,
        ties_go_to_whoever_reached_the_score_first,
        same_millisecond_ties_are_ordered_by_user_id,
        entry_has_rank_score_and_time,
        around_the_top_and_the_last_rank,
        around_the_middle_and_with_zero_neighbours,
        deep_pages_by_rank,
        len_counts_learners_and_clear_removes_one_board,
        remove_takes_one_learner_off_one_board,
        boards_are_independent,
        ranks_follow_score_changes,
        placements_tell_the_previous_and_the_new_rank,
        older_standings_are_ignored,
        a_batch_applies_in_order_across_boards,
        scores_are_exact_to_two_to_the_53,
        scores_beyond_the_limit_are_refused_before_writing,
        expired_boards_are_gone,
        built_marks_are_kept_cleared_and_expire,
        leases_are_exclusive_until_released_or_expired,
        weekly_boards_roll_over_on_monday,
        rebuild_equals_the_lost_board,
        rebuild_missing_rebuilds_only_incomplete_boards,
        archive_copies_each_finished_week_exactly,
        archive_copies_each_finished_week_exactly_to_cql,
        archive_pages_through_a_large_board_in_the_embedded_store,
        archive_pages_through_a_large_board_to_cql,
        archive_includes_grants_still_pending,
        archive_of_a_week_past_retention_builds_it_from_the_ledger,
        archive_due_archives_each_finished_kept_week_once,
        rebuild_leaves_deleted_learners_off,
        an_apply_that_meets_a_deletion_takes_back_what_it_wrote,
        forgetting_xp_retires_the_ledger_and_leaves_every_board,
        archive_leaves_a_learner_deleted_meanwhile_anonymous,
    ]
);

const BOARD: &str = "weekly:2026-W48";

/// A fixed moment: 2026-11-26 10:00 UTC (Thursday of 2026-W48), plus `ms`.
fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_795_687_200_000 + ms).unwrap()
}

fn standing(score: i64, reached_ms: i64, entries: u64) -> Standing {
    Standing {
        score,
        reached_at: at(reached_ms),
        entries,
    }
}

fn update(board: &str, user_id: Uuid, standing: Standing) -> ScoreUpdate {
    ScoreUpdate {
        board: board.into(),
        user_id,
        standing,
        expires_at: None,
    }
}

async fn set(board: &Arc<dyn Leaderboard>, name: &str, user_id: Uuid, s: Standing) {
    board.apply(&[update(name, user_id, s)]).await.unwrap();
}

/// `n` learners with scores `n * 10`, `(n - 1) * 10`, ..., 10: rank i has score
/// (n - i + 1) * 10.
async fn seed(board: &Arc<dyn Leaderboard>, n: usize) -> Vec<Uuid> {
    let users: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    let updates: Vec<ScoreUpdate> = users
        .iter()
        .enumerate()
        .map(|(i, &u)| update(BOARD, u, standing(((n - i) * 10) as i64, i as i64, 1)))
        .collect();
    board.apply(&updates).await.unwrap();
    users
}

fn ranks(entries: &[LeaderboardEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.rank).collect()
}

fn ids(entries: &[LeaderboardEntry]) -> Vec<Uuid> {
    entries.iter().map(|e| e.user_id).collect()
}

async fn everything(board: &Arc<dyn Leaderboard>, name: &str) -> Vec<LeaderboardEntry> {
    board.range(name, 0, 1_000_000).await.unwrap()
}

async fn ping_answers(board: Arc<dyn Leaderboard>) {
    board.ping().await.expect("ping");
}

async fn apply_sets_and_replaces_standings(board: Arc<dyn Leaderboard>) {
    let user = Uuid::new_v4();
    set(&board, BOARD, user, standing(1_000, 0, 1)).await;
    set(&board, BOARD, user, standing(40, 5, 2)).await;
    let entry = board.entry(BOARD, user).await.unwrap().unwrap();
    assert_eq!(
        entry.score, 40,
        "a standing replaces the score (XP may go down)"
    );
    assert_eq!(entry.reached_at, at(5));
    assert_eq!(board.len(BOARD).await.unwrap(), 1);
    set(&board, BOARD, user, standing(40, 5, 2)).await;
    assert_eq!(board.len(BOARD).await.unwrap(), 1, "repeating is harmless");
    assert_eq!(board.entry(BOARD, user).await.unwrap(), Some(entry));
    let negative = Uuid::new_v4();
    set(&board, BOARD, negative, standing(-25, 0, 1)).await;
    assert_eq!(board.entry(BOARD, negative).await.unwrap().unwrap().rank, 2);
    assert!(board.apply(&[]).await.unwrap().is_empty());
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
                reached_at: at(0),
                rank: 1
            },
            LeaderboardEntry {
                user_id: users[1],
                score: 50,
                reached_at: at(1),
                rank: 2
            },
            LeaderboardEntry {
                user_id: users[2],
                score: 40,
                reached_at: at(2),
                rank: 3
            },
        ]
    );
    assert_eq!(board.top(BOARD, 100).await.unwrap().len(), 6);
    assert!(board.top(BOARD, 0).await.unwrap().is_empty());
    assert!(board.top("empty-board", 10).await.unwrap().is_empty());
}

async fn ties_go_to_whoever_reached_the_score_first(board: Arc<dyn Leaderboard>) {
    // Reached 100 XP at different times, written in an unrelated order, with ids that
    // would order the other way round.
    let late = Uuid::from_u128(1);
    let early = Uuid::from_u128(u128::MAX);
    let middle = Uuid::from_u128(7);
    set(&board, BOARD, late, standing(100, 3_000, 1)).await;
    set(&board, BOARD, early, standing(100, 1_000, 2)).await;
    set(&board, BOARD, middle, standing(100, 2_000, 1)).await;
    let leader = Uuid::new_v4();
    set(&board, BOARD, leader, standing(101, 9_000, 1)).await;
    let behind = Uuid::new_v4();
    set(&board, BOARD, behind, standing(99, 0, 1)).await;

    let top = board.top(BOARD, 10).await.unwrap();
    assert_eq!(ids(&top), vec![leader, early, middle, late, behind]);
    assert_eq!(ranks(&top), vec![1, 2, 3, 4, 5]);
    assert_eq!(board.entry(BOARD, early).await.unwrap().unwrap().rank, 2);
    assert_eq!(board.entry(BOARD, late).await.unwrap().unwrap().rank, 4);

    // Reaching 100 again later (another grant, same total) moves `early` behind.
    set(&board, BOARD, early, standing(100, 4_000, 3)).await;
    assert_eq!(
        ids(&board.top(BOARD, 10).await.unwrap()),
        vec![leader, middle, late, early, behind]
    );
}

async fn same_millisecond_ties_are_ordered_by_user_id(board: Arc<dyn Leaderboard>) {
    let mut tied: Vec<Uuid> = (0..40).map(|_| Uuid::new_v4()).collect();
    // Ids that differ only in their last byte, and ones with digits against letters.
    tied.push(Uuid::from_u128(0xa0));
    tied.push(Uuid::from_u128(0x90));
    tied.push(Uuid::from_u128(0xf000_0000_0000_0000_0000_0000_0000_0000));
    let updates: Vec<ScoreUpdate> = tied
        .iter()
        .map(|&u| update(BOARD, u, standing(100, 500, 1)))
        .collect();
    board.apply(&updates).await.unwrap();
    tied.sort();
    // The order of the lowercase hyphenated strings is the byte order of the ids.
    let mut as_strings: Vec<String> = tied.iter().map(Uuid::to_string).collect();
    as_strings.sort();
    assert_eq!(
        as_strings,
        tied.iter().map(Uuid::to_string).collect::<Vec<_>>()
    );
    let top = board.top(BOARD, 100).await.unwrap();
    assert_eq!(ids(&top), tied, "same XP at the same ms: user id ascending");
    for (i, user) in tied.iter().enumerate() {
        assert_eq!(
            board.entry(BOARD, *user).await.unwrap().unwrap().rank,
            i as u64 + 1
        );
    }
    let around = board.around(BOARD, tied[5], 2).await.unwrap();
    assert_eq!(ids(&around), tied[3..=7].to_vec());
    assert_eq!(ranks(&around), vec![4, 5, 6, 7, 8]);
}

async fn entry_has_rank_score_and_time(board: Arc<dyn Leaderboard>) {
    let users = seed(&board, 5).await;
    assert_eq!(
        board.entry(BOARD, users[3]).await.unwrap(),
        Some(LeaderboardEntry {
            user_id: users[3],
            score: 20,
            reached_at: at(3),
            rank: 4
        })
    );
    assert_eq!(board.entry(BOARD, Uuid::new_v4()).await.unwrap(), None);
    assert_eq!(board.entry("other-board", users[0]).await.unwrap(), None);
}

async fn around_the_top_and_the_last_rank(board: Arc<dyn Leaderboard>) {
    let users = seed(&board, 10).await;
    let at_top = board.around(BOARD, users[0], 2).await.unwrap();
    assert_eq!(ranks(&at_top), vec![1, 2, 3], "nothing above rank 1");
    assert_eq!(at_top[0].user_id, users[0]);
    assert_eq!(at_top[0].score, 100);

    let at_bottom = board.around(BOARD, users[9], 2).await.unwrap();
    assert_eq!(
        ranks(&at_bottom),
        vec![8, 9, 10],
        "nothing below the last rank"
    );
    assert_eq!(at_bottom[2].user_id, users[9]);
    assert_eq!(at_bottom[2].score, 10);

    let near_bottom = board.around(BOARD, users[8], 3).await.unwrap();
    assert_eq!(ranks(&near_bottom), vec![6, 7, 8, 9, 10]);

    let everyone = board.around(BOARD, users[4], 1_000).await.unwrap();
    assert_eq!(ranks(&everyone), (1..=10).collect::<Vec<_>>());

    // A board of one: the learner alone, at rank 1 and last.
    let alone = Uuid::new_v4();
    set(&board, "solo", alone, standing(5, 0, 1)).await;
    assert_eq!(
        ranks(&board.around("solo", alone, 25).await.unwrap()),
        vec![1]
    );
}

async fn around_the_middle_and_with_zero_neighbours(board: Arc<dyn Leaderboard>) {
    let users = seed(&board, 9).await;
    let middle = board.around(BOARD, users[4], 2).await.unwrap();
    assert_eq!(ids(&middle), users[2..=6].to_vec());
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
            reached_at: at(4),
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

async fn deep_pages_by_rank(board: Arc<dyn Leaderboard>) {
    // 2,500 learners: pages cross the in-process index's chunks.
    let n = 2_500usize;
    let users: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    let updates: Vec<ScoreUpdate> = users
        .iter()
        .enumerate()
        .map(|(i, &u)| update(BOARD, u, standing((n - i) as i64, 0, 1)))
        .collect();
    board.apply(&updates).await.unwrap();
    let mut seen = Vec::new();
    let mut offset = 0u64;
    loop {
        let page = board.range(BOARD, offset, 100).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert_eq!(page[0].rank, offset + 1);
        offset += page.len() as u64;
        seen.extend(ids(&page));
    }
    assert_eq!(seen, users);
    let deep = board.range(BOARD, 2_399, 3).await.unwrap();
    assert_eq!(ranks(&deep), vec![2_400, 2_401, 2_402]);
    assert_eq!(deep[0].user_id, users[2_399]);
    assert!(board.range(BOARD, 2_500, 10).await.unwrap().is_empty());
    assert!(board.range(BOARD, u64::MAX, 10).await.unwrap().is_empty());
    assert_eq!(board.range(BOARD, 2_498, 10).await.unwrap().len(), 2);
}

async fn len_counts_learners_and_clear_removes_one_board(board: Arc<dyn Leaderboard>) {
    assert_eq!(board.len(BOARD).await.unwrap(), 0);
    let users = seed(&board, 4).await;
    set(&board, "alltime", users[0], standing(5, 0, 1)).await;
    assert_eq!(board.len(BOARD).await.unwrap(), 4);
    set(&board, BOARD, users[0], standing(41, 0, 2)).await;
    assert_eq!(
        board.len(BOARD).await.unwrap(),
        4,
        "updating a learner does not add one"
    );
    board.mark_built(BOARD, at(0), None).await.unwrap();
    board.clear(BOARD).await.unwrap();
    assert_eq!(board.len(BOARD).await.unwrap(), 0);
    assert!(board.top(BOARD, 10).await.unwrap().is_empty());
    assert_eq!(board.entry(BOARD, users[0]).await.unwrap(), None);
    assert_eq!(
        board.built_at(BOARD).await.unwrap(),
        None,
        "clear drops the mark"
    );
    assert_eq!(board.len("alltime").await.unwrap(), 1);
    board.clear("never-existed").await.unwrap();
    // A cleared board starts over: old versions no longer count.
    set(&board, BOARD, users[0], standing(3, 0, 1)).await;
    assert_eq!(
        board.entry(BOARD, users[0]).await.unwrap().unwrap().score,
        3
    );
}

async fn remove_takes_one_learner_off_one_board(board: Arc<dyn Leaderboard>) {
    let users = seed(&board, 5).await;
    set(&board, "alltime", users[2], standing(7, 0, 1)).await;

    assert!(board.remove(BOARD, users[2]).await.unwrap(), "was there");

    assert_eq!(board.entry(BOARD, users[2]).await.unwrap(), None);
    assert!(board.around(BOARD, users[2], 2).await.unwrap().is_empty());
    let rest = everything(&board, BOARD).await;
    assert_eq!(
        ids(&rest),
        vec![users[0], users[1], users[3], users[4]],
        "the others close up"
    );
    assert_eq!(ranks(&rest), vec![1, 2, 3, 4]);
    assert_eq!(board.entry(BOARD, users[3]).await.unwrap().unwrap().rank, 3);
    assert_eq!(board.len(BOARD).await.unwrap(), 4);
    assert!(
        board.entry("alltime", users[2]).await.unwrap().is_some(),
        "other boards keep the learner"
    );
    assert!(!board.remove(BOARD, users[2]).await.unwrap(), "twice: gone");
    assert!(!board.remove(BOARD, Uuid::new_v4()).await.unwrap());
    assert!(!board.remove("never-existed", users[0]).await.unwrap());
    // Removed, not tombstoned: a later standing (of any version) places them again.
    set(&board, BOARD, users[2], standing(1, 0, 1)).await;
    assert_eq!(board.entry(BOARD, users[2]).await.unwrap().unwrap().rank, 5);
}

async fn boards_are_independent(board: Arc<dyn Leaderboard>) {
    let user = Uuid::new_v4();
    board
        .apply(&[
            update("alltime", user, standing(300, 0, 3)),
            update("weekly:2026-W47", user, standing(20, 0, 1)),
        ])
        .await
        .unwrap();
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
    set(&board, BOARD, users[4], standing(110, 10, 2)).await; // to the top
    set(&board, BOARD, users[0], standing(5, 11, 2)).await; // to the bottom
    let top = board.top(BOARD, 5).await.unwrap();
    assert_eq!(
        ids(&top),
        vec![users[4], users[1], users[2], users[3], users[0]]
    );
    assert_eq!(
        top.iter().map(|e| e.score).collect::<Vec<_>>(),
        vec![110, 40, 30, 20, 5]
    );
    assert_eq!(board.entry(BOARD, users[0]).await.unwrap().unwrap().rank, 5);
    assert_eq!(board.entry(BOARD, users[4]).await.unwrap().unwrap().rank, 1);
}

async fn placements_tell_the_previous_and_the_new_rank(board: Arc<dyn Leaderboard>) {
    let users = seed(&board, 5).await;
    let newcomer = Uuid::new_v4();
    let placed = board
        .apply(&[
            update(BOARD, users[3], standing(45, 20, 2)),
            update(BOARD, newcomer, standing(1, 21, 1)),
        ])
        .await
        .unwrap();
    assert_eq!(placed.len(), 2);
    assert!(placed[0].applied);
    assert_eq!(placed[0].previous_rank, Some(4));
    assert_eq!(placed[0].entry.rank, 2);
    assert_eq!(placed[0].entry.score, 45);
    assert_eq!(placed[0].entry.user_id, users[3]);
    assert_eq!(placed[0].entry.reached_at, at(20));
    assert_eq!(placed[1].previous_rank, None);
    assert_eq!(placed[1].entry.rank, 6);
}

async fn older_standings_are_ignored(board: Arc<dyn Leaderboard>) {
    let user = Uuid::new_v4();
    let other = Uuid::new_v4();
    set(&board, BOARD, other, standing(100, 0, 1)).await;
    set(&board, BOARD, user, standing(150, 10, 3)).await;
    // A standing summed from an older read of the ledger (fewer entries) arrives late,
    // from a slow instance or a rebuild: it must not bring the score back.
    let placed = board
        .apply(&[update(BOARD, user, standing(50, 5, 2))])
        .await
        .unwrap();
    assert!(!placed[0].applied);
    assert_eq!(placed[0].entry.score, 150);
    assert_eq!(placed[0].entry.rank, 1);
    assert_eq!(placed[0].previous_rank, Some(1));
    assert_eq!(board.entry(BOARD, user).await.unwrap().unwrap().score, 150);
    // The same number of entries is the same ledger: applied (harmless).
    let again = board
        .apply(&[update(BOARD, user, standing(150, 10, 3))])
        .await
        .unwrap();
    assert!(again[0].applied);
    assert_eq!(board.len(BOARD).await.unwrap(), 2);
}

async fn a_batch_applies_in_order_across_boards(board: Arc<dyn Leaderboard>) {
    let user = Uuid::new_v4();
    let placed = board
        .apply(&[
            update("alltime", user, standing(10, 0, 1)),
            update(BOARD, user, standing(10, 0, 1)),
            update("alltime", user, standing(30, 1, 2)),
            update("alltime", user, standing(20, 2, 1)), // older: ignored
        ])
        .await
        .unwrap();
    assert_eq!(
        placed.iter().map(|p| p.applied).collect::<Vec<_>>(),
        vec![true, true, true, false]
    );
    assert_eq!(placed[2].previous_rank, Some(1));
    assert_eq!(
        board.entry("alltime", user).await.unwrap().unwrap().score,
        30
    );
    assert_eq!(board.entry(BOARD, user).await.unwrap().unwrap().score, 10);
    assert_eq!(board.len("alltime").await.unwrap(), 1);
}

async fn scores_are_exact_to_two_to_the_53(board: Arc<dyn Leaderboard>) {
    // Neighbouring scores around 10^9 and at the limit, each with its own time, and
    // ties at 10^9 decided by time: the scores read back exactly and rank exactly.
    let scores = [
        MAX_SCORE,
        MAX_SCORE - 1,
        9_007_199_254_740_000,
        1_000_000_001,
        1_000_000_000,
        1_000_000_000,
        999_999_999,
        1,
        0,
        -1,
        -1_000_000_000,
        -MAX_SCORE,
    ];
    let users: Vec<Uuid> = scores.iter().map(|_| Uuid::new_v4()).collect();
    // Written worst first, so nothing comes out right by insertion order.
    let updates: Vec<ScoreUpdate> = users
        .iter()
        .zip(scores)
        .enumerate()
        .rev()
        .map(|(i, (&u, s))| update(BOARD, u, standing(s, i as i64, 1)))
        .collect();
    board.apply(&updates).await.unwrap();
    let top = board.top(BOARD, 100).await.unwrap();
    assert_eq!(top.iter().map(|e| e.score).collect::<Vec<_>>(), scores);
    assert_eq!(ids(&top), users);
    for (i, user) in users.iter().enumerate() {
        let entry = board.entry(BOARD, *user).await.unwrap().unwrap();
        assert_eq!((entry.score, entry.rank), (scores[i], i as u64 + 1));
    }
    // One XP more at 10^9 overtakes the tie.
    set(&board, BOARD, users[5], standing(1_000_000_001, 100, 2)).await;
    assert_eq!(board.entry(BOARD, users[5]).await.unwrap().unwrap().rank, 5);
}

async fn scores_beyond_the_limit_are_refused_before_writing(board: Arc<dyn Leaderboard>) {
    let fine = Uuid::new_v4();
    let huge = Uuid::new_v4();
    for beyond in [MAX_SCORE + 1, -MAX_SCORE - 1, i64::MAX, i64::MIN] {
        let result = board
            .apply(&[
                update(BOARD, fine, standing(10, 0, 1)),
                update(BOARD, huge, standing(beyond, 0, 1)),
            ])
            .await;
        assert!(result.is_err(), "{beyond} must be refused");
    }
    assert_eq!(
        board.len(BOARD).await.unwrap(),
        0,
        "nothing of the batch written"
    );
}

async fn expired_boards_are_gone(board: Arc<dyn Leaderboard>) {
    let user = Uuid::new_v4();
    let later = Utc::now() + chrono::Duration::days(1);
    board
        .apply(&[ScoreUpdate {
            expires_at: Some(later),
            ..update(BOARD, user, standing(10, 0, 1))
        }])
        .await
        .unwrap();
    assert_eq!(board.len(BOARD).await.unwrap(), 1, "kept until it expires");
    let past = Utc::now() - chrono::Duration::seconds(1);
    board
        .apply(&[ScoreUpdate {
            expires_at: Some(past),
            ..update(BOARD, Uuid::new_v4(), standing(5, 0, 1))
        }])
        .await
        .unwrap();
    assert_eq!(board.len(BOARD).await.unwrap(), 0);
    assert_eq!(board.entry(BOARD, user).await.unwrap(), None);
    assert!(board.top(BOARD, 10).await.unwrap().is_empty());
    // Written again afterwards, it starts over.
    set(&board, BOARD, user, standing(7, 0, 1)).await;
    assert_eq!(board.len(BOARD).await.unwrap(), 1);
}

async fn built_marks_are_kept_cleared_and_expire(board: Arc<dyn Leaderboard>) {
    assert_eq!(board.built_at("alltime").await.unwrap(), None);
    board.mark_built("alltime", at(123), None).await.unwrap();
    assert_eq!(board.built_at("alltime").await.unwrap(), Some(at(123)));
    assert_eq!(board.built_at(BOARD).await.unwrap(), None);
    let soon = Utc::now() + chrono::Duration::milliseconds(300);
    board.mark_built(BOARD, at(5), Some(soon)).await.unwrap();
    assert_eq!(board.built_at(BOARD).await.unwrap(), Some(at(5)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(board.built_at(BOARD).await.unwrap(), None, "expired");
    let past = Utc::now() - chrono::Duration::seconds(1);
    board.mark_built(BOARD, at(5), Some(past)).await.unwrap();
    assert_eq!(board.built_at(BOARD).await.unwrap(), None);
    board.clear("alltime").await.unwrap();
    assert_eq!(board.built_at("alltime").await.unwrap(), None);
}

async fn leases_are_exclusive_until_released_or_expired(board: Arc<dyn Leaderboard>) {
    let ttl = Duration::from_millis(300);
    assert!(board.claim("rebuild", ttl).await.unwrap());
    assert!(!board.claim("rebuild", ttl).await.unwrap(), "held");
    assert!(
        board.claim("other", ttl).await.unwrap(),
        "leases are independent"
    );
    board.release("rebuild").await.unwrap();
    assert!(board.claim("rebuild", ttl).await.unwrap(), "released");
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(board.claim("rebuild", ttl).await.unwrap(), "expired");
}

fn entry(user_id: Uuid, grant: &str, amount: i64, created_at: DateTime<Utc>) -> XpEntry {
    XpEntry {
        user_id,
        grant_id: grant.into(),
        amount,
        source: "level_first_pass".into(),
        created_at,
    }
}

async fn weekly_boards_roll_over_on_monday(board: Arc<dyn Leaderboard>) {
    let sunday = DateTime::parse_from_rfc3339("2026-11-29T23:59:59.999Z")
        .unwrap()
        .with_timezone(&Utc);
    let monday = DateTime::parse_from_rfc3339("2026-11-30T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let (w48, w49) = (Week::of(sunday), Week::of(monday));
    assert_ne!(w48, w49);
    let ada = Uuid::new_v4();
    let bob = Uuid::new_v4();
    let mut ada_ledger = vec![entry(ada, "a1", 300, sunday - chrono::Duration::days(2))];
    let mut bob_ledger = vec![entry(bob, "b1", 100, sunday)];
    let boards = [Board::AllTime, Board::Weekly(w48), Board::Weekly(w49)];
    for (user, ledger) in [(ada, &ada_ledger), (bob, &bob_ledger)] {
        board
            .apply(&standing::updates(user, ledger, &boards))
            .await
            .unwrap();
    }
    // Monday: Bob earns 50, the new week starts with him alone.
    bob_ledger.push(entry(bob, "b2", 50, monday));
    board
        .apply(&standing::updates(bob, &bob_ledger, &boards))
        .await
        .unwrap();
    let week48 = everything(&board, &Board::Weekly(w48).key()).await;
    assert_eq!(ids(&week48), vec![ada, bob]);
    assert_eq!(
        week48[1].score, 100,
        "Sunday's last millisecond counts for W48"
    );
    let week49 = everything(&board, &Board::Weekly(w49).key()).await;
    assert_eq!(ids(&week49), vec![bob]);
    assert_eq!((week49[0].score, week49[0].rank), (50, 1));
    assert_eq!(week49[0].reached_at, monday);
    // Ada catches up in the new week: a tie at 50, which Bob reached first.
    ada_ledger.push(entry(ada, "a2", 50, monday + chrono::Duration::hours(1)));
    board
        .apply(&standing::updates(ada, &ada_ledger, &boards))
        .await
        .unwrap();
    let week49 = everything(&board, &Board::Weekly(w49).key()).await;
    assert_eq!(ids(&week49), vec![bob, ada]);
    let all_time = everything(&board, "alltime").await;
    assert_eq!(ids(&all_time), vec![ada, bob]);
    assert_eq!(all_time[0].score, 350);
    assert_eq!(all_time[1].score, 150);
}

/// Learners with ledgers spread over the kept weeks, ties by time included; each grant
/// applied the way the XP service does (the ledger so far, the boards the grant
/// touches). Returns the keys of the boards touched.
async fn play_grants(
    store: &Arc<dyn questpath::ports::Store>,
    board: &Arc<dyn Leaderboard>,
) -> Vec<String> {
    let now = Utc::now();
    let base = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap();
    let users: Vec<Uuid> = (0..30).map(|_| Uuid::new_v4()).collect();
    let mut grants = Vec::new();
    for (i, &user) in users.iter().enumerate() {
        for g in 0..(i % 4 + 1) {
            // Times from now back over three weeks, several learners sharing one
            // millisecond and one total (ties on every board).
            let hours = ((i % 5) * 100 + g * 30) as i64;
            let amount = [100, 50, 10, 0][g % 4];
            let created = base - chrono::Duration::hours(hours);
            grants.push(entry(user, &format!("grant-{i}-{g}"), amount, created));
        }
    }
    // Grants arrive in time order, as they would live.
    grants.sort_by_key(|e| e.created_at);
    let mut touched = std::collections::BTreeSet::new();
    for grant in &grants {
        assert!(store.record_xp(grant).await.unwrap());
        let ledger = store.xp_entries(grant.user_id).await.unwrap();
        let boards = standing::boards_for(&ledger, std::slice::from_ref(&grant.grant_id), now);
        touched.extend(boards.iter().map(|b| b.key()));
        board
            .apply(&standing::updates(grant.user_id, &ledger, &boards))
            .await
            .unwrap();
    }
    touched.into_iter().collect()
}

async fn rebuild_equals_the_lost_board(board: Arc<dyn Leaderboard>) {
    let store = crate::common::embedded_store().await;
    let touched = play_grants(&store, &board).await;
    assert!(
        touched.len() >= 3,
        "all-time and at least two weeks: {touched:?}"
    );
    let mut before = Vec::new();
    for key in &touched {
        let entries = everything(&board, key).await;
        assert!(!entries.is_empty());
        before.push(entries);
    }
    assert!(
        before[0].windows(2).any(|w| w[0].score == w[1].score),
        "the test must hold ties"
    );

    // Redis loses everything.
    for key in &touched {
        board.clear(key).await.unwrap();
    }
    let report = rebuild(store.clone(), board.as_ref(), &kept_boards(Utc::now()))
        .await
        .unwrap();
    assert_eq!(report.users, 30);

    for (key, lost) in touched.iter().zip(&before) {
        assert_eq!(&everything(&board, key).await, lost, "board {key} rebuilt");
        assert!(board.built_at(key).await.unwrap().is_some(), "{key} marked");
    }
}

async fn rebuild_missing_rebuilds_only_incomplete_boards(board: Arc<dyn Leaderboard>) {
    let store = crate::common::embedded_store().await;
    let now = Utc::now();
    // Nothing built: everything kept is rebuilt (here, from an empty ledger).
    let first = rebuild_missing(store.clone(), board.as_ref(), now)
        .await
        .unwrap()
        .expect("a first rebuild");
    assert_eq!(first.boards.len(), kept_boards(now).len());
    assert!(
        rebuild_missing(store.clone(), board.as_ref(), now)
            .await
            .unwrap()
            .is_none(),
        "complete boards are left alone"
    );
    // A week that starts after the last all-time rebuild is complete without a mark
    // of its own: its grants were all written live.
    let next_monday = Week::of(now).ends_at();
    assert!(
        rebuild_missing(store.clone(), board.as_ref(), next_monday)
            .await
            .unwrap()
            .is_none()
    );
    // Losing the all-time board (and its mark) brings a rebuild back.
    board.clear("alltime").await.unwrap();
    let again = rebuild_missing(store.clone(), board.as_ref(), now)
        .await
        .unwrap()
        .expect("rebuilt after the loss");
    assert_eq!(again.boards, vec!["alltime".to_string()]);
    // Another instance holding the lease: nothing happens here.
    board.clear("alltime").await.unwrap();
    assert!(
        board
            .claim("rebuild", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        rebuild_missing(store.clone(), board.as_ref(), now)
            .await
            .unwrap()
            .is_none()
    );
}

// ---- the archive of finished weeks ----

type StoreRef = Arc<dyn questpath::ports::Store>;

/// The whole archive of `week`, as board entries.
async fn archived_board(store: &StoreRef, week: Week) -> Vec<LeaderboardEntry> {
    store
        .archived_entries(&week.label(), 1, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| LeaderboardEntry {
            user_id: e.user_id,
            score: e.score,
            reached_at: e.reached_at,
            rank: e.rank,
        })
        .collect()
}

/// Archives every finished week `play_grants` touched; each archive equals its board
/// (ranks, scores, tie-break times), also by learner, and archiving again changes
/// nothing. The current week is not archived.
async fn archive_copies_each_finished_week(board: Arc<dyn Leaderboard>, store: StoreRef) {
    let now = Utc::now();
    let touched = play_grants(&store, &board).await;
    let finished: Vec<Week> = touched
        .iter()
        .filter_map(|key| Week::parse(key.strip_prefix("weekly:")?))
        .filter(|week| week.ends_at() <= now)
        .collect();
    assert!(!finished.is_empty(), "the test must hold a finished week");

    for &week in &finished {
        let key = Board::Weekly(week).key();
        let before = everything(&board, &key).await;
        assert!(!before.is_empty());

        let report = archive_week(store.clone(), board.as_ref(), week)
            .await
            .unwrap();

        assert_eq!(report.period, week.label());
        assert_eq!(report.total, before.len() as u64);
        let archived = store.archived_week(&week.label()).await.unwrap().unwrap();
        assert_eq!(archived.total, before.len() as u64);
        assert_eq!(archived_board(&store, week).await, before, "{key} archived");
        for entry in &before {
            let mine = store
                .archived_entry(&week.label(), entry.user_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!((mine.rank, mine.score), (entry.rank, entry.score));
        }
        // Again: the same archive.
        archive_week(store.clone(), board.as_ref(), week)
            .await
            .unwrap();
        assert_eq!(archived_board(&store, week).await, before);
    }
    let current = archive_week(store.clone(), board.as_ref(), Week::of(now)).await;
    assert!(
        matches!(current, Err(ArchiveError::NotEnded(_))),
        "{current:?}"
    );
    assert_eq!(
        store.archived_week(&Week::of(now).label()).await.unwrap(),
        None
    );
}

async fn archive_copies_each_finished_week_exactly(board: Arc<dyn Leaderboard>) {
    archive_copies_each_finished_week(board, crate::common::embedded_store().await).await;
}

async fn archive_copies_each_finished_week_exactly_to_cql(board: Arc<dyn Leaderboard>) {
    archive_copies_each_finished_week(board, crate::common::scylla_store().await).await;
}

/// A board of 2,500 learners (three pages of the archiver, ties included), complete,
/// is copied whole and in order.
async fn archive_pages_through_a_large_board(board: Arc<dyn Leaderboard>, store: StoreRef) {
    let week = Week::of(Utc::now()).previous();
    let key = Board::Weekly(week).key();
    let start = week.starts_at();
    let updates: Vec<ScoreUpdate> = (0..2_500)
        .map(|i: i64| ScoreUpdate {
            board: key.clone(),
            user_id: Uuid::new_v4(),
            standing: Standing {
                score: (i % 400) * 5,
                reached_at: start + chrono::Duration::milliseconds(i % 97),
                entries: 1,
            },
            expires_at: Some(week.expires_at()),
        })
        .collect();
    for chunk in updates.chunks(500) {
        board.apply(chunk).await.unwrap();
    }
    board
        .mark_built(&key, Utc::now(), Some(week.expires_at()))
        .await
        .unwrap();
    let before = everything(&board, &key).await;
    assert_eq!(before.len(), 2_500);

    let started = std::time::Instant::now();
    let report = archive_week(store.clone(), board.as_ref(), week)
        .await
        .unwrap();
    eprintln!(
        "archived {} learners in {:?} ({}, {})",
        report.total,
        started.elapsed(),
        board.backend(),
        store.backend()
    );

    assert!(!report.rebuilt, "a complete board is read as it is");
    assert_eq!(report.total, 2_500);
    assert_eq!(archived_board(&store, week).await, before);
    let page = store
        .archived_entries(&week.label(), 995, 10)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|e| e.rank).collect::<Vec<_>>(),
        (995..1_005).collect::<Vec<u64>>()
    );
}

async fn archive_pages_through_a_large_board_in_the_embedded_store(board: Arc<dyn Leaderboard>) {
    archive_pages_through_a_large_board(board, crate::common::embedded_store().await).await;
}

async fn archive_pages_through_a_large_board_to_cql(board: Arc<dyn Leaderboard>) {
    archive_pages_through_a_large_board(board, crate::common::scylla_store().await).await;
}

/// A grant of last week written to the ledger whose instance died before applying it
/// (still pending, not on the board, which is otherwise complete) is archived too.
async fn archive_includes_grants_still_pending(board: Arc<dyn Leaderboard>) {
    let store = crate::common::embedded_store().await;
    let week = Week::of(Utc::now()).previous();
    let key = Board::Weekly(week).key();
    let monday = DateTime::from_timestamp_millis(week.starts_at().timestamp_millis()).unwrap();
    let ada = Uuid::new_v4();
    let bob = Uuid::new_v4();
    for (user, grant, amount, hours) in [(ada, "a1", 100, 1), (bob, "b1", 80, 2)] {
        let grant = entry(user, grant, amount, monday + chrono::Duration::hours(hours));
        store.record_xp(&grant).await.unwrap();
        let ledger = store.xp_entries(user).await.unwrap();
        board
            .apply(&standing::updates(user, &ledger, &[Board::Weekly(week)]))
            .await
            .unwrap();
        store
            .clear_xp_pending(user, std::slice::from_ref(&grant.grant_id))
            .await
            .unwrap();
    }
    board
        .mark_built(&key, Utc::now(), Some(week.expires_at()))
        .await
        .unwrap();
    // Bob's second grant reached the ledger only.
    store
        .record_xp(&entry(bob, "b2", 50, monday + chrono::Duration::days(6)))
        .await
        .unwrap();

    archive_week(store.clone(), board.as_ref(), week)
        .await
        .unwrap();

    let archived = archived_board(&store, week).await;
    assert_eq!(
        archived
            .iter()
            .map(|e| (e.user_id, e.score))
            .collect::<Vec<_>>(),
        vec![(bob, 130), (ada, 100)]
    );
}

/// A week that left the board long ago (never archived) is built from the ledger for
/// the archive, then archived like any other.
async fn archive_of_a_week_past_retention_builds_it_from_the_ledger(board: Arc<dyn Leaderboard>) {
    let store = crate::common::embedded_store().await;
    let now = Utc::now();
    let week = Week::of(now - chrono::Duration::weeks(9));
    assert!(week.expires_at() < now);
    let key = Board::Weekly(week).key();
    let tuesday = DateTime::from_timestamp_millis(
        (week.starts_at() + chrono::Duration::days(1)).timestamp_millis(),
    )
    .unwrap();
    let users: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
    for (i, &user) in users.iter().enumerate() {
        // Two by two at equal XP, the earlier one first; plus a grant of another week.
        let at = tuesday + chrono::Duration::minutes(i as i64);
        store
            .record_xp(&entry(user, "w", 100 * (3 - i as i64 / 2), at))
            .await
            .unwrap();
        store
            .record_xp(&entry(user, "later", 7, now))
            .await
            .unwrap();
    }
    // The all-time board was rebuilt long after that week: no reason to believe a
    // board of it is complete.
    board.mark_built("alltime", now, None).await.unwrap();

    let report = archive_week(store.clone(), board.as_ref(), week)
        .await
        .unwrap();

    assert!(report.rebuilt);
    assert_eq!(report.total, 6);
    let archived = archived_board(&store, week).await;
    assert_eq!(ids(&archived), users, "by XP, then by who reached it first");
    assert_eq!(
        archived.iter().map(|e| e.score).collect::<Vec<_>>(),
        vec![300, 300, 200, 200, 100, 100]
    );
    // Built for the archive only: it leaves the board within the hour.
    assert!(board.built_at(&key).await.unwrap().is_some());
}

/// At start-up (and at each upkeep) every finished week still on the board is
/// archived, once, by the instance holding the lease.
async fn archive_due_archives_each_finished_kept_week_once(board: Arc<dyn Leaderboard>) {
    let store = crate::common::embedded_store().await;
    let now = Utc::now();
    let archived = ArchivedWeeks::new(store.clone());
    // Another instance at it: nothing here.
    assert!(
        board
            .claim("archive", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        archive_due(store.clone(), board.as_ref(), &archived, now)
            .await
            .unwrap()
            .is_empty()
    );
    board.release("archive").await.unwrap();

    let reports = archive_due(store.clone(), board.as_ref(), &archived, now)
        .await
        .unwrap();

    let mut periods: Vec<String> = reports.iter().map(|r| r.period.clone()).collect();
    periods.sort();
    let mut due: Vec<String> = due_weeks(now).into_iter().map(Week::label).collect();
    due.sort();
    assert_eq!(periods, due);
    assert!(due.len() >= 3, "{due:?}");
    for week in due_weeks(now) {
        assert!(archived.get(week).await.unwrap().is_some());
    }
    assert!(
        archive_due(store.clone(), board.as_ref(), &archived, now)
            .await
            .unwrap()
            .is_empty(),
        "archived once"
    );
}

// ---- deleted learners ----

/// A learner whose account is being deleted (marked, ledger not yet retired) is not
/// put back on a board by a rebuild from the ledger.
async fn rebuild_leaves_deleted_learners_off(board: Arc<dyn Leaderboard>) {
    let store = crate::common::embedded_store().await;
    let (ann, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let now = Utc::now();
    store.record_xp(&entry(ann, "a1", 300, now)).await.unwrap();
    store.record_xp(&entry(bob, "b1", 100, now)).await.unwrap();
    store.mark_user_deleted(ann, now).await.unwrap();

    rebuild(store.clone(), board.as_ref(), &kept_boards(now))
        .await
        .unwrap();

    assert_eq!(ids(&everything(&board, "alltime").await), vec![bob]);
    let week = Board::Weekly(Week::of(now)).key();
    assert_eq!(ids(&everything(&board, &week).await), vec![bob]);
}

fn xp_service(
    store: &Arc<dyn questpath::ports::Store>,
    board: &Arc<dyn Leaderboard>,
) -> questpath::xp::XpService {
    let bus: Arc<dyn questpath::ports::Bus> =
        Arc::new(questpath::adapters::embedded::InProcessBus::new());
    questpath::xp::XpService::new(store.clone(), board.clone(), bus)
}

/// An apply that was already running when the account was marked deleted (here: its
/// grant is in the ledger, the mark comes before the apply writes the boards) takes
/// back what it wrote: the boards and the ledger end without the learner.
async fn an_apply_that_meets_a_deletion_takes_back_what_it_wrote(board: Arc<dyn Leaderboard>) {
    let store = crate::common::embedded_store().await;
    let xp = xp_service(&store, &board);
    let ann = Uuid::new_v4();
    let grant = |id: &str, amount| questpath_actors::rules::xp::XpGrant {
        grant_id: id.into(),
        amount,
        source: questpath_actors::rules::xp::XpSource::LevelFirstPass,
    };
    xp.grant(ann, &grant("first", 40)).await.unwrap();
    assert_eq!(
        board.entry("alltime", ann).await.unwrap().unwrap().score,
        40
    );
    store
        .record_xp(&entry(ann, "second", 60, Utc::now()))
        .await
        .unwrap();
    store.mark_user_deleted(ann, Utc::now()).await.unwrap();

    let total = xp.apply(ann).await.unwrap();

    assert_eq!(total, 0);
    assert_eq!(board.entry("alltime", ann).await.unwrap(), None);
    let week = Board::Weekly(Week::of(Utc::now())).key();
    assert_eq!(board.entry(&week, ann).await.unwrap(), None);
    assert!(store.xp_entries(ann).await.unwrap().is_empty());
    assert!(store.xp_pending(ann).await.unwrap().is_empty());
    // Later grants are refused and place nobody.
    let late = xp.grant(ann, &grant("third", 10)).await.unwrap();
    assert_eq!((late.earned, late.total_xp), (0, 0));
    assert_eq!(board.entry("alltime", ann).await.unwrap(), None);
}

async fn forgetting_xp_retires_the_ledger_and_leaves_every_board(board: Arc<dyn Leaderboard>) {
    let store = crate::common::embedded_store().await;
    let xp = xp_service(&store, &board);
    let (ann, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let last_week = Utc::now() - chrono::Duration::days(7);
    for (user, id, amount, at) in [
        (ann, "a1", 30, last_week),
        (ann, "a2", 20, Utc::now()),
        (bob, "b1", 25, Utc::now()),
    ] {
        store.record_xp(&entry(user, id, amount, at)).await.unwrap();
        let ledger = store.xp_entries(user).await.unwrap();
        let boards = standing::boards_for(&ledger, &[id.to_string()], Utc::now());
        board
            .apply(&standing::updates(user, &ledger, &boards))
            .await
            .unwrap();
    }
    let previous = Board::Weekly(Week::of(last_week)).key();
    assert!(board.entry(&previous, ann).await.unwrap().is_some());
    store.mark_user_deleted(ann, Utc::now()).await.unwrap();

    let retired = xp.forget(ann).await.unwrap().expect("a ledger to retire");

    assert_eq!((retired.entries, retired.total), (2, 50));
    for key in kept_boards(Utc::now()).iter().map(|b| b.key()) {
        assert_eq!(board.entry(&key, ann).await.unwrap(), None, "{key}");
    }
    assert_eq!(ids(&everything(&board, "alltime").await), vec![bob]);
    let moved: i64 = store
        .retired_xp(retired.retired_id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.amount)
        .sum();
    assert_eq!(moved, 50, "the XP ever granted still adds up");
    assert_eq!(xp.forget(ann).await.unwrap(), None, "once");
}

/// The archiver copies a board that still holds a learner whose deletion is under way;
/// once the week is marked, it makes them anonymous on it (their rank stays).
async fn archive_leaves_a_learner_deleted_meanwhile_anonymous(board: Arc<dyn Leaderboard>) {
    let store = crate::common::embedded_store().await;
    let week = Week::of(Utc::now()).previous();
    let key = Board::Weekly(week).key();
    let (ann, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let at = week.starts_at() + chrono::Duration::hours(1);
    board
        .apply(&[
            ScoreUpdate {
                board: key.clone(),
                user_id: ann,
                standing: Standing {
                    score: 90,
                    reached_at: at,
                    entries: 1,
                },
                expires_at: Some(week.expires_at()),
            },
            ScoreUpdate {
                board: key.clone(),
                user_id: bob,
                standing: Standing {
                    score: 50,
                    reached_at: at,
                    entries: 1,
                },
                expires_at: Some(week.expires_at()),
            },
        ])
        .await
        .unwrap();
    board
        .mark_built(&key, Utc::now(), Some(week.expires_at()))
        .await
        .unwrap();
    store.mark_user_deleted(ann, Utc::now()).await.unwrap();

    archive_week(store.clone(), board.as_ref(), week)
        .await
        .unwrap();

    let period = week.label();
    assert_eq!(store.archived_entry(&period, ann).await.unwrap(), None);
    let ranks = store.archived_entries(&period, 1, 10).await.unwrap();
    assert_eq!(ranks.len(), 2);
    assert_eq!((ranks[0].user_id, ranks[0].score), (Uuid::nil(), 90));
    assert_eq!((ranks[1].user_id, ranks[1].rank), (bob, 2));
}
