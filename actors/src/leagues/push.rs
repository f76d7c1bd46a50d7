//! `league.standings` pushes: when a grant changes a cohort's board, every learner of
//! the cohort is sent the new standings, on every instance (the bus topic
//! `user:{id}`). Changes are gathered for [`EVERY`] and each changed cohort is read and
//! sent once, so a busy cohort costs one read and at most 30 publishes a second
//! whatever its grant rate.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::SecondsFormat;
use tokio::sync::mpsc;

use super::rules::{self, COHORT_SIZE};
use super::{LeagueError, cohort_board};
use crate::events::{LeagueRow, LeagueStandings};
use crate::leaderboard::Week;
use crate::leaderboard::names::Names;
use crate::ports::bus::{UserEvent, user_topic};
use crate::ports::store::CohortId;
use crate::ports::{Bus, Leaderboard, LeaderboardEntry};

/// How long changes are gathered before the changed cohorts are pushed.
pub const EVERY: Duration = Duration::from_secs(1);

/// Changed cohorts waiting to be pushed before new ones are dropped (a push is a
/// courtesy: the board is already right, and the next change pushes again).
const BACKLOG: usize = 10_000;

/// The sending side: tells the pushing task which cohorts changed.
#[derive(Clone)]
pub struct Pusher {
    changed: Option<mpsc::Sender<CohortId>>,
}

impl Pusher {
    /// Starts the pushing task when inside a tokio runtime; it ends when every
    /// [`Pusher`] is dropped.
    pub fn start(port: Arc<dyn Leaderboard>, bus: Arc<dyn Bus>, names: Names) -> Self {
        if tokio::runtime::Handle::try_current().is_err() {
            return Pusher { changed: None };
        }
        let (changed, mut cohorts) = mpsc::channel::<CohortId>(BACKLOG);
        tokio::spawn(async move {
            while let Some(first) = cohorts.recv().await {
                tokio::time::sleep(EVERY).await;
                let mut due = HashSet::from([first]);
                while let Ok(more) = cohorts.try_recv() {
                    due.insert(more);
                }
                for cohort in due {
                    if let Err(e) = push(port.as_ref(), bus.as_ref(), &names, &cohort).await {
                        tracing::debug!(error = %e, cohort = %cohort_board(&cohort), "league standings not pushed");
                    }
                }
            }
        });
        Pusher {
            changed: Some(changed),
        }
    }

    /// Notes that the cohort's standings changed.
    pub fn changed(&self, cohort: CohortId) {
        if let Some(changed) = &self.changed {
            let _ = changed.try_send(cohort);
        }
    }
}

/// The standings of a cohort, named, as the frame carries them.
pub async fn standings(
    port: &dyn Leaderboard,
    names: &Names,
    cohort: &CohortId,
) -> Result<(LeagueStandings, Vec<LeaderboardEntry>), LeagueError> {
    // A cohort holds at most COHORT_SIZE; read a little more so a bug shows.
    let entries = port
        .range(&cohort_board(cohort), 0, 2 * COHORT_SIZE as usize)
        .await?;
    let resolved = names
        .resolve(entries.iter().map(|e| e.user_id).collect::<Vec<_>>())
        .await?;
    let size = entries.len() as u32;
    let zones = rules::zones(cohort.tier, size);
    let ends_at = Week::parse(&cohort.week)
        .map(|w| w.ends_at().to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default();
    let rows = entries
        .iter()
        .map(|e| LeagueRow {
            rank: e.rank,
            user_id: e.user_id,
            name: resolved
                .get(&e.user_id)
                .map(|n| n.to_string())
                .unwrap_or_default(),
            xp: e.score,
            zone: rules::zone(cohort.tier, e.rank as u32, size)
                .as_str()
                .to_string(),
        })
        .collect();
    Ok((
        LeagueStandings {
            week: cohort.week.clone(),
            tier: cohort.tier.as_str().to_string(),
            cohort: cohort.number,
            ends_at,
            promotion_ranks: zones.promoted,
            demotion_ranks: zones.demoted,
            standings: rows,
        },
        entries,
    ))
}

/// Sends a cohort's standings to each of its learners.
async fn push(
    port: &dyn Leaderboard,
    bus: &dyn Bus,
    names: &Names,
    cohort: &CohortId,
) -> Result<(), LeagueError> {
    let (standings, entries) = standings(port, names, cohort).await?;
    let payload = UserEvent::LeagueStandings(standings).encode();
    for entry in entries {
        if let Err(e) = bus.publish(&user_topic(entry.user_id), &payload).await {
            tracing::debug!(error = %e, "could not publish league standings");
        }
    }
    Ok(())
}
