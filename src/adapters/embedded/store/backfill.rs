//! Indexes a store from before them gets filled when it is first opened by a version
//! that has them: a user's Google links, a user's generation jobs, the rooms a learner
//! played. Each is read from the table it indexes, in the transaction that creates it,
//! so an index that exists is complete.

use redb::{ReadableTable, TableHandle, WriteTransaction};

use super::tables::{
    GENERATION_JOBS, GENERATION_JOBS_BY_USER, GOOGLE_LINKS_BY_USER, ROOM_RESULTS,
    ROOM_RESULTS_BY_PLAYER, USERS_BY_GOOGLE,
};
use super::txn::{decode, internal};
use questpath_actors::ports::store::{GenerationJob, RoomResult, StoreResult};

/// The indexes filled here, by table name.
const INDEXES: [&str; 3] = [
    "google_links_by_user",
    "generation_jobs_by_user",
    "room_results_by_player",
];

/// The indexes this file does not hold yet (all of them in a new file). Asked before
/// the store's open creates its tables.
pub(super) fn missing(tx: &WriteTransaction) -> StoreResult<Vec<&'static str>> {
    let present: Vec<String> = tx
        .list_tables()
        .map_err(internal)?
        .map(|t| t.name().to_string())
        .collect();
    Ok(INDEXES
        .into_iter()
        .filter(|name| !present.iter().any(|p| p == name))
        .collect())
}

/// Fills the indexes named in `missing` from the tables they index.
pub(super) fn fill(tx: &WriteTransaction, missing: &[&str]) -> StoreResult<()> {
    if missing.contains(&"google_links_by_user") {
        let links = tx.open_table(USERS_BY_GOOGLE).map_err(internal)?;
        let mut index = tx.open_table(GOOGLE_LINKS_BY_USER).map_err(internal)?;
        for item in links.iter().map_err(internal)? {
            let (sub, user) = item.map_err(internal)?;
            index
                .insert((user.value(), sub.value()), ())
                .map_err(internal)?;
        }
    }
    if missing.contains(&"generation_jobs_by_user") {
        let jobs = tx.open_table(GENERATION_JOBS).map_err(internal)?;
        let mut index = tx.open_table(GENERATION_JOBS_BY_USER).map_err(internal)?;
        for item in jobs.iter().map_err(internal)? {
            let (id, bytes) = item.map_err(internal)?;
            let job: GenerationJob = decode(bytes.value(), "generation job")?;
            index
                .insert((job.user_id.as_u128(), id.value()), ())
                .map_err(internal)?;
        }
    }
    if missing.contains(&"room_results_by_player") {
        let results = tx.open_table(ROOM_RESULTS).map_err(internal)?;
        let mut index = tx.open_table(ROOM_RESULTS_BY_PLAYER).map_err(internal)?;
        for item in results.iter().map_err(internal)? {
            let (room, bytes) = item.map_err(internal)?;
            let result: RoomResult = decode(bytes.value(), "room result")?;
            for player in result.player_ids() {
                index
                    .insert((player.as_u128(), room.value()), ())
                    .map_err(internal)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::super::EmbeddedStore;
    use super::*;
    use questpath_actors::ports::store::{
        JobStatus, JobStore, NewUser, RoomResultStore, UserStore,
    };

    /// A store of the version before these indexes: written by this one, then the
    /// indexes dropped. Opening it again fills them from what it holds.
    #[tokio::test]
    async fn indexes_missing_from_an_older_store_are_filled_when_it_opens() {
        let dir = tempfile::tempdir().unwrap();
        let user = Uuid::now_v7();
        let player = Uuid::now_v7();
        let room = Uuid::now_v7();
        let job = GenerationJob {
            id: Uuid::now_v7(),
            user_id: user,
            goal_id: Uuid::now_v7(),
            description: "learn to juggle".into(),
            status: JobStatus::Done,
            step: None,
            reason: None,
            attempts: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        {
            let store = EmbeddedStore::open(dir.path()).await.unwrap();
            let mut new = NewUser::new("older@example.org");
            new.id = user;
            store.create_user(new).await.unwrap();
            store.link_google("google-sub-1", user).await.unwrap();
            store.create_job(&job).await.unwrap();
            store
                .save_room_result(&RoomResult {
                    room_id: room,
                    code: "ABC123".into(),
                    host_id: user,
                    title: "Quiz".into(),
                    created_at: Utc::now(),
                    ended_at: Utc::now(),
                    end_reason: "finished".into(),
                    players: 2,
                    results: serde_json::json!({"players": [
                        {"player_id": player, "guest": false},
                        {"player_id": Uuid::new_v4(), "guest": true},
                    ]}),
                })
                .await
                .unwrap();
            let db = store.db.get().unwrap();
            let tx = db.begin_write().unwrap();
            tx.delete_table(GOOGLE_LINKS_BY_USER).unwrap();
            tx.delete_table(GENERATION_JOBS_BY_USER).unwrap();
            tx.delete_table(ROOM_RESULTS_BY_PLAYER).unwrap();
            tx.commit().unwrap();
            assert_eq!(missing(&db.begin_write().unwrap()).unwrap().len(), 3);
            drop(db);
            store.close().await;
        }

        let store = EmbeddedStore::open(dir.path()).await.unwrap();

        assert_eq!(
            store.google_links(user).await.unwrap(),
            vec!["google-sub-1".to_string()]
        );
        assert_eq!(store.jobs_of_user(user).await.unwrap(), vec![job]);
        assert_eq!(store.rooms_of_player(player, 10).await.unwrap(), vec![room]);
        assert!(store.rooms_of_player(user, 10).await.unwrap().is_empty());
    }
}
