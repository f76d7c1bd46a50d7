//! What a learner sees of their leagues: the current week's cohort with its zones and
//! the time left, and their past weeks' results.

use chrono::{DateTime, Duration, Utc};

use super::push::standings;
use super::{LeagueError, Leagues};
use crate::domain::Tier;
use crate::events::LeagueStandings;
use crate::leaderboard::Week;
use crate::ports::User;
use crate::ports::store::{CohortId, LeagueMembership};

/// Most past weeks in one page.
pub const MAX_HISTORY_PAGE: usize = 50;

/// The learner's league this week.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentLeague {
    pub week: Week,
    /// Their tier this week (the one they will be placed in, when not yet placed).
    pub tier: Tier,
    pub ends_at: DateTime<Utc>,
    /// Until the week ends (never negative).
    pub time_left: Duration,
    /// Their cohort and its standings; `None` until their first XP of the week.
    pub cohort: Option<(CohortId, LeagueStandings)>,
}

/// A page of past weeks, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct LeagueHistory {
    /// Weeks with their results (weeks not decided yet are left out).
    pub weeks: Vec<LeagueMembership>,
    /// Pass back as `before` for the next page; `None` on the last.
    pub next_before: Option<Week>,
}

impl Leagues {
    /// The viewer's league this week.
    pub async fn current(&self, viewer: &User) -> Result<CurrentLeague, LeagueError> {
        let now = self.now();
        let week = Week::of(now);
        self.names.remember(viewer).await;
        let membership = self
            .store
            .league_membership(viewer.id, &week.label())
            .await?;
        let (tier, cohort) = match membership {
            Some(membership) => {
                let (standings, _) = standings(
                    self.leaderboards.port().as_ref(),
                    &self.names,
                    &membership.cohort,
                )
                .await?;
                (membership.cohort.tier, Some((membership.cohort, standings)))
            }
            None => {
                let tier = match self.tier_for(viewer.id, week).await {
                    Ok(tier) => tier,
                    // Last week is being decided: show the tier they played it in.
                    Err(LeagueError::NotSettled(_)) => self
                        .store
                        .league_memberships(viewer.id, Some(&week.label()), 1)
                        .await?
                        .first()
                        .map_or(Tier::FIRST, |m| m.cohort.tier),
                    Err(e) => return Err(e),
                };
                (tier, None)
            }
        };
        Ok(CurrentLeague {
            week,
            tier,
            ends_at: week.ends_at(),
            time_left: (week.ends_at() - now).max(Duration::zero()),
            cohort,
        })
    }

    /// The learner's decided weeks before `before` (all when `None`), newest first, at
    /// most `limit` (1 to [`MAX_HISTORY_PAGE`]).
    pub async fn history(
        &self,
        user_id: uuid::Uuid,
        before: Option<Week>,
        limit: usize,
    ) -> Result<LeagueHistory, LeagueError> {
        let limit = limit.clamp(1, MAX_HISTORY_PAGE);
        let before = before.map(Week::label);
        // One more than asked, to know whether there is a next page; weeks not yet
        // decided (this week, and last week for minutes) are at the newest end.
        let read = self
            .store
            .league_memberships(user_id, before.as_deref(), limit + 3)
            .await?;
        let more = read.len() == limit + 3;
        let decided: Vec<LeagueMembership> =
            read.into_iter().filter(|m| m.result.is_some()).collect();
        let has_next = more || decided.len() > limit;
        let weeks: Vec<LeagueMembership> = decided.into_iter().take(limit).collect();
        let next_before = if has_next {
            weeks.last().and_then(|m| Week::parse(&m.cohort.week))
        } else {
            None
        };
        Ok(LeagueHistory { weeks, next_before })
    }
}
