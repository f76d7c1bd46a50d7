//! The host's controls and the question clock: start, next, skip, pause and resume,
//! and opening the next question with its deadline.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Game, OpenQuestion, Refusal, refuse};
use crate::events::codes;
use crate::events::room::RoomPhase;
use crate::events::{Notice, RoomEvent};
use crate::room::event::{Event, Target};

impl Game {
    /// Host: the first question.
    pub fn start(&mut self, now: DateTime<Utc>) -> Result<Vec<Event>, Refusal> {
        if self.phase != RoomPhase::Lobby {
            return Err(refuse(codes::WRONG_PHASE, "the game has already started"));
        }
        if self.players.values().all(|p| !p.present()) {
            return Err(refuse(codes::NO_PLAYERS, "wait for at least one player"));
        }
        Ok(self.open_next(now))
    }

    /// Host: the next question, or the end after the last.
    pub fn next(&mut self, now: DateTime<Utc>) -> Result<Vec<Event>, Refusal> {
        match self.phase {
            RoomPhase::Reveal => Ok(self.open_next(now)),
            RoomPhase::Lobby => Err(refuse(codes::WRONG_PHASE, "start the game first")),
            RoomPhase::Question => Err(refuse(
                codes::WRONG_PHASE,
                "a question is open: close or skip it first",
            )),
            RoomPhase::Ended => Err(refuse(codes::ROOM_ENDED, "this game is over")),
        }
    }

    fn open_next(&mut self, now: DateTime<Utc>) -> Vec<Event> {
        if self.out_of_questions() {
            return Vec::new();
        }
        let index = self.next_question;
        self.next_question += 1;
        let limit = self.config.questions[index as usize].time_limit;
        self.open = Some(OpenQuestion {
            index,
            opened_at: now,
            deadline: now + chrono::Duration::from_std(limit).unwrap_or_default(),
            paused: None,
            answers: HashMap::new(),
        });
        self.phase = RoomPhase::Question;
        // Counted once per question; seat changes keep it in step from here.
        self.expected = self
            .players
            .values()
            .filter(|p| p.present() && p.first_question <= index)
            .count() as u32;
        self.pending = self.expected;
        self.answered_dirty = true;
        let view = self.question_view(now).expect("just opened");
        vec![Event::to(
            Target::All,
            Notice::Room(RoomEvent::QuestionOpened(view)),
        )]
    }

    /// Host: cancels the open question and opens the next (or ends).
    pub fn skip(&mut self, now: DateTime<Utc>) -> Result<Vec<Event>, Refusal> {
        let mut events = self.close_question(true)?;
        events.extend(self.open_next(now));
        Ok(events)
    }

    pub fn pause(&mut self, now: DateTime<Utc>) -> Result<Vec<Event>, Refusal> {
        let Some(open) = self.open.as_mut() else {
            return Err(refuse(codes::WRONG_PHASE, "no question is open"));
        };
        if open.paused.is_some() {
            return Err(refuse(codes::PAUSED, "already paused"));
        }
        let left = (open.deadline - now).to_std().unwrap_or_default();
        open.paused = Some(left);
        Ok(vec![Event::to(
            Target::All,
            Notice::Room(RoomEvent::Paused {
                question: open.index,
                remaining_ms: left.as_millis() as u64,
            }),
        )])
    }

    pub fn resume(&mut self, now: DateTime<Utc>) -> Result<Vec<Event>, Refusal> {
        let Some(open) = self.open.as_mut() else {
            return Err(refuse(codes::WRONG_PHASE, "no question is open"));
        };
        let Some(left) = open.paused.take() else {
            return Err(refuse(codes::WRONG_PHASE, "the game is not paused"));
        };
        open.deadline = now + chrono::Duration::from_std(left).unwrap_or_default();
        // Response times count the time the clock ran, not the pause.
        let limit = self.config.questions[open.index as usize].time_limit;
        open.opened_at = open.deadline - chrono::Duration::from_std(limit).unwrap_or_default();
        Ok(vec![Event::to(
            Target::All,
            Notice::Room(RoomEvent::Resumed {
                question: open.index,
                remaining_ms: left.as_millis() as u64,
            }),
        )])
    }
}
