//! The account lifecycle, shared by the v1 and legacy routes: sign-up, password and
//! Google sign-in, refresh-token rotation with reuse detection, sign-out, and
//! websocket tickets.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::google::{GoogleError, GoogleIdentity, GoogleVerifier};
use super::lockout;
use super::password::{self, Verified};
use super::secret_token;
use super::tokens::{IssuedToken, TokenError, TokenKeys};
use questpath_actors::domain::{DisplayName, Email, Password};
use questpath_actors::ports::{
    Cache, NewUser, ProfileUpdate, RefreshFamily, RefreshToken, Store, StoreError, User,
};

/// Lifetime of a refresh token (and of a family left unused).
pub const REFRESH_TTL: Duration = Duration::days(30);
/// Default grace window of a rotated refresh token (`QUESTPATH_REFRESH_GRACE_SECS`).
pub const DEFAULT_REFRESH_GRACE: Duration = Duration::seconds(30);
/// Lifetime of a websocket ticket.
pub const TICKET_TTL: StdDuration = StdDuration::from_secs(30);
/// How recent a sign-in must be to delete an account that has no password.
pub const FRESH_SIGN_IN: Duration = Duration::minutes(5);

/// What a successful sign-in or refresh hands to the client.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub access: IssuedToken,
    /// The new refresh token for the cookie (only its hash is stored) and its expiry.
    /// `None` when a refresh came within the grace window of a rotation that just
    /// happened: the client holds, or is receiving, that rotation's token already.
    pub refresh: Option<(String, DateTime<Utc>)>,
}

/// Failures of the account operations, mapped to HTTP by the routes.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("sign-in locked for {retry_after_secs} s")]
    Locked { retry_after_secs: u64 },
    #[error("refresh token missing")]
    RefreshMissing,
    #[error("refresh token invalid or expired")]
    RefreshInvalid,
    #[error("refresh token reused; its family is revoked")]
    RefreshReused,
    #[error("google sign-in is not configured")]
    GoogleDisabled,
    #[error("google: {0}")]
    Google(GoogleError),
    #[error("token: {0}")]
    Token(TokenError),
    #[error("account not found")]
    UnknownUser,
    #[error("the current password is required")]
    PasswordRequired,
    #[error("wrong password")]
    WrongPassword,
    #[error("a sign-in within the last {} minutes is required", FRESH_SIGN_IN.num_minutes())]
    FreshSignInRequired,
    /// A verification or reset link that is unknown, used, expired or for another
    /// address.
    #[error("the link is invalid, expired or used already")]
    MailTokenInvalid,
    #[error("the email is verified already")]
    AlreadyVerified,
    /// Google sign-in found a password account with the same, unverified email (F3).
    #[error("an account with this email exists and its email is not verified")]
    EmailUnverified,
    #[error("mail: {0}")]
    Mail(#[from] crate::mail::service::EnqueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cache: {0}")]
    Cache(#[from] crate::ports::PortError),
    #[error("password hashing: {0}")]
    Hash(#[from] password::HashError),
}

/// Account operations over the store and the cache.
#[derive(Clone)]
pub struct AuthService {
    store: Arc<dyn Store>,
    cache: Arc<dyn Cache>,
    keys: TokenKeys,
    google: Option<Arc<GoogleVerifier>>,
    refresh_grace: Duration,
    /// Verification and reset mails; `None` sends none (unit tests of other flows).
    pub(super) mail: Option<super::email::AccountMail>,
    /// Accounts found by id within [`KNOWN_USER_TTL`], for requests that need only to
    /// know the account exists (a websocket ticket): a learner opening many connections
    /// at once, or every learner reconnecting after a deploy, is read from the store
    /// once, not once a connection.
    known_users: moka::future::Cache<Uuid, ()>,
}

/// How long [`AuthService::authenticate_known`] trusts that an account exists. An
/// account deleted on another instance may get websocket tickets for this long (this
/// instance forgets its own deletions at once); its sessions are closed by the deletion.
pub const KNOWN_USER_TTL: StdDuration = StdDuration::from_secs(5);
/// Accounts remembered by [`AuthService::authenticate_known`] (16 bytes each).
const KNOWN_USERS: u64 = 200_000;

impl AuthService {
    pub fn new(
        store: Arc<dyn Store>,
        cache: Arc<dyn Cache>,
        keys: TokenKeys,
        google: Option<Arc<GoogleVerifier>>,
    ) -> Self {
        AuthService {
            store,
            cache,
            keys,
            google,
            refresh_grace: DEFAULT_REFRESH_GRACE,
            mail: None,
            known_users: moka::future::Cache::builder()
                .max_capacity(KNOWN_USERS)
                .time_to_live(KNOWN_USER_TTL)
                .build(),
        }
    }

    /// Sends verification and password-reset mails through `mail`, limiting reset
    /// requests per address with `limiter`.
    pub fn with_mail(
        mut self,
        mail: crate::mail::service::MailService,
        limiter: Arc<dyn crate::ports::RateLimiter>,
    ) -> Self {
        self.mail = Some(super::email::AccountMail { mail, limiter });
        self
    }

    pub(super) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// How long after a rotation the rotated-out token still yields an access token
    /// (`QUESTPATH_REFRESH_GRACE_SECS`); zero turns the window off.
    pub fn with_refresh_grace(mut self, grace: Duration) -> Self {
        self.refresh_grace = grace;
        self
    }

    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// Creates an account with a password.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<User, AuthError> {
        let email = Email::parse(email).map_err(|message| AuthError::Invalid {
            field: "email",
            message,
        })?;
        let password = Password::parse(password).map_err(|message| AuthError::Invalid {
            field: "password",
            message,
        })?;
        let display_name = display_name
            .map(DisplayName::parse)
            .transpose()
            .map_err(|message| AuthError::Invalid {
                field: "display_name",
                message,
            })?;
        if self.store.user_by_email(email.as_str()).await?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        let phc = password::hash(password.expose().to_string()).await?;
        let mut new = NewUser::new(email.as_str());
        new.display_name = display_name.map(DisplayName::into_inner);
        let user = match self.store.create_user(new).await {
            Ok(user) => user,
            Err(StoreError::Conflict { .. }) => return Err(AuthError::EmailTaken),
            Err(e) => return Err(e.into()),
        };
        self.store.set_password_hash(user.id, &phc).await?;
        tracing::info!(user_id = %user.id, "account created");
        // The account works without it; the learner can ask for another mail.
        if let Err(e) = self.send_verification(&user).await {
            tracing::error!(user_id = %user.id, error = %e, "verification mail not queued");
        }
        Ok(user)
    }

    /// Password sign-in with brute-force protection; `client_ip` keys the per-address
    /// counter.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client_ip: &str,
    ) -> Result<Session, AuthError> {
        let now = Utc::now();
        // An unparseable email cannot be an account; it is counted like any other so
        // the answer is the same.
        let email_key = Email::parse(email)
            .map(|e| e.as_str().to_string())
            .unwrap_or_else(|_| email.trim().to_lowercase());
        let account_key = lockout::account_key(&email_key);
        let address_key = lockout::address_key(client_ip);
        self.refuse_when_locked(&[&account_key, &address_key], now)
            .await?;

        let user = self.store.user_by_email(&email_key).await?;
        let phc = match &user {
            Some(user) => self.store.password_hash(user.id).await?,
            None => None,
        };
        let verified = password::verify(password.to_string(), phc).await;
        let user = match (verified, user) {
            (Verified::Yes | Verified::YesRehash, Some(user)) => {
                if verified == Verified::YesRehash {
                    let phc = password::hash(password.to_string()).await?;
                    self.store.set_password_hash(user.id, &phc).await?;
                    tracing::info!(user_id = %user.id, "password re-hashed with current parameters");
                }
                user
            }
            _ => {
                let account = self
                    .store
                    .record_login_failure(&account_key, now, lockout::WINDOW, lockout::account_lock)
                    .await?;
                let address = self
                    .store
                    .record_login_failure(&address_key, now, lockout::WINDOW, lockout::address_lock)
                    .await?;
                tracing::warn!(
                    account_failures = account.count,
                    address_failures = address.count,
                    "failed sign-in"
                );
                tokio::time::sleep(lockout::slow_down(account.count)).await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        self.store.clear_login_failures(&account_key).await?;
        self.start_session(user, now).await
    }

    /// Google sign-in: verifies the ID token, then finds the linked account, links the
    /// account with the same verified email, or creates one.
    pub async fn google_login(&self, id_token: &str) -> Result<Session, AuthError> {
        let verifier = self.google.as_ref().ok_or(AuthError::GoogleDisabled)?;
        let identity = verifier.verify(id_token).await.map_err(AuthError::Google)?;
        let user = self.user_for_google(identity).await?;
        self.start_session(user, Utc::now()).await
    }

    async fn user_for_google(&self, identity: GoogleIdentity) -> Result<User, AuthError> {
        if let Some(user) = self.store.user_by_google(&identity.sub).await? {
            return Ok(user);
        }
        let email = Email::parse(&identity.email).map_err(|message| AuthError::Invalid {
            field: "email",
            message,
        })?;
        let user = match self.store.user_by_email(email.as_str()).await? {
            Some(existing) => {
                self.may_adopt(&existing).await?;
                existing
            }
            None => {
                let mut new = NewUser::new(email.as_str());
                new.display_name = identity
                    .name
                    .as_deref()
                    .and_then(|n| DisplayName::parse(n).ok())
                    .map(DisplayName::into_inner);
                new.picture = identity.picture.clone();
                match self.store.create_user(new).await {
                    Ok(user) => user,
                    // Created by a concurrent sign-in a moment ago.
                    Err(StoreError::Conflict { .. }) => self
                        .store
                        .user_by_email(email.as_str())
                        .await?
                        .ok_or(AuthError::UnknownUser)?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let owner = self.store.link_google(&identity.sub, user.id).await?;
        if owner == user.id {
            // Google verified this address (the verifier refuses unverified ones).
            self.mark_verified_by_google(&user).await?;
        }
        if owner != user.id {
            // Another account won a race to link this Google account: sign in as it.
            return self
                .store
                .user_by_id(owner)
                .await?
                .ok_or(AuthError::UnknownUser);
        }
        Ok(user)
    }

    /// The old `/auth/oauth-login`: trusts the posted identity. Only reachable when an
    /// operator enabled it.
    pub async fn legacy_oauth_login(
        &self,
        email: &str,
        google_id: &str,
        display_name: Option<String>,
        picture: Option<String>,
    ) -> Result<Session, AuthError> {
        let identity = GoogleIdentity {
            sub: google_id.to_string(),
            email: email.to_string(),
            email_verified: true,
            name: display_name,
            picture,
        };
        let user = self.user_for_google(identity).await?;
        self.start_session(user, Utc::now()).await
    }

    /// Starts a new refresh family (a device) and issues its first tokens.
    async fn start_session(&self, user: User, now: DateTime<Utc>) -> Result<Session, AuthError> {
        let family = RefreshFamily {
            family_id: Uuid::now_v7(),
            user_id: user.id,
            created_at: now,
            expires_at: now + REFRESH_TTL,
            revoked: false,
        };
        self.store.create_refresh_family(&family).await?;
        self.issue(user, &family, now).await
    }

    /// A new refresh token of `family` and an access token; the access token says the
    /// learner signed in when the family began.
    async fn issue(
        &self,
        user: User,
        family: &RefreshFamily,
        now: DateTime<Utc>,
    ) -> Result<Session, AuthError> {
        let refresh_token = secret_token::generate();
        let record = RefreshToken {
            token_hash: secret_token::hash(&refresh_token),
            user_id: user.id,
            family_id: family.family_id,
            issued_at: now,
            expires_at: now + REFRESH_TTL,
            used_at: None,
        };
        self.store.insert_refresh_token(&record).await?;
        let access = self
            .keys
            .issue_access_since(user.id, now, family.created_at)
            .map_err(AuthError::Token)?;
        Ok(Session {
            user,
            access,
            refresh: Some((refresh_token, record.expires_at)),
        })
    }

    /// Exchanges a refresh token for a new access token and a new refresh token. A token
    /// presented a second time means it was copied: the whole family is revoked.
    pub async fn refresh(&self, presented: Option<&str>) -> Result<Session, AuthError> {
        let presented = presented
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::RefreshMissing)?;
        if !secret_token::well_formed(presented) {
            return Err(AuthError::RefreshInvalid);
        }
        let now = Utc::now();
        let hash = secret_token::hash(presented);
        let token = self
            .store
            .refresh_token(&hash)
            .await?
            .ok_or(AuthError::RefreshInvalid)?;
        if token.expires_at <= now {
            return Err(AuthError::RefreshInvalid);
        }
        let family = self
            .store
            .refresh_family(token.family_id)
            .await?
            .ok_or(AuthError::RefreshInvalid)?;
        if family.revoked || family.expires_at <= now {
            return Err(AuthError::RefreshInvalid);
        }
        let rotated_at = match token.used_at {
            Some(at) => Some(at),
            None if self.store.consume_refresh_token(&hash, now).await? => None,
            // Another request consumed it between our read and our compare-and-set.
            None => Some(
                self.store
                    .refresh_token(&hash)
                    .await?
                    .and_then(|t| t.used_at)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            ),
        };
        if let Some(rotated_at) = rotated_at {
            // Two tabs (or two calls of one page) refreshing with the same cookie: the
            // first rotated it, the second gets an access token of the same family and
            // no new cookie. Later reuse is theft: the family goes.
            if now - rotated_at <= self.refresh_grace {
                let user = self
                    .store
                    .user_by_id(token.user_id)
                    .await?
                    .ok_or(AuthError::RefreshInvalid)?;
                let access = self
                    .keys
                    .issue_access_since(user.id, now, family.created_at)
                    .map_err(AuthError::Token)?;
                tracing::info!(
                    user_id = %token.user_id,
                    family_id = %token.family_id,
                    "refresh token presented again within the grace window"
                );
                return Ok(Session {
                    user,
                    access,
                    refresh: None,
                });
            }
            self.store.revoke_refresh_family(token.family_id).await?;
            tracing::warn!(
                user_id = %token.user_id,
                family_id = %token.family_id,
                "refresh token reused: family revoked"
            );
            return Err(AuthError::RefreshReused);
        }
        let user = self
            .store
            .user_by_id(token.user_id)
            .await?
            .ok_or(AuthError::RefreshInvalid)?;
        self.store
            .extend_refresh_family(token.family_id, now + REFRESH_TTL)
            .await?;
        self.issue(user, &family, now).await
    }

    /// Signs the device holding `presented` out: its family is revoked. Unknown tokens
    /// are ignored, so signing out twice is fine.
    pub async fn logout(&self, presented: Option<&str>) -> Result<(), AuthError> {
        let Some(presented) = presented.filter(|t| secret_token::well_formed(t)) else {
            return Ok(());
        };
        if let Some(token) = self
            .store
            .refresh_token(&secret_token::hash(presented))
            .await?
        {
            self.store.revoke_refresh_family(token.family_id).await?;
            tracing::info!(user_id = %token.user_id, family_id = %token.family_id, "signed out");
        }
        Ok(())
    }

    /// Signs every device of the user out.
    pub async fn logout_everywhere(&self, user_id: Uuid) -> Result<u32, AuthError> {
        let revoked = self.store.revoke_user_refresh_families(user_id).await?;
        tracing::info!(user_id = %user_id, families = revoked, "signed out everywhere");
        Ok(revoked)
    }

    /// The user an access token belongs to.
    pub async fn authenticate(&self, access_token: &str) -> Result<User, AuthError> {
        self.authenticate_session(access_token)
            .await
            .map(|(user, _)| user)
    }

    /// The user an access token belongs to, and when they signed in (if it says).
    pub async fn authenticate_session(
        &self,
        access_token: &str,
    ) -> Result<(User, Option<DateTime<Utc>>), AuthError> {
        let (user_id, claims) = self
            .keys
            .verify_access(access_token)
            .map_err(AuthError::Token)?;
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(AuthError::UnknownUser)?;
        Ok((user, claims.signed_in_at()))
    }

    /// The id of the account an access token is for, like [`Self::authenticate_session`]
    /// but without reading the account when it was found within [`KNOWN_USER_TTL`].
    pub async fn authenticate_known(&self, access_token: &str) -> Result<Uuid, AuthError> {
        let (user_id, _) = self
            .keys
            .verify_access(access_token)
            .map_err(AuthError::Token)?;
        if self.known_users.get(&user_id).await.is_none() {
            self.store
                .user_by_id(user_id)
                .await?
                .ok_or(AuthError::UnknownUser)?;
            self.known_users.insert(user_id, ()).await;
        }
        Ok(user_id)
    }

    /// Forgets that an account exists (it was just deleted here).
    pub async fn forget_user(&self, user_id: Uuid) {
        self.known_users.invalidate(&user_id).await;
    }

    /// Checks that the learner is at the keyboard before something that cannot be
    /// undone (deleting the account): their current password when the account has one,
    /// counted like a sign-in (wrong ones lock it the same way); a sign-in within
    /// [`FRESH_SIGN_IN`] (`signed_in_at`, from the access token) when it has none.
    pub async fn confirm_presence(
        &self,
        user: &User,
        password: Option<&str>,
        signed_in_at: Option<DateTime<Utc>>,
        client_ip: &str,
    ) -> Result<(), AuthError> {
        let now = Utc::now();
        let Some(phc) = self.store.password_hash(user.id).await? else {
            // Google only: no secret to ask for, so the sign-in itself must be recent.
            return match signed_in_at {
                Some(at) if at <= now && now - at <= FRESH_SIGN_IN => Ok(()),
                _ => Err(AuthError::FreshSignInRequired),
            };
        };
        let password = password
            .filter(|p| !p.is_empty())
            .ok_or(AuthError::PasswordRequired)?;
        let account_key = lockout::account_key(&user.email);
        let address_key = lockout::address_key(client_ip);
        self.refuse_when_locked(&[&account_key, &address_key], now)
            .await?;
        match password::verify(password.to_string(), Some(phc)).await {
            Verified::Yes | Verified::YesRehash => {
                self.store.clear_login_failures(&account_key).await?;
                Ok(())
            }
            _ => {
                let account = self
                    .store
                    .record_login_failure(&account_key, now, lockout::WINDOW, lockout::account_lock)
                    .await?;
                self.store
                    .record_login_failure(&address_key, now, lockout::WINDOW, lockout::address_lock)
                    .await?;
                tracing::warn!(user_id = %user.id, account_failures = account.count, "wrong password confirming presence");
                tokio::time::sleep(lockout::slow_down(account.count)).await;
                Err(AuthError::WrongPassword)
            }
        }
    }

    /// `Locked` while any of `keys` (an account's, an address's) is locked out: the
    /// password is not even checked then, so a lock cannot be probed.
    async fn refuse_when_locked(&self, keys: &[&str], now: DateTime<Utc>) -> Result<(), AuthError> {
        for key in keys {
            let failures = self.store.login_failures(key, now, lockout::WINDOW).await?;
            if let Some(until) = failures
                .and_then(|f| f.locked_until)
                .filter(|until| *until > now)
            {
                return Err(AuthError::Locked {
                    retry_after_secs: seconds_until(now, until),
                });
            }
        }
        Ok(())
    }

    /// Forgets the sign-in failures counted for an account's email (the account is
    /// being deleted: nothing of it is kept, and the email may sign up again).
    pub async fn forget_failures(&self, email: &str) -> Result<(), AuthError> {
        self.store
            .clear_login_failures(&lockout::account_key(email))
            .await?;
        Ok(())
    }

    /// Changes the display name.
    pub async fn rename(&self, user_id: Uuid, display_name: &str) -> Result<User, AuthError> {
        let name = DisplayName::parse(display_name).map_err(|message| AuthError::Invalid {
            field: "display_name",
            message,
        })?;
        let update = ProfileUpdate {
            display_name: Some(Some(name.into_inner())),
            picture: None,
        };
        self.store
            .update_profile(user_id, update)
            .await?
            .ok_or(AuthError::UnknownUser)
    }

    /// A one-time websocket ticket for the user, valid [`TICKET_TTL`], usable on any
    /// instance that shares the signing key. It is signed, not stored: issuing one costs
    /// no cache call, and only a redeemed ticket's id is written.
    pub async fn issue_ticket(&self, user_id: Uuid) -> Result<String, AuthError> {
        let ttl = chrono::Duration::from_std(TICKET_TTL).unwrap_or_default();
        self.keys
            .issue_ticket(user_id, Utc::now(), ttl)
            .map_err(AuthError::Token)
    }

    /// Redeems a ticket once; `None` when forged, expired or already used. The one cache
    /// call marks its id used until the ticket would have expired anyway. A ticket of
    /// an earlier version (random, kept in the cache) is still taken from the cache,
    /// so a rolling upgrade refuses no socket.
    pub async fn redeem_ticket(&self, ticket: &str) -> Result<Option<Uuid>, AuthError> {
        if secret_token::well_formed(ticket) {
            let value = self.cache.take(&stored_ticket_key(ticket)).await?;
            return Ok(value.and_then(|bytes| Uuid::from_slice(&bytes).ok()));
        }
        let Ok(verified) = self.keys.verify_ticket(ticket) else {
            return Ok(None);
        };
        let left = (verified.expires_at - Utc::now())
            .to_std()
            .unwrap_or_default()
            .max(StdDuration::from_secs(1));
        let key = format!("ws-ticket-used:{}", verified.id);
        let first = self.cache.set_if_absent(&key, b"1", left).await?;
        Ok(first.then_some(verified.user_id))
    }
}

/// Tickets of earlier versions were stored under their hash.
fn stored_ticket_key(ticket: &str) -> String {
    format!("ws-ticket:{}", secret_token::hash(ticket))
}

fn seconds_until(now: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    let ms = (until - now).num_milliseconds().max(0) as u64;
    ms.div_ceil(1000).max(1)
}

#[cfg(test)]
mod properties {
    //! Property tests: no string a client presents redeems a websocket ticket, rotates
    //! a refresh token or authenticates, unless it is exactly the one issued.

    use proptest::prelude::*;
    use proptest::test_runner::TestRunner;

    use super::*;
    use crate::adapters::embedded::{EmbeddedStore, InProcessCache};
    use crate::config::Secret;
    use crate::proptest_strategies::hostile_string;

    /// Strings near `genuine`: one character changed, cut, extended, re-cased or padded.
    fn near_miss(genuine: String) -> impl Strategy<Value = String> {
        let len = genuine.len();
        (0..len, any::<char>(), 0..6u8).prop_filter_map("unchanged", move |(at, c, how)| {
            let mut s = genuine.clone();
            match how {
                0 => s.replace_range(at..at + 1, &c.to_string()),
                1 => s.truncate(at),
                2 => s.push(c),
                3 => s = s.to_ascii_uppercase(),
                4 => s = format!(" {s}"),
                _ => s.insert(at, c),
            }
            (s != genuine).then_some(s)
        })
    }

    #[test]
    fn only_the_issued_ticket_token_or_refresh_token_is_accepted() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = runtime.block_on(EmbeddedStore::open(dir.path())).unwrap();
        let service = AuthService::new(
            Arc::new(store),
            Arc::new(InProcessCache::new()),
            TokenKeys::new(&Secret::new("k".repeat(40))),
            None,
        );
        let user = Uuid::now_v7();
        let (ticket, session) = runtime.block_on(async {
            let ticket = service.issue_ticket(user).await.unwrap();
            service
                .register("prop@example.org", "correct horse battery", None)
                .await
                .unwrap();
            let session = service
                .login("prop@example.org", "correct horse battery", "127.0.0.1")
                .await
                .unwrap();
            (ticket, session)
        });
        let refresh = session.refresh.clone().unwrap().0;
        let access = session.access.token.clone();

        let presented = prop_oneof![
            hostile_string(),
            near_miss(ticket.clone()),
            near_miss(refresh.clone()),
            near_miss(access.clone()),
            // The other kinds of secret, each where it does not belong.
            Just(refresh.clone()),
            Just(access.clone()),
        ];
        let mut runner = TestRunner::new(ProptestConfig::default());
        runner
            .run(&presented, |value| {
                runtime.block_on(async {
                    if value != ticket {
                        prop_assert_eq!(service.redeem_ticket(&value).await.ok().flatten(), None);
                    }
                    if value != refresh {
                        let refreshed = service.refresh(Some(&value)).await;
                        prop_assert!(
                            matches!(
                                refreshed,
                                Err(AuthError::RefreshInvalid | AuthError::RefreshMissing)
                            ),
                            "{:?}",
                            refreshed.map(|s| s.user.id)
                        );
                        // Signing out with garbage does nothing and does not fail.
                        prop_assert!(service.logout(Some(&value)).await.is_ok());
                    }
                    if value != access {
                        prop_assert!(service.authenticate(&value).await.is_err());
                    }
                    Ok(())
                })
            })
            .unwrap();

        // The genuine ones still work, after all that: the ticket once.
        runtime.block_on(async {
            assert_eq!(service.redeem_ticket(&ticket).await.unwrap(), Some(user));
            assert_eq!(service.redeem_ticket(&ticket).await.unwrap(), None);
            assert!(service.authenticate(&access).await.is_ok());
            assert!(service.refresh(Some(&refresh)).await.is_ok());
        });
    }
}
