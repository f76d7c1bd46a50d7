//! The league store (`LeagueStore`) on every store: placement once per learner and
//! week, cohorts bounded and opened as learners arrive, also under concurrent callers;
//! memberships newest first; results; forgetting a learner.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use questpath::ports::Store;
use questpath_actors::domain::Tier;
use questpath_actors::ports::store::{CohortId, LeagueResult, LeagueWeek};
use uuid::Uuid;

crate::conformance!(
    embedded => crate::common::embedded_store(),
    cql => crate::common::scylla_store();
    [
        a_learner_is_placed_once_per_week,
        cohorts_fill_to_their_size_then_the_next_opens,
        concurrent_placements_never_overfill_a_cohort_nor_place_twice,
        memberships_read_newest_first_and_page_by_week,
        results_are_set_on_members_only_and_weeks_are_marked,
        forgetting_a_learner_removes_every_membership,
    ]
);

fn now() -> DateTime<Utc> {
    // Milliseconds, as both stores keep them.
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap()
}

/// A week label of this test's own (CQL tables are per keyspace, the embedded store per
/// folder; labels stay valid ISO weeks).
const WEEK: &str = "2031-W10";

fn cohort(week: &str, tier: Tier, number: u32) -> CohortId {
    CohortId {
        week: week.into(),
        tier,
        number,
    }
}

async fn a_learner_is_placed_once_per_week(store: Arc<dyn Store>) {
    let ada = Uuid::new_v4();
    let at = now();
    let first = store
        .place_in_league(ada, WEEK, Tier::Gold, 30, at)
        .await
        .unwrap();
    assert!(first.placed && first.opened);
    assert_eq!(first.membership.cohort, cohort(WEEK, Tier::Gold, 0));
    assert_eq!(first.membership.placed_at, at);
    assert_eq!(first.membership.result, None);
    // Again, even with another tier: the week's membership stands.
    let again = store
        .place_in_league(ada, WEEK, Tier::Silver, 30, now())
        .await
        .unwrap();
    assert!(!again.placed && !again.opened);
    assert_eq!(again.membership, first.membership);
    assert_eq!(
        store.league_membership(ada, WEEK).await.unwrap(),
        Some(first.membership.clone())
    );
    assert_eq!(
        store.league_membership(ada, "2031-W11").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .league_cohort_members(&first.membership.cohort)
            .await
            .unwrap(),
        vec![ada]
    );
    assert_eq!(
        store.league_cohort_count(WEEK, Tier::Gold).await.unwrap(),
        1
    );
    assert_eq!(
        store.league_cohort_count(WEEK, Tier::Ruby).await.unwrap(),
        0
    );
    // Another week is another placement.
    let next = store
        .place_in_league(ada, "2031-W11", Tier::Silver, 30, now())
        .await
        .unwrap();
    assert!(next.placed);
    assert_eq!(next.membership.cohort, cohort("2031-W11", Tier::Silver, 0));
}

async fn cohorts_fill_to_their_size_then_the_next_opens(store: Arc<dyn Store>) {
    let learners: Vec<Uuid> = (0..7).map(|_| Uuid::new_v4()).collect();
    let mut numbers = Vec::new();
    let mut opened = Vec::new();
    for &learner in &learners {
        let p = store
            .place_in_league(learner, WEEK, Tier::Bronze, 3, now())
            .await
            .unwrap();
        assert!(p.placed);
        numbers.push(p.membership.cohort.number);
        opened.push(p.opened);
    }
    assert_eq!(numbers, vec![0, 0, 0, 1, 1, 1, 2]);
    assert_eq!(opened, vec![true, false, false, true, false, false, true]);
    assert_eq!(
        store.league_cohort_count(WEEK, Tier::Bronze).await.unwrap(),
        3
    );
    let mut first: Vec<Uuid> = store
        .league_cohort_members(&cohort(WEEK, Tier::Bronze, 0))
        .await
        .unwrap();
    first.sort();
    let mut expected = learners[..3].to_vec();
    expected.sort();
    assert_eq!(first, expected);
    // Tiers fill their own cohorts.
    let other = store
        .place_in_league(Uuid::new_v4(), WEEK, Tier::Silver, 3, now())
        .await
        .unwrap();
    assert_eq!(other.membership.cohort, cohort(WEEK, Tier::Silver, 0));
}

async fn concurrent_placements_never_overfill_a_cohort_nor_place_twice(store: Arc<dyn Store>) {
    let learners: Vec<Uuid> = (0..24).map(|_| Uuid::new_v4()).collect();
    // Every learner asked for three times at once (three instances racing).
    let calls = learners
        .iter()
        .cycle()
        .take(learners.len() * 3)
        .map(|&learner| {
            let store = Arc::clone(&store);
            async move {
                store
                    .place_in_league(learner, WEEK, Tier::Ruby, 5, now())
                    .await
                    .unwrap()
            }
        });
    let placements = join_all(calls).await;
    let mut by_learner: HashMap<Uuid, HashSet<u32>> = HashMap::new();
    for p in &placements {
        by_learner
            .entry(p.membership.user_id)
            .or_default()
            .insert(p.membership.cohort.number);
    }
    assert_eq!(by_learner.len(), learners.len());
    assert!(
        by_learner.values().all(|cohorts| cohorts.len() == 1),
        "each learner is in one cohort whatever call answered"
    );
    let placed = placements.iter().filter(|p| p.placed).count();
    assert_eq!(placed, learners.len(), "one call per learner placed them");
    let count = store.league_cohort_count(WEEK, Tier::Ruby).await.unwrap();
    let mut listed = Vec::new();
    for number in 0..count {
        let members = store
            .league_cohort_members(&cohort(WEEK, Tier::Ruby, number))
            .await
            .unwrap();
        assert!(
            members.len() <= 5,
            "cohort {number} holds {}",
            members.len()
        );
        listed.extend(members);
    }
    listed.sort();
    let mut expected = learners.clone();
    expected.sort();
    assert_eq!(listed, expected, "every learner listed once");
    for &learner in &learners {
        let membership = store
            .league_membership(learner, WEEK)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            Some(&membership.cohort.number),
            by_learner[&learner].iter().next()
        );
    }
}

async fn memberships_read_newest_first_and_page_by_week(store: Arc<dyn Store>) {
    let ada = Uuid::new_v4();
    for week in ["2030-W52", "2031-W01", "2031-W02", "2030-W51"] {
        store
            .place_in_league(ada, week, Tier::Bronze, 30, now())
            .await
            .unwrap();
    }
    let weeks = |ms: Vec<questpath_actors::ports::store::LeagueMembership>| -> Vec<String> {
        ms.into_iter().map(|m| m.cohort.week).collect()
    };
    assert_eq!(
        weeks(store.league_memberships(ada, None, 10).await.unwrap()),
        vec!["2031-W02", "2031-W01", "2030-W52", "2030-W51"]
    );
    assert_eq!(
        weeks(store.league_memberships(ada, None, 2).await.unwrap()),
        vec!["2031-W02", "2031-W01"]
    );
    assert_eq!(
        weeks(
            store
                .league_memberships(ada, Some("2031-W01"), 10)
                .await
                .unwrap()
        ),
        vec!["2030-W52", "2030-W51"]
    );
    assert!(
        store
            .league_memberships(Uuid::new_v4(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn results_are_set_on_members_only_and_weeks_are_marked(store: Arc<dyn Store>) {
    let (ada, bob, stranger) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for learner in [ada, bob] {
        store
            .place_in_league(learner, WEEK, Tier::Gold, 30, now())
            .await
            .unwrap();
    }
    let won = LeagueResult {
        tier_after: Tier::Sapphire,
        rank: 1,
        xp: 120,
        cohort_size: 2,
    };
    let lost = LeagueResult {
        tier_after: Tier::Gold,
        rank: 2,
        xp: 0,
        cohort_size: 2,
    };
    let results = vec![(ada, won), (bob, lost), (stranger, won)];
    store.set_league_results(WEEK, &results).await.unwrap();
    // Again: the same rows.
    store.set_league_results(WEEK, &results).await.unwrap();
    let ada_week = store.league_membership(ada, WEEK).await.unwrap().unwrap();
    assert_eq!(ada_week.result, Some(won));
    assert_eq!(ada_week.cohort.tier, Tier::Gold);
    assert_eq!(
        store
            .league_membership(bob, WEEK)
            .await
            .unwrap()
            .unwrap()
            .result,
        Some(lost)
    );
    assert_eq!(store.league_membership(stranger, WEEK).await.unwrap(), None);
    assert!(
        store
            .league_memberships(stranger, None, 5)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(store.league_week(WEEK).await.unwrap(), None);
    let closed = LeagueWeek {
        week: WEEK.into(),
        cohorts: 1,
        learners: 2,
        closed_at: now(),
    };
    store.mark_league_week_closed(&closed).await.unwrap();
    assert_eq!(store.league_week(WEEK).await.unwrap(), Some(closed));
    assert_eq!(store.league_week("2031-W11").await.unwrap(), None);
}

async fn forgetting_a_learner_removes_every_membership(store: Arc<dyn Store>) {
    let (ada, bob) = (Uuid::new_v4(), Uuid::new_v4());
    for week in [WEEK, "2031-W11"] {
        for learner in [ada, bob] {
            store
                .place_in_league(learner, week, Tier::Emerald, 30, now())
                .await
                .unwrap();
        }
    }
    assert_eq!(store.forget_league_learner(ada).await.unwrap(), 2);
    assert!(
        store
            .league_memberships(ada, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    for week in [WEEK, "2031-W11"] {
        assert_eq!(
            store
                .league_cohort_members(&cohort(week, Tier::Emerald, 0))
                .await
                .unwrap(),
            vec![bob]
        );
    }
    assert_eq!(
        store.league_memberships(bob, None, 10).await.unwrap().len(),
        2
    );
    // Again: nothing left to remove.
    assert_eq!(store.forget_league_learner(ada).await.unwrap(), 0);
}
