//! Goals and roadmaps: queueing generation, the worker that runs it, and the learner's
//! progress through levels and topics.

pub mod ids;
pub mod service;
pub mod worker;

/// Name of the job queue that carries roadmap generation.
pub const QUEUE: &str = "roadmaps";
