//! The solo quiz as the session runs it: started from a level, answered, timed out on
//! the server's clock, graded, passed (XP through the ledger), saved after every step so
//! a reconnect on any instance resumes it. Only the session holding the quiz's lease
//! runs this; its frames reach the learner's devices on every instance.

use std::sync::Arc;

use actix::prelude::*;
use chrono::Utc;
use uuid::Uuid;

use super::actor::SessionActor;
use super::quiz::QuizRun;
use crate::events::{Notice, QuizFinished, codes};
use crate::goals::pass::pass_level;
use crate::goals::service::GoalError;
use crate::observe::quiz_result;
use crate::ports::{Level, LevelStatus, Question};
use crate::rules::quiz::{passed, score_percent};
use crate::rules::xp::player_level;

impl SessionActor {
    /// Saves the quiz so another instance can resume it (or forgets it when over),
    /// through the session's ordered writes: a resume elsewhere never finds the step
    /// before, and a session that lost the lease writes nothing.
    pub(super) fn persist_quiz(&mut self, _ctx: &mut Context<Self>) {
        self.queue_save();
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
            self.after_step(Some(Notice::AnswerJudged(feedback)), ctx);
        }
    }

    /// After an answer or a timeout (`judged`, its feedback) or a resume: the next
    /// question, or the result. The step is saved before its frames are published, so
    /// a device on another instance never sees a step that a takeover would not find.
    pub(super) fn after_step(&mut self, judged: Option<Notice>, ctx: &mut Context<Self>) {
        let Some(quiz) = &self.quiz else { return };
        if quiz.finished() {
            if let Some(timer) = self.quiz_timer.take() {
                ctx.cancel_future(timer);
            }
            self.finish(ctx);
            self.persist_quiz(ctx);
            if let Some(judged) = judged {
                self.broadcast_quiz(judged);
            }
            // The followers hear the result itself.
            self.end_ownership(false, ctx);
        } else {
            let next = quiz.question_message(None, Utc::now());
            self.persist_quiz(ctx);
            if let Some(judged) = judged {
                self.broadcast_quiz(judged);
            }
            if let Some(next) = next {
                self.broadcast_quiz(Notice::QuestionOpened(next));
            }
            self.arm_timer(ctx);
        }
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
            Ok(message) => act.broadcast_quiz(message),
            Err(e) => {
                tracing::error!(error = %e, "quiz result could not be recorded");
                act.broadcast_quiz(Notice::refused(
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
            act.open_quiz(result, connection_id, re, ctx);
            // Refused: the lease claimed for it goes back.
            if act.quiz.is_none() {
                act.end_ownership(false, ctx);
            }
        }));
    }

    /// Opens a quiz over the level and bank `found` (or refuses it).
    fn open_quiz(
        &mut self,
        found: Result<(Level, Arc<[Question]>), GoalError>,
        connection_id: Uuid,
        re: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let act = self;
        {
            let (level, bank) = match found {
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
                &bank,
                act.deps.settings.question_time,
                seed,
                Utc::now(),
            );
            let first = quiz.question_message(re, Utc::now());
            act.quiz = Some(quiz);
            act.deps.metrics.quiz_started();
            act.persist_quiz(ctx);
            if let Some(first) = first {
                act.broadcast_quiz(Notice::QuestionOpened(first));
            }
            act.arm_timer(ctx);
        }
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
                self.after_step(Some(Notice::AnswerJudged(feedback)), ctx);
                self.deps
                    .metrics
                    .quiz_answered(since_open, received_at.elapsed());
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
            self.end_ownership(true, ctx);
        } else {
            self.error(connection_id, re, codes::NO_QUIZ, "no quiz in progress");
        }
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
