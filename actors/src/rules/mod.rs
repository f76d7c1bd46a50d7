pub mod xp;
