//! Goals and roadmaps: queueing their generation, and the learner's progress through
//! levels and topics (passing a level included). The worker that runs generation jobs
//! is the server's.

pub mod ids;
pub mod pass;
pub mod service;

/// Name of the job queue that carries roadmap generation.
pub const QUEUE: &str = "roadmaps";
