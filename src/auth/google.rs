//! Google sign-in: verifying Google ID tokens against Google's published keys.
//!
//! A client that signs in with Google hands us an ID token (an RS256 JWT). We
//! trust it only after checking its signature against the keys Google
//! publishes (the JWKS), and its issuer, audience and expiry. The keys are
//! cached for as long as Google's `Cache-Control` says, refetched when they
//! expire or when a token names a key we do not know (Google rotates keys),
//! and never fetched more than once at a time or in a loop driven by garbage
//! tokens.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::config::GoogleSettings;

/// Issuers Google uses in ID tokens; both forms occur in the wild.
const ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;
/// Cache lifetime when the JWKS response carries no usable `max-age`.
const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);
/// Upper bound on the cache lifetime, whatever the response says.
const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Lower bound on the cache lifetime, so a `max-age=0` cannot make every
/// sign-in fetch the keys again.
const MIN_TTL: Duration = Duration::from_secs(60);
/// How long past their expiry cached keys may still be used while Google's
/// endpoint is failing.
const STALE_GRACE: Duration = Duration::from_secs(24 * 60 * 60);
/// Minimum gap between refetches caused by tokens with an unknown `kid`.
const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// After a failed fetch, expired-cache refetches wait this long, so an outage
/// is not met with one outbound request per sign-in.
const FAILED_FETCH_BACKOFF: Duration = Duration::from_secs(5);
/// Tokens longer than this are rejected before any parsing (Google's are ~1 KiB).
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Bound on the JWKS body we are willing to buffer (Google's is ~1 KiB).
const MAX_JWKS_BYTES: usize = 256 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a Google ID token was not accepted.
///
/// The variants map to different answers: a bad token is the client's fault
/// (401), an unverified email is a policy refusal, and unavailable keys are
/// our (or Google's) fault and worth retrying (503). Messages never contain
/// the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoogleError {
    /// The token is malformed, badly signed, not for us, or expired.
    #[error("invalid Google ID token: {0}")]
    InvalidToken(String),
    /// Google vouches for the account but not for its email address, so the
    /// address cannot be used to identify or link an account.
    #[error("the Google account's email address is not verified")]
    EmailNotVerified,
    /// Google's signing keys could not be fetched or parsed, so no token can
    /// be checked right now.
    #[error("Google signing keys unavailable: {0}")]
    KeysUnavailable(String),
}

/// The account a verified Google ID token speaks for.
///
/// `sub` is Google's stable account id and the thing to key accounts on;
/// `email` can change and is only trustworthy because `email_verified` was
/// checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleIdentity {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
}

/// Verifies Google ID tokens, caching Google's signing keys between calls.
///
/// Clones share one key cache and one HTTP client, so build it once at start
/// and hand clones (or an `Arc`) to the handlers.
#[derive(Clone)]
pub struct GoogleVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    client_id: String,
    jwks_url: String,
    validation: Validation,
    /// The current key set; read on every verification, replaced after a fetch.
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held for the duration of a fetch, so concurrent verifications wait for
    /// one fetch instead of each starting their own.
    fetch: tokio::sync::Mutex<FetchState>,
}

struct KeySet {
    keys: HashMap<String, DecodingKey>,
    expires_at: Instant,
}

impl KeySet {
    fn is_fresh(&self, now: Instant) -> bool {
        now < self.expires_at
    }

    fn is_usable_stale(&self, now: Instant) -> bool {
        self.expires_at
            .checked_add(STALE_GRACE)
            .is_some_and(|limit| now < limit)
    }
}

#[derive(Default)]
struct FetchState {
    /// When the last fetch attempt (successful or not) finished.
    last_attempt: Option<Instant>,
    /// Why the last fetch attempt failed, if it did.
    last_error: Option<String>,
    /// When a token with an unknown `kid` last triggered a refetch.
    last_unknown_kid_refetch: Option<Instant>,
}

impl FetchState {
    fn failed_recently(&self, now: Instant) -> bool {
        self.last_error.is_some()
            && self
                .last_attempt
                .is_some_and(|at| now.duration_since(at) < FAILED_FETCH_BACKOFF)
    }
}

impl fmt::Debug for GoogleVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleVerifier")
            .field("client_id", &self.inner.client_id)
            .field("jwks_url", &self.inner.jwks_url)
            .finish_non_exhaustive()
    }
}

/// The ID token claims we read; `iss`, `aud` and `exp` are checked by
/// `jsonwebtoken` itself.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<Value>,
    name: Option<String>,
    picture: Option<String>,
}

impl GoogleVerifier {
    /// Builds a verifier; no network access happens until the first token.
    ///
    /// Fails only if the HTTP client cannot be built (reported as
    /// `KeysUnavailable`, since without it no keys can ever be fetched).
    pub fn new(settings: &GoogleSettings) -> Result<Self, GoogleError> {
        // reqwest is built without a default rustls provider; a second install is a no-op.
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("questpath/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GoogleError::KeysUnavailable(format!("cannot build HTTP client: {e}")))?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&ISSUERS);
        validation.set_audience(&[settings.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;

        Ok(Self {
            inner: Arc::new(Inner {
                client,
                client_id: settings.client_id.clone(),
                jwks_url: settings.jwks_url.clone(),
                validation,
                keys: RwLock::new(None),
                fetch: tokio::sync::Mutex::new(FetchState::default()),
            }),
        })
    }

    /// Checks an ID token and returns the identity it proves.
    ///
    /// Only RS256 tokens signed by a key in Google's JWKS, issued by Google
    /// for our client id and not expired, with a verified email, are
    /// accepted. Malformed input is rejected before any network access.
    pub async fn verify(&self, id_token: &str) -> Result<GoogleIdentity, GoogleError> {
        if id_token.is_empty() {
            return Err(invalid("empty token"));
        }
        if id_token.len() > MAX_TOKEN_LEN {
            return Err(invalid("token too long"));
        }
        let header =
            jsonwebtoken::decode_header(id_token).map_err(|_| invalid("malformed token"))?;
        // Decided from the header before any key lookup: `none` and HMAC
        // tokens must neither verify nor cause a key fetch.
        if header.alg != Algorithm::RS256 {
            return Err(invalid("unsupported signing algorithm"));
        }
        let kid = header
            .kid
            .filter(|kid| !kid.is_empty())
            .ok_or_else(|| invalid("token names no signing key"))?;

        let key = self.key_for(&kid).await?;
        let data = jsonwebtoken::decode::<Claims>(id_token, &key, &self.inner.validation)
            .map_err(|e| GoogleError::InvalidToken(describe(e.kind())))?;
        identity_from(data.claims)
    }

    /// Finds the key for `kid`, fetching Google's keys if the cache is empty,
    /// expired, or does not know `kid`.
    async fn key_for(&self, kid: &str) -> Result<DecodingKey, GoogleError> {
        let requested_at = Instant::now();
        if let Some(set) = self.cached()
            && set.is_fresh(requested_at)
            && let Some(key) = set.keys.get(kid)
        {
            return Ok(key.clone());
        }

        let mut state = self.inner.fetch.lock().await;
        let now = Instant::now();
        let cached = self.cached();
        // Another task may have fetched while we waited for the lock.
        if let Some(set) = &cached
            && set.is_fresh(now)
            && let Some(key) = set.keys.get(kid)
        {
            return Ok(key.clone());
        }

        let attempted_while_waiting = state.last_attempt.is_some_and(|at| at >= requested_at);
        let cache_fresh = cached.as_ref().is_some_and(|set| set.is_fresh(now));
        let should_fetch = if attempted_while_waiting {
            // That attempt is as good as ours would be.
            false
        } else if cache_fresh {
            // Fresh keys but an unknown kid: Google may have rotated, or the
            // token is garbage. Refetch, but not often.
            let recently = state
                .last_unknown_kid_refetch
                .is_some_and(|at| now.duration_since(at) < UNKNOWN_KID_REFETCH_INTERVAL);
            if !recently {
                state.last_unknown_kid_refetch = Some(now);
            }
            !recently
        } else {
            !state.failed_recently(now)
        };

        let fetch_error = if should_fetch {
            let result = self.fetch_keys().await;
            state.last_attempt = Some(Instant::now());
            match result {
                Ok(set) => {
                    let set = Arc::new(set);
                    *self
                        .inner
                        .keys
                        .write()
                        .unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&set));
                    state.last_error = None;
                    return set
                        .keys
                        .get(kid)
                        .cloned()
                        .ok_or_else(|| invalid("unknown signing key"));
                }
                Err(error) => {
                    tracing::warn!(%error, url = %self.inner.jwks_url, "fetching Google signing keys failed");
                    state.last_error = Some(error.clone());
                    Some(error)
                }
            }
        } else {
            state.last_error.clone()
        };

        self.answer_from_cache(cached.as_deref(), kid, fetch_error, Instant::now())
    }

    /// Answers from whatever keys we hold when no (successful) fetch happened.
    fn answer_from_cache(
        &self,
        cached: Option<&KeySet>,
        kid: &str,
        fetch_error: Option<String>,
        now: Instant,
    ) -> Result<DecodingKey, GoogleError> {
        let unavailable = || {
            GoogleError::KeysUnavailable(
                fetch_error
                    .clone()
                    .unwrap_or_else(|| "no signing keys fetched yet".to_owned()),
            )
        };
        let Some(set) = cached else {
            return Err(unavailable());
        };
        if set.is_fresh(now) {
            return set
                .keys
                .get(kid)
                .cloned()
                .ok_or_else(|| invalid("unknown signing key"));
        }
        if !set.is_usable_stale(now) {
            return Err(unavailable());
        }
        match set.keys.get(kid) {
            Some(key) => {
                tracing::warn!(
                    url = %self.inner.jwks_url,
                    "using expired Google signing keys because they could not be refreshed"
                );
                Ok(key.clone())
            }
            // We could not refresh, so a new Google key may be what we are missing.
            None if fetch_error.is_some() => Err(unavailable()),
            None => Err(invalid("unknown signing key")),
        }
    }

    fn cached(&self) -> Option<Arc<KeySet>> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Downloads and parses the JWKS; the error text is for logs and the
    /// `KeysUnavailable` message.
    async fn fetch_keys(&self) -> Result<KeySet, String> {
        let mut response = self
            .inner
            .client
            .get(&self.inner.jwks_url)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("key endpoint answered {status}"));
        }
        let ttl = cache_ttl(
            response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err("key set too large".to_owned());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading key set failed: {e}"))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err("key set too large".to_owned());
            }
            body.extend_from_slice(&chunk);
        }
        let keys = parse_jwks(&body)?;
        let fetched_at = Instant::now();
        Ok(KeySet {
            keys,
            expires_at: fetched_at.checked_add(ttl).unwrap_or(fetched_at),
        })
    }
}

/// Turns the JWKS body into decoding keys by `kid`, skipping keys that are
/// not RS256 signing keys (so a new key type at Google does not break us).
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, DecodingKey>, String> {
    #[derive(Deserialize)]
    struct Jwks {
        keys: Vec<Value>,
    }
    let jwks: Jwks =
        serde_json::from_slice(body).map_err(|e| format!("key set is not valid JSON: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in &jwks.keys {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str);
        let (Some("RSA"), Some(kid), Some(n), Some(e)) =
            (field("kty"), field("kid"), field("n"), field("e"))
        else {
            continue;
        };
        if field("alg").is_some_and(|alg| alg != "RS256")
            || field("use").is_some_and(|u| u != "sig")
        {
            continue;
        }
        match DecodingKey::from_rsa_components(n, e) {
            Ok(key) => {
                keys.insert(kid.to_owned(), key);
            }
            Err(error) => tracing::warn!(%error, kid, "skipping unusable Google signing key"),
        }
    }
    if keys.is_empty() {
        return Err("key set holds no usable RS256 keys".to_owned());
    }
    Ok(keys)
}

/// Cache lifetime from a `Cache-Control` header: `max-age`, clamped to
/// [`MIN_TTL`, `MAX_TTL`], or [`DEFAULT_TTL`] when absent or unreadable.
fn cache_ttl(cache_control: Option<&str>) -> Duration {
    let max_age = cache_control.and_then(|value| {
        value.split(',').find_map(|directive| {
            let (name, secs) = directive.trim().split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("max-age") {
                return None;
            }
            secs.trim().trim_matches('"').parse::<u64>().ok()
        })
    });
    max_age
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TTL)
        .clamp(MIN_TTL, MAX_TTL)
}

fn identity_from(claims: Claims) -> Result<GoogleIdentity, GoogleError> {
    let sub = claims
        .sub
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("missing subject"))?;
    let email = claims
        .email
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("missing email"))?;
    // Google has sent this both as a boolean and as the string "true".
    let email_verified = match claims.email_verified {
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if !email_verified {
        return Err(GoogleError::EmailNotVerified);
    }
    Ok(GoogleIdentity {
        sub,
        email,
        email_verified,
        name: claims.name,
        picture: claims.picture,
    })
}

fn invalid(reason: &str) -> GoogleError {
    GoogleError::InvalidToken(reason.to_owned())
}

/// A fixed description per failure, so no claim value or token text leaks
/// into messages.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidSignature => "bad signature".to_owned(),
        ErrorKind::ExpiredSignature => "token expired".to_owned(),
        ErrorKind::ImmatureSignature => "token not yet valid".to_owned(),
        ErrorKind::InvalidIssuer => "wrong issuer".to_owned(),
        ErrorKind::InvalidAudience => "wrong audience".to_owned(),
        ErrorKind::InvalidAlgorithm => "unsupported signing algorithm".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("missing claim {claim}"),
        ErrorKind::InvalidClaimFormat(claim) => format!("malformed claim {claim}"),
        _ => "malformed token".to_owned(),
    }
}

#[cfg(test)]
#[path = "google_tests.rs"]
mod tests;
