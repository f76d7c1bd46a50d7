//! Email settings and one-time mail tokens on CQL (docs/data-model.md, "Email").
//!
//! Token rows are written and removed only by lightweight transactions (`IF NOT EXISTS`,
//! `DELETE ... IF EXISTS`), so taking a token is atomic across instances: of two uses
//! of one link, one applies and the other finds nothing. Expiry is decided by the
//! stored `expires_at` against the server's clock; the TTL only collects the rows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use super::connect::ConnectError;
use super::sessions::ttl_until;
use super::store::{ScyllaStore, from_text, lwt_applied, prepare, to_text, unavailable};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{
    MailPreferences, MailSettings, MailStore, MailToken, MailTokenPurpose, StoreResult,
};

const TOKEN_COLUMNS: &str = "token_hash, purpose, user_id, email, created_at, expires_at";

/// Statements of the email tables, prepared once per session.
pub(super) struct MailStatements {
    insert_token: PreparedStatement,
    token: PreparedStatement,
    take_token: PreparedStatement,
    live_tokens: PreparedStatement,
    index_token: PreparedStatement,
    unindex_tokens: PreparedStatement,
    settings: PreparedStatement,
    set_verified: PreparedStatement,
    set_preferences: PreparedStatement,
    delete_settings: PreparedStatement,
}

impl MailStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        Ok(MailStatements {
            insert_token: prepare(format!(
                "INSERT INTO {ks}.mail_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?"
            ))
            .await?,
            token: prepare(format!(
                "SELECT {TOKEN_COLUMNS} FROM {ks}.mail_tokens WHERE token_hash = ?"
            ))
            .await?,
            take_token: prepare(format!(
                "DELETE FROM {ks}.mail_tokens WHERE token_hash = ? IF EXISTS"
            ))
            .await?,
            live_tokens: prepare(format!(
                "SELECT purpose, token_hash FROM {ks}.mail_tokens_by_user WHERE user_id = ?"
            ))
            .await?,
            index_token: prepare(format!(
                "INSERT INTO {ks}.mail_tokens_by_user (user_id, purpose, token_hash) VALUES (?, ?, ?) USING TTL ?"
            ))
            .await?,
            unindex_tokens: prepare(format!(
                "DELETE FROM {ks}.mail_tokens_by_user WHERE user_id = ?"
            ))
            .await?,
            settings: prepare(format!(
                "SELECT verified_email, verified_at, streak_reminders, weekly_summary FROM {ks}.mail_settings WHERE user_id = ?"
            ))
            .await?,
            set_verified: prepare(format!(
                "UPDATE {ks}.mail_settings SET verified_email = ?, verified_at = ? WHERE user_id = ?"
            ))
            .await?,
            set_preferences: prepare(format!(
                "UPDATE {ks}.mail_settings SET streak_reminders = ?, weekly_summary = ? WHERE user_id = ?"
            ))
            .await?,
            delete_settings: prepare(format!(
                "DELETE FROM {ks}.mail_settings WHERE user_id = ?"
            ))
            .await?,
        })
    }
}

#[derive(DeserializeRow)]
struct TokenRow {
    token_hash: String,
    purpose: Option<String>,
    user_id: Option<Uuid>,
    email: Option<String>,
    created_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    /// The token, or `None` for what is left of a row whose cells expired.
    fn into_token(self) -> StoreResult<Option<MailToken>> {
        let (Some(purpose), Some(user_id), Some(email), Some(created_at), Some(expires_at)) = (
            self.purpose,
            self.user_id,
            self.email,
            self.created_at,
            self.expires_at,
        ) else {
            return Ok(None);
        };
        Ok(Some(MailToken {
            token_hash: self.token_hash,
            purpose: from_text(purpose, "mail token purpose")?,
            user_id,
            email,
            created_at,
            expires_at,
        }))
    }
}

#[derive(DeserializeRow)]
struct SettingsRow {
    verified_email: Option<String>,
    verified_at: Option<DateTime<Utc>>,
    streak_reminders: Option<bool>,
    weekly_summary: Option<bool>,
}

impl ScyllaStore {
    /// Removes one token row; true if this call removed it.
    async fn remove_mail_token(&self, token_hash: &str) -> StoreResult<bool> {
        let result = self
            .session
            .execute_unpaged(&self.mail.take_token, (token_hash,))
            .await
            .map_err(unavailable)?;
        lwt_applied(result)
    }
}

#[async_trait]
impl MailStore for ScyllaStore {
    async fn save_mail_token(&self, token: &MailToken) -> StoreResult<()> {
        let purpose = to_text(&token.purpose)?;
        let ttl = ttl_until(token.expires_at);
        let earlier: Vec<(String, Option<String>)> =
            self.rows(&self.mail.live_tokens, (token.user_id,)).await?;
        // A random hash: `IF NOT EXISTS` always applies; it makes the write an LWT like
        // the delete that takes it.
        self.session
            .execute_unpaged(
                &self.mail.insert_token,
                (
                    &token.token_hash,
                    &purpose,
                    token.user_id,
                    &token.email,
                    token.created_at,
                    token.expires_at,
                    ttl,
                ),
            )
            .await
            .map_err(unavailable)?;
        self.run(
            &self.mail.index_token,
            (token.user_id, &purpose, &token.token_hash, ttl),
        )
        .await?;
        for (_, hash) in earlier.into_iter().filter(|(p, _)| *p == purpose) {
            if let Some(hash) = hash.filter(|h| *h != token.token_hash) {
                self.remove_mail_token(&hash).await?;
            }
        }
        Ok(())
    }

    async fn take_mail_token(
        &self,
        token_hash: &str,
        purpose: MailTokenPurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MailToken>> {
        let row: Option<TokenRow> = self.one_row(&self.mail.token, (token_hash,)).await?;
        let Some(token) = row.map(TokenRow::into_token).transpose()?.flatten() else {
            return Ok(None);
        };
        if token.purpose != purpose {
            return Ok(None);
        }
        if !self.remove_mail_token(token_hash).await? {
            // Taken by a concurrent use a moment ago.
            return Ok(None);
        }
        Ok((token.expires_at > now).then_some(token))
    }

    async fn mail_settings(&self, user_id: Uuid) -> StoreResult<MailSettings> {
        let row: Option<SettingsRow> = self.one_row(&self.mail.settings, (user_id,)).await?;
        Ok(row
            .map(|row| MailSettings {
                verified_email: row.verified_email,
                verified_at: row.verified_at,
                streak_reminders: row.streak_reminders.unwrap_or(false),
                weekly_summary: row.weekly_summary.unwrap_or(false),
            })
            .unwrap_or_default())
    }

    async fn set_email_verified(
        &self,
        user_id: Uuid,
        email: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.run(&self.mail.set_verified, (email, at, user_id))
            .await
    }

    async fn set_mail_preferences(
        &self,
        user_id: Uuid,
        preferences: MailPreferences,
    ) -> StoreResult<()> {
        self.run(
            &self.mail.set_preferences,
            (
                preferences.streak_reminders,
                preferences.weekly_summary,
                user_id,
            ),
        )
        .await
    }

    async fn delete_mail_data(&self, user_id: Uuid) -> StoreResult<()> {
        let live: Vec<(String, Option<String>)> =
            self.rows(&self.mail.live_tokens, (user_id,)).await?;
        for hash in live.into_iter().filter_map(|(_, hash)| hash) {
            self.remove_mail_token(&hash).await?;
        }
        self.run(&self.mail.unindex_tokens, (user_id,)).await?;
        self.run(&self.mail.delete_settings, (user_id,)).await
    }
}
