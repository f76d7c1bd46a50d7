//! Roadmap generation: the LLM (none means the offline catalog), the workers inside
//! `serve`, and how long the legacy goal route waits for a roadmap.

use std::time::Duration;

use super::lookup::{Vars, bad};
use super::{ConfigError, Secret};

/// An OpenAI-compatible chat-completions API.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// Base URL without the trailing `/chat/completions`.
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub model: String,
    pub timeout: Duration,
}

/// The LLM, when `QUESTPATH_LLM_BASE_URL` names one.
pub(super) fn llm(vars: &Vars) -> Result<Option<LlmSettings>, ConfigError> {
    let Some(base_url) = vars.get("QUESTPATH_LLM_BASE_URL") else {
        return Ok(None);
    };
    if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
        return Err(bad(
            "QUESTPATH_LLM_BASE_URL",
            format!("{base_url:?} is not an http(s) URL"),
        ));
    }
    let timeout = vars.ranged(
        "QUESTPATH_LLM_TIMEOUT_SECS",
        1..=600,
        "a number of seconds (1 to 600)",
    )?;
    Ok(Some(LlmSettings {
        base_url: base_url.trim_end_matches('/').to_string(),
        api_key: vars.get("QUESTPATH_LLM_API_KEY").map(Secret::new),
        model: vars.or_default("QUESTPATH_LLM_MODEL"),
        timeout: Duration::from_secs(timeout),
    }))
}

pub(super) fn generation_workers(vars: &Vars) -> Result<usize, ConfigError> {
    vars.ranged(
        "QUESTPATH_GENERATION_WORKERS",
        0..=64,
        "a worker count (0 to 64)",
    )
}

pub(super) fn legacy_goal_wait(vars: &Vars) -> Result<Duration, ConfigError> {
    vars.ranged(
        "QUESTPATH_LEGACY_GOAL_WAIT_SECS",
        1..=600,
        "a number of seconds (1 to 600)",
    )
    .map(Duration::from_secs)
}
