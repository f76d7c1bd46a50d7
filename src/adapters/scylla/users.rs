//! Users on CQL: the profile row, the email claim that keeps emails unique, the
//! password (apart from the profile), Google links with their reverse index, and the
//! marks of deleted accounts (see docs/data-model.md).
//!
//! Deleting an account removes the Google links, the password and the email claim, and
//! the profile row last (an LWT `DELETE ... IF EXISTS`, like the other LWT-written cells
//! of that row): a deletion that fails half-way leaves the profile, so the learner (or
//! a retry) can finish it, and never an email that cannot sign up again.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlValue;
use uuid::Uuid;

use super::connect::ConnectError;
use super::store::{LwtOutcome, ScyllaStore, internal, lwt_applied, prepare, unavailable};
use crate::config::ScyllaSettings;
use questpath_actors::ports::store::{
    NewUser, ProfileUpdate, StoreError, StoreResult, User, UserStore, email_key,
};

const USER_COLUMNS: &str = "user_id, email, display_name, picture, total_xp, created_at";
/// What creating a user writes: not `total_xp`, which only the LWT of `set_total_xp`
/// writes (so Paxos and plain write timestamps never meet on that cell); a user
/// without one reads as 0.
const NEW_USER_COLUMNS: &str = "user_id, email, display_name, picture, created_at";

/// Statements of the user, credential and Google-link tables, prepared once per session.
pub(super) struct UserStatements {
    insert_user: PreparedStatement,
    user_by_id: PreparedStatement,
    claim_email: PreparedStatement,
    release_email: PreparedStatement,
    email_owner: PreparedStatement,
    set_display_name: PreparedStatement,
    set_picture: PreparedStatement,
    set_display_name_and_picture: PreparedStatement,
    set_password_hash: PreparedStatement,
    password_hash: PreparedStatement,
    link_google: PreparedStatement,
    google_owner: PreparedStatement,
    google_owner_serial: PreparedStatement,
    take_over_google: PreparedStatement,
    unlink_google: PreparedStatement,
    index_google: PreparedStatement,
    unindex_google: PreparedStatement,
    google_of_user: PreparedStatement,
    mark_deleted: PreparedStatement,
    deleted_among: PreparedStatement,
    delete_credentials: PreparedStatement,
    delete_user: PreparedStatement,
}

/// Most ids one `IN ?` of `deleted_users` names (each a partition: a short fan-out).
const MAX_IN: usize = 100;

impl UserStatements {
    pub(super) async fn prepare(
        session: &Session,
        settings: &ScyllaSettings,
    ) -> Result<Self, ConnectError> {
        let ks = &settings.keyspace;
        let prepare = |cql: String| prepare(session, settings, cql);
        // A read that must see the outcome of an in-flight LWT runs at LOCAL_SERIAL.
        let mut google_owner_serial = prepare(format!(
            "SELECT user_id FROM {ks}.users_by_google WHERE google_sub = ?"
        ))
        .await?;
        google_owner_serial.set_consistency(Consistency::LocalSerial);
        Ok(UserStatements {
            insert_user: prepare(format!(
                "INSERT INTO {ks}.users ({NEW_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
            ))
            .await?,
            user_by_id: prepare(format!(
                "SELECT {USER_COLUMNS} FROM {ks}.users WHERE user_id = ?"
            ))
            .await?,
            claim_email: prepare(format!(
                "INSERT INTO {ks}.users_by_email (email, user_id) VALUES (?, ?) IF NOT EXISTS"
            ))
            .await?,
            release_email: prepare(format!(
                "DELETE FROM {ks}.users_by_email WHERE email = ? IF user_id = ?"
            ))
            .await?,
            email_owner: prepare(format!(
                "SELECT user_id FROM {ks}.users_by_email WHERE email = ?"
            ))
            .await?,
            // Profile updates write only the columns that change, so a concurrent
            // change of another column is not overwritten.
            set_display_name: prepare(format!(
                "UPDATE {ks}.users SET display_name = ? WHERE user_id = ?"
            ))
            .await?,
            set_picture: prepare(format!(
                "UPDATE {ks}.users SET picture = ? WHERE user_id = ?"
            ))
            .await?,
            set_display_name_and_picture: prepare(format!(
                "UPDATE {ks}.users SET display_name = ?, picture = ? WHERE user_id = ?"
            ))
            .await?,
            set_password_hash: prepare(format!(
                "INSERT INTO {ks}.credentials (user_id, password_hash, updated_at) VALUES (?, ?, ?)"
            ))
            .await?,
            password_hash: prepare(format!(
                "SELECT password_hash FROM {ks}.credentials WHERE user_id = ?"
            ))
            .await?,
            link_google: prepare(format!(
                "INSERT INTO {ks}.users_by_google (google_sub, user_id, linked_at) VALUES (?, ?, ?) IF NOT EXISTS"
            ))
            .await?,
            google_owner: prepare(format!(
                "SELECT user_id FROM {ks}.users_by_google WHERE google_sub = ?"
            ))
            .await?,
            google_owner_serial,
            // Only the owner read just before: a deleted account's link is taken over.
            take_over_google: prepare(format!(
                "UPDATE {ks}.users_by_google SET user_id = ?, linked_at = ? WHERE google_sub = ? IF user_id = ?"
            ))
            .await?,
            unlink_google: prepare(format!(
                "DELETE FROM {ks}.users_by_google WHERE google_sub = ? IF user_id = ?"
            ))
            .await?,
            index_google: prepare(format!(
                "INSERT INTO {ks}.google_links_by_user (user_id, google_sub) VALUES (?, ?)"
            ))
            .await?,
            unindex_google: prepare(format!(
                "DELETE FROM {ks}.google_links_by_user WHERE user_id = ? AND google_sub = ?"
            ))
            .await?,
            google_of_user: prepare(format!(
                "SELECT google_sub FROM {ks}.google_links_by_user WHERE user_id = ?"
            ))
            .await?,
            // IF NOT EXISTS: repeating keeps the first time.
            mark_deleted: prepare(format!(
                "INSERT INTO {ks}.deleted_users (user_id, deleted_at) VALUES (?, ?) IF NOT EXISTS"
            ))
            .await?,
            deleted_among: prepare(format!(
                "SELECT user_id FROM {ks}.deleted_users WHERE user_id IN ?"
            ))
            .await?,
            delete_credentials: prepare(format!(
                "DELETE FROM {ks}.credentials WHERE user_id = ?"
            ))
            .await?,
            delete_user: prepare(format!(
                "DELETE FROM {ks}.users WHERE user_id = ? IF EXISTS"
            ))
            .await?,
        })
    }
}

#[derive(DeserializeRow)]
struct UserRow {
    user_id: Uuid,
    email: Option<String>,
    display_name: Option<String>,
    picture: Option<String>,
    total_xp: Option<i64>,
    created_at: Option<DateTime<Utc>>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.user_id,
            email: r.email.unwrap_or_default(),
            display_name: r.display_name,
            picture: r.picture,
            total_xp: r.total_xp.unwrap_or(0),
            created_at: r.created_at.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        }
    }
}

impl ScyllaStore {
    async fn user_row(&self, id: Uuid) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = self.one_row(&self.users.user_by_id, (id,)).await?;
        // A row without its email (written only by the insert) is what a profile update
        // racing a deletion left: no account.
        Ok(row.filter(|r| r.email.is_some()).map(User::from))
    }

    /// Whether the user is marked deleted.
    pub(super) async fn is_deleted(&self, user_id: Uuid) -> StoreResult<bool> {
        Ok(!self.deleted_users(&[user_id]).await?.is_empty())
    }

    /// Writes the profile columns `update` changes; nothing when it changes none.
    async fn write_profile(&self, id: Uuid, update: &ProfileUpdate) -> StoreResult<()> {
        let st = &self.users;
        match (&update.display_name, &update.picture) {
            (Some(name), Some(picture)) => {
                self.run(&st.set_display_name_and_picture, (name, picture, id))
                    .await
            }
            (Some(name), None) => self.run(&st.set_display_name, (name, id)).await,
            (None, Some(picture)) => self.run(&st.set_picture, (picture, id)).await,
            (None, None) => Ok(()),
        }
    }
}

#[async_trait]
impl UserStore for ScyllaStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let user = User {
            id: new.id,
            email: email_key(&new.email),
            display_name: new.display_name,
            picture: new.picture,
            total_xp: 0,
            created_at: new.created_at,
        };
        let claimed = self
            .session
            .execute_unpaged(&self.users.claim_email, (&user.email, user.id))
            .await
            .map_err(unavailable)?;
        if !lwt_applied(claimed)? {
            return Err(StoreError::Conflict { what: "email" });
        }
        let insert = self
            .session
            .execute_unpaged(
                &self.users.insert_user,
                (
                    user.id,
                    &user.email,
                    &user.display_name,
                    &user.picture,
                    user.created_at,
                ),
            )
            .await;
        if let Err(e) = insert {
            // Give the email back so a retry can succeed; only if it is still ours.
            if let Err(release) = self
                .session
                .execute_unpaged(&self.users.release_email, (&user.email, user.id))
                .await
            {
                tracing::error!(user_id = %user.id, error = %release, "could not release email after failed user insert");
            }
            return Err(unavailable(e));
        }
        Ok(user)
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.user_row(id).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row: Option<(Option<Uuid>,)> = self
            .one_row(&self.users.email_owner, (email_key(email),))
            .await?;
        match row.and_then(|(id,)| id) {
            // A claimed email whose user row is missing (a create that failed half-way)
            // is no account.
            Some(id) => self.user_row(id).await,
            None => Ok(None),
        }
    }

    async fn update_profile(&self, id: Uuid, update: ProfileUpdate) -> StoreResult<Option<User>> {
        // Checked first so an update never creates a user row. A deletion between the
        // read and the write leaves a row without an email, which reads as no account
        // and which `delete_user` removes if called again.
        let Some(mut user) = self.user_row(id).await? else {
            return Ok(None);
        };
        self.write_profile(id, &update).await?;
        if let Some(name) = update.display_name {
            user.display_name = name;
        }
        if let Some(picture) = update.picture {
            user.picture = picture;
        }
        Ok(Some(user))
    }

    async fn set_password_hash(&self, user_id: Uuid, phc: &str) -> StoreResult<()> {
        self.run(&self.users.set_password_hash, (user_id, phc, Utc::now()))
            .await
    }

    async fn password_hash(&self, user_id: Uuid) -> StoreResult<Option<String>> {
        let row: Option<(Option<String>,)> =
            self.one_row(&self.users.password_hash, (user_id,)).await?;
        Ok(row.and_then(|(hash,)| hash))
    }

    async fn link_google(&self, google_sub: &str, user_id: Uuid) -> StoreResult<Uuid> {
        let result = self
            .session
            .execute_unpaged(&self.users.link_google, (google_sub, user_id, Utc::now()))
            .await
            .map_err(unavailable)?;
        let outcome = LwtOutcome::read(result)?;
        let owner = if outcome.applied {
            user_id
        } else if let Some(CqlValue::Uuid(owner)) = outcome.column("user_id") {
            // Both servers return the existing row with a failed IF NOT EXISTS.
            *owner
        } else {
            // Ask again (serially) only if it somehow is not there.
            let row: Option<(Option<Uuid>,)> = self
                .one_row(&self.users.google_owner_serial, (google_sub,))
                .await?;
            row.and_then(|(owner,)| owner).ok_or_else(|| {
                internal(format!("Google link {google_sub} neither taken nor free"))
            })?
        };
        let owner = if owner != user_id && self.is_deleted(owner).await? {
            self.take_over_google(google_sub, owner, user_id).await?
        } else {
            owner
        };
        if owner == user_id {
            // After the link, and again on a retry: the reverse index is never ahead.
            self.run(&self.users.index_google, (user_id, google_sub))
                .await?;
        }
        Ok(owner)
    }

    async fn google_links(&self, user_id: Uuid) -> StoreResult<Vec<String>> {
        let rows = self
            .all_rows::<(String,)>(&self.users.google_of_user, (user_id,))
            .await?;
        Ok(rows.into_iter().map(|(sub,)| sub).collect())
    }

    async fn mark_user_deleted(&self, user_id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        // Not applied: marked before, and the first time stays.
        self.session
            .execute_unpaged(&self.users.mark_deleted, (user_id, at))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn deleted_users(&self, user_ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        let mut unique = user_ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut found = Vec::new();
        for chunk in unique.chunks(MAX_IN) {
            let rows: Vec<(Uuid,)> = self.rows(&self.users.deleted_among, (chunk,)).await?;
            found.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(found)
    }

    async fn delete_user(&self, user_id: Uuid) -> StoreResult<bool> {
        for sub in self.google_links(user_id).await? {
            // Only a link this user still owns (one taken over stays with its owner).
            self.session
                .execute_unpaged(&self.users.unlink_google, (sub.as_str(), user_id))
                .await
                .map_err(unavailable)?;
            self.run(&self.users.unindex_google, (user_id, sub.as_str()))
                .await?;
        }
        self.run(&self.users.delete_credentials, (user_id,)).await?;
        let row: Option<UserRow> = self.one_row(&self.users.user_by_id, (user_id,)).await?;
        if let Some(email) = row.as_ref().and_then(|r| r.email.as_deref()) {
            // Only if still ours: IF user_id = ?.
            self.session
                .execute_unpaged(&self.users.release_email, (email, user_id))
                .await
                .map_err(unavailable)?;
        }
        let deleted = self
            .session
            .execute_unpaged(&self.users.delete_user, (user_id,))
            .await
            .map_err(unavailable)?;
        // A row without an email (debris, see `update_profile`) was no account.
        Ok(lwt_applied(deleted)? && row.is_some_and(|r| r.email.is_some()))
    }

    async fn user_by_google(&self, google_sub: &str) -> StoreResult<Option<User>> {
        let row: Option<(Option<Uuid>,)> = self
            .one_row(&self.users.google_owner, (google_sub,))
            .await?;
        match row.and_then(|(owner,)| owner) {
            Some(id) => self.user_row(id).await,
            None => Ok(None),
        }
    }
}

impl ScyllaStore {
    /// Gives a Google link held by a deleted account (`from`) to `to`; returns the owner
    /// afterwards (whoever won if another sign-in took it over first).
    async fn take_over_google(&self, sub: &str, from: Uuid, to: Uuid) -> StoreResult<Uuid> {
        let result = self
            .session
            .execute_unpaged(&self.users.take_over_google, (to, Utc::now(), sub, from))
            .await
            .map_err(unavailable)?;
        let outcome = LwtOutcome::read(result)?;
        if outcome.applied {
            self.run(&self.users.unindex_google, (from, sub)).await?;
            return Ok(to);
        }
        match outcome.column("user_id") {
            Some(CqlValue::Uuid(owner)) => Ok(*owner),
            _ => Err(internal(format!(
                "Google link {sub} changed while being taken over"
            ))),
        }
    }
}
