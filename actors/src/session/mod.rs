//! A learner's session: the solo quiz it runs on the server's clock.

pub mod quiz;
