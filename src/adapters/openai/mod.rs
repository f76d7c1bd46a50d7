//! OpenAI-compatible chat-completions adapters.
//!
//! - `roadmap_generator`: [`OpenAiRoadmapGenerator`], the `RoadmapGenerator` port over
//!   `POST {base_url}/chat/completions` (OpenAI or any server speaking its API).

pub mod roadmap_generator;

pub use roadmap_generator::OpenAiRoadmapGenerator;
