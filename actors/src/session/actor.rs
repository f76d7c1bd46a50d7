//! `SessionActor`: one per signed-in user per instance. It owns that user's
//! connections (a phone and a browser at once), the quiz in progress and its timer, and
//! the subscription to the user's bus topic (job progress, XP from other instances).
//! It outlives its last connection for a grace period, so a reconnect resumes. The
//! quiz runs here only while this session holds its lease (see the private `owner` module).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use chrono::Utc;
use uuid::Uuid;

use super::owner::{QuizTraffic, Role, Write, run_writes};
use super::registry::{Registry, SessionStopped};
use super::{Command, Deps};
use crate::events::{Notice, codes};
use crate::outbound::{Closing, Outbound};
use crate::ports::bus::{UserEvent, user_topic};
use crate::session::quiz::QuizRun;

/// A connection joined the session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub connection_id: Uuid,
    pub outbound: Outbound,
}

/// A connection left.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub connection_id: Uuid,
}

/// A command from one of the user's connections.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Request {
    pub connection_id: Uuid,
    /// The request's correlation id, echoed in the answer.
    pub re: Option<String>,
    pub command: Command,
    /// The frame type it came in (the metrics' label).
    pub kind: &'static str,
    /// When the connection read it: handling latency counts the mailbox wait too.
    pub received_at: std::time::Instant,
}

/// Longest a new session waits for its bus subscription before it serves anyway.
const SUBSCRIBE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// An event published on the user's bus topic (from any instance).
#[derive(Message)]
#[rtype(result = "()")]
struct BusEvent(Vec<u8>);

pub struct SessionActor {
    pub(super) user_id: Uuid,
    pub(super) deps: Arc<Deps>,
    pub(super) registry: Addr<Registry>,
    pub(super) connections: HashMap<Uuid, Outbound>,
    pub(super) quiz: Option<QuizRun>,
    pub(super) quiz_timer: Option<SpawnHandle>,
    pub(super) grace_timer: Option<SpawnHandle>,
    pub(super) bus_task: Option<tokio::task::JoinHandle<()>>,
    /// This session's owner token in the quiz's lease.
    pub(super) token: Uuid,
    /// Its part in the learner's quiz, and the number of role changes (a reply to an
    /// older role's request is ignored).
    pub(super) role: Role,
    pub(super) epoch: u64,
    /// Idle, with a connection all along since a look found no quiz anywhere: every
    /// quiz frame since then has reached this session, so a new connection need not
    /// look again (two cache reads a connection, in a reconnect storm).
    pub(super) known_idle: bool,
    /// Renews the lease (owner) or watches it (follower).
    pub(super) lease_timer: Option<SpawnHandle>,
    /// The ordered queue of saves, releases and publications, and its receiving end
    /// until the writer task takes it.
    pub(super) writes: tokio::sync::mpsc::UnboundedSender<Write>,
    /// The learner's sessions on other instances (their tokens) that said they listen:
    /// quiz frames go on the bus only while there is one. A session that died without
    /// saying goodbye stays here, and frames are published for nobody: harmless.
    pub(super) peers: HashSet<Uuid>,
    pending_writes: Option<tokio::sync::mpsc::UnboundedReceiver<Write>>,
}

impl SessionActor {
    pub fn new(user_id: Uuid, deps: Arc<Deps>, registry: Addr<Registry>) -> Self {
        let (writes, pending_writes) = tokio::sync::mpsc::unbounded_channel();
        SessionActor {
            user_id,
            deps,
            registry,
            connections: HashMap::new(),
            quiz: None,
            quiz_timer: None,
            grace_timer: None,
            bus_task: None,
            token: Uuid::new_v4(),
            role: Role::Idle,
            epoch: 0,
            known_idle: false,
            lease_timer: None,
            writes,
            peers: HashSet::new(),
            pending_writes: Some(pending_writes),
        }
    }

    /// Sends to every connection; a connection whose queue is full is closed as a slow
    /// consumer instead of letting its backlog grow.
    pub(super) fn broadcast(&mut self, message: Notice) {
        let ids: Vec<Uuid> = self.connections.keys().copied().collect();
        for id in ids {
            self.send_to(id, message.clone());
        }
    }

    /// Sends to one connection: here, or (the quiz's owner answering a forwarded
    /// command) on another instance.
    pub(super) fn send_to(&mut self, connection_id: Uuid, message: Notice) {
        let Some(outbound) = self.connections.get(&connection_id) else {
            if self.role == Role::Owner {
                self.reply_remote(connection_id, message);
            }
            return;
        };
        if !outbound.deliver(message) {
            if outbound.kill.is_cancelled() {
                tracing::warn!(user_id = %self.user_id, %connection_id, "slow consumer: closing connection");
            }
            self.connections.remove(&connection_id);
        }
    }

    pub(super) fn error(
        &mut self,
        connection_id: Uuid,
        re: Option<String>,
        code: &str,
        message: impl Into<String>,
    ) {
        self.send_to(connection_id, Notice::refused(re, code, message));
    }

    pub(super) fn handle_command(
        &mut self,
        connection_id: Uuid,
        re: Option<String>,
        command: Command,
        received_at: std::time::Instant,
        ctx: &mut Context<Self>,
    ) {
        // Another session runs the quiz: it decides.
        if self.role == Role::Follower
            && matches!(
                command,
                Command::StartQuiz { .. }
                    | Command::Answer { .. }
                    | Command::Abandon
                    | Command::State
            )
        {
            return self.forward(connection_id, re, command);
        }
        match command {
            Command::Ping => self.send_to(connection_id, Notice::Done { re }),
            Command::State => self.show_question(connection_id, re),
            Command::StartQuiz { level_id } if self.role == Role::Idle => {
                self.claim_and_start(connection_id, re, level_id, ctx)
            }
            Command::StartQuiz { level_id } => self.start_quiz(connection_id, re, level_id, ctx),
            Command::Answer { position, option } => {
                self.answer(connection_id, re, position, &option, received_at, ctx)
            }
            Command::Abandon => self.abandon(connection_id, re, ctx),
            Command::FollowBoard { board } => self.follow_board(connection_id, re, &board),
            Command::UnfollowBoard { board } => {
                self.deps
                    .xp
                    .leaderboards()
                    .unsubscribe(&board, connection_id);
                self.send_to(connection_id, Notice::Done { re });
            }
        }
    }

    /// The leaderboard actor writes `board`'s top straight into this connection's
    /// queue, and forgets it once the connection is gone.
    fn follow_board(&mut self, connection_id: Uuid, re: Option<String>, board: &str) {
        let Some(outbound) = self.connections.get(&connection_id) else {
            return;
        };
        let subscribed = self.deps.xp.leaderboards().subscribe(
            board,
            connection_id,
            outbound.sender.clone(),
            re.clone(),
        );
        if let Err(e) = subscribed {
            let code = match e {
                crate::leaderboard::LeaderboardError::UnknownBoard(_) => codes::NOT_FOUND,
                _ => codes::UNAVAILABLE,
            };
            self.error(connection_id, re, code, e.to_string());
        }
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Events for this user from any instance.
        let bus = self.deps.bus.clone();
        let topic = user_topic(self.user_id);
        let addr = ctx.address();
        if let Some(writes) = self.pending_writes.take() {
            tokio::spawn(run_writes(
                self.deps.clone(),
                self.user_id,
                self.token,
                writes,
            ));
        }
        // The session handles nothing before its subscription is live (or 2 s went by):
        // an owner's answer to the `session.state` it forwards for a new connection must
        // not be published before anyone here listens.
        let (ready, subscribed) = tokio::sync::oneshot::channel::<()>();
        let own_frames = QuizTraffic::own_frame_prefix(self.token);
        self.bus_task = Some(tokio::spawn(async move {
            match bus.subscribe(&topic).await {
                Ok(mut subscription) => {
                    let _ = ready.send(());
                    while let Some(payload) = subscription.recv().await {
                        if payload.starts_with(&own_frames) {
                            continue;
                        }
                        // Waits for room in the mailbox rather than dropping a quiz frame.
                        if addr.send(BusEvent(payload)).await.is_err() {
                            break;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not subscribe to user events"),
            }
        }));
        ctx.wait(
            async move {
                let _ = tokio::time::timeout(SUBSCRIBE_WAIT, subscribed).await;
            }
            .into_actor(self)
            .map(|(), act, _| act.say_hello()),
        );
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        if self.connections.is_empty() {
            Running::Stop
        } else {
            Running::Continue
        }
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        if let Some(task) = self.bus_task.take() {
            task.abort();
        }
        // Queued after every save and release of this session; the writer finishes the
        // queue after the session is gone.
        self.say_goodbye();
        self.registry.do_send(SessionStopped {
            user_id: self.user_id,
            addr: ctx.address(),
        });
    }
}

impl Handler<Connect> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: Connect, ctx: &mut Context<Self>) {
        if let Some(timer) = self.grace_timer.take() {
            ctx.cancel_future(timer);
        }
        self.connections.insert(msg.connection_id, msg.outbound);
        // A quiz in flight resumes on the new connection with the time actually left:
        // from memory while this session runs it, from its owner when another session
        // (on any instance) runs it, else from the saved copy, taking its lease.
        match self.role {
            Role::Owner => {
                if let Some(question) = self
                    .quiz
                    .as_ref()
                    .and_then(|q| q.question_message(None, Utc::now()))
                {
                    self.send_to(msg.connection_id, Notice::QuestionOpened(question));
                }
            }
            Role::Follower => self.forward(msg.connection_id, None, Command::State),
            Role::Idle if self.known_idle => {}
            Role::Idle => self.take_over(true, Some(msg.connection_id), ctx),
        }
    }
}

impl Handler<Disconnect> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, ctx: &mut Context<Self>) {
        self.connections.remove(&msg.connection_id);
        // Nobody is connected here: the saved copy becomes the only one and the lease is
        // given back, so a device on another instance takes the quiz over at once, a
        // reconnect anywhere resumes it, and no timer runs it twice.
        if self.connections.is_empty() {
            // Without connections an idle session does not follow a quiz that starts.
            self.known_idle = false;
            match self.role {
                Role::Owner => self.end_ownership(true, ctx),
                Role::Follower => self.set_role(Role::Idle, ctx),
                Role::Idle => {}
            }
        }
        if self.connections.is_empty() && self.grace_timer.is_none() {
            let grace = self.deps.settings.grace;
            self.grace_timer = Some(ctx.run_later(grace, |act, ctx| {
                act.grace_timer = None;
                if act.connections.is_empty() {
                    ctx.stop();
                }
            }));
        }
    }
}

impl Handler<Request> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: Request, ctx: &mut Context<Self>) {
        let kind = msg.kind;
        self.handle_command(msg.connection_id, msg.re, msg.command, msg.received_at, ctx);
        // Work a handler leaves to a future (store reads of quiz.start) is not included.
        self.deps
            .metrics
            .ws_handled(kind, msg.received_at.elapsed());
    }
}

impl Handler<BusEvent> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: BusEvent, ctx: &mut Context<Self>) {
        if let Some(traffic) = QuizTraffic::decode(&msg.0) {
            return self.on_traffic(traffic, ctx);
        }
        // An event this version does not know (published by a newer instance) is skipped.
        match UserEvent::decode(&msg.0) {
            Some(UserEvent::AccountDeleted) => {
                tracing::info!(user_id = %self.user_id, connections = self.connections.len(), "account deleted: closing its connections");
                // Each connection's end sends `Disconnect`, which stops the session.
                for outbound in self.connections.values() {
                    outbound.close(Closing::AccountDeleted);
                }
            }
            Some(event) => {
                if let Some(notice) = event.into_notice() {
                    self.broadcast(notice);
                }
            }
            None => {}
        }
    }
}
