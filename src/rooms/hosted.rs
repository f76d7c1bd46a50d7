//! Rooms a host ran, as the host reads them back: the list, and one room's stored
//! results (nobody else's).

use std::sync::Arc;

use questpath_actors::ports::store::RoomResult;
use questpath_actors::ports::{Store, StoreError};
use uuid::Uuid;

/// How many of a host's rooms the list shows.
pub const LISTED: usize = 50;

/// Finished rooms, for their hosts.
#[derive(Clone)]
pub struct HostedRooms {
    store: Arc<dyn Store>,
}

impl HostedRooms {
    pub fn new(store: Arc<dyn Store>) -> Self {
        HostedRooms { store }
    }

    /// The host's finished rooms, most recent first.
    pub async fn list(&self, host_id: Uuid) -> Result<Vec<RoomResult>, StoreError> {
        self.store.room_results_of_host(host_id, LISTED).await
    }

    /// The stored results of a room `host_id` hosted; `None` for anyone else's.
    pub async fn result(
        &self,
        host_id: Uuid,
        room_id: Uuid,
    ) -> Result<Option<RoomResult>, StoreError> {
        Ok(self
            .store
            .room_result(room_id)
            .await?
            .filter(|r| r.host_id == host_id))
    }
}
