//! Email settings and one-time mail tokens: a settings record per user, tokens by hash,
//! and each user's live token per purpose in `mail_tokens_by_user`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::ReadableTable;
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{MAIL_SETTINGS, MAIL_TOKENS, MAIL_TOKENS_BY_USER};
use super::txn::{Txn, encode, get_json, internal, read_json};
use questpath_actors::ports::store::{
    MailPreferences, MailSettings, MailStore, MailToken, MailTokenPurpose, StoreResult,
};

const SETTINGS: &str = "mail settings";
const TOKEN: &str = "mail token";

fn purpose_key(purpose: MailTokenPurpose) -> &'static str {
    match purpose {
        MailTokenPurpose::VerifyEmail => "verify_email",
        MailTokenPurpose::ResetPassword => "reset_password",
    }
}

impl EmbeddedStore {
    /// Reads the user's settings, changes them and writes them back in one transaction.
    async fn change_settings(
        &self,
        user_id: Uuid,
        change: impl FnOnce(&mut MailSettings) + Send + 'static,
    ) -> StoreResult<()> {
        let id = user_id.as_u128();
        self.write(move |tx| {
            let mut table = tx.open_table(MAIL_SETTINGS).map_err(internal)?;
            let mut settings: MailSettings = get_json(&table, id, SETTINGS)?.unwrap_or_default();
            change(&mut settings);
            let bytes = encode(&settings)?;
            table.insert(id, bytes.as_slice()).map_err(internal)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl MailStore for EmbeddedStore {
    async fn save_mail_token(&self, token: &MailToken) -> StoreResult<()> {
        let token = token.clone();
        let bytes = encode(&token)?;
        self.write(move |tx| {
            let mut tokens = tx.open_table(MAIL_TOKENS).map_err(internal)?;
            let mut by_user = tx.open_table(MAIL_TOKENS_BY_USER).map_err(internal)?;
            let key = (token.user_id.as_u128(), purpose_key(token.purpose));
            let earlier = by_user
                .insert(key, token.token_hash.as_str())
                .map_err(internal)?
                .map(|old| old.value().to_string());
            if let Some(earlier) = earlier.filter(|e| *e != token.token_hash) {
                tokens.remove(earlier.as_str()).map_err(internal)?;
            }
            tokens
                .insert(token.token_hash.as_str(), bytes.as_slice())
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn take_mail_token(
        &self,
        token_hash: &str,
        purpose: MailTokenPurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MailToken>> {
        let hash = token_hash.to_string();
        self.write_or_abort(move |tx| {
            let mut tokens = tx.open_table(MAIL_TOKENS).map_err(internal)?;
            let token: Option<MailToken> = get_json(&tokens, hash.as_str(), TOKEN)?;
            let Some(token) = token.filter(|t| t.purpose == purpose) else {
                return Ok(Txn::Abort(None));
            };
            tokens.remove(hash.as_str()).map_err(internal)?;
            let mut by_user = tx.open_table(MAIL_TOKENS_BY_USER).map_err(internal)?;
            let key = (token.user_id.as_u128(), purpose_key(purpose));
            let live = by_user
                .get(key)
                .map_err(internal)?
                .is_some_and(|h| h.value() == hash);
            if live {
                by_user.remove(key).map_err(internal)?;
            }
            Ok(Txn::Commit((token.expires_at > now).then_some(token)))
        })
        .await
    }

    async fn mail_settings(&self, user_id: Uuid) -> StoreResult<MailSettings> {
        self.read(move |tx| read_json(tx, MAIL_SETTINGS, user_id.as_u128(), SETTINGS))
            .await
            .map(Option::unwrap_or_default)
    }

    async fn set_email_verified(
        &self,
        user_id: Uuid,
        email: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let email = email.to_string();
        self.change_settings(user_id, move |settings| {
            settings.verified_email = Some(email);
            settings.verified_at = Some(at);
        })
        .await
    }

    async fn set_mail_preferences(
        &self,
        user_id: Uuid,
        preferences: MailPreferences,
    ) -> StoreResult<()> {
        self.change_settings(user_id, move |settings| {
            settings.streak_reminders = preferences.streak_reminders;
            settings.weekly_summary = preferences.weekly_summary;
        })
        .await
    }

    async fn delete_mail_data(&self, user_id: Uuid) -> StoreResult<()> {
        let id = user_id.as_u128();
        self.write(move |tx| {
            tx.open_table(MAIL_SETTINGS)
                .map_err(internal)?
                .remove(id)
                .map_err(internal)?;
            let mut tokens = tx.open_table(MAIL_TOKENS).map_err(internal)?;
            let mut by_user = tx.open_table(MAIL_TOKENS_BY_USER).map_err(internal)?;
            for purpose in [
                MailTokenPurpose::VerifyEmail,
                MailTokenPurpose::ResetPassword,
            ] {
                let hash = by_user
                    .remove((id, purpose_key(purpose)))
                    .map_err(internal)?
                    .map(|h| h.value().to_string());
                if let Some(hash) = hash {
                    tokens.remove(hash.as_str()).map_err(internal)?;
                }
            }
            Ok(())
        })
        .await
    }
}
