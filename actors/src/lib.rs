//! QuestPath's game core: domain types, the ports the core depends on, the game rules,
//! and (as they arrive) the domain events and the actors.
//!
//! # Layout
//! - `domain`: value types with their checks (emails, passwords, names, roadmaps).
//! - `ports`: the traits of the store, cache, rate limiter, bus, leaderboard, job queue
//!   and roadmap generator; adapters live in the server crate.
//! - `events`: domain events, what the core tells a learner's connections.
//! - `goals`: goals, roadmaps and a learner's progress (passing a level).
//! - `leaderboard`: the all-time and weekly boards, their actor, rebuilds and archives.
//! - `leagues`: weekly leagues: tiers, cohorts, standings, the week's end.
//! - `xp`: XP grants through the ledger.
//! - `observe`: what the core reports for monitoring (a trait the server implements).
//! - `outbound`: a connection as the actors see it (a bounded queue of events).
//! - `session`: a learner's session and the solo quiz it runs.
//! - `room`: multiplayer rooms: the game, its actor, the relays, the directory, the setup.
//! - `rules`: pure game rules with no actix dependency (XP and player levels, scoring).
//! - `account`: a learner's own data: its export and the deletion of the account.
//! - `streaks`: streaks and the daily goal in the learner's zone, the at-risk checks.
//! - `clock`: where "now" comes from (the system's clock, or a manual one in tests).

pub mod account;
pub mod audit;
pub mod clock;
pub mod domain;
pub mod events;
pub mod fault;
pub mod goals;
pub mod leaderboard;
pub mod leagues;
pub mod notifications;
pub mod observe;
pub mod outbound;
pub mod ports;
pub mod room;
pub mod rules;
pub mod session;
pub mod streaks;
pub mod xp;
