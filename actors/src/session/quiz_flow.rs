//! The solo quiz as the session runs it: started from a level, answered, timed out on
//! the server's clock, graded, passed (XP through the ledger), saved after every step so
//! a reconnect on any instance resumes it.

use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use uuid::Uuid;

use super::actor::SessionActor;
use super::quiz::QuizRun;
use super::quiz_key;
use crate::events::{Notice, QuizFinished, codes};
use crate::goals::pass::pass_level;
use crate::goals::service::GoalError;
use crate::observe::quiz_result;
use crate::ports::{Level, LevelStatus, Question};
use crate::rules::quiz::{passed, score_percent};
use crate::rules::xp::player_level;

impl SessionActor {
    /// Saves the quiz so another instance can resume it (or forgets it when over). Two
    /// saves in flight at once (a quick answer) may reach Redis over two pooled
    /// connections in either order; they take turns, and one older than the last
    /// written is dropped, so a resume elsewhere never finds the step before.
    pub(super) fn persist_quiz(&mut self, ctx: &mut Context<Self>) {
        let cache = self.deps.cache.clone();
        let key = quiz_key(self.user_id);
        let snapshot = self.quiz.clone().filter(|q| !q.finished());
        self.quiz_saves += 1;
        let (number, saved) = (self.quiz_saves, self.quiz_saved.clone());
        ctx.spawn(
            async move {
                let mut last = saved.lock().await;
                if *last > number {
                    return;
                }
                *last = number;
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
            self.broadcast(Notice::AnswerJudged(feedback));
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
                self.broadcast(Notice::QuestionOpened(next));
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
            let mut finished = QuizFinished {
                quiz_id: quiz.quiz_id,
                level_id: quiz.level.id,
                correct: quiz.correct,
                total,
                score,
                passed: pass,
                xp_earned: 0,
                total_xp: 0,
                player_level: 1,
                level_up: false,
                next_level_unlocked: false,
            };
            if pass {
                // The level as it is now (a pass on another device may have completed it).
                let level = deps
                    .store
                    .level(quiz.level.id)
                    .await?
                    .unwrap_or(quiz.level.clone());
                let passed = pass_level(
                    &deps.goals,
                    &deps.xp,
                    user_id,
                    &level,
                    Utc::now().date_naive(),
                )
                .await?;
                finished.xp_earned = passed.earned;
                finished.total_xp = passed.total_xp;
                finished.level_up = passed.level_up;
                finished.next_level_unlocked = passed.next_level_unlocked;
            } else {
                finished.total_xp = deps
                    .store
                    .user_by_id(user_id)
                    .await
                    .ok()
                    .flatten()
                    .map(|u| u.total_xp)
                    .unwrap_or(0);
            }
            finished.player_level = player_level(finished.total_xp);
            Ok::<_, GoalError>(Notice::QuizFinished(finished))
        };
        ctx.wait(fut.into_actor(self).map(|result, act, _ctx| match result {
            Ok(message) => act.broadcast(message),
            Err(e) => {
                tracing::error!(error = %e, "quiz result could not be recorded");
                act.broadcast(Notice::refused(
                    None,
                    codes::UNAVAILABLE,
                    "your result could not be saved; please retry the quiz",
                ));
            }
        }));
    }

    pub(super) fn start_quiz(
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
        let fut = async move { deps.goals.level_with_questions(user_id, level_id).await };
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
            if let Err((code, message)) = ready_for_quiz(&level, &bank) {
                return act.error(connection_id, re, code, message);
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
                act.broadcast(Notice::QuestionOpened(first));
            }
            act.arm_timer(ctx);
            act.persist_quiz(ctx);
        }));
    }

    pub(super) fn show_question(&mut self, connection_id: Uuid, re: Option<String>) {
        let now = Utc::now();
        match self
            .quiz
            .as_ref()
            .and_then(|q| q.question_message(re.clone(), now))
        {
            Some(question) => self.send_to(connection_id, Notice::QuestionOpened(question)),
            None => self.error(connection_id, re, codes::NO_QUIZ, "no quiz in progress"),
        }
    }

    pub(super) fn answer(
        &mut self,
        connection_id: Uuid,
        re: Option<String>,
        position: u32,
        option: &str,
        received_at: std::time::Instant,
        ctx: &mut Context<Self>,
    ) {
        let Some(quiz) = self.quiz.as_mut() else {
            return self.error(connection_id, re, codes::NO_QUIZ, "no quiz in progress");
        };
        let now = Utc::now();
        let since_open = (now - quiz.opened_at).to_std().unwrap_or_default();
        match quiz.answer(re.clone(), position, option, now) {
            Ok(feedback) => {
                // Every device sees the feedback; the asking one gets it with `re`.
                self.broadcast(Notice::AnswerJudged(feedback));
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

    pub(super) fn abandon(
        &mut self,
        connection_id: Uuid,
        re: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        if self.quiz.take().is_some() {
            self.deps.metrics.quiz_finished(quiz_result::ABANDONED);
            if let Some(timer) = self.quiz_timer.take() {
                ctx.cancel_future(timer);
            }
            self.persist_quiz(ctx);
            self.send_to(connection_id, Notice::Done { re });
        } else {
            self.error(connection_id, re, codes::NO_QUIZ, "no quiz in progress");
        }
    }

    /// Loads a quiz saved by an earlier session (this instance or another).
    pub(super) fn resume_saved_quiz(&mut self, ctx: &mut Context<Self>) {
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
                                + chrono::Duration::from_std(crate::rules::quiz::LATE_GRACE)
                                    .unwrap_or_default();
                        }
                        act.quiz = Some(quiz);
                        act.after_step(None, ctx);
                    }
                }),
        );
    }
}

/// Whether a level's quiz may start: unlocked, every topic done, a question bank.
fn ready_for_quiz(level: &Level, bank: &[Question]) -> Result<(), (&'static str, &'static str)> {
    if level.status == LevelStatus::Locked {
        return Err((
            codes::LEVEL_LOCKED,
            "this level is locked: pass the previous level first",
        ));
    }
    if !level.topics.iter().all(|t| t.completed) {
        return Err((
            codes::TOPICS_INCOMPLETE,
            "complete all topics before taking the quiz",
        ));
    }
    if bank.is_empty() {
        return Err((codes::NOT_FOUND, "this level has no questions"));
    }
    Ok(())
}
