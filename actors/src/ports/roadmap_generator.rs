//! Roadmap-generator port: turns a learner's goal into a roadmap with topics,
//! explanations and a question bank per level.

use async_trait::async_trait;

use crate::domain::roadmap::GeneratedRoadmap;

/// Why generation failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum GenerateError {
    /// The generator answered, but not with a valid roadmap (bad JSON, broken rules).
    /// Retrying may give a valid one.
    #[error("invalid roadmap: {0}")]
    Invalid(String),
    /// The generator could not be reached, timed out, or is rate limited or failing;
    /// retrying later may work.
    #[error("generator unavailable: {0}")]
    Unavailable(String),
    /// The generator refused for good (bad key, refused content); retrying is useless.
    #[error("generator refused: {0}")]
    Refused(String),
}

impl GenerateError {
    /// Whether the job should be tried again.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, GenerateError::Refused(_))
    }
}

#[async_trait]
pub trait RoadmapGenerator: Send + Sync + 'static {
    /// Name for logs and job status ("catalog", "openai").
    fn name(&self) -> &'static str;

    /// A roadmap for `goal` (the learner's own words, 10 to 500 characters) that passes
    /// [`GeneratedRoadmap::validate`].
    async fn generate(&self, goal: &str) -> Result<GeneratedRoadmap, GenerateError>;
}
