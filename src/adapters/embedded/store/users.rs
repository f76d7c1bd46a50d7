//! Users: the profile by id, the email and Google indexes, and the password apart from
//! the profile.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable};
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{CREDENTIALS, USERS, USERS_BY_EMAIL, USERS_BY_GOOGLE};
use super::txn::{Txn, decode, encode, internal, read_json};
use questpath_actors::ports::store::{
    NewUser, ProfileUpdate, StoreError, StoreResult, User, UserStore, email_key,
};

/// A user's password, kept apart from the profile so reading a user never loads it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Credentials {
    password_hash: String,
    updated_at: DateTime<Utc>,
}

fn read_user(tx: &ReadTransaction, id: u128) -> StoreResult<Option<User>> {
    let users = tx.open_table(USERS).map_err(internal)?;
    match users.get(id).map_err(internal)? {
        Some(bytes) => decode(bytes.value(), "user").map(Some),
        None => Ok(None),
    }
}

#[async_trait]
impl UserStore for EmbeddedStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let user = User {
            id: new.id,
            email: email_key(&new.email),
            display_name: new.display_name,
            picture: new.picture,
            total_xp: 0,
            created_at: new.created_at,
        };
        let bytes = encode(&user)?;
        self.write(move |tx| {
            let mut by_email = tx.open_table(USERS_BY_EMAIL).map_err(internal)?;
            if by_email
                .get(user.email.as_str())
                .map_err(internal)?
                .is_some()
            {
                return Err(StoreError::Conflict { what: "email" });
            }
            let mut users = tx.open_table(USERS).map_err(internal)?;
            if users.get(user.id.as_u128()).map_err(internal)?.is_some() {
                return Err(StoreError::Conflict { what: "user id" });
            }
            by_email
                .insert(user.email.as_str(), user.id.as_u128())
                .map_err(internal)?;
            users
                .insert(user.id.as_u128(), bytes.as_slice())
                .map_err(internal)?;
            Ok(user)
        })
        .await
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.read(move |tx| read_user(tx, id.as_u128())).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let key = email_key(email);
        // One read transaction: a consistent snapshot of both tables.
        self.read(move |tx| {
            let by_email = tx.open_table(USERS_BY_EMAIL).map_err(internal)?;
            let id = match by_email.get(key.as_str()).map_err(internal)? {
                Some(id) => id.value(),
                None => return Ok(None),
            };
            read_user(tx, id)
        })
        .await
    }

    async fn update_profile(&self, id: Uuid, update: ProfileUpdate) -> StoreResult<Option<User>> {
        self.update(USERS, id.as_u128(), "user", |user: &mut User| {
            if let Some(display_name) = update.display_name {
                user.display_name = display_name;
            }
            if let Some(picture) = update.picture {
                user.picture = picture;
            }
        })
        .await
    }

    async fn set_password_hash(&self, user_id: Uuid, phc: &str) -> StoreResult<()> {
        let credentials = Credentials {
            password_hash: phc.to_string(),
            updated_at: Utc::now(),
        };
        let bytes = encode(&credentials)?;
        self.write(move |tx| {
            tx.open_table(CREDENTIALS)
                .map_err(internal)?
                .insert(user_id.as_u128(), bytes.as_slice())
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn password_hash(&self, user_id: Uuid) -> StoreResult<Option<String>> {
        self.read(move |tx| {
            let credentials: Option<Credentials> =
                read_json(tx, CREDENTIALS, user_id.as_u128(), "credentials")?;
            Ok(credentials.map(|c| c.password_hash))
        })
        .await
    }

    async fn link_google(&self, google_sub: &str, user_id: Uuid) -> StoreResult<Uuid> {
        let sub = google_sub.to_string();
        self.write_or_abort(move |tx| {
            let mut links = tx.open_table(USERS_BY_GOOGLE).map_err(internal)?;
            if let Some(owner) = links.get(sub.as_str()).map_err(internal)? {
                // The first link wins; nothing to write.
                return Ok(Txn::Abort(Uuid::from_u128(owner.value())));
            }
            links
                .insert(sub.as_str(), user_id.as_u128())
                .map_err(internal)?;
            Ok(Txn::Commit(user_id))
        })
        .await
    }

    async fn user_by_google(&self, google_sub: &str) -> StoreResult<Option<User>> {
        let sub = google_sub.to_string();
        self.read(move |tx| {
            let links = tx.open_table(USERS_BY_GOOGLE).map_err(internal)?;
            let id = match links.get(sub.as_str()).map_err(internal)? {
                Some(id) => id.value(),
                None => return Ok(None),
            };
            read_user(tx, id)
        })
        .await
    }
}
