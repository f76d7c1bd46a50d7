//! The room actor's commands, one method per family: seats (join, leave, disconnect),
//! answers, state requests, the host's controls, and the relays' reattach and resync.

use std::collections::HashSet;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::RoomActor;
use crate::events::room::RoomPhase;
use crate::events::{Notice, RoomEvent, codes};
use crate::room::event::{Command, Event, HostAction, PlayerKind, Target};
use crate::room::game::{EndReason, Refusal};

impl RoomActor {
    pub(super) fn handle_command(&mut self, command: Command, ctx: &mut Context<Self>) {
        let now = Utc::now();
        match command {
            Command::Join {
                player_id,
                connection_id,
                kind,
                name,
                re,
            } => self.join(player_id, connection_id, kind, &name, re, now),
            Command::Disconnected { player_id, .. } => self.game.disconnected(player_id),
            Command::Leave { player_id, .. } => {
                let events = self.game.leave(player_id);
                self.push(events);
            }
            Command::Answer {
                player_id,
                connection_id,
                re,
                question,
                option,
                received_at,
                response_ms,
            } => self.answer(
                player_id,
                connection_id,
                re,
                (question, &option),
                received_at,
                response_ms.map(Duration::from_millis),
            ),
            Command::State {
                player_id,
                connection_id,
                re,
                joined,
            } => self.state(player_id, connection_id, re, joined, now),
            Command::Host {
                player_id,
                connection_id,
                re,
                action,
            } => self.host_command(player_id, connection_id, re, action, ctx),
            Command::Reattach { players } => self.reattach(players, now),
            Command::Resync { players } => self.send_state(players, now),
        }
    }

    fn join(
        &mut self,
        player_id: Uuid,
        connection_id: Uuid,
        kind: PlayerKind,
        name: &str,
        re: Option<String>,
        now: DateTime<Utc>,
    ) {
        // A game that ended refuses joins itself (`room_ended`).
        if self.game.is_host(player_id) {
            self.host_ever_joined = true;
        }
        match self
            .game
            .join(player_id, connection_id, kind, name, re.clone(), now)
        {
            Ok(events) => self.push(events),
            // A refused connection is not in the room.
            Err(refusal) => self
                .outbox
                .push(error_to(connection_id, re, refusal).detaching()),
        }
    }

    /// `answer` is the question's index and the option as sent.
    fn answer(
        &mut self,
        player_id: Uuid,
        connection_id: Uuid,
        re: Option<String>,
        (question, option): (u32, &str),
        received_at: DateTime<Utc>,
        response: Option<Duration>,
    ) {
        if self.ending {
            return;
        }
        match self.game.answer(
            player_id,
            re.clone(),
            question,
            option,
            received_at,
            response,
        ) {
            Ok(events) => {
                self.rooms.deps.metrics.room_answer("accepted");
                self.push(events);
            }
            Err(refusal) => {
                self.rooms.deps.metrics.room_answer(refusal.0);
                self.refuse(connection_id, re, refusal);
            }
        }
    }

    /// The room as the player sees it, as a `room.state` (or `room.joined`) reply.
    fn state(
        &mut self,
        player_id: Uuid,
        connection_id: Uuid,
        re: Option<String>,
        joined: bool,
        now: DateTime<Utc>,
    ) {
        let snapshot = self.game.snapshot(player_id, now);
        if snapshot.you.is_none() && !self.game.is_host(player_id) {
            return self.refuse(
                connection_id,
                re,
                (codes::NOT_IN_ROOM, "you have no seat in this room".into()),
            );
        }
        let room = Box::new(snapshot);
        let message = if joined {
            Notice::Room(RoomEvent::Joined { re, room })
        } else {
            Notice::Room(RoomEvent::State { re, room })
        };
        self.outbox
            .push(Event::to(Target::Connection(connection_id), message));
    }

    fn host_command(
        &mut self,
        player_id: Uuid,
        connection_id: Uuid,
        re: Option<String>,
        action: HostAction,
        ctx: &mut Context<Self>,
    ) {
        if !self.game.is_host(player_id) {
            self.refuse(
                connection_id,
                re,
                (codes::NOT_HOST, "only the host can do that".into()),
            );
        } else if !self.ending {
            self.host(connection_id, re, action, ctx);
        }
    }

    fn host(
        &mut self,
        connection_id: Uuid,
        re: Option<String>,
        action: HostAction,
        ctx: &mut Context<Self>,
    ) {
        let now = Utc::now();
        let done = Event::to(
            Target::Connection(connection_id),
            Notice::Done { re: re.clone() },
        );
        let result = match action {
            HostAction::Start => self.game.start(now),
            HostAction::Next
                if self.game.phase() == RoomPhase::Reveal && self.game.out_of_questions() =>
            {
                self.outbox.push(done);
                return self.end(EndReason::Finished, ctx);
            }
            HostAction::Next => self.game.next(now),
            HostAction::CloseQuestion => self.game.close_question(false),
            HostAction::Skip => self.game.skip(now),
            HostAction::Kick(player) => self.game.kick(player),
            HostAction::Pause => self.game.pause(now),
            HostAction::Resume => self.game.resume(now),
            HostAction::End => {
                self.outbox.push(done);
                return self.end(EndReason::EndedByHost, ctx);
            }
        };
        match result {
            Ok(events) => {
                self.push(events);
                self.outbox.push(done);
            }
            Err(refusal) => self.refuse(connection_id, re, refusal),
        }
    }

    /// Connections that were in the room on the relay's instance when another instance
    /// adopted it (one entry per connection): seated again, and sent the state once per
    /// player.
    fn reattach(&mut self, players: Vec<Uuid>, now: DateTime<Utc>) {
        for player in &players {
            self.game.reattach(*player);
            if self.game.is_host(*player) {
                self.host_ever_joined = true;
            }
        }
        let mut seen = HashSet::new();
        let players = players.into_iter().filter(|p| seen.insert(*p)).collect();
        self.send_state(players, now);
    }

    /// Each player's state, to all their connections (a relay missed events).
    fn send_state(&mut self, players: Vec<Uuid>, now: DateTime<Utc>) {
        for player in players {
            let room = self.game.snapshot(player, now);
            self.outbox.push(Event::to(
                Target::Player(player),
                Notice::Room(RoomEvent::State {
                    re: None,
                    room: Box::new(room),
                }),
            ));
        }
    }

    pub(super) fn refuse(&mut self, connection_id: Uuid, re: Option<String>, refusal: Refusal) {
        self.outbox.push(error_to(connection_id, re, refusal));
    }
}

/// An `error` frame for one connection.
fn error_to(connection_id: Uuid, re: Option<String>, (code, message): Refusal) -> Event {
    Event::to(
        Target::Connection(connection_id),
        Notice::Refused {
            re,
            code: code.into(),
            message,
        },
    )
}
