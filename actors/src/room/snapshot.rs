//! Rooms outlive their instance: the actor saves its game to the cache port (Redis
//! when configured) at every phase change and at most once a second otherwise, and
//! hands it over when its instance drains. When a room's directory lease lapses (its
//! instance died) or is released (it drained), the next instance that looks the code
//! up adopts the room from the saved game: seats, scores, streaks, the open question
//! and its deadline. What happened after the last save (at most a second of answers)
//! is lost; players whose answer was lost may answer again.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::directory::Entry;
use super::game::Game;
use super::tickets::Tickets;
use crate::ports::Cache;

/// How long a saved game is kept (longer than any game is played).
pub const TTL: Duration = Duration::from_secs(6 * 3600);

/// Cache key of a room's saved game, by its join code.
pub fn key(code: &str) -> String {
    format!("room-snapshot:{code}")
}

/// What an adopting instance needs.
#[derive(Serialize, Deserialize)]
pub struct Saved {
    pub entry: Entry,
    pub created_at: DateTime<Utc>,
    /// The last batch number published before the save.
    pub seq: u64,
    pub host_ever_joined: bool,
    pub game: Game,
    /// The relays' commands the game contains (none in a save of a version before them).
    #[serde(default)]
    pub tickets: Tickets,
}

/// [`Saved`] as written, borrowing the game instead of copying it.
#[derive(Serialize)]
pub struct SavedRef<'a> {
    pub entry: &'a Entry,
    pub created_at: DateTime<Utc>,
    pub seq: u64,
    pub host_ever_joined: bool,
    pub game: &'a Game,
    pub tickets: &'a Tickets,
}

/// What the writer task should do next.
#[derive(Clone)]
pub enum Write {
    Nothing,
    Save(Arc<Vec<u8>>),
    Delete,
}

/// Starts the task that writes a room's saves in order, keeping only the latest when
/// the cache is slower than the room.
pub fn writer(cache: Arc<dyn Cache>, code: String) -> watch::Sender<Write> {
    let (sender, mut receiver) = watch::channel(Write::Nothing);
    tokio::spawn(async move {
        let key = key(&code);
        while receiver.changed().await.is_ok() {
            let next = receiver.borrow_and_update().clone();
            let result = match next {
                Write::Nothing => Ok(()),
                Write::Save(bytes) => cache.set(&key, &bytes, TTL).await,
                Write::Delete => cache.delete(&key).await,
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, %code, "room state could not be saved");
            }
        }
    });
    sender
}
