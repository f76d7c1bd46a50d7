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
mod tests {
    use super::*;

    #[test]
    fn ttl_follows_max_age_within_bounds() {
        assert_eq!(cache_ttl(None), DEFAULT_TTL);
        assert_eq!(cache_ttl(Some("no-cache")), DEFAULT_TTL);
        assert_eq!(
            cache_ttl(Some("public, max-age=19800, must-revalidate, no-transform")),
            Duration::from_secs(19800)
        );
        assert_eq!(cache_ttl(Some("Max-Age = 600")), Duration::from_secs(600));
        assert_eq!(cache_ttl(Some("max-age=0")), MIN_TTL);
        assert_eq!(cache_ttl(Some("max-age=999999999")), MAX_TTL);
        assert_eq!(cache_ttl(Some("max-age=abc")), DEFAULT_TTL);
    }

    #[test]
    fn email_verified_accepts_bool_and_string() {
        let claims = |v: Option<Value>| Claims {
            sub: Some("1".into()),
            email: Some("a@b.c".into()),
            email_verified: v,
            name: None,
            picture: None,
        };
        assert!(identity_from(claims(Some(Value::Bool(true)))).is_ok());
        assert!(identity_from(claims(Some(Value::String("true".into())))).is_ok());
        assert_eq!(
            identity_from(claims(Some(Value::Bool(false)))),
            Err(GoogleError::EmailNotVerified)
        );
        assert_eq!(
            identity_from(claims(None)),
            Err(GoogleError::EmailNotVerified)
        );
    }

    #[test]
    fn jwks_parsing_skips_foreign_keys() {
        let body = br#"{"keys":[
            {"kty":"EC","kid":"ec","crv":"P-256","x":"AA","y":"AA"},
            {"kty":"RSA","kid":"enc","n":"AQAB","e":"AQAB","use":"enc"},
            {"kty":"RSA","kid":"good","n":"AQAB","e":"AQAB","alg":"RS256","use":"sig"}
        ]}"#;
        let keys = parse_jwks(body).unwrap_or_default();
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["good"]);
        assert!(parse_jwks(br#"{"keys":[]}"#).is_err());
        assert!(parse_jwks(b"not json").is_err());
    }

    mod properties {
        //! Whatever a client or the key endpoint sends, parsing and verification answer
        //! and never panic, and only a token signed with Google's key and holding sound
        //! claims is accepted.

        use std::sync::OnceLock;

        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use jsonwebtoken::{EncodingKey, Header};
        use proptest::prelude::*;
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::LineEnding;
        use rsa::traits::PublicKeyParts;
        use serde_json::json;

        use super::*;
        use crate::proptest_strategies::{fewer_cases, hostile_string, json_value};

        const CLIENT_ID: &str = "client-1.apps.googleusercontent.com";
        const KID: &str = "key-1";

        /// One RSA key for the whole test binary (generating one takes a while):
        /// its signing PEM and its public components, base64url.
        fn key() -> &'static (String, String, String) {
            static KEY: OnceLock<(String, String, String)> = OnceLock::new();
            KEY.get_or_init(|| {
                let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
                let public = private.to_public_key();
                (
                    private.to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
                    URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                    URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
                )
            })
        }

        /// A verifier holding `keys` as fresh, so nothing is fetched (the JWKS URL is a
        /// closed loopback port, should a token name an unknown key).
        fn verifier(keys: HashMap<String, DecodingKey>) -> GoogleVerifier {
            let verifier = GoogleVerifier::new(&GoogleSettings {
                client_id: CLIENT_ID.into(),
                jwks_url: "http://127.0.0.1:9/certs".into(),
            })
            .unwrap();
            *verifier.inner.keys.write().unwrap() = Some(Arc::new(KeySet {
                keys,
                expires_at: Instant::now() + Duration::from_secs(3600),
            }));
            verifier
        }

        fn our_verifier() -> GoogleVerifier {
            let (_, n, e) = key();
            let jwks = json!({"keys": [{"kty": "RSA", "kid": KID, "n": n, "e": e}]});
            verifier(parse_jwks(jwks.to_string().as_bytes()).unwrap())
        }

        fn runtime() -> &'static tokio::runtime::Runtime {
            static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
            RUNTIME.get_or_init(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
            })
        }

        /// Built once: each verifier builds an HTTP client.
        fn shared_verifier() -> &'static GoogleVerifier {
            static VERIFIER: OnceLock<GoogleVerifier> = OnceLock::new();
            VERIFIER.get_or_init(our_verifier)
        }

        fn b64(value: &Value) -> String {
            URL_SAFE_NO_PAD.encode(value.to_string())
        }

        /// Base64url text of any bytes, or any text at all.
        fn component() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
                Just(key().1.clone()),
                Just("AQAB".to_string()),
                Just(String::new()),
                hostile_string(),
            ]
        }

        fn jwk() -> impl Strategy<Value = Value> {
            let kty = prop::sample::select(&["RSA", "EC", "rsa", ""][..]);
            let alg = prop::option::of(prop::sample::select(&["RS256", "RS512", "none"][..]));
            let usage = prop::option::of(prop::sample::select(&["sig", "enc"][..]));
            (kty, component(), component(), alg, usage, json_value(1)).prop_map(
                |(kty, n, e, alg, usage, kid)| {
                    let mut jwk = json!({"kty": kty, "kid": kid, "n": n, "e": e});
                    if let Some(alg) = alg {
                        jwk["alg"] = json!(alg);
                    }
                    if let Some(usage) = usage {
                        jwk["use"] = json!(usage);
                    }
                    if jwk["kid"].is_null() {
                        jwk["kid"] = json!(KID);
                    }
                    jwk
                },
            )
        }

        /// Sound Google claims with up to three removed or replaced; the flag tells
        /// whether they were left sound.
        fn claims() -> impl Strategy<Value = (Value, bool)> {
            let now = chrono::Utc::now().timestamp();
            let value = prop_oneof![
                json_value(1),
                prop::sample::select(&[ISSUERS[0], ISSUERS[1], CLIENT_ID, "true", ""][..])
                    .prop_map(Value::from),
                Just(json!([CLIENT_ID, "other"])),
                any::<bool>().prop_map(Value::Bool),
                (-200_000i64..200_000).prop_map(move |d| json!(now + d)),
            ];
            let names = &[
                "iss",
                "aud",
                "sub",
                "exp",
                "iat",
                "nbf",
                "email",
                "email_verified",
            ][..];
            let edit = (prop::sample::select(names), prop::option::of(value));
            prop::collection::vec(edit, 0..=3).prop_map(move |edits| {
                let mut claims = json!({
                    "iss": ISSUERS[1], "aud": CLIENT_ID, "sub": "1234567890",
                    "exp": now + 600, "iat": now, "email": "learner@example.org",
                    "email_verified": true, "name": "Learner",
                });
                let sound = edits.is_empty();
                for (name, value) in edits {
                    match value {
                        Some(value) => claims[name] = value,
                        None => {
                            claims.as_object_mut().unwrap().remove(name);
                        }
                    }
                }
                (claims, sound)
            })
        }

        proptest! {
            #[test]
            fn any_key_set_body_is_keys_or_an_error(
                body in prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..256),
                    json_value(4).prop_map(|v| v.to_string().into_bytes()),
                    prop::collection::vec(prop_oneof![jwk(), json_value(2)], 0..4)
                        .prop_map(|keys| json!({"keys": keys}).to_string().into_bytes()),
                ],
            ) {
                if let Ok(keys) = parse_jwks(&body) {
                    prop_assert!(!keys.is_empty());
                }
            }

            #[test]
            fn any_cache_control_gives_a_bounded_lifetime(value in prop_oneof![
                hostile_string(),
                "(public, )?(?i:max-age) ?= ?\"?[0-9]{0,25}\"?(, no-transform)?",
            ]) {
                let ttl = cache_ttl(Some(&value));
                prop_assert!((MIN_TTL..=MAX_TTL).contains(&ttl));
            }

            #[test]
            fn no_arbitrary_string_verifies(token in prop_oneof![
                hostile_string(),
                (json_value(2), json_value(2), component())
                    .prop_map(|(h, c, s)| format!("{}.{}.{s}", b64(&h), b64(&c))),
                (
                    prop::sample::select(&["RS256", "HS256", "none", "RS512", "PS256"][..]),
                    prop::sample::select(&[KID, "other", ""][..]),
                    json_value(2),
                    component(),
                )
                    .prop_map(|(alg, kid, c, s)| {
                        let header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
                        format!("{}.{}.{s}", b64(&header), b64(&c))
                    }),
            ]) {
                let outcome = runtime().block_on(shared_verifier().verify(&token));
                prop_assert!(outcome.is_err());
            }
        }

        proptest! {
            #![proptest_config(fewer_cases(4))]

            /// Keys with any components, published by a broken or hostile endpoint, are
            /// skipped or used without panicking.
            #[test]
            fn keys_with_any_components_verify_nothing_and_never_panic(
                jwks in prop::collection::vec(jwk(), 1..4),
                (claims, _) in claims(),
                signature in component(),
            ) {
                let Ok(keys) = parse_jwks(json!({"keys": jwks}).to_string().as_bytes()) else {
                    return Ok(());
                };
                let header = json!({"alg": "RS256", "kid": KID, "typ": "JWT"});
                let token = format!("{}.{}.{signature}", b64(&header), b64(&claims));
                let outcome = runtime().block_on(verifier(keys).verify(&token));
                prop_assert!(outcome.is_err());
            }

            #[test]
            fn a_token_signed_with_the_key_is_accepted_only_with_sound_claims(
                (claims, sound) in claims(),
            ) {
                let mut header = Header::new(Algorithm::RS256);
                header.kid = Some(KID.into());
                let signing = EncodingKey::from_rsa_pem(key().0.as_bytes()).unwrap();
                let token = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
                let outcome = runtime().block_on(shared_verifier().verify(&token));
                if sound {
                    prop_assert!(outcome.is_ok(), "{:?}", outcome);
                }
                if let Ok(identity) = outcome {
                    let now = chrono::Utc::now().timestamp();
                    prop_assert!(ISSUERS.contains(&claims["iss"].as_str().unwrap_or_default()));
                    let aud = &claims["aud"];
                    prop_assert!(aud == CLIENT_ID || aud.as_array().is_some_and(|a| a.contains(&json!(CLIENT_ID))));
                    // Any JSON number: 2^63 is a valid, far-off expiry.
                    let (now, leeway) = (now as f64, LEEWAY_SECS as f64);
                    prop_assert!(claims["exp"].as_f64().is_some_and(|exp| exp >= now - leeway));
                    prop_assert!(claims["nbf"].as_f64().is_none_or(|nbf| nbf <= now + leeway));
                    prop_assert!(!identity.sub.is_empty() && !identity.email.is_empty());
                    prop_assert!(identity.email_verified);
                }
            }
        }
    }
}
