//! One room's game as a plain state machine over the server clock: seats, phases,
//! answers, scores, ranks and results. The room actor feeds it commands and times and
//! sends the events it returns; everything here is testable without actors or sockets.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use questpath_actors::rules::quiz::LATE_GRACE;
use questpath_actors::rules::room::{
    BASE_POINTS, Scoring, Standing, answer_points, rank_order, room_grant, streak_bonus,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::event::{Event, PlayerKind, Target};
use questpath_actors::events::quiz::OptionView;
use questpath_actors::events::room::{
    RoomOptionCount, RoomPhase, RoomQuestionView, RoomRole, RoomRosterJoined, RoomRosterLeft,
    RoomRosterSeat, RoomScoreRow, RoomSeat, RoomSnapshot,
};
use questpath_actors::events::{LETTERS, codes};
use questpath_actors::events::{Notice, RoomEvent};

/// Rows of the scoreboard broadcast after each question.
pub const SCOREBOARD_TOP: usize = 10;

/// A question as the room plays it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RoomQuestion {
    pub question: String,
    pub options: Vec<String>,
    /// Index of the correct option.
    pub answer: u8,
    pub explanation: String,
    pub time_limit: Duration,
    /// Points multiplier: 0 (no points), 1 or 2.
    pub points: u32,
}

/// How a room was set up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoomConfig {
    pub room_id: Uuid,
    pub code: String,
    pub title: String,
    pub host_id: Uuid,
    pub scoring: Scoring,
    pub streak_bonus: bool,
    pub allow_guests: bool,
    pub max_players: usize,
    pub questions: Vec<RoomQuestion>,
}

/// A refused command: an error code of the protocol and a message.
pub type Refusal = (&'static str, String);

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    (code, message.into())
}

/// One player's answer to one question.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnswerRecord {
    pub option: u8,
    pub correct: bool,
    pub points: u32,
    pub response_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Player {
    id: Uuid,
    name: String,
    kind: PlayerKind,
    joined: u64,
    connections: u32,
    /// Left on purpose (still in the results).
    left: bool,
    first_question: u32,
    score: u64,
    streak: u32,
    best_streak: u32,
    correct: u32,
    answered: u32,
    correct_time_ms: u64,
    rank: Option<u64>,
    previous_rank: Option<u64>,
    answers: Vec<Option<AnswerRecord>>,
}

impl Player {
    fn standing(&self) -> Standing {
        Standing {
            score: self.score,
            correct_time_ms: self.correct_time_ms,
            joined: self.joined,
        }
    }

    fn present(&self) -> bool {
        self.connections > 0 && !self.left
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OpenQuestion {
    index: u32,
    opened_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    /// Time that was left when the host paused.
    paused: Option<Duration>,
    answers: HashMap<Uuid, AnswerRecord>,
}

/// Why a game ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Finished,
    EndedByHost,
    HostLeft,
    Abandoned,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Finished => "finished",
            EndReason::EndedByHost => "ended_by_host",
            EndReason::HostLeft => "host_left",
            EndReason::Abandoned => "abandoned",
        }
    }
}

/// A closed question in the results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuestionOutcome {
    pub index: u32,
    pub question: String,
    pub correct_option: String,
    pub counts: Vec<u32>,
    pub answered: u32,
    pub skipped: bool,
}

/// A player in the final results.
#[derive(Debug, Clone, Serialize)]
pub struct PlayerResult {
    pub rank: u64,
    pub player_id: Uuid,
    pub name: String,
    pub guest: bool,
    pub score: u64,
    pub correct: u32,
    pub answered: u32,
    pub best_streak: u32,
    pub xp: i64,
    /// One entry per question (`None`: not answered).
    pub answers: Vec<Option<AnswerRecord>>,
}

/// The whole outcome of a game, kept in the store.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub room_id: Uuid,
    pub code: String,
    pub title: String,
    pub host_id: Uuid,
    pub scoring: &'static str,
    pub streak_bonus: bool,
    pub end_reason: EndReason,
    pub questions: Vec<QuestionOutcome>,
    pub players: Vec<PlayerResult>,
}

/// A game of one room. Serializable: the actor snapshots it, so another instance can
/// adopt the room if this one dies or drains.
#[derive(Serialize, Deserialize)]
pub struct Game {
    config: RoomConfig,
    phase: RoomPhase,
    players: HashMap<Uuid, Player>,
    banned: HashSet<Uuid>,
    names: HashSet<String>,
    host_connections: u32,
    next_join: u64,
    /// The next question to open.
    next_question: u32,
    open: Option<OpenQuestion>,
    closed: Vec<QuestionOutcome>,
    scoreboard: Vec<RoomScoreRow>,
    /// Players with a connection (kept in step with every seat change, so no command
    /// walks the seats).
    present: u32,
    /// Of those, the ones who may answer the open question.
    expected: u32,
    /// Of those, the ones who have not answered it yet: the question closes early when
    /// this reaches zero. Counted apart from the answers, because an answer may come
    /// from a player who has since dropped (and a reconnect must not close it).
    #[serde(default)]
    pending: u32,
    /// The question that was open when this instance adopted the room: its players are
    /// still reconnecting, so it closes early only once every seated player who may
    /// answer has answered (not just the first ones back).
    #[serde(skip)]
    adopted_during: Option<u32>,
    /// Roster changes the host has not been told yet.
    #[serde(skip)]
    roster_joined: Vec<RoomRosterJoined>,
    #[serde(skip)]
    roster_left: Vec<RoomRosterLeft>,
    /// Something the coalesced lobby / answered counters should report.
    pub lobby_dirty: bool,
    pub answered_dirty: bool,
}

impl Game {
    pub fn new(config: RoomConfig) -> Self {
        Game {
            config,
            phase: RoomPhase::Lobby,
            players: HashMap::new(),
            banned: HashSet::new(),
            names: HashSet::new(),
            host_connections: 0,
            next_join: 0,
            next_question: 0,
            open: None,
            closed: Vec::new(),
            scoreboard: Vec::new(),
            present: 0,
            expected: 0,
            pending: 0,
            adopted_during: None,
            roster_joined: Vec::new(),
            roster_left: Vec::new(),
            lobby_dirty: false,
            answered_dirty: false,
        }
    }

    /// The game as another instance takes it over: nobody is connected until their
    /// instances reattach them (or they join again).
    pub fn adopted(mut self) -> Self {
        self.host_connections = 0;
        for player in self.players.values_mut() {
            player.connections = 0;
        }
        self.present = 0;
        self.expected = 0;
        self.pending = 0;
        self.adopted_during = self.open.as_ref().map(|o| o.index);
        self
    }

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

    fn roster_left(&mut self, player_id: Uuid, name: String, reason: &str) {
        self.roster_left.push(RoomRosterLeft {
            player_id,
            name,
            reason: reason.into(),
        });
    }

    pub fn config(&self) -> &RoomConfig {
        &self.config
    }

    pub fn phase(&self) -> RoomPhase {
        self.phase
    }

    /// Seated players (present or not; not those who left the lobby or were kicked).
    pub fn seated(&self) -> u32 {
        self.players.len() as u32
    }

    /// Players with at least one connection.
    pub fn connected(&self) -> u32 {
        self.present
    }

    pub fn host_connected(&self) -> bool {
        self.host_connections > 0
    }

    pub fn is_host(&self, id: Uuid) -> bool {
        id == self.config.host_id
    }

    /// When the open question closes by itself (its deadline plus the grace), unless
    /// paused.
    pub fn closes_at(&self) -> Option<DateTime<Utc>> {
        let open = self.open.as_ref()?;
        if open.paused.is_some() {
            return None;
        }
        Some(open.deadline + grace())
    }

    fn question_view(&self, now: DateTime<Utc>) -> Option<RoomQuestionView> {
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
        let mut events = Vec::new();
        if self.is_host(id) {
            self.host_connections += 1;
        } else if let Some(player) = self.players.get(&id) {
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
        } else {
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
        }
        events.push(Event::to(
            Target::Connection(connection_id),
            Notice::Room(RoomEvent::Joined {
                re,
                room: Box::new(self.snapshot(id, now)),
            }),
        ));
        Ok(events)
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

    /// Records an answer to the open question. `response` is the server-measured time
    /// since this player's socket got the question, when the edge knows it.
    pub fn answer(
        &mut self,
        id: Uuid,
        re: Option<String>,
        index: u32,
        option: &str,
        received_at: DateTime<Utc>,
        response: Option<Duration>,
    ) -> Result<Vec<Event>, Refusal> {
        let Some(player) = self.players.get(&id).filter(|p| !p.left) else {
            return Err(refuse(codes::NOT_IN_ROOM, "you have no seat in this room"));
        };
        let was_pending = player.present();
        let Some(open) = self.open.as_mut() else {
            return Err(refuse(codes::WRONG_PHASE, "no question is open"));
        };
        if open.index != index {
            return Err(refuse(
                codes::WRONG_QUESTION,
                format!("question {index} is not the open one ({})", open.index),
            ));
        }
        if player.first_question > index {
            return Err(refuse(
                codes::JOINED_LATE,
                "you joined during this question: you play from the next one",
            ));
        }
        if open.paused.is_some() {
            return Err(refuse(codes::PAUSED, "the host paused the game"));
        }
        if open.answers.contains_key(&id) {
            return Err(refuse(codes::ALREADY_ANSWERED, "one answer per question"));
        }
        if received_at > open.deadline + grace() {
            return Err(refuse(codes::LATE_ANSWER, "time was up for this question"));
        }
        let question = &self.config.questions[index as usize];
        let Some(choice) = LETTERS
            .iter()
            .take(question.options.len())
            .position(|l| l.eq_ignore_ascii_case(option))
        else {
            return Err(refuse(
                codes::INVALID_OPTION,
                format!(
                    "answer with one of A to {}",
                    LETTERS[question.options.len() - 1]
                ),
            ));
        };
        // Without a measured send time (rare: the question reached this socket in a
        // snapshot on another instance), count from the room's opening.
        let response =
            response.unwrap_or_else(|| (received_at - open.opened_at).to_std().unwrap_or_default());
        let correct = choice == question.answer as usize;
        let points = answer_points(
            self.config.scoring,
            correct,
            response,
            question.time_limit,
            BASE_POINTS * question.points,
        );
        // An eligible, connected player no longer waited for (an answer relayed from a
        // socket that has since dropped was not counted as pending).
        if was_pending {
            self.pending = self.pending.saturating_sub(1);
        }
        open.answers.insert(
            id,
            AnswerRecord {
                option: choice as u8,
                correct,
                points,
                response_ms: response.as_millis() as u64,
            },
        );
        self.answered_dirty = true;
        Ok(vec![Event::to(
            Target::Player(id),
            Notice::Room(RoomEvent::AnswerReceived {
                re,
                question: index,
            }),
        )])
    }

    /// Whether every connected player who may answer has answered.
    pub fn everyone_answered(&self) -> bool {
        let Some(open) = &self.open else {
            return false;
        };
        if self.adopted_during == Some(open.index) {
            return self.players.values().all(|p| {
                p.left || p.first_question > open.index || open.answers.contains_key(&p.id)
            });
        }
        self.expected > 0 && self.pending == 0
    }

    /// Players who may answer the open question and are connected.
    pub fn expected_answers(&self) -> u32 {
        if self.open.is_some() {
            self.expected
        } else {
            0
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

    /// Whether the last question has been played.
    pub fn out_of_questions(&self) -> bool {
        self.next_question as usize >= self.config.questions.len()
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

    /// Closes the open question: scores it (unless skipped), ranks everyone, and tells
    /// each player their outcome.
    pub fn close_question(&mut self, skipped: bool) -> Result<Vec<Event>, Refusal> {
        let Some(open) = self.open.take() else {
            return Err(refuse(codes::WRONG_PHASE, "no question is open"));
        };
        self.phase = RoomPhase::Reveal;
        let question = self.config.questions[open.index as usize].clone();
        let mut counts = vec![0u32; question.options.len()];
        for answer in open.answers.values() {
            counts[answer.option as usize] += 1;
        }
        let mut outcomes: HashMap<Uuid, (bool, bool, u32, u32)> = HashMap::new();
        if !skipped {
            for player in self.players.values_mut() {
                if player.first_question > open.index {
                    continue;
                }
                match open.answers.get(&player.id) {
                    Some(answer) => {
                        let mut record = *answer;
                        player.answered += 1;
                        let mut bonus = 0;
                        if answer.correct {
                            player.streak += 1;
                            player.best_streak = player.best_streak.max(player.streak);
                            player.correct += 1;
                            player.correct_time_ms += answer.response_ms;
                            if self.config.streak_bonus && question.points > 0 {
                                bonus = streak_bonus(player.streak);
                            }
                        } else {
                            player.streak = 0;
                        }
                        record.points = answer.points + bonus;
                        player.score += u64::from(record.points);
                        player.answers[open.index as usize] = Some(record);
                        outcomes.insert(player.id, (true, answer.correct, record.points, bonus));
                    }
                    None => {
                        player.streak = 0;
                        outcomes.insert(player.id, (false, false, 0, 0));
                    }
                }
            }
        }
        self.rerank();
        self.closed.push(QuestionOutcome {
            index: open.index,
            question: question.question.clone(),
            correct_option: LETTERS[question.answer as usize].into(),
            counts: counts.clone(),
            answered: open.answers.len() as u32,
            skipped,
        });
        let mut events = vec![Event::to(
            Target::All,
            Notice::Room(RoomEvent::QuestionClosed {
                question: open.index,
                correct_option: LETTERS[question.answer as usize].into(),
                explanation: question.explanation.clone(),
                counts: counts
                    .iter()
                    .enumerate()
                    .map(|(i, count)| RoomOptionCount {
                        option: LETTERS[i].into(),
                        count: *count,
                    })
                    .collect(),
                answered: open.answers.len() as u32,
                skipped,
                scoreboard: self.scoreboard.clone(),
                players: self.players.len() as u32,
            }),
        )];
        if !skipped {
            for player in self.players.values().filter(|p| p.present()) {
                let Some((answered, correct, points, bonus)) = outcomes.get(&player.id).copied()
                else {
                    continue;
                };
                events.push(Event::to(
                    Target::Player(player.id),
                    Notice::Room(RoomEvent::YourResult {
                        question: open.index,
                        answered,
                        correct,
                        points,
                        streak_bonus: bonus,
                        streak: player.streak,
                        score: player.score,
                        rank: player.rank.unwrap_or(0),
                        previous_rank: player.previous_rank,
                    }),
                ));
            }
        }
        Ok(events)
    }

    /// Sorts everyone and keeps the top of the scoreboard.
    fn rerank(&mut self) {
        let mut order: Vec<(Standing, Uuid)> = self
            .players
            .values()
            .map(|p| (p.standing(), p.id))
            .collect();
        order.sort_by(|a, b| rank_order(&a.0, &b.0));
        self.scoreboard.clear();
        for (position, (_, id)) in order.iter().enumerate() {
            let player = self.players.get_mut(id).expect("listed");
            player.previous_rank = player.rank;
            player.rank = Some(position as u64 + 1);
            if position < SCOREBOARD_TOP {
                self.scoreboard.push(score_row(player));
            }
        }
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

    /// Ends the game: an open question is scored first; every player gets their place
    /// and XP, everyone the podium, and all connections leave the room.
    pub fn end(&mut self, reason: EndReason, results_saved: bool) -> (Vec<Event>, Results) {
        let mut events = Vec::new();
        if self.open.is_some()
            && let Ok(closing) = self.close_question(false)
        {
            events.extend(closing);
        }
        if self.closed.is_empty() {
            self.rerank();
        }
        self.phase = RoomPhase::Ended;
        let results = self.results(reason);
        let podium: Vec<RoomScoreRow> = self.scoreboard.iter().take(3).cloned().collect();
        for result in &results.players {
            events.push(Event::to(
                Target::Player(result.player_id),
                Notice::Room(RoomEvent::Final {
                    rank: result.rank,
                    score: result.score,
                    correct: result.correct,
                    answered: result.answered,
                    xp: result.xp,
                }),
            ));
        }
        events.push(
            Event::to(
                Target::All,
                Notice::Room(RoomEvent::Ended {
                    room_id: self.config.room_id,
                    reason: reason.as_str().into(),
                    podium,
                    players: self.players.len() as u32,
                    results_saved,
                }),
            )
            .detaching(),
        );
        (events, results)
    }

    fn results(&self, reason: EndReason) -> Results {
        let room_id = self.config.room_id.to_string();
        let mut players: Vec<PlayerResult> = self
            .players
            .values()
            .map(|p| {
                let rank = p.rank.unwrap_or(u64::MAX);
                let xp = match p.kind {
                    PlayerKind::User => {
                        room_grant(&room_id, &p.id.to_string(), p.correct, p.answered, rank)
                            .map(|g| g.amount)
                            .unwrap_or(0)
                    }
                    PlayerKind::Guest => 0,
                };
                PlayerResult {
                    rank,
                    player_id: p.id,
                    name: p.name.clone(),
                    guest: p.kind == PlayerKind::Guest,
                    score: p.score,
                    correct: p.correct,
                    answered: p.answered,
                    best_streak: p.best_streak,
                    xp,
                    answers: p.answers.clone(),
                }
            })
            .collect();
        players.sort_by_key(|p| p.rank);
        Results {
            room_id: self.config.room_id,
            code: self.config.code.clone(),
            title: self.config.title.clone(),
            host_id: self.config.host_id,
            scoring: scoring_name(self.config.scoring),
            streak_bonus: self.config.streak_bonus,
            end_reason: reason,
            questions: self.closed.clone(),
            players,
        }
    }

    /// Questions that were closed (played or skipped).
    pub fn questions_closed(&self) -> usize {
        self.closed.len()
    }
}

fn score_row(player: &Player) -> RoomScoreRow {
    RoomScoreRow {
        rank: player.rank.unwrap_or(0),
        previous_rank: player.previous_rank,
        player_id: player.id,
        name: player.name.clone(),
        score: player.score,
        streak: player.streak,
    }
}

fn grace() -> chrono::Duration {
    chrono::Duration::from_std(LATE_GRACE).unwrap_or_default()
}

pub fn scoring_name(scoring: Scoring) -> &'static str {
    match scoring {
        Scoring::Speed => "speed",
        Scoring::Accuracy => "accuracy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(answer: u8, secs: u64) -> RoomQuestion {
        RoomQuestion {
            question: "2 + 2?".into(),
            options: vec!["3".into(), "4".into(), "5".into(), "22".into()],
            answer,
            explanation: "Arithmetic.".into(),
            time_limit: Duration::from_secs(secs),
            points: 1,
        }
    }

    fn game(questions: usize, scoring: Scoring, streak: bool) -> (Game, Uuid) {
        let host = Uuid::new_v4();
        let config = RoomConfig {
            room_id: Uuid::new_v4(),
            code: "ABCDEF".into(),
            title: "Test".into(),
            host_id: host,
            scoring,
            streak_bonus: streak,
            allow_guests: false,
            max_players: 3,
            questions: (0..questions).map(|_| question(1, 20)).collect(),
        };
        (Game::new(config), host)
    }

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    fn join(game: &mut Game, name: &str) -> Uuid {
        let id = Uuid::new_v4();
        game.join(id, Uuid::new_v4(), PlayerKind::User, name, None, t(0))
            .unwrap();
        id
    }

    fn answer(
        game: &mut Game,
        id: Uuid,
        q: u32,
        option: &str,
        at: i64,
    ) -> Result<Vec<Event>, Refusal> {
        game.answer(
            id,
            None,
            q,
            option,
            t(at),
            Some(Duration::from_millis(at as u64 % 30_000)),
        )
    }

    fn result_of(events: &[Event], id: Uuid) -> (u32, u64, u64, u32) {
        events
            .iter()
            .find_map(|e| match (&e.to, &e.message) {
                (
                    Target::Player(p),
                    Notice::Room(RoomEvent::YourResult {
                        points,
                        score,
                        rank,
                        streak,
                        ..
                    }),
                ) if *p == id => Some((*points, *score, *rank, *streak)),
                _ => None,
            })
            .expect("a result for the player")
    }

    #[test]
    fn a_whole_game_scores_by_speed_with_streaks_and_ranks() {
        let (mut game, host) = game(3, Scoring::Speed, true);
        game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
            .unwrap();
        let fast = join(&mut game, "Fast");
        let slow = join(&mut game, "Slow");
        game.start(t(0)).unwrap();
        answer(&mut game, fast, 0, "B", 400).unwrap();
        answer(&mut game, slow, 0, "b", 10_000).unwrap();
        assert!(game.everyone_answered());
        let closed = game.close_question(false).unwrap();
        assert_eq!(result_of(&closed, fast), (1000, 1000, 1, 1));
        assert_eq!(result_of(&closed, slow), (750, 750, 2, 1));

        game.next(t(30_000)).unwrap();
        answer(&mut game, fast, 1, "B", 30_000 + 400).unwrap();
        answer(&mut game, slow, 1, "A", 30_000 + 1_000).unwrap();
        let closed = game.close_question(false).unwrap();
        // Second correct answer in a row: +100.
        assert_eq!(result_of(&closed, fast), (1100, 2100, 1, 2));
        assert_eq!(result_of(&closed, slow), (0, 750, 2, 0));
        let (events, results) = game.end(EndReason::EndedByHost, true);
        assert_eq!(results.players[0].player_id, fast);
        assert_eq!(results.players[0].xp, 5 + 2 * 2 + 30);
        assert_eq!(results.questions.len(), 2);
        assert!(events.iter().any(|e| e.detach && e.to == Target::All));
    }

    #[test]
    fn accuracy_scoring_without_streaks_ignores_speed() {
        let (mut game, _) = game(2, Scoring::Accuracy, false);
        let a = join(&mut game, "A");
        game.start(t(0)).unwrap();
        answer(&mut game, a, 0, "B", 19_000).unwrap();
        let closed = game.close_question(false).unwrap();
        assert_eq!(result_of(&closed, a).0, 1000);
        game.next(t(0)).unwrap();
        answer(&mut game, a, 1, "B", 100).unwrap();
        let closed = game.close_question(false).unwrap();
        assert_eq!(result_of(&closed, a), (1000, 2000, 1, 2), "no streak bonus");
    }

    #[test]
    fn one_answer_per_question_and_late_answers_are_refused() {
        let (mut game, _) = game(1, Scoring::Speed, true);
        let a = join(&mut game, "A");
        let b = join(&mut game, "B");
        game.start(t(0)).unwrap();
        answer(&mut game, a, 0, "B", 100).unwrap();
        assert_eq!(
            answer(&mut game, a, 0, "C", 200).unwrap_err().0,
            codes::ALREADY_ANSWERED
        );
        assert_eq!(
            answer(&mut game, b, 0, "B", 20_501).unwrap_err().0,
            codes::LATE_ANSWER
        );
        assert!(
            answer(&mut game, b, 0, "B", 20_400).is_ok(),
            "inside the grace"
        );
        assert_eq!(
            answer(&mut game, b, 1, "B", 100).unwrap_err().0,
            codes::WRONG_QUESTION
        );
        assert_eq!(
            answer(&mut game, Uuid::new_v4(), 0, "B", 100)
                .unwrap_err()
                .0,
            codes::NOT_IN_ROOM
        );
    }

    #[test]
    fn invalid_options_are_refused_without_using_the_answer() {
        let (mut game, _) = game(1, Scoring::Speed, true);
        let a = join(&mut game, "A");
        game.start(t(0)).unwrap();
        assert_eq!(
            answer(&mut game, a, 0, "E", 100).unwrap_err().0,
            codes::INVALID_OPTION
        );
        assert!(answer(&mut game, a, 0, "A", 100).is_ok());
    }

    #[test]
    fn late_joiners_play_from_the_next_question() {
        let (mut game, _) = game(2, Scoring::Speed, true);
        let a = join(&mut game, "A");
        game.start(t(0)).unwrap();
        let late = join(&mut game, "Late");
        assert_eq!(
            answer(&mut game, late, 0, "B", 100).unwrap_err().0,
            codes::JOINED_LATE
        );
        answer(&mut game, a, 0, "B", 100).unwrap();
        assert!(
            game.everyone_answered(),
            "the late joiner is not waited for"
        );
        game.close_question(false).unwrap();
        game.next(t(1_000)).unwrap();
        assert!(answer(&mut game, late, 1, "B", 1_100).is_ok());
    }

    #[test]
    fn reconnecting_keeps_the_seat_and_a_kicked_player_stays_out() {
        let (mut game, _) = game(2, Scoring::Speed, true);
        let a = join(&mut game, "A");
        game.start(t(0)).unwrap();
        answer(&mut game, a, 0, "B", 100).unwrap();
        game.close_question(false).unwrap();
        game.disconnected(a);
        let again = game
            .join(
                a,
                Uuid::new_v4(),
                PlayerKind::User,
                "Other name",
                None,
                t(5),
            )
            .unwrap();
        let seat = again
            .iter()
            .find_map(|e| match &e.message {
                Notice::Room(RoomEvent::Joined { room, .. }) => room.you.clone(),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            (seat.score, seat.streak, seat.name.as_str()),
            (1000, 1, "A")
        );
        game.kick(a).unwrap();
        let refused = game.join(a, Uuid::new_v4(), PlayerKind::User, "A", None, t(6));
        assert_eq!(refused.unwrap_err().0, codes::KICKED);
    }

    #[test]
    fn capacity_guests_and_duplicate_names() {
        let (mut game, _) = game(1, Scoring::Speed, true);
        let guest = game.join(
            Uuid::new_v4(),
            Uuid::new_v4(),
            PlayerKind::Guest,
            "G",
            None,
            t(0),
        );
        assert_eq!(guest.unwrap_err().0, codes::GUESTS_NOT_ALLOWED);
        let a = join(&mut game, "Sam");
        let b = join(&mut game, "sam");
        join(&mut game, "C");
        let snapshot = game.snapshot(b, t(0));
        assert_eq!(snapshot.you.unwrap().name, "sam 2");
        let full = game.join(
            Uuid::new_v4(),
            Uuid::new_v4(),
            PlayerKind::User,
            "D",
            None,
            t(0),
        );
        assert_eq!(full.unwrap_err().0, codes::ROOM_FULL);
        assert!(game.snapshot(a, t(0)).you.is_some());
    }

    #[test]
    fn pause_stops_the_clock_and_skip_scores_nobody() {
        let (mut game, _) = game(2, Scoring::Speed, true);
        let a = join(&mut game, "A");
        game.start(t(0)).unwrap();
        game.pause(t(5_000)).unwrap();
        assert_eq!(game.closes_at(), None);
        assert_eq!(
            answer(&mut game, a, 0, "B", 6_000).unwrap_err().0,
            codes::PAUSED
        );
        game.resume(t(60_000)).unwrap();
        assert_eq!(game.closes_at(), Some(t(75_000 + 500)), "15 s were left");
        answer(&mut game, a, 0, "B", 61_000).unwrap();
        let events = game.skip(t(62_000)).unwrap();
        assert!(
            events
                .iter()
                .any(|e| matches!(e.message, Notice::Room(RoomEvent::QuestionOpened(_))))
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e.message, Notice::Room(RoomEvent::YourResult { .. })))
        );
        assert_eq!(game.snapshot(a, t(62_000)).you.unwrap().score, 0);
    }

    #[test]
    fn ending_mid_question_scores_what_was_answered_and_guests_get_no_xp() {
        let host = Uuid::new_v4();
        let mut game = Game::new(RoomConfig {
            room_id: Uuid::new_v4(),
            code: "ABCDEF".into(),
            title: "T".into(),
            host_id: host,
            scoring: Scoring::Speed,
            streak_bonus: true,
            allow_guests: true,
            max_players: 10,
            questions: vec![question(0, 20)],
        });
        let guest = Uuid::new_v4();
        game.join(guest, Uuid::new_v4(), PlayerKind::Guest, "G", None, t(0))
            .unwrap();
        game.start(t(0)).unwrap();
        answer(&mut game, guest, 0, "A", 300).unwrap();
        let (_, results) = game.end(EndReason::EndedByHost, true);
        assert_eq!(results.players[0].score, 1000);
        assert_eq!(results.players[0].xp, 0);
        assert!(results.players[0].guest);
    }

    #[test]
    fn a_saved_game_is_adopted_with_seats_scores_and_the_open_question() {
        let (mut game, host) = game(2, Scoring::Speed, true);
        game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
            .unwrap();
        let a = join(&mut game, "A");
        game.start(t(0)).unwrap();
        answer(&mut game, a, 0, "B", 400).unwrap();
        game.close_question(false).unwrap();
        game.next(t(10_000)).unwrap();
        let saved = serde_json::to_vec(&game).unwrap();
        let mut adopted = serde_json::from_slice::<Game>(&saved).unwrap().adopted();
        assert!(!adopted.host_connected());
        assert_eq!(
            adopted.connected(),
            0,
            "nobody until they reattach or rejoin"
        );
        adopted.reattach(host);
        adopted.reattach(a);
        assert!(adopted.host_connected());
        let seat = adopted.snapshot(a, t(11_000)).you.unwrap();
        assert_eq!((seat.score, seat.streak), (1000, 1));
        assert_eq!(adopted.closes_at(), Some(t(30_500)), "the same deadline");
        answer(&mut adopted, a, 1, "B", 10_400).unwrap();
        assert!(adopted.everyone_answered());
    }

    /// An answer from a player who then drops and comes back must not count for the
    /// players still thinking: the question stays open until they answer too.
    #[test]
    fn a_reconnect_after_answering_does_not_close_the_question_for_the_others() {
        let (mut game, host) = game(2, Scoring::Speed, true);
        game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
            .unwrap();
        let a = join(&mut game, "A");
        let b = join(&mut game, "B");
        game.start(t(1_000)).unwrap();

        answer(&mut game, a, 0, "B", 2_000).unwrap();
        game.disconnected(a);
        assert!(!game.everyone_answered(), "B has not answered");
        let counted = |game: &Game| match game.answered_event().map(|e| e.message) {
            Some(Notice::Room(RoomEvent::Answered {
                answered, expected, ..
            })) => (answered, expected),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            counted(&game),
            (0, 1),
            "of the connected players: B, unanswered"
        );
        game.join(a, Uuid::new_v4(), PlayerKind::User, "A", None, t(3_000))
            .unwrap();
        assert!(
            !game.everyone_answered(),
            "A's return changes nothing for B"
        );

        assert_eq!(counted(&game), (1, 2));
        answer(&mut game, b, 0, "A", 4_000).unwrap();
        assert!(game.everyone_answered());
        assert_eq!(counted(&game), (2, 2));
    }

    /// A host who reloads gets every seat and the answered count in the snapshot;
    /// players get neither.
    #[test]
    fn the_hosts_snapshot_lists_every_seat_and_the_answered_count() {
        let (mut game, host) = game(2, Scoring::Speed, true);
        game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
            .unwrap();
        let a = join(&mut game, "A");
        let b = join(&mut game, "B");
        game.disconnected(b);
        let lobby = game.snapshot(host, t(500));
        let seats: Vec<_> = lobby
            .roster
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.connected))
            .collect();
        assert_eq!(seats, [("A".to_string(), true), ("B".to_string(), false)]);
        assert_eq!(lobby.answered, None, "no question open");

        game.start(t(1_000)).unwrap();
        answer(&mut game, a, 0, "B", 2_000).unwrap();
        let playing = game.snapshot(host, t(2_500));
        assert_eq!(playing.answered, Some(1));
        let player = game.snapshot(a, t(2_500));
        assert!(player.roster.is_none() && player.answered.is_none());
    }

    /// The same after the room moved to another instance: the first player back had
    /// answered already; the question waits for the others.
    #[test]
    fn an_adopted_room_waits_for_players_who_have_not_answered() {
        let (mut game, host) = game(2, Scoring::Speed, true);
        game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
            .unwrap();
        let a = join(&mut game, "A");
        let b = join(&mut game, "B");
        game.start(t(1_000)).unwrap();
        answer(&mut game, a, 0, "B", 2_000).unwrap();

        let saved = serde_json::to_vec(&game).unwrap();
        let mut adopted = serde_json::from_slice::<Game>(&saved).unwrap().adopted();
        adopted.reattach(host);
        adopted.reattach(a);
        assert!(
            !adopted.everyone_answered(),
            "only A is back, and A answered"
        );
        adopted.reattach(b);
        assert!(!adopted.everyone_answered());
        answer(&mut adopted, b, 0, "A", 3_000).unwrap();
        assert!(adopted.everyone_answered());
    }

    /// The counts kept in step, recounted the slow way.
    fn recount(game: &Game) -> (u32, u32) {
        let present = game.players.values().filter(|p| p.present()).count() as u32;
        let expected = match &game.open {
            Some(open) => game
                .players
                .values()
                .filter(|p| p.present() && p.first_question <= open.index)
                .count() as u32,
            None => 0,
        };
        (present, expected)
    }

    #[test]
    fn presence_counts_follow_every_seat_change() {
        let (mut game, host) = game(3, Scoring::Speed, true);
        game.config.max_players = 10;
        game.join(host, Uuid::new_v4(), PlayerKind::User, "Host", None, t(0))
            .unwrap();
        let check = |game: &Game| {
            assert_eq!((game.connected(), game.expected_answers()), recount(game));
        };
        let a = join(&mut game, "A");
        let b = join(&mut game, "B");
        let c = join(&mut game, "C");
        check(&game);
        game.leave(c);
        check(&game);
        game.start(t(0)).unwrap();
        check(&game);
        let late = join(&mut game, "Late");
        check(&game);
        game.disconnected(a);
        check(&game);
        game.join(a, Uuid::new_v4(), PlayerKind::User, "A", None, t(1))
            .unwrap();
        game.join(a, Uuid::new_v4(), PlayerKind::User, "A", None, t(1))
            .unwrap();
        game.disconnected(a);
        check(&game);
        assert_eq!(game.expected_answers(), 2, "A (one device left) and B");
        game.kick(b).unwrap();
        check(&game);
        game.leave(a);
        check(&game);
        game.close_question(false).unwrap();
        game.next(t(30_000)).unwrap();
        check(&game);
        assert_eq!(game.expected_answers(), 1, "only the late joiner is left");
        game.disconnected(late);
        check(&game);
        assert_eq!(game.connected(), 0);
    }

    #[test]
    fn the_host_hears_of_seat_changes_in_one_roster() {
        let (mut game, _) = game(1, Scoring::Speed, true);
        let a = join(&mut game, "A");
        join(&mut game, "B");
        game.disconnected(a);
        let Some(Event {
            message:
                Notice::Room(RoomEvent::Roster {
                    joined,
                    left,
                    players,
                }),
            to: Target::Host,
            ..
        }) = game.roster_event()
        else {
            panic!("a roster for the host")
        };
        assert_eq!(joined.len(), 2);
        assert_eq!(
            (left.len(), left[0].reason.as_str(), players),
            (1, "disconnected", 2)
        );
        assert!(game.roster_event().is_none(), "told once");
    }
}
