//! What a learner is told, end to end through the server's own loops on a manual clock:
//! a streak at risk in the evening and a decided league week, each as one in-app
//! notification and one mail (opted in, at a verified address), however often the
//! loops run.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use questpath::leaderboard::Week;
use questpath::xp::XpService;
use questpath_actors::clock::{Clock, ManualClock};
use questpath_actors::leagues::week_end::GRACE;
use questpath_actors::rules::xp::{XpGrant, XpSource};
use questpath_actors::streaks::Streaks;
use questpath_test_support::mail::{ReceivedMail, wait_for_mails};
use questpath_test_support::{TestApp, TestUser};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

/// The `token` parameter of the mail's link to `#/{page}?token=`.
fn token_of(mail: &ReceivedMail, page: &str) -> String {
    let marker = format!("#/{page}?token=");
    let at = mail.text.find(&marker).expect("a link to the page") + marker.len();
    mail.text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

fn subjects(mails: &[ReceivedMail]) -> Vec<String> {
    mails
        .iter()
        .filter_map(|m| m.header("Subject").map(str::to_string))
        .collect()
}

/// The learner's notifications of `kind`, waiting until there are `count` of them.
async fn wait_for_notifications(
    app: &TestApp,
    token: &str,
    kind: &str,
    count: usize,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let page: Value = app
            .get_bearer("/api/v1/notifications?limit=50", token)
            .await
            .json()
            .await
            .unwrap();
        let found: Vec<Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == kind)
            .cloned()
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} {kind} notification(s) within {WAIT:?}: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn a_streak_at_risk_and_a_decided_league_week_reach_the_learner_once_each() {
    // A week to come, so its boards are kept while the clock runs through it.
    let week = Week::of(chrono::Utc::now()).next();
    let clock = ManualClock::new(week.starts_at() + Span::hours(10));
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let server_clock = shared.clone();
    let app = TestApp::builder()
        .env("QUESTPATH_STREAK_CHECK_SECS", "1")
        .env("QUESTPATH_LEAGUE_CHECK_SECS", "1")
        .backends(move |b| b.with_clock(server_clock))
        .start()
        .await;
    let user = TestUser::generate();
    let session = app.register(&user).await;
    let token = session.access.clone();
    let user_id: Uuid = session.body["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // Verified, and both optional mails wanted.
    let verification = wait_for_mails(&app.outbox(), &user.email, 1, WAIT).await;
    let verified = app
        .post_json(
            "/api/v1/auth/verify-email",
            &json!({ "token": token_of(&verification[0], "verify-email") }),
        )
        .await;
    assert_eq!(verified.status(), 200);
    let wanted = app
        .call(
            Method::PATCH,
            "/api/v1/me/email",
            &token,
            Some(&json!({"streak_reminders": true, "weekly_summary": true})),
        )
        .await;
    assert_eq!(wanted.status(), 200);

    // Monday: 30 XP (the goal is 20) keeps the day and places the learner in a league.
    let b = &app.backends;
    let streaks = Streaks::new(b.store.clone(), b.bus.clone(), shared.clone());
    let xp = XpService::new(b.store.clone(), b.leaderboard.clone(), b.bus.clone())
        .with_clock(shared)
        .with_streaks(streaks);
    let grant = XpGrant {
        grant_id: format!("engagement:{user_id}:monday"),
        amount: 30,
        source: XpSource::LevelFirstPass,
    };
    assert_eq!(xp.grant(user_id, &grant).await.unwrap().earned, 30);
    let me: Value = app
        .get_bearer("/api/v1/me", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["streak"]["current"], 1, "{me}");

    // Tuesday evening, nothing earned yet: told once, by notification and by mail,
    // though the check runs every second.
    clock.set(week.starts_at() + Span::days(1) + Span::hours(19) + Span::minutes(30));
    let local_date = (week.starts_at() + Span::days(1)).date_naive().to_string();
    let at_risk = wait_for_notifications(&app, &token, "streak_at_risk", 1).await;
    assert_eq!(at_risk[0]["data"]["streak"], 1);
    assert_eq!(at_risk[0]["data"]["local_date"], local_date.as_str());
    let mails = wait_for_mails(&app.outbox(), &user.email, 2, WAIT).await;
    assert!(
        subjects(&mails)
            .iter()
            .any(|s| s.contains("streak is at risk")),
        "{:?}",
        subjects(&mails)
    );

    // The week ends; after the grace a pass decides it: alone in the cohort, the
    // learner is promoted and told so, with the weekly summary mail.
    clock.set(week.ends_at() + GRACE + Span::minutes(1));
    let results = wait_for_notifications(&app, &token, "league_result", 1).await;
    let data = &results[0]["data"];
    assert_eq!(data["week"], week.label().as_str());
    assert_eq!(
        (&data["tier_before"], &data["tier_after"], &data["outcome"]),
        (&json!("bronze"), &json!("silver"), &json!("promoted"))
    );
    assert_eq!((&data["rank"], &data["xp"]), (&json!(1), &json!(30)));
    let mails = wait_for_mails(&app.outbox(), &user.email, 3, WAIT).await;
    let summary = subjects(&mails)
        .into_iter()
        .find(|s| s.contains(&week.label()))
        .expect("the weekly summary");
    assert_eq!(summary, format!("Your QuestPath week {}", week.label()));

    // The loops keep running: nobody is told twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        wait_for_notifications(&app, &token, "streak_at_risk", 1)
            .await
            .len(),
        1
    );
    assert_eq!(
        wait_for_notifications(&app, &token, "league_result", 1)
            .await
            .len(),
        1
    );
    assert_eq!(
        questpath_test_support::mail::mails_to(&app.outbox(), &user.email).len(),
        3
    );
}

/// The streak-at-risk hook alone, with a job queue that fails once.
mod flaky_queue {

    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use chrono::{NaiveDate, Utc};
    use questpath_actors::ports::store::MailPreferences;
    use questpath_actors::ports::{Job, JobQueue, NewUser, PortResult, Store};

    use questpath::adapters::embedded::{
        EmbeddedStore, InProcessBus, InProcessCache, InProcessJobQueue,
    };
    use questpath::config::Secret;
    use questpath::engagement::TellAtRisk;
    use questpath::mail::links::Links;
    use questpath::mail::service::MailService;
    use questpath::mail::unsubscribe::UnsubscribeKeys;
    use questpath_actors::notifications::Notifications;
    use questpath_actors::ports::PortError;
    use questpath_actors::streaks::{AtRisk, AtRiskHook};

    /// The in-process queue, refusing the next enqueue when told (Redis down).
    struct Flaky {
        inner: InProcessJobQueue,
        refuse: AtomicBool,
    }

    #[async_trait]
    impl JobQueue for Flaky {
        fn backend(&self) -> &'static str {
            "flaky"
        }
        async fn ping(&self) -> PortResult<()> {
            self.inner.ping().await
        }
        async fn enqueue(&self, queue: &str, payload: &[u8]) -> PortResult<String> {
            if self.refuse.swap(false, Ordering::SeqCst) {
                return Err(PortError::new("flaky", "enqueue", "down"));
            }
            self.inner.enqueue(queue, payload).await
        }
        async fn claim(
            &self,
            queue: &str,
            consumer: &str,
            wait: Duration,
        ) -> PortResult<Option<Job>> {
            self.inner.claim(queue, consumer, wait).await
        }
        async fn ack(&self, job: &Job) -> PortResult<()> {
            self.inner.ack(job).await
        }
        async fn retry(&self, job: &Job, delay: Duration, reason: &str) -> PortResult<bool> {
            self.inner.retry(job, delay, reason).await
        }
        async fn depth(&self, queue: &str) -> PortResult<u64> {
            self.inner.depth(queue).await
        }
        async fn dead_letters(&self, queue: &str, limit: usize) -> PortResult<Vec<(Job, String)>> {
            self.inner.dead_letters(queue, limit).await
        }
    }

    #[actix_web::test]
    async fn a_reminder_that_cannot_be_queued_is_retried_and_tells_nobody_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).await.unwrap());
        let user = store
            .create_user(NewUser::new("late@example.org"))
            .await
            .unwrap();
        store
            .set_email_verified(user.id, &user.email, Utc::now())
            .await
            .unwrap();
        store
            .set_mail_preferences(
                user.id,
                MailPreferences {
                    streak_reminders: true,
                    weekly_summary: false,
                },
            )
            .await
            .unwrap();
        let queue = Arc::new(Flaky {
            inner: InProcessJobQueue::new(),
            refuse: AtomicBool::new(true),
        });
        let notifications = Notifications::new(store.clone(), Arc::new(InProcessBus::new()));
        let hook = TellAtRisk {
            notifications: notifications.clone(),
            mail: MailService::new(
                store.clone(),
                queue.clone(),
                Arc::new(InProcessCache::new()),
                Links::new("http://127.0.0.1:8080"),
                UnsubscribeKeys::derive(&Secret::new("engagement-test-key-0123456789abcdef")),
            ),
        };
        let at_risk = AtRisk {
            user_id: user.id,
            streak: 3,
            local_date: NaiveDate::from_ymd_opt(2026, 12, 8).unwrap(),
        };

        // The mail could not be queued: an error, so the check keeps the learner due.
        assert!(hook.at_risk(&at_risk).await.is_err());
        assert_eq!(queue.depth(questpath::mail::QUEUE).await.unwrap(), 0);
        // The next pass: the mail is queued, the notification is not made again.
        hook.at_risk(&at_risk).await.unwrap();
        hook.at_risk(&at_risk).await.unwrap();
        assert_eq!(queue.depth(questpath::mail::QUEUE).await.unwrap(), 1);
        let page = store.notifications(user.id, None, 10, false).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].kind, "streak_at_risk");
    }
}
