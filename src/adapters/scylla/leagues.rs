//! Weekly leagues on CQL (see docs/data-model.md, "Weekly leagues").
//!
//! * A placement is two lightweight transactions. First a slot in the open cohort of
//!   (week, tier) is reserved by compare-and-set on `league_open_cohorts` (`IF cohort =
//!   ? AND size = ?`, read back at `LOCAL_SERIAL`), which opens the next cohort when the
//!   open one is full: no cohort ever passes its size, whatever instances race. Then the
//!   learner's (user, week) row of `league_members` is inserted `IF NOT EXISTS`: one
//!   membership per learner and week. Losing that second race (the same learner placed
//!   by another instance at the same moment) leaves the reserved slot empty, so a
//!   cohort may hold a learner less than it counts, never more.
//! * `league_cohort_members` is written after the membership and again whenever a
//!   placement finds the membership already there, so a crash between the two is
//!   completed by the grant's retry (the grant stays pending until it is).
//! * Results are written `UPDATE ... IF EXISTS`, so a learner deleted meanwhile is not
//!   brought back by the week's end.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use super::connect::ConnectError;
use super::store::{ScyllaStore, internal, lwt_applied, prepare, unavailable};
use crate::config::ScyllaSettings;
use questpath_actors::domain::Tier;
use questpath_actors::ports::store::{
    CohortId, LeagueMembership, LeaguePlacement, LeagueResult, LeagueStore, LeagueWeek, StoreError,
    StoreResult,
};

/// The one partition of `league_weeks`.
const WEEKS_BUCKET: i32 = 0;

/// Compare-and-set rounds a placement tries before giving up (each lost round means
/// another learner was placed meanwhile).
const ATTEMPTS: usize = 100;

/// Most time waited after a lost round (a random part of it), so racing placements
/// spread out instead of colliding again.
const BACKOFF_MS: u64 = 20;

const MEMBER_COLUMNS: &str =
    "user_id, week, tier, cohort, placed_at, tier_after, rank, xp, cohort_size";

pub(super) struct LeagueStatements {
    member: PreparedStatement,
    member_serial: PreparedStatement,
    members: PreparedStatement,
    members_before: PreparedStatement,
    insert_member: PreparedStatement,
    set_result: PreparedStatement,
    delete_members: PreparedStatement,
    open_serial: PreparedStatement,
    open_first: PreparedStatement,
    take_slot: PreparedStatement,
    open_next: PreparedStatement,
    list_member: PreparedStatement,
    unlist_member: PreparedStatement,
    cohort_members: PreparedStatement,
    mark_week: PreparedStatement,
    week: PreparedStatement,
}

impl LeagueStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Box<Self>, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        let mut member_serial = prepare(format!(
            "SELECT {MEMBER_COLUMNS} FROM {ks}.league_members WHERE user_id = ? AND week = ?"
        ))
        .await?;
        member_serial.set_consistency(Consistency::LocalSerial);
        let mut open_serial = prepare(format!(
            "SELECT cohort, size FROM {ks}.league_open_cohorts WHERE week = ? AND tier = ?"
        ))
        .await?;
        open_serial.set_consistency(Consistency::LocalSerial);
        Ok(Box::new(LeagueStatements {
            member: prepare(format!(
                "SELECT {MEMBER_COLUMNS} FROM {ks}.league_members WHERE user_id = ? AND week = ?"
            ))
            .await?,
            member_serial,
            members: prepare(format!(
                "SELECT {MEMBER_COLUMNS} FROM {ks}.league_members WHERE user_id = ? LIMIT ?"
            ))
            .await?,
            members_before: prepare(format!(
                "SELECT {MEMBER_COLUMNS} FROM {ks}.league_members WHERE user_id = ? AND week < ? LIMIT ?"
            ))
            .await?,
            insert_member: prepare(format!(
                "INSERT INTO {ks}.league_members (user_id, week, tier, cohort, placed_at) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS"
            ))
            .await?,
            set_result: prepare(format!(
                "UPDATE {ks}.league_members SET tier_after = ?, rank = ?, xp = ?, cohort_size = ? WHERE user_id = ? AND week = ? IF EXISTS"
            ))
            .await?,
            delete_members: prepare(format!(
                "DELETE FROM {ks}.league_members WHERE user_id = ?"
            ))
            .await?,
            open_serial,
            open_first: prepare(format!(
                "INSERT INTO {ks}.league_open_cohorts (week, tier, cohort, size) VALUES (?, ?, 0, 1) IF NOT EXISTS"
            ))
            .await?,
            take_slot: prepare(format!(
                "UPDATE {ks}.league_open_cohorts SET size = ? WHERE week = ? AND tier = ? IF cohort = ? AND size = ?"
            ))
            .await?,
            open_next: prepare(format!(
                "UPDATE {ks}.league_open_cohorts SET cohort = ?, size = 1 WHERE week = ? AND tier = ? IF cohort = ? AND size = ?"
            ))
            .await?,
            list_member: prepare(format!(
                "INSERT INTO {ks}.league_cohort_members (week, tier, cohort, user_id) VALUES (?, ?, ?, ?)"
            ))
            .await?,
            unlist_member: prepare(format!(
                "DELETE FROM {ks}.league_cohort_members WHERE week = ? AND tier = ? AND cohort = ? AND user_id = ?"
            ))
            .await?,
            cohort_members: prepare(format!(
                "SELECT user_id FROM {ks}.league_cohort_members WHERE week = ? AND tier = ? AND cohort = ?"
            ))
            .await?,
            mark_week: prepare(format!(
                "INSERT INTO {ks}.league_weeks (bucket, week, cohorts, learners, closed_at) VALUES (?, ?, ?, ?, ?)"
            ))
            .await?,
            week: prepare(format!(
                "SELECT week, cohorts, learners, closed_at FROM {ks}.league_weeks WHERE bucket = ? AND week = ?"
            ))
            .await?,
        }))
    }
}

#[derive(DeserializeRow)]
struct MemberRow {
    user_id: Uuid,
    week: String,
    tier: Option<String>,
    cohort: Option<i32>,
    placed_at: Option<DateTime<Utc>>,
    tier_after: Option<String>,
    rank: Option<i32>,
    xp: Option<i64>,
    cohort_size: Option<i32>,
}

impl MemberRow {
    fn into_membership(self) -> StoreResult<LeagueMembership> {
        let corrupt = || {
            internal(format!(
                "corrupt league membership of {} in {}",
                self.user_id, self.week
            ))
        };
        let tier = self
            .tier
            .as_deref()
            .and_then(Tier::parse)
            .ok_or_else(corrupt)?;
        let number = self
            .cohort
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(corrupt)?;
        let placed_at = self.placed_at.ok_or_else(corrupt)?;
        let result = match (&self.tier_after, self.rank, self.xp, self.cohort_size) {
            (None, None, None, None) => None,
            (Some(after), Some(rank), Some(xp), Some(size)) => Some(LeagueResult {
                tier_after: Tier::parse(after).ok_or_else(corrupt)?,
                rank: u32::try_from(rank).map_err(|_| corrupt())?,
                xp,
                cohort_size: u32::try_from(size).map_err(|_| corrupt())?,
            }),
            _ => return Err(corrupt()),
        };
        Ok(LeagueMembership {
            user_id: self.user_id,
            cohort: CohortId {
                week: self.week,
                tier,
                number,
            },
            placed_at,
            result,
        })
    }
}

fn int(n: u32) -> StoreResult<i32> {
    i32::try_from(n).map_err(|_| internal(format!("{n} does not fit a CQL int")))
}

impl ScyllaStore {
    /// Reserves a place in the open cohort of (week, tier): its number, and whether
    /// this reservation opened it.
    async fn reserve_slot(
        &self,
        week: &str,
        tier: Tier,
        max_size: u32,
    ) -> StoreResult<(u32, bool)> {
        let s = &self.leagues;
        let tier_text = tier.as_str();
        let max = int(max_size.max(1))?;
        for _ in 0..ATTEMPTS {
            let open: Option<(Option<i32>, Option<i32>)> =
                self.one_row(&s.open_serial, (week, tier_text)).await?;
            let result = match open {
                None => {
                    let result = self
                        .session
                        .execute_unpaged(&s.open_first, (week, tier_text))
                        .await
                        .map_err(unavailable)?;
                    if lwt_applied(result)? {
                        return Ok((0, true));
                    }
                    None
                }
                Some((Some(cohort), Some(size))) if size >= max => {
                    let result = self
                        .session
                        .execute_unpaged(&s.open_next, (cohort + 1, week, tier_text, cohort, size))
                        .await
                        .map_err(unavailable)?;
                    lwt_applied(result)?.then_some((cohort + 1, true))
                }
                Some((Some(cohort), Some(size))) => {
                    let result = self
                        .session
                        .execute_unpaged(&s.take_slot, (size + 1, week, tier_text, cohort, size))
                        .await
                        .map_err(unavailable)?;
                    lwt_applied(result)?.then_some((cohort, false))
                }
                Some(_) => return Err(internal(format!("corrupt open cohort of {week} {tier}"))),
            };
            if let Some((cohort, opened)) = result {
                let cohort = u32::try_from(cohort)
                    .map_err(|_| internal(format!("corrupt cohort number {cohort}")))?;
                return Ok((cohort, opened));
            }
            let wait = rand::random::<u64>() % BACKOFF_MS;
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
        Err(StoreError::Unavailable(format!(
            "could not place a learner in {week} {tier}: too many placements at once"
        )))
    }

    async fn list_in_cohort(&self, membership: &LeagueMembership) -> StoreResult<()> {
        let cohort = &membership.cohort;
        self.run(
            &self.leagues.list_member,
            (
                cohort.week.as_str(),
                cohort.tier.as_str(),
                int(cohort.number)?,
                membership.user_id,
            ),
        )
        .await
    }

    async fn membership_with(
        &self,
        statement: &PreparedStatement,
        user_id: Uuid,
        week: &str,
    ) -> StoreResult<Option<LeagueMembership>> {
        let row: Option<MemberRow> = self.one_row(statement, (user_id, week)).await?;
        row.map(MemberRow::into_membership).transpose()
    }
}

#[async_trait]
impl LeagueStore for ScyllaStore {
    async fn place_in_league(
        &self,
        user_id: Uuid,
        week: &str,
        tier: Tier,
        max_size: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<LeaguePlacement> {
        if let Some(membership) = self
            .membership_with(&self.leagues.member, user_id, week)
            .await?
        {
            self.list_in_cohort(&membership).await?;
            return Ok(LeaguePlacement {
                membership,
                placed: false,
                opened: false,
            });
        }
        let (number, opened) = self.reserve_slot(week, tier, max_size).await?;
        // Kept to the millisecond, as CQL keeps it.
        let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
        let result = self
            .session
            .execute_unpaged(
                &self.leagues.insert_member,
                (user_id, week, tier.as_str(), int(number)?, at),
            )
            .await
            .map_err(unavailable)?;
        if lwt_applied(result)? {
            let membership = LeagueMembership {
                user_id,
                cohort: CohortId {
                    week: week.to_string(),
                    tier,
                    number,
                },
                placed_at: at,
                result: None,
            };
            self.list_in_cohort(&membership).await?;
            return Ok(LeaguePlacement {
                membership,
                placed: true,
                opened,
            });
        }
        // Placed by someone else at the same moment: theirs stands.
        let membership = self
            .membership_with(&self.leagues.member_serial, user_id, week)
            .await?
            .ok_or_else(|| {
                internal(format!(
                    "league membership of {user_id} in {week} neither taken nor free"
                ))
            })?;
        self.list_in_cohort(&membership).await?;
        Ok(LeaguePlacement {
            membership,
            placed: false,
            opened: false,
        })
    }

    async fn league_membership(
        &self,
        user_id: Uuid,
        week: &str,
    ) -> StoreResult<Option<LeagueMembership>> {
        self.membership_with(&self.leagues.member, user_id, week)
            .await
    }

    async fn league_memberships(
        &self,
        user_id: Uuid,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<LeagueMembership>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let rows: Vec<MemberRow> = match before {
            Some(before) => {
                self.rows(&self.leagues.members_before, (user_id, before, limit))
                    .await?
            }
            None => self.rows(&self.leagues.members, (user_id, limit)).await?,
        };
        rows.into_iter().map(MemberRow::into_membership).collect()
    }

    async fn league_cohort_count(&self, week: &str, tier: Tier) -> StoreResult<u32> {
        let open: Option<(Option<i32>, Option<i32>)> = self
            .one_row(&self.leagues.open_serial, (week, tier.as_str()))
            .await?;
        match open {
            None => Ok(0),
            Some((Some(cohort), _)) => u32::try_from(cohort + 1)
                .map_err(|_| internal(format!("corrupt cohort number {cohort}"))),
            Some(_) => Err(internal(format!("corrupt open cohort of {week} {tier}"))),
        }
    }

    async fn league_cohort_members(&self, cohort: &CohortId) -> StoreResult<Vec<Uuid>> {
        let rows: Vec<(Uuid,)> = self
            .rows(
                &self.leagues.cohort_members,
                (
                    cohort.week.as_str(),
                    cohort.tier.as_str(),
                    int(cohort.number)?,
                ),
            )
            .await?;
        Ok(rows.into_iter().map(|(user,)| user).collect())
    }

    async fn set_league_results(
        &self,
        week: &str,
        results: &[(Uuid, LeagueResult)],
    ) -> StoreResult<()> {
        for (user_id, result) in results {
            self.run(
                &self.leagues.set_result,
                (
                    result.tier_after.as_str(),
                    int(result.rank)?,
                    result.xp,
                    int(result.cohort_size)?,
                    *user_id,
                    week,
                ),
            )
            .await?;
        }
        Ok(())
    }

    async fn mark_league_week_closed(&self, week: &LeagueWeek) -> StoreResult<()> {
        self.run(
            &self.leagues.mark_week,
            (
                WEEKS_BUCKET,
                week.week.as_str(),
                int(week.cohorts)?,
                i64::try_from(week.learners).map_err(internal)?,
                week.closed_at,
            ),
        )
        .await
    }

    async fn league_week(&self, week: &str) -> StoreResult<Option<LeagueWeek>> {
        let row: Option<(String, Option<i32>, Option<i64>, Option<DateTime<Utc>>)> = self
            .one_row(&self.leagues.week, (WEEKS_BUCKET, week))
            .await?;
        row.map(|(week, cohorts, learners, closed_at)| {
            match (
                cohorts.and_then(|c| u32::try_from(c).ok()),
                learners.and_then(|l| u64::try_from(l).ok()),
                closed_at,
            ) {
                (Some(cohorts), Some(learners), Some(closed_at)) => Ok(LeagueWeek {
                    week,
                    cohorts,
                    learners,
                    closed_at,
                }),
                _ => Err(internal(format!("corrupt league week {week}"))),
            }
        })
        .transpose()
    }

    async fn forget_league_learner(&self, user_id: Uuid) -> StoreResult<u32> {
        let rows: Vec<MemberRow> = self
            .all_rows(&self.leagues.members, (user_id, i32::MAX))
            .await?;
        let memberships: Vec<LeagueMembership> = rows
            .into_iter()
            .map(MemberRow::into_membership)
            .collect::<StoreResult<_>>()?;
        for membership in &memberships {
            let cohort = &membership.cohort;
            self.run(
                &self.leagues.unlist_member,
                (
                    cohort.week.as_str(),
                    cohort.tier.as_str(),
                    int(cohort.number)?,
                    user_id,
                ),
            )
            .await?;
        }
        if !memberships.is_empty() {
            self.run(&self.leagues.delete_members, (user_id,)).await?;
        }
        Ok(memberships.len() as u32)
    }
}
