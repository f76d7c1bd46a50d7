//! Email verification and password reset, on top of the account lifecycle.
//!
//! Both send a one-time link: a random token whose SHA-256 alone is stored
//! ([`crate::ports::store::MailStore`]), taken once (atomically on either store), bound
//! to the address it was mailed to, and replaced by the next one of its kind.
//!
//! - Verification: mailed at sign-up and on request, valid [`VERIFY_TTL`].
//! - Password reset: requesting one always answers the same, registered or not, and
//!   does its work after answering, so neither the answer nor its timing tells; at most
//!   [`RESETS_PER_ADDRESS`] mails per address per hour. The link is valid
//!   [`RESET_TTL`]; using it sets the password, verifies the address (the learner read
//!   the mail), and revokes every refresh family of the account.
//! - Google sign-in (F3): a password account whose address is not verified is never
//!   adopted by a Google sign-in with the same address; a verified one is, and an
//!   account Google creates or links is verified by Google's word.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};

use super::lockout;
use super::password;
use super::secret_token;
use super::service::{AuthError, AuthService};
use crate::mail::service::MailService;
use crate::ports::store::{MailToken, MailTokenPurpose};
use crate::ports::{RateLimit, RateLimiter, User};
use questpath_actors::domain::{Email, Password};

/// Lifetime of a verification link.
pub const VERIFY_TTL: Duration = Duration::days(7);
/// Lifetime of a password-reset link.
pub const RESET_TTL: Duration = Duration::minutes(30);
/// Reset mails to one address per hour, whoever asks: against mail bombing.
pub const RESETS_PER_ADDRESS: u32 = 3;

/// What the account flows need to mail learners.
#[derive(Clone)]
pub(super) struct AccountMail {
    pub(super) mail: MailService,
    pub(super) limiter: Arc<dyn RateLimiter>,
}

impl AuthService {
    /// Mails `user` a new verification link (the previous one stops working).
    /// `AlreadyVerified` when there is nothing to verify.
    pub async fn send_verification(&self, user: &User) -> Result<(), AuthError> {
        let Some(mail) = &self.mail else {
            return Ok(());
        };
        let settings = self.store().mail_settings(user.id).await?;
        if settings.is_verified(&user.email) {
            return Err(AuthError::AlreadyVerified);
        }
        let token = self
            .new_mail_token(user, MailTokenPurpose::VerifyEmail, VERIFY_TTL)
            .await?;
        mail.mail
            .enqueue_verification(user, &token, VERIFY_TTL.num_days())
            .await?;
        Ok(())
    }

    /// Whether `user`'s current address is verified.
    pub async fn email_verified(&self, user: &User) -> Result<bool, AuthError> {
        Ok(self
            .store()
            .mail_settings(user.id)
            .await?
            .is_verified(&user.email))
    }

    /// Redeems a verification link: the address it was mailed to is verified.
    pub async fn verify_email(&self, token: &str) -> Result<User, AuthError> {
        let (user, token) = self
            .take_mail_token(token, MailTokenPurpose::VerifyEmail)
            .await?;
        self.store()
            .set_email_verified(user.id, &token.email, Utc::now())
            .await?;
        tracing::info!(user_id = %user.id, "email verified");
        Ok(user)
    }

    /// Mails a reset link if `email` belongs to an account. Answers at once and the
    /// same way either way (only a malformed address is refused); the work runs after.
    pub fn request_password_reset(&self, email: &str) -> Result<(), AuthError> {
        let email = Email::parse(email).map_err(|message| AuthError::Invalid {
            field: "email",
            message,
        })?;
        let service = self.clone();
        tokio::spawn(async move {
            if let Err(e) = service.mail_reset_link(email.as_str()).await {
                tracing::error!(error = %e, "password reset mail not queued");
            }
        });
        Ok(())
    }

    async fn mail_reset_link(&self, email: &str) -> Result<(), AuthError> {
        let Some(mail) = &self.mail else {
            return Ok(());
        };
        let limit = RateLimit {
            limit: RESETS_PER_ADDRESS,
            window: StdDuration::from_secs(3600),
        };
        let decision = mail
            .limiter
            .check(&format!("reset-mail:{}", secret_token::hash(email)), limit)
            .await?;
        if !decision.allowed {
            tracing::warn!("password reset requested too often for one address; no mail");
            return Ok(());
        }
        let Some(user) = self.store().user_by_email(email).await? else {
            tracing::info!("password reset requested for an unknown address; no mail");
            return Ok(());
        };
        let token = self
            .new_mail_token(&user, MailTokenPurpose::ResetPassword, RESET_TTL)
            .await?;
        mail.mail
            .enqueue_password_reset(&user, &token, RESET_TTL.num_minutes())
            .await?;
        Ok(())
    }

    /// Redeems a reset link: sets `new_password`, verifies the address, signs the
    /// account out everywhere and clears its sign-in failures. A password the rules
    /// refuse is refused before the link is used, so the learner can try another.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<User, AuthError> {
        let password = Password::parse(new_password).map_err(|message| AuthError::Invalid {
            field: "password",
            message,
        })?;
        let (user, token) = self
            .take_mail_token(token, MailTokenPurpose::ResetPassword)
            .await?;
        let phc = password::hash(password.expose().to_string()).await?;
        let store = self.store();
        store.set_password_hash(user.id, &phc).await?;
        store
            .set_email_verified(user.id, &token.email, Utc::now())
            .await?;
        let revoked = store.revoke_user_refresh_families(user.id).await?;
        store
            .clear_login_failures(&lockout::account_key(&user.email))
            .await?;
        tracing::info!(user_id = %user.id, families = revoked, "password reset; signed out everywhere");
        Ok(user)
    }

    /// F3: a Google sign-in may adopt an account found by email only if the account
    /// has no password (Google made it) or its address was verified.
    pub(super) async fn may_adopt(&self, existing: &User) -> Result<(), AuthError> {
        let store = self.store();
        if store.password_hash(existing.id).await?.is_none() {
            return Ok(());
        }
        if store
            .mail_settings(existing.id)
            .await?
            .is_verified(&existing.email)
        {
            return Ok(());
        }
        tracing::warn!(user_id = %existing.id, "google sign-in refused: password account with an unverified email");
        Err(AuthError::EmailUnverified)
    }

    /// Records Google's word that `user`'s address is theirs (once).
    pub(super) async fn mark_verified_by_google(&self, user: &User) -> Result<(), AuthError> {
        let store = self.store();
        if !store.mail_settings(user.id).await?.is_verified(&user.email) {
            store
                .set_email_verified(user.id, &user.email, Utc::now())
                .await?;
        }
        Ok(())
    }

    async fn new_mail_token(
        &self,
        user: &User,
        purpose: MailTokenPurpose,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let value = secret_token::generate();
        let now = Utc::now();
        self.store()
            .save_mail_token(&MailToken {
                token_hash: secret_token::hash(&value),
                purpose,
                user_id: user.id,
                email: user.email.clone(),
                created_at: now,
                expires_at: now + ttl,
            })
            .await?;
        Ok(value)
    }

    /// Takes a presented link token: its account, which must still have the address
    /// the link was mailed to.
    async fn take_mail_token(
        &self,
        presented: &str,
        purpose: MailTokenPurpose,
    ) -> Result<(User, MailToken), AuthError> {
        if !secret_token::well_formed(presented) {
            return Err(AuthError::MailTokenInvalid);
        }
        let store = self.store();
        let token = store
            .take_mail_token(&secret_token::hash(presented), purpose, Utc::now())
            .await?
            .ok_or(AuthError::MailTokenInvalid)?;
        let user = store
            .user_by_id(token.user_id)
            .await?
            .filter(|u| {
                crate::ports::store::email_key(&u.email)
                    == crate::ports::store::email_key(&token.email)
            })
            .ok_or(AuthError::MailTokenInvalid)?;
        Ok((user, token))
    }
}
