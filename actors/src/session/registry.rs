//! The registry: user id -> that user's session actor on this instance. Sessions start
//! on a small pool of arbiters (threads), so thousands of them spread over the cores.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use uuid::Uuid;

use super::Deps;
use super::actor::SessionActor;

/// Returns the user's session, starting one if needed.
#[derive(Message)]
#[rtype(result = "Addr<SessionActor>")]
pub struct GetOrStart {
    pub user_id: Uuid,
}

/// A session stopped (its grace period ended).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionStopped {
    pub user_id: Uuid,
    pub addr: Addr<SessionActor>,
}

/// Number of live sessions (for metrics and tests).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct SessionCount;

pub struct Registry {
    deps: Arc<Deps>,
    sessions: HashMap<Uuid, Addr<SessionActor>>,
    arbiters: Vec<Arbiter>,
    next: usize,
}

impl Registry {
    pub fn new(deps: Arc<Deps>, arbiters: usize) -> Self {
        Registry {
            deps,
            sessions: HashMap::new(),
            arbiters: (0..arbiters.max(1)).map(|_| Arbiter::new()).collect(),
            next: 0,
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }
}

impl Handler<GetOrStart> for Registry {
    type Result = MessageResult<GetOrStart>;

    fn handle(&mut self, msg: GetOrStart, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(addr) = self.sessions.get(&msg.user_id)
            && addr.connected()
        {
            return MessageResult(addr.clone());
        }
        let arbiter = &self.arbiters[self.next % self.arbiters.len()];
        self.next = self.next.wrapping_add(1);
        let deps = self.deps.clone();
        let registry = ctx.address();
        let user_id = msg.user_id;
        let addr = SessionActor::start_in_arbiter(&arbiter.handle(), move |_| {
            SessionActor::new(user_id, deps, registry)
        });
        self.sessions.insert(msg.user_id, addr.clone());
        self.deps.metrics.set_sessions(self.sessions.len());
        MessageResult(addr)
    }
}

impl Handler<SessionStopped> for Registry {
    type Result = ();

    fn handle(&mut self, msg: SessionStopped, _: &mut Context<Self>) {
        if self
            .sessions
            .get(&msg.user_id)
            .is_some_and(|a| *a == msg.addr)
        {
            self.sessions.remove(&msg.user_id);
            self.deps.metrics.set_sessions(self.sessions.len());
        }
    }
}

impl Handler<SessionCount> for Registry {
    type Result = usize;

    fn handle(&mut self, _: SessionCount, _: &mut Context<Self>) -> usize {
        self.sessions.values().filter(|a| a.connected()).count()
    }
}
