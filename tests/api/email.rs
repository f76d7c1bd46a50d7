//! Email: the reset mail through a real SMTP server (the loopback aiosmtpd of
//! `scripts/test`), verification through the outbox of the embedded default, the
//! worker's retries and dead letters, opt-in mails and one-click unsubscribe.

use std::sync::Arc;
use std::time::Duration;

use questpath::adapters::embedded::{InProcessCache, InProcessJobQueue};
use questpath::adapters::mail::SmtpMailer;
use questpath::config::Secret;
use questpath::mail::links::Links;
use questpath::mail::service::{Enqueued, MailService, Skip};
use questpath::mail::templates::WeeklySummary;
use questpath::mail::unsubscribe::UnsubscribeKeys;
use questpath::mail::worker::{EmailWorker, Outcome};
use questpath::mail::{EmailJob, MailKind, QUEUE};
use questpath::metrics::Metrics;
use questpath::ports::{JobQueue, OutgoingMail};
use questpath_test_support::mail::{
    ReceivedMail, mails_to, smtp_addr, smtp_maildir, smtp_settings, wait_for_mails,
};
use questpath_test_support::{TestApp, TestUser};
use reqwest::Method;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);
const JWT_SECRET: &str = "email-tests-signing-key-0123456789abcdef";

/// The `token` parameter of the mail's link to `#/{page}?token=`.
fn token_of(mail: &ReceivedMail, page: &str) -> String {
    let marker = format!("#/{page}?token=");
    let at = mail.text.find(&marker).expect("a link to the page") + marker.len();
    mail.text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

fn with_subject<'a>(mails: &'a [ReceivedMail], subject: &str) -> Vec<&'a ReceivedMail> {
    mails
        .iter()
        .filter(|m| m.header("Subject").is_some_and(|s| s.contains(subject)))
        .collect()
}

async fn smtp_app() -> TestApp {
    let addr = smtp_addr();
    let (host, port) = addr.rsplit_once(':').unwrap();
    TestApp::builder()
        .env("QUESTPATH_SMTP_HOST", host)
        .env("QUESTPATH_SMTP_PORT", port)
        .env("QUESTPATH_SMTP_TLS", "none")
        .env("QUESTPATH_EMAIL_RETRY_SECS", "0")
        .start()
        .await
}

#[actix_web::test]
async fn a_reset_mail_arrives_through_smtp_and_its_link_works_once() {
    let app = smtp_app().await;
    let user = TestUser::generate();
    let session = app.register(&user).await;

    let asked = app
        .post_json("/api/v1/auth/password-reset", &json!({"email": user.email}))
        .await;
    assert_eq!(asked.status(), 202);
    // The verification mail of the sign-up, and the reset mail.
    let mails = wait_for_mails(&smtp_maildir(), &user.email, 2, WAIT).await;
    let reset = with_subject(&mails, "Reset your QuestPath password")[0];
    assert!(
        reset.html.contains("#/reset-password?token="),
        "HTML part too"
    );
    assert!(
        reset.header("List-Unsubscribe").is_none(),
        "not a list mail"
    );
    let token = token_of(reset, "reset-password");

    let confirm = |password: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/password-reset/confirm",
                &json!({"token": token, "password": password}),
            )
            .await
        }
    };
    // A password the rules refuse does not use the link up.
    assert_eq!(confirm("short").await.status(), 422);
    assert_eq!(confirm("a brand new passphrase").await.status(), 204);
    let again = confirm("yet another passphrase").await;
    assert_eq!(again.status(), 400);
    let problem: Value = again.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_link");

    assert_eq!(
        app.login_raw(&user.email, &user.password).await.status(),
        401,
        "the old password is gone"
    );
    let signed_in = app.login_raw(&user.email, "a brand new passphrase").await;
    assert_eq!(signed_in.status(), 200);
    let body: Value = signed_in.json().await.unwrap();
    assert_eq!(
        body["user"]["email_verified"], true,
        "the reset proved the address"
    );
    assert_eq!(
        app.post_with_refresh("/api/v1/auth/refresh", &session.refresh)
            .await
            .status(),
        401,
        "every session from before the reset is revoked"
    );
}

#[actix_web::test]
async fn a_reset_request_answers_the_same_for_unknown_addresses_and_is_limited_per_address() {
    let app = TestApp::builder().start().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let unknown = format!("nobody-{}@example.org", uuid::Uuid::new_v4().simple());

    let mut answers = Vec::new();
    for email in [&user.email, &unknown] {
        let response = app
            .post_json("/api/v1/auth/password-reset", &json!({"email": email}))
            .await;
        answers.push((response.status(), response.json::<Value>().await.unwrap()));
    }
    assert_eq!(answers[0], answers[1], "registered or not, the same answer");
    assert_eq!(answers[0].0, 202);

    for _ in 0..3 {
        app.post_json("/api/v1/auth/password-reset", &json!({"email": user.email}))
            .await;
    }
    // Three reset mails (and the verification mail), not four.
    let mails = wait_for_mails(&app.outbox(), &user.email, 4, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails_now = mails_to(&app.outbox(), &user.email);
    assert_eq!(mails_now.len(), mails.len());
    let resets = with_subject(&mails_now, "Reset your QuestPath password");
    assert_eq!(
        resets.len(),
        3,
        "at most 3 reset mails per address per hour"
    );
    assert!(mails_to(&app.outbox(), &unknown).is_empty());

    // Only the newest link works.
    let mut tokens: Vec<String> = resets
        .iter()
        .map(|m| token_of(m, "reset-password"))
        .collect();
    let newest = tokens.pop().unwrap();
    for old in tokens {
        let response = app
            .post_json(
                "/api/v1/auth/password-reset/confirm",
                &json!({"token": old, "password": "a brand new passphrase"}),
            )
            .await;
        assert_eq!(response.status(), 400, "an earlier link is replaced");
    }
    let response = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({"token": newest, "password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(response.status(), 204);
}

#[actix_web::test]
async fn sign_up_writes_a_verification_mail_to_the_outbox_and_its_link_verifies_once() {
    // The embedded default: no SMTP configured, mails go to <data>/outbox/*.eml.
    let app = TestApp::builder().start().await;
    let user = TestUser::generate();
    let session = app.register(&user).await;
    assert_eq!(session.body["user"]["email_verified"], false);

    let mails = wait_for_mails(&app.outbox(), &user.email, 1, WAIT).await;
    let files: Vec<_> = std::fs::read_dir(app.outbox())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.iter().all(|p| p.extension().unwrap() == "eml"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "reset links are secrets: owner only");
    }
    let first = token_of(&mails[0], "verify-email");

    // A resend replaces the first link.
    let resend = app
        .call(
            Method::POST,
            "/api/v1/me/email/verification",
            &session.access,
            None,
        )
        .await;
    assert_eq!(resend.status(), 202);
    let mails = wait_for_mails(&app.outbox(), &user.email, 2, WAIT).await;
    let second = mails
        .iter()
        .map(|m| token_of(m, "verify-email"))
        .find(|t| *t != first)
        .unwrap();
    let verify = |token: String| {
        let app = &app;
        async move {
            app.post_json("/api/v1/auth/verify-email", &json!({ "token": token }))
                .await
        }
    };
    assert_eq!(verify(first).await.status(), 400, "replaced by the resend");
    let verified = verify(second.clone()).await;
    assert_eq!(verified.status(), 200);
    let body: Value = verified.json().await.unwrap();
    assert_eq!(body["email_verified"], true);
    assert_eq!(verify(second).await.status(), 400, "a link works once");

    let me: Value = app
        .get_bearer("/api/v1/me", &session.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email_verified"], true);
    let resend = app
        .call(
            Method::POST,
            "/api/v1/me/email/verification",
            &session.access,
            None,
        )
        .await;
    assert_eq!(resend.status(), 409);
}

fn job(to: &str) -> EmailJob {
    EmailJob {
        kind: MailKind::PasswordReset,
        user_id: uuid::Uuid::new_v4(),
        mail: OutgoingMail {
            message_id: uuid::Uuid::now_v7().to_string(),
            to: to.into(),
            subject: "Reset your QuestPath password".into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
            unsubscribe_url: None,
        },
    }
}

/// A worker over the test SMTP server, an in-process queue of 3 attempts and the
/// embedded store of a fresh app.
fn worker(app: &TestApp, queue: Arc<dyn JobQueue>, metrics: Arc<Metrics>) -> EmailWorker {
    EmailWorker {
        store: app.backends.store.clone(),
        queue,
        cache: Arc::new(InProcessCache::new()),
        mailer: Arc::new(
            SmtpMailer::new(&smtp_settings(), "QuestPath <noreply@questpath.test>").unwrap(),
        ),
        metrics: Some(metrics),
        consumer: "test".into(),
        retry_delay: Duration::ZERO,
    }
}

#[actix_web::test]
async fn a_failing_mail_is_retried_then_dead_lettered() {
    let app = TestApp::builder()
        .env("QUESTPATH_EMAIL_WORKERS", "0")
        .start()
        .await;
    let queue: Arc<dyn JobQueue> = Arc::new(InProcessJobQueue::new().with_max_attempts(3));
    let metrics = Arc::new(Metrics::new(questpath::startup::JOB_QUEUES).unwrap());
    let worker = worker(&app, queue.clone(), metrics.clone());
    // The test SMTP server answers 451 (try again later) for this domain.
    let failing = job("someone@tempfail.invalid");
    queue
        .enqueue(QUEUE, &serde_json::to_vec(&failing).unwrap())
        .await
        .unwrap();

    let id = failing.mail.message_id.clone();
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(worker.try_execute().await.unwrap());
    }
    assert_eq!(
        outcomes,
        vec![
            Outcome::Retrying(id.clone()),
            Outcome::Retrying(id.clone()),
            Outcome::DeadLettered(id.clone()),
        ]
    );
    let dead = queue.dead_letters(QUEUE, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0.attempt, 3);
    assert!(
        dead[0].1.contains("451"),
        "the reason is the server's: {}",
        dead[0].1
    );
    assert_eq!(worker.try_execute().await.unwrap(), Outcome::Idle);
    let text = metrics.render();
    for expected in [
        r#"questpath_emails_failed_total{failure="transient",kind="password_reset"} 3"#,
        r#"questpath_emails_dead_lettered_total{kind="password_reset"} 1"#,
        r#"questpath_emails_sent_total{kind="password_reset"} 0"#,
    ] {
        assert!(text.contains(expected), "missing {expected}");
    }
}

#[actix_web::test]
async fn a_mail_is_sent_once_however_often_its_job_runs_and_a_rejected_one_is_not_retried() {
    let app = TestApp::builder()
        .env("QUESTPATH_EMAIL_WORKERS", "0")
        .start()
        .await;
    let queue: Arc<dyn JobQueue> = Arc::new(InProcessJobQueue::new().with_max_attempts(3));
    let metrics = Arc::new(Metrics::new(questpath::startup::JOB_QUEUES).unwrap());
    let worker = worker(&app, queue.clone(), metrics.clone());
    let to = format!("{}@example.org", uuid::Uuid::new_v4().simple());
    let once = job(&to);
    let payload = serde_json::to_vec(&once).unwrap();
    // The same message queued twice (a retried enqueue, a duplicated job).
    queue.enqueue(QUEUE, &payload).await.unwrap();
    queue.enqueue(QUEUE, &payload).await.unwrap();
    let id = once.mail.message_id.clone();
    assert_eq!(
        worker.try_execute().await.unwrap(),
        Outcome::Sent(id.clone())
    );
    assert_eq!(
        worker.try_execute().await.unwrap(),
        Outcome::AlreadySent(id.clone())
    );
    let received = wait_for_mails(&smtp_maildir(), &to, 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(mails_to(&smtp_maildir(), &to).len(), 1, "sent once");

    let rejected = job("someone@reject.invalid");
    queue
        .enqueue(QUEUE, &serde_json::to_vec(&rejected).unwrap())
        .await
        .unwrap();
    assert_eq!(
        worker.try_execute().await.unwrap(),
        Outcome::Rejected(rejected.mail.message_id.clone())
    );
    assert_eq!(queue.depth(QUEUE).await.unwrap(), 0, "a 5xx is not retried");
}

#[actix_web::test]
async fn opt_in_mails_go_to_verified_learners_who_want_them_and_unsubscribe_in_one_click() {
    let app = TestApp::builder()
        .env("QUESTPATH_JWT_SECRET", JWT_SECRET)
        .start()
        .await;
    let user = TestUser::generate();
    let session = app.register(&user).await;
    let user_id: uuid::Uuid = session.body["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mail = MailService::new(
        app.backends.store.clone(),
        app.backends.job_queue.clone(),
        app.backends.cache.clone(),
        Links::new(app.url("")),
        UnsubscribeKeys::derive(&Secret::new(JWT_SECRET)),
    );
    let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
    let summary = WeeklySummary {
        week: "2026-W49".into(),
        xp: 120,
        league: None,
        streak: Some(4),
    };

    // Off by default.
    let prefs: Value = app
        .get_bearer("/api/v1/me/email", &session.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prefs["streak_reminders"], false);
    assert_eq!(prefs["weekly_summary"], false);
    assert_eq!(
        mail.enqueue_streak_at_risk(user_id, 4, date).await.unwrap(),
        Enqueued::Skipped(Skip::NotWanted)
    );
    let on = app
        .call(
            Method::PATCH,
            "/api/v1/me/email",
            &session.access,
            Some(&json!({"streak_reminders": true})),
        )
        .await;
    assert_eq!(on.status(), 200);
    assert_eq!(
        mail.enqueue_streak_at_risk(user_id, 4, date).await.unwrap(),
        Enqueued::Skipped(Skip::Unverified),
        "nothing optional to an unverified address"
    );
    let verification = wait_for_mails(&app.outbox(), &user.email, 1, WAIT).await;
    let token = token_of(&verification[0], "verify-email");
    app.post_json("/api/v1/auth/verify-email", &json!({ "token": token }))
        .await;

    assert!(matches!(
        mail.enqueue_streak_at_risk(user_id, 4, date).await.unwrap(),
        Enqueued::Queued { .. }
    ));
    assert_eq!(
        mail.enqueue_streak_at_risk(user_id, 4, date).await.unwrap(),
        Enqueued::Skipped(Skip::AlreadyQueued),
        "once per learner and day"
    );
    assert_eq!(
        mail.enqueue_weekly_summary(user_id, &summary)
            .await
            .unwrap(),
        Enqueued::Skipped(Skip::NotWanted)
    );
    let mails = wait_for_mails(&app.outbox(), &user.email, 2, WAIT).await;
    let streak = with_subject(&mails, "streak is at risk")[0];
    assert_eq!(
        streak.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(streak.text.contains("#/unsubscribe?token="));
    let target = streak
        .header("List-Unsubscribe")
        .unwrap()
        .trim_matches(['<', '>'])
        .to_string();

    // A tampered token changes nothing.
    let forged = app
        .client
        .post(format!("{}x", target.replace("token=", "token=A")))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    // What a mail client does for one-click unsubscribe (RFC 8058).
    let clicked = app
        .client
        .post(&target)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(clicked.status(), 200);
    let body: Value = clicked.json().await.unwrap();
    assert_eq!(body["list"], "streak_reminders");
    let prefs: Value = app
        .get_bearer("/api/v1/me/email", &session.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prefs["streak_reminders"], false);
    assert_eq!(prefs["email_verified"], true);
    let next_day = date.succ_opt().unwrap();
    assert_eq!(
        mail.enqueue_streak_at_risk(user_id, 5, next_day)
            .await
            .unwrap(),
        Enqueued::Skipped(Skip::NotWanted)
    );
    // A browser opening the link is sent to the web client's page; nothing changes.
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&target)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert!(
        page.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/#/unsubscribe?token=")
    );
}
