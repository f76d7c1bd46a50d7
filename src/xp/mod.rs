//! Granting XP through the ledger: written once under a deterministic id, then applied
//! to the profile and the leaderboard by setting both to the ledger's sum. Setting
//! (not adding) makes every step safe to repeat, so a crash anywhere is completed by
//! running the same steps again: `recover` does that for pending grants.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use questpath_actors::rules::xp::{XpGrant, player_level};
use uuid::Uuid;

use crate::ports::{Bus, Leaderboard, Store, StoreError, XpEntry};

/// The all-time leaderboard.
pub const ALL_TIME: &str = "alltime";

/// Result of a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantOutcome {
    /// XP this call added: the grant's amount, or 0 when it had been granted before.
    pub earned: i64,
    pub total_xp: i64,
}

impl GrantOutcome {
    /// Whether the grant moved the learner to a higher player level.
    pub fn level_up(&self) -> bool {
        self.earned > 0 && player_level(self.total_xp) > player_level(self.total_xp - self.earned)
    }
}

#[derive(Clone)]
pub struct XpService {
    store: Arc<dyn Store>,
    leaderboard: Arc<dyn Leaderboard>,
    bus: Arc<dyn Bus>,
}

impl XpService {
    pub fn new(
        store: Arc<dyn Store>,
        leaderboard: Arc<dyn Leaderboard>,
        bus: Arc<dyn Bus>,
    ) -> Self {
        XpService {
            store,
            leaderboard,
            bus,
        }
    }

    /// Grants `grant` to the user exactly once, whatever retries happen.
    pub async fn grant(&self, user_id: Uuid, grant: &XpGrant) -> Result<GrantOutcome, StoreError> {
        let entry = XpEntry {
            user_id,
            grant_id: grant.grant_id.clone(),
            amount: grant.amount,
            source: grant.source.as_str().to_string(),
            created_at: Utc::now(),
        };
        let written = self.store.record_xp(&entry).await?;
        crate::fault::point("xp.after_ledger");
        let total_xp = self.apply(user_id).await?;
        let earned = if written { grant.amount } else { 0 };
        if written {
            tracing::info!(%user_id, grant_id = %grant.grant_id, amount = grant.amount, total_xp, "xp granted");
            let event = serde_json::json!({
                "type": "xp.granted",
                "amount": grant.amount,
                "total_xp": total_xp,
                "player_level": player_level(total_xp),
            });
            if let Err(e) = self
                .bus
                .publish(
                    &crate::goals::worker::user_topic(user_id),
                    event.to_string().as_bytes(),
                )
                .await
            {
                tracing::warn!(error = %e, "could not publish xp event");
            }
        }
        Ok(GrantOutcome { earned, total_xp })
    }

    /// Brings the profile and the leaderboard to the ledger's sum and clears the pending
    /// grants that sum covers. Returns the total.
    pub async fn apply(&self, user_id: Uuid) -> Result<i64, StoreError> {
        let pending = self.store.xp_pending(user_id).await?;
        let mut entries = self.store.xp_entries(user_id).await?;
        let mut total: i64 = entries.iter().map(|e| e.amount).sum();
        // Two applies for one user may overlap; whichever writes last must have read the
        // latest ledger, so re-read after writing and write again if it moved.
        for _ in 0..3 {
            self.store.set_total_xp(user_id, total).await?;
            crate::fault::point("xp.after_profile");
            if let Err(e) = self.leaderboard.set_score(ALL_TIME, user_id, total).await {
                // Left pending: recovery completes it when the leaderboard is back.
                tracing::warn!(%user_id, error = %e, "leaderboard update failed; grant stays pending");
                return Ok(total);
            }
            entries = self.store.xp_entries(user_id).await?;
            let latest: i64 = entries.iter().map(|e| e.amount).sum();
            if latest == total {
                break;
            }
            total = latest;
        }
        let covered: Vec<String> = pending
            .into_iter()
            .filter(|id| entries.iter().any(|e| &e.grant_id == id))
            .collect();
        self.store.clear_xp_pending(user_id, &covered).await?;
        Ok(total)
    }

    /// Completes every grant a crash left half-applied. Returns how many users were
    /// brought up to date.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        let users = self.store.xp_pending_users(1000).await?;
        for user in &users {
            self.apply(*user).await?;
        }
        if !users.is_empty() {
            tracing::info!(users = users.len(), "pending xp grants recovered");
        }
        Ok(users.len())
    }

    /// Runs [`XpService::recover`] now and then every `every` until `stop`.
    pub async fn recover_until_stopped(
        self,
        every: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        loop {
            if let Err(e) = self.recover().await {
                tracing::warn!(error = %e, "xp recovery failed; will retry");
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
