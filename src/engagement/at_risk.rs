//! A streak at risk: an in-app notification, then the reminder mail (sent only to a
//! verified address whose learner turned reminders on).

use async_trait::async_trait;

use questpath_actors::notifications::{NewNotification, Notifications, StreakAtRisk};
use questpath_actors::ports::PortError;
use questpath_actors::streaks::{AtRisk, AtRiskHook};

use crate::mail::service::MailService;

/// The hook the evening check calls for each learner whose streak is at risk.
#[derive(Clone)]
pub struct TellAtRisk {
    pub notifications: Notifications,
    pub mail: MailService,
}

#[async_trait]
impl AtRiskHook for TellAtRisk {
    /// An error leaves the learner due, so the next pass tells them (nobody twice).
    async fn at_risk(&self, at_risk: &AtRisk) -> Result<(), PortError> {
        let note = NewNotification::streak_at_risk(StreakAtRisk {
            streak: at_risk.streak,
            local_date: at_risk.local_date,
        });
        self.notifications
            .notify(at_risk.user_id, note)
            .await
            .map_err(|e| PortError::new("store", "notify streak at risk", e))?;
        self.mail
            .enqueue_streak_at_risk(at_risk.user_id, at_risk.streak, at_risk.local_date)
            .await
            .map_err(|e| PortError::new("mail", "queue streak reminder", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use chrono::{NaiveDate, Utc};
    use questpath_actors::ports::store::MailPreferences;
    use questpath_actors::ports::{Job, JobQueue, NewUser, PortResult, Store};

    use super::*;
    use crate::adapters::embedded::{
        EmbeddedStore, InProcessBus, InProcessCache, InProcessJobQueue,
    };
    use crate::config::Secret;
    use crate::mail::links::Links;
    use crate::mail::unsubscribe::UnsubscribeKeys;

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
        assert_eq!(queue.depth(crate::mail::QUEUE).await.unwrap(), 0);
        // The next pass: the mail is queued, the notification is not made again.
        hook.at_risk(&at_risk).await.unwrap();
        hook.at_risk(&at_risk).await.unwrap();
        assert_eq!(queue.depth(crate::mail::QUEUE).await.unwrap(), 1);
        let page = store.notifications(user.id, None, 10, false).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].kind, "streak_at_risk");
    }
}
