//! Users: the profile by id, the email and Google indexes (and the reverse of the
//! latter, a user's links), the password apart from the profile, and the marks of
//! deleted accounts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use uuid::Uuid;

use super::EmbeddedStore;
use super::tables::{
    CREDENTIALS, DELETED_USERS, GOOGLE_LINKS_BY_USER, USERS, USERS_BY_EMAIL, USERS_BY_GOOGLE,
};
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

/// Whether the user is marked deleted (in any transaction: `DELETED_USERS` is opened
/// by whoever asks).
pub(super) fn is_deleted(
    deleted: &impl ReadableTable<u128, i64>,
    user_id: u128,
) -> StoreResult<bool> {
    Ok(deleted.get(user_id).map_err(internal)?.is_some())
}

/// The Google `sub`s of the user's links, from the reverse index.
fn links_of(
    links: &impl ReadableTable<(u128, &'static str), ()>,
    user: u128,
) -> StoreResult<Vec<String>> {
    let mut subs = Vec::new();
    // Keys order by user first, and "" is the least `sub`.
    for item in links.range((user, "")..).map_err(internal)? {
        let (key, _) = item.map_err(internal)?;
        let (owner, sub) = key.value();
        if owner != user {
            break;
        }
        subs.push(sub.to_string());
    }
    Ok(subs)
}

/// Links `sub` to `user` in both directions.
fn put_link(tx: &WriteTransaction, sub: &str, user: u128) -> StoreResult<()> {
    tx.open_table(USERS_BY_GOOGLE)
        .map_err(internal)?
        .insert(sub, user)
        .map_err(internal)?;
    tx.open_table(GOOGLE_LINKS_BY_USER)
        .map_err(internal)?
        .insert((user, sub), ())
        .map_err(internal)?;
    Ok(())
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
            let owner = tx
                .open_table(USERS_BY_GOOGLE)
                .map_err(internal)?
                .get(sub.as_str())
                .map_err(internal)?
                .map(|owner| owner.value());
            if let Some(owner) = owner {
                let deleted = tx.open_table(DELETED_USERS).map_err(internal)?;
                if !is_deleted(&deleted, owner)? {
                    // The first link wins; nothing to write.
                    return Ok(Txn::Abort(Uuid::from_u128(owner)));
                }
                // Left behind by a deleted account: taken over.
                tx.open_table(GOOGLE_LINKS_BY_USER)
                    .map_err(internal)?
                    .remove((owner, sub.as_str()))
                    .map_err(internal)?;
            }
            put_link(tx, &sub, user_id.as_u128())?;
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

    async fn google_links(&self, user_id: Uuid) -> StoreResult<Vec<String>> {
        self.read(move |tx| {
            let links = tx.open_table(GOOGLE_LINKS_BY_USER).map_err(internal)?;
            links_of(&links, user_id.as_u128())
        })
        .await
    }

    async fn mark_user_deleted(&self, user_id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        self.write_or_abort(move |tx| {
            let mut deleted = tx.open_table(DELETED_USERS).map_err(internal)?;
            if is_deleted(&deleted, user_id.as_u128())? {
                return Ok(Txn::Abort(()));
            }
            deleted
                .insert(user_id.as_u128(), at.timestamp_millis())
                .map_err(internal)?;
            Ok(Txn::Commit(()))
        })
        .await
    }

    async fn deleted_users(&self, user_ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        let ids = user_ids.to_vec();
        self.scan(move |tx| {
            let deleted = tx.open_table(DELETED_USERS).map_err(internal)?;
            let mut found = Vec::new();
            for id in ids {
                if is_deleted(&deleted, id.as_u128())? && !found.contains(&id) {
                    found.push(id);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn delete_user(&self, user_id: Uuid) -> StoreResult<bool> {
        let user = user_id.as_u128();
        // One write transaction: the account goes at once, or not at all.
        self.write(move |tx| {
            let mut links = tx.open_table(GOOGLE_LINKS_BY_USER).map_err(internal)?;
            let subs = links_of(&links, user)?;
            let mut by_google = tx.open_table(USERS_BY_GOOGLE).map_err(internal)?;
            for sub in &subs {
                links.remove((user, sub.as_str())).map_err(internal)?;
                let owner = by_google
                    .get(sub.as_str())
                    .map_err(internal)?
                    .map(|o| o.value());
                if owner == Some(user) {
                    by_google.remove(sub.as_str()).map_err(internal)?;
                }
            }
            tx.open_table(CREDENTIALS)
                .map_err(internal)?
                .remove(user)
                .map_err(internal)?;
            let mut users = tx.open_table(USERS).map_err(internal)?;
            let profile: Option<User> = super::txn::get_json(&users, user, "user")?;
            let Some(profile) = profile else {
                return Ok(false);
            };
            let mut by_email = tx.open_table(USERS_BY_EMAIL).map_err(internal)?;
            let owner = by_email
                .get(profile.email.as_str())
                .map_err(internal)?
                .map(|o| o.value());
            if owner == Some(user) {
                by_email.remove(profile.email.as_str()).map_err(internal)?;
            }
            users.remove(user).map_err(internal)?;
            Ok(true)
        })
        .await
    }
}
