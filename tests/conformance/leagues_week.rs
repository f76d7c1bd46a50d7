//! 200 learners over two league weeks on a manual clock, on both backends (the embedded
//! store with the in-process board; Cassandra with Redis), through two instances (each
//! its own leaderboard actor and leagues, one store and one board): every learner in
//! exactly one cohort, cohorts within their size, promotions and demotions as the
//! rules say from the ledger's standings, placement deferred while last week is being
//! decided, lost boards rebuilt from the ledger, and a rerun of a week's end changing
//! nothing.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use futures_util::{StreamExt, stream};
use questpath::adapters::embedded::InProcessBus;
use questpath::ports::{Bus, Leaderboard, PortError, Store, XpEntry};
use questpath_actors::clock::ManualClock;
use questpath_actors::domain::Tier;
use questpath_actors::leaderboard::standing::standing_on;
use questpath_actors::leaderboard::{ALL_TIME, Board, Leaderboards, Week};
use questpath_actors::leagues::week_end::GRACE;
use questpath_actors::leagues::{
    LeagueError, LeagueOutcome, LeagueOutcomes, Leagues, cohort_board,
};
use questpath_actors::ports::store::{CohortId, LeagueMembership, LeagueResult};
use uuid::Uuid;

const LEARNERS: usize = 200;

#[actix_web::test]
async fn a_week_of_200_learners_on_the_embedded_store() {
    // Boxed, like every large test future here: a test thread's stack is small.
    crate::common::with_cleanup(Box::pin(async {
        let store = crate::common::embedded_store().await;
        let port = crate::common::in_process_leaderboard().await;
        Box::pin(two_weeks_of_200_learners(store, port)).await;
    }))
    .await;
}

#[actix_web::test]
async fn a_week_of_200_learners_on_cassandra_and_redis() {
    crate::common::with_cleanup(Box::pin(async {
        let store = Box::pin(crate::common::scylla_store()).await;
        let port = crate::common::redis_leaderboard().await;
        Box::pin(two_weeks_of_200_learners(store, port)).await;
    }))
    .await;
}

#[actix_web::test]
async fn a_week_of_200_learners_on_cassandra_and_a_redis_cluster() {
    crate::common::with_cleanup(Box::pin(async {
        let store = Box::pin(crate::common::scylla_store()).await;
        let port = crate::common::redis_cluster_leaderboard().await;
        Box::pin(two_weeks_of_200_learners(store, port)).await;
    }))
    .await;
}

/// Keeps what the week's end hands out; refuses once when told to (a queue down).
#[derive(Default)]
struct Recorder {
    outcomes: Mutex<Vec<LeagueOutcome>>,
    refuse_once: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl LeagueOutcomes for Recorder {
    async fn league_outcomes(&self, outcomes: &[LeagueOutcome]) -> Result<(), PortError> {
        if self
            .refuse_once
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(PortError::new("test", "enqueue", "job queue down"));
        }
        self.outcomes.lock().unwrap().extend_from_slice(outcomes);
        Ok(())
    }
}

impl Recorder {
    fn of(&self, week: Week) -> Vec<LeagueOutcome> {
        self.outcomes
            .lock()
            .unwrap()
            .iter()
            .filter(|o| o.week == week)
            .copied()
            .collect()
    }
}

/// Counts the league metrics.
#[derive(Default)]
struct Counted {
    moves: Mutex<HashMap<&'static str, u64>>,
    formed: Mutex<u64>,
}

impl questpath_actors::observe::GameMetrics for Counted {
    fn league_moves(&self, moved: &'static str, count: u64) {
        *self.moves.lock().unwrap().entry(moved).or_default() += count;
    }
    fn league_cohort_formed(&self, _tier: &'static str) {
        *self.formed.lock().unwrap() += 1;
    }
}

impl Counted {
    fn moves(&self) -> (u64, u64, u64) {
        let moves = self.moves.lock().unwrap();
        let get = |m: &str| moves.get(m).copied().unwrap_or(0);
        (get("promoted"), get("demoted"), get("stayed"))
    }
}

/// Writes a grant to the ledger and applies it to the leagues as the XP service does
/// (pending until applied).
async fn grant(
    store: &Arc<dyn Store>,
    leagues: &Leagues,
    user_id: Uuid,
    grant_id: String,
    amount: i64,
    at: chrono::DateTime<Utc>,
) -> Result<(), LeagueError> {
    let entry = XpEntry {
        user_id,
        grant_id: grant_id.clone(),
        amount,
        source: "test".into(),
        created_at: at,
    };
    store.record_xp(&entry).await.unwrap();
    let entries = store.xp_entries(user_id).await.unwrap();
    leagues
        .apply_ledger(user_id, &entries, std::slice::from_ref(&grant_id))
        .await?;
    store.clear_xp_pending(user_id, &[grant_id]).await.unwrap();
    Ok(())
}

/// Every learner earns XP on six days of the week (learner `i` rests on day `i % 7`),
/// in amounts that vary by learner and day; sixteen grants at a time over both
/// instances.
async fn play_week(
    store: &Arc<dyn Store>,
    instances: &[Leagues],
    clock: &ManualClock,
    learners: &[Uuid],
    week: Week,
) {
    for day in 0..7i64 {
        clock.set(week.starts_at() + Duration::days(day) + Duration::hours(23));
        let grants = learners
            .iter()
            .enumerate()
            .filter(|(i, _)| (*i % 7) as i64 != day)
            .map(|(i, &user)| {
                let leagues = instances[i % instances.len()].clone();
                let store = Arc::clone(store);
                let amount =
                    ((i as i64 * 37 + day * 11 + week.starts_at().timestamp() / 604_800) % 50) + 1;
                let at = week.starts_at() + Duration::days(day) + Duration::seconds(i as i64 * 60);
                let grant_id = format!("test:{}:{day}", week.label());
                async move {
                    grant(&store, &leagues, user, grant_id, amount, at)
                        .await
                        .unwrap()
                }
            });
        stream::iter(grants)
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    }
}

/// Checks the week against the ledger and the rules, and returns each learner's next
/// tier.
async fn check_week(
    store: &Arc<dyn Store>,
    leagues: &Leagues,
    week: Week,
    learners: &[Uuid],
    tiers: &HashMap<Uuid, Tier>,
) -> HashMap<Uuid, Tier> {
    let label = week.label();
    // Every learner in exactly one cohort; cohorts within their size; no more cohorts
    // per tier than the learners of the tier need.
    let cohorts = leagues.cohorts(week).await.unwrap();
    let mut cohort_of: HashMap<Uuid, CohortId> = HashMap::new();
    let mut members_of: HashMap<CohortId, Vec<Uuid>> = HashMap::new();
    for cohort in &cohorts {
        let members = store.league_cohort_members(cohort).await.unwrap();
        assert!(
            !members.is_empty() && members.len() <= 30,
            "{} holds {}",
            cohort_board(cohort),
            members.len()
        );
        for &member in &members {
            assert!(
                cohort_of.insert(member, cohort.clone()).is_none(),
                "{member} is in two cohorts"
            );
        }
        members_of.insert(cohort.clone(), members);
    }
    assert_eq!(cohort_of.len(), learners.len(), "every learner placed");
    for tier in Tier::ALL {
        let in_tier = learners.iter().filter(|l| tiers[l] == tier).count();
        let formed = cohorts.iter().filter(|c| c.tier == tier).count();
        assert_eq!(formed, in_tier.div_ceil(30), "cohorts of {tier}");
    }

    let mut next = HashMap::new();
    for (cohort, members) in &members_of {
        // The ledger's standings, ranked as boards rank: XP, then who got there first,
        // then the user id.
        let mut standings = Vec::new();
        for &member in members {
            let entries = store.xp_entries(member).await.unwrap();
            let standing = standing_on(Board::Weekly(week), &entries).unwrap();
            standings.push((member, standing));
        }
        standings
            .sort_by_key(|(user, s)| (Reverse(s.score), s.reached_at.timestamp_millis(), *user));
        let size = standings.len() as u32;
        let promoted = if cohort.tier == Tier::Diamond {
            0
        } else {
            size.div_ceil(5)
        };
        let demoted = if cohort.tier == Tier::Bronze {
            0
        } else {
            size / 5
        };
        for (i, (user, standing)) in standings.iter().enumerate() {
            let rank = i as u32 + 1;
            let tier_after = if rank <= promoted {
                cohort.tier.up()
            } else if rank > size - demoted {
                cohort.tier.down()
            } else {
                cohort.tier
            };
            let membership = store
                .league_membership(*user, &label)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&membership.cohort, cohort);
            assert_eq!(
                membership.cohort.tier, tiers[user],
                "placed in the tier last week gave"
            );
            assert_eq!(
                membership.result,
                Some(LeagueResult {
                    tier_after,
                    rank,
                    xp: standing.score,
                    cohort_size: size,
                }),
                "{user} in {}",
                cohort_board(cohort)
            );
            next.insert(*user, tier_after);
        }
    }
    next
}

async fn snapshot(store: &Arc<dyn Store>, learners: &[Uuid]) -> Vec<Vec<LeagueMembership>> {
    let mut all = Vec::new();
    for &learner in learners {
        all.push(store.league_memberships(learner, None, 10).await.unwrap());
    }
    all
}

async fn two_weeks_of_200_learners(store: Arc<dyn Store>, port: Arc<dyn Leaderboard>) {
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    // A week to come, so boards (which expire weeks after their week) stay meanwhile.
    let first = Week::of(Utc::now()).next();
    let second = first.next();
    let clock = ManualClock::new(first.starts_at());
    let recorder = Arc::new(Recorder::default());
    let counted = Arc::new(Counted::default());
    let instances: Vec<Leagues> = (0..2)
        .map(|_| {
            let leaderboards =
                Leaderboards::start(Arc::clone(&store), Arc::clone(&port), Arc::clone(&bus));
            Leagues::new(Arc::clone(&store), leaderboards, Arc::clone(&bus))
                .with_clock(Arc::new(clock.clone()))
                .with_outcomes(recorder.clone())
                .with_metrics(counted.clone())
        })
        .collect();
    let learners: Vec<Uuid> = (0..LEARNERS).map(|_| Uuid::new_v4()).collect();

    // ---- week one: everyone starts in Bronze ----
    play_week(&store, &instances, &clock, &learners, first).await;
    let bronze: HashMap<Uuid, Tier> = learners.iter().map(|&l| (l, Tier::Bronze)).collect();

    // Monday, minutes after the week: not decided yet (the grace), and a learner who
    // played it is not placed in the new week until it is; their grant stays pending.
    clock.set(first.ends_at() + Duration::minutes(5));
    let ends = instances[0].close_due().await.unwrap();
    assert!(ends.iter().all(|e| e.week.week != first.label()));
    let early = grant(
        &store,
        &instances[0],
        learners[0],
        format!("test:{}:early", second.label()),
        5,
        second.starts_at() + Duration::minutes(1),
    )
    .await;
    assert!(
        matches!(early, Err(LeagueError::NotSettled(ref w)) if *w == first.label()),
        "{early:?}"
    );
    assert_eq!(
        store
            .league_membership(learners[0], &second.label())
            .await
            .unwrap(),
        None
    );

    // After the grace, one instance decides it; when the outcomes cannot be handed on,
    // the week stays open and the next run decides it (and hands them on) again.
    clock.set(first.ends_at() + GRACE + Duration::seconds(1));
    recorder
        .refuse_once
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(instances[1].close_due().await.is_err());
    assert_eq!(store.league_week(&first.label()).await.unwrap(), None);
    assert!(recorder.of(first).is_empty());
    let ends = instances[1].close_due().await.unwrap();
    let end = ends
        .iter()
        .find(|e| e.week.week == first.label())
        .expect("the week is decided");
    assert_eq!(end.week.learners, LEARNERS as u64);
    assert_eq!(end.week.cohorts, 7);
    assert_eq!((end.promoted, end.demoted, end.stayed), (40, 0, 160));
    assert!(!end.rebuilt);
    let after_first = check_week(&store, &instances[0], first, &learners, &bronze).await;
    let outcomes = recorder.of(first);
    assert_eq!(outcomes.len(), LEARNERS);
    for outcome in &outcomes {
        assert_eq!(outcome.tier_before, Tier::Bronze);
        assert_eq!(outcome.tier_after, after_first[&outcome.user_id]);
        let result = store
            .league_membership(outcome.user_id, &first.label())
            .await
            .unwrap()
            .unwrap()
            .result
            .unwrap();
        assert_eq!((outcome.rank, outcome.xp), (result.rank, result.xp));
    }

    // Rerunning the week's end changes nothing: nothing is due, and deciding the week
    // again by hand stores the same results and keeps its mark.
    let before = snapshot(&store, &learners).await;
    let mark = store.league_week(&first.label()).await.unwrap();
    assert!(instances[0].close_due().await.unwrap().is_empty());
    instances[0].close_week(first).await.unwrap();
    assert_eq!(snapshot(&store, &learners).await, before);
    assert_eq!(store.league_week(&first.label()).await.unwrap(), mark);
    assert_eq!(counted.moves(), (40, 0, 160), "moves counted once");
    assert_eq!(*counted.formed.lock().unwrap(), 7);

    // The deferred grant goes through now (as the XP recovery would retry it).
    let entries = store.xp_entries(learners[0]).await.unwrap();
    let pending = store.xp_pending(learners[0]).await.unwrap();
    assert_eq!(pending.len(), 1);
    instances[0]
        .apply_ledger(learners[0], &entries, &pending)
        .await
        .unwrap();
    store.clear_xp_pending(learners[0], &pending).await.unwrap();
    let placed = store
        .league_membership(learners[0], &second.label())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(placed.cohort.tier, after_first[&learners[0]]);

    // ---- week two: Silver and Bronze cohorts ----
    play_week(&store, &instances, &clock, &learners, second).await;
    // Redis loses everything (the cohort boards and the all-time board's mark): the
    // week's end rebuilds the cohort boards from the ledger first.
    for cohort in instances[0].cohorts(second).await.unwrap() {
        port.clear(&cohort_board(&cohort)).await.unwrap();
    }
    port.clear(ALL_TIME).await.unwrap();
    clock.set(second.ends_at() + GRACE + Duration::seconds(1));
    let ends = instances[0].close_due().await.unwrap();
    let end = ends
        .iter()
        .find(|e| e.week.week == second.label())
        .expect("the second week is decided");
    assert!(end.rebuilt);
    // 40 in Silver (30 + 10: 8 up, 8 down), 160 in Bronze (5 x 30 + 10: 32 up).
    assert_eq!(end.week.cohorts, 8);
    assert_eq!((end.promoted, end.demoted, end.stayed), (40, 8, 152));
    let after_second = check_week(&store, &instances[1], second, &learners, &after_first).await;
    let moved_down = learners
        .iter()
        .filter(|l| after_second[l] < after_first[l])
        .count();
    assert_eq!(moved_down, 8);
    assert_eq!(recorder.of(second).len(), LEARNERS);
    assert!(
        learners.iter().any(|l| after_second[l] == Tier::Gold),
        "Silver's top moved up to Gold"
    );

    let before = snapshot(&store, &learners).await;
    instances[1].close_week(second).await.unwrap();
    assert_eq!(snapshot(&store, &learners).await, before);
    assert_eq!(counted.moves(), (80, 8, 312));
    assert_eq!(*counted.formed.lock().unwrap(), 7 + 8);
}
