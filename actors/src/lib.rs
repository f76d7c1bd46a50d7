//! QuestPath actors and the game rules they apply.
//!
//! # Layout
//! - `rules`: pure game rules with no actix dependency (XP and player levels); the
//!   actors (sessions, rooms, leaderboard) build on them.

pub mod rules;
