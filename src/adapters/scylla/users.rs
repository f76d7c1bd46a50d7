//! Users on CQL: the profile row, the email claim that keeps emails unique, the
//! password (apart from the profile) and Google links (see docs/data-model.md).

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
}

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
        Ok(row.map(User::from))
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
        // Checked first so an update never creates a user row; users are never
        // deleted, so the row cannot vanish between the read and the write.
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
        if outcome.applied {
            return Ok(user_id);
        }
        // Both servers return the existing row with a failed IF NOT EXISTS; ask again
        // (serially) only if it somehow is not there.
        if let Some(CqlValue::Uuid(owner)) = outcome.column("user_id") {
            return Ok(*owner);
        }
        let row: Option<(Option<Uuid>,)> = self
            .one_row(&self.users.google_owner_serial, (google_sub,))
            .await?;
        row.and_then(|(owner,)| owner)
            .ok_or_else(|| internal(format!("Google link {google_sub} neither taken nor free")))
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
