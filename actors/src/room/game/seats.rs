//! Seats: the host's and players' connections, joins and returns, leaves and kicks,
//! with the presence counts kept in step with every change (so no command walks the
//! seats).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Game, Player, Refusal, refuse};
use crate::events::codes;
use crate::events::room::{RoomPhase, RoomRosterJoined, RoomRosterLeft};
use crate::events::{Notice, RoomEvent};
use crate::room::event::{Event, PlayerKind, Target};

impl Game {
    /// Connections that were in the room on another instance when it was adopted.
    pub fn reattach(&mut self, id: Uuid) {
        if self.is_host(id) {
            self.host_connections += 1;
        } else if self.players.get(&id).is_some_and(|p| !p.left) {
            self.update_seat(id, |p| p.connections += 1);
        }
    }

    /// Changes a seat and keeps the presence counts in step with it.
    fn update_seat(&mut self, id: Uuid, change: impl FnOnce(&mut Player)) {
        let open = self.open.as_ref().map(|o| o.index);
        let answered = self
            .open
            .as_ref()
            .is_some_and(|o| o.answers.contains_key(&id));
        let Some(player) = self.players.get_mut(&id) else {
            return;
        };
        let counts = |p: &Player| {
            let present = p.present();
            let expected = present && open.is_some_and(|i| p.first_question <= i);
            (present, expected, expected && !answered)
        };
        let before = counts(player);
        change(player);
        let after = counts(player);
        Self::step(&mut self.present, before.0, after.0);
        Self::step(&mut self.expected, before.1, after.1);
        Self::step(&mut self.pending, before.2, after.2);
    }

    fn step(count: &mut u32, before: bool, after: bool) {
        match (before, after) {
            (false, true) => *count += 1,
            (true, false) => *count = count.saturating_sub(1),
            _ => {}
        }
    }

    /// Removes a seat (a lobby leave, a kick), keeping the counts in step.
    fn remove_seat(&mut self, id: Uuid) -> Option<Player> {
        self.update_seat(id, |p| p.connections = 0);
        let player = self.players.remove(&id)?;
        self.names.remove(&player.name.to_lowercase());
        Some(player)
    }

    fn roster_left(&mut self, player_id: Uuid, name: String, reason: &str) {
        self.roster_left.push(RoomRosterLeft {
            player_id,
            name,
            reason: reason.into(),
        });
    }

    /// A connection of `id` arrives: the host, a returning seat, or a new player.
    pub fn join(
        &mut self,
        id: Uuid,
        connection_id: Uuid,
        kind: PlayerKind,
        name: &str,
        re: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, Refusal> {
        if self.phase == RoomPhase::Ended {
            return Err(refuse(codes::ROOM_ENDED, "this game is over"));
        }
        if self.is_host(id) {
            self.host_connections += 1;
        } else if self.players.contains_key(&id) {
            self.return_to_seat(id);
        } else {
            self.take_seat(id, kind, name)?;
        }
        Ok(vec![Event::to(
            Target::Connection(connection_id),
            Notice::Room(RoomEvent::Joined {
                re,
                room: Box::new(self.snapshot(id, now)),
            }),
        )])
    }

    /// A seated player's connection (a reconnect, a second device, back after leaving).
    fn return_to_seat(&mut self, id: Uuid) {
        let Some(player) = self.players.get(&id) else {
            return;
        };
        let returning = !player.present();
        let entry = RoomRosterJoined {
            player_id: id,
            name: player.name.clone(),
            guest: player.kind == PlayerKind::Guest,
            returning: true,
        };
        self.update_seat(id, |p| {
            p.connections += 1;
            p.left = false;
        });
        if returning {
            self.roster_joined.push(entry);
        }
    }

    /// A new player: seated unless kicked before, a guest where guests may not play, or
    /// the room is full.
    fn take_seat(&mut self, id: Uuid, kind: PlayerKind, name: &str) -> Result<(), Refusal> {
        if self.banned.contains(&id) {
            return Err(refuse(codes::KICKED, "the host removed you from this room"));
        }
        if kind == PlayerKind::Guest && !self.config.allow_guests {
            return Err(refuse(
                codes::GUESTS_NOT_ALLOWED,
                "this room is for signed-in learners",
            ));
        }
        if self.players.len() >= self.config.max_players {
            return Err(refuse(
                codes::ROOM_FULL,
                format!("this room is full ({} players)", self.config.max_players),
            ));
        }
        let name = self.unique_name(name);
        // Late joiners play from the next question.
        let first_question = match &self.open {
            Some(open) => open.index + 1,
            None => self.next_question,
        };
        self.next_join += 1;
        self.players.insert(
            id,
            Player {
                id,
                name: name.clone(),
                kind,
                joined: self.next_join,
                connections: 1,
                left: false,
                first_question,
                score: 0,
                streak: 0,
                best_streak: 0,
                correct: 0,
                answered: 0,
                correct_time_ms: 0,
                rank: None,
                previous_rank: None,
                answers: vec![None; self.config.questions.len()],
            },
        );
        // A new seat is present, and never counted for an open question (it plays
        // from the next one).
        self.present += 1;
        self.lobby_dirty = true;
        self.roster_joined.push(RoomRosterJoined {
            player_id: id,
            name,
            guest: kind == PlayerKind::Guest,
            returning: false,
        });
        Ok(())
    }

    /// Names are unique in a room: a second "Sam" becomes "Sam 2".
    fn unique_name(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_string();
        let mut n = 1;
        while self.names.contains(&name.to_lowercase()) {
            n += 1;
            name = format!("{wanted} {n}");
        }
        self.names.insert(name.to_lowercase());
        name
    }

    /// A connection went away. The seat stays (score, streak) for a reconnect.
    pub fn disconnected(&mut self, id: Uuid) {
        if self.is_host(id) {
            self.host_connections = self.host_connections.saturating_sub(1);
            return;
        }
        let Some(player) = self.players.get(&id) else {
            return;
        };
        let was_present = player.present();
        self.update_seat(id, |p| p.connections = p.connections.saturating_sub(1));
        if let Some(player) = self.players.get(&id)
            && was_present
            && !player.present()
        {
            let name = player.name.clone();
            self.roster_left(id, name, "disconnected");
        }
    }

    /// The player gives the seat up: in the lobby it is freed; during a game it stays
    /// in the results.
    pub fn leave(&mut self, id: Uuid) -> Vec<Event> {
        let Some(name) = self.players.get(&id).map(|p| p.name.clone()) else {
            return Vec::new();
        };
        if self.phase == RoomPhase::Lobby {
            self.remove_seat(id);
            self.lobby_dirty = true;
        } else {
            self.update_seat(id, |p| {
                p.left = true;
                p.connections = 0;
            });
        }
        self.roster_left(id, name, "left");
        // Every connection of the player leaves the room with them.
        vec![Event::to(Target::Player(id), Notice::Done { re: None }).detaching()]
    }

    /// Host: removes a player for good.
    pub fn kick(&mut self, id: Uuid) -> Result<Vec<Event>, Refusal> {
        let Some(player) = self.remove_seat(id) else {
            return Err(refuse(codes::NOT_FOUND, "no such player in this room"));
        };
        self.banned.insert(id);
        if let Some(open) = self.open.as_mut() {
            open.answers.remove(&id);
        }
        self.lobby_dirty = true;
        self.roster_left(id, player.name, "kicked");
        Ok(vec![
            Event::to(
                Target::Player(id),
                Notice::Room(RoomEvent::Kicked {
                    room_id: self.config.room_id,
                }),
            )
            .detaching(),
        ])
    }
}
