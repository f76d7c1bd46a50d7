//! Pure game rules: deterministic functions, unit-tested, shared by every actor.

pub mod quiz;
pub mod room;
pub mod xp;
