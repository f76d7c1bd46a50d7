//! Weekly leagues on redb. A placement is one write transaction: redb runs writers one
//! at a time, so reading the learner's membership and the open cohort, then writing
//! both, cannot interleave with another placement.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{ReadableTable, WriteTransaction};
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{LEAGUE_COHORT_MEMBERS, LEAGUE_MEMBERS, LEAGUE_OPEN_COHORTS, LEAGUE_WEEKS};
use super::txn::{Txn, decode, encode, get_json, internal, read_json};
use questpath_actors::domain::Tier;
use questpath_actors::ports::store::{
    CohortId, LeagueMembership, LeaguePlacement, LeagueResult, LeagueStore, LeagueWeek, StoreResult,
};

/// Adds the learner to their cohort's member list (a no-op when listed).
fn list_member(tx: &WriteTransaction, membership: &LeagueMembership) -> StoreResult<()> {
    let cohort = &membership.cohort;
    tx.open_table(LEAGUE_COHORT_MEMBERS)
        .map_err(internal)?
        .insert(
            (
                cohort.week.as_str(),
                cohort.tier.index(),
                cohort.number,
                membership.user_id.as_u128(),
            ),
            (),
        )
        .map_err(internal)?;
    Ok(())
}

#[async_trait]
impl LeagueStore for EmbeddedStore {
    async fn place_in_league(
        &self,
        user_id: Uuid,
        week: &str,
        tier: Tier,
        max_size: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<LeaguePlacement> {
        let week = week.to_string();
        let user = user_id.as_u128();
        self.write(move |tx| {
            let mut members = tx.open_table(LEAGUE_MEMBERS).map_err(internal)?;
            let existing: Option<LeagueMembership> =
                get_json(&members, (user, week.as_str()), "league membership")?;
            if let Some(membership) = existing {
                list_member(tx, &membership)?;
                return Ok(LeaguePlacement {
                    membership,
                    placed: false,
                    opened: false,
                });
            }
            let mut open = tx.open_table(LEAGUE_OPEN_COHORTS).map_err(internal)?;
            let key = (week.as_str(), tier.index());
            let current = open.get(key).map_err(internal)?.map(|v| v.value());
            let (number, size, opened) = match current {
                None => (0, 0, true),
                Some((number, size)) if size >= max_size.max(1) => (number + 1, 0, true),
                Some((number, size)) => (number, size, false),
            };
            open.insert(key, (number, size + 1)).map_err(internal)?;
            let membership = LeagueMembership {
                user_id,
                cohort: CohortId {
                    week: week.clone(),
                    tier,
                    number,
                },
                placed_at: at,
                result: None,
            };
            let bytes = encode(&membership)?;
            members
                .insert((user, week.as_str()), bytes.as_slice())
                .map_err(internal)?;
            list_member(tx, &membership)?;
            Ok(LeaguePlacement {
                membership,
                placed: true,
                opened,
            })
        })
        .await
    }

    async fn league_membership(
        &self,
        user_id: Uuid,
        week: &str,
    ) -> StoreResult<Option<LeagueMembership>> {
        let week = week.to_string();
        self.read(move |tx| {
            read_json(
                tx,
                LEAGUE_MEMBERS,
                (user_id.as_u128(), week.as_str()),
                "league membership",
            )
        })
        .await
    }

    async fn league_memberships(
        &self,
        user_id: Uuid,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<LeagueMembership>> {
        let before = before.map(str::to_string);
        let user = user_id.as_u128();
        self.read(move |tx| {
            let members = tx.open_table(LEAGUE_MEMBERS).map_err(internal)?;
            let mut found = Vec::new();
            let range = match &before {
                Some(before) => members.range((user, "")..(user, before.as_str())),
                None => members.range((user, "")..(user + 1, "")),
            }
            .map_err(internal)?;
            for item in range.rev().take(limit) {
                let (_, bytes) = item.map_err(internal)?;
                found.push(decode(bytes.value(), "league membership")?);
            }
            Ok(found)
        })
        .await
    }

    async fn league_cohort_count(&self, week: &str, tier: Tier) -> StoreResult<u32> {
        let week = week.to_string();
        self.scan(move |tx| {
            let open = tx.open_table(LEAGUE_OPEN_COHORTS).map_err(internal)?;
            Ok(open
                .get((week.as_str(), tier.index()))
                .map_err(internal)?
                .map_or(0, |v| v.value().0 + 1))
        })
        .await
    }

    async fn league_cohort_members(&self, cohort: &CohortId) -> StoreResult<Vec<Uuid>> {
        let cohort = cohort.clone();
        self.scan(move |tx| {
            let members = tx.open_table(LEAGUE_COHORT_MEMBERS).map_err(internal)?;
            let (week, tier, number) = (cohort.week.as_str(), cohort.tier.index(), cohort.number);
            let mut found = Vec::new();
            for item in members
                .range((week, tier, number, 0u128)..=(week, tier, number, u128::MAX))
                .map_err(internal)?
            {
                let (key, _) = item.map_err(internal)?;
                found.push(Uuid::from_u128(key.value().3));
            }
            Ok(found)
        })
        .await
    }

    async fn set_league_results(
        &self,
        week: &str,
        results: &[(Uuid, LeagueResult)],
    ) -> StoreResult<()> {
        let week = week.to_string();
        let results = results.to_vec();
        self.write(move |tx| {
            let mut members = tx.open_table(LEAGUE_MEMBERS).map_err(internal)?;
            for (user_id, result) in results {
                let key = (user_id.as_u128(), week.as_str());
                let membership: Option<LeagueMembership> =
                    get_json(&members, key, "league membership")?;
                if let Some(mut membership) = membership {
                    membership.result = Some(result);
                    let bytes = encode(&membership)?;
                    members.insert(key, bytes.as_slice()).map_err(internal)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn mark_league_week_closed(&self, week: &LeagueWeek) -> StoreResult<()> {
        let label = week.week.clone();
        let bytes = encode(week)?;
        self.write(move |tx| {
            tx.open_table(LEAGUE_WEEKS)
                .map_err(internal)?
                .insert(label.as_str(), bytes.as_slice())
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn league_week(&self, week: &str) -> StoreResult<Option<LeagueWeek>> {
        let week = week.to_string();
        self.read(move |tx| read_json(tx, LEAGUE_WEEKS, week.as_str(), "league week"))
            .await
    }

    async fn forget_league_learner(&self, user_id: Uuid) -> StoreResult<u32> {
        let user = user_id.as_u128();
        self.write_or_abort(move |tx| {
            let mut members = tx.open_table(LEAGUE_MEMBERS).map_err(internal)?;
            let mut mine: Vec<(String, LeagueMembership)> = Vec::new();
            for item in members
                .range((user, "")..(user + 1, ""))
                .map_err(internal)?
            {
                let (key, bytes) = item.map_err(internal)?;
                mine.push((
                    key.value().1.to_string(),
                    decode(bytes.value(), "league membership")?,
                ));
            }
            if mine.is_empty() {
                return Ok(Txn::Abort(0));
            }
            let mut listed = tx.open_table(LEAGUE_COHORT_MEMBERS).map_err(internal)?;
            for (week, membership) in &mine {
                let cohort = &membership.cohort;
                listed
                    .remove((
                        cohort.week.as_str(),
                        cohort.tier.index(),
                        cohort.number,
                        user,
                    ))
                    .map_err(internal)?;
                members.remove((user, week.as_str())).map_err(internal)?;
            }
            Ok(Txn::Commit(mine.len() as u32))
        })
        .await
    }
}
