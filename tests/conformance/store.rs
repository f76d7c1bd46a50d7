//! Store conformance: users, profiles, credentials, Google links, refresh-token
//! families and tokens, sign-in failures, generation jobs, goals with their levels and
//! question banks, the XP ledger, the archive of past weekly boards, multiplayer room
//! results, saved quizzes.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use questpath::domain::roadmap::Difficulty;
use questpath::ports::store::{
    ArchivedEntry, ArchivedWeek, QuizQuestion, QuizSummary, RetiredXpEntry, RoomResult, SavedQuiz,
    XpEntry,
};
use questpath::ports::{
    GenerationJob, Goal, GoalStatus, JobStatus, Level, LevelStatus, LoginFailures, NewGoal,
    NewUser, ProfileUpdate, Question, RefreshFamily, RefreshToken, Store, StoreError, Topic, User,
};
use uuid::Uuid;

crate::conformance!(
    embedded => crate::common::embedded_store(),
    cql => crate::common::scylla_store();
    [
        ping_answers,
        created_user_reads_back_by_id_and_email,
        email_lookup_ignores_case_and_spaces,
        duplicate_email_is_a_conflict_whatever_its_case,
        concurrent_creates_of_one_email_let_exactly_one_win,
        unknown_user_is_none,
        profile_update_sets_and_clears_name_and_picture,
        profile_update_of_unknown_user_is_none_and_creates_nothing,
        password_hash_is_none_then_set_then_replaced,
        google_link_is_first_come_first_served,
        concurrent_google_links_agree_on_one_owner,
        refresh_family_is_created_read_extended_and_revoked,
        expired_refresh_family_is_absent,
        revoking_a_users_families_spares_other_users,
        refresh_token_reads_back_unused,
        refresh_token_is_consumed_exactly_once_by_concurrent_callers,
        consuming_an_unknown_token_is_false_and_creates_nothing,
        expired_refresh_token_reads_as_none,
        login_failures_are_counted_and_lock,
        concurrent_login_failures_are_all_counted,
        login_failures_start_over_after_the_window,
        lock_outlives_the_window,
        cleared_login_failures_are_gone,
        generation_job_is_created_read_and_updated,
        saved_goal_reads_back_exactly,
        saving_a_goal_again_is_idempotent_and_replaces_what_it_changed,
        a_level_saved_again_at_another_position_is_found_there,
        goals_of_user_are_paged_newest_first,
        deleted_goal_is_gone_with_its_levels_and_questions,
        topic_completion_is_set_cleared_and_repeatable,
        concurrent_topic_completions_are_all_kept,
        level_and_goal_status_are_set,
        xp_grant_is_recorded_once,
        concurrent_records_of_one_grant_write_it_once,
        xp_entries_are_exactly_what_was_recorded,
        total_xp_is_set_on_the_user_row,
        total_xp_of_unknown_user_creates_nothing,
        pending_grants_are_listed_until_cleared,
        pending_users_are_listed_once_up_to_the_limit,
        ledger_users_are_paged_each_once,
        room_result_reads_back_exactly,
        saving_a_room_result_again_is_idempotent_and_moves_its_list_entry,
        room_results_of_host_are_newest_first_without_the_document,
        unknown_room_result_is_none,
        archived_week_reads_back_by_page_and_by_learner,
        archive_pages_cross_partitions,
        rewriting_an_archive_is_idempotent,
        unarchived_week_answers_none,
        archived_weeks_are_listed_newest_first,
        saved_quiz_reads_back_exactly,
        creating_a_quiz_again_is_idempotent_and_not_counted_twice,
        quizzes_are_bounded_per_owner,
        quiz_update_replaces_the_content_and_keeps_the_identity,
        quizzes_of_owner_are_newest_first_without_questions,
        deleted_quiz_is_gone_and_only_its_owner_can_delete_it,
        deleted_account_is_gone_and_its_email_and_google_account_sign_up_again,
        deletion_marks_are_kept_once_and_listed,
        google_links_are_listed_and_a_deleted_owners_link_is_taken_over,
        a_profile_update_after_the_deletion_brings_no_account_back,
        refresh_families_of_a_user_are_listed_and_deleted,
        jobs_of_a_user_are_listed_newest_first_and_deleted,
        retiring_a_ledger_moves_it_anonymously_and_once,
        grants_of_a_deleted_user_are_refused,
        rooms_of_a_player_are_listed_newest_first_and_follow_rewrites,
        replacing_a_room_result_is_a_compare_and_set,
        a_room_whose_host_was_deleted_is_listed_for_nobody,
        forgetting_an_archived_learner_keeps_everyone_elses_rank,
        a_room_saved_after_a_deletion_leaves_the_deleted_anonymous,
    ]
);

fn unique_email() -> String {
    format!("learner-{}@Example.org", uuid::Uuid::new_v4().simple())
}

async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
}

async fn created_user_reads_back_by_id_and_email(store: Arc<dyn Store>) {
    let email = unique_email();
    let mut new = NewUser::new(&email);
    new.display_name = Some("Ada".into());
    new.picture = Some("https://example.org/a.png".into());
    let created_at = new.created_at;

    let user = store.create_user(new.clone()).await.expect("create");

    assert_eq!(user.id, new.id);
    assert_eq!(user.email, email.to_lowercase());
    assert_eq!(user.total_xp, 0);
    let by_id = store
        .user_by_id(user.id)
        .await
        .unwrap()
        .expect("found by id");
    assert_eq!(by_id.email, user.email);
    assert_eq!(by_id.display_name.as_deref(), Some("Ada"));
    assert_eq!(by_id.picture.as_deref(), Some("https://example.org/a.png"));
    // CQL timestamps keep milliseconds.
    assert_eq!(
        by_id.created_at.timestamp_millis(),
        created_at.timestamp_millis()
    );
    let by_email = store
        .user_by_email(&email)
        .await
        .unwrap()
        .expect("found by email");
    assert_eq!(by_email.id, user.id);
}

async fn email_lookup_ignores_case_and_spaces(store: Arc<dyn Store>) {
    let email = unique_email();
    let user = store.create_user(NewUser::new(&email)).await.unwrap();

    let shouted = format!("  {}  ", email.to_uppercase());
    let found = store.user_by_email(&shouted).await.unwrap().expect("found");

    assert_eq!(found.id, user.id);
}

async fn duplicate_email_is_a_conflict_whatever_its_case(store: Arc<dyn Store>) {
    let email = unique_email();
    let first = store.create_user(NewUser::new(&email)).await.unwrap();

    let again = store.create_user(NewUser::new(email.to_uppercase())).await;

    assert!(
        matches!(again, Err(StoreError::Conflict { what: "email" })),
        "{again:?}"
    );
    // The first account is untouched.
    let found = store.user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(found.id, first.id);
}

async fn concurrent_creates_of_one_email_let_exactly_one_win(store: Arc<dyn Store>) {
    let email = unique_email();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let new = NewUser::new(&email);
            tokio::spawn(async move { store.create_user(new).await })
        })
        .collect();

    let mut winners = Vec::new();
    let mut conflicts = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(user) => winners.push(user.id),
            Err(StoreError::Conflict { .. }) => conflicts += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    assert_eq!(winners.len(), 1, "exactly one create wins");
    assert_eq!(conflicts, 7);
    let found = store.user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(found.id, winners[0]);
}

async fn unknown_user_is_none(store: Arc<dyn Store>) {
    assert!(
        store
            .user_by_id(uuid::Uuid::new_v4())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .user_by_email(&unique_email())
            .await
            .unwrap()
            .is_none()
    );
}

// ---- helpers of the account and sign-in cases ----

/// Now, cut to milliseconds: what a CQL timestamp keeps, so values read back compare
/// equal on every adapter.
fn now_ms() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("valid time")
}

fn token_hash() -> String {
    // 64 hex digits, like a SHA-256.
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

fn unique_key(kind: &str) -> String {
    format!("{kind}:{}", Uuid::new_v4().simple())
}

async fn new_user(store: &Arc<dyn Store>) -> User {
    store
        .create_user(NewUser::new(unique_email()))
        .await
        .expect("create user")
}

fn family_of(user_id: Uuid, lifetime: Duration) -> RefreshFamily {
    let now = now_ms();
    RefreshFamily {
        family_id: Uuid::now_v7(),
        user_id,
        created_at: now,
        expires_at: now + lifetime,
        revoked: false,
    }
}

fn token_of(family: &RefreshFamily, lifetime: Duration) -> RefreshToken {
    let now = now_ms();
    RefreshToken {
        token_hash: token_hash(),
        user_id: family.user_id,
        family_id: family.family_id,
        issued_at: now,
        expires_at: now + lifetime,
        used_at: None,
    }
}

const WINDOW: Duration = Duration::minutes(15);

/// Locks from the third failure on, one minute per failure.
fn lock_from_third(count: u32) -> Option<Duration> {
    (count >= 3).then(|| Duration::minutes(i64::from(count)))
}

fn never_lock(_count: u32) -> Option<Duration> {
    None
}

/// Locks for an hour from the second failure on: longer than the window.
fn lock_for_an_hour(count: u32) -> Option<Duration> {
    (count >= 2).then_some(Duration::hours(1))
}

// ---- profile ----

async fn profile_update_sets_and_clears_name_and_picture(store: Arc<dyn Store>) {
    let mut new = NewUser::new(unique_email());
    new.display_name = Some("Ada".into());
    let created = store.create_user(new).await.unwrap();

    let set = store
        .update_profile(
            created.id,
            ProfileUpdate {
                display_name: Some(Some("Grace".into())),
                picture: Some(Some("https://example.org/g.png".into())),
            },
        )
        .await
        .unwrap()
        .expect("known user");
    assert_eq!(set.display_name.as_deref(), Some("Grace"));
    assert_eq!(set.picture.as_deref(), Some("https://example.org/g.png"));
    assert_eq!(
        store.user_by_id(created.id).await.unwrap().as_ref(),
        Some(&set)
    );

    // Only the picture is cleared; the name is left as it is.
    let cleared = store
        .update_profile(
            created.id,
            ProfileUpdate {
                display_name: None,
                picture: Some(None),
            },
        )
        .await
        .unwrap()
        .expect("known user");
    assert_eq!(cleared.display_name.as_deref(), Some("Grace"));
    assert_eq!(cleared.picture, None);

    let cleared_name = store
        .update_profile(
            created.id,
            ProfileUpdate {
                display_name: Some(None),
                picture: None,
            },
        )
        .await
        .unwrap()
        .expect("known user");
    assert_eq!(cleared_name.display_name, None);

    let read = store.user_by_id(created.id).await.unwrap().expect("found");
    assert_eq!(read.display_name, None);
    assert_eq!(read.picture, None);
    // Other fields untouched.
    assert_eq!(read.id, created.id);
    assert_eq!(read.email, created.email);
    assert_eq!(read.total_xp, created.total_xp);
    assert_eq!(
        read.created_at.timestamp_millis(),
        created.created_at.timestamp_millis()
    );
    assert_eq!(
        store
            .user_by_email(&created.email)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(created.id)
    );

    // An empty update changes nothing and returns the user.
    let same = store
        .update_profile(created.id, ProfileUpdate::default())
        .await
        .unwrap()
        .expect("known user");
    assert_eq!(same, read);
}

async fn profile_update_of_unknown_user_is_none_and_creates_nothing(store: Arc<dyn Store>) {
    let id = Uuid::new_v4();
    let update = ProfileUpdate {
        display_name: Some(Some("Ghost".into())),
        picture: Some(Some("https://example.org/x.png".into())),
    };

    assert!(store.update_profile(id, update).await.unwrap().is_none());
    assert!(store.user_by_id(id).await.unwrap().is_none());
}

// ---- credentials ----

async fn password_hash_is_none_then_set_then_replaced(store: Arc<dyn Store>) {
    let user = new_user(&store).await;
    let other = new_user(&store).await;
    assert_eq!(store.password_hash(user.id).await.unwrap(), None);

    let first = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
    store.set_password_hash(user.id, first).await.unwrap();
    assert_eq!(
        store.password_hash(user.id).await.unwrap().as_deref(),
        Some(first)
    );

    let second = "$argon2id$v=19$m=65536,t=3,p=1$bmV3c2FsdA$bmV3aGFzaA";
    store.set_password_hash(user.id, second).await.unwrap();
    assert_eq!(
        store.password_hash(user.id).await.unwrap().as_deref(),
        Some(second)
    );
    assert_eq!(store.password_hash(other.id).await.unwrap(), None);
}

// ---- Google ----

async fn google_link_is_first_come_first_served(store: Arc<dyn Store>) {
    let first = new_user(&store).await;
    let second = new_user(&store).await;
    let sub = format!("google-{}", Uuid::new_v4().simple());
    assert!(store.user_by_google(&sub).await.unwrap().is_none());

    assert_eq!(store.link_google(&sub, first.id).await.unwrap(), first.id);
    // Linking again, to anyone, returns the first owner and changes nothing.
    assert_eq!(store.link_google(&sub, second.id).await.unwrap(), first.id);
    assert_eq!(store.link_google(&sub, first.id).await.unwrap(), first.id);

    let linked = store.user_by_google(&sub).await.unwrap().expect("linked");
    assert_eq!(linked.id, first.id);
    assert_eq!(linked.email, first.email);
    let other_sub = format!("google-{}", Uuid::new_v4().simple());
    assert!(store.user_by_google(&other_sub).await.unwrap().is_none());
}

async fn concurrent_google_links_agree_on_one_owner(store: Arc<dyn Store>) {
    let sub = format!("google-{}", Uuid::new_v4().simple());
    let mut users = Vec::new();
    for _ in 0..8 {
        users.push(new_user(&store).await.id);
    }
    let links: Vec<_> = users
        .iter()
        .map(|&id| {
            let store = store.clone();
            let sub = sub.clone();
            tokio::spawn(async move { store.link_google(&sub, id).await })
        })
        .collect();

    let mut owners = Vec::new();
    for link in links {
        owners.push(link.await.unwrap().expect("link"));
    }

    let owner = owners[0];
    assert!(users.contains(&owner));
    assert!(owners.iter().all(|o| *o == owner), "{owners:?}");
    assert_eq!(
        store.user_by_google(&sub).await.unwrap().map(|u| u.id),
        Some(owner)
    );
}

// ---- refresh families ----

async fn refresh_family_is_created_read_extended_and_revoked(store: Arc<dyn Store>) {
    let user = new_user(&store).await;
    let family = family_of(user.id, Duration::days(30));
    assert!(
        store
            .refresh_family(family.family_id)
            .await
            .unwrap()
            .is_none()
    );

    store.create_refresh_family(&family).await.unwrap();
    assert_eq!(
        store.refresh_family(family.family_id).await.unwrap(),
        Some(family.clone())
    );
    let again = store.create_refresh_family(&family).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );

    let later = family.expires_at + Duration::days(7);
    store
        .extend_refresh_family(family.family_id, later)
        .await
        .unwrap();
    let extended = store
        .refresh_family(family.family_id)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(extended.expires_at, later);
    assert_eq!(extended.created_at, family.created_at);
    assert_eq!(extended.user_id, user.id);
    assert!(!extended.revoked);

    store.revoke_refresh_family(family.family_id).await.unwrap();
    let revoked = store
        .refresh_family(family.family_id)
        .await
        .unwrap()
        .expect("a revoked family is still readable");
    assert!(revoked.revoked);
    assert_eq!(revoked.expires_at, later);

    // Revoking twice is fine; extending never undoes a revocation.
    store.revoke_refresh_family(family.family_id).await.unwrap();
    store
        .extend_refresh_family(family.family_id, later + Duration::days(1))
        .await
        .unwrap();
    let still = store
        .refresh_family(family.family_id)
        .await
        .unwrap()
        .expect("still there");
    assert!(still.revoked);

    // Unknown families: nothing to do, nothing created.
    let unknown = Uuid::new_v4();
    store.extend_refresh_family(unknown, later).await.unwrap();
    store.revoke_refresh_family(unknown).await.unwrap();
    assert!(store.refresh_family(unknown).await.unwrap().is_none());
}

async fn expired_refresh_family_is_absent(store: Arc<dyn Store>) {
    let user = new_user(&store).await;
    let mut family = family_of(user.id, Duration::days(1));
    family.created_at -= Duration::days(2);
    family.expires_at = now_ms() - Duration::seconds(1);

    store.create_refresh_family(&family).await.unwrap();

    assert!(
        store
            .refresh_family(family.family_id)
            .await
            .unwrap()
            .is_none()
    );
    // Neither extended back to life nor counted as revoked.
    store
        .extend_refresh_family(family.family_id, now_ms() + Duration::days(1))
        .await
        .unwrap();
    assert!(
        store
            .refresh_family(family.family_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.revoke_user_refresh_families(user.id).await.unwrap(),
        0
    );
}

async fn revoking_a_users_families_spares_other_users(store: Arc<dyn Store>) {
    let user = new_user(&store).await;
    let other = new_user(&store).await;
    let mine: Vec<_> = (0..3)
        .map(|_| family_of(user.id, Duration::days(30)))
        .collect();
    let theirs = family_of(other.id, Duration::days(30));
    for family in mine.iter().chain([&theirs]) {
        store.create_refresh_family(family).await.unwrap();
    }
    // One of the user's families was already revoked: not counted again.
    store
        .revoke_refresh_family(mine[0].family_id)
        .await
        .unwrap();

    let revoked = store.revoke_user_refresh_families(user.id).await.unwrap();

    assert_eq!(revoked, 2);
    for family in &mine {
        let read = store
            .refresh_family(family.family_id)
            .await
            .unwrap()
            .expect("still readable");
        assert!(read.revoked, "{read:?}");
    }
    let spared = store
        .refresh_family(theirs.family_id)
        .await
        .unwrap()
        .expect("other user's family");
    assert!(!spared.revoked);
    assert_eq!(
        store.revoke_user_refresh_families(user.id).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .revoke_user_refresh_families(Uuid::new_v4())
            .await
            .unwrap(),
        0
    );
}

// ---- refresh tokens ----

async fn refresh_token_reads_back_unused(store: Arc<dyn Store>) {
    let user = new_user(&store).await;
    let family = family_of(user.id, Duration::days(30));
    store.create_refresh_family(&family).await.unwrap();
    let token = token_of(&family, Duration::days(30));
    assert!(
        store
            .refresh_token(&token.token_hash)
            .await
            .unwrap()
            .is_none()
    );

    store.insert_refresh_token(&token).await.unwrap();

    assert_eq!(
        store.refresh_token(&token.token_hash).await.unwrap(),
        Some(token.clone())
    );
    assert!(store.refresh_token(&token_hash()).await.unwrap().is_none());
}

async fn refresh_token_is_consumed_exactly_once_by_concurrent_callers(store: Arc<dyn Store>) {
    let user = new_user(&store).await;
    let family = family_of(user.id, Duration::days(30));
    store.create_refresh_family(&family).await.unwrap();
    let token = token_of(&family, Duration::days(30));
    store.insert_refresh_token(&token).await.unwrap();
    let at = now_ms();

    let consumers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let hash = token.token_hash.clone();
            tokio::spawn(async move {
                store
                    .consume_refresh_token(&hash, at + Duration::milliseconds(i))
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for consumer in consumers {
        if consumer.await.unwrap().expect("consume") {
            winners += 1;
        }
    }

    assert_eq!(winners, 1, "exactly one consumer wins");
    let used = store
        .refresh_token(&token.token_hash)
        .await
        .unwrap()
        .expect("a used token stays readable, for reuse detection");
    let used_at = used.used_at.expect("marked used");
    assert!(used_at >= at && used_at < at + Duration::milliseconds(8));
    assert_eq!(used.expires_at, token.expires_at);
    assert!(
        !store
            .consume_refresh_token(&token.token_hash, now_ms())
            .await
            .unwrap()
    );
    // Storing the same token again does not make it usable again.
    store.insert_refresh_token(&token).await.unwrap();
    assert!(
        !store
            .consume_refresh_token(&token.token_hash, now_ms())
            .await
            .unwrap()
    );
}

async fn consuming_an_unknown_token_is_false_and_creates_nothing(store: Arc<dyn Store>) {
    let hash = token_hash();

    assert!(!store.consume_refresh_token(&hash, now_ms()).await.unwrap());

    assert!(store.refresh_token(&hash).await.unwrap().is_none());
    assert!(!store.consume_refresh_token(&hash, now_ms()).await.unwrap());
}

async fn expired_refresh_token_reads_as_none(store: Arc<dyn Store>) {
    let user = new_user(&store).await;
    let family = family_of(user.id, Duration::days(30));
    store.create_refresh_family(&family).await.unwrap();
    let token = token_of(&family, Duration::seconds(2));
    store.insert_refresh_token(&token).await.unwrap();
    assert!(
        store
            .refresh_token(&token.token_hash)
            .await
            .unwrap()
            .is_some()
    );

    tokio::time::sleep(std::time::Duration::from_secs(3)).await;

    assert!(
        store
            .refresh_token(&token.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !store
            .consume_refresh_token(&token.token_hash, now_ms())
            .await
            .unwrap()
    );
    assert!(
        store
            .refresh_token(&token.token_hash)
            .await
            .unwrap()
            .is_none()
    );
}

// ---- sign-in failures ----

async fn login_failures_are_counted_and_lock(store: Arc<dyn Store>) {
    let key = unique_key("account");
    let start = now_ms();
    assert!(
        store
            .login_failures(&key, start, WINDOW)
            .await
            .unwrap()
            .is_none()
    );

    let mut states = Vec::new();
    for i in 0..4 {
        let at = start + Duration::seconds(i);
        states.push(
            store
                .record_login_failure(&key, at, WINDOW, lock_from_third)
                .await
                .unwrap(),
        );
    }

    let counts: Vec<u32> = states.iter().map(|s| s.count).collect();
    assert_eq!(counts, [1, 2, 3, 4]);
    assert!(states.iter().all(|s| s.first_at == start));
    assert_eq!(states[1].last_at, start + Duration::seconds(1));
    assert_eq!(states[1].locked_until, None);
    assert_eq!(
        states[2].locked_until,
        Some(start + Duration::seconds(2) + Duration::minutes(3))
    );
    assert_eq!(
        states[3].locked_until,
        Some(start + Duration::seconds(3) + Duration::minutes(4))
    );
    let read = store
        .login_failures(&key, start + Duration::seconds(4), WINDOW)
        .await
        .unwrap();
    assert_eq!(read.as_ref(), Some(&states[3]));
    // Keys are counted apart.
    let other = unique_key("address");
    let first = store
        .record_login_failure(&other, start, WINDOW, lock_from_third)
        .await
        .unwrap();
    assert_eq!(first.count, 1);
}

async fn concurrent_login_failures_are_all_counted(store: Arc<dyn Store>) {
    let key = unique_key("account");
    let now = now_ms();

    let failures: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                store
                    .record_login_failure(&key, now, WINDOW, never_lock)
                    .await
            })
        })
        .collect();
    let mut counts = Vec::new();
    for failure in failures {
        counts.push(failure.await.unwrap().expect("counted").count);
    }

    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=8).collect::<Vec<u32>>(),
        "each failure counted once"
    );
    let read = store
        .login_failures(&key, now, WINDOW)
        .await
        .unwrap()
        .expect("current");
    assert_eq!(read.count, 8);
}

async fn login_failures_start_over_after_the_window(store: Arc<dyn Store>) {
    let key = unique_key("account");
    let start = now_ms();
    for _ in 0..2 {
        store
            .record_login_failure(&key, start, WINDOW, never_lock)
            .await
            .unwrap();
    }
    // At the window's very end the failures still count.
    let at_end = start + WINDOW;
    let third = store
        .record_login_failure(&key, at_end, WINDOW, never_lock)
        .await
        .unwrap();
    assert_eq!((third.count, third.first_at), (3, start));

    let after = at_end + Duration::milliseconds(1);
    assert!(
        store
            .login_failures(&key, after, WINDOW)
            .await
            .unwrap()
            .is_none()
    );
    let restarted = store
        .record_login_failure(&key, after, WINDOW, never_lock)
        .await
        .unwrap();

    assert_eq!(
        restarted,
        LoginFailures {
            count: 1,
            first_at: after,
            last_at: after,
            locked_until: None,
        }
    );
    assert_eq!(
        store.login_failures(&key, after, WINDOW).await.unwrap(),
        Some(restarted)
    );
}

async fn lock_outlives_the_window(store: Arc<dyn Store>) {
    let key = unique_key("account");
    let start = now_ms();
    store
        .record_login_failure(&key, start, WINDOW, lock_for_an_hour)
        .await
        .unwrap();
    let locked = store
        .record_login_failure(&key, start, WINDOW, lock_for_an_hour)
        .await
        .unwrap();
    let until = start + Duration::hours(1);
    assert_eq!(locked.locked_until, Some(until));

    // Past the window but inside the lock: still reported, and a new count keeps it.
    let later = start + WINDOW + Duration::minutes(1);
    let read = store
        .login_failures(&key, later, WINDOW)
        .await
        .unwrap()
        .expect("locked");
    assert_eq!(read.locked_until, Some(until));
    let restarted = store
        .record_login_failure(&key, later, WINDOW, lock_for_an_hour)
        .await
        .unwrap();
    assert_eq!(restarted.count, 1);
    assert_eq!(restarted.first_at, later);
    assert_eq!(restarted.locked_until, Some(until));

    // Once both the window and the lock are over, nothing is current.
    let much_later = until + WINDOW + Duration::seconds(1);
    assert!(
        store
            .login_failures(&key, much_later, WINDOW)
            .await
            .unwrap()
            .is_none()
    );
}

async fn cleared_login_failures_are_gone(store: Arc<dyn Store>) {
    let key = unique_key("account");
    let now = now_ms();
    for _ in 0..3 {
        store
            .record_login_failure(&key, now, WINDOW, lock_from_third)
            .await
            .unwrap();
    }

    store.clear_login_failures(&key).await.unwrap();

    assert!(
        store
            .login_failures(&key, now, WINDOW)
            .await
            .unwrap()
            .is_none()
    );
    let fresh = store
        .record_login_failure(&key, now, WINDOW, lock_from_third)
        .await
        .unwrap();
    assert_eq!(fresh.count, 1);
    assert_eq!(fresh.locked_until, None);
    // Clearing an unknown key is fine.
    store
        .clear_login_failures(&unique_key("account"))
        .await
        .unwrap();
}

// ---- generation jobs ----

fn job_of(user_id: Uuid) -> GenerationJob {
    let now = now_ms();
    GenerationJob {
        id: Uuid::now_v7(),
        user_id,
        goal_id: Uuid::now_v7(),
        description: "I want to learn to build web servers in Rust".into(),
        status: JobStatus::Queued,
        step: None,
        reason: None,
        attempts: 0,
        created_at: now,
        updated_at: now,
    }
}

async fn generation_job_is_created_read_and_updated(store: Arc<dyn Store>) {
    let job = job_of(Uuid::now_v7());
    assert_eq!(store.job(job.id).await.unwrap(), None);

    store.create_job(&job).await.unwrap();
    assert_eq!(store.job(job.id).await.unwrap(), Some(job.clone()));

    // Only status, step, reason, attempts and updated_at change; whatever else the
    // caller passes is ignored.
    let mut running = job.clone();
    running.status = JobStatus::Running;
    running.step = Some("generating".into());
    running.attempts = 1;
    running.updated_at = job.created_at + Duration::seconds(2);
    let mut stray = running.clone();
    stray.description = "something else".into();
    stray.user_id = Uuid::now_v7();
    stray.created_at = job.created_at - Duration::days(1);
    store.update_job(&stray).await.unwrap();
    assert_eq!(store.job(job.id).await.unwrap(), Some(running.clone()));

    // Absent step and reason are replaced too (cleared, set).
    let mut failed = running.clone();
    failed.status = JobStatus::Failed;
    failed.step = None;
    failed.reason = Some("the generator timed out".into());
    failed.attempts = 3;
    failed.updated_at = running.updated_at + Duration::milliseconds(1500);
    store.update_job(&failed).await.unwrap();
    assert_eq!(store.job(job.id).await.unwrap(), Some(failed.clone()));

    // Jobs are kept apart; updating an unknown job creates none.
    let other = job_of(job.user_id);
    store.create_job(&other).await.unwrap();
    assert_eq!(store.job(other.id).await.unwrap(), Some(other));
    assert_eq!(store.job(job.id).await.unwrap(), Some(failed));
    let unknown = job_of(job.user_id);
    store.update_job(&unknown).await.unwrap();
    assert_eq!(store.job(unknown.id).await.unwrap(), None);
}

// ---- goals, levels, questions ----

/// A goal of `user_id` as a generation job saves it: `levels` levels of `topics`
/// topics and `questions` questions each, the first level unlocked, ids fixed.
fn goal_of(user_id: Uuid, levels: u32, topics: usize, questions: u32) -> NewGoal {
    let goal = Goal {
        id: Uuid::now_v7(),
        user_id,
        job_id: Uuid::now_v7(),
        title: "Build web servers in Rust".into(),
        description: "I know some Python and want to write fast servers".into(),
        category: "programming".into(),
        difficulty: Difficulty::Intermediate,
        status: GoalStatus::NotStarted,
        roadmap_id: Uuid::new_v4(),
        roadmap_name: "Rust servers".into(),
        level_count: levels,
        created_at: now_ms(),
    };
    let levels: Vec<Level> = (1..=levels)
        .map(|order| Level {
            id: Uuid::new_v4(),
            goal_id: goal.id,
            user_id,
            order,
            title: format!("Level {order}"),
            description: format!("What level {order} teaches"),
            xp_reward: 100 + order * 25,
            status: if order == 1 {
                LevelStatus::Unlocked
            } else {
                LevelStatus::Locked
            },
            topics: (0..topics)
                .map(|t| Topic {
                    name: format!("Topic {order}.{t}"),
                    explanation: format!("Why topic {order}.{t} matters"),
                    completed: false,
                })
                .collect(),
        })
        .collect();
    let questions = levels
        .iter()
        .flat_map(|level| {
            (0..questions).map(move |index| Question {
                id: Uuid::new_v4(),
                level_id: level.id,
                index,
                question: format!("Question {index} of {}?", level.title),
                options: (0..4).map(|o| format!("Option {o} of {index}")).collect(),
                answer: u8::try_from(index % 4).expect("below 4"),
                explanation: format!("Because of {index}"),
            })
        })
        .collect();
    NewGoal {
        goal,
        levels,
        questions,
    }
}

/// The bank of one level of `new`, in index order.
fn bank_of(new: &NewGoal, level_id: Uuid) -> Vec<Question> {
    let mut bank: Vec<Question> = new
        .questions
        .iter()
        .filter(|q| q.level_id == level_id)
        .cloned()
        .collect();
    bank.sort_by_key(|q| q.index);
    bank
}

/// Asserts that everything of `new` reads back exactly.
async fn assert_goal_stored(store: &Arc<dyn Store>, new: &NewGoal) {
    assert_eq!(
        store.goal(new.goal.id).await.unwrap().as_ref(),
        Some(&new.goal)
    );
    let mut levels = new.levels.clone();
    levels.sort_by_key(|l| l.order);
    assert_eq!(store.levels(new.goal.id).await.unwrap(), levels);
    for level in &levels {
        assert_eq!(store.level(level.id).await.unwrap().as_ref(), Some(level));
        assert_eq!(
            store.questions(level.id).await.unwrap(),
            bank_of(new, level.id)
        );
    }
}

/// Asserts that nothing of `new` can be read any more.
async fn assert_goal_gone(store: &Arc<dyn Store>, new: &NewGoal) {
    assert_eq!(store.goal(new.goal.id).await.unwrap(), None);
    assert_eq!(store.levels(new.goal.id).await.unwrap(), []);
    for level in &new.levels {
        assert_eq!(store.level(level.id).await.unwrap(), None);
        assert_eq!(store.questions(level.id).await.unwrap(), []);
    }
    let listed = store
        .goals_of_user(new.goal.user_id, None, 100)
        .await
        .unwrap();
    assert!(
        listed.items.iter().all(|g| g.id != new.goal.id),
        "{listed:?}"
    );
}

async fn saved_goal_reads_back_exactly(store: Arc<dyn Store>) {
    let user = Uuid::now_v7();
    let mut new = goal_of(user, 3, 5, 6);
    // Saved out of order, with some progress already there: read back in order, as is.
    new.levels.reverse();
    new.questions.reverse();
    new.levels[1].topics[2].completed = true;
    new.levels[1].status = LevelStatus::InProgress;
    new.goal.status = GoalStatus::InProgress;

    store.save_goal(&new).await.unwrap();

    assert_goal_stored(&store, &new).await;
    let levels = store.levels(new.goal.id).await.unwrap();
    assert_eq!(
        levels.iter().map(|l| l.order).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(levels[1].topics[2].completed);
    assert_eq!(
        store
            .questions(levels[0].id)
            .await
            .unwrap()
            .iter()
            .map(|q| q.index)
            .collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5]
    );
    let listed = store.goals_of_user(user, None, 10).await.unwrap();
    assert_eq!(listed.items, std::slice::from_ref(&new.goal));
    assert_eq!(listed.next, None);
    // Unknown ids read as nothing.
    assert_eq!(store.goal(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(store.levels(Uuid::now_v7()).await.unwrap(), []);
    assert_eq!(store.level(Uuid::new_v4()).await.unwrap(), None);
    assert_eq!(store.questions(Uuid::new_v4()).await.unwrap(), []);
}

async fn saving_a_goal_again_is_idempotent_and_replaces_what_it_changed(store: Arc<dyn Store>) {
    let user = Uuid::now_v7();
    let new = goal_of(user, 4, 4, 8);

    store.save_goal(&new).await.unwrap();
    store.save_goal(&new).await.unwrap();

    assert_goal_stored(&store, &new).await;
    let listed = store.goals_of_user(user, None, 10).await.unwrap();
    assert_eq!(listed.items, std::slice::from_ref(&new.goal), "listed once");

    // A retry that generated less: same goal, one level fewer, shorter banks, and the
    // last level under a new id. What the first save wrote beyond it is gone.
    let mut retried = new.clone();
    let dropped = retried.levels.pop().expect("four levels");
    let renamed_old = retried.levels[2].clone();
    let renamed_new = Uuid::new_v4();
    retried.levels[2].id = renamed_new;
    retried.levels[2].title = "Level 3, again".into();
    retried.goal.level_count = 3;
    retried
        .questions
        .retain(|q| q.level_id != dropped.id && q.index < 5);
    for question in &mut retried.questions {
        if question.level_id == renamed_old.id {
            question.level_id = renamed_new;
        }
    }
    store.save_goal(&retried).await.unwrap();

    assert_goal_stored(&store, &retried).await;
    assert_eq!(store.levels(new.goal.id).await.unwrap().len(), 3);
    for gone in [&dropped, &renamed_old] {
        assert_eq!(store.level(gone.id).await.unwrap(), None);
        assert_eq!(store.questions(gone.id).await.unwrap(), []);
    }
    assert_eq!(
        store.questions(retried.levels[0].id).await.unwrap().len(),
        5
    );
    let listed = store.goals_of_user(user, None, 10).await.unwrap();
    assert_eq!(listed.items, std::slice::from_ref(&retried.goal));
}

async fn a_level_saved_again_at_another_position_is_found_there(store: Arc<dyn Store>) {
    let user = Uuid::now_v7();
    let new = goal_of(user, 3, 3, 5);
    store.save_goal(&new).await.unwrap();
    let (first, second) = (new.levels[0].clone(), new.levels[1].clone());
    // Read once: an adapter may remember where each level is.
    assert_eq!(store.level(first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.level(second.id).await.unwrap(), Some(second.clone()));

    // Saved again with the first two levels swapped.
    let mut swapped = new.clone();
    swapped.levels[0].order = second.order;
    swapped.levels[1].order = first.order;
    store.save_goal(&swapped).await.unwrap();

    let moved = store.level(first.id).await.unwrap().expect("still found");
    assert_eq!(moved.order, second.order);
    assert_eq!(moved.title, first.title);
    let other = store.level(second.id).await.unwrap().expect("still found");
    assert_eq!(other.order, first.order);
}

async fn goals_of_user_are_paged_newest_first(store: Arc<dyn Store>) {
    let user = Uuid::now_v7();
    let other = Uuid::now_v7();
    // Five goals, ids (UUID v7) in creation order; saved in another order.
    let goals: Vec<NewGoal> = (0..5).map(|_| goal_of(user, 3, 3, 5)).collect();
    let theirs = goal_of(other, 3, 3, 5);
    for i in [2, 0, 4, 1, 3] {
        store.save_goal(&goals[i]).await.unwrap();
    }
    store.save_goal(&theirs).await.unwrap();
    let newest_first: Vec<Goal> = goals.iter().rev().map(|g| g.goal.clone()).collect();

    let first = store.goals_of_user(user, None, 2).await.unwrap();
    assert_eq!(first.items, newest_first[0..2]);
    let cursor = first.next.expect("more after the first page");
    let second = store.goals_of_user(user, Some(cursor), 2).await.unwrap();
    assert_eq!(second.items, newest_first[2..4]);
    let cursor = second.next.expect("more after the second page");
    let third = store.goals_of_user(user, Some(cursor), 2).await.unwrap();
    assert_eq!(third.items, newest_first[4..5]);
    assert_eq!(third.next, None, "the third page is the last");

    // One page holding everything has no next; a page ending exactly at the last goal
    // has none either.
    let all = store.goals_of_user(user, None, 100).await.unwrap();
    assert_eq!(all.items, newest_first);
    assert_eq!(all.next, None);
    let exact = store.goals_of_user(user, None, 5).await.unwrap();
    assert_eq!(exact.items, newest_first);
    assert_eq!(exact.next, None);

    // Other users' goals are never listed; a user without goals has an empty list.
    let their_list = store.goals_of_user(other, None, 10).await.unwrap();
    assert_eq!(their_list.items, std::slice::from_ref(&theirs.goal));
    let nobody = store.goals_of_user(Uuid::now_v7(), None, 10).await.unwrap();
    assert_eq!(nobody.items, []);
    assert_eq!(nobody.next, None);
}

async fn deleted_goal_is_gone_with_its_levels_and_questions(store: Arc<dyn Store>) {
    let user = Uuid::now_v7();
    let kept = goal_of(user, 3, 3, 5);
    let doomed = goal_of(user, 8, 4, 6);
    store.save_goal(&kept).await.unwrap();
    store.save_goal(&doomed).await.unwrap();
    assert_goal_stored(&store, &doomed).await;

    assert!(store.delete_goal(doomed.goal.id).await.unwrap());

    assert_goal_gone(&store, &doomed).await;
    // Updates of what was deleted change nothing and bring nothing back.
    let level = doomed.levels[0].id;
    assert_eq!(
        store.set_topic_completed(level, 0, true).await.unwrap(),
        None
    );
    store
        .set_level_status(level, LevelStatus::Completed)
        .await
        .unwrap();
    store
        .set_goal_status(doomed.goal.id, GoalStatus::Completed)
        .await
        .unwrap();
    assert_goal_gone(&store, &doomed).await;
    assert!(!store.delete_goal(doomed.goal.id).await.unwrap());
    assert!(!store.delete_goal(Uuid::now_v7()).await.unwrap());

    // The other goal is untouched.
    assert_goal_stored(&store, &kept).await;
    let listed = store.goals_of_user(user, None, 10).await.unwrap();
    assert_eq!(listed.items, std::slice::from_ref(&kept.goal));
}

async fn topic_completion_is_set_cleared_and_repeatable(store: Arc<dyn Store>) {
    let new = goal_of(Uuid::now_v7(), 3, 5, 5);
    store.save_goal(&new).await.unwrap();
    let mut expected = new.levels[1].clone();
    let id = expected.id;

    let done = store.set_topic_completed(id, 3, true).await.unwrap();
    expected.topics[3].completed = true;
    assert_eq!(done.as_ref(), Some(&expected));
    let again = store.set_topic_completed(id, 3, true).await.unwrap();
    assert_eq!(again.as_ref(), Some(&expected), "repeating changes nothing");

    let also = store.set_topic_completed(id, 0, true).await.unwrap();
    expected.topics[0].completed = true;
    assert_eq!(also.as_ref(), Some(&expected));

    let undone = store.set_topic_completed(id, 3, false).await.unwrap();
    expected.topics[3].completed = false;
    assert_eq!(undone.as_ref(), Some(&expected));
    let undone_again = store.set_topic_completed(id, 3, false).await.unwrap();
    assert_eq!(undone_again.as_ref(), Some(&expected));
    assert_eq!(store.level(id).await.unwrap().as_ref(), Some(&expected));

    // No such topic, no such level: None, and nothing written.
    assert_eq!(store.set_topic_completed(id, 5, true).await.unwrap(), None);
    assert_eq!(
        store.set_topic_completed(id, u32::MAX, true).await.unwrap(),
        None
    );
    let unknown = Uuid::new_v4();
    assert_eq!(
        store.set_topic_completed(unknown, 0, true).await.unwrap(),
        None
    );
    assert_eq!(store.level(unknown).await.unwrap(), None);
    assert_eq!(store.level(id).await.unwrap().as_ref(), Some(&expected));
    // Other levels are untouched.
    assert_eq!(
        store.level(new.levels[0].id).await.unwrap().as_ref(),
        Some(&new.levels[0])
    );
}

async fn concurrent_topic_completions_are_all_kept(store: Arc<dyn Store>) {
    let new = goal_of(Uuid::now_v7(), 3, 8, 5);
    store.save_goal(&new).await.unwrap();
    let id = new.levels[0].id;

    let completions: Vec<_> = (0..8)
        .map(|index| {
            let store = store.clone();
            tokio::spawn(async move { store.set_topic_completed(id, index, true).await })
        })
        .collect();
    for completion in completions {
        let level = completion.await.unwrap().unwrap().expect("known topic");
        assert_eq!(level.id, id);
    }

    let level = store.level(id).await.unwrap().expect("level");
    assert!(
        level.topics.iter().all(|t| t.completed),
        "every completion kept: {:?}",
        level.topics
    );
    let mut expected = new.levels[0].clone();
    for topic in &mut expected.topics {
        topic.completed = true;
    }
    assert_eq!(level, expected);
}

async fn level_and_goal_status_are_set(store: Arc<dyn Store>) {
    let user = Uuid::now_v7();
    let new = goal_of(user, 3, 3, 5);
    store.save_goal(&new).await.unwrap();
    let first = new.levels[0].id;

    store
        .set_level_status(first, LevelStatus::Completed)
        .await
        .unwrap();
    store
        .set_level_status(new.levels[1].id, LevelStatus::Unlocked)
        .await
        .unwrap();
    store
        .set_goal_status(new.goal.id, GoalStatus::InProgress)
        .await
        .unwrap();

    let mut expected = new.clone();
    expected.levels[0].status = LevelStatus::Completed;
    expected.levels[1].status = LevelStatus::Unlocked;
    expected.goal.status = GoalStatus::InProgress;
    assert_goal_stored(&store, &expected).await;
    let listed = store.goals_of_user(user, None, 10).await.unwrap();
    assert_eq!(listed.items, std::slice::from_ref(&expected.goal));

    // Completion and status live side by side.
    let level = store
        .set_topic_completed(first, 1, true)
        .await
        .unwrap()
        .expect("known");
    assert_eq!(level.status, LevelStatus::Completed);
    assert!(level.topics[1].completed);

    store
        .set_goal_status(new.goal.id, GoalStatus::Completed)
        .await
        .unwrap();
    assert_eq!(
        store.goal(new.goal.id).await.unwrap().map(|g| g.status),
        Some(GoalStatus::Completed)
    );

    // Unknown ids: nothing to set, nothing created.
    let (goal, level) = (Uuid::now_v7(), Uuid::new_v4());
    store
        .set_goal_status(goal, GoalStatus::Completed)
        .await
        .unwrap();
    store
        .set_level_status(level, LevelStatus::Completed)
        .await
        .unwrap();
    assert_eq!(store.goal(goal).await.unwrap(), None);
    assert_eq!(store.level(level).await.unwrap(), None);
}

// ---- XP ledger ----

/// A grant of `amount` under a fresh grant id, created now (to the millisecond, as CQL
/// keeps it).
fn grant_of(user_id: Uuid, amount: i64) -> XpEntry {
    XpEntry {
        user_id,
        grant_id: unique_key("level_first_pass"),
        amount,
        source: "level_first_pass".into(),
        created_at: now_ms(),
    }
}

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

fn by_grant_id(mut entries: Vec<XpEntry>) -> Vec<XpEntry> {
    entries.sort_by(|a, b| a.grant_id.cmp(&b.grant_id));
    entries
}

async fn xp_grant_is_recorded_once(store: Arc<dyn Store>) {
    let user_id = Uuid::new_v4();
    let entry = grant_of(user_id, 50);

    assert!(store.record_xp(&entry).await.unwrap(), "first write");

    // A retry, even one carrying other values, writes nothing: the first write stands.
    let retry = XpEntry {
        amount: 999,
        source: "room".into(),
        created_at: entry.created_at + Duration::minutes(5),
        ..entry.clone()
    };
    assert!(!store.record_xp(&retry).await.unwrap(), "retry");
    assert!(!store.record_xp(&entry).await.unwrap(), "same again");
    assert_eq!(store.xp_entries(user_id).await.unwrap(), vec![entry]);
}

async fn concurrent_records_of_one_grant_write_it_once(store: Arc<dyn Store>) {
    let user_id = Uuid::new_v4();
    let grant = grant_of(user_id, 0);
    // Each caller carries its own amount, so the entry tells which write was kept.
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let entry = XpEntry {
                amount: 10 + i,
                ..grant.clone()
            };
            tokio::spawn(async move { (entry.amount, store.record_xp(&entry).await) })
        })
        .collect();

    let mut written = Vec::new();
    for call in calls {
        let (amount, result) = call.await.unwrap();
        if result.expect("record") {
            written.push(amount);
        }
    }

    assert_eq!(written.len(), 1, "exactly one write: {written:?}");
    let entries = store.xp_entries(user_id).await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].amount, written[0], "the winner's entry is kept");
    assert_eq!(
        store.xp_pending(user_id).await.unwrap(),
        vec![grant.grant_id.clone()]
    );
}

async fn xp_entries_are_exactly_what_was_recorded(store: Arc<dyn Store>) {
    let user_id = Uuid::new_v4();
    let other_id = Uuid::new_v4();
    assert!(store.xp_entries(user_id).await.unwrap().is_empty());
    let mine: Vec<XpEntry> = [
        (120, "level_first_pass", 3),
        (30, "level_repass", 2),
        (75, "room", 0),
    ]
    .into_iter()
    .map(|(amount, source, minutes_ago)| XpEntry {
        source: source.into(),
        created_at: now_ms() - Duration::minutes(minutes_ago),
        ..grant_of(user_id, amount)
    })
    .collect();
    for entry in &mine {
        assert!(store.record_xp(entry).await.unwrap());
    }
    // A grant id is the user's own: the same id for another user is another grant.
    let theirs = XpEntry {
        user_id: other_id,
        amount: 5,
        ..mine[0].clone()
    };
    assert!(store.record_xp(&theirs).await.unwrap());

    assert_eq!(
        by_grant_id(store.xp_entries(user_id).await.unwrap()),
        by_grant_id(mine.clone())
    );
    assert_eq!(store.xp_entries(other_id).await.unwrap(), vec![theirs]);
    assert!(store.xp_entries(Uuid::new_v4()).await.unwrap().is_empty());
}

async fn total_xp_is_set_on_the_user_row(store: Arc<dyn Store>) {
    let mut new = NewUser::new(unique_email());
    new.display_name = Some("Ada".into());
    let user = store.create_user(new).await.unwrap();
    let other = new_user(&store).await;
    assert_eq!(user.total_xp, 0);

    store.set_total_xp(user.id, 120).await.unwrap();
    let read = store.user_by_id(user.id).await.unwrap().expect("found");
    assert_eq!(read.total_xp, 120);
    // Nothing else changed (CQL keeps the creation time to the millisecond).
    assert_eq!(
        read,
        User {
            total_xp: 120,
            created_at: read.created_at,
            ..user.clone()
        }
    );
    assert_eq!(
        read.created_at.timestamp_millis(),
        user.created_at.timestamp_millis()
    );
    assert_eq!(
        store
            .user_by_email(&user.email)
            .await
            .unwrap()
            .map(|u| u.total_xp),
        Some(120)
    );

    // Repeating is harmless, and the value is set as given.
    store.set_total_xp(user.id, 120).await.unwrap();
    store.set_total_xp(user.id, 150).await.unwrap();
    assert_eq!(
        store.user_by_id(user.id).await.unwrap().map(|u| u.total_xp),
        Some(150)
    );
    store.set_total_xp(user.id, 90).await.unwrap();
    assert_eq!(
        store.user_by_id(user.id).await.unwrap().map(|u| u.total_xp),
        Some(90)
    );
    assert_eq!(
        store
            .user_by_id(other.id)
            .await
            .unwrap()
            .map(|u| u.total_xp),
        Some(0)
    );
}

async fn total_xp_of_unknown_user_creates_nothing(store: Arc<dyn Store>) {
    let id = Uuid::new_v4();

    store.set_total_xp(id, 40).await.unwrap();

    assert!(store.user_by_id(id).await.unwrap().is_none());
}

async fn pending_grants_are_listed_until_cleared(store: Arc<dyn Store>) {
    let user_id = Uuid::new_v4();
    let other_id = Uuid::new_v4();
    assert!(store.xp_pending_users(100).await.unwrap().is_empty());
    let grants: Vec<XpEntry> = (1..=3).map(|i| grant_of(user_id, 10 * i)).collect();
    for entry in &grants {
        assert!(store.record_xp(entry).await.unwrap());
    }
    let theirs = grant_of(other_id, 5);
    assert!(store.record_xp(&theirs).await.unwrap());
    let ids: Vec<String> = grants.iter().map(|g| g.grant_id.clone()).collect();

    // Each user once, however many grants they have pending.
    assert_eq!(
        sorted(store.xp_pending_users(100).await.unwrap()),
        sorted(vec![user_id, other_id])
    );
    assert_eq!(
        sorted(store.xp_pending(user_id).await.unwrap()),
        sorted(ids.clone())
    );
    assert_eq!(
        store.xp_pending(other_id).await.unwrap(),
        vec![theirs.grant_id.clone()]
    );

    // Clearing some leaves the others, and the other user's.
    store
        .clear_xp_pending(user_id, &[ids[0].clone(), ids[2].clone()])
        .await
        .unwrap();
    assert_eq!(
        store.xp_pending(user_id).await.unwrap(),
        vec![ids[1].clone()]
    );
    assert_eq!(
        store.xp_pending(other_id).await.unwrap(),
        vec![theirs.grant_id.clone()]
    );
    assert_eq!(
        sorted(store.xp_pending_users(100).await.unwrap()),
        sorted(vec![user_id, other_id])
    );
    // Nothing, or ids that are not pending (cleared, or another user's): no change.
    store.clear_xp_pending(user_id, &[]).await.unwrap();
    store
        .clear_xp_pending(user_id, &[ids[0].clone(), theirs.grant_id.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.xp_pending(user_id).await.unwrap(),
        vec![ids[1].clone()]
    );
    assert_eq!(
        store.xp_pending(other_id).await.unwrap(),
        vec![theirs.grant_id.clone()]
    );

    // Cleared entirely: the user is no longer pending; the ledger is untouched.
    store
        .clear_xp_pending(user_id, &[ids[1].clone()])
        .await
        .unwrap();
    assert!(store.xp_pending(user_id).await.unwrap().is_empty());
    assert_eq!(store.xp_pending_users(100).await.unwrap(), vec![other_id]);
    assert_eq!(
        by_grant_id(store.xp_entries(user_id).await.unwrap()),
        by_grant_id(grants)
    );
    store
        .clear_xp_pending(other_id, &[theirs.grant_id])
        .await
        .unwrap();
    assert!(store.xp_pending_users(100).await.unwrap().is_empty());
}

async fn pending_users_are_listed_once_up_to_the_limit(store: Arc<dyn Store>) {
    // Three grants each: a page of as many rows as users wanted holds fewer users.
    let users: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    for &user_id in &users {
        for amount in 1..=3 {
            assert!(store.record_xp(&grant_of(user_id, amount)).await.unwrap());
        }
    }

    assert!(store.xp_pending_users(0).await.unwrap().is_empty());
    for limit in 1..=3 {
        let listed = store.xp_pending_users(limit).await.unwrap();
        assert_eq!(listed.len(), limit, "limit {limit}: {listed:?}");
        let mut unique = listed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), limit, "each once: {listed:?}");
        assert!(listed.iter().all(|u| users.contains(u)), "{listed:?}");
    }
    assert_eq!(
        sorted(store.xp_pending_users(10).await.unwrap()),
        sorted(users)
    );
}

async fn ledger_users_are_paged_each_once(store: Arc<dyn Store>) {
    assert!(store.xp_users(None, 10).await.unwrap().is_empty());
    // Several grants each, so a user is one partition of many rows; one user has only
    // applied grants (no pending mark left) and must be listed all the same.
    let users: Vec<Uuid> = (0..7).map(|_| Uuid::new_v4()).collect();
    for (i, &user_id) in users.iter().enumerate() {
        for amount in 1..=(i as i64 % 3 + 1) {
            assert!(store.record_xp(&grant_of(user_id, amount)).await.unwrap());
        }
    }
    let applied = users[0];
    let pending = store.xp_pending(applied).await.unwrap();
    store.clear_xp_pending(applied, &pending).await.unwrap();

    assert!(store.xp_users(None, 0).await.unwrap().is_empty());
    for page_size in [1, 2, 3, 7, 50] {
        let mut listed = Vec::new();
        let mut after = None;
        loop {
            let page = store.xp_users(after, page_size).await.unwrap();
            assert!(page.len() <= page_size);
            listed.extend(page.iter().copied());
            if page.len() < page_size {
                break;
            }
            after = page.last().copied();
            assert!(listed.len() <= users.len(), "pages repeat: {listed:?}");
        }
        assert_eq!(
            listed.len(),
            users.len(),
            "page size {page_size}: each once"
        );
        assert_eq!(
            sorted(listed),
            sorted(users.clone()),
            "page size {page_size}"
        );
    }
}

// ---- multiplayer room results ----

/// A finished room of `host_id` that ended `ended_ago` before now (to the millisecond,
/// as CQL keeps it), with a result document of some size and shape.
fn room_of(host_id: Uuid, ended_ago: Duration) -> RoomResult {
    let ended_at = now_ms() - ended_ago;
    let room_id = Uuid::now_v7();
    let players: Vec<serde_json::Value> = (0..12)
        .map(|i| {
            serde_json::json!({
                "user_id": Uuid::new_v4(),
                "name": format!("Player {i} \u{e9}\u{1f600}"),
                "placement": i + 1,
                "score": 1000 - i * 37,
                "answers": (0..10).map(|q| serde_json::json!({
                    "question": q, "option": "B", "correct": q % 3 != 0, "ms": 1234 + q * 10,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    RoomResult {
        room_id,
        code: "K7Q2XZ".into(),
        host_id,
        title: "Rust ownership, round 1".into(),
        created_at: ended_at - Duration::minutes(12),
        ended_at,
        end_reason: "finished".into(),
        players: players.len() as u32,
        results: serde_json::json!({ "players": players, "questions": 10, "ratio": 0.75 }),
    }
}

fn without_document(result: &RoomResult) -> RoomResult {
    RoomResult {
        results: serde_json::Value::Null,
        ..result.clone()
    }
}

async fn room_result_reads_back_exactly(store: Arc<dyn Store>) {
    let room = room_of(Uuid::new_v4(), Duration::zero());

    store.save_room_result(&room).await.expect("save");

    assert_eq!(
        store.room_result(room.room_id).await.unwrap(),
        Some(room.clone())
    );
    assert_eq!(
        store.room_results_of_host(room.host_id, 10).await.unwrap(),
        vec![without_document(&room)]
    );
}

async fn saving_a_room_result_again_is_idempotent_and_moves_its_list_entry(store: Arc<dyn Store>) {
    let host = Uuid::new_v4();
    let room = room_of(host, Duration::minutes(5));
    store.save_room_result(&room).await.unwrap();

    // The same save again (a retry) changes nothing.
    store.save_room_result(&room).await.unwrap();
    assert_eq!(
        store.room_result(room.room_id).await.unwrap(),
        Some(room.clone())
    );
    assert_eq!(
        store.room_results_of_host(host, 10).await.unwrap(),
        vec![without_document(&room)]
    );

    // A rewrite with another end time and document replaces it, listed once.
    let rewritten = RoomResult {
        ended_at: room.ended_at + Duration::seconds(30),
        end_reason: "ended_by_host".into(),
        players: 3,
        results: serde_json::json!({"players": [1, 2, 3]}),
        ..room.clone()
    };
    store.save_room_result(&rewritten).await.unwrap();
    assert_eq!(
        store.room_result(room.room_id).await.unwrap(),
        Some(rewritten.clone())
    );
    assert_eq!(
        store.room_results_of_host(host, 10).await.unwrap(),
        vec![without_document(&rewritten)]
    );

    // Another host: the room leaves the first host's list for the second's.
    let other = Uuid::new_v4();
    let moved = RoomResult {
        host_id: other,
        ..rewritten.clone()
    };
    store.save_room_result(&moved).await.unwrap();
    assert!(
        store
            .room_results_of_host(host, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.room_results_of_host(other, 10).await.unwrap(),
        vec![without_document(&moved)]
    );
}

async fn room_results_of_host_are_newest_first_without_the_document(store: Arc<dyn Store>) {
    let host = Uuid::new_v4();
    let neighbour = Uuid::new_v4();
    // Saved out of order; each ended a minute apart.
    let rooms: Vec<RoomResult> = [3, 0, 4, 1, 2]
        .into_iter()
        .map(|minutes| room_of(host, Duration::minutes(minutes)))
        .collect();
    for room in &rooms {
        store.save_room_result(room).await.unwrap();
    }
    store
        .save_room_result(&room_of(neighbour, Duration::zero()))
        .await
        .unwrap();

    let mut newest_first = rooms.clone();
    newest_first.sort_by_key(|room| std::cmp::Reverse(room.ended_at));
    let expected: Vec<RoomResult> = newest_first.iter().map(without_document).collect();
    assert_eq!(
        store.room_results_of_host(host, 10).await.unwrap(),
        expected
    );
    assert_eq!(
        store.room_results_of_host(host, 2).await.unwrap(),
        expected[..2].to_vec()
    );
    assert!(
        store
            .room_results_of_host(host, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .room_results_of_host(neighbour, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // The documents are still there, one read away.
    for room in &rooms {
        assert_eq!(
            store.room_result(room.room_id).await.unwrap().as_ref(),
            Some(room)
        );
    }
}

async fn unknown_room_result_is_none(store: Arc<dyn Store>) {
    assert_eq!(store.room_result(Uuid::now_v7()).await.unwrap(), None);
    assert!(
        store
            .room_results_of_host(Uuid::new_v4(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---- archive of past weekly boards ----

/// A week's final standings, ranks `first..=last`: scores fall with the rank, and
/// pairs of equal scores are told apart by when they were reached.
fn standings(first: u64, last: u64) -> Vec<ArchivedEntry> {
    let base = now_ms() - Duration::days(10);
    (first..=last)
        .map(|rank| ArchivedEntry {
            rank,
            user_id: Uuid::new_v4(),
            score: 1_000_000_000 - (rank as i64 / 2) * 10,
            reached_at: base + Duration::milliseconds(rank as i64),
        })
        .collect()
}

fn archived(period: &str, total: u64) -> ArchivedWeek {
    ArchivedWeek {
        period: period.into(),
        total,
        archived_at: now_ms(),
    }
}

/// Writes `entries` in pages of `page`, last page first (the order must not matter),
/// then marks the week.
async fn archive(store: &Arc<dyn Store>, period: &str, entries: &[ArchivedEntry], page: usize) {
    for chunk in entries.chunks(page).rev() {
        store.write_archive_entries(period, chunk).await.unwrap();
    }
    store
        .mark_week_archived(&archived(period, entries.len() as u64))
        .await
        .unwrap();
}

async fn archived_week_reads_back_by_page_and_by_learner(store: Arc<dyn Store>) {
    let entries = standings(1, 25);
    let week = archived("2026-W47", 25);
    for chunk in entries.chunks(10) {
        store
            .write_archive_entries("2026-W47", chunk)
            .await
            .unwrap();
    }
    store.mark_week_archived(&week).await.unwrap();

    assert_eq!(store.archived_week("2026-W47").await.unwrap(), Some(week));
    let mut paged = Vec::new();
    for from_rank in [1, 11, 21] {
        paged.extend(
            store
                .archived_entries("2026-W47", from_rank, 10)
                .await
                .unwrap(),
        );
    }
    assert_eq!(paged, entries, "pages by rank, exactly as written");
    assert_eq!(
        store.archived_entries("2026-W47", 7, 3).await.unwrap(),
        entries[6..9].to_vec()
    );
    assert!(
        store
            .archived_entries("2026-W47", 26, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .archived_entries("2026-W47", 1, 0)
            .await
            .unwrap()
            .is_empty()
    );
    for entry in &entries {
        assert_eq!(
            store
                .archived_entry("2026-W47", entry.user_id)
                .await
                .unwrap(),
            Some(*entry)
        );
    }
    assert_eq!(
        store
            .archived_entry("2026-W47", Uuid::new_v4())
            .await
            .unwrap(),
        None,
        "a learner without XP that week"
    );
    // Another week's archive is another archive.
    assert_eq!(store.archived_week("2026-W46").await.unwrap(), None);
    assert_eq!(
        store
            .archived_entry("2026-W46", entries[0].user_id)
            .await
            .unwrap(),
        None
    );
}

async fn archive_pages_cross_partitions(store: Arc<dyn Store>) {
    // Ranks on both sides of the CQL adapter's partition boundary (10,000 ranks each);
    // written sparse, so the test stays small: a page asked across the boundary gets
    // both sides, and a page past the last rank ends there.
    let entries = standings(9_990, 10_015);
    for chunk in entries.chunks(7) {
        store
            .write_archive_entries("2026-W01", chunk)
            .await
            .unwrap();
    }

    let across = store.archived_entries("2026-W01", 9_995, 12).await.unwrap();
    assert_eq!(across, entries[5..17].to_vec());
    let to_the_end = store
        .archived_entries("2026-W01", 10_010, 100)
        .await
        .unwrap();
    assert_eq!(to_the_end, entries[20..].to_vec());
    let exactly_one_partition = store.archived_entries("2026-W01", 9_991, 10).await.unwrap();
    assert_eq!(exactly_one_partition, entries[1..11].to_vec());
}

async fn rewriting_an_archive_is_idempotent(store: Arc<dyn Store>) {
    let entries = standings(1, 30);
    archive(&store, "2026-W30", &entries, 8).await;
    let first = store.archived_week("2026-W30").await.unwrap().unwrap();

    // Run again, in other pages: the same rows.
    archive(&store, "2026-W30", &entries, 13).await;

    let again = store.archived_week("2026-W30").await.unwrap().unwrap();
    assert_eq!(again.total, first.total);
    assert_eq!(
        store.archived_entries("2026-W30", 1, 100).await.unwrap(),
        entries
    );
    for entry in &entries {
        assert_eq!(
            store
                .archived_entry("2026-W30", entry.user_id)
                .await
                .unwrap(),
            Some(*entry)
        );
    }
    assert_eq!(
        store.archived_weeks(10).await.unwrap().len(),
        1,
        "listed once"
    );
}

async fn unarchived_week_answers_none(store: Arc<dyn Store>) {
    assert_eq!(store.archived_week("2026-W20").await.unwrap(), None);
    assert!(
        store
            .archived_entries("2026-W20", 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .archived_entry("2026-W20", Uuid::new_v4())
            .await
            .unwrap(),
        None
    );
    assert!(store.archived_weeks(10).await.unwrap().is_empty());

    // Standings written, the week not marked: an archive cut short is not archived.
    let entries = standings(1, 5);
    store
        .write_archive_entries("2026-W20", &entries)
        .await
        .unwrap();
    assert_eq!(store.archived_week("2026-W20").await.unwrap(), None);
    assert!(store.archived_weeks(10).await.unwrap().is_empty());

    store
        .mark_week_archived(&archived("2026-W20", 5))
        .await
        .unwrap();
    assert_eq!(
        store
            .archived_week("2026-W20")
            .await
            .unwrap()
            .map(|w| w.total),
        Some(5)
    );
}

async fn archived_weeks_are_listed_newest_first(store: Arc<dyn Store>) {
    // Across a year's end, marked out of order; an empty week is archived too.
    for period in ["2026-W52", "2027-W02", "2025-W40", "2027-W01", "2026-W53"] {
        store
            .mark_week_archived(&archived(period, 0))
            .await
            .unwrap();
    }

    let periods =
        |weeks: Vec<ArchivedWeek>| weeks.into_iter().map(|w| w.period).collect::<Vec<_>>();
    assert_eq!(
        periods(store.archived_weeks(10).await.unwrap()),
        vec!["2027-W02", "2027-W01", "2026-W53", "2026-W52", "2025-W40"]
    );
    assert_eq!(
        periods(store.archived_weeks(2).await.unwrap()),
        vec!["2027-W02", "2027-W01"]
    );
    assert!(store.archived_weeks(0).await.unwrap().is_empty());
    assert_eq!(
        store
            .archived_week("2025-W40")
            .await
            .unwrap()
            .map(|w| w.total),
        Some(0)
    );
}

// ---- saved quizzes ----

/// A v7 id of `ms_ago` milliseconds before now: ids of quizzes made in a known order.
fn quiz_id_at(ms_ago: i64) -> Uuid {
    let at = now_ms() - Duration::milliseconds(ms_ago);
    Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        at.timestamp() as u64,
        at.timestamp_subsec_nanos(),
    ))
}

/// A quiz of `owner_id` with `n` questions of every shape a question can have.
fn quiz_of(owner_id: Uuid, id: Uuid, n: usize) -> SavedQuiz {
    let at = now_ms();
    SavedQuiz {
        id,
        owner_id,
        title: "Capitals \u{e9}\u{1f30d}, round 1".into(),
        description: String::new(),
        questions: (0..n)
            .map(|i| QuizQuestion {
                question: format!("Question {i}: the capital of France?\nThink \"twice\"."),
                options: ["Paris", "Rome", "=SUM(A1)", "Lyon"][..2 + i % 3]
                    .iter()
                    .map(|o| o.to_string())
                    .collect(),
                answer: (i % 2) as u8,
                explanation: if i % 2 == 0 {
                    String::new()
                } else {
                    "It is Paris.".into()
                },
                time_limit_secs: (i % 3 == 0).then_some(5 + i as u32),
                points: (i % 3) as u32,
            })
            .collect(),
        created_at: at,
        updated_at: at,
    }
}

fn summaries(quizzes: &[&SavedQuiz]) -> Vec<QuizSummary> {
    quizzes.iter().map(|q| q.summary()).collect()
}

async fn saved_quiz_reads_back_exactly(store: Arc<dyn Store>) {
    let owner = Uuid::new_v4();
    let mut quiz = quiz_of(owner, Uuid::now_v7(), 12);
    quiz.description = "Europe's capitals.\nFor class 4b.".into();

    assert!(store.create_quiz(&quiz, 500).await.expect("create"));

    assert_eq!(store.quiz(quiz.id).await.unwrap(), Some(quiz.clone()));
    assert_eq!(
        store.quizzes_of_owner(owner, 500).await.unwrap(),
        summaries(&[&quiz])
    );
    assert_eq!(store.quiz(Uuid::now_v7()).await.unwrap(), None);
    assert!(
        store
            .quizzes_of_owner(Uuid::new_v4(), 500)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn creating_a_quiz_again_is_idempotent_and_not_counted_twice(store: Arc<dyn Store>) {
    let owner = Uuid::new_v4();
    let first = quiz_of(owner, quiz_id_at(10), 3);
    let second = quiz_of(owner, quiz_id_at(5), 1);
    assert!(store.create_quiz(&first, 2).await.unwrap());

    // A retried create writes the same quiz again and still counts once.
    assert!(store.create_quiz(&first, 2).await.unwrap());
    assert_eq!(store.quizzes_of_owner(owner, 10).await.unwrap().len(), 1);
    assert!(store.create_quiz(&second, 2).await.unwrap());
    // At the limit, a retry of a quiz already saved still goes through.
    assert!(store.create_quiz(&first, 2).await.unwrap());

    assert_eq!(store.quiz(first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(
        store.quizzes_of_owner(owner, 10).await.unwrap(),
        summaries(&[&second, &first])
    );
}

async fn quizzes_are_bounded_per_owner(store: Arc<dyn Store>) {
    let owner = Uuid::new_v4();
    let neighbour = Uuid::new_v4();
    let quizzes: Vec<SavedQuiz> = (0..4)
        .map(|i| quiz_of(owner, quiz_id_at(40 - i * 10), 2))
        .collect();
    for quiz in &quizzes[..3] {
        assert!(store.create_quiz(quiz, 3).await.unwrap());
    }

    assert!(
        !store.create_quiz(&quizzes[3], 3).await.unwrap(),
        "the fourth is over the limit"
    );
    assert_eq!(
        store.quiz(quizzes[3].id).await.unwrap(),
        None,
        "not written"
    );
    assert_eq!(store.quizzes_of_owner(owner, 10).await.unwrap().len(), 3);
    // Another owner has a limit of their own.
    assert!(
        store
            .create_quiz(&quiz_of(neighbour, Uuid::now_v7(), 1), 3)
            .await
            .unwrap()
    );

    // Deleting one frees its slot.
    assert!(store.delete_quiz(owner, quizzes[0].id).await.unwrap());
    assert!(store.create_quiz(&quizzes[3], 3).await.unwrap());
    assert_eq!(
        store.quizzes_of_owner(owner, 10).await.unwrap(),
        summaries(&[&quizzes[3], &quizzes[2], &quizzes[1]])
    );
}

async fn quiz_update_replaces_the_content_and_keeps_the_identity(store: Arc<dyn Store>) {
    let owner = Uuid::new_v4();
    let quiz = quiz_of(owner, Uuid::now_v7(), 5);
    store.create_quiz(&quiz, 500).await.unwrap();

    let changed = SavedQuiz {
        title: "Capitals, round 2".into(),
        description: "Harder.".into(),
        questions: quiz_of(owner, quiz.id, 2).questions,
        updated_at: quiz.updated_at + Duration::minutes(3),
        // Neither can be changed by an update.
        created_at: quiz.created_at + Duration::days(1),
        ..quiz.clone()
    };
    assert!(store.update_quiz(&changed).await.unwrap());

    let expected = SavedQuiz {
        created_at: quiz.created_at,
        ..changed.clone()
    };
    assert_eq!(store.quiz(quiz.id).await.unwrap(), Some(expected.clone()));
    assert_eq!(
        store.quizzes_of_owner(owner, 10).await.unwrap(),
        summaries(&[&expected])
    );

    // Someone else's update changes nothing.
    let intruder = SavedQuiz {
        owner_id: Uuid::new_v4(),
        title: "Mine now".into(),
        ..changed.clone()
    };
    assert!(!store.update_quiz(&intruder).await.unwrap());
    assert_eq!(store.quiz(quiz.id).await.unwrap(), Some(expected.clone()));
    assert!(
        store
            .quizzes_of_owner(intruder.owner_id, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // An unknown quiz is not created by an update.
    let unknown = quiz_of(owner, Uuid::now_v7(), 1);
    assert!(!store.update_quiz(&unknown).await.unwrap());
    assert_eq!(store.quiz(unknown.id).await.unwrap(), None);
    assert_eq!(store.quizzes_of_owner(owner, 10).await.unwrap().len(), 1);
}

async fn quizzes_of_owner_are_newest_first_without_questions(store: Arc<dyn Store>) {
    let owner = Uuid::new_v4();
    let neighbour = Uuid::new_v4();
    // Made a few milliseconds apart, saved out of order.
    let quizzes: Vec<SavedQuiz> = [30, 0, 40, 10, 20]
        .into_iter()
        .map(|ms_ago| quiz_of(owner, quiz_id_at(ms_ago), 1 + ms_ago as usize / 10))
        .collect();
    for quiz in &quizzes {
        store.create_quiz(quiz, 500).await.unwrap();
    }
    store
        .create_quiz(&quiz_of(neighbour, Uuid::now_v7(), 1), 500)
        .await
        .unwrap();

    let mut newest_first: Vec<&SavedQuiz> = quizzes.iter().collect();
    newest_first.sort_by_key(|quiz| std::cmp::Reverse(quiz.id));
    let expected = summaries(&newest_first);
    assert_eq!(
        expected
            .iter()
            .map(|s| s.question_count)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(store.quizzes_of_owner(owner, 10).await.unwrap(), expected);
    assert_eq!(
        store.quizzes_of_owner(owner, 2).await.unwrap(),
        expected[..2].to_vec()
    );
    assert!(store.quizzes_of_owner(owner, 0).await.unwrap().is_empty());
    assert_eq!(
        store.quizzes_of_owner(neighbour, 10).await.unwrap().len(),
        1
    );
}

async fn deleted_quiz_is_gone_and_only_its_owner_can_delete_it(store: Arc<dyn Store>) {
    let owner = Uuid::new_v4();
    let kept = quiz_of(owner, quiz_id_at(10), 2);
    let doomed = quiz_of(owner, quiz_id_at(0), 3);
    store.create_quiz(&kept, 500).await.unwrap();
    store.create_quiz(&doomed, 500).await.unwrap();

    assert!(!store.delete_quiz(Uuid::new_v4(), doomed.id).await.unwrap());
    assert_eq!(store.quiz(doomed.id).await.unwrap(), Some(doomed.clone()));

    assert!(store.delete_quiz(owner, doomed.id).await.unwrap());
    assert_eq!(store.quiz(doomed.id).await.unwrap(), None);
    assert_eq!(
        store.quizzes_of_owner(owner, 10).await.unwrap(),
        summaries(&[&kept])
    );
    assert!(!store.delete_quiz(owner, doomed.id).await.unwrap(), "again");
    assert!(!store.delete_quiz(owner, Uuid::now_v7()).await.unwrap());
    // An update after the delete does not bring it back.
    assert!(!store.update_quiz(&doomed).await.unwrap());
    assert_eq!(store.quiz(doomed.id).await.unwrap(), None);
    assert_eq!(store.quizzes_of_owner(owner, 10).await.unwrap().len(), 1);
}

// ---- a learner's own data: deletion ----

async fn deleted_account_is_gone_and_its_email_and_google_account_sign_up_again(
    store: Arc<dyn Store>,
) {
    let user = new_user(&store).await;
    store
        .set_password_hash(user.id, "$argon2id$x")
        .await
        .unwrap();
    let sub = unique_key("google");
    assert_eq!(store.link_google(&sub, user.id).await.unwrap(), user.id);
    store.mark_user_deleted(user.id, now_ms()).await.unwrap();

    assert!(
        store.delete_user(user.id).await.unwrap(),
        "there was a profile"
    );

    assert_eq!(store.user_by_id(user.id).await.unwrap(), None);
    assert_eq!(store.user_by_email(&user.email).await.unwrap(), None);
    assert_eq!(store.password_hash(user.id).await.unwrap(), None);
    assert_eq!(store.user_by_google(&sub).await.unwrap(), None);
    assert!(store.google_links(user.id).await.unwrap().is_empty());
    assert!(
        !store.delete_user(user.id).await.unwrap(),
        "twice: nothing left"
    );
    // The email and the Google account are free for a new account.
    let again = store
        .create_user(NewUser::new(user.email.to_uppercase()))
        .await
        .expect("the email signs up again");
    assert_ne!(again.id, user.id);
    assert_eq!(store.link_google(&sub, again.id).await.unwrap(), again.id);
    assert_eq!(
        store.user_by_google(&sub).await.unwrap().map(|u| u.id),
        Some(again.id)
    );
    // Deleting an account leaves the others alone.
    let other = new_user(&store).await;
    assert!(store.delete_user(user.id).await.is_ok());
    assert_eq!(
        store
            .user_by_email(&other.email)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(other.id)
    );
}

async fn deletion_marks_are_kept_once_and_listed(store: Arc<dyn Store>) {
    let (a, b, kept) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    assert!(store.deleted_users(&[a, b]).await.unwrap().is_empty());

    store.mark_user_deleted(a, now_ms()).await.unwrap();
    store.mark_user_deleted(b, now_ms()).await.unwrap();
    store.mark_user_deleted(a, now_ms()).await.unwrap();

    assert_eq!(
        sorted(store.deleted_users(&[kept, b, a, b]).await.unwrap()),
        sorted(vec![a, b])
    );
    assert!(store.deleted_users(&[kept]).await.unwrap().is_empty());
    assert!(store.deleted_users(&[]).await.unwrap().is_empty());
    // More ids than one query names.
    let many: Vec<Uuid> = (0..150).map(|_| Uuid::new_v4()).chain([a]).collect();
    assert_eq!(store.deleted_users(&many).await.unwrap(), vec![a]);
}

async fn google_links_are_listed_and_a_deleted_owners_link_is_taken_over(store: Arc<dyn Store>) {
    let owner = new_user(&store).await;
    let (first, second) = (unique_key("google"), unique_key("google"));
    store.link_google(&first, owner.id).await.unwrap();
    store.link_google(&second, owner.id).await.unwrap();
    assert_eq!(
        sorted(store.google_links(owner.id).await.unwrap()),
        sorted(vec![first.clone(), second.clone()])
    );
    let other = new_user(&store).await;
    assert_eq!(
        store.link_google(&first, other.id).await.unwrap(),
        owner.id,
        "a live owner keeps the link"
    );

    // The owner is being deleted (marked, not yet removed): their link goes to whoever
    // signs in with it next.
    store.mark_user_deleted(owner.id, now_ms()).await.unwrap();
    assert_eq!(store.link_google(&first, other.id).await.unwrap(), other.id);

    assert_eq!(
        store.user_by_google(&first).await.unwrap().map(|u| u.id),
        Some(other.id)
    );
    assert_eq!(store.google_links(owner.id).await.unwrap(), vec![second]);
    assert_eq!(
        store.google_links(other.id).await.unwrap(),
        vec![first.clone()]
    );
    // Finishing the owner's deletion leaves the taken-over link with its new owner.
    store.delete_user(owner.id).await.unwrap();
    assert_eq!(
        store.user_by_google(&first).await.unwrap().map(|u| u.id),
        Some(other.id)
    );
}

async fn a_profile_update_after_the_deletion_brings_no_account_back(store: Arc<dyn Store>) {
    let user = new_user(&store).await;
    store.delete_user(user.id).await.unwrap();

    let update = ProfileUpdate {
        display_name: Some(Some("Ghost".into())),
        picture: None,
    };
    assert_eq!(store.update_profile(user.id, update).await.unwrap(), None);
    store.set_total_xp(user.id, 50).await.unwrap();

    assert_eq!(store.user_by_id(user.id).await.unwrap(), None);
    assert_eq!(store.user_by_email(&user.email).await.unwrap(), None);
}

async fn refresh_families_of_a_user_are_listed_and_deleted(store: Arc<dyn Store>) {
    let user = Uuid::now_v7();
    let first = family_of(user, Duration::days(1));
    let mut second = family_of(user, Duration::days(2));
    second.created_at = first.created_at + Duration::seconds(1);
    let expired = family_of(user, Duration::milliseconds(1));
    let others = family_of(Uuid::now_v7(), Duration::days(1));
    for family in [&second, &first, &expired, &others] {
        store.create_refresh_family(family).await.unwrap();
    }
    store.revoke_refresh_family(second.family_id).await.unwrap();
    let token = token_of(&first, Duration::days(1));
    store.insert_refresh_token(&token).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let listed = store.refresh_families_of_user(user).await.unwrap();
    assert_eq!(
        listed,
        vec![
            first.clone(),
            RefreshFamily {
                revoked: true,
                ..second.clone()
            }
        ],
        "live ones, revoked too, oldest first"
    );

    let deleted = store.delete_user_refresh_families(user).await.unwrap();

    assert!(deleted >= 2, "{deleted}");
    assert!(
        store
            .refresh_families_of_user(user)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.refresh_family(first.family_id).await.unwrap(), None);
    assert_eq!(store.refresh_family(second.family_id).await.unwrap(), None);
    // Nothing brings a deleted family back: an extension writes nothing.
    store
        .extend_refresh_family(first.family_id, now_ms() + Duration::days(30))
        .await
        .unwrap();
    assert_eq!(store.refresh_family(first.family_id).await.unwrap(), None);
    assert_eq!(store.revoke_user_refresh_families(user).await.unwrap(), 0);
    assert_eq!(
        store.refresh_family(others.family_id).await.unwrap(),
        Some(others.clone()),
        "another user's family stays"
    );
    assert_eq!(store.delete_user_refresh_families(user).await.unwrap(), 0);
}

async fn jobs_of_a_user_are_listed_newest_first_and_deleted(store: Arc<dyn Store>) {
    let user = Uuid::now_v7();
    let jobs: Vec<GenerationJob> = (0..3)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            job_of(user)
        })
        .collect();
    for job in &jobs {
        store.create_job(job).await.unwrap();
    }
    let others = job_of(Uuid::now_v7());
    store.create_job(&others).await.unwrap();
    let mut done = jobs[1].clone();
    done.status = JobStatus::Done;
    store.update_job(&done).await.unwrap();

    assert_eq!(
        store.jobs_of_user(user).await.unwrap(),
        vec![jobs[2].clone(), done.clone(), jobs[0].clone()]
    );

    assert!(store.delete_job(jobs[1].id).await.unwrap());
    assert!(!store.delete_job(jobs[1].id).await.unwrap(), "twice");
    assert_eq!(store.job(jobs[1].id).await.unwrap(), None);
    assert_eq!(
        store.jobs_of_user(user).await.unwrap(),
        vec![jobs[2].clone(), jobs[0].clone()]
    );
    assert_eq!(
        store.jobs_of_user(others.user_id).await.unwrap(),
        vec![others]
    );
    assert!(store.jobs_of_user(Uuid::now_v7()).await.unwrap().is_empty());
}

async fn retiring_a_ledger_moves_it_anonymously_and_once(store: Arc<dyn Store>) {
    let user = Uuid::now_v7();
    let neighbour = Uuid::now_v7();
    // More entries than one batch moves.
    let grants: Vec<XpEntry> = (1..=40).map(|i| grant_of(user, i)).collect();
    for grant in &grants {
        assert!(store.record_xp(grant).await.unwrap());
    }
    store
        .clear_xp_pending(user, &[grants[0].grant_id.clone()])
        .await
        .unwrap();
    store.record_xp(&grant_of(neighbour, 5)).await.unwrap();
    store.mark_user_deleted(user, now_ms()).await.unwrap();

    let retired = store
        .retire_xp(user)
        .await
        .unwrap()
        .expect("something to retire");

    assert_eq!(retired.entries, 40);
    assert_eq!(retired.total, (1..=40).sum::<i64>());
    assert!(store.xp_entries(user).await.unwrap().is_empty());
    assert!(store.xp_pending(user).await.unwrap().is_empty());
    assert!(!store.xp_pending_users(1000).await.unwrap().contains(&user));
    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = store.xp_users(after, 100).await.unwrap();
        listed.extend(page.iter().copied());
        if page.len() < 100 {
            break;
        }
        after = page.last().copied();
    }
    assert!(
        !listed.contains(&user),
        "no longer a ledger to rebuild from"
    );
    assert!(listed.contains(&neighbour));
    let moved = store.retired_xp(retired.retired_id).await.unwrap();
    let mut expected: Vec<RetiredXpEntry> = by_grant_id(grants)
        .into_iter()
        .map(|g| RetiredXpEntry {
            amount: g.amount,
            source: g.source,
            created_at: g.created_at,
        })
        .collect();
    let key = |e: &RetiredXpEntry| (e.amount, e.created_at);
    expected.sort_by_key(key);
    let mut got = moved.clone();
    got.sort_by_key(key);
    assert_eq!(got, expected, "what, how much and when; not to whom");
    assert_ne!(retired.retired_id, user);
    // Moved once: a second retirement finds nothing.
    assert_eq!(store.retire_xp(user).await.unwrap(), None);
    assert_eq!(store.retired_xp(retired.retired_id).await.unwrap(), moved);
    assert_eq!(store.xp_entries(neighbour).await.unwrap().len(), 1);
}

async fn grants_of_a_deleted_user_are_refused(store: Arc<dyn Store>) {
    let user = new_user(&store).await;
    store.mark_user_deleted(user.id, now_ms()).await.unwrap();

    let refused = store.record_xp(&grant_of(user.id, 30)).await.unwrap();

    assert!(!refused);
    assert!(store.xp_entries(user.id).await.unwrap().is_empty());
    assert!(store.xp_pending(user.id).await.unwrap().is_empty());
    assert_eq!(store.retire_xp(user.id).await.unwrap(), None);
    // Concurrent grants and a retirement: nothing stays in the ledger either way.
    let other = Uuid::now_v7();
    let grants: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.record_xp(&grant_of(other, i + 1)).await })
        })
        .collect();
    store.mark_user_deleted(other, now_ms()).await.unwrap();
    store.retire_xp(other).await.unwrap();
    for grant in grants {
        grant.await.unwrap().unwrap();
    }
    assert!(
        store.xp_entries(other).await.unwrap().is_empty(),
        "a grant racing the deletion retires what it wrote"
    );
}

/// A room of `host` whose document names `signed_in` players (and a guest).
fn room_with_players(host: Uuid, signed_in: &[Uuid]) -> RoomResult {
    let mut room = room_of(host, Duration::zero());
    let mut players: Vec<serde_json::Value> = signed_in
        .iter()
        .enumerate()
        .map(|(i, id)| {
            serde_json::json!({"rank": i + 1, "player_id": id, "name": format!("P{i}"), "guest": false, "score": 100 - i})
        })
        .collect();
    players.push(serde_json::json!({"rank": signed_in.len() + 1, "player_id": Uuid::new_v4(), "name": "Guest", "guest": true, "score": 0}));
    room.players = players.len() as u32;
    room.results = serde_json::json!({ "players": players });
    room
}

async fn rooms_of_a_player_are_listed_newest_first_and_follow_rewrites(store: Arc<dyn Store>) {
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let first = room_with_players(Uuid::now_v7(), &[ann, bob]);
    std::thread::sleep(std::time::Duration::from_millis(2));
    let second = room_with_players(Uuid::now_v7(), &[ann]);
    store.save_room_result(&first).await.unwrap();
    store.save_room_result(&second).await.unwrap();

    assert_eq!(
        store.rooms_of_player(ann, 10).await.unwrap(),
        vec![second.room_id, first.room_id]
    );
    assert_eq!(
        store.rooms_of_player(ann, 1).await.unwrap(),
        vec![second.room_id]
    );
    assert_eq!(
        store.rooms_of_player(bob, 10).await.unwrap(),
        vec![first.room_id]
    );
    let guest = first.results["players"][2]["player_id"].as_str().unwrap();
    assert!(
        store
            .rooms_of_player(Uuid::parse_str(guest).unwrap(), 10)
            .await
            .unwrap()
            .is_empty(),
        "guests are not listed"
    );

    // A rewrite without Bob takes the room off his list only.
    let rewritten = RoomResult {
        results: room_with_players(first.host_id, &[ann]).results,
        ..first.clone()
    };
    store.save_room_result(&rewritten).await.unwrap();
    assert!(store.rooms_of_player(bob, 10).await.unwrap().is_empty());
    assert_eq!(store.rooms_of_player(ann, 10).await.unwrap().len(), 2);
    assert!(
        store
            .rooms_of_player(Uuid::now_v7(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn replacing_a_room_result_is_a_compare_and_set(store: Arc<dyn Store>) {
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let room = room_with_players(Uuid::now_v7(), &[ann, bob]);
    store.save_room_result(&room).await.unwrap();
    let without_ann = RoomResult {
        results: room_with_players(room.host_id, &[bob]).results,
        ..room.clone()
    };

    assert!(
        store
            .replace_room_result(&room, &without_ann)
            .await
            .unwrap()
    );

    assert_eq!(
        store.room_result(room.room_id).await.unwrap(),
        Some(without_ann.clone())
    );
    assert!(store.rooms_of_player(ann, 10).await.unwrap().is_empty());
    assert_eq!(
        store.rooms_of_player(bob, 10).await.unwrap(),
        vec![room.room_id]
    );
    // A replacement computed from the old document is refused: it would bring Ann back.
    let stale = RoomResult {
        title: "stale".into(),
        ..room.clone()
    };
    assert!(!store.replace_room_result(&room, &stale).await.unwrap());
    assert_eq!(
        store.room_result(room.room_id).await.unwrap(),
        Some(without_ann.clone())
    );
    // An unknown room is not created.
    let unknown = room_with_players(Uuid::now_v7(), &[ann]);
    assert!(!store.replace_room_result(&unknown, &unknown).await.unwrap());
    assert_eq!(store.room_result(unknown.room_id).await.unwrap(), None);
}

async fn a_room_whose_host_was_deleted_is_listed_for_nobody(store: Arc<dyn Store>) {
    let host = Uuid::now_v7();
    let player = Uuid::now_v7();
    let room = room_with_players(host, &[player]);
    store.save_room_result(&room).await.unwrap();
    let anonymous = RoomResult {
        host_id: Uuid::nil(),
        ..room.clone()
    };

    assert!(store.replace_room_result(&room, &anonymous).await.unwrap());

    assert!(
        store
            .room_results_of_host(host, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .room_results_of_host(Uuid::nil(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.room_result(room.room_id).await.unwrap(),
        Some(anonymous.clone()),
        "the players' results stay"
    );
    assert_eq!(
        store.rooms_of_player(player, 10).await.unwrap(),
        vec![room.room_id]
    );
    // Saved again with the nil host (a retried save), still listed for nobody.
    store.save_room_result(&anonymous).await.unwrap();
    assert!(
        store
            .room_results_of_host(Uuid::nil(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn forgetting_an_archived_learner_keeps_everyone_elses_rank(store: Arc<dyn Store>) {
    let entries = standings(1, 5);
    archive(&store, "2026-W40", &entries, 2).await;
    let gone = entries[1];

    assert!(
        store
            .forget_archived_learner("2026-W40", gone.user_id)
            .await
            .unwrap()
    );

    assert_eq!(
        store
            .archived_entry("2026-W40", gone.user_id)
            .await
            .unwrap(),
        None
    );
    let page = store.archived_entries("2026-W40", 1, 10).await.unwrap();
    let mut expected = entries.clone();
    expected[1].user_id = Uuid::nil();
    assert_eq!(page, expected, "the rank keeps its score under nobody");
    assert_eq!(
        store
            .archived_entry("2026-W40", entries[2].user_id)
            .await
            .unwrap(),
        Some(entries[2])
    );
    assert!(
        !store
            .forget_archived_learner("2026-W40", gone.user_id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .forget_archived_learner("2026-W41", entries[0].user_id)
            .await
            .unwrap()
    );
}

/// A room that ends while its host and a player delete their accounts: its results are
/// saved with them, and the room's check after saving makes both anonymous (what
/// `questpath_actors::room::forget::forget_deleted` does at the end of every room).
async fn a_room_saved_after_a_deletion_leaves_the_deleted_anonymous(store: Arc<dyn Store>) {
    use questpath_actors::room::forget::{DELETED_PLAYER, forget_deleted};
    let (host, ann, bob) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    store.mark_user_deleted(host, now_ms()).await.unwrap();
    store.mark_user_deleted(ann, now_ms()).await.unwrap();
    let room = room_with_players(host, &[ann, bob]);
    store.save_room_result(&room).await.unwrap();

    assert_eq!(forget_deleted(store.as_ref(), &room).await.unwrap(), 2);

    let stored = store.room_result(room.room_id).await.unwrap().unwrap();
    assert!(stored.host_id.is_nil());
    assert_eq!(stored.results["players"][0]["name"], DELETED_PLAYER);
    assert_eq!(stored.results["players"][0]["score"], 100);
    assert_eq!(
        stored.results["players"][1]["player_id"],
        serde_json::json!(bob)
    );
    assert_eq!(stored.player_ids(), vec![bob]);
    assert!(store.rooms_of_player(ann, 10).await.unwrap().is_empty());
    assert!(
        store
            .room_results_of_host(host, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(forget_deleted(store.as_ref(), &stored).await.unwrap(), 0);
}

// ---- schema upgrades ----

/// Tables schema version 5 added; a version 4 keyspace has none of them.
const TABLES_SINCE_V5: &[&str] = &[
    "weekly_archive_ranks",
    "weekly_archive_by_user",
    "weekly_archives",
    "room_results",
    "room_results_by_host",
];

/// Tables schema version 6 added (saved quizzes).
const TABLES_SINCE_V6: &[&str] = &["quizzes", "quizzes_by_owner"];

/// Tables schema version 7 added (a learner's export and deletion).
const TABLES_SINCE_V7: &[&str] = &[
    "deleted_users",
    "google_links_by_user",
    "generation_jobs_by_user",
    "xp_retired",
    "room_results_by_player",
];

/// Makes a migrated keyspace what a release of schema `version` left (without the
/// tables added since), with a user in it (and what `seed` writes); returns the store
/// (reconnected after `migrate`) and the user, having checked that `connect` refused
/// the old keyspace.
pub(crate) async fn upgraded_from(version: i32, newer_tables: &[&str]) -> (Arc<dyn Store>, User) {
    upgraded_with(version, newer_tables, |_, _| Box::pin(async {})).await
}

/// What a test writes before the upgrade: the store and the user.
type Seed = for<'a> fn(
    &'a Arc<dyn Store>,
    &'a User,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

async fn upgraded_with(version: i32, newer_tables: &[&str], seed: Seed) -> (Arc<dyn Store>, User) {
    let settings = crate::common::scylla_settings();
    let nodes = settings.nodes.join(",");
    questpath_test_support::cql::sweep_stale(&nodes).await;
    let store = crate::common::scylla_store_with(&settings).await;
    let user = new_user(&store).await;
    seed(&store, &user).await;
    drop(store);
    let session = scylla::client::session_builder::SessionBuilder::new()
        .known_nodes(&settings.nodes)
        .build()
        .await
        .unwrap();
    let ks = &settings.keyspace;
    for table in newer_tables {
        session
            .query_unpaged(format!("DROP TABLE {ks}.{table}"), ())
            .await
            .unwrap();
        session.await_schema_agreement().await.unwrap();
    }
    session
        .query_unpaged(
            format!(
                "UPDATE {ks}.schema_version SET version = {version} WHERE component = 'questpath'"
            ),
            (),
        )
        .await
        .unwrap();

    let refused = questpath::adapters::scylla::ScyllaStore::connect(&settings).await;
    let migrated = questpath::adapters::scylla::migrate(&settings).await;
    let store: Arc<dyn Store> = Arc::new(
        questpath::adapters::scylla::ScyllaStore::connect(&settings)
            .await
            .expect("the upgraded keyspace is accepted"),
    );

    match refused {
        Err(questpath::adapters::scylla::ConnectError::Schema(message)) => {
            assert!(
                message.contains(&format!("schema version {version}")),
                "{message}"
            )
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a version {version} keyspace is accepted"),
    }
    assert_eq!(
        migrated.expect("migrate"),
        questpath::adapters::scylla::SCHEMA_VERSION
    );
    assert_eq!(
        store.user_by_id(user.id).await.unwrap().map(|u| u.email),
        Some(user.email.clone()),
        "existing data is kept"
    );
    (store, user)
}

/// `migrate` brings a keyspace of schema version 4 (before room results and weekly
/// archives) to the current version: `serve` refuses it until then, and afterwards the
/// new tables work and the old data is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_upgrades_a_version_4_keyspace() {
    crate::common::with_cleanup(async {
        let newer: Vec<&str> = [TABLES_SINCE_V5, TABLES_SINCE_V6, TABLES_SINCE_V7].concat();
        // Boxed: the connect and migrate futures are too large for a test thread's stack.
        let (store, _) = Box::pin(upgraded_from(4, &newer)).await;

        let room = room_of(Uuid::new_v4(), Duration::zero());
        store.save_room_result(&room).await.unwrap();
        assert_eq!(store.room_result(room.room_id).await.unwrap(), Some(room));
        archive(&store, "2026-W47", &standings(1, 3), 2).await;
        assert_eq!(
            store
                .archived_entries("2026-W47", 1, 10)
                .await
                .unwrap()
                .len(),
            3
        );
        let quiz = quiz_of(Uuid::new_v4(), Uuid::now_v7(), 2);
        assert!(store.create_quiz(&quiz, 500).await.unwrap());
        assert_eq!(store.quiz(quiz.id).await.unwrap(), Some(quiz));
    })
    .await;
}

/// `migrate` brings a keyspace of schema version 5 (before saved quizzes) to the current
/// version, keeping what it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_upgrades_a_version_5_keyspace() {
    crate::common::with_cleanup(async {
        let newer: Vec<&str> = [TABLES_SINCE_V6, TABLES_SINCE_V7].concat();
        let (store, user) = Box::pin(upgraded_from(5, &newer)).await;

        let quiz = quiz_of(user.id, Uuid::now_v7(), 3);
        assert!(store.create_quiz(&quiz, 500).await.unwrap());
        assert_eq!(store.quiz(quiz.id).await.unwrap(), Some(quiz.clone()));
        assert_eq!(
            store.quizzes_of_owner(user.id, 10).await.unwrap(),
            vec![quiz.summary()]
        );
    })
    .await;
}

/// `migrate` brings a keyspace of schema version 6 to the current version and fills
/// the indexes version 7 added from what the keyspace holds: a learner's Google links,
/// generation jobs and rooms are found as if they had been written by this version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_upgrades_a_version_6_keyspace_and_fills_the_new_indexes() {
    crate::common::with_cleanup(async {
        fn seed<'a>(
            store: &'a Arc<dyn Store>,
            user: &'a User,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
            Box::pin(async move {
                store.link_google("sub-before-v7", user.id).await.unwrap();
                let mut job = job_of(user.id);
                job.description = "written by version 6".into();
                store.create_job(&job).await.unwrap();
                let room = room_with_players(Uuid::now_v7(), &[user.id]);
                store.save_room_result(&room).await.unwrap();
            })
        }
        let (store, user) = Box::pin(upgraded_with(6, TABLES_SINCE_V7, seed)).await;

        assert_eq!(
            store.google_links(user.id).await.unwrap(),
            vec!["sub-before-v7".to_string()]
        );
        let jobs = store.jobs_of_user(user.id).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].description, "written by version 6");
        assert_eq!(store.rooms_of_player(user.id, 10).await.unwrap().len(), 1);
        // The new tables work.
        store.mark_user_deleted(user.id, now_ms()).await.unwrap();
        assert_eq!(
            store.deleted_users(&[user.id]).await.unwrap(),
            vec![user.id]
        );
    })
    .await;
}
