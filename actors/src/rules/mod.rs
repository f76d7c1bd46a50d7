//! Pure game rules: deterministic functions, unit-tested, shared by every actor.

pub mod xp;
