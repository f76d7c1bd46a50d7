//! What connections are shown of the game: a viewer's snapshot, the open question, and
//! the coalesced counters and roster changes the actor sends on its tick.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Game, PlayerKind, scoring_name};
use crate::events::quiz::OptionView;
use crate::events::room::{RoomQuestionView, RoomRole, RoomRosterSeat, RoomSeat, RoomSnapshot};
use crate::events::{LETTERS, Notice, RoomEvent};
use crate::room::event::{Event, Target};

impl Game {
    /// What the host has not been told about seats yet, as one `room.roster`.
    pub fn roster_event(&mut self) -> Option<Event> {
        if self.roster_joined.is_empty() && self.roster_left.is_empty() {
            return None;
        }
        Some(Event::to(
            Target::Host,
            Notice::Room(RoomEvent::Roster {
                joined: std::mem::take(&mut self.roster_joined),
                left: std::mem::take(&mut self.roster_left),
                players: self.players.len() as u32,
            }),
        ))
    }

    pub(super) fn question_view(&self, now: DateTime<Utc>) -> Option<RoomQuestionView> {
        let open = self.open.as_ref()?;
        let question = &self.config.questions[open.index as usize];
        let remaining = match open.paused {
            Some(left) => left,
            None => (open.deadline - now).to_std().unwrap_or_default(),
        };
        Some(RoomQuestionView {
            index: open.index,
            total: self.config.questions.len() as u32,
            question: question.question.clone(),
            options: question
                .options
                .iter()
                .enumerate()
                .map(|(i, text)| OptionView {
                    value: LETTERS[i].into(),
                    text: text.clone(),
                })
                .collect(),
            time_limit_ms: question.time_limit.as_millis() as u64,
            remaining_ms: remaining.as_millis() as u64,
            points: question.points,
            paused: open.paused.is_some(),
        })
    }

    /// The room as `viewer` sees it.
    pub fn snapshot(&self, viewer: Uuid, now: DateTime<Utc>) -> RoomSnapshot {
        let seat = self.players.get(&viewer).map(|p| RoomSeat {
            player_id: p.id,
            name: p.name.clone(),
            guest: p.kind == PlayerKind::Guest,
            score: p.score,
            streak: p.streak,
            rank: p.rank,
            answered: self
                .open
                .as_ref()
                .is_some_and(|o| o.answers.contains_key(&p.id)),
            first_question: p.first_question,
        });
        let host = self.is_host(viewer);
        let roster = host.then(|| {
            let mut seats: Vec<_> = self.players.values().filter(|p| !p.left).collect();
            seats.sort_by_key(|p| p.joined);
            seats
                .into_iter()
                .map(|p| RoomRosterSeat {
                    player_id: p.id,
                    name: p.name.clone(),
                    guest: p.kind == PlayerKind::Guest,
                    connected: p.present(),
                })
                .collect()
        });
        let answered = if host && self.open.is_some() {
            Some(self.expected.saturating_sub(self.pending))
        } else {
            None
        };
        RoomSnapshot {
            room_id: self.config.room_id,
            code: self.config.code.clone(),
            title: self.config.title.clone(),
            role: if self.is_host(viewer) {
                RoomRole::Host
            } else {
                RoomRole::Player
            },
            phase: self.phase,
            players: self.seated(),
            max_players: self.config.max_players as u32,
            question_count: self.config.questions.len() as u32,
            scoring: scoring_name(self.config.scoring).into(),
            streak_bonus: self.config.streak_bonus,
            allow_guests: self.config.allow_guests,
            question: self.question_view(now),
            you: seat,
            scoreboard: self.scoreboard.clone(),
            roster,
            answered,
        }
    }

    /// The coalesced answered count for the host.
    pub fn answered_event(&self) -> Option<Event> {
        let expected = self.expected_answers();
        let open = self.open.as_ref()?;
        Some(Event::to(
            Target::Host,
            Notice::Room(RoomEvent::Answered {
                question: open.index,
                // Of the players waited for, so the host never sees 3/2 after an
                // answered player dropped.
                answered: expected.saturating_sub(self.pending),
                expected,
            }),
        ))
    }

    /// The coalesced lobby count for players.
    pub fn lobby_event(&self) -> Event {
        Event::to(
            Target::Players,
            Notice::Room(RoomEvent::Lobby {
                players: self.players.len() as u32,
            }),
        )
    }
}
