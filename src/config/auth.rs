//! Sign-in and tokens: the signing key, token lifetimes, the refresh cookie, Google
//! sign-in and the legacy OAuth route.

use std::time::Duration;

use super::lookup::{Vars, bad, parse_bool};
use super::{ConfigError, Environment, Secret};

/// Google sign-in settings.
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    pub client_id: String,
    pub jwks_url: String,
}

/// The access-token signing key: at least 32 bytes, and required in production (in
/// development `None` means one is generated and kept in the data folder).
pub(super) fn jwt_secret(
    vars: &Vars,
    environment: Environment,
) -> Result<Option<Secret>, ConfigError> {
    let secret = vars.get("QUESTPATH_JWT_SECRET").map(Secret::new);
    match (&secret, environment) {
        (Some(s), _) if s.expose().len() < 32 => Err(bad(
            "QUESTPATH_JWT_SECRET",
            format!(
                "is {} bytes long; at least 32 are required",
                s.expose().len()
            ),
        )),
        (None, Environment::Production) => Err(bad(
            "QUESTPATH_JWT_SECRET",
            "is required when QUESTPATH_ENV=production (at least 32 random bytes)",
        )),
        _ => Ok(secret),
    }
}

/// Whether the refresh cookie is `Secure`; unset: only in production.
pub(super) fn cookie_secure(vars: &Vars, environment: Environment) -> Result<bool, ConfigError> {
    match vars.get("QUESTPATH_COOKIE_SECURE") {
        None => Ok(environment == Environment::Production),
        Some(v) => parse_bool(&v).ok_or_else(|| {
            bad(
                "QUESTPATH_COOKIE_SECURE",
                format!("{v:?} is not true or false"),
            )
        }),
    }
}

/// Google sign-in, when a client id is configured.
pub(super) fn google(
    vars: &Vars,
    environment: Environment,
) -> Result<Option<GoogleSettings>, ConfigError> {
    let Some(client_id) = vars.get("QUESTPATH_GOOGLE_CLIENT_ID") else {
        return Ok(None);
    };
    let jwks_url = vars.or_default("QUESTPATH_GOOGLE_JWKS_URL");
    let is_url = jwks_url.starts_with("https://")
        || (jwks_url.starts_with("http://") && environment == Environment::Development);
    if !is_url {
        return Err(bad(
            "QUESTPATH_GOOGLE_JWKS_URL",
            format!("{jwks_url:?} is not an https:// URL (http:// is allowed in development only)"),
        ));
    }
    Ok(Some(GoogleSettings {
        client_id,
        jwks_url,
    }))
}

pub(super) fn legacy_oauth_login(vars: &Vars) -> Result<bool, ConfigError> {
    vars.boolean("QUESTPATH_LEGACY_OAUTH_LOGIN")
}

pub(super) fn access_token_ttl(vars: &Vars) -> Result<Duration, ConfigError> {
    vars.seconds("QUESTPATH_ACCESS_TOKEN_TTL_SECS", 1..=86_400)
}

pub(super) fn refresh_grace(vars: &Vars) -> Result<Duration, ConfigError> {
    vars.seconds("QUESTPATH_REFRESH_GRACE_SECS", 0..=300)
}

#[cfg(test)]
mod tests {
    use crate::config::tests::settings;

    #[test]
    fn production_requires_a_signing_key() {
        let err = settings(&[("QUESTPATH_ENV", "production")]).unwrap_err();
        assert_eq!(err.variable, "QUESTPATH_JWT_SECRET");
        let key = "k".repeat(32);
        let ok = settings(&[
            ("QUESTPATH_ENV", "production"),
            ("QUESTPATH_JWT_SECRET", &key),
        ]);
        assert!(ok.is_ok());
    }
}
