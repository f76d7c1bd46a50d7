//! Mailer conformance: the SMTP adapter (against the loopback aiosmtpd that
//! `scripts/test` starts) and the outbox adapter deliver the same message: both parts,
//! the Message-ID, the one-click unsubscribe headers when asked for, and a permanent
//! failure for an address no server can take. SMTP's own refusals are checked after.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use questpath::adapters::mail::{OutboxMailer, SmtpMailer};
use questpath::ports::{MailError, Mailer, OutgoingMail};
use questpath_test_support::mail::{smtp_maildir, smtp_settings, wait_for_mails};
use uuid::Uuid;

const FROM: &str = "QuestPath Tests <noreply@questpath.test>";

/// A mailer and the folder where what it delivers can be read.
pub struct UnderTest {
    mailer: Arc<dyn Mailer>,
    inbox: PathBuf,
}

async fn smtp() -> UnderTest {
    UnderTest {
        mailer: Arc::new(SmtpMailer::new(&smtp_settings(), FROM).expect("smtp mailer")),
        inbox: smtp_maildir(),
    }
}

async fn outbox() -> UnderTest {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    UnderTest {
        mailer: Arc::new(OutboxMailer::new(dir.join("outbox"), FROM).expect("outbox mailer")),
        inbox: dir.join("outbox"),
    }
}

crate::conformance!(
    smtp_adapter => super::smtp(),
    outbox_adapter => super::outbox();
    [
        a_mail_arrives_with_both_parts_and_its_message_id,
        an_unsubscribable_mail_carries_the_one_click_headers,
        a_malformed_recipient_is_a_permanent_failure,
    ]
);

fn mail(to: &str, unsubscribe_url: Option<String>) -> OutgoingMail {
    OutgoingMail {
        message_id: Uuid::now_v7().to_string(),
        to: to.to_string(),
        subject: "Reset your QuestPath password".into(),
        text: "Hello Ada,\n\nopen http://127.0.0.1:8080/#/reset?token=abc-DEF_123 to reset.\n".into(),
        html: "<p>Hello Ada, <a href=\"http://127.0.0.1:8080/#/reset?token=abc-DEF_123\">reset</a> \u{2014} caf\u{e9}</p>".into(),
        unsubscribe_url,
    }
}

fn address() -> String {
    format!("{}@example.org", Uuid::new_v4().simple())
}

async fn a_mail_arrives_with_both_parts_and_its_message_id(t: UnderTest) {
    let to = address();
    let sent = mail(&to, None);
    t.mailer.send(&sent).await.expect("sent");
    let received = wait_for_mails(&t.inbox, &to, 1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1, "exactly one delivery");
    let got = &received[0];
    assert_eq!(got.header("Subject"), Some(sent.subject.as_str()));
    assert_eq!(
        got.header("Message-ID"),
        Some(format!("<{}@questpath.test>", sent.message_id).as_str())
    );
    assert!(
        got.header("From")
            .unwrap()
            .contains("noreply@questpath.test")
    );
    assert_eq!(
        got.link("http://127.0.0.1:8080/#/reset").as_deref(),
        Some("http://127.0.0.1:8080/#/reset?token=abc-DEF_123")
    );
    assert!(got.html.contains("caf\u{e9}"), "{}", got.html);
    assert!(got.header("List-Unsubscribe").is_none());
}

async fn an_unsubscribable_mail_carries_the_one_click_headers(t: UnderTest) {
    let to = address();
    let url = "http://127.0.0.1:8080/api/v1/email/unsubscribe?token=t0k3n".to_string();
    t.mailer.send(&mail(&to, Some(url.clone()))).await.unwrap();
    let got = wait_for_mails(&t.inbox, &to, 1, Duration::from_secs(10)).await;
    assert_eq!(
        got[0].header("List-Unsubscribe"),
        Some(format!("<{url}>").as_str())
    );
    assert_eq!(
        got[0].header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
}

async fn a_malformed_recipient_is_a_permanent_failure(t: UnderTest) {
    let error = t
        .mailer
        .send(&mail("not an address", None))
        .await
        .unwrap_err();
    assert!(matches!(error, MailError::Permanent(_)), "{error:?}");
}

#[tokio::test]
async fn smtp_temporary_refusals_are_transient_and_rejections_permanent() {
    let t = smtp().await;
    let temporary = t
        .mailer
        .send(&mail("someone@tempfail.invalid", None))
        .await
        .unwrap_err();
    assert!(temporary.is_transient(), "{temporary:?}");
    let rejected = t
        .mailer
        .send(&mail("someone@reject.invalid", None))
        .await
        .unwrap_err();
    assert!(matches!(rejected, MailError::Permanent(_)), "{rejected:?}");
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_a_transient_failure() {
    let port = questpath_test_support::free_port();
    let mut settings = smtp_settings();
    settings.port = port;
    settings.timeout = Duration::from_secs(2);
    let mailer = SmtpMailer::new(&settings, FROM).unwrap();
    let error = mailer.send(&mail(&address(), None)).await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
}
