//! Email: mails sent, failed attempts (temporary or permanent) and mails dead-lettered
//! after their last attempt, by kind (a fixed set the mail module names).

use prometheus::{IntCounterVec, Registry};

use super::Metrics;
use super::collectors::counter_vec;

/// The kinds of mail, label values of every email family (their series exist from
/// the start, so a dashboard's rate is 0 rather than absent).
pub const MAIL_KINDS: &[&str] = &[
    "verify_email",
    "password_reset",
    "streak_at_risk",
    "weekly_summary",
];

#[derive(Clone)]
pub(super) struct MailMetrics {
    sent: IntCounterVec,
    failed: IntCounterVec,
    dead_lettered: IntCounterVec,
}

impl MailMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = MailMetrics {
            sent: counter_vec(
                r,
                "questpath_emails_sent_total",
                "Emails handed to the mailer (SMTP or the outbox), by kind",
                &["kind"],
            )?,
            failed: counter_vec(
                r,
                "questpath_emails_failed_total",
                "Failed email attempts, by kind and failure (transient: retried; permanent: given up)",
                &["kind", "failure"],
            )?,
            dead_lettered: counter_vec(
                r,
                "questpath_emails_dead_lettered_total",
                "Emails that failed on every attempt and went to the dead letters, by kind",
                &["kind"],
            )?,
        };
        for kind in MAIL_KINDS {
            metrics.sent.with_label_values(&[kind]);
            metrics.dead_lettered.with_label_values(&[kind]);
            for failure in ["transient", "permanent"] {
                metrics.failed.with_label_values(&[kind, failure]);
            }
        }
        Ok(metrics)
    }
}

impl Metrics {
    /// A mail of `kind` was sent.
    pub fn email_sent(&self, kind: &str) {
        self.mail.sent.with_label_values(&[kind]).inc();
    }

    /// An attempt to send a mail of `kind` failed; `transient` failures are retried.
    pub fn email_failed(&self, kind: &str, transient: bool) {
        let failure = if transient { "transient" } else { "permanent" };
        self.mail.failed.with_label_values(&[kind, failure]).inc();
    }

    /// A mail of `kind` failed on its last attempt and was dead-lettered.
    pub fn email_dead_lettered(&self, kind: &str) {
        self.mail.dead_lettered.with_label_values(&[kind]).inc();
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::tests::metrics;

    #[test]
    fn email_methods_record_their_families() {
        let m = metrics();
        assert!(
            m.render()
                .contains(r#"questpath_emails_sent_total{kind="weekly_summary"} 0"#)
        );
        m.email_sent("password_reset");
        m.email_failed("password_reset", true);
        m.email_failed("verify_email", false);
        m.email_dead_lettered("password_reset");
        let text = m.render();
        for expected in [
            r#"questpath_emails_sent_total{kind="password_reset"} 1"#,
            r#"questpath_emails_failed_total{failure="transient",kind="password_reset"} 1"#,
            r#"questpath_emails_failed_total{failure="permanent",kind="verify_email"} 1"#,
            r#"questpath_emails_dead_lettered_total{kind="password_reset"} 1"#,
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
    }
}
