//! One owner per solo quiz: a learner's quiz runs in the one session (of all their
//! sessions, on every instance) that holds its lease in [`crate::ports::QuizOwners`].
//!
//! - The owner renews the lease three times per lease period, saves the quiz after
//!   every step (fenced by the lease), and publishes every quiz frame on the learner's
//!   bus topic, so their connections on other instances see the same question and the
//!   same deadline. It answers commands forwarded to it, the asking connection's own
//!   answers (refusals, `quiz.state`) addressed to that connection alone.
//! - A follower (a session with connections while another holds the lease) forwards its
//!   connections' quiz commands to the owner and shows the owner's frames. It tries the
//!   lease each third of a period: once the owner died the lease runs out and the
//!   follower takes the quiz over from the saved copy, at the same question with the
//!   same deadline (the server's wall clock set it). An owner whose last connection
//!   leaves (a closed tab, a drained instance) gives the lease back and says so, and a
//!   follower takes over at once.
//! - The traffic goes through one ordered queue per session (saves, releases and
//!   publications in the order the session made them), so a follower never sees a
//!   question before the feedback that led to it, and a release never overtakes the
//!   last save.

use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::actor::SessionActor;
use super::quiz::{QuizRun, SavedRun};
use super::{Command, Deps};
use crate::events::Notice;
use crate::goals::service::GoalError;
use crate::ports::bus::user_topic;

/// What sessions of one learner tell each other about their quiz, on the learner's bus
/// topic (next to the [`crate::ports::bus::UserEvent`]s, with tags of their own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub(super) enum QuizTraffic {
    /// A frame of the quiz from its owner (`origin`, the owner's token).
    #[serde(rename = "quiz.frame")]
    Frame { origin: Uuid, notice: Notice },
    /// A quiz command of a connection on another instance, for the owner.
    #[serde(rename = "quiz.command")]
    Command {
        origin: Uuid,
        connection_id: Uuid,
        re: Option<String>,
        command: Command,
    },
    /// The owner's answer to one forwarded command, for the connection that sent it.
    #[serde(rename = "quiz.reply")]
    Reply { connection_id: Uuid, notice: Notice },
    /// The owner gave the lease back: a follower takes the quiz over now.
    #[serde(rename = "quiz.released")]
    Released { origin: Uuid },
    /// A session of the learner started (its subscription is live): the others publish
    /// quiz frames from now on, and answer with a hello of their own unless `answer`.
    #[serde(rename = "quiz.hello")]
    Hello { origin: Uuid, answer: bool },
    /// A session of the learner stopped.
    #[serde(rename = "quiz.gone")]
    Gone { origin: Uuid },
}

impl QuizTraffic {
    pub(super) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("quiz traffic serializes")
    }

    /// How a frame of the session with owner token `origin` begins once encoded. The bus
    /// hands a session what it published too; its own frames (two an answer) are dropped
    /// by their first bytes instead of being decoded and ignored.
    pub(super) fn own_frame_prefix(origin: Uuid) -> Vec<u8> {
        format!(r#"{{"type":"quiz.frame","origin":"{origin}""#).into_bytes()
    }

    /// The session that sent it, where it says.
    fn origin(&self) -> Option<Uuid> {
        match self {
            QuizTraffic::Frame { origin, .. }
            | QuizTraffic::Command { origin, .. }
            | QuizTraffic::Released { origin }
            | QuizTraffic::Hello { origin, .. }
            | QuizTraffic::Gone { origin } => Some(*origin),
            QuizTraffic::Reply { .. } => None,
        }
    }

    /// `None` for anything else on the topic (a `UserEvent`).
    pub(super) fn decode(payload: &[u8]) -> Option<Self> {
        serde_json::from_slice(payload).ok()
    }
}

/// This session's part in the learner's quiz.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// No quiz known here, or nobody connected here.
    Idle,
    /// Holds the lease: runs the quiz and its timer.
    Owner,
    /// Another session holds the lease: forwards, shows, watches the lease.
    Follower,
}

/// One step of a session's ordered traffic to Redis and the bus.
pub(super) enum Write {
    /// The quiz's saved copy (`None`: forget it), if the lease is still this session's.
    Save(Option<Vec<u8>>, Duration),
    /// Gives the lease back, then tells the other sessions if `announce`.
    Release { announce: bool },
    /// A payload for the learner's topic.
    Publish(Vec<u8>),
}

/// Carries out a session's writes one after another until the session is gone.
pub(super) async fn run_writes(
    deps: std::sync::Arc<Deps>,
    user_id: Uuid,
    token: Uuid,
    mut writes: mpsc::UnboundedReceiver<Write>,
) {
    let topic = user_topic(user_id);
    while let Some(write) = writes.recv().await {
        match write {
            Write::Save(state, ttl) => {
                match deps
                    .quiz_owners
                    .save(user_id, token, state.as_deref(), ttl)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::info!(%user_id, "quiz not saved: another session holds its lease")
                    }
                    Err(e) => tracing::warn!(error = %e, "could not save quiz state"),
                }
            }
            Write::Release { announce } => {
                if let Err(e) = deps.quiz_owners.release(user_id, token).await {
                    tracing::warn!(error = %e, "could not release a quiz lease");
                }
                if !announce {
                    continue;
                }
                let released = QuizTraffic::Released { origin: token }.encode();
                if let Err(e) = deps.bus.publish(&topic, &released).await {
                    tracing::warn!(error = %e, "could not announce a released quiz");
                }
            }
            Write::Publish(payload) => {
                if let Err(e) = deps.bus.publish(&topic, &payload).await {
                    tracing::warn!(error = %e, "could not publish a quiz frame");
                }
            }
        }
    }
}

/// What a look at the lease found.
enum Found {
    /// No saved quiz (looked at before the lease).
    Nothing,
    /// Another session holds the lease.
    Taken,
    /// The lease is this session's now, with the saved quiz if there is one.
    Held(Option<Box<QuizRun>>),
}

impl SessionActor {
    fn write(&mut self, write: Write) {
        // Fails only once the writer is gone, i.e. the session is stopping.
        let _ = self.writes.send(write);
    }

    fn publish(&mut self, traffic: QuizTraffic) {
        self.write(Write::Publish(traffic.encode()));
    }

    /// A quiz frame for every device of the learner: here, and through the bus on the
    /// other instances when the learner has a session on another one (mostly not: one
    /// device, or all on one instance, and no `PUBLISH` per frame then).
    pub(super) fn broadcast_quiz(&mut self, notice: Notice) {
        if self.peers.is_empty() {
            return self.broadcast(notice);
        }
        self.broadcast(notice.clone());
        let origin = self.token;
        self.publish(QuizTraffic::Frame { origin, notice });
    }

    /// Tells the learner's other sessions that this one listens (once its subscription
    /// is live), so they publish their quiz frames.
    pub(super) fn say_hello(&mut self) {
        let origin = self.token;
        self.publish(QuizTraffic::Hello {
            origin,
            answer: false,
        });
    }

    /// Tells the other sessions this one is gone: they stop publishing for it.
    pub(super) fn say_goodbye(&mut self) {
        let origin = self.token;
        self.publish(QuizTraffic::Gone { origin });
    }

    /// Queues the saved copy of the quiz in progress (or its removal once over): a
    /// snapshot of ids and position, built from the quiz in place.
    pub(super) fn queue_save(&mut self) {
        let snapshot = self
            .quiz
            .as_ref()
            .filter(|q| !q.finished())
            .and_then(|q| Some((serde_json::to_vec(&q.snapshot()).ok()?, q)));
        let write = match snapshot {
            Some((bytes, quiz)) => {
                let ttl = Duration::from_millis(quiz.time_limit_ms) * (quiz.total() + 1);
                Write::Save(Some(bytes), ttl)
            }
            None => Write::Save(None, Duration::ZERO),
        };
        self.write(write);
    }

    /// A reply to a connection on another instance (the owner answering a forwarded
    /// command).
    pub(super) fn reply_remote(&mut self, connection_id: Uuid, notice: Notice) {
        self.publish(QuizTraffic::Reply {
            connection_id,
            notice,
        });
    }

    /// Sends a quiz command of a local connection to the owner.
    pub(super) fn forward(&mut self, connection_id: Uuid, re: Option<String>, command: Command) {
        let origin = self.token;
        self.publish(QuizTraffic::Command {
            origin,
            connection_id,
            re,
            command,
        });
    }

    /// Enters `role`, with its timer: the owner renews the lease, a follower watches it.
    pub(super) fn set_role(&mut self, role: Role, ctx: &mut Context<Self>) {
        if let Some(timer) = self.lease_timer.take() {
            ctx.cancel_future(timer);
        }
        self.role = role;
        self.epoch += 1;
        self.known_idle = false;
        let every = self.deps.settings.quiz_lease / 3;
        match role {
            Role::Idle => {}
            Role::Owner => {
                self.lease_timer = Some(ctx.run_interval(every, |act, ctx| act.renew(ctx)));
            }
            Role::Follower => {
                self.lease_timer = Some(ctx.run_interval(every, |act, ctx| {
                    act.take_over(false, None, ctx);
                }));
            }
        }
    }

    /// Gives the lease back (after the saves queued before) and stops running the quiz;
    /// `announce` tells the followers to look for it (it may still be in progress).
    pub(super) fn end_ownership(&mut self, announce: bool, ctx: &mut Context<Self>) {
        if self.role != Role::Owner {
            return;
        }
        if let Some(timer) = self.quiz_timer.take() {
            ctx.cancel_future(timer);
        }
        self.quiz = None;
        self.write(Write::Release { announce });
        self.set_role(Role::Idle, ctx);
    }

    fn renew(&mut self, ctx: &mut Context<Self>) {
        let (owners, user, token, ttl) = (
            self.deps.quiz_owners.clone(),
            self.user_id,
            self.token,
            self.deps.settings.quiz_lease,
        );
        let epoch = self.epoch;
        ctx.spawn(
            async move { owners.hold(user, token, ttl).await }
                .into_actor(self)
                .map(move |held, act, ctx| {
                    if act.epoch != epoch {
                        // Given back meanwhile: a renewal that landed after the release
                        // would keep others out for a whole lease.
                        if matches!(held, Ok(true)) && act.role != Role::Owner {
                            act.write(Write::Release { announce: false });
                        }
                        return;
                    }
                    match held {
                        Ok(true) => {}
                        // Another session took the quiz over (this one stalled past
                        // its lease): it runs it from the saved copy, this one follows.
                        Ok(false) => {
                            tracing::warn!(user_id = %act.user_id, "quiz lease lost: following its new owner");
                            if let Some(timer) = act.quiz_timer.take() {
                                ctx.cancel_future(timer);
                            }
                            act.quiz = None;
                            let role = if act.connections.is_empty() {
                                Role::Idle
                            } else {
                                Role::Follower
                            };
                            act.set_role(role, ctx);
                        }
                        Err(e) => tracing::warn!(error = %e, "could not renew a quiz lease"),
                    }
                }),
        );
    }

    /// Claims the lease for a new quiz, then starts it; when another session holds it,
    /// the command goes there (which refuses it: a quiz is in progress).
    pub(super) fn claim_and_start(
        &mut self,
        connection_id: Uuid,
        re: Option<String>,
        level_id: Uuid,
        ctx: &mut Context<Self>,
    ) {
        let (owners, user, token, ttl) = (
            self.deps.quiz_owners.clone(),
            self.user_id,
            self.token,
            self.deps.settings.quiz_lease,
        );
        ctx.wait(
            async move { owners.hold(user, token, ttl).await }
                .into_actor(self)
                .map(move |held, act, ctx| match held {
                    Ok(true) => {
                        act.set_role(Role::Owner, ctx);
                        act.start_quiz(connection_id, re, level_id, ctx);
                    }
                    Ok(false) => {
                        act.set_role(Role::Follower, ctx);
                        act.forward(connection_id, re, Command::StartQuiz { level_id });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not claim a quiz lease");
                        act.error(
                            connection_id,
                            re,
                            crate::events::codes::UNAVAILABLE,
                            "please try again in a moment",
                        );
                    }
                }),
        );
    }

    /// Looks for a quiz to run here: `check_first` looks at the saved copy before the
    /// lease (a connection arriving, usually with no quiz anywhere); otherwise the lease
    /// is tried at once (a follower whose owner may have died). `show_to` is a new
    /// connection that is shown the question when another session runs the quiz.
    pub(super) fn take_over(
        &mut self,
        check_first: bool,
        show_to: Option<Uuid>,
        ctx: &mut Context<Self>,
    ) {
        if self.role == Role::Owner {
            return;
        }
        let (owners, user, token, ttl) = (
            self.deps.quiz_owners.clone(),
            self.user_id,
            self.token,
            self.deps.settings.quiz_lease,
        );
        let goals = self.deps.goals.clone();
        let look = async move {
            if check_first {
                // The lease comes before the first save: a quiz just started elsewhere
                // has an owner and maybe no copy yet.
                match owners.owner(user).await? {
                    Some(other) if other != token => return Ok(Found::Taken),
                    _ => {}
                }
                if owners.load(user).await?.is_none() {
                    return Ok(Found::Nothing);
                }
            }
            if !owners.hold(user, token, ttl).await? {
                return Ok(Found::Taken);
            }
            let saved = owners.load(user).await?;
            let quiz = match saved.and_then(|bytes| serde_json::from_slice(&bytes).ok()) {
                Some(SavedRun::Whole(quiz)) => Some(quiz),
                Some(SavedRun::Snapshot(snapshot)) if snapshot.user_id == user => {
                    match goals.level_with_questions(user, snapshot.level_id).await {
                        Ok((level, bank)) => QuizRun::resume(snapshot, level, &bank).map(Box::new),
                        Err(GoalError::NotFound(_)) => None,
                        Err(e) => return Err(e),
                    }
                }
                Some(SavedRun::Snapshot(_)) | None => None,
            };
            Ok::<_, GoalError>(Found::Held(quiz))
        };
        ctx.wait(look.into_actor(self).map(move |found, act, ctx| {
            let found = match found {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "could not look for a saved quiz");
                    return;
                }
            };
            match found {
                Found::Nothing => act.known_idle = !act.connections.is_empty(),
                Found::Taken => {
                    if act.connections.is_empty() {
                        return act.set_role(Role::Idle, ctx);
                    }
                    if act.role != Role::Follower {
                        act.set_role(Role::Follower, ctx);
                    }
                    if let Some(connection_id) = show_to {
                        act.forward(connection_id, None, Command::State);
                    }
                }
                Found::Held(saved) => {
                    act.set_role(Role::Owner, ctx);
                    let user_id = act.user_id;
                    match saved.filter(|q| q.user_id == user_id && !q.finished()) {
                        Some(quiz) if !act.connections.is_empty() => {
                            act.quiz = Some(catch_up(*quiz));
                            act.after_step(None, ctx);
                        }
                        // No quiz any more, or nobody left to run it for.
                        Some(_) => act.end_ownership(true, ctx),
                        None => act.end_ownership(false, ctx),
                    }
                }
            }
        }));
    }

    /// Quiz traffic from the learner's other sessions.
    pub(super) fn on_traffic(&mut self, traffic: QuizTraffic, ctx: &mut Context<Self>) {
        // Anything another session says shows it is there (an instance of an earlier
        // version says no hello, but its owner's frames and its forwarded commands
        // still make it known).
        if let Some(origin) = traffic.origin().filter(|o| *o != self.token) {
            if matches!(traffic, QuizTraffic::Gone { .. }) {
                self.peers.remove(&origin);
            } else {
                self.peers.insert(origin);
            }
        }
        match traffic {
            QuizTraffic::Frame { origin, notice } if origin != self.token => {
                let ended = matches!(notice, Notice::QuizFinished(_));
                self.broadcast(notice);
                if ended && self.role == Role::Follower {
                    self.set_role(Role::Idle, ctx);
                } else if !ended && self.role == Role::Idle && !self.connections.is_empty() {
                    self.set_role(Role::Follower, ctx);
                }
            }
            QuizTraffic::Command {
                origin,
                connection_id,
                re,
                command,
            } if origin != self.token && self.role == Role::Owner => {
                if matches!(
                    command,
                    Command::StartQuiz { .. }
                        | Command::Answer { .. }
                        | Command::Abandon
                        | Command::State
                ) {
                    self.handle_command(connection_id, re, command, std::time::Instant::now(), ctx);
                }
            }
            QuizTraffic::Reply {
                connection_id,
                notice,
            } if self.connections.contains_key(&connection_id) => {
                self.send_to(connection_id, notice);
            }
            QuizTraffic::Released { origin }
                if origin != self.token && self.role == Role::Follower =>
            {
                self.take_over(false, None, ctx);
            }
            QuizTraffic::Hello {
                origin,
                answer: false,
            } if origin != self.token => {
                let mine = self.token;
                self.publish(QuizTraffic::Hello {
                    origin: mine,
                    answer: true,
                });
            }
            _ => {}
        }
    }
}

/// Questions whose time ran out while no session ran the quiz count as timed out, each
/// next one opening when the one before closed: the deadlines stay the server's.
fn catch_up(mut quiz: QuizRun) -> QuizRun {
    let now = Utc::now();
    while !quiz.finished() && quiz.until_closed(now).is_zero() {
        let position = quiz.position;
        let opened = quiz.opened_at;
        quiz.time_out(position, now);
        quiz.opened_at = opened
            + chrono::Duration::milliseconds(quiz.time_limit_ms as i64)
            + chrono::Duration::from_std(crate::rules::quiz::LATE_GRACE).unwrap_or_default();
    }
    quiz
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sessions_own_frames_begin_with_its_prefix() {
        let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
        let own = QuizTraffic::own_frame_prefix(mine);
        let frame = |origin| QuizTraffic::Frame {
            origin,
            notice: Notice::Done { re: None },
        };
        assert!(frame(mine).encode().starts_with(&own));
        assert!(!frame(other).encode().starts_with(&own));
        let released = QuizTraffic::Released { origin: mine };
        assert!(!released.encode().starts_with(&own));
        let event = crate::ports::bus::UserEvent::AccountDeleted;
        assert!(!event.encode().starts_with(&own));
    }

    #[test]
    fn quiz_traffic_is_not_read_as_a_user_event_nor_the_other_way_round() {
        let frame = QuizTraffic::Frame {
            origin: Uuid::nil(),
            notice: Notice::Done {
                re: Some("1".into()),
            },
        };
        assert_eq!(QuizTraffic::decode(&frame.encode()), Some(frame.clone()));
        assert_eq!(crate::ports::bus::UserEvent::decode(&frame.encode()), None);
        let command = QuizTraffic::Command {
            origin: Uuid::nil(),
            connection_id: Uuid::nil(),
            re: None,
            command: Command::Answer {
                position: 2,
                option: "B".into(),
            },
        };
        assert_eq!(QuizTraffic::decode(&command.encode()), Some(command));
        let event = crate::ports::bus::UserEvent::AccountDeleted;
        assert_eq!(QuizTraffic::decode(&event.encode()), None);
    }
}
