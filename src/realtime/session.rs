//! `SessionActor`: one per signed-in user per instance. It owns that user's
//! connections (a phone and a browser at once), the quiz in progress and its timer, and
//! the subscription to the user's bus topic (job progress, XP from other instances).
//! It outlives its last connection for a grace period, so a reconnect resumes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use questpath_actors::rules::quiz::{passed, score_percent};
use questpath_actors::rules::xp::{level_pass_grant, player_level};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Deps;
use super::outgoing::Outgoing;
use super::protocol::{ClientFrame, ClientMessage, ServerMessage, close, codes};
use super::quiz::QuizRun;
use super::registry::{Registry, SessionStopped};
use crate::goals::service::GoalError;
use crate::metrics::quiz_result;
use crate::ports::LevelStatus;

/// A connection's handle: its bounded outgoing queue and a way to close it.
#[derive(Clone)]
pub struct Outbound {
    pub sender: mpsc::Sender<Outgoing>,
    /// Cancelled to close the connection; the code says why.
    pub kill: CancellationToken,
    pub close_code: Arc<std::sync::atomic::AtomicU16>,
}

impl Outbound {
    /// Queues `message` without waiting. A full queue closes the connection as a slow
    /// consumer instead of letting its backlog grow; false when the connection is gone
    /// (or was just closed for that).
    pub fn deliver(&self, message: impl Into<Outgoing>) -> bool {
        match self.sender.try_send(message.into()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close_code
                    .store(close::SLOW_CONSUMER, std::sync::atomic::Ordering::SeqCst);
                self.kill.cancel();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

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

/// A frame from one of the user's connections.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Request {
    pub connection_id: Uuid,
    pub frame: ClientFrame,
    /// When the connection read it: handling latency counts the mailbox wait too.
    pub received_at: std::time::Instant,
}

/// An event published on the user's bus topic (from any instance).
#[derive(Message)]
#[rtype(result = "()")]
struct BusEvent(Vec<u8>);

/// Cache key of a user's quiz in progress.
pub fn quiz_key(user_id: Uuid) -> String {
    format!("quiz:{user_id}")
}

pub struct SessionActor {
    user_id: Uuid,
    deps: Arc<Deps>,
    registry: Addr<Registry>,
    connections: HashMap<Uuid, Outbound>,
    quiz: Option<QuizRun>,
    quiz_timer: Option<SpawnHandle>,
    grace_timer: Option<SpawnHandle>,
    bus_task: Option<tokio::task::JoinHandle<()>>,
}

impl SessionActor {
    pub fn new(user_id: Uuid, deps: Arc<Deps>, registry: Addr<Registry>) -> Self {
        SessionActor {
            user_id,
            deps,
            registry,
            connections: HashMap::new(),
            quiz: None,
            quiz_timer: None,
            grace_timer: None,
            bus_task: None,
        }
    }

    /// Sends to every connection; a connection whose queue is full is closed as a slow
    /// consumer instead of letting its backlog grow.
    fn broadcast(&mut self, message: ServerMessage) {
        let ids: Vec<Uuid> = self.connections.keys().copied().collect();
        for id in ids {
            self.send_to(id, message.clone());
        }
    }

    fn send_to(&mut self, connection_id: Uuid, message: ServerMessage) {
        let Some(outbound) = self.connections.get(&connection_id) else {
            return;
        };
        if !outbound.deliver(message) {
            if outbound.kill.is_cancelled() {
                tracing::warn!(user_id = %self.user_id, %connection_id, "slow consumer: closing connection");
            }
            self.connections.remove(&connection_id);
        }
    }

    fn error(
        &mut self,
        connection_id: Uuid,
        re: Option<String>,
        code: &str,
        message: impl Into<String>,
    ) {
        self.send_to(
            connection_id,
            ServerMessage::Error {
                re,
                code: code.into(),
                message: message.into(),
            },
        );
    }

    /// Saves the quiz so another instance can resume it (or forgets it when over).
    fn persist_quiz(&self, ctx: &mut Context<Self>) {
        let cache = self.deps.cache.clone();
        let key = quiz_key(self.user_id);
        let snapshot = self.quiz.clone().filter(|q| !q.finished());
        ctx.spawn(
            async move {
                let result = match snapshot {
                    Some(quiz) => match serde_json::to_vec(&quiz) {
                        Ok(bytes) => {
                            let ttl =
                                Duration::from_millis(quiz.time_limit_ms) * (quiz.total() + 1);
                            cache.set(&key, &bytes, ttl).await
                        }
                        Err(_) => Ok(()),
                    },
                    None => cache.delete(&key).await,
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not save quiz state");
                }
            }
            .into_actor(self),
        );
    }

    /// Arms the timer of the open question.
    fn arm_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.quiz_timer.take() {
            ctx.cancel_future(timer);
        }
        let Some(quiz) = &self.quiz else { return };
        if quiz.finished() {
            return;
        }
        let position = quiz.position;
        let wait = quiz.until_closed(Utc::now());
        self.quiz_timer = Some(ctx.run_later(wait, move |act, ctx| act.time_out(position, ctx)));
    }

    fn time_out(&mut self, position: usize, ctx: &mut Context<Self>) {
        let Some(quiz) = self.quiz.as_mut() else {
            return;
        };
        if let Some(feedback) = quiz.time_out(position, Utc::now()) {
            self.deps.metrics.quiz_question_timed_out();
            self.broadcast(feedback);
            self.after_step(None, ctx);
        }
    }

    /// After an answer or a timeout: the next question, or the result.
    fn after_step(&mut self, re: Option<String>, ctx: &mut Context<Self>) {
        let Some(quiz) = &self.quiz else { return };
        if quiz.finished() {
            if let Some(timer) = self.quiz_timer.take() {
                ctx.cancel_future(timer);
            }
            self.finish(ctx);
        } else {
            if let Some(next) = quiz.question_message(re, Utc::now()) {
                self.broadcast(next);
            }
            self.arm_timer(ctx);
        }
        self.persist_quiz(ctx);
    }

    /// Grades the quiz; on a pass completes the level and grants XP through the ledger.
    /// The mailbox waits meanwhile, so nothing interleaves with the grant.
    fn finish(&mut self, ctx: &mut Context<Self>) {
        let Some(quiz) = self.quiz.take() else { return };
        let deps = self.deps.clone();
        let user_id = self.user_id;
        let total = quiz.total();
        let score = score_percent(quiz.correct as usize, total as usize);
        let pass = passed(score);
        self.deps.metrics.quiz_finished(if pass {
            quiz_result::PASSED
        } else {
            quiz_result::FAILED
        });
        let fut = async move {
            let mut earned = 0;
            let mut next_unlocked = false;
            let mut level_up = false;
            let mut total_xp = deps
                .store
                .user_by_id(user_id)
                .await
                .ok()
                .flatten()
                .map(|u| u.total_xp)
                .unwrap_or(0);
            if pass {
                let level = deps
                    .store
                    .level(quiz.level.id)
                    .await?
                    .unwrap_or(quiz.level.clone());
                let first_pass = level.status != LevelStatus::Completed;
                next_unlocked = deps
                    .goals
                    .complete_level(&level)
                    .await
                    .map_err(goal_error)?;
                let grant = level_pass_grant(
                    &level.id.to_string(),
                    level.xp_reward,
                    first_pass,
                    Utc::now().date_naive(),
                );
                let outcome = deps.xp.grant(user_id, &grant).await?;
                earned = outcome.earned;
                total_xp = outcome.total_xp;
                level_up = outcome.level_up();
            }
            Ok::<_, crate::ports::StoreError>(ServerMessage::QuizResult {
                quiz_id: quiz.quiz_id,
                level_id: quiz.level.id,
                correct: quiz.correct,
                total,
                score,
                passed: pass,
                xp_earned: earned,
                total_xp,
                player_level: player_level(total_xp),
                level_up,
                next_level_unlocked: next_unlocked,
            })
        };
        ctx.wait(fut.into_actor(self).map(|result, act, _ctx| match result {
            Ok(message) => act.broadcast(message),
            Err(e) => {
                tracing::error!(error = %e, "quiz result could not be recorded");
                act.broadcast(ServerMessage::Error {
                    re: None,
                    code: codes::UNAVAILABLE.into(),
                    message: "your result could not be saved; please retry the quiz".into(),
                });
            }
        }));
    }

    fn start_quiz(
        &mut self,
        connection_id: Uuid,
        re: Option<String>,
        level_id: Uuid,
        ctx: &mut Context<Self>,
    ) {
        if self.quiz.as_ref().is_some_and(|q| !q.finished()) {
            self.error(
                connection_id,
                re,
                codes::QUIZ_IN_PROGRESS,
                "a quiz is already in progress",
            );
            return;
        }
        let deps = self.deps.clone();
        let user_id = self.user_id;
        let fut = async move {
            let level = deps.goals.level(user_id, level_id).await?;
            let bank = deps.store.questions(level_id).await?;
            Ok::<_, GoalError>((level, bank))
        };
        ctx.wait(fut.into_actor(self).map(move |result, act, ctx| {
            let (level, bank) = match result {
                Ok(found) => found,
                Err(GoalError::NotFound(_)) => {
                    return act.error(connection_id, re, codes::NOT_FOUND, "level not found");
                }
                Err(e) => {
                    tracing::error!(error = %e, "quiz start failed");
                    return act.error(
                        connection_id,
                        re,
                        codes::UNAVAILABLE,
                        "please try again in a moment",
                    );
                }
            };
            if level.status == LevelStatus::Locked {
                return act.error(
                    connection_id,
                    re,
                    codes::LEVEL_LOCKED,
                    "this level is locked: pass the previous level first",
                );
            }
            if !level.topics.iter().all(|t| t.completed) {
                return act.error(
                    connection_id,
                    re,
                    codes::TOPICS_INCOMPLETE,
                    "complete all topics before taking the quiz",
                );
            }
            if bank.is_empty() {
                return act.error(
                    connection_id,
                    re,
                    codes::NOT_FOUND,
                    "this level has no questions",
                );
            }
            let seed = rand::random::<u64>();
            let quiz = QuizRun::start(
                act.user_id,
                level,
                bank,
                act.deps.settings.question_time,
                seed,
                Utc::now(),
            );
            let first = quiz.question_message(re, Utc::now());
            act.quiz = Some(quiz);
            act.deps.metrics.quiz_started();
            if let Some(first) = first {
                act.broadcast(first);
            }
            act.arm_timer(ctx);
            act.persist_quiz(ctx);
        }));
    }

    fn handle_request(
        &mut self,
        connection_id: Uuid,
        frame: ClientFrame,
        received_at: std::time::Instant,
        ctx: &mut Context<Self>,
    ) {
        let re = frame.id;
        match frame.message {
            ClientMessage::Ping => self.send_to(connection_id, ServerMessage::Pong { re }),
            ClientMessage::SessionState => {
                let now = Utc::now();
                match self
                    .quiz
                    .as_ref()
                    .and_then(|q| q.question_message(re.clone(), now))
                {
                    Some(question) => self.send_to(connection_id, question),
                    None => self.error(connection_id, re, codes::NO_QUIZ, "no quiz in progress"),
                }
            }
            ClientMessage::QuizStart { level_id } => {
                self.start_quiz(connection_id, re, level_id, ctx)
            }
            ClientMessage::QuizAnswer { position, option } => {
                let Some(quiz) = self.quiz.as_mut() else {
                    return self.error(connection_id, re, codes::NO_QUIZ, "no quiz in progress");
                };
                let now = Utc::now();
                let since_open = (now - quiz.opened_at).to_std().unwrap_or_default();
                match quiz.answer(re.clone(), position, &option, now) {
                    Ok(feedback) => {
                        // Every device sees the feedback; the asking one gets it with `re`.
                        self.broadcast(feedback);
                        self.deps
                            .metrics
                            .quiz_answered(since_open, received_at.elapsed());
                        self.after_step(None, ctx);
                    }
                    Err((code, message)) => {
                        if code == codes::LATE_ANSWER {
                            self.deps.metrics.quiz_late_answer();
                        }
                        self.error(connection_id, re, code, message)
                    }
                }
            }
            ClientMessage::LeaderboardSubscribe { board } => {
                let Some(outbound) = self.connections.get(&connection_id) else {
                    return;
                };
                // The actor writes `leaderboard.top` straight into this connection's
                // queue, and forgets it once the connection is gone.
                let subscribed = self.deps.xp.leaderboards().subscribe(
                    &board,
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
            ClientMessage::LeaderboardUnsubscribe { board } => {
                self.deps
                    .xp
                    .leaderboards()
                    .unsubscribe(&board, connection_id);
                self.send_to(connection_id, ServerMessage::Pong { re });
            }
            // The socket hands room frames to the room link, never to the session.
            ClientMessage::RoomJoin { .. }
            | ClientMessage::RoomLeave
            | ClientMessage::RoomAnswer { .. }
            | ClientMessage::RoomState
            | ClientMessage::RoomStart
            | ClientMessage::RoomNext
            | ClientMessage::RoomCloseQuestion
            | ClientMessage::RoomSkip
            | ClientMessage::RoomKick { .. }
            | ClientMessage::RoomPause
            | ClientMessage::RoomResume
            | ClientMessage::RoomEnd => self.error(
                connection_id,
                re,
                codes::UNKNOWN_TYPE,
                "room messages go to rooms",
            ),
            ClientMessage::QuizAbandon => {
                if self.quiz.take().is_some() {
                    self.deps.metrics.quiz_finished(quiz_result::ABANDONED);
                    if let Some(timer) = self.quiz_timer.take() {
                        ctx.cancel_future(timer);
                    }
                    self.persist_quiz(ctx);
                    self.send_to(connection_id, ServerMessage::Pong { re });
                } else {
                    self.error(connection_id, re, codes::NO_QUIZ, "no quiz in progress");
                }
            }
        }
    }

    /// Loads a quiz saved by an earlier session (this instance or another).
    fn resume_saved_quiz(&mut self, ctx: &mut Context<Self>) {
        let cache = self.deps.cache.clone();
        let key = quiz_key(self.user_id);
        ctx.wait(
            async move { cache.get(&key).await }
                .into_actor(self)
                .map(|result, act, ctx| {
                    let saved = match result {
                        Ok(Some(bytes)) => serde_json::from_slice::<QuizRun>(&bytes).ok(),
                        Ok(None) => None,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not read saved quiz");
                            None
                        }
                    };
                    if let Some(mut quiz) =
                        saved.filter(|q| q.user_id == act.user_id && !q.finished())
                    {
                        // Questions whose time ran out while nobody was connected.
                        let now = Utc::now();
                        while !quiz.finished() && quiz.until_closed(now).is_zero() {
                            let position = quiz.position;
                            let opened = quiz.opened_at;
                            quiz.time_out(position, now);
                            // The next question opened when the previous one closed.
                            quiz.opened_at = opened
                                + chrono::Duration::milliseconds(quiz.time_limit_ms as i64)
                                + chrono::Duration::from_std(
                                    questpath_actors::rules::quiz::LATE_GRACE,
                                )
                                .unwrap_or_default();
                        }
                        act.quiz = Some(quiz);
                        act.after_step(None, ctx);
                    }
                }),
        );
    }
}

fn goal_error(e: GoalError) -> crate::ports::StoreError {
    match e {
        GoalError::Store(e) => e,
        other => crate::ports::StoreError::Internal(other.to_string()),
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Events for this user from any instance.
        let bus = self.deps.bus.clone();
        let topic = crate::goals::worker::user_topic(self.user_id);
        let addr = ctx.address();
        self.bus_task = Some(tokio::spawn(async move {
            match bus.subscribe(&topic).await {
                Ok(mut subscription) => {
                    while let Some(payload) = subscription.recv().await {
                        if addr.try_send(BusEvent(payload)).is_err() && !addr.connected() {
                            break;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not subscribe to user events"),
            }
        }));
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
        // from memory while another device stays connected, else from the shared cache,
        // where it may have been saved by this instance or another.
        match self
            .quiz
            .as_ref()
            .and_then(|q| q.question_message(None, Utc::now()))
        {
            Some(question) => self.send_to(msg.connection_id, question),
            None => self.resume_saved_quiz(ctx),
        }
    }
}

impl Handler<Disconnect> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, ctx: &mut Context<Self>) {
        self.connections.remove(&msg.connection_id);
        // Nobody is connected: the saved copy becomes the only one, so a reconnect to any
        // instance resumes the same quiz and no timer runs it twice.
        if self.connections.is_empty()
            && self.quiz.take().is_some()
            && let Some(timer) = self.quiz_timer.take()
        {
            ctx.cancel_future(timer);
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
        let kind = msg.frame.message.kind();
        self.handle_request(msg.connection_id, msg.frame, msg.received_at, ctx);
        // Work a handler leaves to a future (store reads of quiz.start) is not included.
        self.deps
            .metrics
            .ws_handled(kind, msg.received_at.elapsed());
    }
}

impl Handler<BusEvent> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: BusEvent, _: &mut Context<Self>) {
        let Ok(event) = serde_json::from_slice::<serde_json::Value>(&msg.0) else {
            return;
        };
        let message = match event["type"].as_str() {
            Some("job.status") => ServerMessage::JobStatus {
                job: event["job"].clone(),
            },
            Some("xp.granted") => ServerMessage::XpGranted {
                amount: event["amount"].as_i64().unwrap_or(0),
                total_xp: event["total_xp"].as_i64().unwrap_or(0),
                player_level: event["player_level"].as_u64().unwrap_or(1) as u32,
            },
            // Published by the leaderboard actor in the frame's own shape.
            Some("leaderboard.rank") => match serde_json::from_value(event) {
                Ok(message @ ServerMessage::LeaderboardRank { .. }) => message,
                _ => return,
            },
            _ => return,
        };
        self.broadcast(message);
    }
}
