//! QuestPath actors and game rules.
pub mod rules;
