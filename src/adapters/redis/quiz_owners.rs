//! Quiz owners on Redis: `{p}{quiz:<user>}:owner` holds the lease (the owner token,
//! `PX` expiry) and `{p}{quiz:<user>}:state` the saved copy. Both share one hash tag,
//! so the fenced save (an owner check and a write in one script) stays on one slot of a
//! Redis Cluster.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::scripts::Script;
use uuid::Uuid;

use super::{BACKEND, Shared, bad_reply, port_err};
use crate::adapters::embedded::cache::MAX_TTL;
use questpath_actors::ports::{PortResult, QuizOwners};

/// Takes the lease when it is free or already the caller's, and (re)sets its expiry.
const HOLD_LUA: &str = r#"
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// Deletes the lease only when the caller holds it.
const RELEASE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 1
"#;

/// Writes (ARGV[3] given) or deletes the saved copy only while the caller holds the lease.
const SAVE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if #ARGV >= 3 then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[2])
end
return 1
"#;

static HOLD: LazyLock<Script> = LazyLock::new(|| Script::from_lua(HOLD_LUA));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::from_lua(RELEASE_LUA));
static SAVE: LazyLock<Script> = LazyLock::new(|| Script::from_lua(SAVE_LUA));

/// Quiz leases and saved copies shared by every instance.
#[derive(Clone)]
pub struct RedisQuizOwners {
    shared: Arc<Shared>,
}

impl RedisQuizOwners {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        RedisQuizOwners { shared }
    }

    fn owner_key(&self, user: Uuid) -> String {
        format!("{}{{quiz:{user}}}:owner", self.shared.prefix)
    }

    fn state_key(&self, user: Uuid) -> String {
        format!("{}{{quiz:{user}}}:state", self.shared.prefix)
    }
}

/// `PX` milliseconds, clamped like the cache's.
fn millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.min(MAX_TTL).as_millis().max(1)).unwrap_or(i64::MAX)
}

fn flag(operation: &'static str, reply: Value) -> PortResult<bool> {
    reply
        .as_i64()
        .map(|n| n == 1)
        .ok_or_else(|| bad_reply(operation, format!("{reply:?}")))
}

#[async_trait]
impl QuizOwners for RedisQuizOwners {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn hold(&self, user: Uuid, owner: Uuid, ttl: Duration) -> PortResult<bool> {
        let reply = self
            .shared
            .eval(
                "quiz_hold",
                &HOLD,
                vec![self.owner_key(user)],
                vec![owner.to_string().into(), millis(ttl).into()],
            )
            .await?;
        flag("quiz_hold", reply)
    }

    async fn release(&self, user: Uuid, owner: Uuid) -> PortResult<()> {
        self.shared
            .eval(
                "quiz_release",
                &RELEASE,
                vec![self.owner_key(user)],
                vec![owner.to_string().into()],
            )
            .await?;
        Ok(())
    }

    async fn owner(&self, user: Uuid) -> PortResult<Option<Uuid>> {
        let held: Option<String> = self
            .shared
            .pool
            .get(self.owner_key(user))
            .await
            .map_err(port_err("quiz_owner"))?;
        held.map(|text| Uuid::parse_str(&text).map_err(|_| bad_reply("quiz_owner", text)))
            .transpose()
    }

    async fn save(
        &self,
        user: Uuid,
        owner: Uuid,
        state: Option<&[u8]>,
        ttl: Duration,
    ) -> PortResult<bool> {
        let mut args: Vec<Value> = vec![owner.to_string().into(), millis(ttl).into()];
        if let Some(bytes) = state {
            args.push(Value::Bytes(bytes.to_vec().into()));
        }
        let reply = self
            .shared
            .eval(
                "quiz_save",
                &SAVE,
                vec![self.owner_key(user), self.state_key(user)],
                args,
            )
            .await?;
        flag("quiz_save", reply)
    }

    async fn load(&self, user: Uuid) -> PortResult<Option<Vec<u8>>> {
        self.shared
            .pool
            .get::<Option<Vec<u8>>, _>(self.state_key(user))
            .await
            .map_err(port_err("quiz_load"))
    }
}
