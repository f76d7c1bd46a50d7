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
