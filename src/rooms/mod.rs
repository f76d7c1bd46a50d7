//! The server's room services: guest passes, the results document and its CSV export,
//! and the worker that grants finished rooms' XP. The rooms themselves (game, actor,
//! relay, directory, setup) are the game core's (`questpath_actors::room`); a
//! connection's link to them is transport (`realtime::room_link`).

pub mod guests;
pub mod hosted;
pub mod results;
pub mod xp_jobs;
