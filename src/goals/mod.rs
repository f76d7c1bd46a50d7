//! The roadmap-generation worker and the old client's quiz hand-outs. Goals and progress themselves are the game core's
//! (`questpath_actors::goals`), re-exported here under their old paths.

pub mod legacy_quiz;
pub mod worker;

pub use questpath_actors::goals::{QUEUE, ids, pass, service};
