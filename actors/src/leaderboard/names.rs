//! What other learners see of a learner on a board: the display name, or a masked
//! address when there is none. Never the email itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, stream};
use uuid::Uuid;

use crate::ports::{Store, StoreError, User};

/// How long a resolved name is reused: a renamed learner shows the new name on boards
/// within this time. Pages of a hundred learners would otherwise cost a hundred store
/// reads each.
pub const NAME_TTL: Duration = Duration::from_secs(60);

/// Names kept at most.
const NAME_CAPACITY: u64 = 100_000;

/// Store reads in flight while resolving names.
const CONCURRENT_READS: usize = 16;

/// Shown for a user the store no longer has.
const UNKNOWN: &str = "Learner";

/// `a***@e***.org`: the first character of the local part and of the domain, and the
/// top-level domain. Enough to tell one's own entry apart, too little to write to.
pub fn mask_email(email: &str) -> String {
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    match email.split_once('@') {
        Some((local, domain)) => {
            let tld = domain
                .rsplit_once('.')
                .map(|(_, tld)| format!(".{tld}"))
                .unwrap_or_default();
            format!("{}***@{}***{tld}", first(local), first(domain))
        }
        None => format!("{}***", first(email)),
    }
}

/// The name a board shows for `user`.
pub fn shown_name(user: &User) -> String {
    match user.display_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => mask_email(&user.email),
    }
}

/// Resolves user ids to shown names, through a short-lived cache.
#[derive(Clone)]
pub struct Names {
    store: Arc<dyn Store>,
    cache: moka::future::Cache<Uuid, Arc<str>>,
}

impl Names {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Names {
            store,
            cache: moka::future::Cache::builder()
                .max_capacity(NAME_CAPACITY)
                .time_to_live(NAME_TTL)
                .build(),
        }
    }

    /// Remembers a name just read (the viewer's own, from their request).
    pub async fn remember(&self, user: &User) {
        self.cache.insert(user.id, shown_name(user).into()).await;
    }

    /// The shown name of every user in `ids`.
    pub async fn resolve(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<HashMap<Uuid, Arc<str>>, StoreError> {
        let mut names = HashMap::new();
        let mut missing = Vec::new();
        for id in ids {
            if names.contains_key(&id) || missing.contains(&id) {
                continue;
            }
            match self.cache.get(&id).await {
                Some(name) => {
                    names.insert(id, name);
                }
                None => missing.push(id),
            }
        }
        let read: Vec<Result<(Uuid, Arc<str>), StoreError>> = stream::iter(missing)
            .map(|id| async move {
                let name: Arc<str> = match self.store.user_by_id(id).await? {
                    Some(user) => shown_name(&user).into(),
                    None => UNKNOWN.into(),
                };
                Ok((id, name))
            })
            .buffer_unordered(CONCURRENT_READS)
            .collect()
            .await;
        for result in read {
            let (id, name) = result?;
            self.cache.insert(id, name.clone()).await;
            names.insert(id, name);
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask_email("ada.lovelace@example.org"), "a***@e***.org");
        assert_eq!(mask_email("x@localhost"), "x***@l***");
        assert_eq!(mask_email("noat"), "n***");
        assert_eq!(mask_email(""), "***");
        assert!(!mask_email("ada.lovelace@example.org").contains("lovelace"));
    }
}
