//! The roadmap-generation worker. Goals and progress themselves are the game core's
//! (`questpath_actors::goals`), re-exported here under their old paths.

pub mod worker;

pub use questpath_actors::goals::{QUEUE, ids, pass, service};
