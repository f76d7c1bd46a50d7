//! The access-token signing key: from `QUESTPATH_JWT_SECRET`, or in development a
//! random key generated once and kept in the data folder, so tokens survive restarts.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use rand::RngExt;

use crate::config::{Environment, Secret, Settings};

/// File of the generated development key, inside the data folder.
pub const DEV_KEY_FILE: &str = "jwt-secret.dev";

/// The signing key to use, creating the development key file when needed.
pub fn signing_key(settings: &Settings) -> std::io::Result<Secret> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    // Settings refuse production without a key; this is development only.
    debug_assert_eq!(settings.environment, Environment::Development);
    load_or_create(&settings.data_dir)
}

fn load_or_create(dir: &Path) -> std::io::Result<Secret> {
    let path = dir.join(DEV_KEY_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let key = existing.trim();
        if key.len() >= 32 {
            tracing::warn!(path = %path.display(), "using the development signing key; set QUESTPATH_JWT_SECRET in production");
            return Ok(Secret::new(key));
        }
    }
    std::fs::create_dir_all(dir)?;
    let bytes: [u8; 48] = rand::rng().random();
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    file.write_all(key.as_bytes())?;
    file.sync_all()?;
    tracing::warn!(path = %path.display(), "generated a development signing key; set QUESTPATH_JWT_SECRET in production");
    Ok(Secret::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_key_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let second = load_or_create(dir.path()).unwrap();
        assert_eq!(first, second);
        assert!(first.expose().len() >= 32);
    }
}
